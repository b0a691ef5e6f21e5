"""Every kind of problem the API answers with, declared once.

A problem's ``type`` is ``/problems/<kind>``. :data:`KINDS` gives each kind its
HTTP status and the description a person reads: the exception handler takes a
problem's status from it, the OpenAPI document lists the kinds of each status
from it, and ``/problems/<kind>`` renders it, so the three cannot disagree.

Three groups fill it. The API's own kinds are declared here. Each class of
:mod:`ledger.errors` is a kind named after it (``ToolNotFound`` →
``tool-not-found``), described by its docstring, with the status of its base
class, so a new refusal in the ledger needs no change here. The HTTP-level
kinds are the refusals Litestar makes before a handler runs.

Statuses follow RFC 9110: a header or body whose syntax is malformed is 400;
a well-formed request that breaks a rule is 422.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ledger import errors

TYPE_BASE = "/problems/"


@dataclass(frozen=True)
class ProblemKind:
    """One kind of problem: its name, HTTP status and what it means.

    Attributes:
        name: The last segment of the problem ``type``, e.g. ``tool-not-found``.
        status: The HTTP status every problem of this kind answers with.
        description: What the kind means and what to do about it.
    """

    name: str
    status: int
    description: str

    @property
    def type(self) -> str:
        """The problem ``type`` URI reference, which leads to its page."""
        return TYPE_BASE + self.name

    @property
    def title(self) -> str:
        """``tool-not-found`` → ``Tool not found``."""
        return self.name.replace("-", " ").capitalize()


OWN = (
    ProblemKind(
        "validation-failed",
        422,
        "A field, query parameter or header is missing, of the wrong type or "
        "out of bounds; the problem's errors member names each one.",
    ),
    ProblemKind("malformed-body", 400, "The request body is not valid JSON."),
    ProblemKind(
        "invalid-if-match",
        400,
        "If-Match takes the version the change is based on: bare (3), quoted "
        '("3") or as the card\'s ETag.',
    ),
    ProblemKind(
        "invalid-idempotency-key",
        400,
        "An Idempotency-Key is 1 to 255 characters.",
    ),
    ProblemKind(
        "idempotency-key-reused",
        422,
        "The Idempotency-Key was already used for a different request body; "
        "use a new key for a new request.",
    ),
    ProblemKind(
        "idempotency-key-in-flight",
        409,
        "A request with this Idempotency-Key is still being handled; retry "
        "after Retry-After seconds.",
    ),
    ProblemKind(
        "empty-time-range",
        422,
        "A time range's since must be before its until.",
    ),
    ProblemKind(
        "invalid-cursor",
        400,
        "A list's cursor is opaque: take it from the next link of a page of the "
        "same list, or leave it out for the first page.",
    ),
    ProblemKind(
        "invalid-last-event-id",
        400,
        "Last-Event-ID is a log position: a whole number.",
    ),
    ProblemKind(
        "position-beyond-log",
        422,
        "min_position (or position, or an event stream's Last-Event-ID or "
        "after) names a position the log has not reached; no wait would get "
        "there.",
    ),
    ProblemKind(
        "projection-behind",
        503,
        "The read models have not reached min_position within the wait; retry "
        "after Retry-After seconds.",
    ),
    ProblemKind(
        "scorecard-needs-one-point",
        422,
        "A past scorecard is asked for with exactly one of as_of or position.",
    ),
    ProblemKind(
        "invalid-point",
        400,
        "A point of the log (a diff's from or to) is a log position, a whole "
        "number, or an ISO-8601 date or time, naive meaning UTC.",
    ),
    ProblemKind(
        "from-after-to",
        422,
        "A diff's from must not come after its to.",
    ),
    ProblemKind(
        "too-many-voter-tokens",
        429,
        "This address asked for too many voter tokens; retry after Retry-After "
        "seconds.",
    ),
    ProblemKind(
        "too-many-subscription-requests",
        429,
        "This address asked for too many subscriptions "
        "(LEDGER_SUBSCRIBE_PER_WINDOW); retry after Retry-After seconds.",
    ),
    ProblemKind(
        "invalid-link",
        422,
        "The token of a mailed subscription link was altered, signed by another "
        "site, or (a confirmation link) is older than three days; subscribe "
        "again for a new link.",
    ),
    ProblemKind(
        "mail-unavailable",
        503,
        "The request was recorded, but the mail it sends could not be handed to "
        "the mail relay just now; send the same request again after Retry-After "
        "seconds.",
    ),
    ProblemKind(
        "too-many-streams",
        429,
        "This address already holds as many open event streams as a worker "
        "allows (LEDGER_STREAMS_PER_CLIENT); close one, or retry after "
        "Retry-After seconds.",
    ),
    ProblemKind(
        "streams-full",
        503,
        "This worker already serves as many event streams as it keeps room "
        "for (three quarters of LEDGER_CONNECTIONS_PER_WORKER); retry after "
        "Retry-After seconds.",
    ),
    ProblemKind(
        "body-timeout",
        408,
        "The request body did not arrive in full within LEDGER_BODY_TIMEOUT "
        "seconds of the server starting to read it; send the request again, "
        "body and all, on a new connection.",
    ),
    ProblemKind(
        "token-not-found",
        404,
        "No API token has that id (GET /api/tokens lists them).",
    ),
    ProblemKind(
        "token-already-revoked",
        409,
        "The token was revoked before; a revocation holds for good.",
    ),
    ProblemKind(
        "invalid-duration",
        422,
        "A token's expires_in is a whole number of minutes, hours or days (90m, "
        "12h, 30d), above zero and at most 3650d.",
    ),
    ProblemKind(
        "reviewer-token-mismatch",
        422,
        "A reviewer token names the reviewer handle it writes as, and only a "
        "reviewer token names one.",
    ),
    ProblemKind(
        "unknown-event-type",
        422,
        "The type filter names no event type of the log.",
    ),
    ProblemKind(
        "no-checkpoint",
        404,
        "No checkpoint of that tree size has been published, or none yet: a "
        "proof's size, from and to are tree sizes of published checkpoints "
        "(GET /api/checkpoints).",
    ),
    ProblemKind(
        "not-in-tree",
        422,
        "The event is not among the leaves of that tree: its position comes "
        "after them, or the log holds no event there.",
    ),
    ProblemKind(
        "bad-consistency-range",
        422,
        "A consistency proof goes from a smaller tree to a larger one: from "
        "must not be above to.",
    ),
    ProblemKind(
        "unsupported-media-type",
        415,
        "A request body is JSON: send it with 'Content-Type: application/json' "
        "(or another +json type).",
    ),
    ProblemKind(
        "body-too-deep",
        400,
        "The JSON body nests arrays and objects more than 32 deep; no request of "
        "this API needs more than a few.",
    ),
    ProblemKind(
        "storage-unavailable",
        503,
        "The ledger's storage could not take the request just now: its lock was "
        "held past the wait, its disk is full or read-only, or the event store is "
        "out of reach. Nothing was recorded; retry after Retry-After seconds.",
    ),
    ProblemKind(
        "not-ready",
        503,
        "This node cannot take writes just now (its storage cannot be written) "
        "or its read models are not open; the detail says which. Send traffic "
        "elsewhere, or retry after Retry-After seconds.",
    ),
    ProblemKind(
        "internal-error",
        500,
        "The server failed to handle the request; its request id finds it in "
        "the server's logs.",
    ),
)
"""The kinds the API raises itself (:class:`api.problem_details.ApiProblem`)."""

HTTP_LEVEL = (
    ProblemKind(
        "bad-request",
        400,
        "The request could not be understood, e.g. its Host header is not valid.",
    ),
    ProblemKind(
        "unauthorized",
        401,
        "This request needs 'Authorization: Bearer <token>' with a valid token.",
    ),
    ProblemKind(
        "forbidden",
        403,
        "The token is valid, but its role (or its reviewer) may not do this.",
    ),
    ProblemKind(
        "not-found",
        404,
        "There is nothing at this path, or the command names something the "
        "ledger has never recorded.",
    ),
    ProblemKind(
        "method-not-allowed",
        405,
        "This path does not take that method; the Allow header lists those it takes.",
    ),
    ProblemKind(
        "request-entity-too-large",
        413,
        "The request body is larger than this server accepts (LEDGER_MAX_BODY_BYTES).",
    ),
)
"""The refusals Litestar makes itself, by the status it makes them with."""

LEDGER_STATUS: tuple[tuple[type[errors.LedgerError], int], ...] = (
    # Only raised when the client sent If-Match, so the precondition failed.
    (errors.StaleVersion, 412),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.LedgerError, 422),
)
"""A ledger error's status: that of the first of these classes it is one of."""


