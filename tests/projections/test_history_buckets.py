"""The history by day, week and month equals the full history folded per bucket."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import domainmodel as dm
from ledger.context import Context
from ledger.rules import VERDICTS
from projections import Projector
from projections.history_pages import bucket_end, bucket_start
from projections.models import HistoryBucket, HistoryItem
from projections.queries import ReadModel
from projections.rebuild import build
from tests.stores import EmptyLogs, Store

from .helpers import FIELDS

CTX = Context(actor="tester", request_id="buckets")
START = datetime(2025, 12, 29, 23, 0, 0, 1, tzinfo=UTC)  # a Monday, late
SIZES = ("day", "week", "month")

actions = st.lists(
    st.tuples(
        st.integers(0, 60 * 24 * 20),  # minutes since the previous event
        st.sampled_from(["vote", "vote", "vote", "change", "retract", "review"]),
        st.integers(0, 5),  # which voter or reviewer
    ),
    min_size=1,
    max_size=60,
)


def _stamped(script: list[tuple[int, str, int]]) -> Iterator[Any]:
    """A tool's life as domain events, each stamped at a time the script says."""
    now = START
    tool = dm.Tool.register(CTX, "stamped", dict(FIELDS))
    reviewers = [
        dm.Reviewer.enroll(CTX, f"r{n}", f"R {n}", "builder") for n in range(6)
    ]
    votes: dict[int, Any] = {}
    reviews: dict[int, Any] = {}
    pending = [tool, *reviewers]
    for minutes, action, who in script:
        for aggregate in pending:
            for event in aggregate.collect_events():
                yield dataclasses.replace(event, timestamp=now)
        now += timedelta(minutes=minutes, microseconds=1)
        vote = votes.get(who)
        if action == "vote" and vote is None:
            vote = votes[who] = dm.Vote.cast(
                CTX, "tool:stamped", f"{who:032x}", "ship", VERDICTS
            )
        elif action == "change" and vote is not None and vote.choice is not None:
            other = "skip" if vote.choice == "ship" else "ship"
            vote.change(CTX, other, VERDICTS)
        elif action == "retract" and vote is not None and vote.choice is not None:
            vote.retract(CTX)
        elif action == "review" and who not in reviews:
            reviews[who] = dm.Review.submit(CTX, tool, reviewers[who], "skip", "Why.")
        elif action == "review":
            review = reviews[who]
            verdict = "ship" if review.verdict == "skip" else "skip"
            review.revise(CTX, verdict, "Changed my mind.", "new facts")
        pending = [votes.get(who), reviews.get(who)]
        pending = [aggregate for aggregate in pending if aggregate is not None]
    for aggregate in pending:
        for event in aggregate.collect_events():
            yield dataclasses.replace(event, timestamp=now)


def _folded(history: list[HistoryItem], size: str) -> list[HistoryBucket]:
    """The buckets of ``history`` worked out the obvious way."""
    found: dict[Any, HistoryBucket] = {}
    for item in history:
        start = bucket_start(size, item.at.astimezone(UTC).date())
        was = found.get(start)
        found[start] = HistoryBucket(
            start=start,
            end=bucket_end(size, start),
            changes=(was.changes if was else 0) + 1,
            votes=(was.votes if was else 0) + (item.kind == "community"),
            position=item.position,
            panel=item.after.panel,
            community=item.after.community,
        )
    return [found[start] for start in sorted(found)]


def _every_bucket(model: ReadModel, size: str, newest: bool, limit: int) -> list[Any]:
    items: list[HistoryBucket] = []
    after = None
    while True:
        page = model.history_buckets("stamped", size, after, limit, newest_first=newest)
        items += page.items
        if page.next is None:
            return items
        assert isinstance(page.next, str)
        after = page.next


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(script=actions, batch=st.integers(1, 7), limit=st.integers(1, 5))
def test_buckets_equal_the_history_folded_per_bucket(
    empty_logs: EmptyLogs, script: list[tuple[int, str, int]], batch: int, limit: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        ledger = empty_logs.fresh(home)[0].ledger()
        projector = Projector(ledger, home / "live.sqlite", batch_size=batch)
        try:
            events = list(_stamped(script))
            ledger.recorder.insert_events(
                [ledger.mapper.to_stored_event(event) for event in events]
            )
            projector.catch_up()
            build(ledger, home / "rebuilt.sqlite", batch_size=1000)
            for path in (home / "live.sqlite", home / "rebuilt.sqlite"):
                model = ReadModel(path)
                try:
                    history = model.history("stamped")
                    for size in SIZES:
                        expected = _folded(history, size)
                        assert _every_bucket(model, size, False, limit) == expected
                        newest = _every_bucket(model, size, True, limit)
                        assert newest == expected[::-1]
                finally:
                    model.close()
        finally:
            projector.close()
            ledger.close()


def test_a_week_runs_monday_to_sunday_and_a_month_ends_in_the_next() -> None:
    sunday = datetime(2026, 1, 4, tzinfo=UTC).date()
    assert bucket_start("week", sunday).isoformat() == "2025-12-29"
    assert bucket_end("week", bucket_start("week", sunday)).isoformat() == "2026-01-05"
    december = bucket_start("month", datetime(2025, 12, 31, tzinfo=UTC).date())
    assert bucket_end("month", december).isoformat() == "2026-01-01"


def test_a_spread_out_history_falls_in_many_buckets(
    tmp_path: Path, event_store: Store
) -> None:
    """Guards the property above against passing on one bucket a time."""
    script = [(60 * 24 * 2, "vote", who) for who in range(6)]
    script += [
        (60 * 24 * 9, "review", 1),
        (60, "change", 0),
        (60 * 24 * 30, "review", 1),
    ]
    ledger = event_store.ledger()
    try:
        ledger.recorder.insert_events(
            [ledger.mapper.to_stored_event(event) for event in _stamped(script)]
        )
        build(ledger, tmp_path / "rebuilt.sqlite", batch_size=1000)
    finally:
        ledger.close()
    model = ReadModel(tmp_path / "rebuilt.sqlite")
    try:
        days = _every_bucket(model, "day", False, 100)
        weeks = _every_bucket(model, "week", False, 100)
        months = _every_bucket(model, "month", False, 100)
    finally:
        model.close()
    # Ten days: the registration's, six votes' two days apart, a review's, a
    # change an hour later (past midnight) and a revision a month on.
    assert [len(days), len(weeks), len(months)] == [10, 4, 3]
    assert [week.changes for week in weeks] == [4, 3, 2, 1]
    assert sum(day.votes for day in days) == 7
    assert months[-1].panel.ship == 1
    assert months[-1].community.ship == 5
