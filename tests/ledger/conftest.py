"""Fixtures the write side's tests share.

They build on the fixtures of ``tests/conftest.py``: ``home`` (a ledger home
that does not exist yet), ``ledger`` (the ledger on it), ``events`` (its log)
and ``postgres`` (ledgers in a private PostgreSQL schema). Plain functions
and givens are in ``helpers.py``; a fixture only one module uses stays in it.
"""

from __future__ import annotations

import pytest

from ledger import demo
from ledger.application import Ledger

from .helpers import register


@pytest.fixture
def two_tools(ledger: Ledger) -> Ledger:
    """The ledger with tools ``alpha`` and ``beta`` registered."""
    register(ledger, "alpha")
    register(ledger, "beta")
    return ledger


@pytest.fixture
def demo_ledger(ledger: Ledger) -> Ledger:
    """The ledger holding the demo comparison (two tools, a panel of four)."""
    demo.load(ledger)
    return ledger
