"""A week's digest: what the week's events changed, to the microsecond of its bounds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from ledger import errors
from ledger.weeks import Week
from projections import Projector
from projections.digest_queries import Digest
from projections.queries import ReadModel
from projections.rebuild import build
from tests.digest_weeks import HOSTILE, W48, W49, store, three_weeks
from tests.stores import Store


@pytest.fixture
def models(tmp_path: Path, event_store: Store) -> Iterator[list[ReadModel]]:
    """The three weeks' log, folded live and rebuilt: a read model of each."""
    ledger = event_store.ledger()
    store(ledger, three_weeks())
    projector = Projector(ledger, tmp_path / "live.sqlite", batch_size=7)
    projector.catch_up()
    projector.close()
    build(ledger, tmp_path / "rebuilt.sqlite", batch_size=1000)
    opened = [ReadModel(tmp_path / name) for name in ("live.sqlite", "rebuilt.sqlite")]
    yield opened
    for model in opened:
        model.close()


def _digests(models: list[ReadModel], label: str, **limits: int) -> Digest:
    """The week's digest, the same from the live fold and the rebuild."""
    live, rebuilt = (model.digest(Week.parse(label), **limits) for model in models)
    assert live == rebuilt
    return live


def _figures(item: object) -> tuple[tuple[int, int], tuple[int, int]]:
    before, after = item.before, item.after  # type: ignore[attr-defined]
    return (before.ship, before.skip), (after.ship, after.skip)


def test_a_week_lists_its_new_comparisons_from_its_first_instant(
    models: list[ReadModel],
) -> None:
    digest = _digests(models, "2026-W48")
    assert (digest.week, digest.start, digest.end) == ("2026-W48", W48, W49)
    assert digest.complete
    [published] = digest.comparisons
    assert (published.a, published.b) == ("beta", "gamma")
    assert (published.a_name, published.b_name) == ("Beta", HOSTILE)
    assert published.question == "Beta or <the other>?"
    assert published.published_at == W48


def test_a_comparison_in_the_last_microsecond_belongs_to_the_week_before(
    models: list[ReadModel],
) -> None:
    before = _digests(models, "2026-W47")
    assert [(c.a, c.b) for c in before.comparisons] == [("alpha", "beta")]
    assert before.comparisons[0].published_at == W48 - timedelta(microseconds=1)
    after = _digests(models, "2026-W49")
    assert [(c.a, c.b) for c in after.comparisons] == [("alpha", "gamma")]


def test_changed_verdicts_have_their_figures_before_and_after_the_week(
    models: list[ReadModel],
) -> None:
    digest = _digests(models, "2026-W48")
    # A verdict appearing moves 100 points and comes first; alpha's moves 50.
    assert [item.tool for item in digest.verdicts] == ["beta", "gamma", "alpha"]
    beta, gamma, alpha = digest.verdicts
    assert _figures(beta) == ((0, 0), (0, 1))  # bob's skip in the last microsecond
    assert _figures(gamma) == ((0, 0), (1, 0))
    assert gamma.name == HOSTILE
    assert _figures(alpha) == ((2, 0), (1, 1))
    assert (alpha.before.ship_pct, alpha.after.ship_pct) == (100.0, 50.0)
    # The week before saw alpha's first two reviews, and nothing else's.
    [first] = _digests(models, "2026-W47").verdicts
    assert (first.tool, _figures(first)) == ("alpha", ((0, 0), (2, 0)))
    # cy's review of beta in W49's first microsecond is W49's alone.
    [later] = _digests(models, "2026-W49").verdicts
    assert (later.tool, _figures(later)) == ("beta", ((0, 1), (0, 2)))


def test_the_biggest_community_swings_come_first_and_new_tools_do_not_swing(
    models: list[ReadModel],
) -> None:
    digest = _digests(models, "2026-W48")
    swings = [(item.tool, item.swing, item.votes) for item in digest.swings]
    # alpha 100% to 40%; beta 60% to 80% on five votes before gamma's one.
    assert swings == [("alpha", -60.0, 3), ("beta", 20.0, 5), ("gamma", -20.0, 1)]
    alpha = digest.swings[0]
    assert (
        (alpha.before.ship, alpha.before.skip),
        (alpha.after.ship, alpha.after.skip),
    ) == ((5, 0), (2, 3))
    # W47's votes are every tool's first: nothing to swing from.
    assert _digests(models, "2026-W47").swings == []


def test_the_lists_keep_to_their_limits_and_count_the_rest(
    models: list[ReadModel],
) -> None:
    digest = _digests(models, "2026-W48", swings=1, verdicts=2, comparisons=1)
    assert [item.tool for item in digest.swings] == ["alpha"]
    assert [item.tool for item in digest.verdicts] == ["beta", "gamma"]
    assert digest.more_verdicts == 1
    assert (len(digest.comparisons), digest.more_comparisons) == (1, 0)


def test_a_week_without_events_is_quiet(models: list[ReadModel]) -> None:
    quiet = _digests(models, "2026-W46")
    assert quiet.quiet
    assert (quiet.comparisons, quiet.verdicts, quiet.swings) == ([], [], [])
    assert not _digests(models, "2026-W48").quiet


def test_the_running_week_is_not_complete(models: list[ReadModel]) -> None:
    week = Week.parse("2026-W49")
    running = models[0].digest(week, now=W49 + timedelta(days=1))
    assert not running.complete
    assert models[0].digest(week, now=W49 + timedelta(days=7)).complete


@pytest.mark.parametrize(
    "text", ["2026-W54", "2026-48", "2026-W00", "2025-W53", "26-W48", "2026-w48", ""]
)
def test_a_week_that_is_not_an_iso_week_is_refused(text: str) -> None:
    with pytest.raises(errors.InvalidWeek):
        Week.parse(text)


def test_a_week_runs_monday_to_monday_in_utc() -> None:
    week = Week.parse("2026-W01")
    assert week.start.isoformat() == "2025-12-29T00:00:00+00:00"
    assert week.end.isoformat() == "2026-01-05T00:00:00+00:00"
    assert week.previous().label == "2025-W52"
    assert Week.parse("2026-W53").next().label == "2027-W01"
    assert Week.containing(W48 - timedelta(microseconds=1)).label == "2026-W47"
    assert Week.containing(W48).label == "2026-W48"
    assert Week.last_complete(W49).label == "2026-W48"
    assert Week.last_complete(W49 - timedelta(microseconds=1)).label == "2026-W47"
    assert Week.parse("2026-W48").span == "23\u201329 November 2026"
