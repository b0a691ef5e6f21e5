"""Several ``ledger serve`` nodes on one PostgreSQL log, and the log going away.

Each node is a real server with a home of its own (its own read models, fed
by its own projector) and the same ``LEDGER_EVENT_STORE``. A write made on
one node is read on the other (at once with ``min_position``, eventually
without), streamed by the other's SSE clients and in its Atom feed; edits
raced from both nodes to one tool have one winner per version; and when
PostgreSQL goes out of reach under writes from both, writes answer 503 with
``Retry-After``, reads keep being served, nothing acknowledged is lost or
doubled, and both nodes take writes again once it is back, without a restart.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger import demo, log
from ledger.application import Ledger
from ledger.settings import Settings
from tests.api.faults import TcpProxy
from tests.api.helpers import CARD, issue_tokens, problem, served
from tests.api.test_server import _events
from tests.helpers import URL, Postgres, private_schema

ATOM = "{http://www.w3.org/2005/Atom}"
CONFLICTS = {"/problems/concurrency-conflict", "/problems/stale-version"}


@dataclass
class Nodes:
    """Two served nodes on one log, and the tokens both of them accept."""

    homes: list[Path]
    bases: list[str]
    tokens: dict[str, str]
    log_of: Callable[[], list[log.LoggedEvent]]

    def auth(self, who: str, **headers: str) -> dict[str, str]:
        """``headers`` with the bearer token of ``who`` (a key of :attr:`tokens`)."""
        return {"Authorization": f"Bearer {self.tokens[who]}", **headers}

    def vote(self, base: str, choice: str) -> httpx.Response:
        """The demo voter's vote on the demo card, sent to the node at ``base``."""
        return httpx.put(
            base + CARD + "/vote",
            json={"choice": choice},
            headers=self.auth("voter"),
            timeout=10,
        )


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Postgres]:
    """A private schema of the test database, dropped after the test."""
    yield from private_schema(tmp_path / "admin")


@contextmanager
def two_nodes(
    root: Path, schema: Postgres, url: str = URL, workers: int = 1
) -> Iterator[Nodes]:
    """Two ``ledger serve`` nodes on the demo ledger in ``schema``, over ``url``.

    The nodes share what a deployment copies to every node, the server
    secret (voters are hashed with it); the tokens are in the database.
    """
    env = {**schema.env, "LEDGER_EVENT_STORE": url}
    first, second = root / "node-a", root / "node-b"
    ledger = Ledger(Settings(home=first, event_store=URL), schema.env)
    try:
        demo.load(ledger)
    finally:
        ledger.close()
    tokens = issue_tokens(first, Settings(home=first, event_store=URL), schema.env)
    second.mkdir()
    shutil.copy2(first / "secret.key", second / "secret.key")
    reader = Ledger(Settings(home=root / "reader", event_store=URL), schema.env)
    node_env = {
        **env,
        "LEDGER_LOCK_TIMEOUT": "1",
        "LEDGER_READY_TIMEOUT": "0.2",
        "LEDGER_MIN_POSITION_TIMEOUT": "10",
        "LEDGER_STREAM_KEEPALIVE": "1",
    }
    try:
        with ExitStack() as stack:
            homes = [first, second]
            bases = [
                stack.enter_context(served(home, workers=workers, env=node_env))
                for home in homes
            ]
            yield Nodes(
                homes,
                bases,
                tokens,
                lambda: log.read(reader.recorder, limit=1_000_000),
            )
    finally:
        reader.close()


def test_a_write_on_one_node_is_read_on_the_other(
    tmp_path: Path, schema: Postgres
) -> None:
    with two_nodes(tmp_path, schema) as nodes:
        one, other = nodes.bases
        tool = {"slug": "from-a", "name": "From A", "vendor": "V", "category": "C"}
        created = httpx.post(
            one + "/api/tools", json=tool, headers=nodes.auth("editor"), timeout=10
        )
        assert created.status_code == 201, created.text
        position = created.json()["position"]
        seen = httpx.get(
            other + "/api/tools/from-a", params={"min_position": position}, timeout=15
        )
        assert seen.status_code == 200, seen.text
        assert seen.json()["name"] == "From A"
        # The other way round, and without min_position: the node catches up.
        vote = nodes.vote(other, "skip")
        assert vote.status_code == 201, vote.text
        assert _eventually(lambda: _skips(one) == 1)
        # One voter on two nodes is one voter: the second vote changes the first.
        again = nodes.vote(one, "ship")
        assert again.status_code == 200, again.text
        card = httpx.get(
            other + CARD,
            params={"min_position": again.json()["position"]},
            timeout=15,
        ).json()
        assert card["community"]["skip"] == 0
        assert card["community"]["ship"] >= 1


