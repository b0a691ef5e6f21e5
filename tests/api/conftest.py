"""Fixtures for the API tests: a fresh demo ledger and the app over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api import create_app
from tests.api.helpers import Api, issue_tokens, make_home, settings_for


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A LEDGER_HOME holding only the demo comparison."""
    return make_home(tmp_path)


@pytest.fixture
def api(home: Path) -> Iterator[Api]:
    """The app over a fresh demo ledger, with its lifespan running."""
    tokens = issue_tokens(home)
    with TestClient(app=create_app(settings_for(home))) as client:
        yield Api(client, tokens)
