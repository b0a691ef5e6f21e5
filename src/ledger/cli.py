"""The ``ledger`` command line.

The write side's commands live here; the read side and the HTTP side add
theirs (``rebuild``, ``status``, ``history``, ``serve``…) through the
``ledger.commands`` entry point group, so this package never imports them.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from uuid import UUID

import click
import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ledger import demo
from ledger import log as event_log
from ledger.cli_support import clear_errors, opened_ledger
from ledger.editorial_cli import EDITORIAL_GROUPS
from ledger.erasure_cli import erase_command
from ledger.keys_cli import keys_group
from ledger.opened_log import opened
from ledger.token_cli import token_group

console = Console(stderr=True)


class LedgerGroup(click.Group):
    """A click group that also offers the commands other packages register."""

    def _plugins(self) -> dict[str, click.Command]:
        found = {}
        for entry in entry_points(group="ledger.commands"):
            if entry.name not in self.commands:
                found[entry.name] = entry
        return found  # type: ignore[return-value]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self._plugins().get(cmd_name)
        return entry.load() if entry is not None else None  # type: ignore[attr-defined]


@click.group(cls=LedgerGroup)
def main() -> None:
    """Verdict Ledger: every review, vote and edit, kept as an immutable log.

    Every command acts on the ledger in LEDGER_HOME (default ./var).
    """


@main.command("demo")
def demo_command() -> None:
    """Load the demo comparison (safe to run again: appends only what is missing)."""
    with clear_errors(), opened_ledger() as ledger:
        appended = demo.load(ledger)
        head = ledger.head_position()
    console.print(f"demo ledger: {appended} event(s) appended, head at position {head}")


@main.command("log")
@click.option(
    "--after", default=0, show_default=True, help="Start after this position."
)
@click.option(
    "--limit", default=100, show_default=True, help="At most this many events."
)
@click.option(
    "--type", "types", multiple=True, help="Only this event type (repeatable)."
)
@click.option("--aggregate", help="Only events of this aggregate id.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print NDJSON instead of a table."
)
def log_command(
    after: int, limit: int, types: tuple[str, ...], aggregate: str | None, as_json: bool
) -> None:
    """Print the event log in position order, optionally filtered."""
    if limit < 1:
        raise click.BadParameter("must be at least 1", param_hint="--limit")
    try:
        wanted = UUID(aggregate) if aggregate else None
    except ValueError as error:
        raise click.BadParameter(
            f"{aggregate!r} is not a UUID", param_hint="--aggregate"
        ) from error
    with clear_errors(), opened_ledger() as ledger:
        selected: list[event_log.LoggedEvent] = []
        while len(selected) < limit:
            page = event_log.read(ledger.recorder, after=after, limit=1000, types=types)
            if not page:
                break
            selected += [e for e in page if wanted is None or e.aggregate_id == wanted]
            after = page[-1].position
        selected = opened(ledger.sealer, selected[:limit])
    if as_json:
        encoder = msgspec.json.Encoder()
        for item in selected:
            sys.stdout.buffer.write(encoder.encode(item) + b"\n")
        return
    table = Table("pos", "at", "type", "version", "actor", "reason", "data")
    for item in selected:
        data = msgspec.json.encode(item.data).decode()
        table.add_row(
            str(item.position),
            item.at.strftime("%Y-%m-%d %H:%M:%S"),
            item.type,
            str(item.version),
            item.actor,
            # Written by people (or "[erased]"): text, not rich markup.
            escape(item.reason),
            escape(data if len(data) <= 80 else data[:77] + "..."),
        )
    Console().print(table)


main.add_command(token_group)
main.add_command(erase_command)
main.add_command(keys_group)
for group in EDITORIAL_GROUPS:
    main.add_command(group)


if __name__ == "__main__":
    main()
