"""Crash cycles: ``ledger serve`` SIGKILLed at random moments under mixed writes.

A few client threads write over real HTTP, each to things of its own so that
nothing but a crash can make a write fail: tool creates with an
``Idempotency-Key``, tool edits with ``If-Match``, review PUTs and vote PUTs.
The server's whole process group is SIGKILLed at a random moment, started
again, and every write left without an answer is retried as a client would:
the create with the same key and body, the edit with the same ``If-Match``,
the PUT with the same body. Then the next cycle begins.

Every request carries an ``X-Request-ID`` of its own, which the events it
appends carry too, so the log alone says what each write did. A write is
the first request and its retries; :func:`audit` checks that each write that
was answered with a 2xx is in the log exactly once (at the position its
answer gave), that no write is there twice, that nothing else was appended,
that no idempotency key is left "still being processed", and that the read
models the crashed server left equal a clean rebuild of the log.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ledger import log
from ledger.application import Ledger
from ledger.context import Context
from ledger.settings import Settings
from ledger.sqlite_tokens import TokenStore
from projections import readmodel_path
from projections.projector import Projector
from projections.rebuild import build
from tests.api.helpers import crashable, issue_tokens, make_home, served
from tests.projections.helpers import dump

REVIEWED = ("code-llama-4", "mistral-medium-3")
"""The demo's tools, which every writer reviews and votes on."""
KINDS = ("create", "edit", "review", "vote")
WEIGHTS = (1, 3, 3, 4)
TIMEOUT = 30.0
"""Longest a request waits for its answer; none should come near it."""
IN_FLIGHT_RETRIES = 50
"""How often a retry answered 409 "still being processed" is sent again."""
SETUP = Context(actor="admin:reliability", request_id="reliability-setup")
CREATED = {"vendor": "Crash Tests", "category": "Developer Tools"}


@dataclass
class Attempt:
    """One request of a write: its id, and the answer if one came."""

    request_id: str
    status: int | None = None
    version: int | None = None
    position: int | None = None
    replayed: bool = False


@dataclass
class Write:
    """A write as a client sees it: the request, sent until answered."""

    kind: str
    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    if_match: int | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def send(self, client: httpx.Client) -> Attempt:
        """Sends the request once more, under a request id of its own."""
        attempt = Attempt(request_id=uuid.uuid4().hex)
        self.attempts.append(attempt)
        headers = {**self.headers, "X-Request-ID": attempt.request_id}
        try:
            answer = client.request(
                self.method, self.path, json=self.body, headers=headers
            )
        except httpx.TransportError:  # the server died under it
            return attempt
        attempt.status = answer.status_code
        if answer.is_success:
            receipt = answer.json()
            attempt.version, attempt.position = receipt["version"], receipt["position"]
            attempt.replayed = answer.headers.get("idempotent-replayed") == "true"
        return attempt

    @property
    def acknowledged(self) -> bool:
        """Whether the client got a 2xx for it, first time or on a retry."""
        return any(
            a.status is not None and 200 <= a.status < 300 for a in self.attempts
        )

    @property
    def done(self) -> bool:
        """Whether the client knows it happened: a 2xx, or a retried edit's 412.

        A 412 to a retried edit says the version moved on, and only the
        unanswered first request can have moved it (each writer edits only
        its own tools), so the audit checks that request is in the log.
        """
        last = self.attempts[-1].status if self.attempts else None
        retried_edit = self.kind == "edit" and len(self.attempts) > 1 and last == 412
        return self.acknowledged or retried_edit


@dataclass
class Cast:
    """Who writes, and the tokens they write with (made before the server starts)."""

    editor: str
    reviewers: list[tuple[str, str]]
    voters: list[str]
    tools: list[str]
    head: int


def prepare(root: Path, writers: int) -> tuple[Path, Cast]:
    """A demo ledger with a reviewer, a voter token and a tool per writer."""
    home = make_home(root)
    tokens = issue_tokens(home)
    ledger = Ledger(Settings(home=home))
    try:
        for index in range(writers):
            ledger.enroll_reviewer(
                SETUP, f"crash-{index}", name=f"Crash {index}", lens="builder"
            )
            ledger.register_tool(
                SETUP, f"crash-{index}-0", {"name": f"Crash {index}", **CREATED}
            )
        head = ledger.head_position()
    finally:
        ledger.close()
    settings = Settings(home=home)
    store = TokenStore(settings.auth_path, settings.server_secret())
    try:
        reviewers = [
            (f"crash-{i}", store.create("reviewer", f"crash-{i}"))
            for i in range(writers)
        ]
        voters = [store.create("voter") for _ in range(writers)]
    finally:
        store.close()
    tools = [f"crash-{i}-0" for i in range(writers)]
    return home, Cast(tokens["editor"], reviewers, voters, tools, head)


