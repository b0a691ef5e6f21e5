"""What readers are shown of reviewers' sealed data: the clear text, then ``[erased]``.

The log and the read models hold reviewers' names, rationales and reasons
sealed; every JSON answer, page, the feed and the event stream open them as
they answer. Once a reviewer is erased, the same reads show ``[erased]`` for
that reviewer alone, at once, cached answers included, while every other
reviewer's text reads as before.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Request

from api import response_cache
from api.event_stream import Shutdown, follow
from api.log_watcher import LogWatcher
from ledger import demo
from ledger.application import Ledger
from ledger.context import Context
from ledger.personal_data import ERASED, is_sealed
from ledger.repository import Receipt
from tests.api.helpers import Api, ledger_settings, make_home
from tests.pages.helpers import Desk

TOOL = "code-llama-4"
OTHER = "mistral-medium-3"
ERASER = Context(actor="admin:test", request_id="erase")
REVISED = {
    "builder": ("Builder rationale revised for the record", "Builder reran benchmarks"),
    "skeptic": ("Skeptic rationale revised for the record", "Skeptic read the licence"),
}
"""A revision of each reviewer's review of :data:`TOOL`: rationale, reason."""


def _revise(ledger: Ledger) -> int:
    """Revises the builder's and the skeptic's reviews; returns the head."""
    for handle, (rationale, reason) in REVISED.items():
        verdict = ledger.review(TOOL, handle)["verdict"]
        ledger.put_review(
            Context(actor=f"reviewer:{handle}", request_id=f"revise-{handle}"),
            TOOL,
            handle,
            verdict=verdict,
            rationale=rationale,
            reason=reason,
        )
    return ledger.head_position()


def _erase_builder(ledger: Ledger) -> Receipt:
    return ledger.erase(ERASER, "reviewer:builder", reason="asked to be forgotten")


def _reach(api: Api, position: int) -> None:
    assert api.client.app.state.read_model.wait_for(position, timeout=10)


def _json(api: Api, path: str) -> Any:
    answer = api.client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _text(api: Api, path: str) -> str:
    answer = api.client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.text


def _reads(api: Api) -> dict[str, Any]:
    """The builder's and the skeptic's data as each read shows it."""
    reviews = _json(api, f"/api/tools/{TOOL}/reviews")["items"]
    panel = _json(api, "/api/reviewers")["items"]
    history = _json(api, f"/api/tools/{TOOL}/history")["items"]
    diff = _json(api, f"/api/tools/{TOOL}/diff?from=0")["events"]
    events = _json(api, "/api/events?limit=1000")["items"]
    revised = [item for item in events if item["type"] == "Review.Revised"]
    return {
        "reviews": {item["reviewer"]: item["rationale"] for item in reviews},
        "panel": {item["handle"]: item["name"] for item in panel},
        "builder": _json(api, "/api/reviewers/builder")["name"],
        "skeptic": _json(api, "/api/reviewers/skeptic")["name"],
        "history": [item["reason"] for item in history if item["reason"]],
        "diff": [item["reason"] for item in diff if item["reason"]],
        "events": {
            item["data"]["handle"]: item["data"]["name"]
            for item in events
            if item["type"] == "Reviewer.Enrolled"
        },
        "revised": [(item["reason"], item["data"]["rationale"]) for item in revised],
    }


def _clear(handle: str) -> dict[str, str]:
    name = demo.REVIEWERS[handle][0]
    rationale, reason = REVISED[handle]
    return {"name": name, "rationale": rationale, "reason": reason}


def _expected(builder: dict[str, str]) -> dict[str, Any]:
    skeptic = _clear("skeptic")
    return {
        "builder": builder["name"],
        "skeptic": skeptic["name"],
        "history": [builder["reason"], skeptic["reason"]],
        "diff": [builder["reason"], skeptic["reason"]],
        "revised": [
            (builder["reason"], builder["rationale"]),
            (skeptic["reason"], skeptic["rationale"]),
        ],
    }


def _check(reads: dict[str, Any], builder: dict[str, str]) -> None:
    skeptic = _clear("skeptic")
    for name, value in _expected(builder).items():
        assert reads[name] == value, name
    assert reads["reviews"]["builder"] == builder["rationale"]
    assert reads["reviews"]["skeptic"] == skeptic["rationale"]
    for listed in (reads["panel"], reads["events"]):
        assert listed["builder"] == builder["name"]
        assert listed["skeptic"] == skeptic["name"]
        assert listed["futurist"] == "The Futurist"


ERASED_BUILDER = {"name": ERASED, "rationale": ERASED, "reason": ERASED}


def test_json_reads_show_clear_text_then_erased_for_that_reviewer_alone(
    api: Api,
) -> None:
    _reach(api, _revise(api.ledger))
    # The store and the read model hold it sealed.
    conn = api.client.app.state.read_model._connection()
    names = [row[0] for row in conn.execute("SELECT name FROM reviewers")]
    assert names
    assert all(is_sealed(name) for name in names)
    _check(_reads(api), _clear("builder"))
    receipt = _erase_builder(api.ledger)
    # Before the read model has even seen the erasure, nothing shows the text.
    _check(_reads(api), ERASED_BUILDER)
    _reach(api, receipt.position)
    _check(_reads(api), ERASED_BUILDER)


