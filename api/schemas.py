"""Request and response bodies of the JSON API.

These are the wire format, kept apart from the ledger's event classes and
the read models' rows so that either side can change without the other. The
constraints mirror :mod:`ledger.rules` so OpenAPI tells clients the limits;
the ledger still enforces its rules itself, whatever arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from ledger import rules
from projections.models import (
    AuditItem,
    Card,
    Change,
    ComparisonSummary,
    HistoryBucket,
    HistoryItem,
    PanelMember,
    Point,
    ReviewItem,
)

Slug = Annotated[
    str,
    Meta(
        pattern=rules.SLUG.pattern,
        max_length=64,
        description="1-64 lowercase letters, digits or inner hyphens",
        examples=["code-llama-4"],
    ),
]
NOT_BLANK = {"extra": {"pattern": rules.NOT_BLANK}}
"""Documents that a required text must not be blank, for ``extra_json_schema``.

The ledger refuses a blank one with a problem that names the field, so the
schema states the rule rather than enforcing it first with a bare regex."""
Name = Annotated[
    str, Meta(min_length=1, max_length=rules.MAX_NAME, extra_json_schema=NOT_BLANK)
]
ShortText = Annotated[str, Meta(max_length=rules.MAX_NAME)]
Tagline = Annotated[str, Meta(max_length=rules.TOOL_FIELD_LIMITS["tagline"])]
LongText = Annotated[str, Meta(max_length=rules.MAX_TEXT)]
Rationale = Annotated[
    str,
    Meta(min_length=1, max_length=rules.MAX_RATIONALE, extra_json_schema=NOT_BLANK),
]
Reason = Annotated[
    str,
    Meta(
        max_length=rules.MAX_REASON,
        description="Why; needed for revisions, withdrawals, verdict-affecting edits",
    ),
]
RequiredReason = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=rules.MAX_REASON,
        pattern=rules.NOT_BLANK,
        description="Why, as the log will keep it: not blank, at most "
        f"{rules.MAX_REASON} characters",
        examples=["superseded by its successor"],
    ),
]
Verdict = Literal["ship", "skip"]
Lens = Literal["builder", "skeptic", "futurist", "buyer"]


class ToolCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/tools``: a new tool as an editor describes it."""

    slug: Slug
    name: Name
    vendor: Name
    category: Name
    tagline: Tagline = ""
    description: LongText = ""
    entry: ShortText = ""
    license: ShortText = ""

    def fields(self) -> dict[str, str]:
        """The tool fields, without the slug."""
        return {name: getattr(self, name) for name in rules.TOOL_FIELDS}


class ToolUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """``PATCH /api/tools/{slug}``: only the fields present change."""

    name: Name | UnsetType = UNSET
    vendor: Name | UnsetType = UNSET
    category: Name | UnsetType = UNSET
    tagline: Tagline | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    entry: ShortText | UnsetType = UNSET
    license: ShortText | UnsetType = UNSET
    reason: Reason = ""

    def changes(self) -> dict[str, str]:
        """The fields the client sent, by name."""
        found = {name: getattr(self, name) for name in rules.TOOL_FIELDS}
        return {name: value for name, value in found.items() if value is not UNSET}


class ReviewerCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/reviewers``: enroll a panel reviewer."""

    handle: Slug
    name: Name
    lens: Lens


class ReviewerUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """``PATCH /api/reviewers/{handle}``: a new name and/or lens, with why."""

    reason: RequiredReason
    name: Name | UnsetType = UNSET
    lens: Lens | UnsetType = UNSET

    def changes(self) -> dict[str, str]:
        """The profile fields the client sent, by name."""
        found = {name: getattr(self, name) for name in rules.REVIEWER_FIELDS}
        return {name: value for name, value in found.items() if value is not UNSET}


class ComparisonUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """``PATCH /api/comparisons/{a}/{b}``: a new question, with why."""

    question: Name
    reason: RequiredReason


class RetireOrReinstate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST …/retire`` and ``…/reinstate``: why, for the log to keep."""

    reason: RequiredReason


