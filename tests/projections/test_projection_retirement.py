"""Retirement in the read models: since when and why, kept across batches.

A retired tool, comparison or reviewer keeps its row, with the time, log
position and reason of its retirement; reinstating clears them; the lists
that leave retired ones out still page through the rest.
"""

from __future__ import annotations

from pathlib import Path

from ledger.application import Ledger
from projections import Projector, ReadModel

from .helpers import CTX, seed


def caught_up(ledger: Ledger, path: Path) -> ReadModel:
    """The read model once a projector has folded the whole log (batches of 2)."""
    projector = Projector(ledger, path, batch_size=2)
    projector.catch_up()
    projector.close()
    return ReadModel(path)


def test_a_retired_tool_keeps_when_and_why_until_reinstated(
    ledger: Ledger, live_path: Path
) -> None:
    seed(ledger)
    retired = ledger.retire_tool(CTX, "beta", reason="renamed upstream")
    ledger.cast_vote(CTX, "v1", "alpha", "ship")  # a later batch
    model = caught_up(ledger, live_path)
    try:
        card = model.tool("beta")
        assert card is not None
        assert card.retired
        assert card.retirement is not None
        assert (card.retirement.position, card.retirement.reason) == (
            retired.position,
            "renamed upstream",
        )
        assert card.retirement.at == card.updated_at
        assert model.card_as_of("beta", position=retired.position) == card
        before = model.card_as_of("beta", position=retired.position - 1)
        assert before is not None
        assert before.retirement is None
        live = [c.slug for c in model.tools_page(0, 100, live=True).items]
        assert "beta" not in live
        assert "beta" in [c.slug for c in model.tools()]
        paged = model.tools_page(0, 1, live=True)
        assert paged.next is not None
        rest = model.tools_page(int(paged.next), 100, live=True).items
        assert [c.slug for c in paged.items + rest] == live
    finally:
        model.close()
    back = ledger.reinstate_tool(CTX, "beta", reason="name settled")
    model = caught_up(ledger, live_path)
    try:
        card = model.tool("beta")
        assert card is not None
        assert (card.retired, card.retirement, card.position) == (
            False,
            None,
            back.position,
        )
        old = model.card_as_of("beta", position=retired.position)
        assert old is not None
        assert old.retirement is not None
        assert old.retirement.reason == "renamed upstream"
    finally:
        model.close()


def test_retired_comparisons_and_reviewers_say_why(
    ledger: Ledger, live_path: Path
) -> None:
    seed(ledger)
    ledger.publish_comparison(CTX, "beta", "alpha", question="Which one?")
    compared = ledger.retire_comparison(CTX, "alpha", "beta", reason="stale")
    model = caught_up(ledger, live_path)
    try:
        view = model.comparison("alpha", "beta")
        assert view is not None
        assert view.retirement is not None
        assert (view.retirement.position, view.retirement.reason) == (
            compared.position,
            "stale",
        )
        assert model.comparisons_page(live=True).items == []
        first = model.panel_page().items[0]
    finally:
        model.close()
    assert (first.handle, first.retired, first.retirement) == ("ada", False, None)
    left = ledger.retire_reviewer(CTX, first.handle, reason="joined a vendor")
    model = caught_up(ledger, live_path)
    try:
        member = model.panel_member(first.handle)
        assert member is not None
        assert member.retired
        assert member.retirement is not None
        assert (member.retirement.position, member.retirement.reason) == (
            left.position,
            "joined a vendor",
        )
        assert first.handle not in [m.handle for m in model.panel_page().items]
        assert model.panel_member("nobody") is None
    finally:
        model.close()
