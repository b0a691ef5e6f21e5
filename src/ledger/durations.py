"""Lifetimes written the way operators say them: ``90m``, ``12h``, ``30d``.

One parser for the command line (``ledger token create --expires``) and the
HTTP API (``expires_in``), so both accept and refuse exactly the same words.
"""

from __future__ import annotations

import re
from datetime import timedelta

from ledger.rules import WHITESPACE

UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
LONGEST = timedelta(days=3650)
"""Ten years: a token meant to outlive that should not expire at all."""

_DURATION = re.compile(r"([0-9]{1,7})([mhd])")
SHAPE = f"^[{WHITESPACE}]*[0-9]{{1,7}}[mhdMHD][{WHITESPACE}]*$"
"""What :func:`parse` reads, as a pattern for a schema; it also refuses zero
and anything longer than :data:`LONGEST`, which the pattern does not say."""
HELP = "a whole number of minutes, hours or days, such as 90m, 12h or 30d"


def parse(text: str) -> timedelta:
    """The lifetime ``text`` names.

    Raises:
        ValueError: ``text`` is not a whole number followed by m, h or d, is
            zero, or is longer than :data:`LONGEST`; the message says which.
    """
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        msg = f"a duration is {HELP}, not {text!r}"
        raise ValueError(msg)
    lifetime = int(found[1]) * UNITS[found[2]]
    if lifetime <= timedelta(0):
        msg = f"a duration must be longer than zero, not {text!r}"
        raise ValueError(msg)
    if lifetime > LONGEST:
        msg = f"a duration is at most {LONGEST.days}d, not {text!r}"
        raise ValueError(msg)
    return lifetime
