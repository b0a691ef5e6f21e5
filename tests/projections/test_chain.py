"""The chain read model: the log's Merkle tree, folded live and rebuilt alike."""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from projections import engine, files, merkle_tree, schema
from projections.chain_proof_cache import path_ranges
from projections.chain_queries import Block, NotInTree, StoredTree
from projections.log_leaves import leaf, leaf_hash
from projections.projector import Projector
from projections.queries import ReadModel
from projections.readmodels import chain
from projections.rebuild import build, rebuild
from projections.source import Raw
from tests.projections.chain_helpers import backdate, grow, leaf_hashes
from tests.projections.helpers import dump


def test_a_leaf_is_the_documented_bytes() -> None:
    raw: Raw = (258, "00" * 15 + "2a", 3, "ledger.domainmodel:Vote.Cast", b'{"a":1}')
    expected = (
        (258).to_bytes(8, "big")
        + bytes(15)
        + b"\x2a"
        + (3).to_bytes(8, "big")
        + (28).to_bytes(2, "big")
        + b"ledger.domainmodel:Vote.Cast"
        + (7).to_bytes(4, "big")
        + b'{"a":1}'
    )
    assert leaf(raw) == expected
    assert leaf_hash(raw) == merkle_tree.leaf_hash(expected)


def test_every_field_of_a_stored_event_changes_its_leaf() -> None:
    raw: Raw = (9, "ab" * 16, 2, "ledger.domainmodel:Vote.Cast", b'{"x":"ship"}')
    edits = [
        (10, *raw[1:]),
        (raw[0], "ac" + "ab" * 15, *raw[2:]),
        (*raw[:2], 3, *raw[3:]),
        (*raw[:3], "ledger.domainmodel:Vote.Retracted", raw[4]),
        (*raw[:4], b'{"x":"skip"}'),
    ]
    assert len({leaf_hash(raw), *(leaf_hash(edit) for edit in edits)}) == 6


@given(
    position=st.integers(min_value=1, max_value=2**63 - 1),
    aggregate=st.uuids(),
    version=st.integers(min_value=1, max_value=2**63 - 1),
    topic=st.text(min_size=1, max_size=80),
    state=st.binary(max_size=600),
)
def test_the_leaf_hash_is_the_hash_of_the_leaf(
    position: int, aggregate: Any, version: int, topic: str, state: bytes
) -> None:
    raw: Raw = (position, aggregate.hex, version, topic, state)
    encoded = leaf(raw)
    assert leaf_hash(raw) == merkle_tree.leaf_hash(encoded)
    assert encoded.endswith(state)
    assert int.from_bytes(encoded[:8], "big") == position
    assert encoded[8:24] == aggregate.bytes


@pytest.fixture
def projected(ledger: Ledger, live_path: Path) -> sqlite3.Connection:
    """A ledger of 77 events, projected in batches of 10."""
    grow(ledger, 62)
    projector = Projector(ledger, live_path, batch_size=10)
    projector.catch_up()
    projector.close()
    return sqlite3.connect(live_path)


def test_the_stored_tree_gives_every_root_of_the_log(
    ledger: Ledger, projected: sqlite3.Connection
) -> None:
    hashes = leaf_hashes(ledger)
    tree = StoredTree(projected)
    head = tree.head()
    assert (head.size, head.position) == (len(hashes), ledger.head_position())
    assert head.root == merkle_tree.root(hashes)
    for size in range(len(hashes) + 1):
        assert tree.root(size) == merkle_tree.root(hashes[:size])


def test_stored_proofs_equal_the_proofs_of_the_leaf_list(
    ledger: Ledger, projected: sqlite3.Connection
) -> None:
    hashes = leaf_hashes(ledger)
    tree = StoredTree(projected)
    for size in (1, 2, 7, 16, 33, len(hashes)):
        root = merkle_tree.root(hashes[:size])
        for index in range(size):
            proof = tree.inclusion(index + 1, size)
            assert proof.leaf_index == index
            assert proof.inclusion_path == merkle_tree.inclusion_path(
                index, hashes[:size]
            )
            assert merkle_tree.verifies_inclusion(
                hashes[index], index, size, proof.inclusion_path, root
            )
        for first in range(1, size + 1):
            path = tree.consistency(first, size)
            assert path == merkle_tree.consistency_path(first, hashes[:size])
            assert merkle_tree.verifies_consistency(
                first, size, path, merkle_tree.root(hashes[:first]), root
            )


class CountingTree(StoredTree):
    """The stored tree, counting the blocks of hashes it reads."""

    blocks_read = 0

    def blocks(self, ids: Iterable[int]) -> dict[int, Block]:
        found = super().blocks(ids)
        self.blocks_read += len(found)
        return found


