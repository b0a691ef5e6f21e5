"""Idempotency-Key: a retried POST appends once and replays the first answer."""

from __future__ import annotations

from tests.api.conftest import Api

TOOL = {"slug": "retry-tool", "name": "Retry", "vendor": "V", "category": "C"}


def test_retry_with_the_same_key_appends_once_and_replays(api: Api) -> None:
    head = api.head()
    headers = {"Idempotency-Key": "create-retry-tool"}
    first = api.request("POST", "/api/tools", "editor", json=TOOL, headers=headers)
    assert first.status_code == 201
    second = api.request("POST", "/api/tools", "editor", json=TOOL, headers=headers)
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert api.head() == head + 1


def test_same_key_with_another_body_is_422(api: Api) -> None:
    headers = {"Idempotency-Key": "k1"}
    api.request("POST", "/api/tools", "editor", json=TOOL, headers=headers)
    head = api.head()
    other = api.request(
        "POST", "/api/tools", "editor", json={**TOOL, "slug": "other"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert api.head() == head


def test_keys_belong_to_one_token(api: Api) -> None:
    headers = {"Idempotency-Key": "shared"}
    mine = api.request("POST", "/api/tools", "editor", json=TOOL, headers=headers)
    assert mine.status_code == 201
    theirs = api.request("POST", "/api/tools", "admin", json=TOOL, headers=headers)
    assert theirs.status_code == 409


def test_a_refused_request_releases_its_key(api: Api) -> None:
    headers = {"Idempotency-Key": "try-again"}
    refused = api.request(
        "POST", "/api/tools", "editor", json={**TOOL, "name": " "}, headers=headers
    )
    assert refused.status_code == 422
    head = api.head()
    fixed = api.request(
        "POST", "/api/tools", "editor", json={**TOOL, "name": "Fixed"}, headers=headers
    )
    assert fixed.status_code == 201
    assert api.head() == head + 1


def test_key_works_for_reviewers_and_comparisons(api: Api) -> None:
    head = api.head()
    enroll = {"handle": "ada", "name": "Ada", "lens": "buyer"}
    for _ in range(2):
        answer = api.request(
            "POST",
            "/api/reviewers",
            "admin",
            json=enroll,
            headers={"Idempotency-Key": "e"},
        )
        assert answer.status_code == 201
    api.request("POST", "/api/tools", "editor", json=TOOL)
    compare = {"a": "retry-tool", "b": "code-llama-4", "question": "Which?"}
    for _ in range(2):
        answer = api.request(
            "POST",
            "/api/comparisons",
            "editor",
            json=compare,
            headers={"Idempotency-Key": "c"},
        )
        assert answer.status_code == 201
    assert api.head() == head + 3


def test_overlong_key_is_400(api: Api) -> None:
    head = api.head()
    answer = api.request(
        "POST",
        "/api/tools",
        "editor",
        json=TOOL,
        headers={"Idempotency-Key": "k" * 300},
    )
    assert answer.status_code == 400
    assert api.head() == head
