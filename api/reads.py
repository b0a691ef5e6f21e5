"""What every read shares: read-your-writes waiting, ETags and encoded cards.

Reads come from this node's read model, which trails the log by a little.
A client that just wrote passes the ``position`` it was given as
``min_position``; the read then waits, without blocking the event loop and
for at most ``min_position_timeout`` seconds, until the read model reflects
it. If it does not get there in time the answer is a 503 problem with
``Retry-After`` (the request was fine, the node is behind), unless the
position is past the end of the log, which no wait can fix (422).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from api.problems import ApiProblem
from projections.models import Card
from projections.queries import ReadModel

JSON = "application/json"
MinPosition = Annotated[
    int | None,
    QueryParameter(
        name="min_position",
        ge=0,
        le=2**62,
        description=(
            "Wait (bounded) until the read model reflects this log position, "
            "e.g. the position a write answered"
        ),
    ),
]
_encode = msgspec.json.Encoder().encode


async def reach(state: State, position: int) -> None:
    """Returns once the read model reflects ``position``, or raises a problem."""
    read_model: ReadModel = state.read_model
    if read_model.position() >= position:
        return
    head = await anyio.to_thread.run_sync(state.ledger.head_position)
    if position > head:
        raise ApiProblem(
            422,
            "position-beyond-log",
            f"position {position} is past the end of the log (head {head})",
        )
    # ReadModel.wait_for would block the loop; this polls it asynchronously.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.settings.min_position_timeout
    delay = 0.002
    while loop.time() < deadline:
        await asyncio.sleep(delay)
        if read_model.position() >= position:
            return
        delay = min(delay * 2, 0.05)
    raise ApiProblem(
        503,
        "projection-behind",
        f"the read model reflects position {read_model.position()}, not yet "
        f"{position}; retry shortly",
        {"Retry-After": "1"},
    )


async def provide_read_model(
    state: State, min_position: MinPosition = None
) -> ReadModel:
    """App-level ``read_model`` dependency; honours ``min_position`` first."""
    if min_position:
        await reach(state, min_position)
    read_model: ReadModel = state.read_model
    return read_model


def card_etag(card: Card) -> str:
    """A strong validator for a card: it changes whenever the card does."""
    return f'"{card.slug}:{card.version}:{card.position}"'


def content_etag(body: bytes) -> str:
    """A strong validator from the encoded body, for composite views."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def not_modified(request: Request[Any, Any, Any], etag: str) -> bool:
    """Whether ``If-None-Match`` already names ``etag`` (weak comparison)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


class Prebuilt:
    """A complete response, built once and sent as is (an ASGI app).

    The hot reads answer with these instead of a Litestar ``Response``,
    which would rebuild and re-validate the same headers on every request.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": self.status,
            "headers": self.headers,
        }
        await send(start)
        body: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": self.body,
            "more_body": False,
        }
        await send(body)


class Encoded:
    """A view encoded once for one read-model position, with its validator."""

    __slots__ = ("etag", "modified", "not_modified", "position")

    def __init__(self, position: int, body: bytes, etag: str) -> None:
        self.position = position
        self.etag = etag
        validators = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
        self.modified = Prebuilt(
            200,
            [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *validators,
            ],
            body,
        )
        self.not_modified = Prebuilt(304, validators, b"")

    def answer(self, request: Request[Any, Any, Any]) -> Prebuilt:
        """The full answer, or 304 when ``If-None-Match`` names this version."""
        if not_modified(request, self.etag):
            return self.not_modified
        return self.modified


class EncodedCache:
    """Encoded views by key, valid while the read model stays at one position.

    The hot reads (a card, a comparison) are asked for far more often than
    the log moves, so each is encoded once per read-model position and then
    served as bytes. Bounded: when full it starts over.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: dict[Any, Encoded] = {}

    def get(self, key: Any, position: int) -> Encoded | None:
        entry = self._entries.get(key)
        if entry is not None and entry.position == position:
            return entry
        return None

    def put(self, key: Any, position: int, body: bytes, etag: str) -> Encoded:
        if len(self._entries) >= self._size:
            self._entries.clear()
        entry = Encoded(position, body, etag)
        self._entries[key] = entry
        return entry


def cached_card(
    cache: EncodedCache, read_model: ReadModel, slug: str
) -> Encoded | None:
    """The encoded current card of ``slug``, or None if there is no such tool."""
    position = read_model.position()
    entry = cache.get(("card", slug), position)
    if entry is not None:
        return entry
    card = read_model.tool(slug)
    if card is None:
        return None
    return cache.put(("card", slug), position, _encode(card), card_etag(card))


def encode(value: Any) -> bytes:
    """msgspec JSON, the API's one encoder."""
    return _encode(value)
