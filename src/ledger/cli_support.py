"""What the write side's commands share: the ledger they open, their refusals.

Kept apart from :mod:`ledger.cli`, which imports every command group, so
that a group in a module of its own can use them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ledger import errors
from ledger.application import Ledger
from ledger.auth import TokenError
from ledger.settings import Settings


@contextmanager
def opened_ledger() -> Iterator[Ledger]:
    """The ledger of ``LEDGER_HOME``, closed afterwards."""
    ledger = Ledger(Settings.from_env())
    try:
        yield ledger
    finally:
        ledger.close()


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turns domain errors and bad settings into a one-line message and exit 1."""
    try:
        yield
    except (errors.LedgerError, TokenError, ValueError) as error:
        raise click.ClickException(str(error)) from error
