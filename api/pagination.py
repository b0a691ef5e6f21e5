"""Cursor pagination, the same for every list the API answers.

A list answers one page: ``items``, and ``next``, the link to the following
page (null on the last), also sent as an RFC 8288 ``Link: <…>; rel="next"``
header. The link repeats the request's own query (its limit and filters) with
a ``cursor``: where the page ended, encoded. Clients follow links and never
build cursors, so what a cursor holds can change without breaking them.

Every list is ordered by something the log only ever adds to the end of (a
log position, a day), and a cursor is such a key, so a page never repeats
or skips an item while the log grows between pages.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response
from litestar.datastructures import ResponseHeader, State
from litestar.params import QueryParameter

from api.problem_details import ApiProblem
from projections.models import Page
from projections.queries import MAX_PAGE

DEFAULT_LIMIT = 100
"""How many items a page holds when the request does not say."""

MAX_CURSOR = 64
"""The longest cursor the API makes, and so the longest it accepts."""

Limit = Annotated[
    int,
    QueryParameter(
        ge=1,
        le=MAX_PAGE,
        description=f"At most this many items (default {DEFAULT_LIMIT})",
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Where the page starts: the cursor of a previous page's "
        "next link; opaque",
    ),
]

LINK_HEADER = [
    ResponseHeader(
        name="Link",
        description='<next page>; rel="next", while another page follows',
        documentation_only=True,
        required=False,
    )
]
"""The ``Link`` header, as the OpenAPI document of a list describes it."""

K = TypeVar("K", int, str)
_encode_key = msgspec.json.Encoder().encode


def encode(key: int | str) -> str:
    """The opaque cursor of a list's key."""
    return base64.urlsafe_b64encode(_encode_key(key)).rstrip(b"=").decode()


def decode(cursor: str | None, key: type[K]) -> K | None:
    """The key a cursor holds; None for no cursor.

    Raises:
        ApiProblem: ``invalid-cursor`` when it is not one this list made.
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = msgspec.json.decode(raw, type=key)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        found = None
    if found is None or (isinstance(found, int) and not 0 <= found <= 2**62):
        raise ApiProblem(
            "invalid-cursor",
            f"the cursor {cursor!r} is not one of this list's; follow the "
            "next link of a page, or leave the cursor out for the first page",
        )
    return found


def link_with(request: Request[Any, Any, State], name: str, value: object) -> str:
    """This request's path and query, with the query parameter ``name`` set."""
    return link_setting(request, {name: value})


def link_setting(
    request: Request[Any, Any, State], values: Mapping[str, object]
) -> str:
    """This request's path and query, with each query parameter of ``values`` set."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in values]
    query += [(name, str(value)) for name, value in values.items()]
    return f"{request.url.path}?{urlencode(query)}"


def next_link(request: Request[Any, Any, State], key: int | str | None) -> str | None:
    """The link to the page after ``key``: this request's query, with its cursor."""
    return None if key is None else link_with(request, "cursor", encode(key))


def link_header(link: str | None) -> dict[str, str]:
    """The ``Link`` header of a page whose next page is at ``link``, if any."""
    return {} if link is None else {"Link": f'<{link}>; rel="next"'}


S = TypeVar("S", bound=msgspec.Struct)


def paged(
    request: Request[Any, Any, State],
    page: Page[Any],
    body: type[S],
    **fields: Any,
) -> Response[S]:
    """The answer of a list: the page as ``body``, with its next link twice.

    Args:
        request: The request, whose query the next link repeats.
        page: The page.
        body: The list's response Struct (``items`` and ``next``).
        fields: Any other fields of ``body``.
    """
    link = next_link(request, page.next)
    return Response(
        body(items=page.items, next=link, **fields), headers=link_header(link)
    )
