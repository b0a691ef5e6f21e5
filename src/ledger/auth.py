"""API tokens: issued once, stored only as hashes, each with one role.

A token reads ``vl_<id>_<secret>``. The id finds the row; the secret is
checked against a SHA-256 digest keyed with the server secret, in constant
time. The plain token is shown once, when it is created, and never stored.

A token may expire, can be revoked, and remembers when it was last used, to
the minute: :meth:`TokenStoreBase.verify` only reads, and whoever verifies calls
:meth:`TokenStoreBase.touch` when :meth:`Principal.touch_due` says the stored
time is older than :data:`LAST_USE_GRANULARITY`, so a busy token costs one
write a minute rather than one a request.

:class:`TokenStoreBase` is all of that over a table; the table is in
``auth.sqlite`` beside the embedded store (:mod:`ledger.sqlite_tokens`) or
beside a PostgreSQL log (:mod:`ledger.postgres_tokens`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ledger import rules
from ledger.settings import Settings

ROLES = ("admin", "editor", "reviewer", "voter", "metrics")
PREFIX = "vl"
LAST_USE_GRANULARITY = timedelta(minutes=1)
"""A token's last use is stored at most this often."""

_COLUMNS = "{seq}, id, role, reviewer, created_at, expires_at, last_used_at, revoked_at"
INSERT_TOKEN = (
    "INSERT INTO {tokens} (id, digest, role, reviewer, created_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_KEPT = "id, digest, role, reviewer, created_at, expires_at, last_used_at, revoked_at"

State = Literal["live", "expired", "revoked"]


class TokenError(ValueError):
    """A token cannot be created or revoked as asked."""


class TokenNotFound(TokenError):
    """No token has that id."""


class TokenAlreadyRevoked(TokenError):
    """The token was revoked before; a revocation holds for good."""


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for.

    Attributes:
        token_id: The public half of the token; never personal.
        role: One of :data:`ROLES`.
        reviewer: For a reviewer token, the handle it may write reviews as.
        last_used_at: The last use stored before this one, if any.
    """

    token_id: str
    role: str
    reviewer: str | None = None
    last_used_at: datetime | None = field(default=None, compare=False)

    @property
    def actor(self) -> str:
        """The actor id stamped on the events this principal causes."""
        if self.role == "reviewer" and self.reviewer:
            return f"reviewer:{self.reviewer}"
        return f"{self.role}:{self.token_id}"

    def touch_due(self, now: datetime | None = None) -> bool:
        """Whether this use should be stored as the token's last."""
        last = self.last_used_at
        return last is None or _now(now) - last >= LAST_USE_GRANULARITY


@dataclass(frozen=True)
class TokenInfo:
    """What an operator may see of a token: never its secret nor its digest.

    Attributes:
        id: The token's public id, the part after ``vl_``.
        role: One of :data:`ROLES`.
        reviewer: The handle of a reviewer token.
        created_at: When it was issued.
        expires_at: When it stops working; None if it never does.
        last_used_at: Its last use, to :data:`LAST_USE_GRANULARITY`.
        revoked_at: When it was revoked, if it was.
        seq: Its place in the order tokens were issued (a list's cursor).
    """

    id: str
    role: str
    reviewer: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    seq: int

    def state(self, now: datetime | None = None) -> State:
        """``revoked``, ``expired`` or ``live``, in that order of precedence."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= _now(now):
            return "expired"
        return "live"

    def public(self, now: datetime | None = None) -> dict[str, object]:
        """Everything an operator may see of it, with its state, by name."""
        return {
            "id": self.id,
            "role": self.role,
            "reviewer": self.reviewer,
            "state": self.state(now),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }

    @classmethod
    def of_row(cls, row: tuple[object, ...]) -> TokenInfo:
        seq, token_id, role, reviewer, created, expires, used, revoked = row
        assert isinstance(seq, int)
        return cls(
            id=str(token_id),
            role=str(role),
            reviewer=None if reviewer is None else str(reviewer),
            created_at=datetime.fromisoformat(str(created)),
            expires_at=_time(expires),  # type: ignore[arg-type]
            last_used_at=_time(used),  # type: ignore[arg-type]
            revoked_at=_time(revoked),  # type: ignore[arg-type]
            seq=seq,
        )


class TokenStoreBase(ABC):
    """Issuing, checking, listing and revoking tokens, over a table of them.

    What a token is and how it is checked is here, once; the two stores
    below it only say where the table is and how to run a statement on it:
    :class:`TokenStore` in a SQLite file beside the embedded event store,
    :class:`ledger.postgres_tokens.PostgresTokenStore` in the PostgreSQL
    database of the event log, where every node finds the same tokens. Open
    the right one with :func:`open_token_store`.

    Statements are written with ``?`` placeholders, ``{tokens}`` for the
    table and ``{seq}`` for the column that orders tokens as issued.
    """

    thread_safe = False
    """Whether one store may serve every thread of a process."""
    remote = False
    """Whether a check is a round trip to a server rather than a file read."""
    busy: tuple[type[Exception], ...] = ()
    """Errors meaning the store was too busy to record a last use."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @abstractmethod
    def _rows(self, statement: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        """The rows a query returns."""

    @abstractmethod
    def _change(self, statement: str, args: Sequence[object]) -> int:
        """Runs a write in a transaction of its own; the rows it changed."""

    @abstractmethod
    def _insert(self, values: Sequence[object]) -> int:
        """Stores a new token's row from :data:`_INSERTED`; returns its seq."""

    @abstractmethod
    def close(self) -> None:
        """Lets go of the store's connections."""

    def _digest(self, token_secret: str) -> str:
        return hmac.new(self._secret, token_secret.encode(), hashlib.sha256).hexdigest()

    def issue(
        self,
        role: str,
        reviewer: str | None = None,
        *,
        expires_in: timedelta | None = None,
        now: datetime | None = None,
    ) -> tuple[str, TokenInfo]:
        """Issues a token for ``role``; returns it and what is kept of it.

        Args:
            role: One of :data:`ROLES`.
            reviewer: The handle a reviewer token writes as (only for those).
            expires_in: How long it works; forever when None.
            now: When it is issued (the current time by default).

        Raises:
            TokenError: The role is unknown, or a reviewer handle is missing
                or given to another role.
        """
        if role not in ROLES:
            msg = f"role must be one of {', '.join(ROLES)}, not {role!r}"
            raise TokenError(msg)
        if (role == "reviewer") != (reviewer is not None):
            msg = "a reviewer token needs a reviewer handle, and only it takes one"
            raise TokenError(msg)
        if reviewer is not None:
            rules.slug(reviewer, "handle")
        if expires_in is not None and expires_in <= timedelta(0):
            msg = "a token's lifetime must be longer than zero"
            raise TokenError(msg)
        created = _now(now)
        token_id = secrets.token_hex(6)
        token_secret = secrets.token_urlsafe(32)
        expires = None if expires_in is None else created + expires_in
        seq = self._insert(
            [
                token_id,
                self._digest(token_secret),
                role,
                reviewer,
                created.isoformat(),
                None if expires is None else expires.isoformat(),
            ]
        )
        info = TokenInfo(token_id, role, reviewer, created, expires, None, None, seq)
        return f"{PREFIX}_{token_id}_{token_secret}", info

    def create(self, role: str, reviewer: str | None = None) -> str:
        """Issues a token that never expires; returns only the token."""
        token, _ = self.issue(role, reviewer)
        return token

    def verify(self, token: str, now: datetime | None = None) -> Principal | None:
        """The principal of a valid, live token; None for anything else.

        Reads the token's row on every call and keeps nothing, so a token
        revoked or expired is refused from the next call on, in every
        process that holds the file open.
        """
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        _, token_id, token_secret = parts
        rows = self._rows(
            "SELECT digest, role, reviewer, revoked_at, expires_at, last_used_at "
            "FROM {tokens} WHERE id = ?",
            [token_id],
        )
        if not rows or rows[0][3]:
            return None
        row = rows[0]
        if not hmac.compare_digest(row[0], self._digest(token_secret)):
            return None
        expires = _time(row[4])
        if expires is not None and expires <= _now(now):
            return None
        return Principal(
            token_id=token_id, role=row[1], reviewer=row[2], last_used_at=_time(row[5])
        )

    def touch(self, token_id: str, now: datetime | None = None) -> bool:
        """Stores ``now`` as the token's last use, unless that is recent.

        Recent is within :data:`LAST_USE_GRANULARITY` of ``now``, so workers
        that touch the same token at once write it once. Best effort: a store
        busy beyond its timeout skips this use, which leaves the recorded
        time older by at most one more granularity.

        Returns:
            Whether the time was written.
        """
        used = _now(now).astimezone(UTC).replace(microsecond=0)
        recent = (used - LAST_USE_GRANULARITY).isoformat()
        try:
            changed = self._change(
                "UPDATE {tokens} SET last_used_at = ? WHERE id = ? "
                "AND (last_used_at IS NULL OR last_used_at <= ?)",
                [used.isoformat(), token_id, recent],
            )
        except self.busy:
            return False
        return changed == 1

    def get(self, token_id: str) -> TokenInfo | None:
        """What is kept of the token ``token_id``, if there is one."""
        rows = self._rows(f"SELECT {_COLUMNS} FROM {{tokens}} WHERE id = ?", [token_id])
        return TokenInfo.of_row(rows[0]) if rows else None

    def page(
        self, after: int = 0, limit: int = 100, role: str | None = None
    ) -> list[TokenInfo]:
        """Up to ``limit`` tokens issued after ``seq`` ``after``, oldest first."""
        where = "{seq} > ?" if role is None else "{seq} > ? AND role = ?"
        args: list[object] = [after] if role is None else [after, role]
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM {{tokens}} WHERE {where} ORDER BY {{seq}} LIMIT ?",
            [*args, limit],
        )
        return [TokenInfo.of_row(row) for row in rows]

    def revoke(self, token_id: str, now: datetime | None = None) -> bool:
        """Revokes a token by its id; False if there is no such live token."""
        changed = self._change(
            "UPDATE {tokens} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [_now(now).isoformat(), token_id],
        )
        return changed == 1

    def kept(self) -> list[tuple[Any, ...]]:
        """Every token as stored, digest included, in the order issued.

        For moving tokens to another store only (:meth:`keep`); never shown.
        """
        return self._rows(f"SELECT {_KEPT} FROM {{tokens}} ORDER BY {{seq}}", [])

    def keep(self, rows: Sequence[Sequence[object]]) -> int:
        """Stores tokens as :meth:`kept` gave them; returns how many were new.

        A token whose id is already here is left as it is. The digests stay
        valid only under the same server secret.
        """
        added = 0
        for row in rows:
            added += self._change(
                f"INSERT INTO {{tokens}} ({_KEPT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                row,
            )
        return added

    def revoke_known(self, token_id: str) -> TokenInfo:
        """Revokes the token ``token_id`` and returns it as revoked.

        Raises:
            TokenNotFound: No token has that id.
            TokenAlreadyRevoked: It was revoked before.
        """
        revoked = self.revoke(token_id)
        info = self.get(token_id)
        if info is None:
            msg = f"no token has the id {token_id!r}"
            raise TokenNotFound(msg)
        if not revoked:
            assert info.revoked_at is not None
            msg = (
                f"token {token_id} was already revoked at "
                f"{info.revoked_at.isoformat(timespec='seconds')}"
            )
            raise TokenAlreadyRevoked(msg)
        return info


def open_token_store(
    settings: Settings, env: Mapping[str, str] | None = None
) -> TokenStoreBase:
    """The token store of ``settings``: where every node of it finds its tokens.

    Beside the embedded event store, the SQLite file ``auth.sqlite`` of the
    home; with a PostgreSQL event store, a table beside the log, in its
    schema, shared by every node.

    Args:
        settings: The ledger's settings; the server secret keys the digests.
        env: What the ledger was given besides the process environment (the
            PostgreSQL schema, in tests).
    """
    # Imported here: each store builds on this module, and the embedded
    # store never imports psycopg.
    secret = settings.server_secret()
    if settings.event_store is None:
        from ledger.sqlite_tokens import TokenStore

        return TokenStore(settings.auth_path, secret)
    from ledger.postgres_tables import Place
    from ledger.postgres_tokens import PostgresTokenStore

    return PostgresTokenStore(Place.of(settings, env), secret)
