"""The bounds of the API's integer parameters, as OpenAPI states them.

A handler declares each bound on its parameter (``ge=0, le=2**62``), which
Litestar enforces; its OpenAPI document states them less exactly. It leaves
a lower bound of 0 out of an optional parameter's schema (it skips falsy
bounds), so the document allows the negative numbers the handler refuses,
and it writes a required parameter's bounds as floats, so 2**62 reads as
4.611686018427388e+18, which a client rounds to an integer above the bound.
Each such parameter also passes one of these as ``schema_extra``, which
writes its bounds exactly.
"""

from __future__ import annotations

from typing import Any

LARGEST = 2**62
"""Log positions, versions and tree sizes stay below this."""

POSITION: dict[str, Any] = {"minimum": 0, "maximum": LARGEST}
"""A log position, or a count of events: 0 up to :data:`LARGEST`."""

TREE_SIZE: dict[str, Any] = {"minimum": 1, "maximum": LARGEST}
"""A published checkpoint's tree size: it holds at least one event."""


def numerals_up_to(largest: int) -> str:
    """A pattern of the decimal numerals from 0 to ``largest``, at most its width.

    Leading zeros are allowed, as ``int`` reads them. A parameter that takes
    a number or something else (a position or a time) is text, and a
    pattern is how its schema bounds the number.
    """
    text = str(largest)
    alternatives = [f"[0-9]{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for index, digit in enumerate(text):
        if digit == "0":
            continue
        lower = "0" if digit == "1" else f"[0-{int(digit) - 1}]"
        rest = len(text) - index - 1
        alternatives.append(text[:index] + lower + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(text)
    return "^(?:" + "|".join(alternatives) + ")$"


POINT: dict[str, Any] = {
    "any_of": [
        {"pattern": numerals_up_to(LARGEST)},
        {"format": "date"},
        {"format": "date-time"},
    ]
}
"""A point of the log: a position, an ISO-8601 date (its midnight) or time."""
