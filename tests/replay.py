"""The tests' own replay of the log: what it adds up to at a position, folded plainly.

An oracle for the diff and provenance tests that shares nothing with the read
side: it reads the log through :func:`ledger.log.read` and folds each event
with a few dicts, so a read model that disagrees with it is wrong (or it is).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from ledger import log as event_log
from ledger.application import Ledger
from tests.projections.helpers import (
    apply_command,
    command,
    reviewer,
    seed,
    tool,
    verdict,
    voter,
    word,
)
from tests.stores import EmptyLogs

_vote = st.tuples(st.just("vote"), voter, tool, verdict)
_review = st.tuples(st.just("review"), tool, reviewer, verdict, word)
_withdraw = st.tuples(st.just("withdraw"), tool, reviewer)
_retract = st.tuples(st.just("retract"), voter, tool)
scripts = st.lists(
    st.one_of(command, _vote, _vote, _vote, _retract, _review, _review, _withdraw),
    min_size=5,
    max_size=60,
)
"""Random command scripts (see :mod:`tests.projections.helpers`), weighted
towards the votes and reviews that figures count, changed and withdrawn."""

Figure = tuple[str, str]
"""``(side, choice)``: ``("panel", "ship")``, ``("community", "skip")``…"""

FIGURES: tuple[Figure, ...] = (
    ("panel", "ship"),
    ("panel", "skip"),
    ("community", "ship"),
    ("community", "skip"),
)


@dataclass
class Replayed:
    """The log up to ``stop``, folded.

    Attributes:
        stop: The last position folded.
        cards: By slug, the card's fields, ``version``, ``retired`` and the
            four counts by figure.
        sources: By slug and figure, the position of the event behind each
            review or vote the figure counts, in log order.
        changes: By slug, every event that changed the card, in log order.
        events: Every event folded, by position.
    """

    stop: int
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, dict[Figure, list[int]]] = field(default_factory=dict)
    changes: dict[str, list[event_log.LoggedEvent]] = field(default_factory=dict)
    events: dict[int, event_log.LoggedEvent] = field(default_factory=dict)

    def counts(self, slug: str) -> dict[Figure, int]:
        """The card's four counts, as many as the events behind each figure."""
        return {figure: len(self.sources[slug][figure]) for figure in FIGURES}


def replay(ledger: Ledger, stop: int) -> Replayed:
    """Folds the log of ``ledger`` up to and including position ``stop``."""
    found = Replayed(stop)
    tools: dict[UUID, str] = {}
    # The latest state of each review and vote: what it counts for, and since when.
    reviews: dict[UUID, dict[str, Any]] = {}
    votes: dict[UUID, dict[str, Any]] = {}
    for event in event_log.read(ledger.recorder, limit=1_000_000):
        if event.position > stop:
            break
        found.events[event.position] = event
        kind, data = event.type, event.data
        slug: str | None = None
        if kind == "Tool.Registered":
            slug = tools[event.aggregate_id] = data["slug"]
            found.cards[slug] = {
                **{k: v for k, v in data.items() if k != "slug"},
                "retired": False,
                "version": event.version,
            }
            found.changes[slug] = []
        elif kind.startswith("Tool."):
            slug = tools[event.aggregate_id]
            found.cards[slug]["version"] = event.version
            if kind == "Tool.Edited":
                found.cards[slug].update(data["changes"])
            else:
                found.cards[slug]["retired"] = kind == "Tool.Retired"
        elif kind.startswith("Review."):
            review = reviews.setdefault(event.aggregate_id, {"tool": data.get("tool")})
            review["verdict"] = data.get("verdict", review.get("verdict"))
            review["live"] = kind != "Review.Withdrawn"
            review["position"] = event.position
            slug = review["tool"]
        elif kind.startswith("Vote."):
            vote = votes.setdefault(
                event.aggregate_id, {"subject": data.get("subject")}
            )
            vote["choice"] = data.get("choice") if kind != "Vote.Retracted" else None
            vote["position"] = event.position
            if vote["subject"].startswith("tool:"):
                slug = vote["subject"][len("tool:") :]
        if slug is not None:
            found.changes[slug].append(event)
    for slug in found.cards:
        found.sources[slug] = {figure: [] for figure in FIGURES}
    for review in reviews.values():
        if review["live"]:
            found.sources[review["tool"]]["panel", review["verdict"]].append(
                review["position"]
            )
    for vote in votes.values():
        if vote["subject"].startswith("tool:") and vote["choice"] is not None:
            slug = vote["subject"][len("tool:") :]
            found.sources[slug]["community", vote["choice"]].append(vote["position"])
    for slug, figures in found.sources.items():
        for positions in figures.values():
            positions.sort()
        found.cards[slug].update(found.counts(slug))
    return found


@contextmanager
def scripted(
    logs: EmptyLogs, script: list[tuple[Any, ...]]
) -> Iterator[tuple[Path, Ledger]]:
    """A fresh ledger home, seeded and then run through ``script``'s commands.

    Its log is an empty one of ``logs``, on the test's event store.
    """
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory) / "home"
        ledger = logs.fresh(home)[0].ledger()
        try:
            seed(ledger)
            for step in script:
                apply_command(ledger, step)
            yield home, ledger
        finally:
            ledger.close()
