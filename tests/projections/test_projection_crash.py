"""A projector killed with SIGKILL at random moments resumes exactly once."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ledger.application import Receipt, VoteCommand
from ledger.group_commit import cast_together
from projections import readmodel_path
from projections.rebuild import build
from tests.stores import Store

from .helpers import CTX, LEDGER, TOOLS, dump, run_ledger, seed

KILLS = 20
BATCH = 20


def _busy_ledger(store: Store) -> int:
    """A log of a few thousand events: mostly votes, changed and retracted.

    The votes are cast in batches (group commit appends the same events as
    the commands one by one), which keeps building the log quick on
    PostgreSQL too.
    """
    ledger = store.ledger()
    try:
        seed(ledger)
        rng = random.Random(7)
        first = {voter: rng.choice(("ship", "skip")) for voter in range(1700)}
        changed = [voter for voter in first if voter % 3 == 0]
        other = {"ship": "skip", "skip": "ship"}
        rounds = [  # every voter's first vote; a third of them changed twice
            first,
            {voter: other[first[voter]] for voter in changed},
            {voter: first[voter] for voter in changed},
        ]
        for choices in rounds:
            commands = [
                VoteCommand(CTX, f"voter-{voter}", choice, TOOLS[voter % len(TOOLS)])
                for voter, choice in choices.items()
            ]
            for start in range(0, len(commands), 200):
                for outcome in cast_together(ledger, commands[start : start + 200]):
                    assert isinstance(outcome, Receipt), outcome
        for voter in range(0, len(first), 5):
            ledger.retract_vote(CTX, f"voter-{voter}", TOOLS[voter % len(TOOLS)])
        return ledger.head_position()
    finally:
        ledger.close()


def _tracked(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(os.path.realpath(path))
    try:
        row = conn.execute("SELECT position FROM tracking").fetchone()
    except sqlite3.OperationalError:  # killed before the schema was committed
        return 0
    finally:
        conn.close()
    return int(row[0]) if row else 0


@pytest.mark.slow
def test_sigkilled_projector_ends_identical_to_a_clean_rebuild(
    tmp_path: Path, event_store: Store
) -> None:
    home = event_store.settings.home
    head = _busy_ledger(event_store)
    assert head > 3000
    path = readmodel_path(event_store.settings)
    rng = random.Random(20240611)
    env = {**os.environ, "LEDGER_HOME": str(home)}
    started = time.perf_counter()
    assert run_ledger(home, "--help").returncode == 0
    start_up = time.perf_counter() - started  # this machine's, so kills land early
    seen = []
    for kill in range(KILLS):
        process = subprocess.Popen(
            [LEDGER, "project", "--batch-size", str(BATCH), "--verbose"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        if kill % 4 == 0:
            time.sleep(rng.uniform(0, start_up))  # in start-up or schema set-up
        else:
            for _ in range(rng.randint(1, 4)):  # a few commits, then mid-batch
                if not process.stdout.readline():
                    break
            time.sleep(rng.uniform(0, 0.003))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        seen.append(_tracked(path))
    assert seen == sorted(seen), "a committed position was lost"
    during = [position for position in seen if 0 < position < head]
    assert len(during) >= KILLS // 2, (
        f"most kills should land during the catch-up: {seen}, head {head}"
    )
    finished = run_ledger(home, "project", "--batch-size", str(BATCH))
    assert finished.returncode == 0, finished.stderr
    assert _tracked(path) == head
    ledger = event_store.ledger()
    try:
        build(ledger, tmp_path / "clean.sqlite")
    finally:
        ledger.close()
    assert dump(path) == dump(tmp_path / "clean.sqlite")
