"""Queries of the log's tree for the API: its roots and proofs.

Each answer needs no read transaction of its own: the head row, read once,
says how far the tree goes and holds the block being filled, and every
block before it is complete and never changes. Proofs keep the hashes of large
ranges of leaves with each thread's connection
(:mod:`projections.chain_proof_cache`), which a rebuild swapped in replaces
along with the connection.
"""

from __future__ import annotations

from projections.chain_proof_cache import CachedTree, KeptHashes
from projections.chain_queries import Inclusion
from projections.snapshots import ReadModelFile


class ChainQueries(ReadModelFile):
    """The log's tree: its roots and proofs."""

    def _tree(self) -> CachedTree:
        conn = self._connection()
        held = getattr(self._local, "kept_hashes", None)
        if held is None or held[0] is not conn:
            held = self._local.kept_hashes = (conn, KeptHashes())
        return CachedTree(conn, held[1])

    def tree_root(self, size: int) -> bytes:
        """The root of the tree of the first ``size`` events."""
        return self._tree().root(size)

    def inclusion(self, position: int, size: int) -> Inclusion:
        """The inclusion proof of the event at ``position`` in the tree of ``size``."""
        return self._tree().inclusion(position, size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree of ``first`` events begins that of ``second``."""
        return self._tree().consistency(first, second)
