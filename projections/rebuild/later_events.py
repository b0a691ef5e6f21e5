"""Which aggregates have events after their first: what a replay need hold.

A replay holds what each vote last did because a later event of the same
vote will ask for it; but most votes are never changed, and holding every one
of them costs memory and a good part of the fold's time
(docs/PERFORMANCE.md). The log's primary key (aggregate id, version) tells
which aggregates have a second event, in one scan of its index. The answer is
kept as a bitmap of those ids' hashes: a few megabytes however long the log,
and a superset (an id now and then shares a bit with another), which is all a
replay needs to know what it may let go.
"""

from __future__ import annotations

from collections.abc import Iterable

BITS = 1 << 24
"""Bits of the map: 2 MiB, and about one id in thirty wrongly kept per
500,000 aggregates with later events."""


class LaterEvents:
    """The aggregates that have a second event, or a few more.

    Python salts string hashes per process, so a map is used in the process
    that made it.

    Args:
        aggregate_ids: The ids of the aggregates that have a second event.
    """

    def __init__(self, aggregate_ids: Iterable[str]) -> None:
        self._mask = BITS - 1
        self._bits = bytearray(BITS >> 3)
        for aggregate_id in aggregate_ids:
            spot = hash(aggregate_id) & self._mask
            self._bits[spot >> 3] |= 1 << (spot & 7)

    def __contains__(self, aggregate_id: object) -> bool:
        spot = hash(aggregate_id) & self._mask
        return bool(self._bits[spot >> 3] >> (spot & 7) & 1)
