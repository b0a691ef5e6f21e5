"""The chain over a log kept in PostgreSQL, whose positions can skip numbers.

A failed insert uses up a number of PostgreSQL's sequence, so positions there
are not leaf indexes plus one as on SQLite; the tree, its proofs and
``ledger verify`` must still line up with the log.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ledger import demo
from ledger.context import Context
from projections import Projector
from projections.chain_queries import StoredTree
from projections.chain_verify import verify_ledger
from projections.checkpoints import ChainSettings, Checkpoint, CheckpointStore
from projections.files import connect
from projections.log_leaves import leaf_hash
from projections.merkle_tree import root, verifies_inclusion
from projections.source import LogSource
from tests.helpers import URL, Postgres

pytestmark = pytest.mark.postgres
SKIPPED = 3


def _burn_positions(postgres: Postgres, count: int) -> None:
    """Uses up ``count`` numbers of the log's sequence, as failed inserts do."""
    schema = postgres.env["POSTGRES_SCHEMA"]
    with psycopg.connect(URL, autocommit=True) as conn:
        (sequence,) = conn.execute(
            "SELECT sequence_schema || '.' || sequence_name "
            "FROM information_schema.sequences WHERE sequence_schema = %s",
            (schema,),
        ).fetchone()
        for _ in range(count):
            conn.execute("SELECT nextval(%s)", (sequence,))


def test_the_chain_follows_a_postgres_log_with_gaps(
    postgres: Postgres, tmp_path: Path
) -> None:
    ledger = postgres.ledger()
    demo.load(ledger)
    _burn_positions(postgres, SKIPPED)
    voter = Context("voter")
    for n in range(6):
        ledger.cast_vote(voter, f"v{n}", "code-llama-4", "ship" if n % 2 else "skip")
    path = tmp_path / "readmodel.sqlite"
    projector = Projector(ledger, path, batch_size=4)
    projector.catch_up()
    projector.close()
    source = LogSource(ledger)
    try:
        raws = source.read(0, 1000)
    finally:
        source.close()
    positions = [raw[0] for raw in raws]
    assert positions != list(range(1, len(raws) + 1)), "the log skips numbers"
    hashes = [leaf_hash(raw) for raw in raws]
    conn = connect(path, create=False)
    tree = StoredTree(conn)
    head = tree.head()
    assert (head.size, head.position, head.root) == (
        len(raws),
        positions[-1],
        root(hashes),
    )
    for index, position in enumerate(positions):
        proof = tree.inclusion(position, len(raws))
        assert proof.leaf_index == index
        assert verifies_inclusion(
            hashes[index], index, len(raws), proof.inclusion_path, head.root
        )
    chain = ChainSettings(home=tmp_path)
    store = CheckpointStore(chain.store_path)
    store.publish(Checkpoint(chain.origin, head.size, head.root), chain.signer())
    store.close()
    report = verify_ledger(ledger, path, chain, chain.signer().verifier)
    conn.close()
    assert report.ok, report.findings
    assert (report.events, report.verified_size) == (len(raws), len(raws))
