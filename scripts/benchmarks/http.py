"""HTTP: reads beside a hello-world route of the same app, and vote writes.

Starts ``ledger serve`` (granian, the same worker count for every load) on a
ledger and drives it with wrk at 32 connections. The ledger is the demo one
(``--events 0``, the default) or a generated log of ``--events`` events over
two simulated years, its read models built by ``ledger rebuild`` (see
:mod:`benchmarks.http_site`); ``--home`` keeps it for the next run, since
generating a million events takes minutes. The reads, each warmed up, then
measured in interleaved rounds so that drift of the machine falls on all
alike:

(a) hello: ``GET /healthz/ping``, a route of the same app that touches
    neither the ledger nor the read model. It pays the same middleware
    (request id, metrics, access log) as every route, so it is the baseline.
(b) card: ``GET /api/tools/SLUG`` of the busiest tool (the most community
    votes; code-llama-4 on the demo ledger).
(c) comparison: ``GET /api/comparisons/A/B``, the demo's comparison or the
    first one listed (skipped, with zero figures, when there is none).
(d) tool page: ``GET /tools/SLUG``, the HTML page; its size is reported.
(e) history, first page: ``GET /api/tools/SLUG/history``.
(f) history, deep page: the ``next`` link, followed from
    ``?limit=1000``, that leads about halfway into the tool's history (the
    first page while the history has only one).
(g) tools list: ``GET /api/tools``, its first page.
(h) votes: ``PUT`` votes, each from a voter token issued beforehand (the
    tokens are spread over two tools and a head-to-head, so every request
    is a first vote of its voter on its subject while tokens last). After the
    load, the Vote events in the log are counted against the accepted (2xx)
    answers: every accepted vote must be there.

Goals (issue 4): b/a >= 0.7, p99 of (b) <= 10 ms, (h) >= 1,000 votes/s with
0 errors and 0 votes missing. Goals (issue 11, which are about the large
ledger): d/a >= 0.25 with d's p99 <= 5x a's, e/a and f/a >= 0.5, g/a >= 0.5,
and b/a still >= 0.7. Needs wrk (Debian: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urljoin

import httpx

from benchmarks import http_site, wrk
from benchmarks.http_site import Targets
from benchmarks.report import Figures, Row, filesystem

TITLE = "http: reads beside a hello-world route of the same app, and vote writes"
ROWS = [
    Row("events in the log", "events"),
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
    Row(
        "(d) tool page GET vs (a)",
        "tool_page_rps",
        "/s",
        "hello_rps",
        "ratio_tool_page_vs_hello",
        0.25,
    ),
    Row(
        "    tool page p99 vs hello p99",
        "tool_page_p99_ms",
        " ms",
        "hello_p99_ms",
        "ratio_tool_page_p99_vs_hello",
        5,
        at_most=True,
    ),
    Row("    tool page size", "tool_page_bytes", " B"),
    Row(
        "(e) history, first page, vs (a)",
        "history_rps",
        "/s",
        "hello_rps",
        "ratio_history_vs_hello",
        0.5,
    ),
    Row(
        "(f) history, deep page, vs (a)",
        "history_deep_rps",
        "/s",
        "hello_rps",
        "ratio_history_deep_vs_hello",
        0.5,
    ),
    Row("    history items of the tool", "history_items"),
    Row("    of them before the deep page", "history_deep_skipped"),
    Row(
        "(g) tools list, first page, vs (a)",
        "tools_list_rps",
        "/s",
        "hello_rps",
        "ratio_tools_list_vs_hello",
        0.5,
    ),
    Row("(h) PUT votes (goal >= 1,000 /s)", "vote_rps", "/s"),
    Row("    vote p50", "vote_p50_ms", " ms"),
    Row("    vote p99", "vote_p99_ms", " ms"),
    Row("    vote errors (goal 0)", "vote_errors"),
    Row("    accepted votes missing from the log (goal 0)", "votes_missing"),
    Row("server workers", "workers"),
]
RATIOS = ("card", "comparison", "tool_page", "history", "history_deep", "tools_list")
"""The reads whose rate is reported as a ratio to hello's."""

