"""Writes for page tests, through the same ledger the app serves."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from api.pages import environment
from ledger.application import Ledger
from ledger.context import Context


def ledger_of(client: TestClient[Litestar]) -> Ledger:
    """The app's own ledger, so its projector wakes up at once after a write."""
    ledger: Ledger = client.app.state.ledger
    return ledger


def revise(
    client: TestClient[Litestar], tool: str, reviewer: str, verdict: str, reason: str
) -> int:
    """Revises a demo review; returns the log position to read at."""
    receipt = ledger_of(client).revise_review(
        Context(actor=f"reviewer:{reviewer}", request_id="page-test"),
        tool,
        reviewer,
        verdict=verdict,
        rationale=f"Revised to {verdict} after a second look.",
        reason=reason,
    )
    return receipt.position


def render(template: str, **context: Any) -> str:
    """Renders a page template outside any request, as the app would."""
    return environment().get_template(template).render(**context)
