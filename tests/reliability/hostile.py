"""Hostile input: a corpus of requests no honest client sends, over raw sockets.

Oversized, deeply nested, malformed, slow and odd requests: bodies nested
thousands deep, larger than the limit or cut short, NUL bytes, integers of
thousands of digits, bodies that are not JSON, headers of every odd size and
byte, headers and bodies that stall halfway, broken framing. Each is sent as
raw bytes (no client library would send most of them) with
``Connection: close``, and the answer read until the server closes. The
hostile values of ``tests/api/test_hostile_input.py`` (nesting, UTF-8,
surrogates, numbers out of range, past-the-head positions), whose exact
answers that file checks in process, are sent to the real server too.

What each may get back is bounded, not prescribed: any answer below 500,
or for what is not HTTP at all, the connection closed without one. Never a
5xx, never a connection held past :data:`WAIT`, and nothing appended (every
write in the corpus is one the ledger must refuse).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.api.helpers import CARD, log_head, served
from tests.api.test_hostile_input import CASES as VALUE_CASES
from tests.api.test_hostile_input import Case as ValueCase

WAIT = 10.0
"""Longest the server may hold a connection; it is configured to cut stalled
ones after :data:`STALL_TIMEOUT`."""
STALL_TIMEOUT = 0.5
SERVER_ENV = {
    "LEDGER_HEADER_TIMEOUT": str(STALL_TIMEOUT),
    "LEDGER_BODY_TIMEOUT": str(STALL_TIMEOUT),
    "LEDGER_MAX_BODY_BYTES": str(64 * 1024),
}
HUGE = "9" * 5000
"""An integer far past any 64-bit field."""
TOOL = {"slug": "hostile", "name": "H", "vendor": "V", "category": "C"}


@dataclass(frozen=True)
class Case:
    """One hostile request, as the bytes sent.

    Attributes:
        name: What it tries.
        raw: Everything sent, request line to body.
    """

    name: str
    raw: bytes


@dataclass
class Outcome:
    """What one case got: a status, the connection closed, or a hang."""

    case: str
    status: int | None
    seconds: float
    hung: bool = False

    @property
    def failed(self) -> bool:
        return self.hung or (self.status is not None and self.status >= 500)


@dataclass
class Hostility:
    """Every case's outcome, and whether the log moved."""

    outcomes: list[Outcome] = field(default_factory=list)
    appended: int = 0

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.failed]

    def figures(self) -> dict[str, float]:
        return {
            "hostile_inputs": float(len(self.outcomes)),
            "hostile_5xx": float(
                sum(
                    1 for o in self.outcomes if o.status is not None and o.status >= 500
                )
            ),
            "hostile_hangs": float(sum(o.hung for o in self.outcomes)),
            "hostile_appended": float(self.appended),
        }