class Writer:
    """One client: writes to its own tools, review and votes, and retries.

    Its state (each tool's version, its last vote on each tool) is what its
    answers told it, so every write it sends is one the ledger should take.
    """

    def __init__(self, index: int, cast: Cast, seed: int) -> None:
        self.index = index
        self.rng = random.Random(seed)
        self.editor = {"Authorization": f"Bearer {cast.editor}"}
        handle, token = cast.reviewers[index]
        self.handle = handle
        self.reviewer = {"Authorization": f"Bearer {token}"}
        self.voter = {"Authorization": f"Bearer {cast.voters[index]}"}
        self.versions: dict[str, int] = {cast.tools[index]: 1}
        self.choices: dict[str, str] = {}
        self.made = 0
        self.writes: list[Write] = []
        self.unanswered: list[Write] = []
        self.unexpected: list[tuple[str, str, int]] = []
        self.stuck = 0

    def next_write(self) -> Write:
        kind = self.rng.choices(KINDS, WEIGHTS)[0]
        self.made += 1
        n = self.made
        if kind == "create":
            slug = f"crash-{self.index}-{n}"
            headers = {**self.editor, "Idempotency-Key": f"create-{self.index}-{n}"}
            body = {"slug": slug, "name": f"Crash {self.index} {n}", **CREATED}
            return Write(kind, "POST", "/api/tools", body, headers)
        if kind == "edit":
            slug = self.rng.choice(sorted(self.versions))
            version = self.versions[slug]
            headers = {**self.editor, "If-Match": str(version)}
            body = {"tagline": f"edit {n}", "reason": "kept current"}
            return Write(kind, "PATCH", f"/api/tools/{slug}", body, headers, version)
        tool = self.rng.choice(REVIEWED)
        if kind == "review":
            body = {
                "verdict": self.rng.choice(("ship", "skip")),
                "rationale": f"Take {n} by {self.handle}.",
                "reason": "second thoughts",
            }
            path = f"/api/tools/{tool}/reviews/{self.handle}"
            return Write(kind, "PUT", path, body, self.reviewer)
        choice = "skip" if self.choices.get(tool) == "ship" else "ship"
        self.choices[tool] = choice
        path = f"/api/tools/{tool}/vote"
        return Write(kind, "PUT", path, {"choice": choice}, self.voter)

    def settle(self, write: Write, attempt: Attempt) -> None:
        """Learns from an answer; records one a client should not have had."""
        status = attempt.status
        assert status is not None
        slug = write.path.rsplit("/", 1)[-1]
        if write.kind == "create" and status == 201:
            self.versions[write.body["slug"]] = 1
        elif write.kind == "edit" and status == 200:
            assert attempt.version is not None
            self.versions[slug] = attempt.version
        elif write.kind == "edit" and status == 412 and len(write.attempts) > 1:
            assert write.if_match is not None
            self.versions[slug] = write.if_match + 1
        elif not 200 <= status < 300:
            self.unexpected.append((write.method, write.path, status))

    def load(self, base: str, stop: threading.Event) -> None:
        """Writes until stopped or the server stops answering."""
        with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            while not stop.is_set():
                write = self.next_write()
                self.writes.append(write)
                attempt = write.send(client)
                if attempt.status is None:
                    self.unanswered.append(write)
                    return
                self.settle(write, attempt)

    def retry(self, base: str) -> None:
        """Sends each unanswered write again until the server answers it."""
        with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            for write in self.unanswered:
                for _ in range(IN_FLIGHT_RETRIES):
                    attempt = write.send(client)
                    if attempt.status != 409:
                        break
                    time.sleep(0.1)
                if attempt.status is None:
                    msg = f"the restarted server did not answer {write.path}"
                    raise RuntimeError(msg)
                if attempt.status == 409:  # the key is still "being processed"
                    self.stuck += 1
                else:
                    self.settle(write, attempt)
        self.unanswered = []


@dataclass
class Crashes:
    """What the crash cycles did and found; every ``lost``-like count must be 0."""

    crash_cycles: int = 0
    requests_sent: int = 0
    acked_writes: int = 0
    retried_writes: int = 0
    lost_writes: int = 0
    duplicated_writes: int = 0
    misplaced_answers: int = 0
    unexplained_events: int = 0
    stuck_idempotency_keys: int = 0
    unexpected_answers: int = 0
    views_differ: int = 0
    unexpected: list[tuple[str, str, int]] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        return {
            name: float(value)
            for name, value in vars(self).items()
            if isinstance(value, int)
        }