# Ceiling on the vote rate the token supply is sized for.
MAX_VOTES_PER_S = 4000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
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
        "--events",
        type=int,
        default=0,
        help="serve a generated log of about this many events (default 0: the demo "
        "ledger)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated log")
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="keep the ledger here, and reuse the log found here (default: a "
        "temporary one, removed)",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to make the temporary directory"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (ledger, server log, wrk scripts)",
    )


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> Figures:
    """Makes and serves the ledger, runs the loads and returns their figures."""
    if args.events and args.events < 1000:
        msg = "--events must be 0 (the demo ledger) or at least 1000"
        raise SystemExit(msg)
    if args.rounds < 1:
        msg = "--rounds must be at least 1"
        raise SystemExit(msg)
    find = wrk.find()
    say = (lambda _: None) if args.json else _say
    root = Path(tempfile.mkdtemp(prefix="bench-http-", dir=args.dir))
    home = args.home or root / "ledger"
    scripts = wrk.write_scripts(root)
    try:
        figures: Figures = {"workers": float(args.workers)}
        figures["events"] = http_site.make(home, args.events, args.seed, say)
        say(f"ledger home {home} on {filesystem(home)}; {args.workers} worker(s)")
        server = http_site.Server(home, args.workers, root / "serve.log")
        try:
            targets = http_site.find_targets(
                home, server.base, generated=args.events > 0
            )
            say(
                f"busiest tool {targets.tool}: {targets.history_items} history "
                f"items, deep page after {targets.deep_skipped}"
            )
            figures.update(_describe(server.base, targets))
            voters = math.ceil(
                MAX_VOTES_PER_S * (args.seconds + args.warmup) / len(targets.votes)
            )
            tokens = http_site.issue_tokens(home, voters, say)
            figures.update(_reads(find, scripts["get"], server, targets, args, say))
            server.settle()
            head = http_site.head(home)
            subjects = [part for target in targets.votes for part in target]
            votes = wrk.load(
                find,
                server.base,
                scripts["votes"],
                args.seconds,
                args.threads,
                [str(tokens), str(args.threads), *subjects],
            )
        finally:
            server.stop()
        figures.update(_votes(votes, http_site.votes_logged(home, head), say))
        hello = figures["hello_rps"]
        for name in RATIOS:
            figures[f"ratio_{name}_vs_hello"] = figures[f"{name}_rps"] / hello
        figures["ratio_tool_page_p99_vs_hello"] = (
            figures["tool_page_p99_ms"] / figures["hello_p99_ms"]
        )
        return figures
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _describe(base: str, targets: Targets) -> Figures:
    """Sizes of what the reads fetch: the tool page's bytes, the history's items."""
    page = httpx.get(f"{base}/tools/{targets.tool}", timeout=120)
    page.raise_for_status()
    return {
        "tool_page_bytes": len(page.content),
        "history_items": targets.history_items,
        "history_deep_skipped": targets.deep_skipped,
    }


def _reads(
    find: str,
    script: Path,
    server: http_site.Server,
    targets: Targets,
    args: argparse.Namespace,
    say: http_site.Say,
) -> Figures:
    """Rate, latencies and errors of every read, in interleaved rounds."""
    slug = targets.tool
    reads = [
        ("hello", "/healthz/ping"),
        ("card", f"/api/tools/{slug}"),
        ("comparison", targets.comparison),
        ("tool_page", f"/tools/{slug}"),
        ("history", f"/api/tools/{slug}/history"),
        ("history_deep", targets.history_deep),
        ("tools_list", "/api/tools"),
    ]
    urls = {
        name: urljoin(server.base, path) for name, path in reads if path is not None
    }

    def settle(name: str) -> None:
        if not server.settle():
            say(f"{name}: the server was still busy with it when the next load began")

    for name, url in urls.items():
        if args.warmup:
            wrk.load(find, url, script, args.warmup, 1)
            settle(name)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    share = args.seconds / args.rounds
    for _ in range(args.rounds):
        for name, url in urls.items():
            rounds[name].append(wrk.load(find, url, script, share, args.threads))
            settle(name)
    figures: Figures = {}
    for name, _ in reads:
        if name not in urls:
            say(f"{name}: nothing to request, figures are 0")
            for key in ("rps", "p50_ms", "p99_ms", "errors"):
                figures[f"{name}_{key}"] = 0.0
            continue
        measured = wrk.median_round(rounds[name])
        figures[f"{name}_rps"] = measured["rps"]
        figures[f"{name}_p50_ms"] = measured["p50_us"] / 1000
        figures[f"{name}_p99_ms"] = measured["p99_us"] / 1000
        figures[f"{name}_errors"] = sum(
            r["socket_errors"] + r["non_2xx"] for r in rounds[name]
        )
        say(
            f"{name}: {measured['rps']:,.0f} req/s, p50 "
            f"{measured['p50_us'] / 1000:.2f} ms, p99 "
            f"{measured['p99_us'] / 1000:.2f} ms, "
            f"{figures[f'{name}_errors']:.0f} errors "
            f"(median of {args.rounds} rounds)"
        )
    return figures


def _votes(measured: dict[str, float], logged: int, say: http_site.Say) -> Figures:
    """The vote load's figures, with the accepted votes checked against the log."""
    accepted = int(measured["ok"])
    figures: Figures = {
        "vote_rps": accepted / measured["seconds"],
        "vote_p50_ms": measured["p50_us"] / 1000,
        "vote_p99_ms": measured["p99_us"] / 1000,
        "vote_errors": measured["bad"] + measured["socket_errors"],
        "votes_accepted": accepted,
        "votes_logged": logged,
        "votes_missing": max(0, accepted - logged),
    }
    say(
        f"votes: {figures['vote_rps']:,.0f}/s accepted, {accepted} accepted, "
        f"{logged} in the log"
    )
    return figures
