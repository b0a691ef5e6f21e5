"""``GET /api/tools/{slug}/provenance``: the events behind each figure of the card.

Each figure (panel and community, ship and skip) lists exactly as many events
as the card counts, and they must be the ones a replay of the log names: the
latest event of each live review, the event that set each current vote.
Checked at the head through the API and, at a random point of the log, on
read models rebuilt up to it (by one fold, and by the bulk rebuild's helpers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from api.schemas import Evidence, EvidenceList, ToolProvenance
from ledger import log as event_log
from ledger.context import Context
from projections import ReadModel
from projections.models import Card
from projections.rebuild import build
from tests.api.helpers import CARD, Api, problem, settings_for
from tests.projections.helpers import TOOLS
from tests.replay import FIGURES, Replayed, replay, scripted, scripts
from tests.stores import EmptyLogs

PROVENANCE = CARD + "/provenance"
CTX = Context(actor="editor:test", request_id="test")


def _figure_events(
    client: TestClient[Litestar], slug: str, limit: int
) -> tuple[ToolProvenance, dict[tuple[str, str], list[Evidence]]]:
    """The provenance, and each figure's events over every page, by next link."""
    answer = client.get(f"/api/tools/{slug}/provenance", params={"limit": limit})
    assert answer.status_code == 200, answer.text
    found = msgspec.json.decode(answer.content, type=ToolProvenance)
    events = {}
    for side, choice in FIGURES:
        figure = getattr(getattr(found, side), choice)
        items, link = list(figure.items), figure.next
        assert len(items) <= limit
        while link is not None:
            assert link.startswith(f"/api/tools/{slug}/provenance/{side}/{choice}?")
            page = client.get(link)
            assert page.status_code == 200, page.text
            body = msgspec.json.decode(page.content, type=EvidenceList)
            assert page.headers.get("link") == (
                None if body.next is None else f'<{body.next}>; rel="next"'
            )
            items += body.items
            link = body.next
        assert len(items) == figure.count, "as many events as the figure counts"
        events[side, choice] = items
    return found, events


def _card_counts(card: Card) -> dict[tuple[str, str], int]:
    return {
        (side, choice): getattr(getattr(card, side), choice) for side, choice in FIGURES
    }


def _check_against(
    oracle: Replayed, slug: str, events: dict[tuple[str, str], list[Evidence]]
) -> None:
    """Each figure's events are the replay's, with the log's time, type and actor."""
    for figure in FIGURES:
        found = events[figure]
        assert [item.position for item in found] == oracle.sources[slug][figure]
        for item in found:
            logged = oracle.events[item.position]
            assert (item.at, item.type, item.actor) == (
                logged.at,
                logged.type,
                logged.actor,
            )
            assert item.proof == f"/api/events/{item.position}/proof"
            if figure[0] == "panel":
                submitted = next(
                    event
                    for event in oracle.events.values()
                    if event.aggregate_id == logged.aggregate_id
                    and event.type == "Review.Submitted"
                )
                assert item.reviewer == submitted.data["reviewer"]
            else:
                assert item.reviewer is None


EXAMPLES = {"sqlite": 12, "postgres": 5}
"""Examples per store: each is slow (an app and two rebuilds), slower on PostgreSQL."""


def test_provenance_agrees_with_a_replay_of_the_log_up_to_each_point(
    empty_logs: EmptyLogs,
) -> None:
    @settings(
        max_examples=EXAMPLES[empty_logs.store.name],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(script=scripts, data=st.data())
    def agrees(script: list[tuple[Any, ...]], data: st.DataObject) -> None:
        with scripted(empty_logs, script) as (home, ledger):
            head = ledger.head_position()
            oracle = replay(ledger, head)
            # Now, through the API, the live read model.
            with TestClient(app=create_app(settings_for(home))) as client:
                for slug in TOOLS:
                    limit = data.draw(st.integers(1, 3))
                    found, events = _figure_events(client, slug, limit)
                    assert found.position == head
                    card = client.get(f"/api/tools/{slug}").json()
                    assert _card_counts(msgspec.convert(card, Card)) == (
                        oracle.counts(slug)
                    )
                    _check_against(oracle, slug, events)
            # Up to a random point, on read models rebuilt from the log, both
            # in this process and by the bulk rebuild's helper processes (on
            # PostgreSQL, both in this process).
            # A position the log holds (PostgreSQL's have gaps), or none.
            positions = [e.position for e in event_log.read(ledger.recorder)]
            point = data.draw(st.sampled_from([0, *positions]))
            for bulk in (False, True):
                path = home / f"replay-{point}-{bulk}.sqlite"
                build(ledger, path, stop=point, bulk=bulk)
                _check_read_model(path, replay(ledger, point))

    agrees()


def _check_read_model(path: Path, oracle: Replayed) -> None:
    model = ReadModel(path)
    try:
        for slug in TOOLS:
            provenance = model.provenance(slug, limit=1)
            if slug not in oracle.cards:
                assert provenance is None
                continue
            assert provenance is not None
            assert provenance.position == oracle.stop
            assert _card_counts(provenance.card) == oracle.counts(slug)
            for side, choice in FIGURES:
                listed: list[Any] = []
                after = 0
                while True:
                    page = model.sources_page(slug, side, choice, after, limit=2)
                    listed += page.items
                    if page.next is None:
                        break
                    after = int(page.next)
                assert [s.position for s in listed] == oracle.sources[slug][
                    side, choice
                ]
    finally:
        model.close()


def test_the_demo_panel_figures_come_from_its_reviews(api: Api) -> None:
    answer = api.client.get("/api/tools/mistral-medium-3/provenance")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"tool", "position", "panel", "community"}
    assert body["position"] == api.head()
    ship, skip = body["panel"]["ship"], body["panel"]["skip"]
    assert (ship["count"], skip["count"]) == (3, 1)
    assert [item["reviewer"] for item in ship["items"]] == [
        "builder",
        "skeptic",
        "futurist",
    ]
    (buyer,) = skip["items"]
    assert buyer == {
        "position": 14,
        "at": buyer["at"],
        "type": "Review.Submitted",
        "actor": "reviewer:buyer",
        "proof": "/api/events/14/proof",
        "reviewer": "buyer",
    }
    assert body["community"] == {
        "ship": {"count": 0, "items": [], "next": None},
        "skip": {"count": 0, "items": [], "next": None},
    }


