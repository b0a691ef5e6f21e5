"""Community votes on a tool and on a head-to-head: cast, changed, retracted."""

from __future__ import annotations

import stat
from pathlib import Path
from uuid import NAMESPACE_DNS, uuid5

import pytest
from eventsourcing.persistence import IntegrityError

from ledger import errors
from ledger.application import Ledger, VoteCommand
from ledger.context import Context
from ledger.domainmodel import Vote
from tests.stores import Store

from .helpers import (
    EDITOR,
    VOTER,
    Given,
    envelope,
    nothing,
    nothing_appended,
    refused,
    register,
    single_new_event,
)

IDENTITY = "carol@example.org"


def test_ids_are_still_uuid5_of_the_natural_key() -> None:
    """Logs already written hold uuid5 ids; a faster derivation must match them."""
    namespace = uuid5(NAMESPACE_DNS, "verdict-ledger.ids")
    key = "0123456789abcdef" * 2
    expected = uuid5(namespace, f"vote/tool:alpha/{key}")
    assert Vote.id_for("tool:alpha", key) == expected


@pytest.fixture
def tools(two_tools: Ledger) -> Ledger:
    """Tools alpha and beta, and their comparison."""
    two_tools.publish_comparison(EDITOR, "alpha", "beta", question="Which?")
    return two_tools


def test_cast_vote_records_only_the_keyed_hash(tools: Ledger) -> None:
    # when carol votes ship on alpha
    receipt = tools.cast_vote(VOTER, IDENTITY, "alpha", "ship")
    # then Vote.Cast names her by a keyed hash, as actor and as voter
    key = tools.voter_key(IDENTITY)
    event = single_new_event(tools, 3, receipt)
    assert len(key) == 32
    assert int(key, 16) >= 0
    assert receipt.id == Vote.id_for("tool:alpha", key)
    assert receipt.version == 1
    assert envelope(event) == {
        "type": "Vote.Cast",
        "actor": f"voter:{key}",
        "reason": "",
        "request_id": "req-vote",
    }
    assert event.data == {"subject": "tool:alpha", "voter": key, "choice": "ship"}
    assert tools.vote(IDENTITY, "tool:alpha") == "ship"


def test_cast_again_changes_the_one_vote(tools: Ledger) -> None:
    # given carol's ship on alpha
    first = tools.cast_vote(VOTER, IDENTITY, "alpha", "ship")
    # when she votes skip
    second = tools.cast_vote(VOTER, IDENTITY, "alpha", "skip")
    # then the same vote gets Vote.Changed
    event = single_new_event(tools, first.position, second)
    assert second.id == first.id
    assert (event.type, second.version, event.data) == (
        "Vote.Changed",
        2,
        {"choice": "skip"},
    )


def test_different_voters_have_different_votes(tools: Ledger) -> None:
    carol = tools.cast_vote(VOTER, IDENTITY, "alpha", "ship")
    dave = tools.cast_vote(VOTER, "dave@example.org", "alpha", "ship")
    other_tool = tools.cast_vote(VOTER, IDENTITY, "beta", "ship")
    assert len({carol.id, dave.id, other_tool.id}) == 3
    assert {carol.version, dave.version, other_tool.version} == {1}


def test_retract_vote(tools: Ledger) -> None:
    refused(tools, errors.VoteNotFound, tools.retract_vote, VOTER, IDENTITY, "alpha")
    cast = tools.cast_vote(VOTER, IDENTITY, "alpha", "ship")
    # when carol retracts her vote
    retracted = tools.retract_vote(
        Context(actor="voter", request_id="req-9"), IDENTITY, "alpha"
    )
    # then Vote.Retracted is recorded under her keyed hash
    event = single_new_event(tools, cast.position, retracted)
    assert envelope(event) == {
        "type": "Vote.Retracted",
        "actor": f"voter:{tools.voter_key(IDENTITY)}",
        "reason": "",
        "request_id": "req-9",
    }
    assert tools.vote(IDENTITY, "tool:alpha") is None
    # and it cannot be retracted twice, but she can vote again
    refused(tools, errors.VoteRetracted, tools.retract_vote, VOTER, IDENTITY, "alpha")
    again = tools.cast_vote(VOTER, IDENTITY, "alpha", "skip")
    event = single_new_event(tools, retracted.position, again)
    assert (event.type, event.data, again.version) == (
        "Vote.Changed",
        {"choice": "skip"},
        3,
    )


def test_comparison_vote_picks_one_of_the_two(tools: Ledger) -> None:
    head = tools.head_position()
    # when carol picks beta in the head-to-head, naming the pair either way round
    receipt = tools.cast_comparison_vote(VOTER, IDENTITY, "beta", "alpha", "beta")
    # then Vote.Cast has the comparison as subject
    event = single_new_event(tools, head, receipt)
    key = tools.voter_key(IDENTITY)
    assert receipt.id == Vote.id_for("comparison:alpha/beta", key)
    assert event.data == {
        "subject": "comparison:alpha/beta",
        "voter": key,
        "choice": "beta",
    }
    # and she can change her pick and retract it
    changed = tools.cast_comparison_vote(VOTER, IDENTITY, "alpha", "beta", "alpha")
    assert single_new_event(tools, receipt.position, changed).type == "Vote.Changed"
    retracted = tools.retract_comparison_vote(VOTER, IDENTITY, "alpha", "beta")
    assert single_new_event(tools, changed.position, retracted).type == "Vote.Retracted"
    assert tools.vote(IDENTITY, "comparison:alpha/beta") is None


def on_tool(choice: str, tool: str = "alpha", voter: str = IDENTITY) -> VoteCommand:
    return VoteCommand(VOTER, voter, choice, tool=tool)


