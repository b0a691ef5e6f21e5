"""What each problem ``type`` means: the pages behind ``/problems/{kind}``.

RFC 9457 asks that a problem's ``type`` URI, when dereferenced, explain the
kind of problem to a person. The catalogue is derived, not written twice:
the ledger's refusals are described by their error classes' docstrings, the
HTTP-level problems by their status, and only the API's own kinds are
described here.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from http import HTTPStatus

from ledger import errors


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem, as its page describes it."""

    kind: str
    title: str
    status: int
    description: str


API_KINDS: dict[str, tuple[int, str]] = {
    "validation-failed": (422, "A field of the request is missing or malformed."),
    "malformed-body": (400, "The request body is not valid JSON."),
    "invalid-token-request": (422, "A token cannot be issued as asked."),
    "invalid-if-match": (
        400,
        "If-Match takes the version to expect, bare or as the card's ETag.",
    ),
    "invalid-idempotency-key": (422, "An Idempotency-Key is 1-255 visible characters."),
    "idempotency-key-reused": (
        422,
        "The Idempotency-Key was already used for a different request body.",
    ),
    "idempotency-key-in-flight": (
        409,
        "A request with this Idempotency-Key is still being handled; retry shortly.",
    ),
    "invalid-last-event-id": (400, "Last-Event-ID is a log position: a whole number."),
    "position-beyond-log": (
        422,
        "min_position names a position the log has not reached; it never will "
        "by waiting.",
    ),
    "projection-behind": (
        503,
        "The read models have not reached min_position within the wait; retry "
        "after Retry-After seconds.",
    ),
    "scorecard-needs-one-point": (
        422,
        "A past scorecard is asked for with exactly one of as_of or position.",
    ),
    "too-many-voter-tokens": (
        429,
        "This address asked for too many voter tokens; retry after Retry-After.",
    ),
    "unknown-event-type": (422, "The type filter names no event type of the log."),
    "internal-error": (500, "The server failed; the request id is in its logs."),
}


def kebab(name: str) -> str:
    """``ToolNotFound`` → ``tool-not-found``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def title(kind: str) -> str:
    """``tool-not-found`` → ``Tool not found``."""
    return kind.replace("-", " ").capitalize()


def http_kind(phrase: str) -> str:
    """The kind of an HTTP-level problem: ``Not Found`` → ``not-found``."""
    return kebab(phrase.replace(" ", ""))


def domain_status(error_class: type[errors.LedgerError]) -> int:
    """The HTTP status of a ledger refusal, from its base class."""
    # StaleVersion is only raised when a client sent If-Match, so 412 fits.
    if issubclass(error_class, errors.StaleVersion):
        return 412
    if issubclass(error_class, errors.NotFound):
        return 404
    if issubclass(error_class, errors.Conflict):
        return 409
    return 422


def _ledger_errors() -> list[type[errors.LedgerError]]:
    found: list[type[errors.LedgerError]] = []
    pending = [errors.LedgerError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _catalogue() -> dict[str, ProblemType]:
    catalogue: dict[str, ProblemType] = {}
    for http in HTTPStatus:
        if http >= 400:
            kind = http_kind(http.phrase)
            catalogue[kind] = ProblemType(
                kind, http.phrase, int(http), http.description + "."
            )
    for kind, (status, description) in API_KINDS.items():
        catalogue[kind] = ProblemType(kind, title(kind), status, description)
    for cls in _ledger_errors():
        kind = kebab(cls.__name__)
        description = inspect.getdoc(cls) or title(kind)
        catalogue[kind] = ProblemType(
            kind, title(kind), domain_status(cls), description
        )
    return catalogue


CATALOGUE = _catalogue()
"""Every problem kind the API answers with, by its ``type``'s last segment."""
