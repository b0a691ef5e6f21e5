"""A tool page's "What changed since …", its figures' links, and the provenance page.

Both pages show what the JSON API answers (``/diff`` and ``/provenance``),
server-rendered with no script, a bounded page at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from ledger.context import Context
from tests.pages.helpers import Page, ledger_of, revise

CTX = Context(actor="editor:page-test", request_id="page-test")
TOOL = "/tools/code-llama-4"


def section_rows(page: Page, section: str) -> list[list[str]]:
    """The data rows of the tables inside the element with id ``section``."""
    (root,) = page.find("id", section)
    rows: list[list[str]] = []
    pending = [root]
    while pending:
        node = pending.pop(0)
        if node.tag == "tr":
            cells = [cell.text for cell in node.children if cell.tag == "td"]
            if cells:
                rows.append(cells)
        else:
            pending = node.children + pending
    return rows


def _vote(client: TestClient[Litestar], voters: int, choice: str = "ship") -> int:
    """Casts votes on Code Llama 4 from new voters; returns the last position."""
    position = 0
    for index in range(voters):
        receipt = ledger_of(client).cast_vote(
            CTX, f"page-voter-{choice}-{index}", "code-llama-4", choice
        )
        position = receipt.position
    return position


def test_the_section_offers_spans_without_a_diff(client: TestClient[Litestar]) -> None:
    page = Page(client.get(TOOL).text)
    assert page.texts("id", "changed-heading") == ["What changed since …"]
    [section] = page.find("id", "changed")
    (form,) = section.tags("form")
    assert (form.attrs["method"], form.attrs["action"]) == ("get", TOOL + "#changed")
    assert page.find("name", "since", "input")
    today = datetime.now(UTC).date()
    for days in (7, 30):
        since = today - timedelta(days=days)
        assert page.find("href", f"{TOOL}?since={since}#changed"), days
    assert section_rows(page, "changed") == []


def test_changes_since_a_position(client: TestClient[Litestar]) -> None:
    position = revise(client, "code-llama-4", "buyer", "skip", "Licence changed")
    voted = _vote(client, 1, "skip")
    page = Page(client.get(f"{TOOL}?since=9&min_position={voted}").text)
    assert page.texts("id", "changed-heading") == ["What changed since position 9"]
    rows = section_rows(page, "changed")
    figures, events = rows[:2], rows[2:]
    # Fewer than five verdicts or votes: each share carries the dagger.
    assert figures == [
        ["Panel ship", "100%† 2 verdicts", "75%† 4 verdicts"],
        ["Community", "— no votes yet", "0%† 1 vote"],
    ]
    diff = client.get("/api/tools/code-llama-4/diff", params={"from": 9}).json()
    assert [row[1] for row in events] == [
        "Review submitted #11",
        "Review submitted #13",
        f"Review revised #{position}",
        f"Vote cast #{voted}",
    ]
    assert len(events) == len(diff["events"])
    assert events[2][2:5] == ["reviewer:buyer", "Licence changed", "100%† → 75%†"]
    assert events[3][5] == "— → 0%†"


def test_changes_since_a_time_include_the_tool_arriving(
    client: TestClient[Litestar],
) -> None:
    page = Page(client.get(TOOL).text)
    (link,) = [node for node in page.tags("a") if "the last 7 days" in node.text]
    since = Page(client.get(link.attrs["href"] or "").text)
    figures = section_rows(since, "changed")[:2]
    assert [row[1] for row in figures] == ["not registered yet"] * 2
    events = section_rows(since, "changed")[2:]
    assert events[0][1] == "Tool registered #1"
    assert [row[1].partition(" #")[0] for row in events[1:]] == ["Review submitted"] * 4


def test_an_edit_shows_the_fields_it_set(client: TestClient[Litestar]) -> None:
    receipt = ledger_of(client).edit_tool(
        CTX, "code-llama-4", {"entry": "$5"}, reason="priced"
    )
    page = Page(
        client.get(
            f"{TOOL}?since={receipt.position - 1}&min_position={receipt.position}"
        ).text
    )
    (event,) = section_rows(page, "changed")[2:]
    assert event[1] == f"Tool edited #{receipt.position} · entry: $5"
    assert event[3] == "priced"


def test_bad_points_are_said_on_the_page(client: TestClient[Litestar]) -> None:
    for since, said in (
        ("last tuesday", "'last tuesday' is neither a log position"),
        ("9999", "position 9999 is past the newest event read"),
    ):
        answer = client.get(TOOL, params={"since": since})
        assert answer.status_code == 200
        page = Page(answer.text)
        (alert,) = page.texts("role", "alert")
        assert alert.startswith(said)
        assert page.find("value", since, "input"), "the form keeps what was typed"
        assert section_rows(page, "changed") == []


def test_many_changes_are_paged(client: TestClient[Litestar]) -> None:
    voted = _vote(client, 23)
    page = Page(client.get(f"{TOOL}?since=13&min_position={voted}").text)
    first = section_rows(page, "changed")[2:]
    assert len(first) == 20
    (href,) = [
        node.attrs["href"] or ""
        for node in page.find("rel", "next", "a")
        if "diffed=" in (node.attrs["href"] or "")
    ]
    assert f"to={voted}" in href
    assert href.endswith("#diff-heading")
    _vote(client, 1, "skip")  # later than the pinned end: not listed
    rest = section_rows(Page(client.get(href).text), "changed")[2:]
    positions = [int(row[1].rpartition("#")[2]) for row in first + rest]
    assert positions == list(range(voted - 22, voted + 1))


def test_each_figure_links_to_its_provenance(client: TestClient[Litestar]) -> None:
    page = Page(client.get("/tools/mistral-medium-3").text)
    provenance = "/tools/mistral-medium-3/provenance"
    links = {node.attrs["href"]: node.text for node in page.tags("a")}
    assert links[f"{provenance}#panel"] == "75%"
    assert links[f"{provenance}#community"] == "—"
    assert links[f"{provenance}#panel-ship"] == "3 ship"
    assert links[f"{provenance}#panel-skip"] == "1 skip"
    assert links[f"{provenance}#community-ship"] == "0 ship"
    assert links[f"{provenance}#community-skip"] == "0 skip"
    # the index and comparison pages keep their cards as they were
    for other in ("/", "/compare/code-llama-4/mistral-medium-3"):
        assert not Page(client.get(other).text).find("href", f"{provenance}#panel")


def _provenance_json(client: TestClient[Litestar], slug: str) -> dict[str, Any]:
    answer = client.get(f"/api/tools/{slug}/provenance")
    body: dict[str, Any] = answer.json()
    return body


def test_the_provenance_page_lists_each_figures_events(
    client: TestClient[Litestar],
) -> None:
    position = revise(client, "mistral-medium-3", "buyer", "ship", "Tier announced")
    answer = client.get(f"/tools/mistral-medium-3/provenance?min_position={position}")
    assert answer.status_code == 200
    page = Page(answer.text)
    assert page.tag_texts("h1") == [
        "Where the figures of Mistral Medium 3 (72B Instruct) come from"
    ]
    assert page.tag_texts("h2") == [
        "Panel ship 4 verdicts",
        "Panel skip 0 verdicts",
        "Community ship 0 votes",
        "Community skip 0 votes",
    ]
    body = _provenance_json(client, "mistral-medium-3")
    rows = section_rows(page, "panel-ship")
    assert [row[0] for row in rows] == [
        f"#{item['position']}" for item in body["panel"]["ship"]["items"]
    ]
    assert [row[3] for row in rows] == ["builder", "skeptic", "futurist", "buyer"]
    assert rows[-1][2] == "Review revised"
    assert page.find("href", f"/api/events/{position}/proof", "a")
    assert page.find("id", "panel")
    assert page.find("id", "community")
    assert page.find("href", "/api/tools/mistral-medium-3/provenance", "a")


def test_the_provenance_page_pages_each_figure(client: TestClient[Litestar]) -> None:
    voted = _vote(client, 22)
    page = Page(client.get(f"{TOOL}/provenance?min_position={voted}").text)
    first = section_rows(page, "community-ship")
    assert len(first) == 20
    (more,) = [
        node
        for node in page.find("rel", "next", "a")
        if (node.attrs["href"] or "").endswith("#community-ship")
    ]
    rest = section_rows(
        Page(client.get(more.attrs["href"] or "").text), "community-ship"
    )
    positions = [int(row[0].lstrip("#")) for row in first + rest]
    assert positions == list(range(voted - 21, voted + 1))
    assert all(row[3].startswith("voter:") for row in first + rest)


def test_an_unknown_tool_has_no_provenance_page(client: TestClient[Litestar]) -> None:
    answer = client.get("/tools/nope/provenance")
    assert answer.status_code == 404
    assert "There is no tool called “nope”" in answer.text
