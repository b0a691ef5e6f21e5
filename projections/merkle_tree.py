"""The Merkle tree of RFC 9162 (and RFC 6962) over leaf hashes: roots, proofs, checks.

The tamper-evident log is a Merkle tree whose leaves are the stored events;
this module is its arithmetic, kept apart from where the hashes are stored.
Hashing is SHA-256 with domain separation, a leaf ``H(0x00 || leaf)`` and a
node ``H(0x01 || left || right)``, so that certificate-transparency tools
check our proofs as they check any log's. Proofs are built by the recursive
definitions of RFC 9162 section 2.1 (``PATH`` and ``PROOF``) and checked by
its verification algorithms (2.1.3.2 and 2.1.4.2), which consume every hash
of a proof and fail on a proof that is too short or too long.

Built from a list of leaf hashes, a proof costs O(n) here; reading the
subtree hashes a proof needs from stored levels is what keeps a served proof
at O(log n) reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the tree of no leaves."""


def leaf_hash(leaf: bytes) -> bytes:
    """The hash of a leaf's bytes."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node over its two children's hashes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """The largest power of two smaller than ``size`` (which is at least 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root(hashes: Sequence[bytes], start: int = 0, stop: int | None = None) -> bytes:
    """The Merkle tree hash (``MTH``) over the leaf hashes ``hashes[start:stop]``."""
    stop = len(hashes) if stop is None else stop
    size = stop - start
    if size == 0:
        return EMPTY_ROOT
    if size == 1:
        return hashes[start]
    middle = start + split(size)
    return node_hash(root(hashes, start, middle), root(hashes, middle, stop))


def inclusion_path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path (``PATH``) of leaf ``index`` in the tree of ``hashes``."""
    ranges = inclusion_ranges(index, len(hashes))
    return [root(hashes, start, stop) for start, stop in ranges]


def consistency_path(first: int, hashes: Sequence[bytes]) -> list[bytes]:
    """The consistency proof (``PROOF``) of the first ``first`` leaves to all."""
    ranges = consistency_ranges(first, len(hashes))
    return [root(hashes, start, stop) for start, stop in ranges]


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The root of a tree given the hashes of its perfect subtrees, largest first.

    Those subtrees are the tree's right edge as it grows (one per bit of its
    size), which is all a fold of the log keeps.
    """
    if not frontier:
        return EMPTY_ROOT
    hashed = frontier[-1]
    for left in reversed(frontier[:-1]):
        hashed = node_hash(left, hashed)
    return hashed


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees, as ranges of leaves, whose hashes are leaf ``index``'s path.

    Raises:
        ValueError: If ``index`` is not a leaf of the tree.
    """
    if not 0 <= index < size:
        msg = f"leaf {index} is not in a tree of {size} leaves"
        raise ValueError(msg)
    ranges: list[tuple[int, int]] = []
    start, stop = 0, size
    while stop - start > 1:
        middle = start + split(stop - start)
        if index < middle:
            ranges.append((middle, stop))
            stop = middle
        else:
            ranges.append((start, middle))
            start = middle
    return ranges[::-1]


def consistency_ranges(first: int, size: int) -> list[tuple[int, int]]:
    """The subtrees, as ranges of leaves, whose hashes prove ``first`` begins ``size``.

    Raises:
        ValueError: Unless ``0 < first <= size``.
    """
    if not 0 < first <= size:
        msg = f"no consistency proof from size {first} to size {size}"
        raise ValueError(msg)
    ranges: list[tuple[int, int]] = []
    start, stop, whole = 0, size, True
    while first != stop - start:
        middle = start + split(stop - start)
        if first <= middle - start:
            ranges.append((middle, stop))
            stop = middle
        else:
            ranges.append((start, middle))
            first -= middle - start
            start, whole = middle, False
    if not whole:
        ranges.append((start, stop))
    return ranges[::-1]


def verifies_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], tree_root: bytes
) -> bool:
    """Whether ``path`` proves the leaf hash ``leaf`` at ``index`` of ``tree_root``.

    RFC 9162, 2.1.3.2: every hash of the path must be used, and no more are
    needed than the path holds.
    """
    if not 0 <= index < size:
        return False
    fn, sn, hashed = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            hashed = node_hash(sibling, hashed)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            hashed = node_hash(hashed, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hashed == tree_root


def verifies_consistency(
    first: int,
    second: int,
    path: Sequence[bytes],
    first_root: bytes,
    second_root: bytes,
) -> bool:
    """Whether ``path`` proves the tree of size ``first`` a prefix of ``second``'s.

    RFC 9162, 2.1.4.2. Equal sizes need an empty path and equal roots.
    """
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    proof = list(path)
    if first & (first - 1) == 0:  # a power of two: its root is a node of both
        proof.insert(0, first_root)
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for hashed in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(hashed, fr), node_hash(hashed, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, hashed)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
