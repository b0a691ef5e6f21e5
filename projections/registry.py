"""Which read models exist, and which of their handlers fold each event class.

Adding a read model is one module in :mod:`projections.readmodels` and one
line in :data:`READ_MODELS`. The handlers are keyed by the ledger's event
classes themselves, never by their names, so a renamed or new event class
that no read model folds is caught by :func:`missing_handlers` (and the test
that calls it) instead of being skipped in silence.

Order matters in one way: for each event, the handlers run in the order the
read models are listed here, and each sees the rows, and the event, as the
ones before it left them. Read models that complete an event for others
(``event.completed``) come first: ``vote_moves``, which finds what a vote
event moved, and ``panel_reviews``, which finds what a review event moved,
before the cards and head-to-heads that count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ledger.log import EVENT_CLASSES
from projections.engine import Dispatch
from projections.readmodel_parts import Held, History, ReadModel, Table
from projections.readmodels import (
    audit,
    cards,
    chain,
    erasures,
    head_to_heads,
    panel,
    panel_reviews,
    provenance,
    subscribers,
    vote_moves,
)

READ_MODELS: tuple[ReadModel, ...] = (
    vote_moves.READ_MODEL,
    panel_reviews.READ_MODEL,
    panel.READ_MODEL,
    cards.READ_MODEL,
    head_to_heads.READ_MODEL,
    provenance.READ_MODEL,
    audit.READ_MODEL,
    chain.READ_MODEL,
    subscribers.READ_MODEL,
    erasures.READ_MODEL,
)

IGNORED: frozenset[type[Any]] = frozenset()
"""Event classes that only the audit records, on purpose (none today)."""


def dispatch() -> Dispatch:
    """The handlers of every read model, by topic."""
    return Dispatch(READ_MODELS)


def tables(
    read_models: Iterable[ReadModel] = READ_MODELS,
) -> list[Table | History | Held]:
    """Every table of the read models, in the order they are created."""
    return [table for model in read_models for table in model.tables]


def stored_tables(
    read_models: Iterable[ReadModel] = READ_MODELS,
) -> list[Table | History]:
    """The tables the read models keep in the file (held rows are not)."""
    return [
        table for table in tables(read_models) if isinstance(table, Table | History)
    ]


def missing_handlers(
    read_models: Sequence[ReadModel] = READ_MODELS,
    event_classes: Iterable[type[Any]] = EVENT_CLASSES.values(),
    ignored: frozenset[type[Any]] = IGNORED,
) -> list[type[Any]]:
    """The event classes that no read model folds by name and none are ignored.

    The audit records every stored event through eventsourcing's base event
    class; a class counts as handled only where a read model names it.
    """
    named = {cls for model in read_models for cls in model.handlers}
    return [cls for cls in event_classes if cls not in named and cls not in ignored]
