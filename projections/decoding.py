"""Decoding stored events into typed views of the ledger's event classes.

The read side never rebuilds the ledger's own event objects (UUIDs, datetimes
and frozen dataclasses cost more than the rest of a fold). Instead every event
class gets a msgspec Struct generated from its own fields, its *view*, and a
stored event is decoded straight into it in one typed pass: handlers read
``event.subject`` or ``event.changes`` as the class names them. Who acted, why
and in which request (the envelope) are left out of the views: no fold needs
them, and most events are votes, so only the audit reads them, as stored
(:func:`envelope`). Times are kept as the fixed-width ISO text the read
models store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import msgspec
from eventsourcing.utils import resolve_topic

from ledger.codec import upcast
from ledger.log import ENVELOPE
from projections.source import Raw

SKIPPED = ("originator_id", "originator_version", *ENVELOPE)
"""Fields no view decodes: the position in the log comes from the log itself."""


class Event(msgspec.Struct, kw_only=True, gc=False):
    """What every decoded event carries; each event class's view adds its fields.

    ``type_name`` (e.g. ``"Vote.Cast"``) and ``event_class`` are class
    attributes of each view, so they cost nothing per event. ``completed`` is
    what a read model that folds the event first found out about it, for the
    read models after it (see :mod:`projections.registry`): what a vote's
    event moved, say, which the event itself does not tell.
    """

    timestamp: str
    position: int = 0
    aggregate_id: str = ""
    version: int = 0
    state: bytes = b""
    completed: Any = None

    type_name: ClassVar[str] = ""
    event_class: ClassVar[type[Any]] = object

    @property
    def at(self) -> str:
        """When it happened, as the read models store times.

        Worked out when asked: most events are votes, whose time only goes
        on their tool's card, as text, when the card is written.
        """
        return iso_text(self.timestamp)


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


def day_of(timestamp: str) -> str:
    """The UTC day (``YYYY-MM-DD``) of a stored event's timestamp text."""
    if len(timestamp) == 27 and timestamp[-1] == "Z":
        return timestamp[:10]
    return iso_text(timestamp)[:10]


def view_of(event_class: type[Any]) -> type[Event]:
    """The Struct that a stored event of ``event_class`` decodes into."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for field in dataclasses.fields(event_class):
        if field.name in SKIPPED or field.name in Event.__struct_fields__:
            continue
        if field.default is dataclasses.MISSING:
            fields.append((field.name, Any))
        else:
            fields.append((field.name, Any, field.default))
    name = event_class.__qualname__
    view = msgspec.defstruct(
        name.replace(".", ""),
        fields,
        bases=(Event,),
        module=__name__,
        namespace={"type_name": name, "event_class": event_class},
        kw_only=True,
        gc=False,
    )
    return cast(type[Event], view)


Decoder = Callable[[bytes], Event]


class _Views(dict[str, tuple[type[Event], Decoder, bool]]):
    """Topic to view, its decoder, and whether stored states may need upcasting."""

    def __missing__(self, topic: str) -> tuple[type[Event], Decoder, bool]:
        event_class = resolve_topic(topic)
        view = view_of(event_class)
        upcasts = getattr(event_class, "class_version", 1) > 1
        found = self[topic] = (view, msgspec.json.Decoder(view).decode, upcasts)
        return found


class _EventClasses(dict[str, type[Any]]):
    def __missing__(self, topic: str) -> type[Any]:
        found = self[topic] = _views[topic][0].event_class
        return found


_views = _Views()
_decode_json = msgspec.json.Decoder().decode

event_classes = _EventClasses()
"""The event class of each stored topic: ``event_classes[topic]``, a dict
subscript, for loops over many stored events."""


def decode(raw: Raw) -> Event:
    """Decodes one stored event; states of older class versions are upcast."""
    position, aggregate_id, version, topic, state = raw
    view, decode_state, upcasts = _views[topic]
    if upcasts:
        event = msgspec.convert(upcast(view.event_class, _decode_json(state)), view)
    else:
        event = decode_state(state)
    event.position = position
    event.aggregate_id = aggregate_id
    event.version = version
    event.state = state
    return event


def envelope(event: Event) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event's envelope and its own fields (upcast), in their stored order.

    What the audit index keeps of each event, and what SQL's ``json_remove``
    of the envelope gives for the same state.
    """
    state = upcast(event.event_class, _decode_json(event.state))
    return {key: state.pop(key, "") for key in ENVELOPE}, state
