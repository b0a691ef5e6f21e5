"""A started projector shows a command's effect within the bounded wait."""

from __future__ import annotations

import time
from pathlib import Path

from ledger.application import Ledger
from projections import Projector, ReadModel
from tests.stores import Store

from .helpers import CTX, seed


def test_a_local_append_wakes_the_projector(ledger: Ledger, live_path: Path) -> None:
    seed(ledger)
    # A poll this slow cannot be what delivers the event within the wait.
    projector = Projector(ledger, live_path, poll_interval=60)
    projector.start()
    model = ReadModel(live_path)
    try:
        assert projector.wait_for(ledger.head_position(), timeout=5)
        receipt = ledger.cast_vote(CTX, "someone", "alpha", "ship")
        started = time.monotonic()
        assert projector.wait_for(receipt.position, timeout=2.0)
        assert time.monotonic() - started < 2.0
        card = model.tool("alpha")
        assert card is not None
        assert (card.community.ship, card.community.total) == (1, 1)
        assert card.position == receipt.position
        assert model.position() >= receipt.position
        assert projector.lag().lag == 0
    finally:
        projector.close()
        model.close()


def test_appends_by_another_process_are_found_by_polling(
    event_store: Store, ledger: Ledger, live_path: Path
) -> None:
    seed(ledger)
    projector = Projector(ledger, live_path, poll_interval=0.05)
    projector.start()
    other = event_store.ledger()  # no listener: stands for another process
    model = ReadModel(live_path)
    try:
        receipt = other.cast_vote(CTX, "elsewhere", "beta", "skip")
        assert model.wait_for(receipt.position, timeout=2.0)
        card = model.tool("beta")
        assert card is not None
        assert card.community.skip == 1
    finally:
        other.close()
        projector.close()
        model.close()


def test_waiting_for_a_position_never_appended_is_bounded(
    ledger: Ledger, live_path: Path
) -> None:
    seed(ledger)
    projector = Projector(ledger, live_path, poll_interval=0.05)
    projector.start()
    model = ReadModel(live_path)
    try:
        beyond = ledger.head_position() + 100
        started = time.monotonic()
        assert not projector.wait_for(beyond, timeout=0.3)
        assert not model.wait_for(beyond, timeout=0.3)
        assert 0.5 <= time.monotonic() - started < 3
        lag = projector.lag()
        assert (lag.head, lag.projected, lag.lag) == (
            ledger.head_position(),
            ledger.head_position(),
            0,
        )
    finally:
        projector.close()
        model.close()


def test_lag_reports_what_is_not_projected_yet(ledger: Ledger, live_path: Path) -> None:
    seed(ledger)
    projector = Projector(ledger, live_path)
    try:
        projector.catch_up()
        ledger.cast_vote(CTX, "late", "gamma", "ship")
        ledger.cast_vote(CTX, "later", "gamma", "skip")
        lag = projector.lag()
        assert lag.head == ledger.head_position()
        assert lag.lag == 2 == lag.head - lag.projected
        assert projector.catch_up() == lag.head
        assert projector.lag().lag == 0
    finally:
        projector.close()