def in_pair(pick: str, a: str = "alpha", b: str = "beta") -> VoteCommand:
    return VoteCommand(VOTER, IDENTITY, pick, a=a, b=b)


def retired_tool(slug: str) -> Given:
    return lambda ledger: ledger.retire_tool(EDITOR, slug, reason="discontinued")


def register_gamma(ledger: Ledger) -> None:
    register(ledger, "gamma")


def dave_voted_then_alpha_retired(ledger: Ledger) -> None:
    ledger.cast_vote(VOTER, "dave", "alpha", "ship")
    retired_tool("alpha")(ledger)


@pytest.mark.parametrize(
    ("given", "command", "error"),
    [
        *[
            (nothing, on_tool(choice), errors.InvalidChoice)
            for choice in ["yes", "SHIP", "", "alpha"]
        ],
        (nothing, on_tool("ship", tool="gamma"), errors.ToolNotFound),
        (retired_tool("alpha"), on_tool("ship"), errors.ToolRetired),
        (
            dave_voted_then_alpha_retired,
            on_tool("skip", voter="dave"),
            errors.ToolRetired,
        ),
        (
            lambda ledger: ledger.cast(on_tool("skip")),
            on_tool("skip"),
            errors.NothingChanged,
        ),
        (nothing, in_pair("ship"), errors.InvalidChoice),
        (register_gamma, in_pair("alpha", b="gamma"), errors.ComparisonNotFound),
        (retired_tool("beta"), in_pair("alpha"), errors.ToolRetired),
        (
            lambda ledger: ledger.retire_comparison(
                EDITOR, "alpha", "beta", reason="x"
            ),
            in_pair("alpha"),
            errors.ComparisonRetired,
        ),
    ],
    ids=[
        *["yes", "capitals", "empty", "a-slug"],
        "unknown-tool",
        "retired-tool",
        "change-on-retired-tool",
        "unchanged",
        "pick-outside-the-pair",
        "unpublished-pair",
        "retired-tool-in-pair",
        "retired-pair",
    ],
)
def test_a_vote_is_refused(
    tools: Ledger, given: Given, command: VoteCommand, error: type
) -> None:
    given(tools)
    refused(tools, error, tools.cast, command)


def test_a_reinstated_tool_takes_votes_again(tools: Ledger) -> None:
    tools.retire_tool(EDITOR, "alpha", reason="discontinued")
    tools.reinstate_tool(EDITOR, "alpha", reason="back")
    assert tools.cast_vote(VOTER, IDENTITY, "alpha", "ship").version == 1


def test_voter_identities_never_reach_the_stored_log(
    tools: Ledger, event_store: Store
) -> None:
    # given votes cast, changed and retracted by identities that are e-mails
    identities = [IDENTITY, "dave@example.org", "erin-42"]
    for identity in identities:
        tools.cast_vote(VOTER, identity, "alpha", "ship")
        tools.cast_vote(VOTER, identity, "alpha", "skip")
        tools.cast_comparison_vote(VOTER, identity, "alpha", "beta", "beta")
        tools.retract_vote(VOTER, identity, "alpha")
    # then no stored row, in any column, contains an identity
    rows = event_store.stored_rows()
    assert len(rows) == 3 + 4 * len(identities)
    for row in rows:
        stored = b"|".join(
            value if isinstance(value, bytes) else str(value).encode() for value in row
        )
        for identity in identities:
            assert identity.encode() not in stored
        assert b"@" not in stored
    # while the keyed hashes are there
    keys = {tools.voter_key(identity) for identity in identities}
    assert all(any(key.encode() in row[3] for row in rows) for key in keys)


def test_the_voter_secret_is_created_once_with_mode_0600(event_store: Store) -> None:
    # given a home without a secret
    settings = event_store.settings
    assert not settings.secret_path.exists()
    # when a ledger opens there
    first = event_store.ledger()
    try:
        key = first.voter_key(IDENTITY)
    finally:
        first.close()
    # then the secret exists, readable by its owner only
    mode = stat.S_IMODE(settings.secret_path.stat().st_mode)
    assert mode == 0o600
    assert len(settings.secret_path.read_bytes()) >= 32
    # and a second ledger on the same home keys voters the same way
    second = event_store.ledger()
    try:
        assert second.voter_key(IDENTITY) == key
    finally:
        second.close()


def test_another_home_keys_the_same_voter_differently(
    tmp_path: Path, event_store: Store
) -> None:
    keys = []
    for name in ("one", "two"):
        ledger = event_store.ledger(home=tmp_path / name)
        try:
            keys.append(ledger.voter_key(IDENTITY))
        finally:
            ledger.close()
    assert keys[0] != keys[1]


def test_the_event_store_itself_refuses_a_second_first_vote(tools: Ledger) -> None:
    # given two first votes by the same voter on the same subject, made apart
    key = tools.voter_key(IDENTITY)
    ctx = Context(actor=f"voter:{key}", request_id="r")
    first = Vote.cast(ctx, "tool:alpha", key, "ship", ("ship", "skip"))
    second = Vote.cast(ctx, "tool:alpha", key, "skip", ("ship", "skip"))
    assert first.id == second.id
    # when both are saved, the store takes the first and refuses the second
    tools.save(first)
    with nothing_appended(tools), pytest.raises(IntegrityError):
        tools.save(second)
    assert tools.vote(IDENTITY, "tool:alpha") == "ship"


def test_vote_version_follows_the_vote_and_needs_one(tools: Ledger) -> None:
    refused(tools, errors.VoteNotFound, tools.vote_version, IDENTITY, "tool:alpha")
    tools.cast_vote(VOTER, IDENTITY, "alpha", "ship")
    changed = tools.cast_vote(VOTER, IDENTITY, "alpha", "skip")
    assert tools.vote_version(IDENTITY, "tool:alpha") == changed.version == 2
