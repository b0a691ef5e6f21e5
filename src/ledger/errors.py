"""The ledger's error hierarchy.

Every rule the domain enforces fails with one named error. The four base
classes say what kind of failure it is, which is all the HTTP layer needs to
choose a status: bad input, a missing thing, a clash with what is already
recorded, or a write that raced another.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""


class InvalidInput(LedgerError):
    """The command's arguments break a rule; nothing was appended."""


class NotFound(LedgerError):
    """The command names something the ledger has never recorded."""


class Conflict(LedgerError):
    """The command clashes with what the ledger already holds."""


class ConcurrencyConflict(Conflict):
    """Another writer got there first; reload and try again."""


class StaleVersion(ConcurrencyConflict):
    """The caller's expected version is not the aggregate's current version."""

    def __init__(self, what: str, expected: int, actual: int) -> None:
        super().__init__(
            f"{what} is at version {actual}, not the expected version {expected}"
        )
        self.expected = expected
        self.actual = actual


# Bad input.
class InvalidSlug(InvalidInput):
    """Slugs and handles are lowercase, URL-safe and bounded."""


class InvalidField(InvalidInput):
    """A text field is missing, too long, or not one the aggregate has."""


class InvalidVerdict(InvalidInput):
    """A verdict is ``ship`` or ``skip``."""


class InvalidRationale(InvalidInput):
    """A rationale is non-empty and bounded."""


class InvalidLens(InvalidInput):
    """A reviewer's lens is one of the panel's lenses."""


class InvalidChoice(InvalidInput):
    """A vote is ``ship``/``skip`` on a tool, or one of the two compared tools."""


class ReasonRequired(InvalidInput):
    """Revisions, withdrawals and verdict-affecting edits must say why."""


class NothingChanged(InvalidInput):
    """A revision or edit must change something."""


class SameTool(InvalidInput):
    """A comparison needs two distinct tools."""


# Missing things.
class ToolNotFound(NotFound):
    """No tool is registered under that slug."""


class ReviewerNotFound(NotFound):
    """No reviewer is enrolled under that handle."""


class ReviewNotFound(NotFound):
    """That reviewer has never reviewed that tool."""


class VoteNotFound(NotFound):
    """That voter has no vote on that subject."""


class ComparisonNotFound(NotFound):
    """No comparison of those two tools is published."""


# Clashes with recorded state.
class AlreadyExists(Conflict):
    """The natural key is taken; the event store refuses a duplicate."""


class ToolAlreadyRegistered(AlreadyExists):
    """A tool with that slug is already registered."""


class ReviewerAlreadyEnrolled(AlreadyExists):
    """A reviewer with that handle is already enrolled."""


class ReviewAlreadySubmitted(AlreadyExists):
    """The reviewer already has a live review of that tool; revise it instead."""


class ComparisonAlreadyPublished(AlreadyExists):
    """Those two tools are already compared."""


class ToolRetired(Conflict):
    """A retired tool takes no new reviews or votes."""


class ToolNotRetired(Conflict):
    """Only a retired tool can be reinstated."""


class ReviewerRetired(Conflict):
    """Only an enrolled, active reviewer reviews or has their profile edited."""


class ReviewWithdrawn(Conflict):
    """A withdrawn review cannot be revised or withdrawn again."""


class VoteRetracted(Conflict):
    """A retracted vote cannot be retracted again."""


class ComparisonRetired(Conflict):
    """A retired comparison takes no votes or edits."""


# Subscribers and erasures.
class InvalidAddress(InvalidInput):
    """An email address a digest could be sent to, and nothing else."""


class InvalidPerson(InvalidInput):
    """A person is named as ``reviewer:HANDLE``, ``subscriber:ID`` or an address."""


class SubscriptionNotFound(NotFound):
    """No subscription was ever asked for under that id or address."""


class PersonNotFound(NotFound):
    """The ledger holds no sealed data of that person."""


class SubscriptionNotPending(Conflict):
    """Only a subscription waiting for its confirmation can be confirmed."""


class AlreadyErased(Conflict):
    """That person's data is erased already, and the erasure recorded."""


# Digests.
class InvalidWeek(InvalidInput):
    """A week is an ISO week, written ``YYYY-Www`` (``2026-W48``), of that year."""


class WeekNotBegun(NotFound):
    """That week has not begun yet, so it has no digest."""
