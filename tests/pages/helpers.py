"""Helpers for the page tests: writes through the app's ledger, HTML reading.

Tests ask what a reader sees inside an element found by an attribute (say,
the Community figure of one card), so they fail when a figure moves to the
wrong place, not only when it vanishes from the page. The parsing is just
enough HTML for that, with the standard library.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from ledger.application import Ledger
from ledger.context import Context

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
HIDDEN = {"script", "style", "title", "head"}


class _Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parts: list[str] = []
        self.children: list[_Node] = []

    @property
    def text(self) -> str:
        """The element's text, whitespace collapsed."""
        return squash("".join(self.parts))


class Page(HTMLParser):
    """A parsed page: its visible text and its elements' text by attribute."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self._stack: list[_Node] = []
        self._hidden = 0
        self.elements: list[_Node] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, dict(attrs))
        if self._stack:
            self._stack[-1].children.append(node)
        self.elements.append(node)
        if tag in VOID:
            return
        self._stack.append(node)
        if tag in HIDDEN:
            self._hidden += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, dict(attrs))
        if self._stack:
            self._stack[-1].children.append(node)
        self.elements.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            node = self._stack.pop()
            if node.tag in HIDDEN:
                self._hidden -= 1
            if node.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        for node in self._stack:
            node.parts.append(data)
        self._all.append(data)

    def reset(self) -> None:
        super().reset()
        self._all: list[str] = []

    @property
    def text(self) -> str:
        """All visible text, whitespace collapsed."""
        return squash("".join(self._all))

    def texts(
        self, attr: str, value: str | None = None, tag: str | None = None
    ) -> list[str]:
        """The text of every element with ``attr`` (equal to ``value`` if given)."""
        return [node.text for node in self.find(attr, value, tag)]

    def tag_texts(self, tag: str) -> list[str]:
        """The text of every element named ``tag``."""
        return [node.text for node in self.tags(tag)]

    def rows(self) -> list[list[str]]:
        """The data cells of every table row that has any."""
        found = [
            [cell.text for cell in row.children if cell.tag == "td"]
            for row in self.tags("tr")
        ]
        return [row for row in found if row]

    def find(
        self, attr: str, value: str | None = None, tag: str | None = None
    ) -> list[_Node]:
        """Elements carrying ``attr`` (equal to ``value`` if given)."""
        return [
            node
            for node in self.elements
            if attr in node.attrs
            and (value is None or node.attrs[attr] == value)
            and (tag is None or node.tag == tag)
        ]

    def tags(self, tag: str) -> list[_Node]:
        """Every element named ``tag``."""
        return [node for node in self.elements if node.tag == tag]


def squash(text: str) -> str:
    """Collapses runs of whitespace to single spaces."""
    return re.sub(r"\s+", " ", text).strip()
