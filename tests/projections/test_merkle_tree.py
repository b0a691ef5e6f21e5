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

LEAVES = [
    bytes.fromhex(text)
    for text in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (first size, second size, consistency path)
CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
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
