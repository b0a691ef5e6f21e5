"""The demo ledger projects to the figures on the page the product grew from."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import demo
from ledger.application import Ledger
from projections import Card, Projector, ReadModel
from projections.rebuild import rebuild


def _cards(ledger: Ledger, path: Path, how: str) -> dict[str, Card]:
    demo.load(ledger)
    if how == "live":
        projector = Projector(ledger, path)
        projector.catch_up()
        projector.close()
    else:
        rebuild(ledger, path)
    model = ReadModel(path)
    try:
        return {card.slug: card for card in model.tools()}
    finally:
        model.close()


@pytest.mark.parametrize("how", ["live", "rebuild"])
def test_demo_panel_and_community_figures(
    ledger: Ledger, live_path: Path, how: str
) -> None:
    cards = _cards(ledger, live_path, how)
    llama, mistral = cards["code-llama-4"].panel, cards["mistral-medium-3"].panel
    assert (llama.ship, llama.skip, llama.total) == (4, 0, 4)
    assert (llama.ship_pct, llama.low, llama.high) == (100.0, 51.0, 100.0)
    assert (mistral.ship, mistral.skip, mistral.total) == (3, 1, 4)
    assert (mistral.ship_pct, mistral.low, mistral.high) == (75.0, 30.1, 95.4)
    for card in cards.values():
        community = card.community
        assert (community.total, community.ship_pct) == (0, None)
        assert (community.low, community.high) == (None, None)
        assert card.entry == "Free"
        assert not card.retired


def test_demo_comparison_split_and_reviews(ledger: Ledger, live_path: Path) -> None:
    _cards(ledger, live_path, "live")
    model = ReadModel(live_path)
    try:
        view = model.comparison("mistral-medium-3", "code-llama-4")
        assert view is not None
        assert view.question == demo.QUESTION
        assert (view.a.slug, view.b.slug) == ("mistral-medium-3", "code-llama-4")
        split = {item.reviewer: (item.lens, item.a, item.b) for item in view.split}
        assert split == {
            "builder": ("builder", "ship", "ship"),
            "skeptic": ("skeptic", "ship", "ship"),
            "futurist": ("futurist", "ship", "ship"),
            "buyer": ("buyer", "skip", "ship"),
        }
        assert [item.reviewer for item in view.split] == [
            "builder",
            "skeptic",
            "futurist",
            "buyer",
        ]
        assert (view.head_to_head.a, view.head_to_head.b, view.head_to_head.total) == (
            0,
            0,
            0,
        )
        reviews = model.reviews("code-llama-4")
        assert [r.reviewer for r in reviews] == [
            "builder",
            "skeptic",
            "futurist",
            "buyer",
        ]
        assert all(r.revision == 0 and r.revised_at is None for r in reviews)
        assert model.position() == ledger.head_position()
    finally:
        model.close()