def test_streams_and_feed_on_one_node_see_writes_made_on_the_other(
    tmp_path: Path, schema: Postgres
) -> None:
    with two_nodes(tmp_path, schema) as nodes:
        one, other = nodes.bases
        with (
            httpx.Client(timeout=httpx.Timeout(15.0)) as client,
            client.stream("GET", other + "/api/events/stream") as live,
        ):
            assert live.status_code == 200
            review = httpx.put(
                one + "/api/tools/code-llama-4/reviews/skeptic",
                json={
                    "verdict": "skip",
                    "rationale": "Slower than it claims.",
                    "reason": "cross-node benchmarks",
                },
                headers=nodes.auth("skeptic"),
                timeout=10,
            )
            assert review.status_code in (200, 201), review.text
            position = review.json()["position"]
            received = _events(live, 1)
        assert [int(event["id"]) for event in received] == [position]
        feed = httpx.get(
            other + "/feeds/verdicts.atom",
            params={"min_position": position},
            timeout=15,
        )
        assert feed.status_code == 200, feed.text
        newest = ET.fromstring(feed.content).findall(f"{ATOM}entry")[0]
        assert "Reason: cross-node benchmarks." in ET.tostring(
            newest, encoding="unicode"
        )


def test_edits_raced_from_both_nodes_have_one_winner_per_version(
    tmp_path: Path, schema: Postgres
) -> None:
    """Two workers on each node: on PostgreSQL no worker waits on a writer lock."""
    with two_nodes(tmp_path, schema, workers=2) as nodes:
        before = len(nodes.log_of())
        first = _version(httpx.get(nodes.bases[0] + CARD, timeout=10))
        answers: list[httpx.Response] = []
        lock = threading.Lock()
        counter = itertools.count()

        def editor(base: str) -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                for _ in range(8):
                    etag = client.get(CARD).headers["ETag"]
                    answer = client.patch(
                        CARD,
                        json={"tagline": f"Tagline {next(counter)}"},
                        headers=nodes.auth("editor", **{"If-Match": etag}),
                    )
                    with lock:
                        answers.append(answer)

        racers = [
            threading.Thread(target=editor, args=(base,)) for base in nodes.bases * 2
        ]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(120)
        statuses = [answer.status_code for answer in answers]
        assert len(statuses) == 32
        assert set(statuses) <= {200, 409, 412}, statuses
        won = sorted(
            answer.json()["version"] for answer in answers if answer.status_code == 200
        )
        # Every version after the first has exactly one winner, none is lost.
        assert won == list(range(first + 1, first + 1 + len(won)))
        assert len(won) < len(statuses)  # the nodes did race
        for answer in answers:
            if answer.status_code != 200:
                assert problem(answer, answer.status_code)["type"] in CONFLICTS
        edits = [
            event for event in nodes.log_of()[before:] if event.type == "Tool.Edited"
        ]
        assert sorted(event.version for event in edits) == won
        assert not any((home / "writer.lock").exists() for home in nodes.homes)
        newest = max(a.json()["position"] for a in answers if a.status_code == 200)
        for base in nodes.bases:
            final = httpx.get(base + CARD, params={"min_position": newest}, timeout=15)
            assert _version(final) == first + len(won)


def _version(card: httpx.Response) -> int:
    """The tool version in a card's ETag, ``"slug:version:position"``."""
    return int(card.headers["ETag"].strip('"').split(":")[1])


def _skips(base: str) -> int:
    skips: int = httpx.get(base + CARD, timeout=10).json()["community"]["skip"]
    return skips


