"""The read side following a log kept in PostgreSQL.

The projector only needs the ledger's recorder, so an API node whose event
store is PostgreSQL keeps its local SQLite read models exactly as an
embedded node does: live (woken by local writes, polling otherwise) and
rebuildable, with the same figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import demo
from ledger.context import Context
from projections import Projector, ReadModel
from projections.rebuild import rebuild
from tests.helpers import Postgres

pytestmark = pytest.mark.postgres


def test_demo_projects_from_postgres_live_and_rebuilt(
    postgres: Postgres,
    tmp_path: Path,
) -> None:
    # given the demo ledger in PostgreSQL and a started projector
    ledger = postgres.ledger()
    demo.load(ledger)
    live = tmp_path / "live.sqlite"
    projector = Projector(ledger, live, poll_interval=0.05)
    projector.start()
    try:
        # when voters vote after the projector started, and change their minds
        voter = Context("voter")
        receipt = ledger.cast_vote(voter, "v1", "code-llama-4", "skip")
        assert projector.wait_for(receipt.position, timeout=5)
        ledger.cast_vote(voter, "v2", "code-llama-4", "skip")
        receipt = ledger.cast_vote(voter, "v3", "code-llama-4", "ship")
        assert projector.wait_for(receipt.position, timeout=5)
        ledger.cast_vote(voter, "v2", "code-llama-4", "ship")
        receipt = ledger.retract_vote(voter, "v3", "code-llama-4")
        assert projector.wait_for(receipt.position, timeout=5)
    finally:
        projector.stop()
    reader = ReadModel(live)
    try:
        card = reader.tool("code-llama-4")
        other = reader.tool("mistral-medium-3")
    finally:
        reader.close()
    # then the panel figures are the demo's and each vote counts as it ended
    assert card is not None
    assert other is not None
    assert (card.panel.ship, card.panel.total, card.panel.ship_pct) == (4, 4, 100.0)
    assert (card.panel.low, card.panel.high) == (51.0, 100.0)
    assert (other.panel.ship, other.panel.total, other.panel.ship_pct) == (3, 4, 75.0)
    assert (card.community.ship, card.community.skip) == (1, 1)
    # and a rebuild from the same log gives the same card
    rebuilt_path = tmp_path / "rebuilt.sqlite"
    rebuild(ledger, rebuilt_path, progress=False)
    rebuilt = ReadModel(rebuilt_path)
    try:
        assert rebuilt.tool("code-llama-4") == card
    finally:
        rebuilt.close()
