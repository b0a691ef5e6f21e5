"""Cursor pagination of every list: limits, next links, and appends between pages."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.context import Context
from projections.queries import ReadModel
from tests.api.helpers import CARD, Api, problem

LISTS = (
    "/api/tools",
    "/api/comparisons",
    CARD + "/reviews",
    CARD + "/history",
    CARD + "/history?bucket=day",
)
VOTERS = itertools.count()
TOOLS = itertools.count()
WALKS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _vote(api: Api) -> int:
    """A new voter's vote on the demo tool; the position it was appended at."""
    ctx = Context(actor="voter", request_id="pagination-test")
    receipt = api.ledger.cast_vote(
        ctx, f"walker-{next(VOTERS)}", "code-llama-4", "ship"
    )
    return receipt.position


def _register(api: Api) -> int:
    ctx = Context(actor="editor", request_id="pagination-test")
    slug = f"walked-{next(TOOLS)}"
    fields = {"name": slug, "vendor": "V", "category": "C"}
    return api.ledger.register_tool(ctx, slug, fields).position


def _reach(api: Api, position: int) -> None:
    read_model: ReadModel = api.client.app.state.read_model
    assert read_model.wait_for(position, timeout=10)


def _walk(
    api: Api,
    url: str,
    key: str | None = None,
    between: list[int] | None = None,
    append: Any = None,
) -> list[Any]:
    """Every item (or its ``key``) along the next links.

    ``between[i]`` is how many events ``append`` appends after page ``i``
    (waiting for each to be projected) before the next page is read.
    """
    seen: list[Any] = []
    pages = 0
    while url:
        answer = api.client.get(url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [item if key is None else item[key] for item in body["items"]]
        link = answer.headers.get("link")
        assert link == (
            None if body["next"] is None else f'<{body["next"]}>; rel="next"'
        )
        url = body["next"]
        if url and between and pages < len(between):
            for _ in range(between[pages]):
                _reach(api, append(api))
        pages += 1
    return seen


@WALKS
@given(
    limit=st.integers(1, 6),
    between=st.lists(st.integers(0, 3), max_size=8),
    newest=st.booleans(),
)
def test_a_history_walk_sees_each_change_once_while_votes_arrive(
    api: Api, limit: int, between: list[int], newest: bool
) -> None:
    order = "newest" if newest else "oldest"
    before = _walk(api, f"{CARD}/history?order={order}&limit=1000", "position")
    seen = _walk(
        api, f"{CARD}/history?order={order}&limit={limit}", "position", between, _vote
    )
    after = _walk(api, f"{CARD}/history?order={order}&limit=1000", "position")
    assert len(seen) == len(set(seen)), "no change is listed twice"
    if newest:
        # Changes appended meanwhile are newer than the first page: not walked.
        assert seen == before
    else:
        # They are appended after the pages read, and walked to the end.
        assert seen == after
        assert after[: len(before)] == before


@WALKS
@given(limit=st.integers(1, 4), between=st.lists(st.integers(0, 2), max_size=5))
def test_a_tools_walk_sees_each_tool_once_while_tools_are_registered(
    api: Api, limit: int, between: list[int]
) -> None:
    seen = _walk(api, f"/api/tools?limit={limit}", "slug", between, _register)
    assert seen == _walk(api, "/api/tools?limit=1000", "slug")
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("path", LISTS)
def test_every_list_pages_to_the_same_items_as_one_big_page(
    api: Api, path: str
) -> None:
    for _ in range(3):
        _reach(api, _vote(api))
    _reach(api, _register(api))
    joiner = "&" if "?" in path else "?"
    whole = api.client.get(f"{path}{joiner}limit=1000").json()
    assert whole["next"] is None
    assert _walk(api, f"{path}{joiner}limit=1") == whole["items"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "1001", "many"])
def test_a_limit_out_of_bounds_is_refused(api: Api, path: str, limit: str) -> None:
    joiner = "&" if "?" in path else "?"
    problem(api.client.get(f"{path}{joiner}limit={limit}"), 422)


@pytest.mark.parametrize("cursor", ["zzzz", "bm90LWEta2V5", "LTE", "x" * 65, "a b"])
def test_a_cursor_not_made_by_the_list_is_refused(api: Api, cursor: str) -> None:
    answer = api.client.get(CARD + "/history", params={"cursor": cursor})
    assert answer.status_code in (400, 422)
    problem(answer, answer.status_code)


def test_the_default_page_is_a_hundred(api: Api) -> None:
    for _ in range(105):
        _vote(api)
    _reach(api, api.head())
    body = api.client.get(CARD + "/history").json()
    assert len(body["items"]) == 100
    assert body["next"] is not None


def test_history_filters_by_kind_actor_and_time(api: Api) -> None:
    _reach(api, _vote(api))
    history = api.client.get(CARD + "/history?limit=1000").json()["items"]

    def walked(**params: Any) -> list[int]:
        answer = api.client.get(CARD + "/history", params={"limit": 2, **params})
        seen = [item["position"] for item in answer.json()["items"]]
        next_url = answer.json()["next"]
        while next_url:
            body = api.client.get(next_url).json()
            seen += [item["position"] for item in body["items"]]
            next_url = body["next"]
        return seen

    def positions(keep: Any) -> list[int]:
        return [item["position"] for item in history if keep(item)]

    assert walked(kind="panel") == positions(lambda i: i["kind"] == "panel")
    assert walked(kind="community") == positions(lambda i: i["kind"] == "community")
    assert walked(kind=["panel", "edit"]) == positions(
        lambda i: i["kind"] != "community"
    )
    assert walked(actor="reviewer:skeptic") == positions(
        lambda i: i["actor"] == "reviewer:skeptic"
    )
    middle = history[len(history) // 2]["at"]
    assert walked(since=middle) == positions(lambda i: i["at"] >= middle)
    assert walked(until=middle) == positions(lambda i: i["at"] < middle)
    assert walked(since="2999-01-01T00:00:00Z") == []
    # The before figures of a filtered change are the card's just before it.
    [vote] = [i for i in history if i["kind"] == "community"][-1:]
    [same] = [
        i
        for i in api.client.get(CARD + "/history?kind=community&limit=1000").json()[
            "items"
        ]
        if i["position"] == vote["position"]
    ]
    assert same == vote


def test_an_unknown_kind_or_an_empty_range_is_refused(api: Api) -> None:
    problem(api.client.get(CARD + "/history?kind=gossip"), 422)
    body = problem(
        api.client.get(
            CARD + "/history",
            params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        ),
        422,
    )
    assert body["type"] == "/problems/empty-time-range"


def test_the_history_by_bucket_sums_every_change(api: Api) -> None:
    _reach(api, _vote(api))
    history = api.client.get(CARD + "/history?limit=1000").json()["items"]
    for bucket in ("day", "week", "month"):
        body = api.client.get(CARD + f"/history?bucket={bucket}").json()
        assert body["summary"] == "buckets"
        assert body["bucket"] == bucket
        assert sum(item["changes"] for item in body["items"]) == len(history)
        assert sum(item["votes"] for item in body["items"]) == sum(
            item["kind"] == "community" for item in history
        )
        last = body["items"][-1]
        assert last["position"] == history[-1]["position"]
        assert last["community"] == history[-1]["after"]["community"]
        assert last["start"] < last["end"]
