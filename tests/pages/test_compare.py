"""The comparison page reproduces the seed page from the demo ledger."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from ledger.context import Context
from tests.pages.helpers import Page, ledger_of, revise

COMPARE = "/compare/code-llama-4/mistral-medium-3"
LLAMA = "Code Llama 4 (70B & 400B)"
MISTRAL = "Mistral Medium 3 (72B Instruct)"


def card_text(page: Page, slug: str) -> str:
    [text] = page.texts("aria-labelledby", f"card-{slug}", tag="article")
    return text


def test_compare_page_shows_the_seed_layout(client: TestClient[Litestar]) -> None:
    response = client.get(COMPARE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    assert page.texts("class", "kicker") == ["AI tool comparison"]
    assert page.tag_texts("h1") == [f"{LLAMA} vs {MISTRAL}"]
    assert page.texts("class", "lede") == ["Which one should you ship with?"]


def test_cards_carry_panel_community_and_entry(client: TestClient[Litestar]) -> None:
    page = Page(client.get(COMPARE).text)
    llama, mistral = (
        card_text(page, "code-llama-4"),
        card_text(page, "mistral-medium-3"),
    )
    assert llama.startswith(f"Developer Tools {LLAMA} Meta's open code models")
    assert "Panel ship 4 verdicts 51\u2013100% 100%" in llama
    assert "Panel ship 4 verdicts 30\u201395% 75%" in mistral
    for text in (llama, mistral):
        assert "Community no votes yet —" in text
        assert "Entry Free" in text
    assert "Apache 2.0" in mistral
    assert "70B and 400B parameters" in llama
    # The community figure is the element the page script rewrites after a vote.
    [community] = page.find("data-community", "code-llama-4")
    assert [node.text for node in community.children] == [
        "Community no votes yet",
        "—",
        "",
    ]
    [mark] = [node for node in community.children if "data-provisional" in node.attrs]
    assert "hidden" in mark.attrs, "no votes: nothing to call provisional"


def test_interval_is_offered_as_a_tooltip(client: TestClient[Litestar]) -> None:
    page = Page(client.get(COMPARE).text)
    titles = [node.attrs["title"] for node in page.find("title", tag="div")]
    assert "4 verdicts; 95% interval 51\u2013100%" in titles
    assert "no votes yet" in titles


def test_scorecard_goes_lens_by_lens_with_both_verdicts(
    client: TestClient[Litestar],
) -> None:
    page = Page(client.get(COMPARE).text)
    lenses = [
        squashed.split(" lens")[0]
        for squashed in page.texts("id", tag="h3")
        if " lens · " in squashed
    ]
    assert lenses == ["Builder", "Skeptic", "Futurist", "Buyer"]
    [buyer] = page.texts("aria-labelledby", "lens-buyer")
    assert f"{LLAMA} Ship" in buyer
    assert f"{MISTRAL} Skip" in buyer
    assert "Open weights undercut Mistral's own paid API" in buyer
    [builder] = page.texts("aria-labelledby", "lens-builder")
    assert builder.count("Ship") == 2


def test_vote_controls_and_history_links(client: TestClient[Litestar]) -> None:
    page = Page(client.get(COMPARE).text)
    ballots = [
        (b.attrs["data-tool"], b.attrs["data-choice"]) for b in page.find("data-tool")
    ]
    assert ballots == [
        ("code-llama-4", "ship"),
        ("code-llama-4", "skip"),
        ("mistral-medium-3", "ship"),
        ("mistral-medium-3", "skip"),
    ]
    assert [b.attrs["data-pick"] for b in page.find("data-pick", tag="button")] == [
        "code-llama-4",
        "mistral-medium-3",
    ]
    [section] = page.find("id", "vote")
    buttons = section.tags("button")
    assert len(buttons) == len(ballots) + 2
    assert all(b.attrs["aria-pressed"] == "false" for b in buttons)
    assert page.find("role", "status")
    assert all(
        node.attrs["aria-live"] == "polite" for node in page.find("data-community")
    )
    hrefs = {node.attrs["href"] for node in page.tags("a")}
    assert {"/tools/code-llama-4#history", "/tools/mistral-medium-3#history"} <= hrefs
    [script] = [node for node in page.tags("script") if node.attrs.get("src")]
    assert client.get(script.attrs["src"] or "").status_code == 200


def test_assets_are_served(client: TestClient[Litestar]) -> None:
    css = client.get("/static/site.css")
    js = client.get("/static/vote.js")
    assert css.status_code == js.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "grid-template-columns: 1fr 1fr" in css.text
    assert "/api/voters" in js.text


def test_tools_appear_in_the_order_asked(client: TestClient[Litestar]) -> None:
    page = Page(client.get("/compare/mistral-medium-3/code-llama-4").text)
    cards = [
        node.attrs["aria-labelledby"]
        for node in page.find("aria-labelledby", tag="article")
    ]
    assert cards == ["card-mistral-medium-3", "card-code-llama-4"]
    assert page.tag_texts("h1") == [f"{MISTRAL} vs {LLAMA}"]


def test_a_revision_shows_on_the_page(client: TestClient[Litestar]) -> None:
    position = revise(
        client, "mistral-medium-3", "buyer", "ship", "Enterprise tier announced"
    )
    page = Page(client.get(f"{COMPARE}?min_position={position}").text)
    assert "Panel ship 4 verdicts 51\u2013100% 100%" in card_text(
        page, "mistral-medium-3"
    )
    [buyer] = page.texts("aria-labelledby", "lens-buyer")
    assert f"{MISTRAL} Ship" in buyer
    assert "revised 1\u00d7" in buyer


def test_unknown_tools_get_a_clear_404_page(client: TestClient[Litestar]) -> None:
    for path, says in [
        ("/compare/code-llama-4/no-such-tool", "no tool called “no-such-tool”"),
        ("/compare/nope-a/nope-b", "“nope-a” or “nope-b”"),
        ("/compare/code-llama-4/code-llama-4", "have not been compared"),
        ("/tools/no-such-tool", "no tool called “no-such-tool”"),
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        page = Page(response.text)
        assert says in page.text, path
        assert "/" in {node.attrs["href"] for node in page.tags("a")}


def test_uncompared_pair_is_404(client: TestClient[Litestar]) -> None:
    ledger = ledger_of(client)
    fields = {
        "name": "Third Tool",
        "vendor": "V",
        "category": "Developer Tools",
        "tagline": "t",
        "description": "d",
        "entry": "$5",
        "license": "MIT",
    }
    receipt = ledger.register_tool(Context(actor="editor:t"), "third-tool", fields)
    response = client.get(
        f"/compare/code-llama-4/third-tool?min_position={receipt.position}"
    )
    assert response.status_code == 404
    assert "have not been compared" in Page(response.text).text


def test_free_text_is_escaped(client: TestClient[Litestar]) -> None:
    fields = {
        "name": "<script>alert(1)</script>",
        "vendor": "V & Co",
        "category": "Developer Tools",
        "tagline": '"><img src=x onerror=alert(1)>',
        "description": "d",
        "entry": "Free",
        "license": "MIT",
    }
    receipt = ledger_of(client).register_tool(Context(actor="editor:t"), "evil", fields)
    response = client.get(f"/tools/evil?min_position={receipt.position}")
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<img src=x" not in response.text
    assert not list(Page(response.text).tags("img"))


def test_retired_comparison_stays_readable_but_closed(
    client: TestClient[Litestar],
) -> None:
    receipt = ledger_of(client).retire_comparison(
        Context(actor="editor:t"),
        "code-llama-4",
        "mistral-medium-3",
        reason="Superseded by a newer match-up",
    )
    response = client.get(f"{COMPARE}?min_position={receipt.position}")
    assert response.status_code == 200
    page = Page(response.text)
    assert "This comparison has been retired" in page.text
    [section] = page.find("id", "vote")
    assert "data-closed" in section.attrs
    buttons = section.tags("button")
    assert len(buttons) == 6
    assert all("disabled" in button.attrs for button in buttons)
