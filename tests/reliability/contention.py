"""Contention: several clients edit one tool at once, each with ``If-Match``.

Each client reads the version it knows, sends an edit conditional on it,
and on a refusal reads the card again and retries. Every attempt must be a
2xx or a conflict (412 for a stale ``If-Match``, 409 for a race the ledger
caught at append), and the tool's final version must be its first plus one
per 2xx edit: an edit acknowledged but overwritten by another, or based on
a version it did not see, would break that count.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ledger import log
from ledger.application import Ledger
from ledger.settings import Settings
from tests.api.helpers import served

TOOL = "code-llama-4"
CONFLICTS = (409, 412)


@dataclass
class Contention:
    """What the racing edits were answered, and what the log holds after."""

    attempts: int = 0
    applied: int = 0
    conflicts: int = 0
    other_answers: Counter[int] = field(default_factory=Counter)
    final_version: int = 0
    first_version: int = 0
    edits_logged: int = 0

    @property
    def lost_updates(self) -> int:
        """2xx edits that the tool's version or the log does not account for."""
        by_version = self.final_version - self.first_version
        return abs(self.applied - by_version) + abs(self.applied - self.edits_logged)

    def figures(self) -> dict[str, float]:
        return {
            "contention_attempts": float(self.attempts),
            "contention_applied": float(self.applied),
            "conflicts": float(self.conflicts),
            "contention_other_answers": float(sum(self.other_answers.values())),
            "lost_updates": float(self.lost_updates),
        }


def _tool(home: Path, after: int) -> tuple[int, int, int]:
    """The tool's version, the log's head and the edits appended after ``after``."""
    ledger = Ledger(Settings(home=home))
    try:
        version: int = ledger.tool(TOOL)["version"]
        edits = log.read(
            ledger.recorder, after=after, limit=10**7, types=["Tool.Edited"]
        )
        return version, ledger.head_position(), len(edits)
    finally:
        ledger.close()


def _client(
    base: str,
    token: str,
    name: str,
    attempts: int,
    found: Contention,
    lock: threading.Lock,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=30) as client:
        version = client.get(f"/api/tools/{TOOL}").json()["version"]
        for n in range(attempts):
            answer = client.patch(
                f"/api/tools/{TOOL}",
                json={"tagline": f"{name} edit {n}", "reason": "contention"},
                headers={**headers, "If-Match": str(version)},
            )
            with lock:
                found.attempts += 1
                if answer.is_success:
                    found.applied += 1
                elif answer.status_code in CONFLICTS:
                    found.conflicts += 1
                else:
                    found.other_answers[answer.status_code] += 1
            if answer.is_success:
                version = answer.json()["version"]
            else:
                # The read model may lag the write side; a stale read only
                # makes the next attempt another conflict.
                version = client.get(f"/api/tools/{TOOL}").json()["version"]


def run(home: Path, editor: str, *, clients: int = 4, attempts: int = 25) -> Contention:
    """``clients`` threads each send ``attempts`` conditional edits of one tool.

    Args:
        home: A demo ledger's home, not being served.
        editor: An editor token of that ledger.
        clients: Threads editing at once.
        attempts: Edits each thread sends.
    """
    found = Contention()
    found.first_version, head, _ = _tool(home, 0)
    lock = threading.Lock()
    with served(home, workers=2) as base:
        threads = [
            threading.Thread(
                target=_client, args=(base, editor, f"c{i}", attempts, found, lock)
            )
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    found.final_version, _, found.edits_logged = _tool(home, head)
    return found
