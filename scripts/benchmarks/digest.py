"""How fast one week's digest is built and mailed to every subscriber.

Generates a ledger (a plausible life of the site, :mod:`benchmarks.sitelife`,
plus ``--subscribers`` confirmed subscriptions, their addresses sealed as
live), builds its read models, then measures:

- ``build_s``: reading one week's digest from the read models and rendering
  it, HTML and text, into the mail every subscriber gets;
- ``send_per_s``: ``ledger digest --send``'s own code mailing it to every
  active subscriber through aiosmtpd, a local SMTP server in a process of its
  own, measured in a child process whose peak RSS is ``peak_rss_mb``.

Sending runs twice, first with a quarter of the subscribers and then with
all of them, so that the two peaks show whether memory grows with the
number of subscribers (it should not: they are read, opened and sent a
batch at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOALS = {"send_per_s": 500, "peak_rss_mb": 300}
INSERT_BATCH = 5000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument(
        "--count",
        "--events",
        dest="count",
        type=int,
        default=1_000_000,
        help="events in the log, subscriptions included (default 1M)",
    )
    parser.add_argument(
        "--subscribers",
        type=int,
        default=10_000,
        help="confirmed subscribers mailed (default 10,000)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=0,
        help="relay connections at once (default: the command's own default)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument(
        "--home", type=Path, help="keep the generated ledger here (default: temp)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generates the ledger, measures building and sending; returns the figures."""
    from benchmarks.sitelife import SPAN, START, generate
    from ledger.weeks import Week

    if args.subscribers < 4:
        raise SystemExit("--subscribers must be at least 4")
    if args.count < 2 * args.subscribers + 1000:
        raise SystemExit("--count must be at least 1000 more than 2 x --subscribers")
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-digest-"))
    say = (lambda *_: None) if args.json else _say
    week = Week.containing(START + SPAN / 2)
    small = args.subscribers // 4
    server = SmtpServer()
    try:
        started = time.perf_counter()
        generate(home, args.count - 2 * args.subscribers, args.seed)
        add_subscribers(home, 0, small)
        say(f"generated the log in {time.perf_counter() - started:.1f} s")
        rebuild_s = rebuild(home)
        say(f"built the read models in {rebuild_s:.1f} s")
        build_s = measure_build(home, week)
        say(f"built the digest of {week.label} in {build_s:.3f} s")
        first = measure_send(home, week, server.url, args.connections)
        _said(say, first)
        add_subscribers(home, small, args.subscribers - small)
        catch_up(home)  # here, so that the child's peak is the send's alone
        (home / "deliveries.sqlite").unlink()
        second = measure_send(home, week, server.url, args.connections)
        _said(say, second)
        received = server.stop()
    finally:
        server.stop()
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    if (first["sent"], second["sent"]) != (small, args.subscribers):
        raise SystemExit(f"sent {first['sent']} and {second['sent']}: some failed")
    if received != small + args.subscribers:
        raise SystemExit(f"the SMTP server received {received} mails")
    figures = {
        "events": args.count,
        "week": week.label,
        "subscribers": args.subscribers,
        "build_s": round(build_s, 4),
        "rebuild_s": round(rebuild_s, 2),
        "send_per_s": round(second["per_s"], 1),
        "peak_rss_mb": round(second["rss"], 1),
        "subscribers_small": small,
        "send_per_s_small": round(first["per_s"], 1),
        "peak_rss_mb_small": round(first["rss"], 1),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        _table(figures)
    return figures


def _said(say: Any, sent: dict[str, Any]) -> None:
    say(
        f"sent {sent['sent']:,}: {sent['per_s']:,.0f} /s, peak RSS {sent['rss']:.0f} MB"
    )


def _say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _table(figures: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def verdict(met: bool) -> str:
        return "[green]met[/]" if met else "[red]missed[/]"

    rate, rss = figures["send_per_s"], figures["peak_rss_mb"]
    table = Table("figure", "value", "goal", "", title="digest benchmark")
    table.add_row("events", f"{figures['events']:,}", "", "")
    table.add_row("week", figures["week"], "", "")
    table.add_row("build the digest", f"{figures['build_s']:.3f} s", "", "")
    table.add_row(
        f"send to {figures['subscribers']:,}",
        f"{rate:,.0f} /s",
        f">= {GOALS['send_per_s']} /s",
        verdict(rate >= GOALS["send_per_s"]),
    )
    table.add_row(
        f"peak RSS, {figures['subscribers']:,} subscribers",
        f"{rss:.0f} MB",
        f"<= {GOALS['peak_rss_mb']} MB",
        verdict(rss <= GOALS["peak_rss_mb"]),
    )
    table.add_row(
        f"send to {figures['subscribers_small']:,}",
        f"{figures['send_per_s_small']:,.0f} /s",
        "",
        "",
    )
    table.add_row(
        f"peak RSS, {figures['subscribers_small']:,} subscribers",
        f"{figures['peak_rss_mb_small']:.0f} MB",
        "flat",
        "",
    )
    Console().print(table)


# Building the ledger.


def add_subscribers(home: Path, first: int, count: int) -> None:
    """Appends ``count`` confirmed subscriptions, as the ledger would record them.

    Their keys are made in one transaction first (making each alone, as a
    live subscription does, syncs the key file once per subscriber); the
    events are then sealed with them by the ledger's own mapper.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ledger.application import Ledger
    from ledger.context import Context
    from ledger.people import Subscription
    from ledger.personal_data import now_text, subscriber_person
    from ledger.settings import Settings
    from ledger.sqlite_keyring import KEYS_DDL

    settings = Settings(home=home)
    ledger = Ledger(settings)
    try:
        ctx = Context(actor="system", request_id="bench-digest")
        wanted = []
        for n in range(first, first + count):
            address = f"reader{n}@example.org"
            subscription_id = ledger.subscription_id(address)
            wanted.append((subscription_id, address))
        keys = sqlite3.connect(settings.keys_path)
        with keys:
            keys.execute(KEYS_DDL)
            keys.executemany(
                "INSERT OR IGNORE INTO person_keys (person, key, created_at) "
                "VALUES (?, ?, ?)",
                [
                    (subscriber_person(str(s)), AESGCM.generate_key(256), now_text())
                    for s, _ in wanted
                ],
            )
        keys.close()
        batch: list[Any] = []
        for subscription_id, address in wanted:
            person = subscriber_person(str(subscription_id))
            subscription = Subscription.request(ctx, subscription_id, person, address)
            subscription.confirm(ctx)
            batch += [
                ledger.mapper.to_stored_event(event)
                for event in subscription.collect_events()
            ]
            if len(batch) >= INSERT_BATCH:
                ledger.recorder.insert_events(batch)
                batch = []
        if batch:
            ledger.recorder.insert_events(batch)
    finally:
        ledger.close()


def rebuild(home: Path) -> float:
    """Brings the read models up to the head of the log; the seconds it took."""
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections import readmodel_path
    from projections.rebuild import rebuild as rebuild_readmodel

    settings = Settings(home=home)
    ledger = Ledger(settings)
    try:
        return rebuild_readmodel(ledger, readmodel_path(settings)).seconds
    finally:
        ledger.close()


def catch_up(home: Path) -> None:
    """Folds the events appended since the read models were built."""
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections import readmodel_path
    from projections.projector import Projector

    settings = Settings(home=home)
    ledger = Ledger(settings)
    projector = Projector(ledger, readmodel_path(settings))
    try:
        projector.catch_up()
    finally:
        projector.close()
        ledger.close()


def measure_build(home: Path, week: Any) -> float:
    """Seconds to read the week's digest and render the mail from it."""
    os.environ["LEDGER_HOME"] = str(home)
    from api.config import ApiSettings
    from api.digest_cli import digest_mail
    from ledger.application import Ledger
    from projections import readmodel_path
    from projections.queries import ReadModel

    settings = ApiSettings.from_env()
    ledger = Ledger(settings.ledger)
    model = ReadModel(readmodel_path(settings.ledger), ledger.sealer)
    try:
        started = time.perf_counter()
        digest_mail(settings, model.digest(week))
        return time.perf_counter() - started
    finally:
        model.close()
        ledger.close()


# Sending, in a child process; the SMTP server in another.


def measure_send(home: Path, week: Any, url: str, connections: int) -> dict[str, Any]:
    """Runs the send in a child process: how many, how fast, its peak RSS."""
    env = {**os.environ, "LEDGER_HOME": str(home), "LEDGER_SMTP_URL": url}
    env.pop("LEDGER_PUBLIC_URL", None)
    result = subprocess.run(
        [sys.executable, __file__, "--child-send", week.label, str(connections)],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"sending failed:\n{result.stderr}{result.stdout}")
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def _child_send(week_label: str, connections: int) -> None:
    from api.config import ApiSettings
    from api.digest_cli import caught_up_digest, send_digest
    from api.digest_sender import CONNECTIONS
    from benchmarks.report import own_peak_rss_kb
    from ledger.application import Ledger
    from ledger.weeks import Week

    settings = ApiSettings.from_env()
    ledger = Ledger(settings.ledger)
    digest = caught_up_digest(ledger, settings, Week.parse(week_label))
    started = time.perf_counter()
    outcome = send_digest(
        ledger,
        settings,
        digest,
        "operator:bench",
        connections=connections or CONNECTIONS,
    )
    seconds = time.perf_counter() - started
    ledger.close()
    print(
        json.dumps(
            {
                "sent": outcome.sent,
                "per_s": outcome.sent / seconds,
                "rss": own_peak_rss_kb() / 1024,
            }
        )
    )


class SmtpServer:
    """aiosmtpd in a process of its own, counting the mails it accepts."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, __file__, "--child-smtp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.url = f"smtp://127.0.0.1:{port}?starttls=0"
        self.received = 0

    def stop(self) -> int:
        """Stops the server (once); how many mails it accepted."""
        process, self.process = self.process, None
        if process is not None:
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.close()
            self.received = int(process.stdout.readline() or 0)
            process.wait(timeout=30)
        return self.received


def _child_smtp() -> None:
    import socket

    from aiosmtpd.controller import Controller

    class Counting:
        accepted = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Counting.accepted += len(envelope.rcpt_tos)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    sys.stdin.read()  # until the benchmark closes it
    controller.stop()
    print(Counting.accepted, flush=True)


if __name__ == "__main__":
    # Run as a script: import ``benchmarks`` as a package, never its modules
    # as top-level ones (``benchmarks/http.py`` would hide the standard one).
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    if sys.argv[1:2] == ["--child-send"]:
        _child_send(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["--child-smtp"]:
        _child_smtp()
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        add_arguments(parser)
        run(parser.parse_args())
