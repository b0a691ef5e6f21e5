"""After an erasure and a rebuild, the erased plaintext is nowhere; the rest stands.

The ledger holds the demo comparison, two confirmed subscribers, a reviewer
renamed, and revisions with reasons. One reviewer and one subscriber are
erased with ``ledger erase``, the read models rebuilt with ``ledger
rebuild``, and then every place the ledger keeps or shows data is searched
for what was erased (the reviewer's names, rationales and reasons, the
subscriber's address): every table of every SQLite file in LEDGER_HOME,
every table of the log's PostgreSQL schema, the raw bytes of every file in
the home, the pages, the Atom feed and the JSON reads of a real
``ledger serve``, the output of ``ledger export``, and a backup made
afterwards. Nothing is found, while the other reviewers' names and
rationales, every verdict and every figure read as they did before.
"""

from __future__ import annotations

import base64
import html
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from ledger import demo
from ledger.application import Ledger
from ledger.context import Context
from ledger.personal_data import ERASED, PREFIX
from tests.api.helpers import ledger_settings, served
from tests.helpers import URL
from tests.projections.helpers import run_ledger
from tests.stores import Store

CTX = Context(actor="system", request_id="test")
A, B = "code-llama-4", "mistral-medium-3"

NEW_NAME = "Quintessa Vale-Okonkwo"
REVISION = "Quintessa now rates the licence terms fit for a pilot deployment."
REVISION_REASON = "reconsidered after reading the licence FAQ twice"
ADDRESS = "zephyrine.erased@example.org"
ERASED_TEXTS = (
    "The Skeptic",
    NEW_NAME,
    REVISION,
    REVISION_REASON,
    ADDRESS,
    *(v.rationale for v in demo.VERDICTS if v.reviewer == "skeptic"),
)
"""Everything of the erased reviewer and subscriber, in the clear."""

KEPT_ADDRESS = "kept.reader@example.org"
KEPT_REVISION = "Still the one to self-host: the 70B quant keeps up in practice."
KEPT_REASON = "ran it for a month on our own hardware"
KEPT_TEXTS = (
    "The Builder",
    "The Futurist",
    "The Buyer",
    KEPT_REVISION,
    KEPT_REASON,
    *(
        v.rationale
        for v in demo.VERDICTS
        if v.reviewer != "skeptic" and (v.reviewer, v.tool) != ("builder", A)
    ),
)
"""Other people's data, which must read exactly as before."""

PAGES = (
    "/",
    f"/tools/{A}",
    f"/tools/{B}",
    f"/tools/{A}/provenance",
    f"/compare/{A}/{B}",
    "/feeds/verdicts.atom",
    "/digests/{week}",
)
READS = (
    "/api/tools",
    f"/api/tools/{A}",
    f"/api/tools/{B}",
    f"/api/tools/{A}/reviews",
    f"/api/tools/{B}/reviews",
    f"/api/tools/{A}/history",
    f"/api/tools/{B}/history",
    f"/api/tools/{A}/provenance",
    "/api/reviewers",
    *(f"/api/reviewers/{handle}" for handle in demo.REVIEWERS),
    "/api/comparisons",
    f"/api/comparisons/{A}/{B}",
    "/api/digests/{week}",
)
FIGURES = (
    "/api/tools",
    f"/api/tools/{A}",
    f"/api/tools/{B}",
    f"/api/comparisons/{A}/{B}",
)
"""The reads whose every verdict and figure must be the same after."""


def _grow(home: Path) -> str:
    """The ledger of the test; returns the erased subscriber's person."""
    ledger = Ledger(ledger_settings(home))
    try:
        erased = ledger.subscribe(CTX, ADDRESS)
        ledger.confirm_subscription(CTX, erased.subscription_id)
        kept = ledger.subscribe(CTX, KEPT_ADDRESS)
        ledger.confirm_subscription(CTX, kept.subscription_id)
        ledger.edit_reviewer(CTX, "skeptic", {"name": NEW_NAME})
        ledger.revise_review(
            CTX,
            A,
            "skeptic",
            verdict="skip",
            rationale=REVISION,
            reason=REVISION_REASON,
        )
        ledger.revise_review(
            CTX,
            A,
            "builder",
            verdict="ship",
            rationale=KEPT_REVISION,
            reason=KEPT_REASON,
        )
        return f"subscriber:{erased.subscription_id}"
    finally:
        ledger.close()


def _get(base: str, path: str) -> str:
    answer = httpx.get(base + path, timeout=30)
    assert answer.status_code == 200, (path, answer.text[:500])
    return answer.text


def _events(base: str) -> list[Any]:
    found: list[Any] = []
    after = 0
    while True:
        page = httpx.get(
            f"{base}/api/events", params={"after": after, "limit": 100}, timeout=30
        )
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["items"]
        if body["next"] is None:
            return found
        after = body["next"]


def _read_all(home: Path) -> dict[str, str]:
    """Every page, feed and JSON read of a real server on ``home``, by path.

    The digest is this week's, which holds every event of the test.
    """
    year, week, _ = datetime.now(UTC).isocalendar()
    this_week = f"{year}-W{week:02d}"
    with served(home) as base:
        texts = {
            path: _get(base, path.format(week=this_week)) for path in (*PAGES, *READS)
        }
        texts["/api/events"] = json.dumps(_events(base), ensure_ascii=False)
    return texts


def _forms(text: str) -> list[bytes]:
    """How ``text`` may be stored: UTF-8, JSON-escaped, HTML-escaped."""
    escaped = json.dumps(text)[1:-1]
    return sorted({text.encode(), escaped.encode(), html.escape(text).encode()})


