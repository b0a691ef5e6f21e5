"""Ship shares and their 95% Wilson score intervals.

A panel of four is a tiny sample: "100%" from 4 of 4 says much less than from
400 of 400. The Wilson interval states that uncertainty honestly and, unlike
the normal approximation, never leaves 0-100 or collapses to a point at 0% or
100%, which is why the cards show it beside every ship share.
"""

from __future__ import annotations

from math import sqrt

from projections.models import CardFigures, Figures

Z95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal distribution."""


def wilson(ship: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``ship`` successes in ``total`` trials.

    Returns:
        ``(low, high)`` as fractions in 0-1.

    Raises:
        ValueError: If ``total`` is not positive or ``ship`` is outside 0..total.
    """
    if total <= 0 or not 0 <= ship <= total:
        msg = f"need 0 <= ship <= total and total > 0, got {ship} of {total}"
        raise ValueError(msg)
    p = ship / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z * sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percent(fraction: float) -> float:
    """A fraction as a percentage rounded to one decimal, as the cards show it."""
    return round(fraction * 100, 1)


def figures(ship: int, skip: int) -> Figures:
    """The figures of a ship/skip tally; share and interval are None at zero."""
    total = ship + skip
    if total == 0:
        return Figures(ship=ship, skip=skip, total=0)
    low, high = wilson(ship, total)
    return Figures(
        ship=ship,
        skip=skip,
        total=total,
        ship_pct=percent(ship / total),
        low=percent(low),
        high=percent(high),
    )


def figure_columns(
    ship: int, skip: int
) -> tuple[int, int, int, float | None, float | None, float | None]:
    """The six stored columns of a tally: ship, skip, total, ship %, low, high."""
    f = figures(ship, skip)
    return f.ship, f.skip, f.total, f.ship_pct, f.low, f.high


def card_figures(
    panel_ship: int, panel_skip: int, community_ship: int, community_skip: int
) -> CardFigures:
    """Both figure sets of a card from the four counts they derive from."""
    return CardFigures(
        panel=figures(panel_ship, panel_skip),
        community=figures(community_ship, community_skip),
    )
