"""Ship shares and their 95% Wilson intervals, as the cards show them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.stats import figures, wilson


@pytest.mark.parametrize(
    ("ship", "skip", "expected"),
    [
        (4, 0, (100.0, 51.0, 100.0)),
        (3, 1, (75.0, 30.1, 95.4)),
        (0, 4, (0.0, 0.0, 49.0)),
        (1, 0, (100.0, 20.7, 100.0)),
        (50, 50, (50.0, 40.4, 59.6)),
    ],
)
def test_known_intervals(ship: int, skip: int, expected: tuple[float, ...]) -> None:
    result = figures(ship, skip)
    assert (result.ship_pct, result.low, result.high) == expected
    assert (result.ship, result.skip, result.total) == (ship, skip, ship + skip)


def test_nothing_to_show_while_nobody_voted() -> None:
    result = figures(0, 0)
    assert (result.total, result.ship_pct, result.low, result.high) == (
        0,
        None,
        None,
        None,
    )
    with pytest.raises(ValueError, match="total > 0"):
        wilson(0, 0)


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_the_interval_holds_the_share_within_bounds(ship: int, skip: int) -> None:
    result = figures(ship, skip)
    if ship + skip == 0:
        return
    assert result.low is not None
    assert result.high is not None
    assert result.ship_pct is not None
    assert 0.0 <= result.low <= result.ship_pct <= result.high <= 100.0
    if ship + skip <= 1000:  # beyond, one decimal may round the width away
        assert result.high > result.low
