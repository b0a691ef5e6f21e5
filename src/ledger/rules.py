"""The value rules shared by the aggregates: slugs, verdicts, lenses, bounds."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ledger import errors

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
WHITESPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
r"""Every character ``str.strip`` removes, as the inside of a regex class.

Spelled out because ``\s`` differs between regex dialects (Python's has
``\x1c``-``\x1f``, ECMAScript's has U+FEFF), and the API's schema states
these rules to clients in any of them."""
NOT_BLANK = f"[^{WHITESPACE}]"
"""Found in text that is not blank: what a required text holds once stripped."""
VERDICTS = ("ship", "skip")
LENSES = ("builder", "skeptic", "futurist", "buyer")

MAX_NAME = 200
MAX_TEXT = 4000
MAX_RATIONALE = 4000
MAX_REASON = 1000

TOOL_FIELDS = (
    "name",
    "vendor",
    "category",
    "tagline",
    "description",
    "entry",
    "license",
)
TOOL_FIELD_LIMITS = {
    "name": MAX_NAME,
    "vendor": MAX_NAME,
    "category": MAX_NAME,
    "tagline": 300,
    "description": MAX_TEXT,
    "entry": MAX_NAME,
    "license": MAX_NAME,
}
# Fields a verdict rests on: changing them must be explained in the log.
VERDICT_FIELDS = frozenset({"category", "description", "entry", "license"})
REQUIRED_TOOL_FIELDS = frozenset({"name", "vendor", "category"})

REVIEWER_FIELDS = ("name", "lens")


def slug(value: str, what: str = "slug") -> str:
    """Returns ``value`` if it is a lowercase URL-safe slug, else raises."""
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        msg = (
            f"{what} {value!r} must be 1-64 lowercase letters, digits or inner hyphens"
        )
        raise errors.InvalidSlug(msg)
    return value


def text(value: str, what: str, limit: int, *, required: bool = True) -> str:
    """Strips and bounds a text field; required fields must not be blank."""
    if not isinstance(value, str):
        msg = f"{what} must be text"
        raise errors.InvalidField(msg)
    value = value.strip()
    if required and not value:
        msg = f"{what} must not be empty"
        raise errors.InvalidField(msg)
    return _within(value, what, limit)


def tool_fields(fields: Mapping[str, str], *, partial: bool) -> dict[str, str]:
    """Validates tool fields; ``partial`` allows a subset, as edits do."""
    unknown = set(fields) - set(TOOL_FIELDS)
    if unknown:
        msg = f"unknown tool field(s): {', '.join(sorted(unknown))}"
        raise errors.InvalidField(msg)
    if not partial:
        missing = REQUIRED_TOOL_FIELDS - {k for k, v in fields.items() if v}
        if missing:
            msg = f"missing tool field(s): {', '.join(sorted(missing))}"
            raise errors.InvalidField(msg)
    return {
        name: text(
            fields[name],
            name,
            TOOL_FIELD_LIMITS[name],
            required=name in REQUIRED_TOOL_FIELDS,
        )
        for name in TOOL_FIELDS
        if name in fields
    }


def verdict(value: str) -> str:
    """Returns ``value`` if it is ``ship`` or ``skip``."""
    if value not in VERDICTS:
        msg = f"verdict must be 'ship' or 'skip', not {value!r}"
        raise errors.InvalidVerdict(msg)
    return value


def rationale(value: str) -> str:
    """A rationale is the written reason behind a verdict: non-empty, bounded."""
    if not isinstance(value, str) or not value.strip():
        msg = "rationale must not be empty"
        raise errors.InvalidRationale(msg)
    return _within(value.strip(), "rationale", MAX_RATIONALE, errors.InvalidRationale)


def lens(value: str) -> str:
    """Returns ``value`` if it is one of the panel's lenses."""
    if value not in LENSES:
        msg = f"lens must be one of {', '.join(LENSES)}, not {value!r}"
        raise errors.InvalidLens(msg)
    return value


def reason(value: str | None, *, required: bool, what: str = "this change") -> str:
    """Bounds a reason and insists on one where the log must explain itself."""
    value = (value or "").strip()
    if required and not value:
        msg = f"{what} needs a reason"
        raise errors.ReasonRequired(msg)
    return _within(value, "reason", MAX_REASON)


def _within(
    value: str,
    what: str,
    limit: int,
    error: type[errors.InvalidInput] = errors.InvalidField,
) -> str:
    """Returns ``value`` if it has at most ``limit`` characters, else raises."""
    if len(value) > limit:
        msg = f"{what} is {len(value)} characters; the limit is {limit}"
        raise error(msg)
    return value
