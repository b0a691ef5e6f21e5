"""Driving a server with wrk: its Lua scripts, one load, and the median round.

wrk keeps 32 connections busy from one thread at a fraction of the CPU a
Python client would need, which matters on a two-core machine where the
client takes CPU from the server it measures. Its summary is printed by a
``done`` hook as one JSON line, so nothing parses wrk's human output.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
from pathlib import Path

CONNECTIONS = 32

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
PROOFS_LUA = (
    """
-- args: the log's length; each request proves a random one of its events.
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) events = tonumber(args[1]) end
function request()
  return wrk.format("GET", "/api/events/" .. math.random(1, events) .. "/proof")
end
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


def find() -> str:
    """The wrk executable; exits with how to install it when there is none."""
    found = shutil.which("wrk")
    if found is None:
        msg = (
            "wrk is not installed; the http benchmark drives the server with it. "
            "Install it with: apt-get install -y wrk"
        )
        raise SystemExit(msg)
    return found


def write_scripts(directory: Path) -> dict[str, Path]:
    """The Lua scripts, written into ``directory``: ``get``, ``proofs``, ``votes``."""
    scripts = {
        "get": directory / "get.lua",
        "proofs": directory / "proofs.lua",
        "votes": directory / "votes.lua",
    }
    scripts["get"].write_text(GET_LUA)
    scripts["proofs"].write_text(PROOFS_LUA)
    scripts["votes"].write_text(VOTES_LUA)
    return scripts


def load(
    wrk: str,
    url: str,
    script: Path,
    seconds: float,
    threads: int,
    extra: list[str] | None = None,
) -> dict[str, float]:
    """One wrk run of ``script`` against ``url``: its summary, with ``rps``.

    wrk counts whole seconds, so ``seconds`` is rounded up (at least one).
    """
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


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median rate, with the median of the rounds' latencies."""
    median = dict(sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2])
    for key in ("p50_us", "p99_us"):
        median[key] = statistics.median(r[key] for r in rounds)
    return median
