"""Reliability: crashes, races, storage faults, hostile input, access, streams.

Runs the scenarios of the reliability suite (``tests/reliability/``, whose
modules this imports, so the figures come from the code the tests check) on
larger numbers than the tests do, and counts what they found:

(a) crashes: ``ledger serve`` SIGKILLed (its whole process group) at random
    moments under mixed writes from ``--writers`` client threads, restarted,
    and the unanswered writes retried, ``--cycles`` times with each worker
    count of ``--worker-counts``; then every acknowledged write is looked
    for in the log, the idempotency keys are checked, and the read models
    are compared with a clean rebuild (:mod:`tests.reliability.crash`).
(b) contention: ``--contention-clients`` threads each send
    ``--contention-attempts`` ``If-Match`` edits of one tool to a two-worker
    server (:mod:`tests.reliability.contention`).
(c) storage faults: ``--fault-rounds`` episodes of each fault this machine
    can inject (a held lock; as root, a full disk and a read-only home),
    writes during and after each (:mod:`tests.reliability.storage`).
(d) hostile input: the hostile corpora over a real server,
    ``--hostile-rounds`` times (:mod:`tests.reliability.hostile`).
(e) access: every write endpoint with every kind of credential,
    ``--access-rounds`` times (:mod:`tests.reliability.access`).
(f) streams: ``--streams`` event streams held open, and the server's idle
    CPU with them against ``--baseline-streams`` (the ``streams``
    benchmark, run with these counts; ``--streams 0`` skips it).

Every figure named lost, duplicated, stuck, 5xx, wrong or partial must be 0
(docs/RELIABILITY.md); the run prints them whatever they are.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import streams
from benchmarks.report import Figures, Row

ROOT = Path(__file__).resolve().parents[2]
TITLE = "reliability: crashes, races, storage faults, hostile input, access"
ROWS = [
    Row("requests sent, all scenarios", "requests_sent"),
    Row("(a) crash cycles (SIGKILL of the server's group)", "crash_cycles"),
    Row("    acknowledged writes", "acked_writes"),
    Row("    writes left unanswered by a crash, retried", "retried_writes"),
    Row("    acknowledged writes lost (goal 0)", "lost_writes"),
    Row("    writes in the log twice (goal 0)", "duplicated_writes"),
    Row("    answers naming another position (goal 0)", "misplaced_answers"),
    Row("    events no request explains (goal 0)", "unexplained_events"),
    Row("    idempotency keys stuck in flight (goal 0)", "stuck_idempotency_keys"),
    Row("    answers other than 2xx to a sound write (goal 0)", "crash_wrong_answers"),
    Row("    read models unequal to a clean rebuild (goal 0)", "views_differ"),
    Row("(b) If-Match edits raced", "contention_attempts"),
    Row("    applied", "contention_applied"),
    Row("    refused as conflicts (409/412)", "conflicts"),
    Row("    answered otherwise (goal 0)", "contention_other_answers"),
    Row("    lost updates (goal 0)", "lost_updates"),
    Row("(c) storage faults injected", "faults_injected"),
    Row("    writes during and after them", "fault_requests"),
    Row("    503 with Retry-After", "fault_503"),
    Row("    other 5xx, or 503 without Retry-After (goal 0)", "fault_5xx"),
    Row("    writes taken or appended during a fault (goal 0)", "fault_partial_writes"),
    Row("    writes refused after it cleared (goal 0)", "fault_unrecovered"),
    Row("    /healthz/ready 200 during a fault (goal 0)", "fault_ready_while_failing"),
    Row("(d) hostile inputs sent", "hostile_inputs"),
    Row("    answered 5xx (goal 0)", "hostile_5xx"),
    Row("    connections held past the limit (goal 0)", "hostile_hangs"),
    Row("    events appended by them (goal 0)", "hostile_appended"),
    Row("(e) write requests, every credential", "access_requests"),
    Row("    of them refused", "access_refused"),
    Row("    answered other than due (goal 0)", "access_wrong_answers"),
    Row("    refused, yet changed something (goal 0)", "access_appended_when_refused"),
    Row("(f) event streams held open", "streams_held"),
    Row(
        "    idle server CPU with them, vs few",
        "idle_cpu_1000",
        " s",
        "idle_cpu_10",
        "ratio_idle_1000_vs_10",
        2,
        at_most=True,
    ),
    Row("    write-to-every-stream delivery p99", "delivery_p99_ms", " ms"),
]
MUST_BE_ZERO = (
    "lost_writes",
    "duplicated_writes",
    "misplaced_answers",
    "unexplained_events",
    "stuck_idempotency_keys",
    "crash_wrong_answers",
    "views_differ",
    "contention_other_answers",
    "lost_updates",
    "fault_5xx",
    "fault_partial_writes",
    "fault_unrecovered",
    "fault_ready_while_failing",
    "hostile_5xx",
    "hostile_hangs",
    "hostile_appended",
    "access_wrong_answers",
    "access_appended_when_refused",
)
"""The figures that state a promise was broken (docs/RELIABILITY.md)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument(
        "--cycles", type=int, default=20, help="kills per worker count (default 20)"
    )
    parser.add_argument(
        "--worker-counts",
        default="1,2",
        help="granian worker counts the crash cycles run with (default 1,2)",
    )
    parser.add_argument(
        "--writers", type=int, default=4, help="client threads writing (default 4)"
    )
    parser.add_argument(
        "--uptime",
        type=float,
        default=1.5,
        help="most seconds of writes before a kill (default 1.5)",
    )
    parser.add_argument("--contention-clients", type=int, default=6)
    parser.add_argument("--contention-attempts", type=int, default=100)
    parser.add_argument("--fault-rounds", type=int, default=5)
    parser.add_argument("--hostile-rounds", type=int, default=3)
    parser.add_argument("--access-rounds", type=int, default=2)
    parser.add_argument(
        "--streams", type=int, default=1000, help="event streams held (0: skip)"
    )
    parser.add_argument("--baseline-streams", type=int, default=10)
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=15.0,
        help="idle window of each stream measurement (default 15)",
    )
    parser.add_argument("--stream-writes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to make the temporary directory"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> Figures:
    """Runs every scenario in a temporary directory; returns their figures."""
    counts = tuple(int(part) for part in args.worker_counts.split(","))
    if args.cycles < 1 or not counts or min(counts) < 1 or args.writers < 1:
        msg = "--cycles, --writers and each of --worker-counts must be at least 1"
        raise SystemExit(msg)
    sys.path.insert(0, str(ROOT))
    from tests.api.helpers import issue_tokens, make_home
    from tests.reliability import access, contention, crash, hostile, storage

    say = (lambda _: None) if args.json else _say
    root = Path(tempfile.mkdtemp(prefix="bench-reliability-", dir=args.dir))
    figures: Figures = {}
    try:
        started = time.monotonic()
        crashes = crash.run(
            root / "crash",
            workers=counts,
            cycles=args.cycles,
            writers=args.writers,
            uptime=(0.1, args.uptime),
            seed=args.seed,
        )
        figures.update(crashes.figures())
        figures["crash_wrong_answers"] = figures.pop("unexpected_answers")
        figures["crash_requests"] = figures.pop("requests_sent")
        say(_line("(a) crashes", crashes.figures(), started))

        started = time.monotonic()
        home = make_home(root / "contention")
        raced = contention.run(
            home,
            issue_tokens(home)["editor"],
            clients=args.contention_clients,
            attempts=args.contention_attempts,
        )
        figures.update(raced.figures())
        say(_line("(b) contention", raced.figures(), started))

        started = time.monotonic()
        faults = storage.run(root / "faults", rounds=args.fault_rounds)
        figures.update(faults.figures())
        say(_line("(c) storage faults", faults.figures(), started))
        for skipped in faults.skipped:
            say(f"    skipped: {skipped}")

        started = time.monotonic()
        home = make_home(root / "hostile")
        hostility = hostile.run(home, issue_tokens(home), rounds=args.hostile_rounds)
        figures.update(hostility.figures())
        say(_line("(d) hostile input", hostility.figures(), started))
        for outcome in hostility.failures:
            say(f"    {outcome.case}: {outcome.status} (hung: {outcome.hung})")

        started = time.monotonic()
        checked = access.run(root / "access", rounds=args.access_rounds)
        figures.update(checked.figures())
        say(_line("(e) access", checked.figures(), started))
        for wrong in checked.wrong:
            say(f"    {wrong}")

        figures["requests_sent"] = sum(
            figures[key]
            for key in (
                "crash_requests",
                "contention_attempts",
                "fault_requests",
                "hostile_inputs",
                "access_requests",
            )
        )
        figures.update(_streams(args, root, say))
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    broken = [key for key in MUST_BE_ZERO if figures[key]]
    if broken:
        say(f"promises broken: {', '.join(broken)} (see docs/RELIABILITY.md)")
    return figures


def _streams(
    args: argparse.Namespace, root: Path, say: Callable[[str], None]
) -> Figures:
    """The streams benchmark on these counts, or zeros when skipped."""
    if args.streams == 0:
        say("(f) streams: skipped")
        return {
            "streams_held": 0.0,
            "idle_cpu_1000": 0.0,
            "idle_cpu_10": 0.0,
            "ratio_idle_1000_vs_10": 0.0,
            "delivery_p99_ms": 0.0,
        }
    measured = streams.run(
        argparse.Namespace(
            streams=args.streams,
            baseline_streams=args.baseline_streams,
            idle_seconds=args.idle_seconds,
            writes=args.stream_writes,
            workers=1,
            dir=root,
            keep=False,
            json=args.json,
        )
    )
    return {
        "streams_held": measured["streams"],
        "idle_cpu_1000": measured["idle_cpu_1000"],
        "idle_cpu_10": measured["idle_cpu_10"],
        "ratio_idle_1000_vs_10": measured["ratio_idle_1000_vs_10"],
        "delivery_p99_ms": measured["delivery_p99_ms"],
    }


def _line(name: str, figures: dict[str, float], started: float) -> str:
    shown = ", ".join(f"{key} {value:g}" for key, value in figures.items())
    return f"{name} in {time.monotonic() - started:.0f} s: {shown}"
