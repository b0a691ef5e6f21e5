"""Fixtures for the page tests: a demo ledger, the app over it, a browser.

``client`` drives the app in process; ``server`` is a real ``ledger serve``
and ``browser`` Debian's Chromium, for the tests of the page in a browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from playwright.sync_api import Browser, sync_playwright

from api import create_app
from tests.api.helpers import (
    issue_tokens,
    load_demo,
    make_home,
    served,
    settings_for,
)
from tests.pages.helpers import CHROMIUM, CHROMIUM_ARGS, Desk
from tests.stores import Store


@pytest.fixture
def demo_home(tmp_path: Path) -> Path:
    """A LEDGER_HOME holding only the demo comparison."""
    return make_home(tmp_path)


@pytest.fixture
def client(demo_home: Path) -> Iterator[TestClient[Litestar]]:
    """The whole app (JSON API, pages, feed) over the demo ledger."""
    with TestClient(app=create_app(settings_for(demo_home))) as test_client:
        yield test_client


@pytest.fixture
def desk(event_store: Store) -> Iterator[Desk]:
    """The app over the demo ledger on each event store, with a token per role.

    On both stores because the sessions live beside the tokens: in
    ``auth.sqlite``, or in a table of the log's PostgreSQL schema.
    """
    home = load_demo(event_store.settings.home)
    tokens = issue_tokens(home)
    with TestClient(app=create_app(settings_for(home))) as test_client:
        yield Desk(test_client, tokens)


@pytest.fixture
def server(demo_home: Path) -> Iterator[str]:
    """`ledger serve` on a free port over the demo ledger; yields its base URL."""
    with served(demo_home) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()
