"""A second writer for the two-process tests.

Run as ``python writer_process.py NAME EDITS VOTES``.

Opens the ledger of ``LEDGER_HOME``, says ``ready``, waits for a line on
stdin so that every writer starts at once, then for each version 1..EDITS
casts VOTES votes by voters of its own and tries to edit tool ``alpha``
expecting that version. Prints one JSON line: the versions it won, how many
edits lost, how many votes landed.
"""

from __future__ import annotations

import json
import sys

from ledger import errors
from ledger.application import Ledger
from ledger.context import Context
from ledger.settings import Settings


def main(name: str, edits: int, votes: int) -> None:
    ledger = Ledger(Settings.from_env())
    won: list[int] = []
    lost = landed = 0
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        ctx = Context(actor=f"editor:{name}", request_id=name)
        for version in range(1, edits + 1):
            for index in range(votes):
                voter = f"{name}-voter-{version}-{index}"
                ledger.cast_vote(ctx, voter, "alpha", "ship" if index % 2 else "skip")
                landed += 1
            try:
                ledger.edit_tool(
                    ctx,
                    "alpha",
                    {"tagline": f"{name} at {version}"},
                    expected_version=version,
                )
            except errors.ConcurrencyConflict:
                lost += 1
            else:
                won.append(version)
    finally:
        ledger.close()
    print(json.dumps({"name": name, "won": won, "lost": lost, "votes": landed}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
