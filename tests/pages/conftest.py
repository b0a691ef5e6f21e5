"""Fixtures for the page tests: a fresh demo ledger and an app serving it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from api.settings import ApiSettings
from ledger import demo
from ledger.application import Ledger
from ledger.settings import Settings


@pytest.fixture
def demo_home(tmp_path: Path) -> Path:
    """A LEDGER_HOME holding only the demo comparison."""
    home = tmp_path / "ledger"
    ledger = Ledger(Settings(home=home))
    try:
        demo.load(ledger)
    finally:
        ledger.close()
    return home


@pytest.fixture
def client(demo_home: Path) -> Iterator[TestClient[Litestar]]:
    """The whole app (JSON API, pages, feed) over the demo ledger."""
    settings = ApiSettings(
        ledger=Settings(home=demo_home), access_log=False, log_level="WARNING"
    )
    with TestClient(app=create_app(settings)) as test_client:
        yield test_client
