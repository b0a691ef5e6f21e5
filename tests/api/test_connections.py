"""Connections against ``ledger serve``: timeouts, the stream cap, one log watcher.

Every test runs a real server and talks to it over sockets: raw ones for
what no client library sends (a header that never ends, a body that stops
halfway, a reader that stops reading), httpx for the rest.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

from api import metrics_dir
from tests.api.bulk_votes import append_votes_to
from tests.api.helpers import (
    CARD,
    LEDGER,
    crashable,
    issue_tokens,
    log_head,
    problem,
    served,
)
from tests.api.raw_http import (
    connect,
    parse,
    read_until,
    read_until_closed,
    stalled_post,
)

STREAM = "/api/events/stream"
HELLO = ": verdict ledger events"


def test_headers_that_never_end_and_idle_connections_are_closed(home: Path) -> None:
    with served(home, env={"LEDGER_HEADER_TIMEOUT": "0.5"}) as base:
        # a request whose headers stop halfway is cut off (not held for 20 s)
        with connect(base) as sock:
            sock.sendall(b"GET /api/tools HTTP/1.1\r\nHost: x\r\n")
            assert read_until_closed(sock) == b""
        # so is a connection that never sends a byte
        with connect(base) as sock:
            assert read_until_closed(sock) == b""
        # and a kept-alive connection once it has been idle that long
        with connect(base) as sock:
            sock.sendall(b"GET /healthz/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = parse(read_until_closed(sock))
        assert answer.status_code == 200


def test_a_body_that_stalls_is_answered_408_and_nothing_is_appended(
    home: Path,
) -> None:
    tokens = issue_tokens(home)
    before = log_head(home)
    with served(home, env={"LEDGER_BODY_TIMEOUT": "0.5"}) as base:
        answer = stalled_post(base, "/api/tools", tokens["editor"], sent=b'{"slug"')
        body = problem(answer, 408)
        assert body["type"] == "/problems/body-timeout"
        assert answer.headers["connection"] == "close"
        # a whole body on the same server is still taken
        created = httpx.post(
            base + "/api/tools",
            json={"slug": "whole", "name": "W", "vendor": "V", "category": "C"},
            headers={"Authorization": f"Bearer {tokens['editor']}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
    assert log_head(home) == before + 1


def test_the_stream_after_the_cap_is_refused_429(home: Path) -> None:
    env = {"LEDGER_STREAMS_PER_CLIENT": "3"}
    with _holding(home, env, 3) as (client, opened):
        # the fourth is refused, with the time to wait
        _refused(client.get(STREAM), 429, "too-many-streams")
        # once one is closed, its slot is free again
        opened[0].response.close()
        assert _reopens(client) == 200


def test_streams_leave_a_worker_room_for_requests(home: Path) -> None:
    # given a worker that serves 8 connections at once, so 6 streams
    env = {"LEDGER_CONNECTIONS_PER_WORKER": "8"}
    with _holding(home, env, 6) as (client, opened):
        # the seventh stream is refused, with the time to wait
        _refused(client.get(STREAM), 503, "streams-full")
        # while requests are still answered
        assert client.get("/api/tools").status_code == 200
        # and the six streams are still open
        assert not any(stream.response.is_closed for stream in opened)


def _refused(answer: httpx.Response, status: int, kind: str) -> None:
    assert problem(answer, status)["type"] == f"/problems/{kind}"
    assert int(answer.headers["retry-after"]) > 0


class OpenStream(NamedTuple):
    response: httpx.Response
    lines: Iterator[str]
    """Kept: a line iterator dropped half-read closes its connection."""


@contextmanager
def _holding(
    home: Path, env: dict[str, str], count: int
) -> Iterator[tuple[httpx.Client, list[OpenStream]]]:
    """A server with ``count`` streams open, each following the log."""
    with (
        served(home, env=env) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        ExitStack() as stack,
    ):
        opened = []
        for _ in range(count):
            response = stack.enter_context(client.stream("GET", STREAM))
            opened.append(OpenStream(response, response.iter_lines()))
            assert next(opened[-1].lines) == HELLO
        yield client, opened


def _reopens(client: httpx.Client) -> int:
    """The status of a new stream, once the server has seen one go."""
    deadline = time.monotonic() + 10
    while True:
        with client.stream("GET", STREAM) as again:
            if again.status_code != 429 or time.monotonic() > deadline:
                return again.status_code
        time.sleep(0.05)


async def _ids_of(lines: AsyncIterator[str], count: int) -> list[int]:
    """The ids of the next ``count`` events of a stream's lines."""
    ids: list[int] = []
    async for line in lines:
        if line.startswith("id: "):
            ids.append(int(line.removeprefix("id: ")))
            if len(ids) == count:
                break
    return ids


