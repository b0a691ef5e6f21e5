"""The query layer: what ``api`` (and the CLI) read, as msgspec Structs.

:class:`ReadModel` answers every query of one node's read-model file; its
queries are grouped by what they read, a module each, over the connections
of :class:`~projections.snapshots.ReadModelFile`.
"""

from __future__ import annotations

from projections.audit_queries import AuditQueries
from projections.card_queries import CardQueries
from projections.comparison_queries import ComparisonQueries
from projections.diff_queries import DiffQueries
from projections.digest_queries import DigestQueries
from projections.history_queries import HistoryQueries
from projections.panel_queries import PanelQueries
from projections.proof_queries import ChainQueries
from projections.provenance_queries import ProvenanceQueries
from projections.snapshots import MAX_PAGE

__all__ = ["MAX_PAGE", "ReadModel"]


class ReadModel(
    CardQueries,
    HistoryQueries,
    ComparisonQueries,
    PanelQueries,
    AuditQueries,
    ChainQueries,
    DiffQueries,
    ProvenanceQueries,
    DigestQueries,
):
    """Answers every query of one node's read-model file, from any thread."""
