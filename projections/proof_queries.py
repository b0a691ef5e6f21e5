"""Queries of the log's tree for the API: its head, roots and proofs.

Each answer is read from one snapshot of the read-model file. Proofs read
complete blocks through a cache kept with each thread's connection
(:mod:`projections.chain_block_cache`), which a rebuild swapped in replaces
along with the connection.
"""

from __future__ import annotations

from projections.chain_block_cache import BlockCache, CachedTree
from projections.chain_queries import Inclusion, TreeHead
from projections.readmodel_parts import SQL
from projections.snapshots import ReadModelFile


class ChainQueries(ReadModelFile):
    """The log's tree: its head, roots and proofs."""

    def _tree(self, conn: SQL) -> CachedTree:
        held = getattr(self._local, "block_cache", None)
        if held is None or held[0] is not conn:
            held = self._local.block_cache = (conn, BlockCache())
        return CachedTree(conn, held[1])

    def tree_head(self) -> TreeHead:
        """The tree as far as the read models reflect the log."""
        with self._snapshot() as conn:
            return self._tree(conn).head()

    def tree_root(self, size: int) -> bytes:
        """The root of the tree of the first ``size`` events."""
        with self._snapshot() as conn:
            return self._tree(conn).root(size)

    def inclusion(self, position: int, size: int) -> Inclusion:
        """The inclusion proof of the event at ``position`` in the tree of ``size``."""
        with self._snapshot() as conn:
            return self._tree(conn).inclusion(position, size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree of ``first`` events begins that of ``second``."""
        with self._snapshot() as conn:
            return self._tree(conn).consistency(first, second)
