"""The Atom document of verdict changes: the digest readers subscribe to.

Each entry is one event that moved a tool's panel or community share, newest
first. The XML is built with ElementTree, so a reason or a tool name with
markup in it comes out as text, never as part of the document.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urlsplit

from api.web import present
from projections.models import HistoryItem

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
FEED_PATH = "/feeds/verdicts.atom"
# Tag URIs (RFC 4151) need a date on which the authority named the thing.
TAG_DATE = "2025"

ET.register_namespace("", ATOM)


def _el(
    parent: ET.Element, name: str, text: str | None = None, **attrs: str
) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def title(name: str, item: HistoryItem) -> str:
    """ "Code Llama 4: panel 75% → 100%", naming whichever shares moved.

    When a verdict or vote leaves the printed share where it was, the title
    says it held and on how many verdicts or votes, rather than "100% → 100%".
    """
    moved: list[str] = []
    held: list[str] = []
    for label, noun, before, after in (
        ("panel", "verdict", item.before.panel, item.after.panel),
        ("community", "vote", item.before.community, item.after.community),
    ):
        if present.pct(before.ship_pct) != present.pct(after.ship_pct):
            moved.append(f"{label} {present.change(before.ship_pct, after.ship_pct)}")
        elif before.total != after.total:
            share = present.pct(after.ship_pct)
            held.append(
                f"{label} holds at {share} on {present.votes(after.total, noun)}"
            )
    return f"{name}: {', '.join(moved or held) or present.event_label(item.type)}"


def summary(item: HistoryItem) -> str:
    """Who changed the verdict, how, and why, in one line of plain text."""
    reason = item.reason or "no reason given"
    return f"{present.event_label(item.type)} by {item.actor}. Reason: {reason}."


def build(
    changes: list[tuple[str, HistoryItem]], names: dict[str, str], base_url: str
) -> bytes:
    """The feed document for ``changes`` (newest first), as UTF-8 bytes.

    Args:
        changes: ``(slug, history item)`` pairs, newest first.
        names: Tool names by slug, for entry titles.
        base_url: The site's absolute root, e.g. ``https://example.org/``; Atom
            wants absolute ids and links.
    """
    root = base_url.rstrip("/")
    authority = urlsplit(base_url).hostname or "localhost"
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "id", f"tag:{authority},{TAG_DATE}:verdict-ledger/verdicts")
    _el(feed, "title", "Verdict Ledger: verdict changes")
    _el(
        feed,
        "subtitle",
        "Every event that moved a tool's panel or community ship share.",
    )
    updated = changes[0][1].at if changes else datetime.now(UTC)
    _el(feed, "updated", present.iso(updated))
    _el(feed, "link", rel="self", type=MEDIA_TYPE, href=root + FEED_PATH)
    _el(feed, "link", rel="alternate", type="text/html", href=root + "/")
    author = _el(feed, "author")
    _el(author, "name", "Verdict Ledger")
    _el(feed, "generator", "Verdict Ledger")
    for slug, item in changes:
        entry = _el(feed, "entry")
        _el(
            entry,
            "id",
            f"tag:{authority},{TAG_DATE}:verdict-ledger/{slug}/{item.position}",
        )
        _el(entry, "title", title(names.get(slug, slug), item))
        _el(entry, "updated", present.iso(item.at))
        _el(entry, "published", present.iso(item.at))
        who = _el(entry, "author")
        _el(who, "name", item.actor)
        _el(entry, "category", term=item.type, label=present.event_label(item.type))
        _el(
            entry,
            "link",
            rel="alternate",
            type="text/html",
            href=f"{root}/tools/{slug}#history",
        )
        _el(entry, "summary", summary(item), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
