"""The read side: SQLite read models that follow the ledger's log.

A :class:`Projector` folds the log into one read-model file per node, exactly
once, live; :func:`projections.rebuild.rebuild` replays it into a fresh file
and swaps it in; :class:`ReadModel` answers queries with the Structs of
:mod:`projections.models`.
"""

from projections.files import readmodel_path
from projections.models import (
    AuditItem,
    Card,
    CardFigures,
    ComparisonSummary,
    ComparisonView,
    Figures,
    HeadToHead,
    HistoryItem,
    Lag,
    ReviewItem,
    SplitItem,
)
from projections.projector import Projector
from projections.queries import ReadModel

__all__ = [
    "AuditItem",
    "Card",
    "CardFigures",
    "ComparisonSummary",
    "ComparisonView",
    "Figures",
    "HeadToHead",
    "HistoryItem",
    "Lag",
    "Projector",
    "ReadModel",
    "ReviewItem",
    "SplitItem",
    "readmodel_path",
]
