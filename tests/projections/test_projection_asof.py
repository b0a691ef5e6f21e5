"""An as-of card (a lookup in the history) equals a replay of the log to that point."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import log as event_log
from ledger.application import Ledger
from projections import Card, Projector, ReadModel
from projections.rebuild import build
from tests.stores import EmptyLogs

from .helpers import TOOLS, apply_command, seed, steps


def _oracle(ledger: Ledger, stop: int) -> dict[str, dict[str, Any]]:
    """A straightforward fold of the log up to ``stop``: each tool's card state."""
    tools: dict[str, dict[str, Any]] = {}
    by_id: dict[Any, str] = {}
    reviews: dict[Any, dict[str, Any]] = {}
    votes: dict[Any, list[Any]] = {}
    for event in event_log.read(ledger.recorder, limit=100_000):
        if event.position > stop:
            break
        kind, data = event.type, event.data
        if kind == "Tool.Registered":
            by_id[event.aggregate_id] = data["slug"]
            tools[data["slug"]] = {
                **{k: v for k, v in data.items() if k != "slug"},
                "version": event.version,
                "retired": False,
                "panel": [0, 0],
                "community": [0, 0],
            }
        elif kind.startswith("Tool."):
            tool = tools[by_id[event.aggregate_id]]
            tool["version"] = event.version
            if kind == "Tool.Edited":
                tool.update(data["changes"])
            else:
                tool["retired"] = kind == "Tool.Retired"
        elif kind.startswith("Review."):
            review = reviews.setdefault(event.aggregate_id, {"tool": data.get("tool")})
            panel = tools[review["tool"]]["panel"]
            if review.get("live"):
                panel[review["verdict"] == "skip"] -= 1
            review["live"] = kind != "Review.Withdrawn"
            review["verdict"] = data.get("verdict", review.get("verdict"))
            if review["live"]:
                panel[review["verdict"] == "skip"] += 1
        elif kind.startswith("Vote."):
            vote = votes.setdefault(event.aggregate_id, [data.get("subject"), None])
            subject = vote[0]
            if not subject.startswith("tool:"):
                continue
            community = tools[subject[5:]]["community"]
            if vote[1] is not None:
                community[vote[1] == "skip"] -= 1
            vote[1] = data.get("choice") if kind != "Vote.Retracted" else None
            if vote[1] is not None:
                community[vote[1] == "skip"] += 1
    return tools


def _matches(card: Card | None, expected: dict[str, Any] | None) -> None:
    if expected is None:
        assert card is None
        return
    assert card is not None
    assert card.version == expected["version"]
    assert card.retired == expected["retired"]
    assert (card.name, card.entry) == (expected["name"], expected["entry"])
    assert [card.panel.ship, card.panel.skip] == expected["panel"]
    assert [card.community.ship, card.community.skip] == expected["community"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(script=steps, data=st.data())
def test_card_as_of_equals_a_replay_to_that_point(
    empty_logs: EmptyLogs, script: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        ledger = empty_logs.fresh(home)[0].ledger()
        try:
            seed(ledger)
            for step in script:
                if step[0] != "project":
                    apply_command(ledger, step)
            projector = Projector(ledger, home / "live.sqlite", batch_size=7)
            projector.catch_up()
            projector.close()
            live = ReadModel(home / "live.sqlite")
            # Points are positions of events (or 0): on PostgreSQL a refused
            # append leaves a gap, where "the time of the event at the point"
            # would be a later event's.
            positions = [e.position for e in event_log.read(ledger.recorder)]
            points = data.draw(
                st.lists(
                    st.sampled_from([0, *positions]),
                    min_size=1,
                    max_size=4,
                    unique=True,
                )
            )
            for point in points:
                replayed = home / f"replay-{point}.sqlite"
                build(ledger, replayed, stop=point)
                replay = ReadModel(replayed)
                oracle = _oracle(ledger, point)
                for slug in TOOLS:
                    card = live.card_as_of(slug, position=point)
                    assert card == replay.tool(slug)
                    _matches(card, oracle.get(slug))
                    if point:
                        at = live.events(after=point - 1, limit=1).items[0].at
                        assert live.card_as_of(slug, at=at) == card
                replay.close()
            live.close()
        finally:
            ledger.close()


def test_as_of_before_a_tool_existed_is_none(ledger: Ledger, live_path: Path) -> None:
    seed(ledger)
    projector = Projector(ledger, live_path)
    projector.catch_up()
    model = ReadModel(live_path)
    first = model.events(limit=1).items[0]
    assert model.card_as_of("beta", position=first.position) is None
    assert model.card_as_of("alpha", position=first.position) is not None
    assert model.card_as_of("alpha", position=0) is None
    earlier = first.at.replace(year=first.at.year - 1)
    assert model.card_as_of("alpha", at=earlier) is None
    model.close()
    projector.close()