def request(
    method: str,
    target: str | bytes,
    headers: Mapping[str, str | bytes] | None = None,
    body: bytes = b"",
    *,
    length: int | str | None = None,
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """The bytes of one request; ``Content-Length`` is the body's unless given."""
    line = method.encode() + b" " + _bytes(target) + b" " + version + b"\r\n"
    fields: dict[str, str | bytes] = {"Host": "127.0.0.1", "Connection": "close"}
    fields.update(headers or {})
    if body or length is not None:
        fields.setdefault(
            "Content-Length", str(len(body) if length is None else length)
        )
    head = b"".join(_bytes(k) + b": " + _bytes(v) + b"\r\n" for k, v in fields.items())
    return line + head + b"\r\n" + body


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def corpus(tokens: dict[str, str]) -> list[Case]:
    """The hostile requests, for a demo ledger's tokens (see ``issue_tokens``)."""
    return list(_corpus(tokens))


def _corpus(tokens: dict[str, str]) -> Iterator[Case]:
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    as_json = {**editor, "Content-Type": "application/json"}
    voter = {
        "Authorization": f"Bearer {tokens['voter']}",
        "Content-Type": "application/json",
    }

    def create(
        name: str, body: bytes, headers: Mapping[str, str | bytes] | None = None
    ):
        return Case(name, request("POST", "/api/tools", headers or as_json, body))

    def get(
        name: str, target: str | bytes, headers: Mapping[str, str | bytes] | None = None
    ):
        return Case(name, request("GET", target, headers))

    valid = json.dumps(TOOL).encode()
    # Nesting and size.
    yield create("object nested 1,000 deep", b'{"a":' * 1000 + b"1" + b"}" * 1000)
    yield create("a field nested 5,000 deep", b'{"slug":"x","name":' + b"[" * 5000)
    yield create("array opened 60,000 deep", b"[" * 60_000)
    yield create("body over the limit", b'{"slug":"' + b"a" * 200_000 + b'"}')
    yield Case(
        "Content-Length of a terabyte",
        request("POST", "/api/tools", as_json, b"{}", length=10**12),
    )
    yield Case(
        "Content-Length of 5,000 digits",
        request("POST", "/api/tools", as_json, b"{}", length=HUGE),
    )
    yield Case(
        "negative Content-Length",
        request("POST", "/api/tools", as_json, b"{}", length=-1),
    )
    yield Case(
        "two different Content-Lengths",
        request(
            "POST",
            "/api/tools",
            {**as_json, "Content-Length": "2", "content-length": "3"},
            b"{}x",
        ),
    )
    # Malformed JSON and odd values.
    yield create("JSON cut short", b'{"slug": "a", "name": ')
    yield create("JSON with trailing bytes", valid + b" trailing")
    yield create("raw NUL byte in JSON", b'{"slug":"a\x00b","name":"N"}')
    yield create("a JSON array, not an object", b"[]")
    yield create("JSON null", b"null")
    yield create("unknown fields", json.dumps({**TOOL, "admin": True}).encode())
    yield create(
        "1,000 unknown fields", json.dumps({f"f{i}": i for i in range(1000)}).encode()
    )
    yield Case(
        "vote with a choice of 5,000 digits",
        request("PUT", f"{CARD}/vote", voter, b'{"choice":' + HUGE.encode() + b"}"),
    )
    # Bodies that are not JSON.
    for kind in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        yield create(f"a tool sent as {kind}", valid, {**editor, "Content-Type": kind})
    yield create(
        "a tool sent as multipart",
        b"--b\r\nContent-Disposition: form-data; name=slug\r\n\r\nx\r\n--b--\r\n",
        {**editor, "Content-Type": "multipart/form-data; boundary=b"},
    )
    yield create(
        "a content type of 2,000 bytes",
        valid,
        {**editor, "Content-Type": "a/" + "b" * 2000},
    )
    # Integers out of range in paths, queries and headers.
    for target in (
        f"/api/checkpoints?after={HUGE}",
        f"{CARD}/scorecard?position={HUGE}",
        f"{CARD}/history?limit={HUGE}",
        f"/api/tools?limit={HUGE}",
        "/api/tools?limit=1e3",
    ):
        yield get(f"GET {target[:60]}", target)
    # Odd times, cursors, choices.
    for target in (
        f"{CARD}/scorecard?as_of=%2B999999-01-01T00:00:00",
        f"{CARD}/history?since=yesterday&until=0",
        f"{CARD}/history?cursor=%%%%",
        f"{CARD}/history?cursor={'A' * 5000}",
        f"{CARD}/history?kind=everything&bucket=year",
        f"{CARD}/diff?from=2026-13-45",
        f"{CARD}/provenance/panel/maybe",
        "/api/tools?cursor=eyJ4Ijo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTl9",
    ):
        yield get(f"GET {target[:60]}", target)
    yield Case(
        "If-Match that is not a version",
        request(
            "PATCH", CARD, {**as_json, "If-Match": 'W/"\x01\x02"'}, b'{"tagline":"x"}'
        ),
    )
    yield Case(
        "Idempotency-Key of 10,000 characters",
        request(
            "POST", "/api/tools", {**as_json, "Idempotency-Key": "k" * 10_000}, b"[]"
        ),
    )
    # Paths and headers.
    yield get("raw NUL byte in a path", b"/api/tools/a\x00b")
    yield get("bad percent-escapes in a path", "/api/tools/%ff%fe%")
    yield get("path of 20,000 bytes", "/api/tools/" + "a" * 20_000)
    yield get("path out of the static root", "/static/../../../etc/passwd")
    yield get(
        "query of 5,000 parameters",
        "/api/tools?" + "&".join(f"p{i}=1" for i in range(5000)),
    )
    yield get("bad percent-escape in a query", "/api/tools?limit=%ff")
    yield get("header of 100,000 bytes", "/api/tools", {"X-Junk": "a" * 100_000})
    yield Case(
        "2,000 headers",
        request("GET", "/api/tools", {f"X-H{i}": "1" for i in range(2000)}),
    )
    yield get(
        "non-ASCII bytes in headers",
        CARD,
        {"X-Request-ID": b"\xff\xfe", "Accept": b"\xc3\x28"},
    )
    yield get("X-Request-ID of 5,000 bytes", CARD, {"X-Request-ID": "r" * 5000})
    yield get(
        "Authorization of 8,000 bytes",
        "/api/tokens",
        {"Authorization": "Bearer " + "a" * 8000},
    )
    yield Case(
        "Authorization with a NUL byte",
        request(
            "POST",
            "/api/tools",
            {"Authorization": b"Bearer vl_a\x00_b", "Content-Type": "application/json"},
            b"[]",
        ),
    )
    yield get("Range past any file", "/static/site.css", {"Range": f"bytes={HUGE}-"})
    yield get("Accept of 5,000 bytes", CARD, {"Accept": "text/" + "x" * 5000})
    yield get("If-None-Match of 5,000 digits", CARD, {"If-None-Match": HUGE})
    # Framing and protocol.
    yield Case("unknown method", request("BREW", "/api/tools"))
    yield Case("HTTP/1.0 without Host", b"GET /api/tools HTTP/1.0\r\n\r\n")
    yield Case("no request line", b"\r\n\r\n")
    yield Case(
        "garbage instead of HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 20
    )
    yield Case(
        "chunk size that is not hex",
        request(
            "POST",
            "/api/tools",
            {**as_json, "Transfer-Encoding": "chunked"},
            b"zz\r\n{}\r\n0\r\n\r\n",
        ),
    )
    yield Case(
        "chunked and Content-Length at once",
        request(
            "POST",
            "/api/tools",
            {**as_json, "Transfer-Encoding": "chunked", "Content-Length": "4"},
            b"2\r\n{}\r\n0\r\n\r\n",
        ),
    )
    # Slow clients: cut off by the server, not held.
    yield Case(
        "headers that stop halfway", b"GET /api/tools HTTP/1.1\r\nHost: x\r\nX-Slow: "
    )
    yield Case(
        "body that stops halfway",
        request("POST", "/api/tools", as_json, b'{"slug":', length=100),
    )
    yield Case("a connection that sends nothing", b"")


def send(base: str, case: Case) -> Outcome:
    """Sends one case; reads the answer until the server closes the connection."""
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    started = time.monotonic()
    received = b""
    try:
        with socket.create_connection(
            (parts.hostname, parts.port), timeout=WAIT
        ) as sock:
            # Refused before it was all sent: read what was answered.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(case.raw)
            while chunk := sock.recv(65536):
                received += chunk
    except TimeoutError:
        return Outcome(case.name, _status(received), time.monotonic() - started, True)
    except ConnectionResetError:
        pass
    return Outcome(case.name, _status(received), time.monotonic() - started)


def _status(received: bytes) -> int | None:
    if not received.startswith(b"HTTP/"):
        return None
    return int(received.split(b" ", 2)[1])


def send_value(
    base: str, tokens: dict[str, str], name: str, case: ValueCase
) -> Outcome:
    """Sends one of the API tests' hostile values over HTTP; reads its status."""
    headers = dict(case.send.get("headers", {}))
    if case.who is not None:
        headers["Authorization"] = f"Bearer {tokens[case.who]}"
    sent = {key: value for key, value in case.send.items() if key != "headers"}
    started = time.monotonic()
    try:
        with httpx.stream(
            case.method, base + case.path, headers=headers, timeout=WAIT, **sent
        ) as answer:
            status: int | None = answer.status_code
    except httpx.TimeoutException:
        return Outcome(name, None, time.monotonic() - started, hung=True)
    except httpx.TransportError:
        status = None
    return Outcome(name, status, time.monotonic() - started)


def run(home: Path, tokens: dict[str, str], *, rounds: int = 1) -> Hostility:
    """Sends both corpora ``rounds`` times to a real server on ``home``.

    First the API tests' hostile values (:data:`VALUE_CASES`, which check
    each one's exact answer in process) over real HTTP, then this module's
    raw corpus, around which the log must not move.
    """
    found = Hostility()
    cases = corpus(tokens)
    with served(home, workers=1, env=SERVER_ENV) as base:
        for _ in range(rounds):
            for name, value in VALUE_CASES.items():
                found.outcomes.append(send_value(base, tokens, name, value))
            before = log_head(home)
            found.outcomes.extend(send(base, case) for case in cases)
            found.appended += log_head(home) - before
    return found
