"""The tamper-evident chain still verifies after an erasure, on both stores.

An erasure destroys a key and appends an event; it rewrites nothing. The
chain covers the stored bytes (sealed text), not the plaintext, so every
checkpoint signed before the erasure still vouches for the log after it,
and one signed afterwards covers the erasure's own event too.
"""

from __future__ import annotations

import json

from ledger.personal_data import ERASED
from projections import readmodel_path
from projections.checkpoints import ChainSettings, Checkpointer
from projections.projector import Projector
from tests.projections.chain_helpers import grow
from tests.projections.helpers import run_ledger
from tests.stores import Store


def _verify(store: Store) -> dict[str, object]:
    done = run_ledger(store.settings.home, "verify", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_the_chain_verifies_before_and_after_an_erasure(event_store: Store) -> None:
    home = event_store.settings.home
    ledger = event_store.ledger()
    grow(ledger, 30)
    chain = ChainSettings.from_env(
        event_store.settings,
        {"LEDGER_CHECKPOINT_EVERY": "10", "LEDGER_CHECKPOINT_SECONDS": "3600"},
    )
    projector = Projector(
        ledger,
        readmodel_path(event_store.settings),
        batch_size=10,
        checkpointer=Checkpointer(chain),
    )
    projector.catch_up()
    projector.close()
    assert run_ledger(home, "checkpoint").returncode == 0
    before = _verify(event_store)
    assert before["ok"] is True
    stored = event_store.stored_rows()

    erased = run_ledger(home, "erase", "reviewer:skeptic", "--reason", "asked")
    assert erased.returncode == 0, erased.stderr
    after = _verify(event_store)
    assert after["ok"] is True
    assert after["findings"] == []
    assert after["verified_size"] == before["verified_size"]
    assert event_store.stored_rows()[: len(stored)] == stored, "nothing rewritten"

    assert run_ledger(home, "checkpoint").returncode == 0
    signed = _verify(event_store)
    assert signed["ok"] is True
    assert signed["events"] == len(stored) + 1
    assert signed["verified_size"] == len(stored) + 1
    reopened = event_store.ledger()
    assert reopened.reviewer("skeptic")["name"] == ERASED
    assert reopened.reviewer("builder")["name"] == "The Builder"
