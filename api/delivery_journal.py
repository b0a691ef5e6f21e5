"""The digest's send journal: which subscriber was mailed which week, at most once.

One row per week and subscription in ``deliveries.sqlite`` of the ledger's
home. A batch of rows is claimed as ``sending`` in one transaction, made
durable, *before* any of its mails is handed to the relay, and marked
``sent`` (or ``failed``, for an address the relay refused) once they are.
So a send that is interrupted and run again skips every row it finds, and a
row still ``sending`` is one whose mail may or may not have gone: it is
reported as uncertain and left alone (at most once), unless the operator,
having checked, asks for those to be sent again.

The journal lives in the node's home, so the digest of a week is sent from
one node: two nodes sharing a PostgreSQL log would each keep their own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.personal_data import now_text

SENDING = "sending"
SENT = "sent"
FAILED = "failed"
JOURNAL = "deliveries.sqlite"

DDL = """
CREATE TABLE IF NOT EXISTS deliveries (
    week TEXT NOT NULL,
    subscription TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    claimed_at TEXT NOT NULL,
    settled_at TEXT,
    PRIMARY KEY (week, subscription)
) WITHOUT ROWID"""


@dataclass(frozen=True)
class Claim:
    """What claiming one batch found.

    Attributes:
        claimed: The subscriptions this run now sends to, in the order given.
        done: How many were sent (or refused) by an earlier run.
        uncertain: How many an interrupted run left ``sending``.
    """

    claimed: list[str]
    done: int
    uncertain: int


class Journal:
    """The send journal of one ledger home.

    Args:
        path: The journal's SQLite file (``LEDGER_HOME/deliveries.sqlite``).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(DDL)

    def claim(
        self, week: str, subscriptions: Sequence[str], *, resend_uncertain: bool
    ) -> Claim:
        """Claims the rows of ``subscriptions`` nobody has claimed for ``week``.

        One write transaction, committed (and synced) before returning, so
        two runs at once never claim the same row.
        """
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = dict(
                conn.execute(
                    "SELECT subscription, status FROM deliveries WHERE week = ? "
                    f"AND subscription IN ({','.join('?' * len(subscriptions))})",
                    (week, *subscriptions),
                ).fetchall()
            )
            uncertain = sum(status == SENDING for status in found.values())
            claimed = [
                s
                for s in subscriptions
                if s not in found or (resend_uncertain and found[s] == SENDING)
            ]
            now = now_text()
            conn.executemany(
                "INSERT INTO deliveries (week, subscription, status, claimed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (week, subscription) DO UPDATE "
                "SET claimed_at = excluded.claimed_at",
                [(week, s, SENDING, now) for s in claimed],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done = len(found) - uncertain
        return Claim(claimed, done, 0 if resend_uncertain else uncertain)

    def settle(
        self,
        week: str,
        *,
        sent: Iterable[str] = (),
        failed: Iterable[tuple[str, str]] = (),
        released: Iterable[str] = (),
    ) -> None:
        """Records a batch's outcome in one transaction.

        Args:
            week: The week.
            sent: Handed over to the relay.
            failed: Refused by the relay for good, with its answer.
            released: Never handed over: claimable again by the next run.
        """
        now = now_text()
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "UPDATE deliveries SET status = ?, settled_at = ? "
                "WHERE week = ? AND subscription = ?",
                [(SENT, now, week, s) for s in sent],
            )
            conn.executemany(
                "UPDATE deliveries SET status = ?, detail = ?, settled_at = ? "
                "WHERE week = ? AND subscription = ?",
                [(FAILED, detail, now, week, s) for s, detail in failed],
            )
            conn.executemany(
                "DELETE FROM deliveries WHERE week = ? AND subscription = ? "
                "AND status = ?",
                [(week, s, SENDING) for s in released],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def counts(self, week: str) -> dict[str, int]:
        """How many rows of ``week`` are in each status."""
        return dict(
            self.conn.execute(
                "SELECT status, count(*) FROM deliveries WHERE week = ? "
                "GROUP BY status",
                (week,),
            ).fetchall()
        )

    def close(self) -> None:
        self.conn.close()


def journal_path(home: Path) -> Path:
    """Where the journal of the ledger in ``home`` is kept."""
    return home / JOURNAL