def test_a_proof_reads_logarithmically_many_hashes_in_a_few_queries(
    ledger: Ledger, live_path: Path
) -> None:
    grow(ledger, 1000)
    projector = Projector(ledger, live_path)
    projector.catch_up()
    projector.close()
    conn = sqlite3.connect(live_path)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    size = StoredTree(conn).size()
    assert size > 1000
    # log2(1015) < 10: a path of ten subtrees, and the ragged one of a few
    for position, first in ((1, 3), (size // 2, 700), (size - 1, size - 5)):
        tree = CountingTree(conn)
        statements.clear()
        tree.inclusion(position, size)
        assert 1 <= tree.blocks_read <= 2 * 10
        assert len(statements) <= 4
        tree = CountingTree(conn)
        statements.clear()
        tree.consistency(first, size)
        assert 1 <= tree.blocks_read <= 2 * 10
        assert len(statements) <= 3


def test_sizes_and_positions_the_tree_does_not_hold_are_refused(
    projected: sqlite3.Connection,
) -> None:
    tree = StoredTree(projected)
    size = tree.head().size
    with pytest.raises(NotInTree):
        tree.root(size + 1)
    with pytest.raises(NotInTree):
        tree.inclusion(size + 1, size)
    with pytest.raises(NotInTree):
        tree.inclusion(10, 9)
    with pytest.raises(NotInTree):
        tree.consistency(0, size)
    with pytest.raises(NotInTree):
        tree.consistency(5, 4)


def test_the_live_fold_and_both_rebuilds_store_the_same_tree(
    ledger: Ledger, projected: sqlite3.Connection, live_path: Path, tmp_path: Path
) -> None:
    assert StoredTree(projected).head().size == 77
    build(ledger, tmp_path / "bulk.sqlite", bulk=True)
    build(ledger, tmp_path / "plain.sqlite", bulk=False)
    tables = ("chain_blocks", "chain_head")
    live = {name: rows for name, rows in dump(live_path).items() if name in tables}
    for rebuilt in ("bulk.sqlite", "plain.sqlite"):
        found = dump(tmp_path / rebuilt)
        assert {name: found[name] for name in tables} == live
    # 77 leaves: four full blocks of 16, thirteen in the head row
    assert [row[0] for row in live["chain_blocks"]] == [0, 1, 2, 3]
    (head,) = live["chain_head"]
    assert len(head[5]) == 13 * 32
    # every perfect subtree of 77 leaves: 38 + 19 + 9 + 4 + 2 + 1 nodes
    stored = sum(len(row[3]) for row in live["chain_blocks"]) + len(head[6])
    assert stored == 73 * 32


def _fold_into(path: Path, raws: list[Raw], batch_size: int) -> sqlite3.Connection:
    conn = files.connect(path)
    schema.migrate(conn)
    dispatch = engine.Dispatch([chain.READ_MODEL])
    after = 0
    for start in range(0, len(raws), batch_size):
        batch = engine.Batch(conn, dispatch)
        after = engine.project(conn, after, raws[start : start + batch_size], batch)
    return conn


@settings(max_examples=25, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=70),
    batch_size=st.integers(min_value=1, max_value=30),
)
def test_positions_with_gaps_still_find_their_leaves(
    tmp_path_factory: pytest.TempPathFactory, gaps: list[int], batch_size: int
) -> None:
    """A PostgreSQL log skips positions a failed insert used; leaves do not."""
    raws: list[Raw] = []
    position = 0
    for n, gap in enumerate(gaps):
        position += 1 + gap
        raws.append(
            (position, f"{n:032x}", 1, "ledger.domainmodel:Tool.Registered", b"{}")
        )
    path = tmp_path_factory.mktemp("gaps") / "readmodel.sqlite"
    conn = _fold_into(path, raws, batch_size)
    tree = StoredTree(conn)
    hashes = [leaf_hash(raw) for raw in raws]
    assert tree.head().root == merkle_tree.root(hashes)
    for index, raw in enumerate(raws):
        assert tree.leaf_index(raw[0]) == index
        assert tree.inclusion(raw[0], len(raws)).inclusion_path == (
            merkle_tree.inclusion_path(index, hashes)
        )
        first = index + 1
        assert tree.consistency(first, len(raws)) == merkle_tree.consistency_path(
            first, hashes
        )
    missing = set(range(1, position + 2)) - {raw[0] for raw in raws}
    for absent in sorted(missing)[:5]:
        with pytest.raises(NotInTree):
            tree.leaf_index(absent)
    conn.close()


def test_every_subtree_is_found_where_the_fold_put_it() -> None:
    """:func:`chain.node_place` finds each subtree the fold stores, in order."""
    placed: dict[int, list[tuple[int, int]]] = {}
    for size in range(1, 600):
        index, height = size - 1, 0
        while index & 1:
            index >>= 1
            height += 1
            placed.setdefault((size - 1) // chain.BLOCK, []).append((height, index))
    for block, subtrees in placed.items():
        for place, (height, index) in enumerate(subtrees):
            assert chain.node_place(height, index) == (block, place)


@settings(max_examples=300)
@given(data=st.data(), size=st.integers(min_value=1, max_value=2**40))
def test_a_path_read_off_the_trees_shape_is_rfc_9162s(
    data: st.DataObject, size: int
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    assert path_ranges(index, size) == merkle_tree.inclusion_ranges(index, size)


@pytest.mark.sqlite_only("backdates an event in the SQLite log file")
def test_cached_proofs_equal_plain_ones_and_follow_a_swapped_rebuild(
    ledger: Ledger, live_path: Path, home: Path
) -> None:
    grow(ledger, 400)
    projector = Projector(ledger, live_path)
    projector.catch_up()
    projector.close()
    model = ReadModel(live_path)
    rng = random.Random(5)
    size = ledger.head_position()

    def plain() -> StoredTree:
        return StoredTree(sqlite3.connect(os.path.realpath(live_path)))

    # a power of two, one leaf past it, a ragged edge and the whole log
    sizes = [256, 257, 300, size]
    try:
        for _ in range(3):  # the second and third rounds read kept hashes
            for tree_size in sizes:
                for position in rng.sample(range(1, tree_size + 1), 40):
                    assert model.inclusion(position, tree_size) == plain().inclusion(
                        position, tree_size
                    )
            for first in rng.sample(range(1, size + 1), 20):
                assert model.consistency(first, size) == plain().consistency(
                    first, size
                )
        before = model.inclusion(2, size)
        backdate(home, 1)
        rebuild(ledger, live_path)
        after = model.inclusion(2, size)
        assert after != before  # leaf 0, its sibling, changed
        assert after == plain().inclusion(2, size)
        assert model.tree_root(size) == plain().root(size)
    finally:
        model.close()
