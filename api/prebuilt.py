"""Responses built once and sent as bytes, with the ETags that validate them.

The hot reads (a card, a comparison) are asked for far more often than the
log moves, so each is encoded once per read-model position, kept with its
validator and sent as prebuilt ASGI messages; ``If-None-Match`` with the
validator answers 304 while the view is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.openapi import ResponseSpec
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from projections.models import Card

V = TypeVar("V")
encode = msgspec.json.Encoder().encode
"""msgspec JSON, the API's one encoder."""

NO_CACHE = b"no-cache"
"""Cache-Control of an answer that may change: ask again each time."""
IMMUTABLE = b"public, max-age=31536000, immutable"
"""Cache-Control of an answer that can never change, such as a proof of a
named checkpoint's tree."""

NOT_MODIFIED = {
    304: ResponseSpec(None, description="Unchanged since the ETag in If-None-Match")
}
"""The OpenAPI entry of a 304 answer to ``If-None-Match``."""


def prebuilt_response(model: type[Any]) -> dict[int, ResponseSpec]:
    """The OpenAPI 200 entry of a handler that answers prebuilt bytes of ``model``.

    Such a handler returns an ASGI app, so Litestar cannot see the body's type.
    """
    return {200: ResponseSpec(model, description="OK; with an ETag")}


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


def json_bytes(body: bytes, *headers: tuple[bytes, bytes]) -> Prebuilt:
    """A 200 answer of encoded JSON ``body`` with ``headers``, sent as is."""
    return Prebuilt(
        200,
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        body,
    )


class Encoded:
    """A view encoded once for one read-model position, with its validator."""

    __slots__ = ("etag", "modified", "not_modified", "position")

    def __init__(self, position: int, body: bytes, etag: str) -> None:
        self.position = position
        self.etag = etag
        validators = [(b"etag", etag.encode()), (b"cache-control", NO_CACHE)]
        self.modified = json_bytes(body, *validators)
        self.not_modified = Prebuilt(304, validators, b"")

    def answer(self, request: Request[Any, Any, Any]) -> Prebuilt:
        """The full answer, or 304 when ``If-None-Match`` names this version."""
        if not_modified(request, self.etag):
            return self.not_modified
        return self.modified


class EncodedCache:
    """Encoded views by key, each valid while the read model stays put.

    Bounded: when full it starts over.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: dict[Hashable, Encoded] = {}

    def view(
        self,
        key: Hashable,
        position: int,
        load: Callable[[], V | None],
        etag: Callable[[V, bytes], str],
    ) -> Encoded | None:
        """The view under ``key`` as of ``position``, encoded at most once.

        Args:
            key: What the view is, e.g. ``("card", slug)``.
            position: The read model's position; a view encoded at another
                position is encoded again.
            load: Reads the view; None when there is no such thing.
            etag: The validator of a loaded view and its encoded body.

        Returns:
            The encoded view, or None when ``load`` found nothing.
        """
        entry = self._entries.get(key)
        if entry is not None and entry.position == position:
            return entry
        value = load()
        if value is None:
            return None
        if len(self._entries) >= self._size:
            self._entries.clear()
        body = encode(value)
        entry = self._entries[key] = Encoded(position, body, etag(value, body))
        return entry
