"""Whether an idempotency claim is still being worked on: one locked file each.

A claimed ``Idempotency-Key`` must answer 409 while its request runs, and be
recovered once that request can no longer finish (see
:mod:`api.idempotency`). The request that holds a claim holds an exclusive
``flock`` on a file named after it. The kernel drops the lock when the file
is closed: when the request ends, and also when its process dies however it
dies, SIGKILL and power loss included. So a claim is live exactly while its
lock is held, with nothing to tune and no way to be wrong about it:

- no lease that a slow but live command could outlast (and be done twice),
  and no wait of a lease's length before a dead one is recovered;
- no pid that could be reused, no clock, no heartbeat;
- every worker process of a node sees every other one's locks, and locks are
  per open file, so two requests of one worker exclude each other too;
- nodes keep their own ``LEDGER_HOME``; a home shared over a network file
  system gets the same lock semantics SQLite already needs for ``api.sqlite``
  (there, the file server's lease decides when a dead client's lock goes).

Files are made, probed and removed only inside the idempotency store's write
transaction on ``api.sqlite``, which every worker takes in turn; so no probe
ever sees a file between its creation and its locking. The only exception is
the holder removing its own file, which nothing else can then take for dead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path


class ClaimLocks:
    """The lock files of one store's claims: held here, or probed elsewhere.

    Args:
        directory: Where the lock files live; created if missing.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._held: dict[str, int] = {}

    def hold(self) -> str:
        """Creates and locks a new claim's file; returns the claim's owner id."""
        owner = secrets.token_hex(16)
        fd = os.open(self._path(owner), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        self._held[owner] = fd
        return owner

    def drop(self, owner: str) -> None:
        """Lets go of a claim held here (does nothing for one that is not)."""
        fd = self._held.pop(owner, None)
        if fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self._path(owner).unlink()
        os.close(fd)

    def is_live(self, owner: str | None) -> bool:
        """Whether a request still holds ``owner``'s claim, in any process.

        A dead owner's file is removed on the way. A claim recorded before
        claims had owners (None) is dead: no request can still hold it.
        """
        if owner is None or not _is_owner_id(owner):
            return False
        if owner in self._held:
            return True
        try:
            fd = os.open(self._path(owner), os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            with contextlib.suppress(FileNotFoundError):
                self._path(owner).unlink()
            return False
        finally:
            os.close(fd)

    def sweep(self) -> None:
        """Removes the files of dead claims, recovered or not.

        A dead claim without its file is as dead as with it, so this changes
        no answer; it only keeps crashes from leaving files behind.
        """
        for path in self._directory.iterdir():
            self.is_live(path.name)

    def close(self) -> None:
        """Lets go of every claim still held here (they become recoverable)."""
        for owner in list(self._held):
            self.drop(owner)

    def _path(self, owner: str) -> Path:
        return self._directory / owner


def _is_owner_id(name: str) -> bool:
    return len(name) == 32 and all(c in "0123456789abcdef" for c in name)
