"""msgspec encoding: every event type survives the event store exactly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
from eventsourcing.persistence import Recording

from ledger import log
from ledger.application import Ledger
from ledger.context import Context
from ledger.personal_data import is_sealed
from ledger.settings import Settings
from tests.stores import Store

from .helpers import ADMIN, EDITOR, VOTER, reviewer_ctx, tool_fields

UNICODE = 'Café ✓ — 日本語 "quoted" \\ back\nslash 🚀'


class CapturingLedger(Ledger):
    """The ledger, keeping the domain events it appended as they were made."""

    # eventsourcing names a subclass after itself, and PostgreSQL's table
    # after the name: keep the ledger's, so that ledgers read what this wrote.
    name = Ledger.name

    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.appended: list[Any] = []
        self.given_env = env
        super().__init__(settings, env)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        self.appended.extend(recording.domain_event for recording in recordings)
        super()._notify(recordings)


def every_event_type(ledger: Ledger) -> None:
    """Drives the commands through every event type the ledger has."""
    ada = reviewer_ctx("ada")
    ledger.register_tool(EDITOR, "alpha", tool_fields("Alpha", tagline=UNICODE))
    ledger.register_tool(EDITOR, "beta", tool_fields("Beta"))
    ledger.edit_tool(
        EDITOR,
        "alpha",
        {"name": "Alpha ✓", "entry": "$0 \u2013 $20", "license": "Apache-2.0"},
        reason=f"vendor page {UNICODE}",
    )
    ledger.retire_tool(EDITOR, "beta", reason="paused")
    ledger.reinstate_tool(EDITOR, "beta", reason="resumed")
    ledger.enroll_reviewer(ADMIN, "ada", name="Ada", lens="builder")
    ledger.enroll_reviewer(ADMIN, "bob", name="Bob", lens="skeptic")
    ledger.edit_reviewer(ADMIN, "ada", {"lens": "buyer"}, reason="new role")
    ledger.submit_review(ada, "alpha", "ada", verdict="ship", rationale=UNICODE)
    ledger.revise_review(
        ada, "alpha", "ada", verdict="skip", rationale="Second look.", reason="price"
    )
    ledger.withdraw_review(ada, "alpha", "ada", reason="conflict")
    ledger.submit_review(ada, "alpha", "ada", verdict="ship", rationale="Third look.")
    ledger.retire_reviewer(ADMIN, "bob", reason="left")
    ledger.publish_comparison(EDITOR, "alpha", "beta", question="Which one?")
    ledger.edit_comparison(EDITOR, "alpha", "beta", question="Which one, really?")
    ledger.cast_vote(VOTER, "carol", "alpha", "ship")
    ledger.cast_vote(VOTER, "carol", "alpha", "skip")
    ledger.retract_vote(VOTER, "carol", "alpha")
    ledger.cast_comparison_vote(VOTER, "carol", "alpha", "beta", "beta")
    ledger.retire_comparison(EDITOR, "alpha", "beta", reason="done")
    reader = ledger.subscribe(VOTER, "reader@example.com").subscription_id
    ledger.confirm_subscription(VOTER, reader)
    for week in ("2026-W46", "2026-W47", "2026-W48"):
        ledger.record_delivery_failure(ADMIN, reader, week, f"550 {UNICODE}")
    ledger.unsubscribe(VOTER, reader, "one-click")
    ledger.subscribe(VOTER, "reader@example.com")
    # A key made for an append that never happened: erasing it changes no
    # event the other tests read back.
    ledger.sealer.seal("reviewer:zed", "a draft never appended")
    ledger.erase(ADMIN, "reviewer:zed", reason="asked to be forgotten")


@pytest.fixture
def capturing(event_store: Store) -> Iterator[CapturingLedger]:
    the_ledger = CapturingLedger(event_store.settings, event_store.env)
    try:
        every_event_type(the_ledger)
        yield the_ledger
    finally:
        the_ledger.close()


def type_name(event: Any) -> str:
    return type(event).__qualname__


def test_the_scenario_covers_every_event_type(capturing: CapturingLedger) -> None:
    assert {type_name(e) for e in capturing.appended} == set(log.EVENT_CLASSES)


def test_every_event_reads_back_equal_from_the_store(
    capturing: CapturingLedger,
) -> None:
    # given the events as the commands made them, per aggregate
    made: dict[UUID, list[Any]] = {}
    for event in capturing.appended:
        made.setdefault(event.originator_id, []).append(event)
    # when each aggregate's events are read back from the SQLite store
    for aggregate_id, originals in made.items():
        stored: list[Any] = list(capturing.events.get(aggregate_id))
        # then they are equal, field for field, and of the same classes
        assert stored == originals
        assert [type(e) for e in stored] == [type(e) for e in originals]
        for event in stored:
            assert isinstance(event.originator_id, UUID)
            assert event.timestamp.tzinfo is not None
            assert event.timestamp.utcoffset() == timedelta(0)


def test_values_keep_their_types_and_nesting(capturing: CapturingLedger) -> None:
    # given the tool edit with a dict of changes and unicode text
    edited = next(e for e in capturing.appended if type_name(e) == "Tool.Edited")
    # when it is read back
    stored: Any
    (stored,) = [
        e
        for e in capturing.events.get(edited.originator_id)
        if type_name(e) == "Tool.Edited"
    ]
    # then the dict is the same dict and the text the same text
    assert stored.changes == {
        "name": "Alpha ✓",
        "entry": "$0 \u2013 $20",
        "license": "Apache-2.0",
    }
    assert type(stored.changes) is dict
    assert stored.reason == f"vendor page {UNICODE}"
    assert stored.timestamp == edited.timestamp
    assert type(stored.timestamp) is type(edited.timestamp)


def test_the_mapper_round_trips_every_event(capturing: CapturingLedger) -> None:
    mapper = capturing.mapper
    for event in capturing.appended:
        stored = mapper.to_stored_event(event)
        assert isinstance(msgspec.json.decode(stored.state), dict)
        assert mapper.to_domain_event(stored) == event


def test_aggregates_rebuild_from_the_store(capturing: CapturingLedger) -> None:
    # a fresh ledger on the same log, with nothing cached, sees the same state
    fresh = Ledger(capturing.settings, capturing.given_env)
    try:
        assert fresh.tool("alpha") == capturing.tool("alpha")
        assert fresh.tool("alpha")["tagline"] == UNICODE
        assert fresh.review("alpha", "ada") == {
            "tool": "alpha",
            "reviewer": "ada",
            "verdict": "ship",
            "rationale": "Third look.",
            "withdrawn": False,
            "revisions": 2,
            "version": 4,
        }
        assert fresh.reviewer("ada")["lens"] == "buyer"
        assert fresh.comparison("alpha", "beta")["retired"] is True
        assert fresh.vote("carol", "tool:alpha") is None
        assert fresh.vote("carol", "comparison:alpha/beta") == "beta"
    finally:
        fresh.close()


def test_log_decode_splits_envelope_from_data(capturing: CapturingLedger) -> None:
    # when the raw notifications are decoded for followers of the log
    notifications = capturing.recorder.select_notifications(start=1, limit=1000)
    decoded = [log.decode(n) for n in notifications]
    # then each decoded event matches the domain event it came from
    assert len(decoded) == len(capturing.appended)
    envelope = {"originator_id", "originator_version", "timestamp", "originator_topic"}
    envelope |= {"actor", "reason", "request_id"}
    # with personal data kept sealed, opening to what the domain event held
    sealer = capturing.sealer
    for stored, event in zip(decoded, capturing.appended, strict=True):
        for name in getattr(type(event), "personal", ()):
            outer, _, inner = name.partition(".")
            text = getattr(event, outer)
            text = text.get(inner) if inner else text
            kept = stored.reason if outer == "reason" else stored.data[outer]
            kept = kept.get(inner) if inner else kept
            assert is_sealed(kept) == bool(text), (name, kept)
        logged = msgspec.structs.replace(
            stored,
            reason=sealer.unseal(stored.reason, private=True),
            data=sealer.unseal_tree(stored.data, private=True),
        )
        assert logged.type == type_name(event)
        assert log.EVENT_CLASSES[logged.type] is type(event)
        assert logged.aggregate_id == event.originator_id
        assert logged.version == event.originator_version
        assert logged.at == event.timestamp
        assert (logged.actor, logged.reason, logged.request_id) == (
            event.actor,
            event.reason,
            event.request_id,
        )
        expected = {
            f.name: getattr(event, f.name)
            for f in dataclass_fields(event)
            if f.name not in envelope
        }
        assert logged.data == expected
    positions = [e.position for e in decoded]
    assert positions == sorted(set(positions)), "increasing, gaps allowed"


def test_log_read_filters_by_type(capturing: CapturingLedger) -> None:
    votes = log.read(capturing.recorder, types=["Vote.Cast", "Vote.Changed"])
    assert [e.type for e in votes] == ["Vote.Cast", "Vote.Changed", "Vote.Cast"]
    with pytest.raises(ValueError, match="unknown event type"):
        log.read(capturing.recorder, types=["Vote.Deleted"])


def test_a_context_is_stamped_on_the_event(ledger: Ledger) -> None:
    ledger.register_tool(
        Context(actor="editor:xyz", request_id="corr-42"), "alpha", tool_fields()
    )
    (event,) = log.read(ledger.recorder)
    assert (event.actor, event.request_id) == ("editor:xyz", "corr-42")