def test_a_vote_moves_to_the_event_that_set_its_choice(api: Api) -> None:
    cast = api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
    other = api.request("PUT", CARD + "/vote", "voter2", json={"choice": "ship"})
    changed = api.request("PUT", CARD + "/vote", "voter", json={"choice": "skip"})
    position = changed.json()["position"]
    body = api.client.get(PROVENANCE, params={"min_position": position}).json()
    community = body["community"]
    assert [item["position"] for item in community["ship"]["items"]] == [
        other.json()["position"]
    ]
    (skip,) = community["skip"]["items"]
    assert (skip["position"], skip["type"]) == (position, "Vote.Changed")
    assert skip["actor"].startswith("voter:"), "a keyed hash, never the token"
    assert cast.json()["position"] not in [
        item["position"] for figure in community.values() for item in figure["items"]
    ]
    retracted = api.request("DELETE", CARD + "/vote", "voter2")
    body = api.client.get(
        PROVENANCE, params={"min_position": retracted.json()["position"]}
    ).json()
    assert body["community"]["ship"] == {"count": 0, "items": [], "next": None}


def test_a_revised_or_withdrawn_review_counts_from_its_latest_event(api: Api) -> None:
    revised = api.request(
        "PUT",
        CARD + "/reviews/builder",
        "builder",
        json={"verdict": "skip", "rationale": "Changed my mind.", "reason": "tested"},
    )
    assert revised.status_code == 200, revised.text
    withdrawn = api.request(
        "DELETE", CARD + "/reviews/skeptic", "skeptic", params={"reason": "conflict"}
    )
    position = withdrawn.json()["position"]
    body = api.client.get(PROVENANCE, params={"min_position": position}).json()
    assert [item["reviewer"] for item in body["panel"]["ship"]["items"]] == [
        "futurist",
        "buyer",
    ]
    (skip,) = body["panel"]["skip"]["items"]
    assert (skip["position"], skip["type"], skip["reviewer"]) == (
        revised.json()["position"],
        "Review.Revised",
        "builder",
    )


def test_many_votes_are_paged_per_figure(api: Api) -> None:
    ledger = api.ledger
    for index in range(7):
        ledger.cast_vote(CTX, f"voter-{index}", "code-llama-4", "ship")
    head = api.head()
    body = api.client.get(PROVENANCE, params={"limit": 3, "min_position": head}).json()
    ship = body["community"]["ship"]
    assert ship["count"] == 7
    assert len(ship["items"]) == 3
    assert ship["next"].startswith("/api/tools/code-llama-4/provenance/community/ship?")
    seen = [item["position"] for item in ship["items"]]
    link = ship["next"]
    while link:
        page = api.client.get(link)
        assert page.status_code == 200
        seen += [item["position"] for item in page.json()["items"]]
        link = page.json()["next"]
    assert seen == list(range(head - 6, head + 1))
    assert body["panel"]["ship"]["next"] is not None, "four reviews, three a page"


@pytest.mark.parametrize(
    "path",
    ["/api/tools/nope/provenance", "/api/tools/nope/provenance/panel/ship"],
)
def test_an_unknown_tool_has_no_provenance(api: Api, path: str) -> None:
    assert problem(api.client.get(path), 404)["type"] == "/problems/tool-not-found"


@pytest.mark.parametrize(
    "path",
    [
        PROVENANCE + "/jury/ship",
        PROVENANCE + "/panel/maybe",
        PROVENANCE + "?limit=0",
        PROVENANCE + "/community/ship?limit=1001",
    ],
)
def test_a_figure_is_one_of_four(api: Api, path: str) -> None:
    body = problem(api.client.get(path), 422)
    assert body["type"] == "/problems/validation-failed"


def test_a_bad_cursor_is_refused(api: Api) -> None:
    answer = api.client.get(PROVENANCE + "/panel/ship", params={"cursor": "bm9wZQ"})
    assert problem(answer, 400)["type"] == "/problems/invalid-cursor"
