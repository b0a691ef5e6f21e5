"""The helper processes of a bulk rebuild: started, followed, waited for, stopped.

A bulk rebuild runs its two halves in processes of their own so that each
takes a core (threads would share one interpreter and SQLite's process-wide
locks). Each runs the ``main(args)`` of a module of this package in a fresh
interpreter; it may report progress as lines on its standard output and read
orders as lines on its standard input, and whatever it writes to standard
error is its warnings, or the reason it failed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

log = logging.getLogger(__name__)


class Helper:
    """One helper process.

    Args:
        what: What it does, for the message if it fails (``"folding the log"``).
        module: The module whose ``main(args)`` it runs.
        args: Its arguments.
        talks: Whether it reports on stdout and takes orders on stdin.
        warns_to: The logger its standard error is relayed to, line by line,
            when it succeeds.
    """

    def __init__(
        self,
        what: str,
        module: str,
        args: list[str],
        *,
        talks: bool = False,
        warns_to: logging.Logger = log,
    ) -> None:
        self.what = what
        # Not ``-m``: the module is already imported by this package, and
        # running it as ``__main__`` too would load it twice.
        code = f"import sys, {module} as helper; helper.main(sys.argv[1:])"
        self.command = [sys.executable, "-c", code, *args]
        self.talks = talks
        self.warns_to = warns_to
        self.peak_rss_kb = 0
        """The process's own peak resident set size, once it has ended."""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self) -> None:
        """Starts the process."""
        # A file, not a pipe: warnings may be many, and a full pipe would
        # stall the helper while this process reads its progress.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finish)
        pipe = subprocess.PIPE if self.talks else subprocess.DEVNULL
        self._process = subprocess.Popen(
            self.command, stdin=pipe, stdout=pipe, stderr=self._stderr, text=True
        )

    def lines(self) -> Iterator[str]:
        """What it reports, line by line, until it closes its standard output."""
        stdout = self._started().stdout
        assert stdout is not None, "a helper that talks"
        yield from stdout

    def tell(self, line: str) -> None:
        """Sends one order, and closes its standard input."""
        stdin = self._started().stdin
        assert stdin is not None, "a helper that talks"
        try:
            stdin.write(line + "\n")
            stdin.close()
        except BrokenPipeError:
            pass  # it has failed: finish() says why

    def finish(self, *, check: bool = True) -> None:
        """Waits for it to end; raises with its last words if it failed.

        Raises:
            RuntimeError: ``"<what> failed: <its last line of stderr>"``.
        """
        process = self._started()
        if process.stdout is not None:
            process.stdout.close()
        self.peak_rss_kb = _wait(process)
        assert self._stderr is not None
        self._stderr.seek(0)
        said = self._stderr.read().decode(errors="replace").strip().splitlines()
        self._stderr.close()
        if not check:
            return  # stopped: what it said on the way out does not matter
        if process.returncode != 0:
            last = said[-1] if said else f"exit code {process.returncode}"
            msg = f"{self.what} failed: {last}"
            raise RuntimeError(msg)
        for line in said:
            self.warns_to.warning("%s", line)

    def cancel(self) -> None:
        """Stops it, when the rebuild failed elsewhere."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            self.finish(check=False)

    def _started(self) -> subprocess.Popen[str]:
        assert self._process is not None, "start() first"
        return self._process


def _wait(process: subprocess.Popen[str]) -> int:
    """Waits for a process to end; returns its peak RSS in KiB.

    ``os.wait4`` gives each child's own peak, which ``getrusage`` does not
    once there are several: it reports the largest. 0 if it was reaped
    before, as ``Popen.kill`` does with a process that has ended.
    """
    if process.returncode is None:
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except ChildProcessError:  # reaped already: Popen polls before a kill
            pass
        else:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss
    process.wait()
    return 0


def report(*parts: object) -> None:
    """Reports one line to the rebuild, from inside a helper process."""
    print(*parts, flush=True)


def order() -> str:
    """Reads the rebuild's order, from inside a helper process."""
    return sys.stdin.readline().strip()
