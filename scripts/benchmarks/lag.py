"""Projection lag: from a command's append to visible in the read model.

Commands run in the same process as a started ``Projector``, which the ledger
wakes right after every local append. For each command the clock runs from
just before the command is called (so the append itself is included) until
its position is visible through a ``ReadModel`` on a connection of its own:
p50 and p99 over ``--samples`` commands (votes, with a review now and then).
The baseline is the same projector with the wake-up unplugged, so only its
poll (every ``--poll-interval`` seconds) finds the appends.

Goal (issue 3): p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_P99_MS = 100.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument(
        "--samples", type=int, default=300, help="commands measured (default 300)"
    )
    parser.add_argument(
        "--baseline-samples",
        type=int,
        default=12,
        help="commands measured with polling only (default 12)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.5,
        help="the projector's poll interval in seconds (default 0.5)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measures the lag with and without the wake-up; returns the figures."""
    if args.samples < 2 or args.baseline_samples < 1 or args.poll_interval <= 0:
        msg = "--samples >= 2, --baseline-samples >= 1, --poll-interval > 0"
        raise SystemExit(msg)
    home = Path(tempfile.mkdtemp(prefix="bench-lag-"))
    try:
        woken = _measure(home / "woken", args.samples, args.poll_interval, wake=True)
        polled = _measure(
            home / "polled", args.baseline_samples, args.poll_interval, wake=False
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures = {
        "p50_ms": round(percentile(woken, 50), 2),
        "p99_ms": round(percentile(woken, 99), 2),
        "max_ms": round(max(woken), 2),
        "samples": len(woken),
        "poll_only_p50_ms": round(percentile(polled, 50), 2),
        "poll_only_p99_ms": round(percentile(polled, 99), 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        _table(figures, args.poll_interval)
    return figures


def percentile(values: list[float], percent: float) -> float:
    """The ``percent``-th percentile of ``values`` (inclusive method)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(percent) - 1]


def _measure(
    home: Path, samples: int, poll_interval: float, *, wake: bool
) -> list[float]:
    from ledger.application import Ledger
    from ledger.context import Context
    from ledger.settings import Settings
    from projections import Projector, ReadModel, readmodel_path

    settings = Settings(home=home)
    ledger = Ledger(settings)
    ctx = Context(actor="editor:bench", request_id="bench")
    fields = {"name": "Tool", "vendor": "Acme", "category": "Developer Tools"}
    tools = [f"tool-{index}" for index in range(4)]
    for slug in tools:
        ledger.register_tool(ctx, slug, fields)
    for index in range(samples // 20 + 1):
        ledger.enroll_reviewer(ctx, f"reviewer-{index}", name="R", lens="builder")
    projector = Projector(ledger, readmodel_path(settings), poll_interval=poll_interval)
    projector.catch_up()
    projector.start()
    if not wake:
        ledger.remove_listener(projector.wake)
    model = ReadModel(readmodel_path(settings))
    lags = []
    try:
        for sample in range(samples):
            tool = tools[sample % len(tools)]
            started = time.perf_counter()
            if sample % 20 == 0:
                receipt = ledger.submit_review(
                    ctx,
                    tool,
                    f"reviewer-{sample // 20}",
                    verdict="ship",
                    rationale="Good.",
                )
            else:
                receipt = ledger.cast_vote(ctx, f"voter-{sample}", tool, "ship")
            if not projector.wait_for(receipt.position, timeout=10):
                msg = f"position {receipt.position} not projected within 10 s"
                raise RuntimeError(msg)
            card = model.tool(tool)
            if card is None or card.position < receipt.position:
                msg = f"the read model does not show position {receipt.position}"
                raise RuntimeError(msg)
            lags.append((time.perf_counter() - started) * 1000)
    finally:
        if wake:
            projector.close()
        else:
            ledger.add_listener(projector.wake)
            projector.close()
        model.close()
        ledger.close()
    return lags


def _table(figures: dict[str, Any], poll_interval: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", "goal", title="lag: append to visible")
    table.add_row("p50, woken after each append", f"{figures['p50_ms']:.2f} ms", "")
    verdict = "met" if figures["p99_ms"] <= GOAL_P99_MS else "missed"
    table.add_row(
        "p99, woken after each append",
        f"{figures['p99_ms']:.2f} ms",
        f"<= {GOAL_P99_MS:g} ms ({verdict})",
    )
    table.add_row("max", f"{figures['max_ms']:.2f} ms", "")
    table.add_row(
        f"p50, polling every {poll_interval:g} s only",
        f"{figures['poll_only_p50_ms']:.2f} ms",
        "",
    )
    table.add_row(
        f"p99, polling every {poll_interval:g} s only",
        f"{figures['poll_only_p99_ms']:.2f} ms",
        "",
    )
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
