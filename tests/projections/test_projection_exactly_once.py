"""Each event is applied once: replays, overlaps and rival projectors change nothing."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from ledger.application import Ledger
from projections import Projector
from projections.engine import GapError
from projections.rebuild import build
from projections.source import LogSource
from tests.stores import Store

from .helpers import (
    CTX,
    LEDGER,
    TOOLS,
    dump,
    open_readmodel,
    project,
    run_ledger,
    seed,
)


def _log(ledger: Ledger) -> None:
    seed(ledger)
    for voter in range(30):
        tool = TOOLS[voter % 3]
        ledger.cast_vote(CTX, f"v{voter}", tool, "ship")
        if voter % 2:
            ledger.cast_vote(CTX, f"v{voter}", tool, "skip")
    ledger.put_review(CTX, "alpha", "ada", verdict="ship", rationale="Fine.")


def test_replaying_a_batch_changes_nothing(ledger: Ledger, tmp_path: Path) -> None:
    _log(ledger)
    source = LogSource(ledger)
    raws = source.read(0, 1000)
    path = tmp_path / "model.sqlite"
    conn = open_readmodel(path)
    fortieth = raws[39][0]
    assert project(conn, 0, raws[:40], source) == fortieth
    once = dump(path)
    assert project(conn, 0, raws[:40], source) == fortieth  # the same batch again
    # a tail of it again
    assert project(conn, raws[19][0], raws[20:40], source) == fortieth
    assert dump(path) == once
    # An overlapping batch applies only what is new.
    assert project(conn, raws[29][0], raws[30:], source) == raws[-1][0]
    conn.close()
    source.close()
    build(ledger, tmp_path / "clean.sqlite")
    assert dump(path) == dump(tmp_path / "clean.sqlite")


def test_a_batch_that_would_skip_events_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    _log(ledger)
    source = LogSource(ledger)
    raws = source.read(0, 1000)
    path = tmp_path / "model.sqlite"
    conn = open_readmodel(path)
    project(conn, 0, raws[:10], source)
    before = dump(path)
    with pytest.raises(GapError):
        project(conn, 20, raws[20:30], source)
    assert dump(path) == before
    assert not conn.in_transaction
    conn.close()
    source.close()


def test_projectors_in_threads_share_one_file(ledger: Ledger, live_path: Path) -> None:
    _log(ledger)
    projectors = [Projector(ledger, live_path, batch_size=3) for _ in range(3)]
    threads = [threading.Thread(target=p.catch_up) for p in projectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for projector in projectors:
        assert projector.catch_up() == ledger.head_position()
        projector.close()
    clean = live_path.with_name("clean.sqlite")
    build(ledger, clean)
    assert dump(live_path) == dump(clean)


@pytest.mark.slow
def test_projector_processes_share_one_file(
    home: Path, event_store: Store, ledger: Ledger, live_path: Path
) -> None:
    _log(ledger)
    for voter in range(300):
        ledger.cast_vote(CTX, f"w{voter}", TOOLS[voter % 3], "skip")
    env = {**event_store.cli_env(), "PATH": "/usr/bin:/bin"}
    processes = [
        subprocess.Popen(
            [LEDGER, "project", "--batch-size", "7"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert f"projected up to position {ledger.head_position()}" in out
    clean = live_path.with_name("clean.sqlite")
    build(ledger, clean)
    assert dump(live_path) == dump(clean)
    status = run_ledger(home, "status")
    assert status.returncode == 0