class ReviewPut(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT /api/tools/{slug}/reviews/{handle}``: the reviewer's verdict."""

    verdict: Verdict
    rationale: Rationale
    reason: Reason = ""


class ComparisonCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/comparisons``: a head-to-head of two registered tools."""

    a: Slug
    b: Slug
    question: Name


class ToolVote(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT /api/tools/{slug}/vote``: a community ship/skip vote."""

    choice: Verdict


class ComparisonVote(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT /api/comparisons/{a}/{b}/vote``: the side a voter picks."""

    pick: Slug


class WriteReceipt(msgspec.Struct):
    """What every write answers: the aggregate's new version and the log position.

    Pass ``position`` as ``min_position`` on a read to see this write.
    """

    version: int
    position: int


class VoterToken(msgspec.Struct):
    """An anonymous voter token, shown once."""

    token: str


NextLink = Annotated[
    str | None,
    Meta(description="The link to the next page; null on the last page"),
]


class ToolList(msgspec.Struct):
    """``GET /api/tools``: a page of the tools' current cards, as registered."""

    items: list[Card]
    next: NextLink = None


class ReviewerList(msgspec.Struct):
    """``GET /api/reviewers``: a page of the active panel, in the order enrolled."""

    items: list[PanelMember]
    next: NextLink = None


class ReviewList(msgspec.Struct):
    """``GET /api/tools/{slug}/reviews``: a page of the current reviews."""

    items: list[ReviewItem]
    next: NextLink = None


class HistoryList(msgspec.Struct, tag="events", tag_field="summary"):
    """``GET /api/tools/{slug}/history``: a page of the events that moved the card."""

    items: list[HistoryItem]
    next: NextLink = None


class BucketList(msgspec.Struct, tag="buckets", tag_field="summary"):
    """``GET /api/tools/{slug}/history?bucket=…``: a page of the history by bucket."""

    bucket: Literal["day", "week", "month"]
    items: list[HistoryBucket]
    next: NextLink = None


class ToolDiff(msgspec.Struct, kw_only=True):
    """``GET /api/tools/{slug}/diff``: the card at two points, the changes between.

    ``events`` is a page of the events after ``from`` up to and including
    ``to`` that changed the card, oldest first; ``next`` links to the next
    page, with ``to`` pinned to the position this page stands at.
    """

    tool: str
    start: Point = msgspec.field(name="from")
    end: Point = msgspec.field(name="to")
    events: list[Change]
    next: NextLink = None


class Evidence(msgspec.Struct, omit_defaults=True):
    """One event a figure of the card counts now, and where to prove it is logged.

    ``reviewer`` is given for the panel's figures only; ``actor`` is what the
    log stores (a voter's is a keyed hash, never an identity).
    """

    position: int
    at: datetime
    type: str
    actor: str
    proof: Annotated[
        str,
        Meta(
            description="Where the event's RFC 9162 inclusion proof is answered: "
            "/api/events/{position}/proof (in the newest checkpoint's tree; "
            "size= names another)"
        ),
    ]
    reviewer: str | None = None


class FigureSources(msgspec.Struct):
    """The events behind one figure: ``count`` of them (the card's figure), paged.

    ``items`` is the first page; ``next`` links to the figure's own list
    (``/api/tools/{slug}/provenance/{side}/{choice}``) for the rest.
    """

    count: int
    items: list[Evidence]
    next: NextLink = None


class SideSources(msgspec.Struct):
    """A side's two figures (the panel's or the community's): ship and skip."""

    ship: FigureSources
    skip: FigureSources


class ToolProvenance(msgspec.Struct):
    """``GET /api/tools/{slug}/provenance``: the events behind each figure.

    Everything is read at ``position``, where each figure's ``count`` is the
    card's: the panel's are live reviews (their latest event), the
    community's current votes (the event that set each one's choice).
    """

    tool: str
    position: int
    panel: SideSources
    community: SideSources


class EvidenceList(msgspec.Struct):
    """``GET /api/tools/{slug}/provenance/{side}/{choice}``: one figure's events."""

    items: list[Evidence]
    next: NextLink = None


class EventList(msgspec.Struct):
    """``GET /api/events``: a page of the audit log, oldest first."""

    items: list[AuditItem]
    next: Annotated[
        int | None,
        Meta(description="The after of the next page; null on the last page"),
    ] = None


class ComparisonList(msgspec.Struct):
    """``GET /api/comparisons``: a page of the published comparisons."""

    items: list[ComparisonSummary]
    next: NextLink = None


class Health(msgspec.Struct):
    """Liveness and how far this node's read model trails the log.

    ``storage-unavailable`` when the log's head cannot be read just now:
    ``head`` and ``lag`` are then null, ``projected`` what the read models
    last reflected.
    """

    status: Literal["ok", "lagging", "storage-unavailable"]
    head: int | None
    projected: int
    lag: int | None


class Liveness(msgspec.Struct):
    """``/healthz/live``: the process answers."""

    status: Literal["alive"]


class Readiness(msgspec.Struct):
    """``/healthz/ready`` when the node is ready: what each check found."""

    status: Literal["ready"]
    checks: dict[str, str]
