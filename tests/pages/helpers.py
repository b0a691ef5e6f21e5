"""Helpers for the page tests: writes through the app's ledger, HTML reading.

Tests ask what a reader sees inside an element found by an attribute (say,
the Community figure of one card), so they fail when a figure moves to the
wrong place, not only when it vanishes from the page. The parsing is just
enough HTML for that, with the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
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

    def tags(self, tag: str) -> list[_Node]:
        """Every element named ``tag`` inside this one, in document order.

        So that a test about one section is not misled by the same kind of
        element elsewhere on the page, such as the footer's subscribe form.
        """
        found: list[_Node] = []
        for child in self.children:
            if child.tag == tag:
                found.append(child)
            found.extend(child.tags(tag))
        return found


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
        if tag in HIDDEN or "hidden" in node.attrs:
            self._hidden += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, dict(attrs))
        if self._stack:
            self._stack[-1].children.append(node)
        self.elements.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            node = self._stack.pop()
            if node.tag in HIDDEN or "hidden" in node.attrs:
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


SESSION_COOKIE = "ledger_session"
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
_VERSION = re.compile(r'name="version" value="(\d*)"')


@dataclass
class Desk:
    """The editorial pages over one app, with a token per role (``issue_tokens``).

    Each signed-in person is a session id, sent as the cookie of each request
    rather than kept in the client, so a test can hold several sessions and
    replay one after it has ended.
    """

    client: TestClient[Litestar]
    tokens: dict[str, str]

    def head(self) -> int:
        """The log's head: unchanged means nothing was appended."""
        return ledger_of(self.client).head_position()

    def sign_in(self, token: str, **headers: str) -> httpx.Response:
        """Posts ``token`` to the sign-in form; keeps no cookie."""
        answer = self.client.post(
            "/editor/sign-in",
            data={"token": token, "next": "/editor"},
            headers=headers,
            follow_redirects=False,
        )
        self.client.cookies.clear()
        return answer

    def session(self, who: str) -> str:
        """Signs in with the token of ``who``; returns the session id."""
        answer = self.sign_in(self.tokens[who])
        assert answer.status_code == 303, answer.text
        return cookie_value(answer)

    def sign_out(self, session: str, csrf: str | None = "") -> httpx.Response:
        """Sends the home page's sign-out form (its CSRF field by default)."""
        if csrf == "":
            csrf, _ = self.form("/editor", session)
        return self.post("/editor/sign-out", session, {}, csrf=csrf)

    def get(self, path: str, session: str | None) -> httpx.Response:
        """``GET path`` in ``session`` (anonymous when None); no redirect followed."""
        headers = {"Cookie": f"{SESSION_COOKIE}={session}"} if session else {}
        return self.client.get(path, headers=headers, follow_redirects=False)

    def form(self, path: str, session: str) -> tuple[str, str | None]:
        """The CSRF field and the version of the form at ``path``."""
        page = self.get(path, session)
        assert page.status_code == 200, page.text
        csrf = _CSRF.search(page.text)
        assert csrf is not None, page.text
        version = _VERSION.search(page.text)
        return csrf.group(1), version.group(1) if version else None

    def post(
        self,
        path: str,
        session: str | None,
        data: dict[str, str],
        *,
        csrf: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Posts the form at ``path``, with its CSRF field and version by default.

        ``csrf=None`` sends no CSRF field; a given one is sent instead of the
        session's own.
        """
        fields = dict(data)
        if csrf == "":
            assert session is not None
            own, version = self.form(path, session)
            fields["csrf"] = own
            if version is not None:
                fields.setdefault("version", version)
        elif csrf is not None:
            fields["csrf"] = csrf
        sent = dict(headers or {})
        if session:
            sent["Cookie"] = f"{SESSION_COOKIE}={session}"
        return self.client.post(path, data=fields, headers=sent, follow_redirects=False)


def cookie_value(answer: httpx.Response) -> str:
    """The session id an answer's ``Set-Cookie`` carries."""
    found = re.search(rf"{SESSION_COOKIE}=([^;]*)", answer.headers["set-cookie"])
    assert found is not None, answer.headers["set-cookie"]
    return found.group(1)


def field_errors(html: str) -> dict[str, str]:
    """The refusal shown beside each field of a form, by field name."""
    page = Page(html)
    return {
        str(node.attrs["data-error"]): node.text for node in page.find("data-error")
    }


def field_value(html: str, name: str) -> str | None:
    """What the form's input (or textarea) ``name`` holds."""
    page = Page(html)
    for node in page.elements:
        if node.attrs.get("name") != name:
            continue
        if node.tag == "textarea":
            return node.text
        if node.tag == "select":
            chosen = [c for c in node.children if "selected" in c.attrs]
            return str(chosen[0].attrs.get("value")) if chosen else None
        return str(node.attrs.get("value", ""))
    return None
