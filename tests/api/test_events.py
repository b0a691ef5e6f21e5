"""The audit log: cursor pagination, filters, bounds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import Api


def test_pages_follow_the_cursor_to_the_end(api: Api) -> None:
    seen: list[int] = []
    after = 0
    while True:
        page = api.client.get("/api/events", params={"after": after, "limit": 4}).json()
        seen += [item["position"] for item in page["items"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == list(range(1, api.head() + 1))


def test_items_have_the_contract_fields(api: Api) -> None:
    item = api.client.get("/api/events", params={"limit": 1}).json()["items"][0]
    assert set(item) >= {
        "position",
        "at",
        "type",
        "aggregate_id",
        "version",
        "actor",
        "reason",
        "data",
    }
    assert item["type"] == "Tool.Registered"
    assert item["data"]["slug"] == "code-llama-4"


def test_filters_by_tool_actor_and_type(api: Api) -> None:
    by_type = api.client.get("/api/events", params={"type": "Review.Submitted"}).json()
    assert len(by_type["items"]) == 8
    by_actor = api.client.get("/api/events", params={"actor": "reviewer:buyer"}).json()
    assert {item["actor"] for item in by_actor["items"]} == {"reviewer:buyer"}
    assert len(by_actor["items"]) == 2
    by_tool = api.client.get("/api/events", params={"tool": "mistral-medium-3"}).json()
    types = [item["type"] for item in by_tool["items"]]
    assert types.count("Review.Submitted") == 4
    assert "Comparison.Published" in types


def test_request_id_is_recorded_with_the_events(api: Api) -> None:
    answer = api.request(
        "PUT",
        "/api/tools/code-llama-4/vote",
        "voter",
        json={"choice": "ship"},
        headers={"X-Request-ID": "trace-42"},
    )
    assert answer.headers["x-request-id"] == "trace-42"
    position = answer.json()["position"]
    page = api.client.get(
        "/api/events", params={"after": position - 1, "min_position": position}
    ).json()
    assert page["items"][0]["request_id"] == "trace-42"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"after": -1},
        {"type": "Tool.Exploded"},
        {"limit": "x"},
    ],
)
def test_bad_parameters_are_422(api: Api, params: dict[str, Any]) -> None:
    answer = api.client.get("/api/events", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"]
