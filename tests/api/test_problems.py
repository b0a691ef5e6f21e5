"""Every failure is an RFC 9457 problem, Litestar's own refusals included."""

from __future__ import annotations

from tests.api.helpers import Api, problem

BIG_TOOL = {
    "slug": "big",
    "name": "Big",
    "vendor": "V",
    "category": "C",
    "description": "x" * 20_000,
}


def test_unknown_path_is_404(api: Api) -> None:
    body = problem(api.client.get("/api/nothing-here"), 404)
    assert body["instance"] == "/api/nothing-here"


def test_wrong_method_is_405_with_allow(api: Api) -> None:
    answer = api.client.delete("/api/tools")
    problem(answer, 405)
    assert "POST" in answer.headers["allow"]


def test_malformed_json_is_400(api: Api) -> None:
    with api.appends(0):
        body = api.refuses(
            400,
            "POST",
            "/api/tools",
            "editor",
            content=b'{"slug": ',
            headers={"Content-Type": "application/json"},
        )
    assert "JSON" in str(body["detail"])


def test_wrong_types_are_422_with_the_field_named(api: Api) -> None:
    body = api.refuses(
        422, "PUT", "/api/tools/code-llama-4/vote", "voter", json={"choice": 3}
    )
    assert "choice" in str(body["detail"])
    assert body["errors"]


def test_oversized_body_is_413_and_appends_nothing(api: Api) -> None:
    with api.appends(0):
        api.refuses(413, "POST", "/api/tools", "editor", json=BIG_TOOL)


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
