"""ISO weeks, the span a digest covers: ``2026-W48`` runs Monday to Monday, UTC.

A week is named the ISO 8601 way (``YYYY-Www``), so a year has 52 or 53 of
them and a week's Monday may fall in the year before (``2026-W01`` begins on
29 December 2025). Every time in the ledger is UTC, and so are weeks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ledger import errors

PATTERN = r"^[0-9]{4}-W[0-9]{2}$"
"""A week's name as the API states it: ``YYYY-Www``."""
_FORM = re.compile(r"(\d{4})-W(\d{2})")
FIRST_YEAR, LAST_YEAR = 1970, 9998
"""The years a week is parsed in: every week of them has a week either side."""
EN_DASH = "\u2013"


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week: its year (the ISO year) and its number (1-53).

    Raises:
        errors.InvalidWeek: On construction, for a week its year does not have.
    """

    year: int
    number: int

    def __post_init__(self) -> None:
        try:
            date.fromisocalendar(self.year, self.number, 1)
        except ValueError:
            msg = f"{self.year} has no ISO week {self.number}"
            raise errors.InvalidWeek(msg) from None

    @classmethod
    def parse(cls, text: str) -> Week:
        """The week ``text`` names, as ``YYYY-Www`` (``2026-W48``).

        Raises:
            errors.InvalidWeek: ``text`` is not of that form, or names a week
                its year does not have (``2026-W54``).
        """
        found = _FORM.fullmatch(text)
        if found is None:
            shown = text if len(text) <= 40 else text[:40] + "…"
            msg = f"{shown!r} is not an ISO week; write it as YYYY-Www, e.g. 2026-W48"
            raise errors.InvalidWeek(msg)
        year, number = int(found[1]), int(found[2])
        if not FIRST_YEAR <= year <= LAST_YEAR or not 1 <= number <= 53:
            msg = (
                f"{text!r}: weeks are numbered 01 to 53, "
                f"in the years {FIRST_YEAR} to {LAST_YEAR}"
            )
            raise errors.InvalidWeek(msg)
        return cls(year, number)

    @classmethod
    def containing(cls, moment: datetime | date) -> Week:
        """The week ``moment`` falls in (a datetime is taken in UTC)."""
        if isinstance(moment, datetime):
            moment = moment.astimezone(UTC).date()
        year, number, _ = moment.isocalendar()
        return cls(year, number)

    @classmethod
    def last_complete(cls, now: datetime | None = None) -> Week:
        """The newest week that has ended by ``now`` (by default, now)."""
        return cls.containing(now or datetime.now(UTC)).previous()

    @property
    def label(self) -> str:
        """``2026-W48``: how URLs, mails and the command line name the week."""
        return f"{self.year:04d}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC, the first instant of the week."""
        return datetime.combine(self.monday, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC, the first instant after the week."""
        return self.start + timedelta(days=7)

    @property
    def span(self) -> str:
        """The week's days for a reader: 23 to 29 November 2026, with an en dash."""
        first, last = self.monday, self.monday + timedelta(days=6)
        if first.year != last.year:
            return f"{first:%-d %B %Y} {EN_DASH} {last:%-d %B %Y}"
        if first.month != last.month:
            return f"{first:%-d %B} {EN_DASH} {last:%-d %B %Y}"
        return f"{first.day}{EN_DASH}{last:%-d %B %Y}"

    def previous(self) -> Week:
        """The week before."""
        return Week.containing(self.monday - timedelta(days=7))

    def next(self) -> Week:
        """The week after."""
        return Week.containing(self.monday + timedelta(days=7))

    def has_begun(self, now: datetime | None = None) -> bool:
        """Whether the week's Monday has come by ``now`` (by default, now)."""
        return self.start <= (now or datetime.now(UTC))

    def is_over(self, now: datetime | None = None) -> bool:
        """Whether the week has ended by ``now`` (by default, now)."""
        return self.end <= (now or datetime.now(UTC))

    def __str__(self) -> str:
        return self.label
