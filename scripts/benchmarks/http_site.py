"""The site the http benchmark serves: its ledger, its server, what to ask it.

Either the demo ledger (two tools and one comparison, the figures of issue
4), or a generated one of ``--events`` events (:mod:`benchmarks.sitelife`,
two simulated years), whose read models the ledger's own ``ledger rebuild``
builds, as an operator would: the point of issue 11 is how pages and lists
hold up at the size a busy site reaches, where a tool's history runs to tens
of thousands of items.

What to request is found the way a client would: the busiest tool from the
query layer (or the tools list), the comparison from the comparisons list,
and the deep history page by following ``next`` links, never by making a
cursor up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from benchmarks import sitelife
from ledger import demo
from ledger import log as event_log
from ledger.application import Ledger
from ledger.settings import Settings
from ledger.sqlite_tokens import TokenStore

Say = Callable[[str], None]

DEMO_TOOL = "code-llama-4"
DEMO_COMPARISON = "/api/comparisons/code-llama-4/mistral-medium-3"
DEMO_VOTES = (
    ("/api/tools/code-llama-4/vote", '{"choice":"ship"}'),
    ("/api/tools/mistral-medium-3/vote", '{"choice":"ship"}'),
    ("/api/comparisons/code-llama-4/mistral-medium-3/vote", '{"pick":"code-llama-4"}'),
)
PAGE = 1000
"""Items per page asked for when walking a list to its end."""
SETTLE_PINGS = 8
"""Pings sent at once to see whether the server is idle."""
SETTLED_SECONDS = 0.25
"""A batch of pings answered within this means every worker is idle."""
PING = b"GET /healthz/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def ledger_command() -> str:
    """The ``ledger`` CLI of this interpreter's environment."""
    beside = Path(sys.executable).with_name("ledger")
    return str(beside) if beside.exists() else "ledger"


@contextmanager
def opened(home: Path) -> Iterator[Ledger]:
    """The ledger of ``home``, closed afterwards."""
    ledger = Ledger(Settings(home=home))
    try:
        yield ledger
    finally:
        ledger.close()


def head(home: Path) -> int:
    """The position of the newest event in ``home``'s log."""
    with opened(home) as ledger:
        return ledger.head_position()


