"""The Merkle tree's arithmetic against RFC 6962's published vectors, and proofs.

The vectors are those of the certificate-transparency reference tests: eight
leaves, the root of each prefix, and some of their audit and consistency
paths. Properties then check every proof of random trees, and that proofs
edited the ways that fooled verifiers before (a hash changed, dropped, added
or swapped; a path checked only in part) are refused.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.merkle_tree import (
    EMPTY_ROOT,
    consistency_path,
    inclusion_path,
    leaf_hash,
    root,
    verifies_consistency,
    verifies_inclusion,
)
from tests.rfc6962_vectors import CONSISTENCY, INCLUSION, LEAVES, ROOTS

HASHES = [leaf_hash(leaf) for leaf in LEAVES]


def test_the_roots_of_the_reference_tree() -> None:
    assert root([]) == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert [root(HASHES[:size]).hex() for size in range(1, 9)] == ROOTS


def test_the_reference_audit_paths() -> None:
    for index, size, expected in INCLUSION:
        path = inclusion_path(index, HASHES[:size])
        assert [node.hex() for node in path] == expected
        tree_root = bytes.fromhex(ROOTS[size - 1])
        assert verifies_inclusion(HASHES[index], index, size, path, tree_root)


def test_the_reference_consistency_paths() -> None:
    for first, second, expected in CONSISTENCY:
        path = consistency_path(first, HASHES[:second])
        assert [node.hex() for node in path] == expected
        old, new = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
        assert verifies_consistency(first, second, path, old, new)


def _edits(path: list[bytes], extra: bytes) -> list[list[bytes]]:
    """Every way of spoiling a path: a hash changed, dropped, added or moved."""
    spoiled = [[*path, extra], [extra, *path], path + path[-1:]]
    for at in range(len(path)):
        spoiled.append([*path[:at], EMPTY_ROOT, *path[at + 1 :]])
        spoiled.append(path[:at] + path[at + 1 :])
    if len(path) > 1:
        spoiled.append(path[::-1])
    return [edit for edit in spoiled if edit != path]


# Distinct leaves: in a tree of equal leaves one path proves several places.
leaves = st.lists(st.binary(max_size=12), min_size=1, max_size=40, unique=True)


@given(data=leaves, choice=st.data())
def test_every_inclusion_proof_verifies_and_no_edit_of_it_does(
    data: list[bytes], choice: st.DataObject
) -> None:
    hashes = [leaf_hash(leaf) for leaf in data]
    size = len(hashes)
    index = choice.draw(st.integers(0, size - 1))
    tree_root = root(hashes)
    path = inclusion_path(index, hashes)
    assert verifies_inclusion(hashes[index], index, size, path, tree_root)
    for spoiled in _edits(path, tree_root):
        assert not verifies_inclusion(hashes[index], index, size, spoiled, tree_root)
    assert not verifies_inclusion(leaf_hash(b"forged"), index, size, path, tree_root)
    # A proof fixes its tree's height, not its size (the signed checkpoint
    # does that), so a tree of twice the size is what it must not fit.
    assert not verifies_inclusion(hashes[index], index, size * 2, path, tree_root)
    assert not verifies_inclusion(hashes[index], size, size, path, tree_root)
    if size > 1:
        other = (index + 1) % size
        assert not verifies_inclusion(hashes[index], other, size, path, tree_root)


@given(data=leaves, choice=st.data())
def test_every_consistency_proof_verifies_and_no_edit_of_it_does(
    data: list[bytes], choice: st.DataObject
) -> None:
    hashes = [leaf_hash(leaf) for leaf in data]
    second = len(hashes)
    first = choice.draw(st.integers(1, second))
    old, new = root(hashes[:first]), root(hashes)
    path = consistency_path(first, hashes)
    assert verifies_consistency(first, second, path, old, new)
    if first == second:
        return
    for spoiled in _edits(path, new):
        assert not verifies_consistency(first, second, spoiled, old, new)
    assert not verifies_consistency(first, second, path, EMPTY_ROOT, new)
    assert not verifies_consistency(first, second, path, old, EMPTY_ROOT)
    assert not verifies_consistency(second, first, path, new, old)
    # A rewritten prefix is not consistent with the tree that was published.
    rewritten = [leaf_hash(b"rewritten"), *hashes[1:]]
    assert not verifies_consistency(
        first, second, consistency_path(first, rewritten), old, root(rewritten)
    )