def run(
    root: Path,
    *,
    workers: tuple[int, ...] = (1, 2),
    cycles: int = 6,
    writers: int = 3,
    uptime: tuple[float, float] = (0.2, 1.0),
    seed: int = 13,
) -> Crashes:
    """Crash cycles for each worker count on one ledger, then the audit.

    Args:
        root: A directory of the run's own, for the ledger.
        workers: The granian worker counts, each run for ``cycles`` cycles.
        cycles: Kills per worker count.
        writers: Client threads writing at once.
        uptime: Least and most seconds of writes before each kill.
        seed: Seeds the kill moments and every writer's choices.
    """
    rng = random.Random(seed)
    home, cast = prepare(root, writers)
    clients = [Writer(i, cast, rng.randrange(2**32)) for i in range(writers)]
    found = Crashes()
    for count in workers:
        for _ in range(cycles):
            with crashable(home, workers=count) as server:
                for writer in clients:
                    writer.retry(server.base)
                with _load(server.base, clients):
                    time.sleep(rng.uniform(*uptime))
                    server.kill()
            found.crash_cycles += 1
    with served(home, workers=workers[-1]) as base:
        for writer in clients:
            writer.retry(base)
    audit(home, cast, clients, found)
    return found


@contextlib.contextmanager
def _load(base: str, clients: list[Writer]) -> Iterator[None]:
    """Every writer writing on a thread of its own while the block runs."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def write(writer: Writer) -> None:
        try:
            writer.load(base, stop)
        except BaseException as failure:
            failures.append(failure)
            raise

    threads = [threading.Thread(target=write, args=(writer,)) for writer in clients]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT * 2)
            assert not thread.is_alive(), "a writer hung"
    if failures:
        raise failures[0]


def audit(home: Path, cast: Cast, clients: list[Writer], found: Crashes) -> None:
    """Checks the log, the idempotency keys and the read models; fills ``found``."""
    settings = Settings(home=home)
    ledger = Ledger(settings)
    try:
        events = log.read(ledger.recorder, after=cast.head, limit=10**7)
        _catch_up(ledger, readmodel_path(settings))
        clean = home.parent / f"clean-{uuid.uuid4().hex}.sqlite"
        build(ledger, clean)
    finally:
        ledger.close()
    try:
        found.views_differ = int(dump(readmodel_path(settings)) != dump(clean))
    finally:
        clean.unlink(missing_ok=True)
    by_request: dict[str, list[log.LoggedEvent]] = defaultdict(list)
    for event in events:
        by_request[event.request_id].append(event)
    ours: set[str] = set()
    for writer in clients:
        found.stuck_idempotency_keys += writer.stuck
        found.unexpected.extend(writer.unexpected)
        for write in writer.writes:
            _audit_write(write, by_request, found)
            ours.update(attempt.request_id for attempt in write.attempts)
    found.unexpected_answers = len(found.unexpected)
    found.unexplained_events = sum(
        len(appended) for rid, appended in by_request.items() if rid not in ours
    )
    found.stuck_idempotency_keys += _claims_left(home)


def _audit_write(
    write: Write, by_request: dict[str, list[log.LoggedEvent]], found: Crashes
) -> None:
    found.requests_sent += len(write.attempts)
    found.retried_writes += len(write.attempts) > 1
    found.acked_writes += write.acknowledged
    appended = [e for a in write.attempts for e in by_request.get(a.request_id, [])]
    if len(appended) > 1:
        found.duplicated_writes += 1
    elif not appended and write.done:
        found.lost_writes += 1
    if len(appended) != 1:
        return
    event = appended[0]
    for attempt in write.attempts:
        own = by_request.get(attempt.request_id) == appended
        if attempt.position is not None and (own or attempt.replayed):
            found.misplaced_answers += attempt.position != event.position


def _catch_up(ledger: Ledger, path: Path) -> None:
    """Brings the read models the crashed servers left up to the head."""
    projector = Projector(ledger, path)
    try:
        projector.catch_up()
    finally:
        projector.close()


def _claims_left(home: Path) -> int:
    """Idempotency keys still claimed once every request has been answered."""
    with contextlib.closing(sqlite3.connect(home / "api.sqlite")) as db:
        row = db.execute(
            "SELECT count(*) FROM idempotency WHERE status IS NULL"
        ).fetchone()
    return int(row[0])