def make(home: Path, events: int, seed: int, say: Say) -> int:
    """The demo ledger (``events`` 0) or a generated one, ready to serve.

    A generated log's read models are rebuilt with ``ledger rebuild``: the
    server would otherwise fold a million events on start, one batch at a
    time, while the loads run.

    Returns:
        The number of events in the log.
    """
    if not events:
        with opened(home) as ledger:
            demo.load(ledger)
        return head(home)
    started = time.monotonic()
    count = sitelife.generate(home, events, seed)
    say(f"log of {count:,} events at {home} in {time.monotonic() - started:.1f} s")
    done = subprocess.run(
        [ledger_command(), "rebuild"],
        env={**os.environ, "LEDGER_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        msg = f"ledger rebuild failed:\n{done.stderr}"
        raise SystemExit(msg)
    say(done.stdout.strip())
    return head(home)


def issue_tokens(home: Path, voters: int, say: Say) -> Path:
    """A file of ``voters`` voter tokens, one a line, issued as the CLI does."""
    settings = Settings(home=home)
    store = TokenStore(settings.auth_path, settings.server_secret())
    path = home / "voter-tokens.txt"
    started = time.monotonic()
    try:
        with path.open("w") as out:
            for _ in range(voters):
                out.write(store.create("voter") + "\n")
    finally:
        store.close()
    say(f"issued {voters} voter tokens in {time.monotonic() - started:.1f} s")
    return path


def votes_logged(home: Path, after: int) -> int:
    """Vote casts and changes in the log after position ``after``."""
    count = 0
    with opened(home) as ledger:
        while True:
            page = event_log.read(
                ledger.recorder,
                after=after,
                limit=5000,
                types=("Vote.Cast", "Vote.Changed"),
            )
            if not page:
                return count
            count += len(page)
            after = page[-1].position


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``ledger serve`` in a subprocess, stopped with SIGINT like a person would."""

    def __init__(
        self,
        home: Path,
        workers: int,
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("wb")
        env = {**os.environ, "LEDGER_HOME": str(home), **(env or {})}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        command = [ledger_command(), "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                msg = f"ledger serve exited early; see {log}"
                raise SystemExit(msg)
            try:
                if httpx.get(self.base + "/healthz/ping", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        msg = "ledger serve did not answer within 60 s"
        raise SystemExit(msg)

    def settle(self, timeout: float = 300.0) -> bool:
        """Waits until no worker is still answering what the last load sent.

        wrk stops counting when its time is up, but the requests it has sent
        are still answered: a slow read leaves seconds of work queued (more
        where wrk gave up on some and sent others), and the next load would
        be measured against it. Pings on fresh connections reach every
        worker, so once a whole batch of them answers at once, none is busy.

        Returns:
            Whether the server was idle within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with ThreadPoolExecutor(SETTLE_PINGS) as pool:
            while time.monotonic() < deadline:
                started = time.monotonic()
                list(pool.map(self._ping, [timeout] * SETTLE_PINGS))
                if time.monotonic() - started < SETTLED_SECONDS:
                    return True
        return False

    def _ping(self, timeout: float) -> None:
        """``GET /healthz/ping`` on a new connection, read to the end.

        A bare socket, since an HTTP client per ping would cost the CPU the
        server needs to work off its queue.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout) as sock:
            sock.sendall(PING)
            while sock.recv(65536):
                pass

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@dataclass(frozen=True)
class Targets:
    """What the loads request; paths and URLs are relative to the server.

    Attributes:
        tool: The busiest tool's slug (the most community votes on its card).
        comparison: A comparison's path, or None when there is none.
        history_deep: The ``next`` link that leads about halfway into the
            tool's history, or its first page when the history has one page.
        history_items: How many items the tool's history has.
        deep_skipped: How many of them come before the deep page.
        votes: Pairs of vote path and body, one subject each.
    """

    tool: str
    comparison: str | None
    history_deep: str
    history_items: int
    deep_skipped: int
    votes: tuple[tuple[str, str], ...]


def walk(client: httpx.Client, url: str) -> Iterator[tuple[str, list[Any]]]:
    """Each page of a list and its URL, following ``next`` links to the end.

    A list answers ``{"items": [...], "next": URL | null}``; an answer
    without ``next`` is taken as the only page.
    """
    while url:
        answer = client.get(url)
        answer.raise_for_status()
        body = answer.json()
        yield url, body["items"]
        link = body.get("next")
        url = urljoin(url, link) if link else ""


def find_targets(home: Path, base: str, *, generated: bool) -> Targets:
    """The busiest tool, a comparison, the deep history page and vote subjects."""
    votes: tuple[tuple[str, str], ...] = DEMO_VOTES
    comparison: str | None = DEMO_COMPARISON
    tool = DEMO_TOOL
    with httpx.Client(base_url=base, timeout=120) as client:
        if generated:
            cards = _cards(home)
            tool = max(cards, key=lambda card: card[1])[0]
            comparisons = next(walk(client, "/api/comparisons"))[1]
            comparison = None
            if comparisons:
                first = comparisons[0]
                comparison = f"/api/comparisons/{first['a']}/{first['b']}"
            votes = _vote_subjects(cards, comparisons)
        deep, items, skipped = _deep_history(client, tool)
    return Targets(tool, comparison, deep, items, skipped, votes)


def _cards(home: Path) -> list[tuple[str, int, bool]]:
    """Every tool's slug, community vote count and whether it is retired."""
    from projections import readmodel_path
    from projections.queries import ReadModel

    model = ReadModel(readmodel_path(Settings(home=home)))
    try:
        return [(c.slug, c.community.total, c.retired) for c in model.tools()]
    finally:
        model.close()


def _vote_subjects(
    cards: list[tuple[str, int, bool]], comparisons: list[dict[str, Any]]
) -> tuple[tuple[str, str], ...]:
    """The two busiest tools that take votes, and a comparison of live tools."""
    live = [card for card in sorted(cards, key=lambda c: -c[1]) if not card[2]]
    subjects = [(f"/api/tools/{slug}/vote", '{"choice":"ship"}') for slug, *_ in live]
    slugs = {slug for slug, *_ in live}
    for item in comparisons:
        if not item.get("retired") and {item["a"], item["b"]} <= slugs:
            path = f"/api/comparisons/{item['a']}/{item['b']}/vote"
            return (*subjects[:2], (path, f'{{"pick":"{item["a"]}"}}'))
    return tuple(subjects[:2])


def _deep_history(client: httpx.Client, tool: str) -> tuple[str, int, int]:
    """The link to the page about halfway into the tool's history.

    Walks the whole history by its ``next`` links, a thousand items a page,
    then picks the last link that starts at or before its middle item, and
    leaves its ``limit`` out: the deep page is one of the default size, as
    the first page is.

    Returns:
        The page's URL, the history's length and the items before the page.
    """
    pages = []
    seen = 0
    for url, items in walk(client, f"/api/tools/{tool}/history?limit={PAGE}"):
        pages.append((url, seen))
        seen += len(items)
    url, skipped = max(
        (page for page in pages if page[1] <= seen // 2), key=lambda page: page[1]
    )
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "limit"]
    return urlunsplit(parts._replace(query=urlencode(query))), seen, skipped
