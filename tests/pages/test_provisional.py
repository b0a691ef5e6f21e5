"""Pages mark a share from fewer than five verdicts or votes as provisional.

On a card the mark is a "provisional" label under the figure (always in the
page, hidden while the figure is not provisional, so the page script can show
it after a vote); in a history table it is a dagger, explained in a footnote
under the table only when a row carries one.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from ledger.context import Context
from tests.pages.helpers import Page, ledger_of

CTX = Context(actor="editor:page-test", request_id="page-test")
COMPARE = "/compare/code-llama-4/mistral-medium-3"
NEW_TOOL = {"name": "Quiet Tool", "vendor": "V", "category": "Developer Tools"}


def marks(page: Page, slug: str) -> dict[str, bool]:
    """Whether each figure of a tool's card shows its provisional label."""
    [card] = page.find("aria-labelledby", f"card-{slug}", tag="article")
    shown: dict[str, bool] = {}
    pending = [card]
    while pending:
        node = pending.pop(0)
        if "data-provisional" in node.attrs:
            shown[f"{len(shown)}"] = "hidden" not in node.attrs
        pending = node.children + pending
    panel, community = shown.values()
    return {"panel": panel, "community": community}


def vote(
    client: TestClient[Litestar], voters: range, tool: str = "code-llama-4"
) -> int:
    """Votes ship on ``tool`` from each new voter of ``voters``; the last position."""
    position = 0
    for index in voters:
        position = ledger_of(client).cast_vote(CTX, f"v{index}", tool, "ship").position
    return position


def test_the_demo_panel_shares_are_marked_but_still_read(
    client: TestClient[Litestar],
) -> None:
    for path in ("/", COMPARE):
        page = Page(client.get(path).text)
        for slug in ("code-llama-4", "mistral-medium-3"):
            assert marks(page, slug) == {"panel": True, "community": False}
        shares = page.texts("data-share")
        assert shares.count("100%") == 1
        assert shares.count("75%") == 1
        why = "Provisional: fewer than 5 verdicts counted, too few to go by yet"
        assert page.texts("title", why) == ["provisional", "provisional"]


def test_the_mark_goes_at_five_votes(client: TestClient[Litestar]) -> None:
    position = vote(client, range(4))
    page = Page(client.get(f"/tools/code-llama-4?min_position={position}").text)
    assert marks(page, "code-llama-4") == {"panel": True, "community": True}
    position = vote(client, range(4, 5))
    page = Page(client.get(f"/tools/code-llama-4?min_position={position}").text)
    assert marks(page, "code-llama-4") == {"panel": True, "community": False}
    [card] = page.texts("aria-labelledby", "card-code-llama-4", tag="article")
    assert "Community 5 votes" in card


def test_head_to_head_tally_is_marked_below_five_picks(
    client: TestClient[Litestar],
) -> None:
    page = Page(client.get(COMPARE).text)
    [note] = page.find("data-h2h-provisional")
    assert "hidden" in note.attrs
    receipt = ledger_of(client).cast_comparison_vote(
        CTX, "picker", "code-llama-4", "mistral-medium-3", "code-llama-4"
    )
    page = Page(client.get(f"{COMPARE}?min_position={receipt.position}").text)
    assert page.texts("data-h2h-provisional") == [
        "Provisional: fewer than 5 picks counted, too few to go by yet."
    ]


def test_history_tables_dagger_provisional_shares(
    client: TestClient[Litestar],
) -> None:
    page = Page(client.get("/tools/code-llama-4").text)
    panel = [row[4] for row in page.rows() if len(row) == 6]
    # Four reviews, newest first, then the registration, before any share.
    assert panel == ["100%†", "100%†", "100%†", "— → 100%†", "—"]
    notes = page.texts("class", "meta footnote")
    assert notes
    assert all("fewer than 5 verdicts or votes counted" in note for note in notes)


def test_no_dagger_or_footnote_without_a_provisional_share(
    client: TestClient[Litestar],
) -> None:
    receipt = ledger_of(client).register_tool(CTX, "quiet-tool", NEW_TOOL)
    page = Page(client.get(f"/tools/quiet-tool?min_position={receipt.position}").text)
    rows = [row for row in page.rows() if len(row) == 6]
    assert rows
    assert all(row[4:] == ["—", "—"] for row in rows)
    assert "†" not in page.text
    assert page.texts("class", "meta footnote") == []
    assert marks(page, "quiet-tool") == {"panel": False, "community": False}
