"""``GET /api/tools/{slug}/diff``: the card at two points and every change between.

The diff must agree with a replay of the log up to each point: its two cards
with read models rebuilt from the log up to those positions, and with the
tests' own fold of the log (:mod:`tests.replay`); its events, page by page,
with the events of the log between the points that concern the tool.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from api.schemas import ToolDiff
from ledger.application import Ledger
from ledger.personal_data import is_sealed
from projections import ReadModel
from projections.models import Card, Figures
from projections.rebuild import build
from tests.api.helpers import CARD, Api, problem, settings_for
from tests.projections.helpers import TOOLS
from tests.replay import FIGURES, Replayed, replay, scripted, scripts
from tests.stores import EmptyLogs

DIFF = CARD + "/diff"


def _diff_pages(
    client: TestClient[Litestar], slug: str, **params: Any
) -> tuple[ToolDiff, list[Any]]:
    """The first page of a diff, and its events over every page, by next link."""
    answer = client.get(f"/api/tools/{slug}/diff", params=params)
    assert answer.status_code == 200, answer.text
    first = msgspec.json.decode(answer.content, type=ToolDiff)
    found, events = first, list(first.events)
    while found.next is not None:
        assert f"to={first.end.position}" in found.next, "a next link pins to"
        answer = client.get(found.next)
        assert answer.status_code == 200, answer.text
        found = msgspec.json.decode(answer.content, type=ToolDiff)
        assert (found.start, found.end) == (first.start, first.end)
        events += found.events
    return first, events


def _counts(figures: Figures, side: str) -> dict[tuple[str, str], int]:
    return {(side, "ship"): figures.ship, (side, "skip"): figures.skip}


def _matches(card: Card | None, oracle: Replayed, slug: str) -> None:
    """A diff's card against the tests' own fold of the log to its point."""
    expected = oracle.cards.get(slug)
    if expected is None:
        assert card is None
        return
    assert card is not None
    assert (card.version, card.retired) == (expected["version"], expected["retired"])
    assert (card.name, card.entry) == (expected["name"], expected["entry"])
    counts = {**_counts(card.panel, "panel"), **_counts(card.community, "community")}
    assert counts == oracle.counts(slug)


def _stamp_position(oracle: Replayed, moment: datetime) -> int:
    """Where a time stands: the newest event stamped at or before it (0 if none)."""
    return max(
        (p for p, event in oracle.events.items() if event.at <= moment), default=0
    )


def _check_diff(
    client: TestClient[Litestar],
    ledger: Ledger,
    home: Path,
    slug: str,
    start: int,
    end: int,
    limit: int,
    params: dict[str, Any],
) -> None:
    first, events = _diff_pages(client, slug, limit=limit, **params)
    assert (first.start.position, first.end.position) == (start, end)
    oracles = {point: replay(ledger, point) for point in (start, end)}
    for point, found in ((start, first.start), (end, first.end)):
        rebuilt = home / f"replay-{point}.sqlite"
        if not rebuilt.exists():
            build(ledger, rebuilt, stop=point)
        model = ReadModel(rebuilt)
        try:
            assert found.card == model.tool(slug)
        finally:
            model.close()
        _matches(found.card, oracles[point], slug)
        at = oracles[point].events[point].at if point else None
        assert found.at == at
    logged = [e for e in oracles[end].changes.get(slug, []) if e.position > start]
    assert [(e.position, e.type) for e in events] == [
        (e.position, e.type) for e in logged
    ]
    for event, change in zip(logged, events, strict=True):
        # The log keeps a review's reason sealed; the diff shows it opened.
        assert event.reason == "" or is_sealed(event.reason) == (
            event.type.startswith("Review.")
        )
        assert (change.actor, change.reason, change.at) == (
            event.actor,
            ledger.sealer.unseal(event.reason),
            event.at,
        )
        assert change.changes == (
            event.data["changes"] if event.type == "Tool.Edited" else None
        )
        after = replay(ledger, event.position).counts(slug)
        before_fold = replay(ledger, event.position - 1)
        before = (
            before_fold.counts(slug)
            if slug in before_fold.cards
            else dict.fromkeys(FIGURES, 0)
        )
        for figures, expected in ((change.before, before), (change.after, after)):
            found_counts = {
                **_counts(figures.panel, "panel"),
                **_counts(figures.community, "community"),
            }
            assert found_counts == expected


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(script=scripts, data=st.data())
def test_diff_agrees_with_a_replay_of_the_log_up_to_each_point(
    empty_logs: EmptyLogs, script: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    with scripted(empty_logs, script) as (home, ledger):
        head = ledger.head_position()
        oracle = replay(ledger, head)
        # Points are positions of events (or 0): on PostgreSQL a refused
        # append leaves a gap, which no event's time stands for.
        points = st.sampled_from([0, *oracle.events])
        with TestClient(app=create_app(settings_for(home))) as client:
            for _ in range(3):
                start, end = sorted(data.draw(st.lists(points, min_size=2, max_size=2)))
                slug = data.draw(st.sampled_from(TOOLS))
                limit = data.draw(st.integers(1, 7))
                params: dict[str, Any] = {"from": start, "to": end}
                if data.draw(st.booleans()):
                    params.pop("to")
                    end = head
                _check_diff(client, ledger, home, slug, start, end, limit, params)
            # A time stands for the newest event stamped at or before it.
            moment = oracle.events[data.draw(st.sampled_from(list(oracle.events)))].at
            moment += timedelta(microseconds=data.draw(st.integers(0, 5)))
            start = _stamp_position(oracle, moment)
            slug = data.draw(st.sampled_from(TOOLS))
            params = {"from": moment.isoformat(), "to": head}
            _check_diff(client, ledger, home, slug, start, head, 100, params)


def test_diff_of_the_demo_since_its_first_event(api: Api) -> None:
    vote = api.request("PUT", CARD + "/vote", "voter", json={"choice": "skip"})
    position = vote.json()["position"]
    answer = api.client.get(DIFF, params={"from": 1, "min_position": position})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"tool", "from", "to", "events", "next"}
    assert body["tool"] == "code-llama-4"
    assert body["from"]["position"] == 1
    assert body["from"]["card"]["panel"]["total"] == 0
    assert body["to"]["position"] == position
    assert body["to"]["card"]["community"]["skip"] == 1
    kinds = [(item["type"], item["kind"]) for item in body["events"]]
    assert kinds == [("Review.Submitted", "panel")] * 4 + [("Vote.Cast", "community")]
    assert [item["actor"] for item in body["events"][:4]] == [
        "reviewer:builder",
        "reviewer:skeptic",
        "reviewer:futurist",
        "reviewer:buyer",
    ]
    assert body["events"][-1]["after"]["community"]["skip"] == 1
    assert body["next"] is None


def test_an_edit_says_which_fields_it_set(api: Api) -> None:
    head = api.head()
    edit = api.request(
        "PATCH", CARD, "editor", json={"entry": "$5/mo", "reason": "new plan"}
    )
    assert edit.status_code == 200, edit.text
    answer = api.client.get(
        DIFF, params={"from": head, "min_position": edit.json()["position"]}
    )
    (item,) = answer.json()["events"]
    assert (item["type"], item["reason"]) == ("Tool.Edited", "new plan")
    assert item["changes"] == {"entry": "$5/mo"}
    assert answer.json()["from"]["card"]["entry"] == "Free"
    assert answer.json()["to"]["card"]["entry"] == "$5/mo"


def test_a_card_that_did_not_exist_yet_is_null(api: Api) -> None:
    body = api.client.get(DIFF, params={"from": 0, "to": 0}).json()
    assert body["from"] == {"position": 0, "at": None, "card": None}
    assert body["to"] == body["from"]
    assert body["events"] == []
    second = api.client.get("/api/tools/mistral-medium-3/diff", params={"from": 1})
    assert second.json()["from"]["card"] is None, "registered at position 2"
    assert second.json()["events"][0]["type"] == "Tool.Registered"


def test_events_are_paged_with_next_links(api: Api) -> None:
    first = api.client.get(DIFF, params={"from": 0, "limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [item["position"] for item in body["events"]] == [1, 7]
    assert first.headers["link"] == f'<{body["next"]}>; rel="next"'
    vote = api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
    # the log grew, but the next pages stay within the first page's to
    seen = [item["position"] for item in body["events"]]
    link = body["next"]
    while link is not None:
        page = api.client.get(f"{link}&min_position={vote.json()['position']}")
        seen += [item["position"] for item in page.json()["events"]]
        assert page.json()["to"]["position"] == body["to"]["position"]
        link = page.json()["next"]
    assert seen == [1, 7, 9, 11, 13]


def test_diff_refusals(api: Api) -> None:
    head = api.head()
    assert problem(api.client.get("/api/tools/nope/diff?from=1"), 404)["type"] == (
        "/problems/tool-not-found"
    )
    for garbage in ("yesterday", "-1", "1.5", "2026-13-01", "9" * 25, "0x10"):
        body = problem(api.client.get(DIFF, params={"from": garbage}), 400)
        assert body["type"] == "/problems/invalid-point"
        assert repr(garbage) in body["detail"]
        body = problem(api.client.get(DIFF, params={"from": 1, "to": garbage}), 400)
        assert body["detail"].startswith("to: ")
    reversed_positions = api.client.get(DIFF, params={"from": 5, "to": 3})
    assert problem(reversed_positions, 422)["type"] == "/problems/from-after-to"
    reversed_times = api.client.get(
        DIFF, params={"from": "2030-01-02", "to": "2030-01-01"}
    )
    assert problem(reversed_times, 422)["type"] == "/problems/from-after-to"
    future = api.client.get(DIFF, params={"from": "2999-01-01", "to": 3})
    assert problem(future, 422)["type"] == "/problems/from-after-to"
    for params in ({"from": head + 1}, {"from": 1, "to": head + 50}):
        body = problem(api.client.get(DIFF, params=params), 422)
        assert body["type"] == "/problems/position-beyond-log"
    assert problem(api.client.get(DIFF), 422)["type"] == "/problems/validation-failed"
    bad_cursor = api.client.get(DIFF, params={"from": 1, "cursor": "bm9wZQ"})
    assert problem(bad_cursor, 400)["type"] == "/problems/invalid-cursor"


def test_a_naive_time_is_utc_and_a_date_is_its_midnight(api: Api) -> None:
    events = api.client.get("/api/events", params={"limit": 3}).json()["items"]
    third = datetime.fromisoformat(events[2]["at"])
    naive = third.replace(tzinfo=None).isoformat()
    assert api.client.get(DIFF, params={"from": naive}).json()["from"]["position"] == 3
    midnight = third.date().isoformat()
    found = api.client.get(DIFF, params={"from": midnight}).json()["from"]
    assert found["position"] == 0, "the demo was loaded after that midnight"
