"""Conditional appends: events land only if what they were decided on still holds.

A vote must not land on a retired tool, a review must not land on a retired
tool or by a retired reviewer. Checking the tool and then appending the vote
leaves a window in which the tool can be retired;
``insert_events(..., unchanged=[(tool_id, version)])`` closes it by checking,
inside the appending transaction, that nothing decisive happened to each named
aggregate since the version the command saw, and appending nothing if it did
(:class:`DependencyChanged`). The command then reloads and decides again.

"Decisive" is what the recorder's ``decisive_topics`` names (the ledger sets
the events that retire or reinstate something), so a tool's tagline edit does
not turn away the votes cast meanwhile; with no topics named, any later event
counts. Because the check is exact, a command may decide on a cached
aggregate without first reading the store to see whether it is current.

The recorders that honour the condition are in :mod:`ledger.sqlite_recorder`
and :mod:`ledger.postgres_recorder`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

Unchanged = Sequence[tuple[UUID, int]]
"""Aggregates, by id, that must still be at these versions for an append."""


class DependencyChanged(Exception):
    """An aggregate a command decided on moved on before its events landed."""

    def __init__(self, originator_id: UUID, expected: int, actual: int):
        super().__init__(
            f"{originator_id} changed decisively at version {actual} after version "
            f"{expected}; nothing appended"
        )
        self.originator_id = originator_id


class ConditionalAppends:
    """Marks a recorder whose ``insert_events`` honours ``unchanged=...``.

    eventsourcing passes unknown keyword arguments down and ignores them, so
    the ledger asks for this marker rather than trusting any recorder with a
    condition it would silently drop.
    """

    decisive_topics: frozenset[str] = frozenset()
    """Topics of the events that break a condition; empty: every event does."""

    refusals_use_positions = True
    """Whether an insert the store refuses still uses up a log position.

    PostgreSQL's sequence does, leaving a gap; SQLite's rowid does not. A
    command that creates a vote or review first, and loads the existing one
    only if the store refuses the duplicate id, leaves such a gap on
    PostgreSQL when it changes one.
    """

    def check_later_events(
        self, originator_id: UUID, version: int, later: Iterable[tuple[int, str]]
    ) -> None:
        """Raises if any of ``later``'s (version, topic) rows is decisive."""
        for later_version, topic in later:
            if not self.decisive_topics or topic in self.decisive_topics:
                raise DependencyChanged(originator_id, version, later_version)
