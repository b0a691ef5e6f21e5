"""The read models' shapes, as msgspec Structs returned by the query layer.

These are the read side's own types: ``api`` serialises them, and they are
kept apart from the event classes so either can change on its own.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

PROVISIONAL_BELOW = 5
"""A share or tally counted from fewer verdicts, votes or picks than this
(and at least one) is provisional: too few to go by yet, whatever it says
(4 of 4 is "100%", with a 95% interval of 51-100%)."""


def is_provisional(total: int) -> bool:
    """Whether a figure counted from ``total`` verdicts, votes or picks is provisional.

    Nothing counted is not provisional: there is no share yet to qualify.
    """
    return 0 < total < PROVISIONAL_BELOW


Provisional = Annotated[
    bool,
    Meta(
        description=f"True while fewer than {PROVISIONAL_BELOW} (and at least one) "
        "are counted: too few to go by yet; derived from total"
    ),
]


class Figures(msgspec.Struct, frozen=True):
    """Ship/skip counts with the ship share and its 95% Wilson interval.

    ``ship_pct``, ``low`` and ``high`` are percentages in 0-100, and None
    while ``total`` is 0 (the page's "—"). ``provisional`` always follows
    from ``total`` (:func:`is_provisional`), however the figures were made
    or decoded, so no answer can carry one that disagrees with its count.
    """

    ship: int = 0
    skip: int = 0
    total: int = 0
    ship_pct: float | None = None
    low: float | None = None
    high: float | None = None
    provisional: Provisional = False

    def __post_init__(self) -> None:
        force_setattr(self, "provisional", is_provisional(self.total))


class CardFigures(msgspec.Struct, frozen=True):
    """The two figure sets of a card: the panel's and the community's."""

    panel: Figures
    community: Figures


class Retirement(msgspec.Struct, frozen=True):
    """Since when and why a tool, comparison or reviewer is retired.

    ``position`` is the log position of the retiring event, ``reason`` the
    reason it records.
    """

    at: datetime
    position: int
    reason: str


class Card(msgspec.Struct, frozen=True):
    """A tool's scorecard as it stands at ``position``.

    A retired tool's card stays readable; ``retirement`` says since when and
    why (None while the tool is active).
    """

    slug: str
    name: str
    vendor: str
    category: str
    tagline: str
    description: str
    entry: str
    license: str
    panel: Figures
    community: Figures
    version: int
    position: int
    updated_at: datetime
    retired: bool = False
    retirement: Retirement | None = None


class ReviewItem(msgspec.Struct, frozen=True):
    """A reviewer's current review of a tool; ``revision`` counts revisions."""

    reviewer: str
    lens: str
    verdict: str
    rationale: str
    revision: int
    submitted_at: datetime
    revised_at: datetime | None
    withdrawn: bool


class HistoryItem(msgspec.Struct, frozen=True):
    """One event that changed a tool's card, with the figures around it.

    ``kind`` says what changed it: ``panel`` (a review), ``community`` (a
    vote) or ``edit`` (the tool's registration, an edit, retirement or
    reinstatement).
    """

    position: int
    at: datetime
    type: str
    kind: str
    actor: str
    reason: str
    before: CardFigures
    after: CardFigures


class Change(HistoryItem, frozen=True):
    """One event of a diff: a history item, and the tool fields an edit set.

    ``changes`` holds the fields a ``Tool.Edited`` set, by name, with their
    new values (the cards at both ends of a diff show the rest); None for
    every other event.
    """

    changes: dict[str, str] | None = None


class Point(msgspec.Struct, frozen=True):
    """A tool's card as it stood right after the event at ``position``.

    ``at`` is that event's time (None at position 0, before the log began);
    ``card`` is None while the tool was not registered yet.
    """

    position: int
    at: datetime | None
    card: Card | None


class Source(msgspec.Struct, frozen=True, omit_defaults=True):
    """An event that one figure of a card counts now: where it is in the log.

    For the panel, the latest event of a live review (it states the verdict
    counted), with its ``reviewer``; for the community, the event that left
    a vote at the choice counted. ``actor`` is the one the log stores, never a
    person's identity (a voter's is a keyed hash).
    """

    position: int
    at: datetime
    type: str
    actor: str
    reviewer: str | None = None


class HistoryBucket(msgspec.Struct, frozen=True):
    """A day, week or month of a tool's verdict history, summarised.

    The figures are the card's at the end of the bucket (after its last
    change, at ``position``); ``changes`` counts the events that changed the
    card within it, ``votes`` those of them that were community votes.
    ``start`` is the bucket's first UTC day, ``end`` the day after its last.
    """

    start: date
    end: date
    changes: int
    votes: int
    position: int
    panel: Figures
    community: Figures


class SplitItem(msgspec.Struct, frozen=True):
    """One reviewer's verdicts on both tools of a comparison (None: no review)."""

    reviewer: str
    lens: str
    a: str | None
    b: str | None


class HeadToHead(msgspec.Struct, frozen=True):
    """Community picks in a head-to-head; ``provisional`` as for :class:`Figures`."""

    a: int = 0
    b: int = 0
    total: int = 0
    provisional: Provisional = False

    def __post_init__(self) -> None:
        force_setattr(self, "provisional", is_provisional(self.total))


class ComparisonSummary(msgspec.Struct, frozen=True):
    """A published comparison as listed on the index."""

    a: str
    b: str
    question: str
    retired: bool = False


class ComparisonView(msgspec.Struct, frozen=True):
    """A comparison page's data: both cards, the reviewer split, the tally.

    A retired comparison stays readable; ``retirement`` says since when and
    why (None while it is live).
    """

    question: str
    a: Card
    b: Card
    split: list[SplitItem]
    head_to_head: HeadToHead
    retired: bool = False
    retirement: Retirement | None = None


class PanelMember(msgspec.Struct, frozen=True):
    """A reviewer of the panel: who, through which lens, and whether retired.

    ``version`` is what ``If-Match`` names when editing the reviewer;
    ``position`` and ``updated_at`` are those of the reviewer's latest event.
    """

    handle: str
    name: str
    lens: str
    version: int
    position: int
    updated_at: datetime
    retired: bool = False
    retirement: Retirement | None = None


class AuditItem(msgspec.Struct, frozen=True):
    """One event of the audit index; ``request_id`` correlates one request's events."""

    position: int
    at: datetime
    type: str
    aggregate_id: UUID
    version: int
    actor: str
    reason: str
    data: dict[str, Any]
    request_id: str = ""


T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], frozen=True):
    """A page of a list, in the list's order.

    ``next`` is where the following page starts (a log position or a day,
    as the list is ordered), or None when this page reached the end.
    """

    items: list[T]
    next: int | str | None = None


class Diff(msgspec.Struct, frozen=True):
    """What changed on a tool's card from one point of the log to another.

    The card at each end, and a page of the events between them that
    changed it (after ``start``, up to and including ``end``), oldest first.
    """

    tool: str
    start: Point
    end: Point
    events: Page[Change]


SIDES = ("panel", "community")
CHOICES = ("ship", "skip")
"""A card's four figures are each side's count of each choice."""


class Provenance(msgspec.Struct, frozen=True):
    """Where a card's four figures come from, all read at ``position``.

    ``sources[side, choice]`` is the first page of the events that figure
    counts, in log order; there are as many in all as the card's figure.
    """

    position: int
    card: Card
    sources: dict[tuple[str, str], Page[Source]]


class Lag(msgspec.Struct, frozen=True):
    """How far a read model trails the log."""

    head: int
    projected: int
    lag: int
