"""A figure's ``provisional`` follows from its count, however the figure is made."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.models import PROVISIONAL_BELOW, Figures, HeadToHead
from projections.stats import card_figures, figures


@pytest.mark.parametrize(
    ("ship", "skip", "provisional"),
    [
        (0, 0, False),
        (1, 0, True),
        (0, 1, True),
        (3, 1, True),
        (4, 1, False),
        (50, 50, False),
    ],
)
def test_fewer_than_five_is_provisional(
    ship: int, skip: int, provisional: bool
) -> None:
    assert figures(ship, skip).provisional is provisional
    both = card_figures(ship, skip, skip, ship)
    assert both.panel.provisional is both.community.provisional is provisional


@given(st.integers(0, 20), st.integers(0, 20), st.booleans())
def test_no_figures_disagree_with_their_count(
    ship: int, skip: int, claimed: bool
) -> None:
    total = ship + skip
    expected = 0 < total < PROVISIONAL_BELOW
    # Built from stored columns, decoded from JSON, converted: always derived.
    stored = Figures(ship, skip, total, None, None, None, claimed)
    raw = msgspec.json.encode({"ship": ship, "total": total, "provisional": claimed})
    decoded = msgspec.json.decode(raw, type=Figures)
    converted = msgspec.convert({"total": total, "provisional": claimed}, Figures)
    tally = HeadToHead(a=ship, b=skip, total=total, provisional=claimed)
    for each in (stored, decoded, converted, tally):
        assert each.provisional is expected
