"""Decoding stored events into the plain values the read models store.

The read side decodes with one untyped msgspec decode and keeps times as the
fixed-width ISO text it stores, which is several times cheaper than building
the ledger's event objects or :class:`ledger.log.LoggedEvent` records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgspec
from eventsourcing.utils import resolve_topic

from ledger.codec import upcast
from projections.source import Raw

_decode_json = msgspec.json.Decoder().decode


class Event(msgspec.Struct, gc=False):
    """One decoded event, in the plain types the read models store."""

    position: int
    at: str
    type: str
    aggregate_id: str
    version: int
    actor: str
    reason: str
    request_id: str
    data: dict[str, Any]


class VoteState(msgspec.Struct, gc=False):
    """What folding a vote needs of its stored state; the rest is skipped."""

    timestamp: str
    subject: str | None = None
    choice: str | None = None


decode_vote = msgspec.json.Decoder(VoteState).decode
"""Decodes a vote's state into :class:`VoteState`, several times faster than
:func:`decode` as it builds no dict."""

VOTE_TYPES = frozenset({"Vote.Cast", "Vote.Changed", "Vote.Retracted"})


def iso(at: datetime) -> str:
    """A time as stored: UTC, ISO 8601 with microseconds and ``Z``.

    Fixed width keeps stored times ordered as text, so as-of lookups compare
    them in SQL. It is also exactly what msgspec writes for a UTC event
    timestamp, so most stored times need no conversion at all.
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_text(value: str) -> str:
    """A stored event's timestamp text as the read models store times."""
    if len(value) == 27 and value[-1] == "Z":
        return value
    return iso(datetime.fromisoformat(value))


@lru_cache(maxsize=512)
def _event_type(topic: str) -> tuple[str, type[Any] | None]:
    """The type name of a topic, and its class if stored states need upcasting."""
    cls = resolve_topic(topic)
    needs_upcast = getattr(cls, "class_version", 1) > 1
    return topic.rpartition(":")[2], cls if needs_upcast else None


class _PlainVotes(dict[str, str | None]):
    """Topic to vote event type, or None: a dict subscript, the cheapest lookup."""

    def __missing__(self, topic: str) -> str | None:
        name, cls = _event_type(topic)
        kind = name if name in VOTE_TYPES and cls is None else None
        self[topic] = kind
        return kind


plain_votes = _PlainVotes()
"""The vote event type of a topic (``plain_votes[topic]``), if its states need
no upcasting; None for any other topic."""


def decode(raw: Raw) -> Event:
    """Decodes one stored event; states of older class versions are upcast."""
    position, aggregate_id, version, topic, state_bytes = raw
    name, cls = _event_type(topic)
    state = _decode_json(state_bytes)
    if cls is not None:
        upcast(cls, state)
    at = iso_text(state.pop("timestamp"))
    state.pop("originator_topic", None)
    return Event(
        position,
        at,
        name,
        aggregate_id,
        version,
        state.pop("actor", ""),
        state.pop("reason", ""),
        state.pop("request_id", ""),
        state,
    )