def _found(data: bytes, texts: tuple[str, ...] = ERASED_TEXTS) -> list[str]:
    """Which of ``texts`` are in ``data`` (addresses in any case)."""
    lowered = data.lower()
    hits = []
    for text in texts:
        if "@" in text:
            if text.lower().encode() in lowered:
                hits.append(text)
        elif any(form in data for form in _forms(text)):
            hits.append(text)
    return hits


def _shown(text: str) -> bytes:
    """A page or read as a reader sees it: HTML entities and JSON escapes undone."""
    return (text + "\n" + html.unescape(text)).encode()


def _exported(text: str) -> bytes:
    """``ledger export``'s output with each event's state decoded (it is base64)."""
    lines = []
    for line in text.splitlines():
        lines.append(line.encode())
        state = json.loads(line).get("state")
        if state is not None:
            lines.append(base64.b64decode(state))
    return b"\n".join(lines)


def _files(directory: Path) -> Iterator[Path]:
    return (path for path in sorted(directory.rglob("*")) if path.is_file())


def _sqlite_rows(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every row of every table of the SQLite file ``path``, as bytes."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = [
            row[0]
            for row in db.execute("SELECT name FROM sqlite_schema WHERE type='table'")
        ]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                parts = [
                    value if isinstance(value, bytes) else str(value).encode()
                    for value in row
                ]
                yield f"{path.name}:{table}", b"\x00".join(parts)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(16) == b"SQLite format 3\x00"


def _postgres_rows(schema: str) -> Iterator[tuple[str, bytes]]:
    """Every row of every table of the log's PostgreSQL schema, as text."""
    with psycopg.connect(URL) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {} t").format(
                sql.Identifier(schema, table)
            )
            for (text,) in db.execute(query):
                # bytea columns read as hex: search the plaintext's hex too
                yield table, text.encode() + bytes.fromhex(_hex_runs(text))


def _hex_runs(text: str) -> str:
    runs = re.findall(r"\\\\x((?:[0-9a-f]{2})+)", text)
    return "".join(runs)


def _masked(value: Any) -> Any:
    """A read with the erased people's data, and how it reads erased, as one mark."""
    if isinstance(value, dict):
        return {name: _masked(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, str) and (
        value == ERASED
        or value.startswith(f"{PREFIX}reviewer:skeptic:")
        or value.startswith(f"{PREFIX}subscriber:")
        or any(text in value for text in ERASED_TEXTS)
    ):
        return "<erased>"
    return value


def test_nothing_erased_is_found_anywhere_and_the_rest_stands(
    home: Path, event_store: Store, tmp_path: Path
) -> None:
    subscriber = _grow(home)
    assert run_ledger(home, "rebuild").returncode == 0
    before = _read_all(home)

    for person in ("reviewer:skeptic", ADDRESS):
        done = run_ledger(home, "erase", person, "--reason", "asked to be forgotten")
        assert done.returncode == 0, done.stderr
        assert ADDRESS not in done.stdout
    done = run_ledger(home, "rebuild")
    assert done.returncode == 0, done.stderr
    after = _read_all(home)
    exported = run_ledger(home, "export")
    assert exported.returncode == 0, exported.stderr
    backed_up = run_ledger(home, "backup", str(tmp_path / "backup"))
    assert backed_up.returncode == 0, backed_up.stderr

    found: dict[str, list[str]] = {}

    def search(where: str, data: bytes) -> None:
        hits = _found(data)
        if hits:
            found.setdefault(where, []).extend(hits)

    for path, text in after.items():
        search(f"GET {path}", _shown(text))
    search("ledger export", _exported(exported.stdout))
    for root in (home, tmp_path / "backup"):
        for path in _files(root):
            search(f"bytes of {path}", path.read_bytes())
            if _is_sqlite(path):
                for table, row in _sqlite_rows(path):
                    search(f"table {table} of {path.parent.name}", row)
    if event_store.name == "postgres":
        for table, row in _postgres_rows(event_store.env["POSTGRES_SCHEMA"]):
            search(f"PostgreSQL table {table}", row)
    assert found == {}

    # The search finds what is there: before the erasure the reads showed the
    # erased reviewer's data (a subscriber's address is never shown), and
    # after it they show everyone else's.
    shown_before = _shown(before["/api/events"])
    assert sorted(_found(shown_before)) == sorted(set(ERASED_TEXTS) - {ADDRESS})
    assert sorted(_found(_shown(after["/api/events"]), KEPT_TEXTS)) == sorted(
        KEPT_TEXTS
    )
    assert _found(_shown(after[f"/tools/{A}"]), (KEPT_REVISION,))
    # A tool's description is in the log as it was written.
    description = demo.TOOLS[A]["description"]
    assert _found(_exported(exported.stdout), (description,)) == [description]
    assert _found(_shown(after[f"/tools/{A}"]), ("Code Llama 4",))

    # Everyone else's data reads as before, wherever it was shown.
    for path, text in before.items():
        for kept in KEPT_TEXTS:
            if _found(_shown(text), (kept,)):
                assert _found(_shown(after[path]), (kept,)), (path, kept)
    # Every verdict and figure is the same; the erased read as erased.
    for path in FIGURES:
        assert _masked(json.loads(after[path])) == _masked(json.loads(before[path]))
    events_before = json.loads(before["/api/events"])
    events_after = json.loads(after["/api/events"])
    assert _masked(events_after[: len(events_before)]) == _masked(events_before)
    appended = [(e["type"], e["data"]) for e in events_after[len(events_before) :]]
    assert appended == [
        ("Erasure.Recorded", {"person": "reviewer:skeptic"}),
        ("Erasure.Recorded", {"person": subscriber}),
        ("Subscription.Unsubscribed", {}),
    ]
    assert json.loads(after["/api/reviewers/skeptic"])["name"] == ERASED
    assert json.loads(after["/api/reviewers/builder"])["name"] == "The Builder"
