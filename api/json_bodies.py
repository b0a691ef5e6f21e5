"""JSON request bodies: said to be JSON, and nested no deeper than a bound.

Litestar decodes a handler's ``data`` with ``Request.json()`` whatever the
``Content-Type`` says, and msgspec decodes nesting until Python's recursion
limit, so a body of a thousand ``[`` answered 500. :class:`JsonRequest`
(the app's request class) checks both before decoding:

- a body is JSON only under ``application/json`` or another ``+json`` type
  (RFC 6839); anything else, or no ``Content-Type`` at all, is 415
  ``unsupported-media-type``, with ``Accept-Post`` or ``Accept-Patch``
  saying what is taken (RFC 9110 15.5.16);
- arrays and objects nest at most :data:`MAX_DEPTH` deep; deeper is 400
  ``body-too-deep``. No request of this API nests more than two.

Only handlers that take a body call ``json()``, so reads pay nothing; a body
with no more brackets than the bound is not scanned at all.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from api.problem_details import ApiProblem

MAX_DEPTH = 32
JSON = "application/json"

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_OPENING = frozenset(b"[{")


def is_json(content_type: str) -> bool:
    """Whether a ``Content-Type`` names JSON; its parameters do not matter."""
    media = content_type.partition(";")[0].strip().lower()
    return media == JSON or (
        media.startswith("application/") and media.endswith("+json")
    )


def depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (brackets in strings aside).

    Counted on the brackets left once strings are taken out, so malformed
    JSON gets a number too; the decoder then refuses it as malformed.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    deepest = level = 0
    for byte in brackets:
        if byte in _OPENING:
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, refusing bodies that are not JSON or nest too deep."""

    async def json(self) -> Any:
        """The decoded body, once it is known to be JSON of a bounded depth."""
        content_type = self.headers.get("content-type", "")
        if not is_json(content_type):
            accept = "Accept-Patch" if self.method == "PATCH" else "Accept-Post"
            said = f"{content_type!r}" if content_type else "no Content-Type"
            raise ApiProblem(
                "unsupported-media-type",
                f"the body must be sent as {JSON}, not {said}",
                {accept: JSON},
            )
        body = await self.body()
        if body.count(b"[") + body.count(b"{") > MAX_DEPTH and (
            depth(body) > MAX_DEPTH
        ):
            raise ApiProblem(
                "body-too-deep",
                f"the body nests arrays and objects more than {MAX_DEPTH} deep",
            )
        return await super().json()
