"""Idempotency-Key: a retried POST appends once and replays the first answer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import Api

TOOL = {"slug": "retry-tool", "name": "Retry", "vendor": "V", "category": "C"}


def _create(
    api: Api,
    key: str,
    body: dict[str, Any] = TOOL,
    *,
    path: str = "/api/tools",
    who: str = "editor",
) -> httpx.Response:
    """A POST that creates, with ``Idempotency-Key: key``."""
    headers = {"Idempotency-Key": key}
    return api.request("POST", path, who, json=body, headers=headers)


def test_retry_with_the_same_key_appends_once_and_replays(api: Api) -> None:
    with api.appends(1):
        first = _create(api, "create-retry-tool")
        assert first.status_code == 201
        second = _create(api, "create-retry-tool")
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_same_key_with_another_body_is_422(api: Api) -> None:
    _create(api, "k1")
    with api.appends(0):
        other = _create(api, "k1", {**TOOL, "slug": "other"})
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"


def test_keys_belong_to_one_token(api: Api) -> None:
    assert _create(api, "shared").status_code == 201
    assert _create(api, "shared", who="admin").status_code == 409


def test_a_refused_request_releases_its_key(api: Api) -> None:
    refused = _create(api, "try-again", {**TOOL, "name": " "})
    assert refused.status_code == 422
    with api.appends(1):
        fixed = _create(api, "try-again", {**TOOL, "name": "Fixed"})
    assert fixed.status_code == 201


def test_key_works_for_reviewers_and_comparisons(api: Api) -> None:
    enroll = {"handle": "ada", "name": "Ada", "lens": "buyer"}
    compare = {"a": "retry-tool", "b": "code-llama-4", "question": "Which?"}
    with api.appends(3):
        assert api.request("POST", "/api/tools", "editor", json=TOOL).is_success
        for path, who, body in (
            ("/api/reviewers", "admin", enroll),
            ("/api/comparisons", "editor", compare),
        ):
            for _ in range(2):
                answer = _create(api, path, body, path=path, who=who)
                assert answer.status_code == 201


def test_overlong_key_is_400(api: Api) -> None:
    with api.appends(0):
        answer = _create(api, "k" * 300)
    assert answer.status_code == 400
