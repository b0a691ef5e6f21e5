"""The OpenAPI document states the constraints the API enforces, exactly.

schemathesis checks the whole contract (tests/reliability); these pin the
statements it relies on, each next to the refusal it describes.
"""

from __future__ import annotations

import re
from typing import Any

from ledger import rules
from tests.api.helpers import Api

BODIES = ("ToolCreate", "ToolUpdate", "ReviewPut", "ToolVote", "TokenCreate")


def _document(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = api.client.get("/schema/openapi.json").json()
    return document


def _parameter(document: dict[str, Any], path: str, method: str, name: str) -> Any:
    parameters = document["paths"][path][method]["parameters"]
    return next(p["schema"] for p in parameters if p["name"] == name)


def test_request_bodies_refuse_fields_they_do_not_declare(api: Api) -> None:
    schemas = _document(api)["components"]["schemas"]
    for name in BODIES:
        assert schemas[name]["additionalProperties"] is False, name
    with api.appends(0):
        api.refuses(
            422,
            "PUT",
            "/api/tools/code-llama-4/vote",
            "voter",
            json={"choice": "ship", "x": 1},
        )


def test_positions_are_bounded_by_exact_integers(api: Api) -> None:
    document = _document(api)
    min_position = _parameter(document, "/api/tools", "get", "min_position")
    assert (min_position["minimum"], min_position["maximum"]) == (0, 2**62)
    after = _parameter(document, "/api/events", "get", "after")
    assert (after["minimum"], after["maximum"]) == (0, 2**62)
    assert isinstance(after["maximum"], int)
    api.refuses(422, "GET", "/api/tools", params={"min_position": -1})
    api.refuses(422, "GET", "/api/events", params={"after": 2**62 + 1})


def test_if_match_is_a_string_of_the_shapes_it_takes(api: Api) -> None:
    schema = _parameter(_document(api), "/api/tools/{slug}", "patch", "If-Match")
    assert schema["type"] == "string"
    assert "oneOf" not in schema, "a header is never null"
    shape = re.compile(schema["pattern"])
    for taken in ("*", "3", '"3"', '"code-llama-4:3:57"', 'W/"3"'):
        assert shape.search(taken), taken
    for refused in ("null", "three", ""):
        assert not shape.search(refused), refused
        problem = api.refuses(
            400,
            "PATCH",
            "/api/tools/code-llama-4",
            "editor",
            json={"tagline": "x"},
            headers={"If-Match": refused},
        )
        assert problem["type"] == "/problems/invalid-if-match"


def test_required_text_is_documented_and_refused_when_blank(api: Api) -> None:
    schemas = _document(api)["components"]["schemas"]
    assert schemas["ToolCreate"]["properties"]["name"]["pattern"] == rules.NOT_BLANK
    assert schemas["ReviewPut"]["properties"]["rationale"]["pattern"] == rules.NOT_BLANK
    tool = {"slug": "blank-name", "name": "\u3000\x1f", "vendor": "V", "category": "C"}
    with api.appends(0):
        problem = api.refuses(422, "POST", "/api/tools", "editor", json=tool)
    assert "name must not be empty" in problem["detail"]


def test_a_slug_with_a_trailing_newline_is_refused(api: Api) -> None:
    tool = {"slug": "newline-tool\n", "name": "N", "vendor": "V", "category": "C"}
    with api.appends(0):
        problem = api.refuses(422, "POST", "/api/tools", "editor", json=tool)
    assert "slug" in problem["detail"]


def test_the_event_type_filter_lists_every_type(api: Api) -> None:
    schema = _parameter(_document(api), "/api/events", "get", "type")
    assert "Review.Revised" in schema["enum"]
    assert "Vote.Cast" in schema["enum"]
    problem = api.refuses(422, "GET", "/api/events", params={"type": "Vote.Eaten"})
    assert problem["type"] == "/problems/unknown-event-type"
