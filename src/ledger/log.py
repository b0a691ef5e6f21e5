"""Reading the global log as plain, typed records.

Followers of the log (the projections, the CLI, the audit API) want every
event's envelope and data, not aggregates. This module reads notifications in
position order and decodes each into a :class:`LoggedEvent` with one untyped
msgspec decode and the event class's upcasters, which is far cheaper than
rebuilding domain event objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.utils import get_topic, resolve_topic

from ledger import domainmodel, people
from ledger.codec import upcast

AGGREGATES = (
    domainmodel.Tool,
    domainmodel.Reviewer,
    domainmodel.Review,
    domainmodel.Comparison,
    domainmodel.Vote,
    people.Subscription,
    people.Erasure,
)
ENVELOPE = ("timestamp", "originator_topic", "actor", "reason", "request_id")
"""State keys every event carries besides its own fields; kept out of ``data``."""


def _event_classes() -> dict[str, type[Any]]:
    found: dict[str, type[Any]] = {}
    for aggregate in AGGREGATES:
        for name, value in vars(aggregate).items():
            if (
                isinstance(value, type)
                and issubclass(value, domainmodel.LedgerAggregate.Event)
                and name not in ("Event", "Created")
            ):
                found[f"{aggregate.__name__}.{name}"] = value
    return found


EVENT_CLASSES: dict[str, type[Any]] = _event_classes()
"""Every event class of the ledger by its type name, e.g. ``Tool.Registered``."""

TOPICS: dict[str, str] = {name: get_topic(cls) for name, cls in EVENT_CLASSES.items()}
"""The stored topic of every event type name."""


class LoggedEvent(msgspec.Struct, frozen=True):
    """One event of the log with its envelope split from its data."""

    position: int
    at: datetime
    type: str
    aggregate_id: UUID
    version: int
    actor: str
    reason: str
    request_id: str
    data: dict[str, Any]


@lru_cache(maxsize=256)
def _type_of(topic: str) -> tuple[str, type[Any]]:
    cls = resolve_topic(topic)
    return topic.rpartition(":")[2], cls


_decode_state = msgspec.json.Decoder().decode


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def decode(notification: Notification) -> LoggedEvent:
    """Decodes one stored notification into a :class:`LoggedEvent`."""
    name, cls = _type_of(notification.topic)
    state = upcast(cls, _decode_state(notification.state))
    envelope = [state.pop(key, "") for key in ENVELOPE]
    originator_id = notification.originator_id
    return LoggedEvent(
        position=notification.id,
        at=_timestamp(envelope[0]),
        type=name,
        aggregate_id=(
            originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
        ),
        version=notification.originator_version,
        actor=envelope[2],
        reason=envelope[3],
        request_id=envelope[4],
        data=state,
    )


def topics_for(types: Sequence[str]) -> list[str]:
    """Stored topics for event type names; unknown names are a ``ValueError``."""
    unknown = [name for name in types if name not in TOPICS]
    if unknown:
        msg = (
            f"unknown event type(s): {', '.join(unknown)}; "
            f"known: {', '.join(sorted(TOPICS))}"
        )
        raise ValueError(msg)
    return [TOPICS[name] for name in types]


def read(
    recorder: ApplicationRecorder,
    *,
    after: int = 0,
    limit: int = 1000,
    types: Sequence[str] = (),
) -> list[LoggedEvent]:
    """Up to ``limit`` events after position ``after``, optionally by type."""
    notifications = recorder.select_notifications(
        start=after, limit=limit, topics=topics_for(types), inclusive_of_start=False
    )
    return [decode(n) for n in notifications]


def batches(
    recorder: ApplicationRecorder,
    *,
    after: int = 0,
    stop: int | None = None,
    size: int = 5000,
) -> Iterator[Sequence[Notification]]:
    """Raw notifications after ``after`` up to ``stop``, a batch at a time."""
    while True:
        notifications = recorder.select_notifications(
            start=after, limit=size, stop=stop, inclusive_of_start=False
        )
        if not notifications:
            return
        yield notifications
        after = notifications[-1].id
        if len(notifications) < size:
            return


def of_request(
    recorder: ApplicationRecorder, request_id: str, *, actor: str, after: int
) -> list[LoggedEvent]:
    """The events ``actor`` appended under ``request_id`` after ``after``.

    How a request that may or may not have been carried out is found in the
    log alone: its events carry its request id and actor and come after the
    head it saw before it ran. Only notifications whose stored state holds
    the request id as a JSON string are decoded, so a scan over many other
    events costs little more than reading them.
    """
    needle = msgspec.json.encode(request_id)
    found: list[LoggedEvent] = []
    for batch in batches(recorder, after=after):
        for notification in batch:
            if needle not in notification.state:
                continue
            event = decode(notification)
            if event.request_id == request_id and event.actor == actor:
                found.append(event)
    return found
