"""Acknowledged writes survive SIGKILLs of the whole server exactly once.

A real ``ledger serve`` (one worker, then two) is SIGKILLed at random
moments while client threads write over HTTP, and restarted; the writes left
without an answer are retried as a client would. See
:mod:`tests.reliability.crash` for what is sent and what the audit checks.
"""

from __future__ import annotations

from pathlib import Path

from tests.reliability import crash

CYCLES = 6


def test_every_acknowledged_write_is_in_the_log_exactly_once(tmp_path: Path) -> None:
    found = crash.run(
        tmp_path, workers=(1, 2), cycles=CYCLES, writers=3, uptime=(0.1, 0.6)
    )
    assert found.crash_cycles == 2 * CYCLES
    # the kills landed under load and left writes unanswered, which were retried
    assert found.acked_writes > 50
    assert found.retried_writes >= CYCLES
    assert found.unexpected == []
    assert found.lost_writes == 0
    assert found.duplicated_writes == 0
    assert found.misplaced_answers == 0
    assert found.unexplained_events == 0
    assert found.stuck_idempotency_keys == 0
    assert found.views_differ == 0
