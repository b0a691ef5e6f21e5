"""The bodies of ``/api/tokens``: what an admin sends and sees of a token.

A token's secret appears once, in the answer that issues it; its digest
never leaves the token store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from api.schemas import NextLink, Slug
from ledger import durations
from ledger.auth import TokenInfo

Role = Literal["admin", "editor", "reviewer", "voter", "metrics"]
"""Every role of :data:`ledger.auth.ROLES` (a test keeps the two equal)."""

State = Literal["live", "expired", "revoked"]


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/tokens``: the token an admin asks for."""

    role: Role
    reviewer: (
        Annotated[Slug, Meta(description="For a reviewer token (only): its handle")]
        | None
    ) = None
    expires_in: (
        Annotated[
            str,
            Meta(
                max_length=16,
                # Documented, not enforced here: durations.parse refuses
                # anything else with its own invalid-duration problem.
                extra_json_schema={"extra": {"pattern": durations.SHAPE}},
                description=f"How long it works: {durations.HELP}, at most "
                f"{durations.LONGEST.days}d; forever when left out",
                examples=["30d"],
            ),
        ]
        | None
    ) = None


class TokenView(msgspec.Struct):
    """A token as an admin sees it: never its secret nor its digest."""

    id: Annotated[str, Meta(description="The public id: vl_<id>_<secret>")]
    role: Role
    reviewer: str | None
    state: State
    created_at: datetime
    expires_at: datetime | None
    last_used_at: Annotated[
        datetime | None, Meta(description="Its last use, to the minute")
    ]
    revoked_at: datetime | None


class IssuedToken(TokenView):
    """A new token: its view, and the token itself, shown this once."""

    token: Annotated[str, Meta(description="Send as 'Authorization: Bearer …'")]


class TokenList(msgspec.Struct):
    """``GET /api/tokens``: a page of the tokens, in the order issued."""

    items: list[TokenView]
    next: NextLink = None


def view_of(info: TokenInfo) -> TokenView:
    """The admin's view of a stored token."""
    return TokenView(**info.public())  # type: ignore[arg-type]


def issued(token: str, info: TokenInfo) -> IssuedToken:
    """The answer that issues ``token``: its view, and the token this once."""
    return IssuedToken(token=token, **info.public())  # type: ignore[arg-type]
