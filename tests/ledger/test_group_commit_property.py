"""Casting votes together is casting them one by one: a property.

Two identical ledgers (the same server secret, so the same voter keys, and
the same history) are given the same random batch of votes: one casts it
together (:func:`~ledger.group_commit.cast_together`), the other one command
at a time. Every vote must have the same outcome on both, and both logs must
hold the same events, field for field, timestamps aside.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import log
from ledger.application import Ledger, Receipt, VoteCommand
from ledger.context import Context
from ledger.group_commit import cast_together
from tests.stores import EmptyLogs

from .helpers import EDITOR, register

TOOLS = ("alpha", "beta", "gamma")
PUBLISHED = (("alpha", "beta"), ("alpha", "gamma"))
"""The head-to-heads published; beta against gamma never is."""

voters = st.sampled_from(["ann", "bob", "cyd"])
contexts = st.builds(
    Context, actor=st.just("voter"), request_id=st.sampled_from(["r1", "r2"])
)
tool_votes = st.builds(
    VoteCommand,
    ctx=contexts,
    voter=voters,
    choice=st.sampled_from(["ship", "skip", "maybe"]),
    tool=st.sampled_from([*TOOLS, "ghost"]),
)
pair_votes = st.builds(
    lambda ctx, voter, choice, pair: VoteCommand(
        ctx, voter, choice, a=pair[0], b=pair[1]
    ),
    ctx=contexts,
    voter=voters,
    choice=st.sampled_from([*TOOLS, "ship"]),
    pair=st.sampled_from([*PUBLISHED, ("beta", "alpha"), ("beta", "gamma")]),
)
votes = st.one_of(tool_votes, pair_votes)


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    """Votes cast before the batch, then the tools and comparisons retired."""
    return {
        "votes": draw(st.lists(votes, max_size=6)),
        "retired_tools": draw(st.sets(st.sampled_from(TOOLS), max_size=1)),
        "retired_pairs": draw(st.sets(st.sampled_from(PUBLISHED), max_size=1)),
    }


@contextmanager
def twin_ledgers(
    logs: EmptyLogs, history: dict[str, Any]
) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers with the same secret and the same history, on empty logs."""
    root = Path(tempfile.mkdtemp(prefix="ledger-twins-"))
    stores = logs.fresh(root / "first", root / "second")
    first = stores[0].ledger()
    twin = stores[1].settings
    twin.ensure_home()
    shutil.copy(first.settings.secret_path, twin.secret_path)
    second = stores[1].ledger()
    try:
        for ledger in (first, second):
            give(ledger, history)
        yield first, second
    finally:
        first.close()
        second.close()
        shutil.rmtree(root)


def give(ledger: Ledger, history: dict[str, Any]) -> None:
    for slug in TOOLS:
        register(ledger, slug)
    for a, b in PUBLISHED:
        ledger.publish_comparison(EDITOR, a, b, question=f"{a} or {b}?")
    for command in history["votes"]:
        cast_alone(ledger, command)
    for slug in sorted(history["retired_tools"]):
        ledger.retire_tool(EDITOR, slug, reason="gone")
    for a, b in sorted(history["retired_pairs"]):
        ledger.retire_comparison(EDITOR, a, b, reason="settled")


def cast_alone(ledger: Ledger, command: VoteCommand) -> Receipt | BaseException:
    """The single command's receipt, or the error it raised."""
    try:
        return ledger.cast(command)
    except Exception as error:
        return error


def ranks(ledger: Ledger) -> dict[int, int]:
    """What each log position is compared as.

    On PostgreSQL a refused append takes a position from the sequence (see
    the README's differences between the stores), and the batch and the
    votes one by one are refused at different steps, so the two logs may
    skip different positions; there each position counts as its rank in the
    log. On SQLite a refusal takes none, and positions are compared as they
    are.
    """
    positions = [e.position for e in log.read(ledger.recorder, limit=10_000)]
    if getattr(ledger.recorder, "refusals_use_positions", True):
        return {position: rank for rank, position in enumerate(positions, 1)}
    return {position: position for position in positions}


def compared(outcome: Receipt | BaseException, rank: dict[int, int]) -> tuple[Any, ...]:
    """A receipt's figures, or an error's class and words."""
    if isinstance(outcome, Receipt):
        return ("receipt", outcome.id, outcome.version, rank[outcome.position])
    return ("error", type(outcome), str(outcome))


def logged(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every event of the log but for its timestamp."""
    rank = ranks(ledger)
    return [
        (
            rank[e.position],
            e.type,
            e.aggregate_id,
            e.version,
            e.actor,
            e.reason,
            e.request_id,
            e.data,
        )
        for e in log.read(ledger.recorder, limit=10_000)
    ]


EXAMPLES = {"sqlite": 60, "postgres": 20}
"""Examples per store: each takes about five times as long on PostgreSQL."""


def test_a_batch_has_the_outcomes_and_log_of_its_votes_one_by_one(
    empty_logs: EmptyLogs,
) -> None:
    @settings(
        max_examples=EXAMPLES[empty_logs.store.name],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(history=histories(), batch=st.lists(votes, min_size=1, max_size=12))
    def same(history: dict[str, Any], batch: list[VoteCommand]) -> None:
        with twin_ledgers(empty_logs, history) as (together, one_by_one):
            assert logged(together) == logged(one_by_one)
            # when one casts the batch together, the other each vote alone
            batched = cast_together(together, batch)
            alone = [cast_alone(one_by_one, command) for command in batch]
            # then every vote has the same outcome, and the logs are the same
            assert [compared(o, ranks(together)) for o in batched] == [
                compared(o, ranks(one_by_one)) for o in alone
            ]
            assert logged(together) == logged(one_by_one)

    same()
