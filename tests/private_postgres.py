"""A private, throwaway PostgreSQL server, for tests that stop and start one.

The shared server at 127.0.0.1:5432 carries every other test's schema, so a
test about PostgreSQL going down gets a cluster of its own: ``initdb`` into
a temporary directory, run as the ``postgres`` user (the server refuses to
run as root), trust authentication, listening on 127.0.0.1 on a free port
with its unix socket in that directory, ``fsync`` on. :func:`private_cluster`
removes it, stopped or not, when the block ends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "postgres"


def _bin_dir() -> Path | None:
    """The newest installed server's ``bin`` directory, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]),
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Cluster:
    """One private server: its directories, its port, and how to stop it.

    Attributes:
        bin: The directory of ``initdb`` and ``pg_ctl``.
        root: The temporary directory, owned by ``postgres``: the data
            directory, the unix socket and the server's log are in it.
        port: The TCP port on 127.0.0.1, the same after every restart.
        settings: Server settings given on every start (``-c name=value``).
    """

    bin: Path
    root: Path
    port: int
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        """The URL of the cluster's ``postgres`` database over TCP."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str, timeout: float = 60) -> None:
        """Runs a server program as ``postgres``; fails with its output."""
        argv = [str(self.bin / command[0]), *command[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", USER, "--", *argv]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            msg = f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}"
            raise RuntimeError(f"{msg}\n{result.stderr}\n{self.log_tail()}")

    def init(self) -> None:
        """Creates the data directory: trust auth, the ``postgres`` superuser."""
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        """Starts the server and returns once it accepts connections."""
        settings = {"listen_addresses": "127.0.0.1", "fsync": "on", **self.settings}
        options = " ".join(
            [f"-p {self.port} -k {self.root}"]
            + [f"-c {name}={value}" for name, value in settings.items()]
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stops the server (``fast``: clients are cut off, ``immediate``: a crash).

        Returns once the postmaster has exited.
        """
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log_tail(self, chars: int = 3000) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def kill(self) -> None:
        """Stops a server ``pg_ctl`` could not stop: SIGKILL to its postmaster.

        Its backends notice the postmaster gone and exit by themselves.
        """
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.05)


@contextmanager
def private_cluster(**settings: str) -> Iterator[Cluster]:
    """Yields a started private :class:`Cluster`; stops and deletes it after.

    Skips the test if no PostgreSQL server programs are installed.

    Args:
        **settings: Server settings (``wal_writer_delay="10s"``), kept for
            every start.
    """
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("no initdb under /usr/lib/postgresql/*/bin: server not installed")
    # Under /tmp, not pytest's tmp_path: ``postgres`` must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(USER)
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(bin_dir, root, _free_port(), settings)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            try:
                cluster.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                cluster.kill()
        shutil.rmtree(root, ignore_errors=True)