async def _fan_out(base: str, streams: int, resume_at: int, voter: str) -> None:
    """Opens ``streams`` streams (the last resuming), writes twice, checks each."""
    limits = httpx.Limits(max_connections=streams + 4)
    async with (
        httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client,
        AsyncExitStack() as stack,
    ):
        streams_lines = []
        for n in range(streams):
            headers = {"Last-Event-ID": str(resume_at)} if n == streams - 1 else {}
            response = await stack.enter_async_context(
                client.stream("GET", STREAM, headers=headers)
            )
            assert response.status_code == 200
            streams_lines.append(response.aiter_lines())
        for lines in streams_lines:  # each is following the log by now
            assert await anext(lines) == HELLO
        auth = {"Authorization": f"Bearer {voter}"}
        written = []
        for choice in ("skip", "ship"):
            vote = await client.put(
                CARD + "/vote", json={"choice": choice}, headers=auth
            )
            assert vote.status_code in (200, 201), vote.text
            written.append(vote.json()["position"])
        missed = written[0] - resume_at - 1
        counts = [2] * (streams - 1) + [2 + missed]
        received = await asyncio.gather(
            *(_ids_of(lines, n) for lines, n in zip(streams_lines, counts, strict=True))
        )
    for ids in received[:-1]:
        assert ids == written
    assert received[-1] == [*range(resume_at + 1, written[0]), *written]


def test_every_stream_of_a_worker_receives_each_write(home: Path) -> None:
    tokens = issue_tokens(home)
    resume_at = log_head(home) - 3
    with served(home, env={"LEDGER_STREAMS_PER_CLIENT": "200"}) as base:
        asyncio.run(_fan_out(base, 150, resume_at, tokens["voter"]))


def test_a_stalled_reader_delays_no_other_stream(home: Path) -> None:
    env = {"LEDGER_STREAM_POLL": "0.05"}
    with (
        served(home, env=env) as base,
        connect(base, receive_buffer=4096) as stalled,
        httpx.Client(timeout=30) as client,
    ):
        # a client that asks for the stream, then reads nothing more
        stalled.sendall(f"GET {STREAM} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert b"200 OK" in stalled.recv(64)
        with client.stream("GET", base + STREAM) as live:
            lines = live.iter_lines()
            assert next(lines) == HELLO
            # when more events are appended than the stalled connection's
            # buffers hold (about 4 MB; the kernel held under 3 MB here), so
            # its sends block and it falls behind the watcher's window
            written = append_votes_to(home, 12_000)
            # then the live stream receives every one of them
            assert _ids(lines, written[-1]) == written
        # and the stalled one, once it reads again, gets them all, in order
        text = read_until(stalled, f"id: {written[-1]}\r\n".encode()).decode()
        assert _ids(iter(text.split("\r\n")), written[-1]) == written


def _ids(lines: Iterator[str], last: int) -> list[int]:
    """The event ids of ``lines``, up to ``last``."""
    found = []
    for line in lines:
        if line.startswith("id: "):
            found.append(int(line.removeprefix("id: ")))
            if found[-1] == last:
                break
    return found


def _serve_on(home: Path, port: int | str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_HOME": str(home)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.run(
        [LEDGER, "serve", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_serve_refuses_a_port_already_in_use(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve_on(home, port)
    assert done.returncode != 0
    assert f"127.0.0.1:{port} is already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_serve_on_the_same_port_is_refused(home: Path) -> None:
    with served(home) as base:
        done = _serve_on(home, base.rsplit(":", 1)[1])
        assert done.returncode != 0
        assert "already in use" in done.stderr
        # and the first one still answers
        assert httpx.get(base + "/healthz/ping", timeout=5).status_code == 200


def test_no_metrics_directory_outlives_a_killed_server(home: Path) -> None:
    run = metrics_dir.run_dir(home)
    with crashable(home, workers=2) as server:
        left = sorted(run.glob("metrics-*"))
        assert len(left) == 1
        server.kill()
    assert sorted(run.glob("metrics-*")) == left  # what a crash leaves
    with served(home):
        # the next server sweeps it and has one of its own
        now = sorted(run.glob("metrics-*"))
        assert len(now) == 1
        assert now != left
    assert sorted(run.glob("metrics-*")) == []
