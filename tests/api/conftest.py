"""Fixtures for the API tests: a fresh demo ledger and the app over it.

Both run once per event store (``home`` is built on ``event_store``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api import create_app
from tests.api.helpers import Api, issue_tokens, load_demo, settings_for
from tests.stores import Store


@pytest.fixture
def home(event_store: Store) -> Path:
    """A LEDGER_HOME holding only the demo comparison, on each event store."""
    return load_demo(event_store.settings.home)


@pytest.fixture
def api(home: Path) -> Iterator[Api]:
    """The app over a fresh demo ledger, with its lifespan running."""
    tokens = issue_tokens(home)
    with TestClient(app=create_app(settings_for(home))) as client:
        yield Api(client, tokens)
