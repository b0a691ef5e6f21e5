"""Fixtures of the read-side tests (``home`` and ``ledger`` come from the root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.settings import Settings
from projections import readmodel_path


@pytest.fixture
def live_path(home: Path) -> Path:
    """Where a node on ``home`` keeps its read models."""
    return readmodel_path(Settings(home=home))
