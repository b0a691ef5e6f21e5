"""msgspec encoding of the ledger's events.

Events are stored as compact JSON written by msgspec. Reading them back is a
plain untyped decode, the upcasters of the event's class, and one
``msgspec.convert`` into the event dataclass, which restores UUIDs and
timezone-aware datetimes exactly (msgspec writes those natively, so no
transcoding hook would ever be called for them).

An event class that holds a person's data names those fields in its
``personal`` class attribute, and the person in its ``person`` field; the
mapper seals them on the way into the store and opens them on the way out
(:mod:`ledger.personal_data`), so aggregates work with the clear text while
the log holds only ciphertext.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

from ledger.personal_data import Sealer

_ENVELOPE = ("originator_id", "originator_version")


class MsgspecTranscoder(Transcoder):
    """Encodes plain values as JSON with msgspec; decodes without types."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        return self._decoder.decode(data)


def upcast(cls: type[Any], state: dict[str, Any]) -> dict[str, Any]:
    """Brings stored ``state`` up to ``cls.class_version`` in place."""
    target = getattr(cls, "class_version", 1)
    version = state.pop("class_version", 1)
    while version < target:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state


class MsgspecMapper(Mapper[Any]):
    """Maps domain events to stored events and back through msgspec."""

    def __init__(
        self,
        transcoder: Transcoder | None = None,
        *,
        sealer: Sealer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(transcoder or MsgspecTranscoder(), **kwargs)
        self.sealer = sealer

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        state = vars(domain_event).copy()  # a copy in C; filtering costs more
        for name in _ENVELOPE:
            del state[name]
        personal = getattr(type(domain_event), "personal", ())
        if personal and self.sealer is not None and state.get("person"):
            _seal(self.sealer, state, personal)
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        cls = resolve_topic(stored_event.topic)
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = upcast(cls, self.transcoder.decode(data))
            personal = getattr(cls, "personal", ())
            if personal and self.sealer is not None:
                _unseal(self.sealer, state, personal)
            state["originator_id"] = stored_event.originator_id
            state["originator_version"] = stored_event.originator_version
            return cast(DomainEventProtocol[Any], msgspec.convert(state, cls))
        except (msgspec.ValidationError, msgspec.DecodeError, KeyError) as error:
            msg = (
                f"cannot decode stored event {stored_event.topic} "
                f"{stored_event.originator_id} v{stored_event.originator_version}: "
                f"{error}"
            )
            raise MapperDeserialisationError(msg) from error


def _fields(state: dict[str, Any], personal: tuple[str, ...]) -> list[tuple[Any, str]]:
    """Where each personal field's text is: (the dict holding it, its key)."""
    places: list[tuple[Any, str]] = []
    for path in personal:
        outer, _, inner = path.partition(".")
        if inner:
            nested = state.get(outer)
            if isinstance(nested, dict) and isinstance(nested.get(inner), str):
                places.append((nested, inner))
        elif isinstance(state.get(outer), str):
            places.append((state, outer))
    return places


def _seal(sealer: Sealer, state: dict[str, Any], personal: tuple[str, ...]) -> None:
    """Seals the personal fields of ``state`` (a copy of the event's) in place."""
    for path in personal:  # nested dicts are the event's own: copy, then seal
        outer, _, inner = path.partition(".")
        if inner and isinstance(state.get(outer), dict):
            state[outer] = dict(state[outer])
    for holder, name in _fields(state, personal):
        if holder[name]:
            holder[name] = sealer.seal(state["person"], holder[name])


def _unseal(sealer: Sealer, state: dict[str, Any], personal: tuple[str, ...]) -> None:
    places = _fields(state, personal)
    texts = [holder[name] for holder, name in places]
    opened = sealer.unseal_all(texts, private=True, strict=True)
    for (holder, name), value in zip(places, opened, strict=True):
        holder[name] = value