def _eventually(check: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_both_nodes_ride_out_postgresql_going_away_under_writes(
    tmp_path: Path, schema: Postgres
) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    relayed = URL.replace(":5432/", f":{proxy.port}/")
    try:
        with (
            two_nodes(tmp_path, schema, relayed) as nodes,
            httpx.Client(timeout=httpx.Timeout(15.0)) as client,
            client.stream("GET", nodes.bases[1] + "/api/events/stream") as live,
        ):
            before = nodes.log_of()
            load = _WriteLoad(nodes)
            load.start()
            time.sleep(1)
            proxy.cut()
            cut_at = len(load.answers)
            # Every node refuses writes (503) while the log is out of reach.
            assert _eventually(
                lambda: all(load.refused_since(cut_at, b) >= 2 for b in nodes.bases)
            )
            for base in nodes.bases:
                _reads_without_the_log(base)
            proxy.start()
            back_at = len(load.answers)
            # Both nodes take writes again, without a restart.
            assert _eventually(
                lambda: all(load.created_since(back_at, b) >= 2 for b in nodes.bases),
                30,
            )
            load.stop()
            after = nodes.log_of()
            # The stream held open through the outage goes on with the
            # writes of the other node made since.
            last = next(
                answer
                for base, answer in reversed(load.answers)
                if base == nodes.bases[0] and answer.status_code == 201
            )
            assert _streamed_up_to(live, last.json()["position"])
            _followed_by_the_other_node(nodes, load)
        assert load.unexpected() == []
        refused = [answer for _, answer in load.answers if answer.status_code == 503]
        assert all(answer.headers["Retry-After"].isdigit() for answer in refused)
        assert after[: len(before)] == before
        registered = [
            event.data["slug"] for event in after if event.type == "Tool.Registered"
        ]
        assert len(registered) == len(set(registered))
        by_position = {event.position: event for event in after}
        for _, answer in load.answers:
            if answer.status_code == 201:  # acknowledged: in the log, once
                event = by_position[answer.json()["position"]]
                assert event.data["slug"] == _slug(answer)
    finally:
        proxy.cut()


def _reads_without_the_log(base: str) -> None:
    """With the log out of reach the read models serve; what needs the log is 503."""
    for path in (CARD, "/api/tools", "/api/events", "/feeds/verdicts.atom"):
        assert httpx.get(base + path, timeout=10).status_code == 200, path
    ahead = httpx.get(base + CARD, params={"min_position": 10**6}, timeout=30)
    assert problem(ahead, 503)["type"] == "/problems/storage-unavailable"
    assert ahead.headers["Retry-After"].isdigit()


def _followed_by_the_other_node(nodes: Nodes, load: _WriteLoad) -> None:
    """Each node shows the other's newest acknowledged write, with min_position."""
    for base in nodes.bases:
        answer = next(
            answer
            for writer, answer in reversed(load.answers)
            if writer != base and answer.status_code == 201
        )
        seen = httpx.get(
            f"{base}/api/tools/{_slug(answer)}",
            params={"min_position": answer.json()["position"]},
            timeout=15,
        )
        assert seen.status_code == 200, seen.text


def _streamed_up_to(live: httpx.Response, position: int, seconds: float = 30) -> bool:
    """Reads the stream until it sends ``position``; False if it never does."""
    deadline = time.monotonic() + seconds
    for line in live.iter_lines():
        if line.startswith("id:") and int(line.partition(":")[2]) >= position:
            return True
        if time.monotonic() > deadline:
            return False
    return False


def _slug(answer: httpx.Response) -> str:
    """The slug of the tool a ``POST /api/tools`` answer is for."""
    slug: str = json.loads(answer.request.content)["slug"]
    return slug


class _WriteLoad:
    """Registers a new tool on each node in turn, from two threads, until stopped."""

    def __init__(self, nodes: Nodes) -> None:
        self.nodes = nodes
        self.answers: list[tuple[str, httpx.Response]] = []
        self._names = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            # Daemons: a failed assertion must not leave the test run waiting.
            threading.Thread(target=self._write, args=(base,), daemon=True)
            for base in nodes.bases
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _write(self, base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not self._stop.is_set():
                slug = f"load-{next(self._names)}"
                tool = {"slug": slug, "name": slug, "vendor": "V", "category": "C"}
                answer = client.post(
                    "/api/tools", json=tool, headers=self.nodes.auth("editor")
                )
                with self._lock:
                    self.answers.append((base, answer))
                if answer.status_code == 503:
                    time.sleep(0.1)

    def _since(self, start: int, status: int, node: str) -> int:
        with self._lock:
            answers = self.answers[start:]
        return sum(
            1
            for base, answer in answers
            if base == node and answer.status_code == status
        )

    def refused_since(self, start: int, node: str) -> int:
        """How many writes ``node`` refused with 503 since answer ``start``."""
        return self._since(start, 503, node)

    def created_since(self, start: int, node: str) -> int:
        """How many writes ``node`` acknowledged since answer ``start``."""
        return self._since(start, 201, node)

    def unexpected(self) -> list[tuple[int, str]]:
        """Answers other than created or refused for now (never a 500)."""
        return [
            (answer.status_code, answer.text)
            for _, answer in self.answers
            if answer.status_code not in (201, 503)
        ]
