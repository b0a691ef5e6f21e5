"""Fixtures of the read-side tests: a ledger in a temporary home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from projections import readmodel_path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def ledger(home: Path) -> Iterator[Ledger]:
    opened = Ledger(Settings(home=home))
    yield opened
    opened.close()


@pytest.fixture
def live_path(home: Path) -> Path:
    return readmodel_path(Settings(home=home))