def test_pages_and_the_feed_show_clear_text_then_erased(api: Api) -> None:
    _reach(api, _revise(api.ledger))
    builder, skeptic = _clear("builder"), _clear("skeptic")
    pages = {
        "tool": f"/tools/{TOOL}",
        "compare": f"/compare/{TOOL}/{OTHER}",
        "since": f"/tools/{TOOL}?since=0",
        "feed": "/feeds/verdicts.atom",
    }
    shown = {name: _text(api, path) for name, path in pages.items()}
    for page in ("tool", "compare"):
        assert builder["rationale"] in shown[page]
        assert skeptic["rationale"] in shown[page]
    for page in ("since", "feed"):
        assert builder["reason"] in shown[page], page
        assert skeptic["reason"] in shown[page], page
    receipt = _erase_builder(api.ledger)
    _reach(api, receipt.position)
    # The same URLs again: cached answers of before the erasure are not served.
    shown = {name: _text(api, path) for name, path in pages.items()}
    for page, text in shown.items():
        for clear in builder.values():
            assert clear not in text, page
        assert ERASED in text, page
    for page in ("tool", "compare"):
        assert skeptic["rationale"] in shown[page]
    for page in ("since", "feed"):
        assert skeptic["reason"] in shown[page], page


def test_cached_json_answers_of_before_an_erasure_are_not_served_after(
    api: Api,
) -> None:
    _reach(api, _revise(api.ledger))
    path = f"/api/tools/{TOOL}/reviews"
    first = _json(api, path)
    assert _json(api, path) == first  # answered from the cache now
    builder = {item["reviewer"]: item for item in first["items"]}["builder"]
    assert builder["rationale"] == REVISED["builder"][0]
    receipt = _erase_builder(api.ledger)
    _reach(api, receipt.position)
    after = {item["reviewer"]: item for item in _json(api, path)["items"]}
    assert after["builder"]["rationale"] == ERASED
    assert after["skeptic"]["rationale"] == REVISED["skeptic"][0]


def test_the_editor_form_prefills_an_erased_rationale_as_erased(api: Api) -> None:
    _revise(api.ledger)
    desk = Desk(api.client, api.tokens)
    session = desk.session("builder")
    path = f"/editor/tools/{TOOL}/review"
    form = desk.get(path, session)
    assert form.status_code == 200, form.text
    assert REVISED["builder"][0] in form.text
    _erase_builder(api.ledger)
    form = desk.get(path, session)
    assert form.status_code == 200, form.text
    assert REVISED["builder"][0] not in form.text
    assert ERASED in form.text


def _sse_data(message: Any) -> dict[str, Any]:
    encoded: bytes = message.encode()
    for line in encoded.decode().splitlines():
        if line.startswith("data: "):
            found: dict[str, Any] = msgspec.json.decode(line[6:])
            return found
    raise AssertionError(encoded)


async def _next_event(stream: Any) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(anext(stream), 10)
        if message.id is not None:
            return _sse_data(message)


async def _streamed(home: Path) -> None:
    ledger = Ledger(ledger_settings(home))
    watcher = LogWatcher(ledger, poll=0.01, keepalive=3600, shutdown=Shutdown())
    watcher.start()
    try:
        start = ledger.head_position()
        live = follow(watcher, start, on_end=lambda: None)
        await anext(live)  # the greeting
        head = await asyncio.to_thread(_revise, ledger)
        revised = [await _next_event(live) for _ in range(head - start)]
        assert [(item["reason"], item["data"]["rationale"]) for item in revised] == [
            (REVISED["builder"][1], REVISED["builder"][0]),
            (REVISED["skeptic"][1], REVISED["skeptic"][0]),
        ]
        await asyncio.to_thread(
            ledger.erase, ERASER, "reviewer:builder", "asked to be forgotten"
        )
        erasure = await _next_event(live)
        assert erasure["type"] == "Erasure.Recorded"
        # A stream resuming before the revisions gets them from the watcher
        # or the log: either way, as they read now.
        resumed = follow(watcher, start, on_end=lambda: None)
        await anext(resumed)
        again = [await _next_event(resumed) for _ in range(head - start)]
        assert [(item["reason"], item["data"]["rationale"]) for item in again] == [
            (ERASED, ERASED),
            (REVISED["skeptic"][1], REVISED["skeptic"][0]),
        ]
        enrolled = follow(watcher, 0, on_end=lambda: None)
        await anext(enrolled)
        names = {}
        for _ in range(len(demo.TOOLS) + len(demo.REVIEWERS)):
            item = await _next_event(enrolled)
            if item["type"] == "Reviewer.Enrolled":
                names[item["data"]["handle"]] = item["data"]["name"]
        assert names == {
            handle: ERASED if handle == "builder" else name
            for handle, (name, _) in demo.REVIEWERS.items()
        }
    finally:
        await watcher.close()
        ledger.close()


@pytest.mark.usefixtures("event_store")
def test_the_event_stream_shows_clear_text_then_erased(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    asyncio.run(_streamed(home))


def _request(api: Api, path: str) -> Request[Any, Any, Any]:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "litestar_app": api.client.app,
        "state": {},
    }
    return Request(scope)  # type: ignore[arg-type]


def test_an_answer_is_cached_under_the_position_it_was_looked_up_at(api: Api) -> None:
    path = f"/api/tools/{TOOL}/reviews"
    request = _request(api, path)
    looked_up = response_cache.cache_key(request)
    # The answer is built while the builder is erased and the read model moves
    # past the erasure: stored under a later position, an answer built before
    # the erasure would be served after it.
    receipt = _erase_builder(api.ledger)
    _reach(api, receipt.position)
    assert response_cache.cache_key(request) == looked_up
    assert response_cache.cache_key(_request(api, path)) != looked_up
