"""Signed checkpoints of the log's tree: their format, where they are kept, when.

A checkpoint is the C2SP tlog-checkpoint body (origin, tree size, base64
root) signed as a C2SP note (:mod:`projections.signed_notes`). Unlike the
read models, published checkpoints are never rebuilt: they are what the
log is checked against, so they live in a file of their own in
``LEDGER_HOME`` (``checkpoints.sqlite``), oldest first, beside the signing
key (``log.key``, mode 0600). A :class:`Checkpointer` signs a new one when
the log has grown by ``every`` events or ``seconds`` have passed since the
last; every projector of a node may ask, and the store's write lock makes
sure one tree size is published once.
"""

from __future__ import annotations

import base64
import binascii
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ledger.settings import Settings, env_value
from projections.signed_notes import (
    NoteError,
    SignerKey,
    VerifierKey,
    load_or_create,
)

DEFAULT_ORIGIN = "verdict-ledger.localhost/log"
MAX_ORIGIN = 200


@dataclass(frozen=True)
class ChainSettings:
    """Where and how often the ledger signs checkpoints.

    Attributes:
        home: The ledger's home, which keeps the key and the checkpoints.
        origin: The log's name, first line of every checkpoint and the key's
            name (``LEDGER_LOG_ORIGIN``); unique per ledger.
        every: Sign once the log has grown by this many events
            (``LEDGER_CHECKPOINT_EVERY``).
        seconds: Or once this many seconds have passed since the last,
            if the log has grown at all (``LEDGER_CHECKPOINT_SECONDS``).
    """

    home: Path
    origin: str = DEFAULT_ORIGIN
    every: int = 1000
    seconds: float = 60.0

    @property
    def key_path(self) -> Path:
        """The signing key's file."""
        return self.home / "log.key"

    @property
    def store_path(self) -> Path:
        """The published checkpoints' file."""
        return self.home / "checkpoints.sqlite"

    @classmethod
    def from_env(
        cls, settings: Settings, environ: Mapping[str, str] | None = None
    ) -> ChainSettings:
        """Reads the ``LEDGER_LOG_ORIGIN`` and ``LEDGER_CHECKPOINT_*`` variables."""
        env = os.environ if environ is None else environ
        origin = env_value(env, "LEDGER_LOG_ORIGIN", DEFAULT_ORIGIN)
        if (
            len(origin) > MAX_ORIGIN
            or not origin.isprintable()
            or any(c.isspace() or c == "+" for c in origin)
        ):
            msg = (
                "LEDGER_LOG_ORIGIN must be a name without spaces or '+' of at "
                f"most {MAX_ORIGIN} characters, not {origin[:MAX_ORIGIN]!r}"
            )
            raise ValueError(msg)
        return cls(
            home=settings.home,
            origin=origin,
            every=env_value(env, "LEDGER_CHECKPOINT_EVERY", 1000, minimum=1),
            seconds=env_value(env, "LEDGER_CHECKPOINT_SECONDS", 60.0, minimum=0.01),
        )

    def signer(self) -> SignerKey:
        """The signing key, made on first use."""
        return load_or_create(self.key_path, self.origin)


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: which log, how many leaves, and their root."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """The body as signed: three lines, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Reads a body (extension lines after the third are allowed).

        Raises:
            NoteError: If it is not a checkpoint body.
        """
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            msg = "a checkpoint is an origin, a tree size and a root hash"
            raise NoteError(msg)
        origin, size, root = lines[:3]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            msg = f"a checkpoint's tree size is a decimal number, not {size[:30]!r}"
            raise NoteError(msg)
        try:
            hashed = base64.b64decode(root, validate=True)
        except binascii.Error as error:
            msg = f"a checkpoint's root is base64, not {root[:60]!r}"
            raise NoteError(msg) from error
        if len(hashed) != 32:
            msg = "a checkpoint's root is a SHA-256 hash"
            raise NoteError(msg)
        return cls(origin, int(size), hashed)


@dataclass(frozen=True)
class Published:
    """A checkpoint as kept: the signed note and when it was signed."""

    seq: int
    tree_size: int
    signed_at: str
    note: str

    def checkpoint(self, key: VerifierKey, origin: str) -> Checkpoint:
        """The checkpoint, if ``key`` signed it for ``origin`` at this tree size.

        Raises:
            NoteError: Saying why it is not genuine.
        """
        checkpoint = Checkpoint.parse(key.verify(self.note))
        if checkpoint.origin != origin:
            msg = f"it is for the log {checkpoint.origin!r}, not {origin!r}"
            raise NoteError(msg)
        if checkpoint.size != self.tree_size:
            msg = f"it says size {checkpoint.size}: it was put back in another's place"
            raise NoteError(msg)
        return checkpoint


class CheckpointStore:
    """The published checkpoints of one ledger, oldest first.

    Args:
        path: The store's SQLite file, created if missing.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=10
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS checkpoints ("
            " seq INTEGER PRIMARY KEY, tree_size INTEGER NOT NULL,"
            " signed_at TEXT NOT NULL, note TEXT NOT NULL)"
        )
        self.conn.execute(
            "CREATE INDEX IF NOT EXISTS idx_checkpoints_size "
            "ON checkpoints (tree_size, seq)"
        )

    def close(self) -> None:
        """Closes the file."""
        self.conn.close()

    def _published(self, where: str, params: tuple[int, ...]) -> list[Published]:
        return [
            Published(*row)
            for row in self.conn.execute(
                f"SELECT seq, tree_size, signed_at, note FROM checkpoints {where}",
                params,
            )
        ]

    def latest(self) -> Published | None:
        """The newest checkpoint, or None before the first."""
        found = self._published("ORDER BY seq DESC LIMIT 1", ())
        return found[0] if found else None

    def at_size(self, size: int) -> Published | None:
        """The newest checkpoint of tree size ``size``, if one was published."""
        found = self._published(
            "WHERE tree_size = ? ORDER BY seq DESC LIMIT 1", (size,)
        )
        return found[0] if found else None

    def after(self, size: int, limit: int) -> list[Published]:
        """Up to ``limit`` checkpoints of tree sizes above ``size``, smallest first."""
        return self._published(
            "WHERE tree_size > ? ORDER BY tree_size, seq LIMIT ?", (size, limit)
        )

    def every(self) -> list[Published]:
        """Every stored checkpoint, in the order they were stored."""
        return self._published("ORDER BY seq", ())

    def publish(self, checkpoint: Checkpoint, signer: SignerKey) -> Published | None:
        """Signs and stores ``checkpoint`` unless one as large is published already.

        Returns:
            The new checkpoint, or None if the log has not grown past the
            newest.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            newest = self.conn.execute(
                "SELECT MAX(tree_size) FROM checkpoints"
            ).fetchone()[0]
            if newest is not None and checkpoint.size <= newest:
                self.conn.execute("COMMIT")
                return None
            note = signer.sign(checkpoint.text())
            signed_at = datetime.now(UTC).isoformat(timespec="seconds")
            cursor = self.conn.execute(
                "INSERT INTO checkpoints (tree_size, signed_at, note) VALUES (?, ?, ?)",
                (checkpoint.size, signed_at, note),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        seq = cursor.lastrowid
        assert seq is not None
        return Published(seq, checkpoint.size, signed_at, note)


class Checkpointer:
    """Signs a checkpoint of the tree when enough events or time have passed.

    Args:
        settings: The origin, key and store, and how often to sign.
    """

    def __init__(self, settings: ChainSettings) -> None:
        self.settings = settings
        self.signer = settings.signer()
        self.store = CheckpointStore(settings.store_path)
        self._last = self.store.latest()
        self._checked = time.monotonic()

    def close(self) -> None:
        """Closes the store."""
        self.store.close()

    def due(self, size: int) -> bool:
        """Whether a tree of ``size`` leaves should be signed now."""
        last = self._last
        if last is None:
            return size > 0
        if size <= last.tree_size:
            return False
        if size - last.tree_size >= self.settings.every:
            return True
        return time.monotonic() - self._checked >= self.settings.seconds

    def sign(self, size: int, root: bytes) -> Published | None:
        """Publishes the tree of ``size`` leaves with ``root`` (if it is new)."""
        published = self.store.publish(
            Checkpoint(self.settings.origin, size, root), self.signer
        )
        self._last = published or self.store.latest()
        self._checked = time.monotonic()
        return published
