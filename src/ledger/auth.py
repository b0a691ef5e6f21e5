"""API tokens: issued once, stored only as hashes, each with one role.

A token reads ``vl_<id>_<secret>``. The id finds the row; the secret is
checked against a SHA-256 digest keyed with the server secret, in constant
time. The plain token is shown once, when it is created, and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import Table

from ledger import rules

ROLES = ("admin", "editor", "reviewer", "voter")
PREFIX = "vl"


class TokenError(ValueError):
    """A token cannot be created as asked."""


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for.

    Attributes:
        token_id: The public half of the token; never personal.
        role: One of :data:`ROLES`.
        reviewer: For a reviewer token, the handle it may write reviews as.
    """

    token_id: str
    role: str
    reviewer: str | None = None

    @property
    def actor(self) -> str:
        """The actor id stamped on the events this principal causes."""
        if self.role == "reviewer" and self.reviewer:
            return f"reviewer:{self.reviewer}"
        return f"{self.role}:{self.token_id}"


class TokenStore:
    """Hashed tokens in a small SQLite file beside the event store."""

    def __init__(self, path: Path, secret: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite_utils.Database(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._secret = secret
        self._table: Table = self._db.table("tokens")
        if not self._table.exists():
            self._table.create(
                {
                    "id": str,
                    "digest": str,
                    "role": str,
                    "reviewer": str,
                    "created_at": str,
                    "revoked_at": str,
                },
                pk="id",
                not_null={"digest", "role", "created_at"},
            )

    def _digest(self, token_secret: str) -> str:
        return hmac.new(self._secret, token_secret.encode(), hashlib.sha256).hexdigest()

    def create(self, role: str, reviewer: str | None = None) -> str:
        """Issues a token for ``role`` and returns it; only its hash is kept."""
        if role not in ROLES:
            msg = f"role must be one of {', '.join(ROLES)}, not {role!r}"
            raise TokenError(msg)
        if (role == "reviewer") != (reviewer is not None):
            msg = "a reviewer token needs --reviewer HANDLE, and only it takes one"
            raise TokenError(msg)
        if reviewer is not None:
            rules.slug(reviewer, "handle")
        token_id = secrets.token_hex(6)
        token_secret = secrets.token_urlsafe(32)
        with self._db.conn:
            self._table.insert(
                {
                    "id": token_id,
                    "digest": self._digest(token_secret),
                    "role": role,
                    "reviewer": reviewer,
                    "created_at": datetime.now(UTC).isoformat(),
                    "revoked_at": None,
                }
            )
        return f"{PREFIX}_{token_id}_{token_secret}"

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None for anything else."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        _, token_id, token_secret = parts
        # One indexed SELECT: sqlite-utils' Table.get re-reads the schema on
        # every call, which costs more than the check itself.
        row = self._db.execute(
            "SELECT digest, role, reviewer, revoked_at FROM tokens WHERE id = ?",
            [token_id],
        ).fetchone()
        if row is None or row[3]:
            return None
        if not hmac.compare_digest(row[0], self._digest(token_secret)):
            return None
        return Principal(token_id=token_id, role=row[1], reviewer=row[2])

    def revoke(self, token_id: str) -> bool:
        """Revokes a token by its id; False if there is no such live token."""
        with self._db.conn:
            cursor = self._db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                [datetime.now(UTC).isoformat(), token_id],
            )
        return cursor.rowcount == 1

    def close(self) -> None:
        self._db.close()
