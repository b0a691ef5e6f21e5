"""Odd stored events project faithfully, the same live and on rebuild.

States of an older class version (upcast on read), timestamps not in
msgspec's usual form (whole seconds, another UTC offset) and text that needs
escaping in JSON all reach the read models as the current event classes see
them.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from ledger.application import Ledger
from ledger.domainmodel import Review, Reviewer, Tool
from ledger.personal_data import is_sealed
from projections import Projector, ReadModel
from projections.rebuild import build

from .helpers import CTX, FIELDS, dump

TRICKY = 'He said "ship it"\n\tback\\slash \u2014 caf\u00e9 \U0001f680 \u2028 \x01 end'


def _store(ledger: Ledger, aggregate: object, edit=None) -> None:  # type: ignore[no-untyped-def]
    stored = [ledger.mapper.to_stored_event(e) for e in aggregate.collect_events()]  # type: ignore[attr-defined]
    if edit is not None:
        stored = [edit(event) for event in stored]
    ledger.recorder.insert_events(stored)


def _restate(event, change):  # type: ignore[no-untyped-def]
    state = msgspec.json.decode(event.state)
    change(state)
    return type(event)(
        originator_id=event.originator_id,
        originator_version=event.originator_version,
        topic=event.topic,
        state=msgspec.json.encode(state),
    )


def _log(ledger: Ledger) -> None:
    tool = Tool.register(CTX, "odd", {**FIELDS, "description": TRICKY})
    _store(ledger, tool)
    reviewer = Reviewer.enroll(CTX, "old", "Old Timer", "skeptic")

    def whole_second(event):  # type: ignore[no-untyped-def]
        return _restate(event, lambda s: s.update(timestamp="2025-01-01T00:00:00Z"))

    _store(ledger, reviewer, whole_second)
    review = Review.submit(CTX, tool, reviewer, "ship", TRICKY)

    def version_one(event):  # type: ignore[no-untyped-def]
        def to_v1(state):  # type: ignore[no-untyped-def]
            state.pop("class_version")
            state["ship"] = state.pop("verdict") == "ship"

        return _restate(event, to_v1)

    _store(ledger, review, version_one)
    tool.edit(CTX, {"tagline": 'Odd "one" \\ out'}, reason=TRICKY)

    def offset(event):  # type: ignore[no-untyped-def]
        return _restate(
            event, lambda s: s.update(timestamp="2025-01-01T02:30:00.250000+02:00")
        )

    _store(ledger, tool, offset)
    ledger.cast_vote(CTX, "someone", "odd", "skip")


def test_odd_events_project_the_same_live_and_on_rebuild(
    ledger: Ledger, live_path: Path
) -> None:
    _log(ledger)
    projector = Projector(ledger, live_path, batch_size=2)
    projector.catch_up()
    projector.close()
    rebuilt = live_path.with_name("rebuilt.sqlite")
    build(ledger, rebuilt, bulk=True)  # SQL reads the odd states too
    assert dump(live_path) == dump(rebuilt)
    folded = live_path.with_name("folded.sqlite")
    build(ledger, folded, bulk=False)
    assert dump(live_path) == dump(folded)
    stored = ReadModel(rebuilt)
    try:
        kept = {item.type: item for item in stored.events(limit=100).items}
        assert is_sealed(kept["Review.Submitted"].data["rationale"])
    finally:
        stored.close()
    model = ReadModel(rebuilt, sealer=ledger.sealer)
    try:
        items = {item.type: item for item in model.events(limit=100).items}
        submitted = items["Review.Submitted"]
        assert submitted.data["verdict"] == "ship"
        assert "ship" not in submitted.data
        assert submitted.data["rationale"] == TRICKY
        assert items["Reviewer.Enrolled"].at.isoformat() == "2025-01-01T00:00:00+00:00"
        edited = items["Tool.Edited"]
        assert edited.at.isoformat() == "2025-01-01T00:30:00.250000+00:00"
        assert edited.reason == TRICKY
        card = model.tool("odd")
        assert card is not None
        assert card.description == TRICKY
        assert (card.panel.ship, card.community.skip) == (1, 1)
    finally:
        model.close()
