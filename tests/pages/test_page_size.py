"""Every page stays under 150 KB, however long the history behind it.

The ledger here is built straight into the log (no HTTP, no commands): a
tool with 100,000 community votes over a year and a half, reviews and
revision reasons at their longest, fifty comparisons and sixty tools.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from ledger import domainmodel as dm
from ledger.application import Ledger
from ledger.context import Context
from ledger.rules import MAX_REASON, MAX_TEXT, VERDICTS
from ledger.settings import Settings
from projections import readmodel_path
from projections.rebuild import build
from tests.api.helpers import settings_for
from tests.pages.helpers import Page

BOUND = 150_000
VOTES = 100_000
PROSE = 'A measured "sentence" about the tool & its <rivals>. '
CTX = Context(actor="builder", request_id="page-size")


def _text(length: int) -> str:
    return (PROSE * (length // len(PROSE) + 1))[:length]


def _site() -> Iterator[Any]:
    """The aggregates of the site, in the order their events happened."""
    fields = {
        "name": "Busy",
        "vendor": "V",
        "category": "C",
        "tagline": "t",
        "description": _text(MAX_TEXT),
        "entry": "Free",
        "license": "MIT",
    }
    busy = dm.Tool.register(CTX, "busy", fields)
    yield busy
    others = [
        dm.Tool.register(CTX, f"other-{n}", {**fields, "name": f"Other {n}"})
        for n in range(60)
    ]
    yield from others
    panel = [dm.Reviewer.enroll(CTX, f"r{n}", f"R {n}", "builder") for n in range(30)]
    yield from panel
    yield from (dm.Comparison.publish(CTX, busy, other, "?") for other in others[:50])
    reviews = [
        dm.Review.submit(CTX, busy, reviewer, "ship", _text(4000)) for reviewer in panel
    ]
    yield from reviews
    for n in range(VOTES):
        yield dm.Vote.cast(
            CTX, "tool:busy", f"{n:032x}", VERDICTS[n % 3 == 0], VERDICTS
        )
        if n % 2000 == 0:
            review = reviews[n // 2000 % len(reviews)]
            verdict = "skip" if review.verdict == "ship" else "ship"
            review.revise(CTX, verdict, _text(4000), _text(MAX_REASON))
            yield review


@pytest.fixture(scope="module")
def busy_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("busy") / "ledger"
    ledger = Ledger(Settings(home=home))
    try:
        now = datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
        step = timedelta(minutes=8)  # 100,000 votes over about 555 days
        stored = []
        for aggregate in _site():
            for event in aggregate.collect_events():
                stored.append(
                    ledger.mapper.to_stored_event(
                        dataclasses.replace(event, timestamp=now)
                    )
                )
                now += step
        ledger.recorder.insert_events(stored)
        build(ledger, readmodel_path(ledger.settings))
    finally:
        ledger.close()
    return home


@pytest.fixture(scope="module")
def busy(busy_home: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=create_app(settings_for(busy_home))) as client:
        yield client


def _bounded(client: TestClient[Litestar], url: str) -> Page:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    assert len(answer.content) < BOUND, f"{url} is {len(answer.content):,} bytes"
    return Page(answer.text)


def _older(page: Page, text: str) -> str:
    [link] = [node for node in page.tags("a") if node.text.startswith(text)]
    href = link.attrs["href"]
    assert href
    return href.partition("#")[0]


def test_the_busy_tool_has_the_history_this_test_is_about(
    busy: TestClient[Litestar],
) -> None:
    card = busy.get("/api/tools/busy").json()
    assert card["community"]["total"] == VOTES
    assert card["panel"]["total"] == 30


def test_the_busy_tools_page_is_bounded_and_pages_on(
    busy: TestClient[Litestar],
) -> None:
    page = _bounded(busy, "/tools/busy")
    assert "by week" in page.text, "the chart is drawn from weeks, not votes"
    assert page.tags("circle") == []
    steps = sum(str(node.attrs["d"]).count("L") for node in page.tags("path"))
    assert 0 < steps <= 2 * 2 * 120, "two lines of at most 120 weeks, two moves each"
    older = _bounded(busy, _older(page, "Older reviews and edits"))
    assert older.rows()
    assert older.rows() != page.rows()
    _bounded(busy, _older(page, "Older weeks"))
    _bounded(busy, _older(page, "More reviews"))
    _bounded(busy, _older(page, "More comparisons"))


def test_the_index_and_the_compare_page_are_bounded(
    busy: TestClient[Litestar],
) -> None:
    index = _bounded(busy, "/")
    _bounded(busy, _older(index, "More tools"))
    compare = _bounded(busy, "/compare/busy/other-0")
    _bounded(busy, _older(compare, "More reviewers"))


def test_the_first_history_page_of_the_api_is_small(busy: TestClient[Litestar]) -> None:
    answer = busy.get("/api/tools/busy/history")
    assert len(answer.json()["items"]) == 100
    assert len(answer.content) < BOUND
    buckets = busy.get("/api/tools/busy/history?bucket=month&limit=1000").json()
    assert sum(item["changes"] for item in buckets["items"]) > VOTES
