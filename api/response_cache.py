"""Lists and pages answered from Litestar's response cache while the log stands still.

A tool page or a page of a long history costs milliseconds to read and
render, yet it changes only when the read model moves. Routes marked
``cache=True`` are kept in Litestar's response cache under their URL *and
the read model's position*: a write that moves the read model makes every
cached answer stale at once. An answer is stored under the position the
request looked it up at, which it was built at or after, so it is never
served for a position it reflects less than. That is what makes an erasure
take effect in the cache: personal data is opened as an answer is built,
and the erasure's event moves the position, so no answer built while the
erased person's key still lived is served once the read model has passed
that event. :func:`sweep_stale` empties the cache once the read model has
moved, so that answers nobody can ask for again do not pile up.

The cards are not here: they have their own prebuilt path with ETags
(:mod:`api.prebuilt`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.config.response_cache import ResponseCacheConfig
from litestar.stores.base import Store

EXPIRY = 600
"""Seconds a cached answer is kept at most, should the read model never move."""

SWEEP_EVERY = 1.0
"""Seconds between looks at whether the read model moved."""

_LOOKED_UP_AT = "response_cache.position"
"""Where a request keeps the position its cached answer was looked up at."""


def cache_key(request: Request[Any, Any, Any]) -> str:
    """The read model's position, the method, then the path and query.

    The method, because Litestar's automatic OPTIONS answer of a cached
    route is cached too: keyed by URL alone, one OPTIONS request made every
    GET of that URL answer its empty 204.

    Litestar asks for the key twice, to look the answer up before the
    handler runs and to store it after; both get the position of the
    lookup. Taken again at the store, it could be a later one: an answer
    built before an erasure (with the erased data in the clear) would be
    stored under a position past the erasure's event, and served after it.
    """
    state = request.scope["state"]
    position = state.get(_LOOKED_UP_AT)
    if position is None:
        position = state[_LOOKED_UP_AT] = request.app.state.read_model.position()
    return f"{position}:{request.method}:{request.url.path}?{request.url.query}"


def config() -> ResponseCacheConfig:
    """The app's response cache: keyed by position, in the default memory store."""
    return ResponseCacheConfig(key_builder=cache_key, default_expiration=EXPIRY)


async def sweep_stale(
    store: Store, position: Callable[[], int], every: float = SWEEP_EVERY
) -> None:
    """Empties the cache whenever the read model has moved, until cancelled.

    Answers are keyed by position, so once it moves none of them is asked
    for again; dropping them at once bounds the cache by what one position's
    readers ask for, however fast the log grows.
    """
    seen = position()
    while True:
        await asyncio.sleep(every)
        now = position()
        if now != seen:
            await store.delete_all()
            seen = now
