"""HTTP: card and comparison reads beside a hello-world route, and vote writes.

Starts ``ledger serve`` (granian, the same worker count for every load) on a
fresh demo ledger in a temporary directory and drives it with wrk at 32
connections, one load after another, each after a short warm-up:

(a) hello: ``GET /healthz/ping``, a route of the same app that touches
    neither the ledger nor the read model. It pays the same middleware
    (request id, metrics, access log) as every route, so it is the baseline.
(b) card: ``GET /api/tools/code-llama-4``.
(c) comparison: ``GET /api/comparisons/code-llama-4/mistral-medium-3``.
(d) votes: ``PUT`` votes, each from a voter token issued beforehand (the
    tokens are spread over both tools and the head-to-head, so every request
    is a first vote of its voter on its subject while tokens last). After the
    load, the Vote events in the log are counted against the accepted (2xx)
    answers: every accepted vote must be there.

Goals (issue 4): b/a >= 0.7, p99 of (b) <= 10 ms, (d) >= 1,000 votes/s with
0 errors and 0 votes missing. Needs wrk (Debian: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.report import Figures, Row, filesystem
from ledger import demo
from ledger import log as event_log
from ledger.application import Ledger
from ledger.auth import TokenStore
from ledger.settings import Settings

TITLE = "http: reads beside a hello-world route of the same app, and vote writes"
ROWS = [
    Row("(a) hello GET /healthz/ping", "hello_rps", "/s"),
    Row("    hello p50", "hello_p50_ms", " ms"),
    Row("    hello p99", "hello_p99_ms", " ms"),
    Row(
        "(b) card GET vs (a)", "card_rps", "/s", "hello_rps", "ratio_card_vs_hello", 0.7
    ),
    Row("    card p50", "card_p50_ms", " ms"),
    Row("    card p99 (goal <= 10 ms)", "card_p99_ms", " ms"),
    Row(
        "(c) comparison GET vs (a)",
        "comparison_rps",
        "/s",
        "hello_rps",
        "ratio_comparison_vs_hello",
    ),
    Row("    comparison p99", "comparison_p99_ms", " ms"),
    Row("(d) PUT votes (goal >= 1,000 /s)", "vote_rps", "/s"),
    Row("    vote p50", "vote_p50_ms", " ms"),
    Row("    vote p99", "vote_p99_ms", " ms"),
    Row("    vote errors (goal 0)", "vote_errors"),
    Row("    accepted votes missing from the log (goal 0)", "votes_missing"),
    Row("server workers", "workers"),
]

CONNECTIONS = 32
CARD = "/api/tools/code-llama-4"
COMPARISON = "/api/comparisons/code-llama-4/mistral-medium-3"
VOTE_TARGETS = (
    ("/api/tools/code-llama-4/vote", '{"choice":"ship"}'),
    ("/api/tools/mistral-medium-3/vote", '{"choice":"ship"}'),
    ("/api/comparisons/code-llama-4/mistral-medium-3/vote", '{"pick":"code-llama-4"}'),
)
# Ceiling on the vote rate the token supply is sized for.
MAX_VOTES_PER_S = 4000

# Reports what wrk measured as one JSON line; status counts come from
# response() only where a script defines it (the vote load).
_DONE = """
function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok") or 0); bad = bad + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "seconds": %f, "p50_us": %d, "p99_us": %d, '
    .. '"socket_errors": %d, "non_2xx": %d, "ok": %d, "bad": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout,
    e.status, ok, bad))
end
"""
GET_LUA = (
    """
threads = {}
function setup(thread) table.insert(threads, thread) end
"""
    + _DONE
)
VOTES_LUA = (
    """
-- args: token file, number of wrk threads, then pairs of path and body.
threads = {}
nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("id", nthreads)
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(args[2])
  tokens, targets = {}, {}
  local k = 0
  for line in io.lines(args[1]) do
    if k % n == (id - 1) then table.insert(tokens, line) end
    k = k + 1
  end
  for i = 3, #args, 2 do table.insert(targets, {args[i], args[i + 1]}) end
  sent, ok, bad = 0, 0, 0
end

