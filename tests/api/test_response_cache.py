"""Lists and pages come from the response cache while the read model stands still."""

from __future__ import annotations

import asyncio

import pytest
from litestar.stores.memory import MemoryStore

from api.response_cache import sweep_stale
from ledger.context import Context
from projections.queries import ReadModel
from tests.api.helpers import CARD, Api

CACHED = (
    "/api/tools",
    "/api/comparisons",
    CARD + "/reviews",
    CARD + "/history?limit=3",
    CARD + "/history?bucket=week",
    "/",
    "/tools/code-llama-4",
    "/compare/code-llama-4/mistral-medium-3",
)


def _cached(api: Api, path: str, position: int) -> bool:
    """Whether the answer to ``path`` at ``position`` is in the cache."""
    app = api.client.app
    store = app.response_cache_config.get_store_from_app(app)
    path, _, query = path.partition("?")
    exists: bool = api.client.blocking_portal.call(
        store.exists, f"{position}:GET:{path}?{query}"
    )
    return exists


def _vote(api: Api, voter: str) -> None:
    ctx = Context(actor="voter", request_id="cache-test")
    position = api.ledger.cast_vote(ctx, voter, "code-llama-4", "skip").position
    read_model: ReadModel = api.client.app.state.read_model
    assert read_model.wait_for(position, timeout=10)


@pytest.mark.parametrize("path", CACHED)
def test_a_cached_answer_is_the_answer_the_handler_gave(api: Api, path: str) -> None:
    first = api.client.get(path)
    assert first.status_code == 200
    position = api.client.app.state.read_model.position()
    assert _cached(api, path, position)
    second = api.client.get(path)
    assert second.content == first.content
    assert second.headers.get("link") == first.headers.get("link")
    assert second.headers["content-type"] == first.headers["content-type"]


@pytest.mark.parametrize(
    "path", [CARD + "/history?order=newest&limit=1", "/tools/code-llama-4"]
)
def test_a_write_makes_the_cached_answer_stale_at_once(api: Api, path: str) -> None:
    before = api.client.get(path).content
    _vote(api, "cache-voter")
    after = api.client.get(path).content
    assert after != before
    assert b"Vote cast" in after or b"Vote.Cast" in after


@pytest.mark.parametrize("path", CACHED)
def test_an_options_answer_is_never_served_to_a_get(api: Api, path: str) -> None:
    assert api.client.options(path).status_code == 204
    answer = api.client.get(path)
    assert answer.status_code == 200
    assert answer.content


def test_a_refusal_is_not_cached(api: Api) -> None:
    path = CARD + "/history?cursor=zzzz"
    assert api.client.get(path).status_code == 400
    assert not _cached(api, path, api.client.app.state.read_model.position())
    assert api.client.get(CARD + "/history").status_code == 200
    assert _cached(api, CARD + "/history", api.client.app.state.read_model.position())


def test_the_sweeper_empties_the_cache_once_the_read_model_moves() -> None:
    store = MemoryStore()
    position = [7]

    async def scenario() -> list[bool]:
        await store.set("7:/a?", b"x")
        sweeper = asyncio.create_task(sweep_stale(store, lambda: position[0], 0.01))
        await asyncio.sleep(0.05)
        kept = await store.exists("7:/a?")
        position[0] = 8
        await asyncio.sleep(0.05)
        gone = not await store.exists("7:/a?")
        await store.set("8:/a?", b"y")
        await asyncio.sleep(0.05)
        sweeper.cancel()
        return [kept, gone, await store.exists("8:/a?")]

    assert asyncio.run(scenario()) == [True, True, True]
