"""What the read side's ``ledger`` commands open first: its ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ledger.application import Ledger
from ledger.settings import Settings


@contextmanager
def ledger_of() -> Iterator[tuple[Ledger, Settings]]:
    """The ledger of ``LEDGER_HOME``; a bad setting is a one-line error."""
    try:
        settings = Settings.from_env()
        ledger = Ledger(settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    try:
        yield ledger, settings
    finally:
        ledger.close()
