"""Storage faults, counted: the figures behind the 503 promise.

``tests/api/test_storage_faults.py`` proves each fault's contract in detail;
this runs the same faults (from :mod:`tests.api.faults`) over and over for
``scripts/bench.py reliability`` and counts what clients got. Each episode
breaks the storage, sends writes of every kind (a create with an
``Idempotency-Key``, a vote, an edit) and a readiness probe, clears the
fault and sends the same writes again. During the fault every write must be
a 503 with ``Retry-After`` and the log must not move; after it, every write
must succeed, with no restart.

A held lock is injected under a real two-worker ``ledger serve``. A full
disk and a read-only home need a small file system of their own (and root,
to mount it), and run in process, where the server's log file is not on
the broken file system.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from api import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from tests.api.faults import (
    disk_full,
    immutable,
    need_root,
    small_filesystem,
    write_lock_held,
)
from tests.api.helpers import CARD, issue_tokens, make_home, served, settings_for

SERVED_ENV = {"LEDGER_LOCK_TIMEOUT": "1", "LEDGER_READY_TIMEOUT": "0.2"}
BIG = "x" * 4000
"""A description that needs fresh pages on disk."""


class Counter(dict[str, int]):
    """Episodes injected, by kind of fault."""

    def add(self, kind: str) -> None:
        self[kind] = self.get(kind, 0) + 1


@dataclass
class Faults:
    """What clients got during and after injected storage faults."""

    injected: Counter = field(default_factory=Counter)
    requests: int = 0
    answered_503: int = 0
    other_5xx: int = 0
    without_retry_after: int = 0
    accepted_during_fault: int = 0
    appended_during_fault: int = 0
    ready_during_fault: int = 0
    not_recovered: int = 0
    skipped: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        return {
            "faults_injected": float(sum(self.injected.values())),
            "fault_requests": float(self.requests),
            "fault_503": float(self.answered_503),
            "fault_5xx": float(self.other_5xx + self.without_retry_after),
            "fault_partial_writes": float(
                self.accepted_during_fault + self.appended_during_fault
            ),
            "fault_unrecovered": float(self.not_recovered),
            "fault_ready_while_failing": float(self.ready_during_fault),
        }


class Writes:
    """The writes sent in each episode, new ones each time (a key, a choice)."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self.count = itertools.count(1)

    def batch(self) -> list[tuple[str, str, Mapping[str, object], dict[str, str]]]:
        n = next(self.count)
        editor = {"Authorization": f"Bearer {self.tokens['editor']}"}
        voter = {"Authorization": f"Bearer {self.tokens['voter']}"}
        tool = {
            "slug": f"fault-{n}",
            "name": f"Fault {n}",
            "vendor": "V",
            "category": "C",
            "description": BIG,
        }
        return [
            ("POST", "/api/tools", tool, {**editor, "Idempotency-Key": f"fault-{n}"}),
            ("PUT", CARD + "/vote", {"choice": ("ship", "skip")[n % 2]}, voter),
            ("PATCH", CARD, {"tagline": f"Fault {n}", "reason": "faults"}, editor),
        ]


def episode(
    client: httpx.Client,
    home: Path,
    writes: Writes,
    fault: Callable[[], AbstractContextManager[object]],
    found: Faults,
) -> None:
    """One fault: writes refused while it lasts, taken once it clears."""
    batch = writes.batch()
    with _ledger(home) as ledger:
        head = ledger.head_position()
        with fault():
            for method, path, body, headers in batch:
                answer = client.request(method, path, json=body, headers=headers)
                found.requests += 1
                if answer.status_code == 503:
                    found.answered_503 += 1
                    found.without_retry_after += "retry-after" not in answer.headers
                elif answer.status_code >= 500:
                    found.other_5xx += 1
                elif answer.is_success:
                    found.accepted_during_fault += 1
            found.ready_during_fault += client.get("/healthz/ready").status_code == 200
            found.appended_during_fault += ledger.head_position() - head
        for method, path, body, headers in batch:
            answer = client.request(method, path, json=body, headers=headers)
            found.requests += 1
            found.not_recovered += not answer.is_success


@contextlib.contextmanager
def _ledger(home: Path) -> Iterator[Ledger]:
    ledger = Ledger(Settings(home=home))
    try:
        yield ledger
    finally:
        ledger.close()


def run(root: Path, *, rounds: int = 1) -> Faults:
    """``rounds`` episodes of each fault this machine can inject."""
    found = Faults()
    home = make_home(root / "served")
    writes = Writes(issue_tokens(home))
    lock = home / "events.sqlite"
    with (
        served(home, workers=2, env=SERVED_ENV) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        for _ in range(rounds):
            episode(client, home, writes, lambda: write_lock_held(lock), found)
            found.injected.add("lock held")
    try:
        need_root()
        _mounted_faults(root, rounds, found)
    except pytest.skip.Exception as reason:
        found.skipped.append(f"full disk and read-only home: {reason}")
    return found


def _mounted_faults(root: Path, rounds: int, found: Faults) -> None:
    """A full disk and a read-only home, on a file system of their own."""
    with small_filesystem(root) as mount:
        home = make_home(mount)
        writes = Writes(issue_tokens(home))
        settings = settings_for(
            home,
            ledger=Settings(home=home, lock_timeout=1),
            ready_timeout_seconds=0.2,
            min_free_bytes=1024 * 1024,
            log_level="ERROR",  # a 503 is logged as a warning, each time
        )
        with TestClient(app=create_app(settings)) as client:
            unwritable = [
                path
                for path in home.iterdir()
                if path.is_file() and not path.name.endswith("-shm")
            ]
            for _ in range(rounds):
                episode(client, home, writes, lambda: disk_full(mount), found)
                found.injected.add("disk full")
                episode(
                    client,
                    home,
                    writes,
                    lambda: immutable(*unwritable, home),
                    found,
                )
                found.injected.add("read-only home")
