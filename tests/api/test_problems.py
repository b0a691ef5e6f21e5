"""Every failure is an RFC 9457 problem, Litestar's own refusals included."""

from __future__ import annotations

from tests.api.conftest import Api

FIELDS = {"type", "title", "status", "detail"}


def _is_problem(answer: object, status: int) -> dict[str, object]:
    assert answer.status_code == status  # type: ignore[attr-defined]
    assert answer.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = answer.json()  # type: ignore[attr-defined]
    assert set(body) >= FIELDS
    assert body["status"] == status
    return body


def test_unknown_path_is_404(api: Api) -> None:
    body = _is_problem(api.client.get("/api/nothing-here"), 404)
    assert body["instance"] == "/api/nothing-here"


def test_wrong_method_is_405_with_allow(api: Api) -> None:
    answer = api.client.delete("/api/tools")
    _is_problem(answer, 405)
    assert "POST" in answer.headers["allow"]


def test_malformed_json_is_400(api: Api) -> None:
    head = api.head()
    answer = api.request(
        "POST",
        "/api/tools",
        "editor",
        content=b'{"slug": ',
        headers={"Content-Type": "application/json"},
    )
    body = _is_problem(answer, 400)
    assert "JSON" in str(body["detail"])
    assert api.head() == head


def test_wrong_types_are_422_with_the_field_named(api: Api) -> None:
    answer = api.request(
        "PUT", "/api/tools/code-llama-4/vote", "voter", json={"choice": 3}
    )
    body = _is_problem(answer, 422)
    assert "choice" in str(body["detail"])
    assert body["errors"]


def test_oversized_body_is_413_and_appends_nothing(api: Api) -> None:
    head = api.head()
    answer = api.request(
        "POST",
        "/api/tools",
        "editor",
        json={
            "slug": "big",
            "name": "Big",
            "vendor": "V",
            "category": "C",
            "description": "x" * 20_000,
        },
    )
    _is_problem(answer, 413)
    assert api.head() == head


def test_request_id_is_echoed_generated_and_in_problems(api: Api) -> None:
    given = api.client.get("/api/tools", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = api.client.get("/api/tools").headers["x-request-id"]
    assert generated
    assert generated != api.client.get("/api/tools").headers["x-request-id"]
    unsafe = api.client.get("/api/tools", headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["x-request-id"] != "a b\tc"
    problem = api.client.get("/api/tools/nope", headers={"X-Request-ID": "req-9"})
    assert problem.json()["request_id"] == "req-9"
