"""Many events at once, appended straight to a ledger as another node would."""

from __future__ import annotations

import uuid
from pathlib import Path

from ledger.application import Ledger, VoteCommand
from ledger.context import Context
from tests.api.helpers import ledger_settings


def append_votes(ledger: Ledger, count: int) -> list[int]:
    """Appends ``count`` first votes on a demo tool in one transaction.

    Returns:
        Their positions, oldest first.
    """
    batch = uuid.uuid4().hex
    decisions = [
        ledger.decide_vote(
            VoteCommand(Context(), f"voter-{batch}-{n}", "ship", "code-llama-4")
        )
        for n in range(count)
    ]
    return [receipt.position for receipt in ledger.append_votes(decisions)]


def append_votes_to(home: Path, count: int) -> list[int]:
    """:func:`append_votes` through a ledger of its own on ``home``."""
    ledger = Ledger(ledger_settings(home))
    try:
        return append_votes(ledger, count)
    finally:
        ledger.close()
