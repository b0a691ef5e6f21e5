"""The query layer: pages of the audit index, comparisons, reviews and the feed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.context import Context
from projections import Projector, ReadModel

from .helpers import CTX, seed


@pytest.fixture
def model(ledger: Ledger, live_path: Path) -> Iterator[ReadModel]:
    seed(ledger)
    ada = Context(actor="reviewer:ada", request_id="r-ada")
    ledger.put_review(ada, "alpha", "ada", verdict="ship", rationale="Fast.")
    ledger.put_review(ada, "beta", "ada", verdict="skip", rationale="Slow.")
    ledger.put_review(
        ada, "alpha", "ada", verdict="skip", rationale="Slower now.", reason="regressed"
    )
    ledger.withdraw_review(ada, "beta", "ada", reason="conflict of interest")
    ledger.put_review(
        ada, "beta", "ada", verdict="ship", rationale="Fixed.", reason="resolved"
    )
    ledger.publish_comparison(CTX, "beta", "alpha", question="Which one?")
    for voter, pick in (("v1", "alpha"), ("v2", "alpha"), ("v3", "beta")):
        ledger.cast_comparison_vote(CTX, voter, "alpha", "beta", pick)
        ledger.cast_vote(CTX, voter, "gamma", "ship")
    projector = Projector(ledger, live_path)
    projector.catch_up()
    projector.close()
    opened = ReadModel(live_path, sealer=ledger.sealer)
    yield opened
    opened.close()


def test_event_pages_chain_through_the_whole_log(
    ledger: Ledger, model: ReadModel
) -> None:
    positions: list[int] = []
    after = 0
    while True:
        page = model.events(after=after, limit=4)
        positions += [item.position for item in page.items]
        if page.next is None:
            break
        assert page.next == page.items[-1].position
        after = page.next
    assert positions == list(range(1, ledger.head_position() + 1))
    first = model.events(limit=1).items[0]
    assert (first.type, first.version, first.actor) == ("Tool.Registered", 1, CTX.actor)
    assert first.data["slug"] == "alpha"
    assert first.request_id == CTX.request_id


def test_events_filter_by_tool_actor_and_type(model: ReadModel) -> None:
    beta = model.events(tool="beta", limit=100).items
    types = [item.type for item in beta]
    assert types[0] == "Tool.Registered"
    assert types.count("Review.Submitted") == 1
    assert "Comparison.Published" in types
    assert types.count("Vote.Cast") == 3  # head-to-head picks concern both tools
    assert all(item.type != "Reviewer.Enrolled" for item in beta)
    by_ada = model.events(actor="reviewer:ada", limit=100).items
    assert len(by_ada) == 5
    assert {item.request_id for item in by_ada} == {"r-ada"}
    revised = model.events(type="Review.Revised", limit=100).items
    assert [item.reason for item in revised] == ["regressed"]
    both = model.events(tool="alpha", type="Review.Revised", limit=100).items
    assert [item.position for item in both] == [revised[0].position]
    page = model.events(tool="alpha", limit=2)
    rest = model.events(tool="alpha", after=page.next or 0, limit=100)
    assert [i.position for i in page.items + rest.items] == [
        i.position for i in model.events(tool="alpha", limit=100).items
    ]
    assert rest.next is None


def test_bad_query_arguments_are_value_errors(model: ReadModel) -> None:
    with pytest.raises(ValueError, match="unknown event type 'Nope'"):
        model.events(type="Nope")
    with pytest.raises(ValueError, match="limit"):
        model.events(limit=0)
    with pytest.raises(ValueError, match="after"):
        model.events(after=-1)
    with pytest.raises(ValueError, match="exactly one"):
        model.card_as_of("alpha")
    assert model.tool("nope") is None
    assert model.history("nope") == []
    assert model.comparison("alpha", "gamma") is None
    assert model.comparison("alpha", "alpha") is None


def test_reviews_count_revisions_and_keep_withdrawals(model: ReadModel) -> None:
    (alpha,) = model.reviews("alpha")
    assert (alpha.reviewer, alpha.lens, alpha.verdict) == ("ada", "builder", "skip")
    assert alpha.revision == 1
    assert alpha.revised_at is not None
    assert alpha.revised_at > alpha.submitted_at
    (beta,) = model.reviews("beta")
    assert (beta.verdict, beta.revision, beta.withdrawn) == ("ship", 1, False)
    card = model.tool("beta")
    assert card is not None
    assert (card.panel.ship, card.panel.total) == (1, 1)


def test_a_comparison_answers_in_the_order_asked(model: ReadModel) -> None:
    forward = model.comparison("alpha", "beta")
    backward = model.comparison("beta", "alpha")
    assert forward is not None
    assert backward is not None
    assert (forward.a.slug, forward.b.slug) == ("alpha", "beta")
    assert (backward.a.slug, backward.b.slug) == ("beta", "alpha")
    assert (forward.head_to_head.a, forward.head_to_head.b) == (2, 1)
    assert (backward.head_to_head.a, backward.head_to_head.b) == (1, 2)
    assert forward.head_to_head.total == backward.head_to_head.total == 3
    assert [(s.reviewer, s.a, s.b) for s in forward.split] == [("ada", "skip", "ship")]
    assert [(s.reviewer, s.a, s.b) for s in backward.split] == [("ada", "ship", "skip")]
    (summary,) = model.comparisons()
    assert (summary.a, summary.b, summary.question) == ("beta", "alpha", "Which one?")


def test_verdict_changes_leave_votes_out_newest_first(model: ReadModel) -> None:
    changes = model.verdict_changes(limit=50)
    assert [item.position for _, item in changes] == sorted(
        (item.position for _, item in changes), reverse=True
    )
    assert all(not item.type.startswith("Vote.") for _, item in changes)
    slug, newest = changes[0]
    assert (slug, newest.type, newest.reason) == (
        "beta",
        "Review.Resubmitted",
        "resolved",
    )
    assert (newest.before.panel.total, newest.after.panel.ship) == (0, 1)
    assert len(model.verdict_changes(limit=2)) == 2


def test_history_holds_every_card_change_with_figures(model: ReadModel) -> None:
    history = model.history("gamma")
    assert [item.type for item in history] == ["Tool.Registered"] + ["Vote.Cast"] * 3
    assert [item.after.community.ship for item in history] == [0, 1, 2, 3]
    assert [item.before.community.ship for item in history[1:]] == [0, 1, 2]
    card = model.tool("gamma")
    assert card is not None
    assert card.position == history[-1].position
    assert card.updated_at == history[-1].at
    assert model.card_as_of("gamma", position=card.position) == card