function request()
  -- All of this thread's tokens on the first subject, then the next subject.
  local i = sent % (#tokens * #targets)
  sent = sent + 1
  local target = targets[math.floor(i / #tokens) + 1]
  local body = target[2]
  if sent > #tokens * #targets then body = body:gsub("ship", "skip") end
  return wrk.format("PUT", target[1], {
    ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1],
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end
"""
    + _DONE
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of each load (default 10)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="granian workers for every load"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads (default 1: on two cores a second one takes CPU from the "
        "server)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds that each read load's seconds are split into",
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up before each load"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to make the temporary ledger home"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary home (and server log)"
    )


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        msg = (
            "wrk is not installed; the http benchmark drives the server with it. "
            "Install it with: apt-get install -y wrk"
        )
        raise SystemExit(msg)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _opened(home: Path) -> Iterator[Ledger]:
    """The ledger of ``home``, closed afterwards."""
    ledger = Ledger(Settings(home=home))
    try:
        yield ledger
    finally:
        ledger.close()


def _prepare(home: Path, voters: int, say: Any) -> Path:
    """The demo ledger, and a file of ``voters`` pre-issued voter tokens."""
    with _opened(home) as ledger:
        demo.load(ledger)
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


class Server:
    """``ledger serve`` in a subprocess, stopped with SIGINT like a person would."""

    def __init__(self, home: Path, workers: int) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (home / "serve.log").open("wb")
        ledger_cli = Path(sys.executable).with_name("ledger")
        env = {**os.environ, "LEDGER_HOME": str(home)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = subprocess.Popen(
            [
                str(ledger_cli) if ledger_cli.exists() else "ledger",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"ledger serve exited early; see {home / 'serve.log'}"
                raise SystemExit(msg)
            try:
                if httpx.get(self.base + "/healthz/ping", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        msg = "ledger serve did not answer within 30 s"
        raise SystemExit(msg)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _load(
    wrk: str,
    url: str,
    script: Path,
    seconds: float,
    threads: int,
    extra: list[str] | None = None,
) -> dict[str, float]:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, math.ceil(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    if extra:
        command += ["--", *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("WRK "):
            found: dict[str, float] = json.loads(line[4:])
            found["rps"] = found["requests"] / found["seconds"]
            return found
    msg = f"wrk printed no summary:\n{done.stdout}\n{done.stderr}"
    raise RuntimeError(msg)


def _median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median rate, with the median of the rounds' latencies."""
    median = dict(sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2])
    for key in ("p50_us", "p99_us"):
        median[key] = statistics.median(r[key] for r in rounds)
    return median


def _votes_logged(home: Path, after: int) -> int:
    count = 0
    with _opened(home) as ledger:
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


def run(args: argparse.Namespace) -> Figures:
    """Runs the four loads and returns their figures."""
    wrk = _wrk()
    say = (lambda _: None) if args.json else _say
    root = Path(tempfile.mkdtemp(prefix="bench-http-", dir=args.dir))
    home = root / "ledger"
    scripts = {"get": root / "get.lua", "votes": root / "votes.lua"}
    scripts["get"].write_text(GET_LUA)
    scripts["votes"].write_text(VOTES_LUA)
    voters = math.ceil(
        MAX_VOTES_PER_S * (args.seconds + args.warmup) / len(VOTE_TARGETS)
    )
    try:
        tokens = _prepare(home, voters, say)
        say(f"ledger home {home} on {filesystem(root)}; {args.workers} worker(s)")
        server = Server(home, args.workers)
        figures: Figures = {"workers": float(args.workers)}
        try:
            reads = (
                ("hello", "/healthz/ping"),
                ("card", CARD),
                ("comparison", COMPARISON),
            )
            for _name, path in reads:
                if args.warmup:
                    _load(wrk, server.base + path, scripts["get"], args.warmup, 1)
            # Interleaved rounds, so drift of the machine falls on all alike.
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name, _ in reads}
            share = args.seconds / args.rounds
            for _ in range(args.rounds):
                for name, path in reads:
                    url = server.base + path
                    rounds[name].append(
                        _load(wrk, url, scripts["get"], share, args.threads)
                    )
            for name, _ in reads:
                measured = _median_round(rounds[name])
                figures[f"{name}_rps"] = measured["rps"]
                figures[f"{name}_p50_ms"] = measured["p50_us"] / 1000
                figures[f"{name}_p99_ms"] = measured["p99_us"] / 1000
                figures[f"{name}_errors"] = sum(
                    r["socket_errors"] + r["non_2xx"] for r in rounds[name]
                )
                say(
                    f"{name}: {measured['rps']:,.0f} req/s, p50 "
                    f"{measured['p50_us'] / 1000:.2f} ms, p99 "
                    f"{measured['p99_us'] / 1000:.2f} ms "
                    f"(median of {args.rounds} rounds)"
                )
            head = _head(home)
            targets = [part for target in VOTE_TARGETS for part in target]
            measured = _load(
                wrk,
                server.base,
                scripts["votes"],
                args.seconds,
                args.threads,
                [str(tokens), str(args.threads), *targets],
            )
        finally:
            server.stop()
        accepted = int(measured["ok"])
        logged = _votes_logged(home, head)
        figures["vote_rps"] = accepted / measured["seconds"]
        figures["vote_p50_ms"] = measured["p50_us"] / 1000
        figures["vote_p99_ms"] = measured["p99_us"] / 1000
        figures["vote_errors"] = measured["bad"] + measured["socket_errors"]
        figures["votes_accepted"] = accepted
        figures["votes_logged"] = logged
        figures["votes_missing"] = max(0, accepted - logged)
        figures["ratio_card_vs_hello"] = figures["card_rps"] / figures["hello_rps"]
        figures["ratio_comparison_vs_hello"] = (
            figures["comparison_rps"] / figures["hello_rps"]
        )
        say(
            f"votes: {figures['vote_rps']:,.0f}/s accepted, {accepted} accepted, "
            f"{logged} in the log"
        )
        return figures
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _head(home: Path) -> int:
    with _opened(home) as ledger:
        return ledger.head_position()
