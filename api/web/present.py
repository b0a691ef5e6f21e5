"""How the pages and the feed print figures, times and verdicts.

One place decides that a share prints as a whole percent ("75%") and an empty
one as "—", so the comparison page, the tool page, the feed titles and the
page script (which mirrors :func:`pct`) always agree; and that the panel's
reviews come lens by lens in the seed page's order. :data:`FILTERS` hands
these to the templates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from projections.models import (
    PROVISIONAL_BELOW,
    Figures,
    HistoryBucket,
    HistoryItem,
    Point,
    ReviewItem,
)

NO_SHARE = "—"
EN_DASH = "\u2013"

# The seed page's order of the panel; any other lens sorts after these.
LENS_ORDER = ("builder", "skeptic", "futurist", "buyer")


def pct(value: float | None) -> str:
    """A 0-100 share as a whole percent, rounding halves up; "—" when unknown.

    Halves round up (not to even) so that 62.5 prints as 63% here and in the
    page script's ``Math.round``.
    """
    if value is None:
        return NO_SHARE
    return f"{math.floor(value + 0.5)}%"


def span(low: float, high: float) -> str:
    """An interval as 51, an en dash, then 100%: one percent sign for the pair."""
    return f"{pct(low).rstrip('%')}{EN_DASH}{pct(high)}"


def votes(count: int, noun: str = "vote") -> str:
    """ "1 vote", "3 votes"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def interval(figures: Figures, noun: str = "vote") -> str:
    """The Wilson interval behind a share, in words, for a tooltip or small print.

    A share from four votes and one from four thousand print alike; the
    interval is what tells them apart.
    """
    if figures.total == 0 or figures.low is None or figures.high is None:
        return f"no {noun}s yet"
    return (
        f"{votes(figures.total, noun)}; 95% interval {span(figures.low, figures.high)}"
    )


def counted(figures: Figures, noun: str = "vote") -> str:
    """The small print under a share: "4 verdicts", or "no votes yet"."""
    return votes(figures.total, noun) if figures.total else f"no {noun}s yet"


def spread(figures: Figures) -> str:
    """The share's 95% interval as :func:`span` prints it; empty while no share.

    The page script writes the same strings after a vote, so keep them in step.
    """
    if figures.total == 0 or figures.low is None or figures.high is None:
        return ""
    return span(figures.low, figures.high)


def provisional(counted: str = "votes") -> str:
    """Why a share or tally is marked provisional: its mark's tooltip or footnote.

    ``counted`` names what it counts, plural ("verdicts", "picks"). The mark
    is always on the page, hidden while the figure is not provisional, so the
    page script only shows or hides it after a vote.
    """
    return (
        f"Provisional: fewer than {PROVISIONAL_BELOW} {counted} counted, "
        "too few to go by yet"
    )


def _shares(item: HistoryItem | HistoryBucket | Point) -> tuple[Figures, ...]:
    if isinstance(item, HistoryItem):
        before, after = item.before, item.after
        return (before.panel, before.community, after.panel, after.community)
    if isinstance(item, Point):
        card = item.card
        return () if card is None else (card.panel, card.community)
    return (item.panel, item.community)


def any_provisional(
    items: list[HistoryItem] | list[HistoryBucket] | list[Point],
) -> bool:
    """Whether a table of these rows marks any share provisional.

    A table prints its footnote on the mark only when a row carries one.
    """
    return any(figures.provisional for item in items for figures in _shares(item))


def when(moment: datetime | None) -> str:
    """A UTC time as "2025-06-01 14:03 UTC": exact, sortable, zone stated."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime) -> str:
    """A time for ``<time datetime>`` and Atom: RFC 3339 with an explicit zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def clip(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters cut at a word and "…".

    Keeps a page's size bounded by how many items it lists, whatever
    someone wrote in them: pages show the first 1,200 characters of a
    rationale and 200 of a reason; the API answers the whole text.
    """
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def bucket_label(bucket: HistoryBucket, size: str) -> str:
    """ "2026-03-02", "week of 2026-03-02", "2026-03": a bucket as a reader says it."""
    if size == "week":
        return f"week of {bucket.start.isoformat()}"
    if size == "month":
        return bucket.start.strftime("%Y-%m")
    return bucket.start.isoformat()


def lens_key(lens: str) -> tuple[int, str]:
    """Sorts lenses in the seed page's order, unknown lenses last by name."""
    try:
        return (LENS_ORDER.index(lens), lens)
    except ValueError:
        return (len(LENS_ORDER), lens)


def change(before: float | None, after: float | None) -> str:
    """ "75% → 100%"; a single figure when nothing moved."""
    if pct(before) == pct(after):
        return pct(after)
    return f"{pct(before)} → {pct(after)}"


def event_label(event_type: str) -> str:
    """ "Review.Revised" → "Review revised": event types as a reader says them."""
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", event_type)
    if not words:
        return event_type
    return " ".join([words[0], *(word.lower() for word in words[1:])])


@dataclass(frozen=True)
class LensRow:
    """One lens of the reviewer scorecard: a reviewer's reviews of both tools."""

    reviewer: str
    lens: str
    a: ReviewItem | None
    b: ReviewItem | None


def scorecard(a: list[ReviewItem], b: list[ReviewItem]) -> list[LensRow]:
    """Pairs two tools' reviews by reviewer, in the seed page's lens order."""
    by_reviewer_a = {item.reviewer: item for item in a}
    by_reviewer_b = {item.reviewer: item for item in b}
    lenses = {item.reviewer: item.lens for item in (*a, *b)}
    rows = [
        LensRow(
            reviewer, lens, by_reviewer_a.get(reviewer), by_reviewer_b.get(reviewer)
        )
        for reviewer, lens in lenses.items()
    ]
    return sorted(rows, key=lambda row: (lens_key(row.lens), row.reviewer))


def by_lens(reviews: list[ReviewItem]) -> list[ReviewItem]:
    """A tool's reviews in the seed page's lens order."""
    return sorted(reviews, key=lambda item: (lens_key(item.lens), item.reviewer))


FILTERS: dict[str, Callable[..., Any]] = {
    "pct": pct,
    "interval": interval,
    "counted": counted,
    "spread": spread,
    "votes": votes,
    "when": when,
    "iso": iso,
    "event": event_label,
    "change": change,
    "bucket": bucket_label,
    "clip": clip,
    "provisional": provisional,
    "any_provisional": any_provisional,
}
"""The Jinja filters the templates use, by the name they use."""
