"""The body of ``POST /api/erasures``: whom to erase, and why.

Bounds here tell clients the limits in OpenAPI; the ledger still checks the
person (:meth:`ledger.application.Ledger.person_named`) and the reason
itself, so a body within them may still be refused with a problem.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from api.schemas import RequiredReason
from ledger.people import MAX_ADDRESS

Person = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_ADDRESS,
        description="The address a subscriber subscribed with, reviewer:HANDLE "
        "or subscriber:ID",
        examples=["reviewer:skeptic"],
    ),
]


class ErasureCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/erasures``: erase a person's sealed data, saying why."""

    person: Person
    reason: RequiredReason
