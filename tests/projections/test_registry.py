"""The registry: every event class the ledger can append is folded, in order."""

from __future__ import annotations

from eventsourcing.utils import get_topic

from ledger.domainmodel import Review, Tool, Vote
from ledger.log import EVENT_CLASSES
from projections import registry
from projections.engine import Dispatch
from projections.readmodel_parts import History, Table
from projections.readmodels import (
    audit,
    cards,
    head_to_heads,
    panel_reviews,
    provenance,
    vote_moves,
)


def test_every_event_class_the_ledger_can_append_has_a_handler() -> None:
    assert registry.missing_handlers() == []
    named = {cls for model in registry.READ_MODELS for cls in model.handlers}
    assert set(EVENT_CLASSES.values()) <= named | registry.IGNORED


def test_a_read_model_left_out_leaves_its_event_classes_unhandled() -> None:
    without_cards = [m for m in registry.READ_MODELS if m is not cards.READ_MODEL]
    missing = registry.missing_handlers(without_cards)
    assert Tool.Registered in missing
    assert Tool.Edited in missing
    # Classes another read model names are still handled.
    assert Review.Submitted not in missing
    assert Vote.Cast not in missing
    # Listing a class as ignored is a deliberate way to leave it unhandled.
    ignored = frozenset({Tool.Registered, Tool.Edited, Tool.Retired, Tool.Reinstated})
    assert registry.missing_handlers(without_cards, ignored=ignored) == []


def test_the_audit_alone_does_not_count_as_handling_an_event_class() -> None:
    assert registry.missing_handlers([audit.READ_MODEL]) == list(EVENT_CLASSES.values())


def test_handlers_run_in_registry_order_completing_read_models_first() -> None:
    dispatch = registry.dispatch()
    order = [m.name for m in registry.READ_MODELS]
    assert order.index("vote_moves") < order.index("cards")
    assert order.index("vote_moves") < order.index("head_to_heads")
    assert order.index("panel_reviews") < order.index("cards")
    assert dispatch[get_topic(Vote.Changed)] == (
        vote_moves.changed,
        cards.voted,
        head_to_heads.picked,
        provenance.voted,
        audit.recorded,
    )
    assert dispatch[get_topic(Review.Withdrawn)] == (
        panel_reviews.withdrawn,
        cards.reviewed,
        audit.recorded,
    )


def test_a_topic_no_read_model_folds_gets_no_handlers() -> None:
    dispatch = Dispatch([cards.READ_MODEL])
    assert dispatch[get_topic(Vote.Cast)] == (cards.voted,)
    assert Dispatch([panel_reviews.READ_MODEL])[get_topic(Tool.Edited)] == ()


def test_every_stored_table_has_one_owner_and_a_key() -> None:
    stored = registry.stored_tables()
    names = [table.name for table in stored]
    assert len(names) == len(set(names)), names
    for table in stored:
        assert isinstance(table, Table | History)
        assert table.key, table.name
        assert f"CREATE TABLE {table.name} " in table.ddl
