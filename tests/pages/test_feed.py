"""The Atom feed of verdict changes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from litestar import Litestar
from litestar.testing import TestClient

from tests.pages.helpers import revise

A = "{http://www.w3.org/2005/Atom}"


def feed(client: TestClient[Litestar], position: int = 0) -> ET.Element:
    response = client.get(f"/feeds/verdicts.atom?min_position={position}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def test_feed_is_atom_with_required_elements(client: TestClient[Litestar]) -> None:
    root = feed(client)
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{A}{name}") is not None, name
    self_link = [link for link in root.findall(f"{A}link") if link.get("rel") == "self"]
    assert self_link[0].get("href", "").endswith("/feeds/verdicts.atom")
    entries = root.findall(f"{A}entry")
    ids = [entry.findtext(f"{A}id") for entry in entries]
    assert len(ids) == len(set(ids))
    for entry in entries:
        assert datetime.fromisoformat(entry.findtext(f"{A}updated") or "").tzinfo


def test_revision_is_the_newest_entry(client: TestClient[Litestar]) -> None:
    reason = "Enterprise tier <announced> & priced"
    position = revise(client, "mistral-medium-3", "buyer", "ship", reason)
    root = feed(client, position)
    entries = root.findall(f"{A}entry")
    assert entries
    newest = entries[0]
    assert (
        newest.findtext(f"{A}title")
        == "Mistral Medium 3 (72B Instruct): panel 75% → 100%"
    )
    assert (newest.findtext(f"{A}id") or "").endswith(f"/mistral-medium-3/{position}")
    summary = newest.findtext(f"{A}summary") or ""
    assert "reviewer:buyer" in summary
    assert reason in summary
    [link] = newest.findall(f"{A}link")
    assert link.get("href", "").split("#")[0].endswith("/tools/mistral-medium-3")
    assert root.findtext(f"{A}updated") == newest.findtext(f"{A}updated")
    stamps = [
        datetime.fromisoformat(entry.findtext(f"{A}updated") or "") for entry in entries
    ]
    assert stamps == sorted(stamps, reverse=True)


def test_titles_name_what_moved_and_what_held(client: TestClient[Litestar]) -> None:
    titles = [
        entry.findtext(f"{A}title") for entry in feed(client).findall(f"{A}entry")
    ]
    assert "Mistral Medium 3 (72B Instruct): panel 100% → 75%" in titles
    assert "Code Llama 4 (70B & 400B): panel — → 100%" in titles
    assert "Code Llama 4 (70B & 400B): panel holds at 100% on 4 verdicts" in titles
    assert not [title for title in titles if title and "100% → 100%" in title]