def kebab(name: str) -> str:
    """``ToolNotFound`` → ``tool-not-found``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def ledger_errors() -> list[type[errors.LedgerError]]:
    """Every class of the ledger's error hierarchy, the base included."""
    found: list[type[errors.LedgerError]] = []
    pending = [errors.LedgerError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _ledger_kind(cls: type[errors.LedgerError]) -> ProblemKind:
    status = next(status for base, status in LEDGER_STATUS if issubclass(cls, base))
    name = kebab(cls.__name__)
    return ProblemKind(name, status, inspect.getdoc(cls) or name)


def _table(kinds: Iterable[ProblemKind]) -> dict[str, ProblemKind]:
    """Kinds by name. A name given twice must keep its status; the first wins.

    The HTTP-level kinds come first, so the ledger's ``NotFound`` is the
    ``not-found`` of an unknown path: the same status, one description.
    """
    table: dict[str, ProblemKind] = {}
    for kind in kinds:
        known = table.setdefault(kind.name, kind)
        if known.status != kind.status:
            msg = f"problem kind {kind.name!r} has two statuses"
            raise ValueError(msg)
    return table


KINDS = _table([*HTTP_LEVEL, *OWN, *map(_ledger_kind, ledger_errors())])
"""Every problem kind the API answers with, by name."""

BY_HTTP_STATUS = {kind.status: kind for kind in HTTP_LEVEL}
"""The HTTP-level kind of each status Litestar refuses a request with."""


def of_ledger_error(cls: type[errors.LedgerError]) -> ProblemKind:
    """The kind of a ledger error: its class's, or its nearest base's.

    A class defined after this module was imported has no entry of its own,
    so it answers as the kind of the base it refines.
    """
    for klass in cls.__mro__:
        found = KINDS.get(kebab(klass.__name__))
        if found is not None:
            return found
    return KINDS["internal-error"]
