"""``ledger erase PERSON --reason …``: erasing a person's data from the box.

The click command runs in-process with ``CliRunner`` against the test's home
on each event store; what it did is read back from the log and the keyring.
A refusal is one line on stderr and exit status 2, with nothing appended and
no key destroyed.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from ledger import demo, log
from ledger.application import Ledger
from ledger.cli import main
from ledger.context import Context
from ledger.personal_data import ERASED
from tests.stores import Store

OS_USER = "night-ops"
ADDRESS = "Reader.One@example.org"
CTX = Context(actor="system", request_id="test")


@pytest.fixture
def runner(event_store: Store) -> CliRunner:
    login = dict.fromkeys(("LOGNAME", "USER", "LNAME", "USERNAME"), OS_USER)
    return CliRunner(env={**event_store.cli_env(), **login})


@pytest.fixture
def demo_ledger(ledger: Ledger) -> Ledger:
    demo.load(ledger)
    return ledger


def _invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def _log(event_store: Store) -> list[log.LoggedEvent]:
    return log.read(event_store.ledger().recorder, after=0, limit=10_000)


def _enrolled_name(event_store: Store, handle: str) -> str:
    """The reviewer's name as the log holds it, opened with the keys as they are."""
    ledger = event_store.ledger()
    for event in log.read(ledger.recorder, after=0, limit=10_000):
        if event.type == "Reviewer.Enrolled" and event.data["handle"] == handle:
            return str(ledger.sealer.unseal(event.data["name"]))
    raise AssertionError(f"no reviewer {handle}")


def test_erasing_a_reviewer_destroys_their_key_and_records_it(
    runner: CliRunner, event_store: Store, demo_ledger: Ledger
) -> None:
    head = demo_ledger.head_position()
    assert _enrolled_name(event_store, "skeptic") == "The Skeptic"
    result = _invoke(
        runner, "erase", "reviewer:skeptic", "--reason", "asked to be forgotten"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "erased reviewer:skeptic: Erasure.Recorded version 1 at position "
        f"{head + 1} (id "
    )
    assert result.stdout.endswith(f", by operator:{OS_USER})\n")
    assert result.stdout.count("\n") == 1
    recorded = _log(event_store)[-1]
    assert recorded.position == head + 1
    assert recorded.type == "Erasure.Recorded"
    assert recorded.data == {"person": "reviewer:skeptic"}
    assert (recorded.actor, recorded.reason) == (
        f"operator:{OS_USER}",
        "asked to be forgotten",
    )
    assert _enrolled_name(event_store, "skeptic") == ERASED
    assert _enrolled_name(event_store, "builder") == "The Builder"


def test_a_subscriber_is_erased_by_the_address_they_gave(
    runner: CliRunner, event_store: Store, ledger: Ledger
) -> None:
    subscribed = ledger.subscribe(CTX, ADDRESS)
    person = f"subscriber:{subscribed.subscription_id}"
    result = _invoke(
        runner, "erase", "reader.one@EXAMPLE.org", "--reason", "asked", "--json"
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["person"] == person
    assert answer["actor"] == f"operator:{OS_USER}"
    # the erased address is mailed no more: the subscription ends too
    assert [e["type"] for e in answer["events"]] == [
        "Erasure.Recorded",
        "Subscription.Unsubscribed",
    ]
    assert answer["events"][-1]["position"] == ledger.head_position()
    assert answer["events"][-1]["id"] == str(subscribed.subscription_id)
    assert ADDRESS.lower() not in result.output.lower(), "the address is not echoed"
    erased = event_store.ledger().subscription(subscribed.subscription_id)
    assert erased["address"] == ERASED


def _erased_before(runner: CliRunner) -> None:
    assert _invoke(runner, "erase", "reviewer:skeptic", "--reason", "x").exit_code == 0


REFUSALS: list[tuple[str, list[str], str, Callable[[CliRunner], None] | None]] = [
    ("no reason", ["reviewer:skeptic"], "needs a reason", None),
    ("blank reason", ["reviewer:skeptic", "--reason", "  "], "needs a reason", None),
    (
        "not a person",
        ["skeptic", "--reason", "asked"],
        "names no person: give an email address, reviewer:HANDLE or subscriber:ID",
        None,
    ),
    (
        "unknown kind",
        ["voter:skeptic", "--reason", "asked"],
        "names no person",
        None,
    ),
    ("bad address", ["nobody@", "--reason", "asked"], "not an email address", None),
    (
        "unknown reviewer",
        ["reviewer:nobody", "--reason", "asked"],
        "no personal data of reviewer:nobody is held",
        None,
    ),
    (
        "unknown subscriber",
        ["someone@example.org", "--reason", "asked"],
        "no personal data of subscriber:",
        None,
    ),
    (
        "erased already",
        ["reviewer:skeptic", "--reason", "again"],
        "reviewer:skeptic's data is erased already",
        _erased_before,
    ),
]


@pytest.mark.usefixtures("demo_ledger")
@pytest.mark.parametrize(
    ("args", "said", "before"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSALS],
)
def test_a_refusal_is_one_line_exit_2_and_changes_nothing(
    runner: CliRunner,
    event_store: Store,
    args: list[str],
    said: str,
    before: Callable[[CliRunner], None] | None,
) -> None:
    if before is not None:
        before(runner)
    stored = event_store.stored_rows()
    result = _invoke(runner, "erase", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert said in result.stderr
    assert event_store.stored_rows() == stored, "nothing is appended"
    if before is None:
        assert _enrolled_name(event_store, "skeptic") == "The Skeptic"


def test_an_interrupted_erasure_is_recorded_by_running_it_again(
    runner: CliRunner, event_store: Store, demo_ledger: Ledger
) -> None:
    # The key destroyed, then a crash before the event was appended.
    assert demo_ledger.keyring.destroy("reviewer:skeptic") == "destroyed"
    head = demo_ledger.head_position()
    result = _invoke(runner, "erase", "reviewer:skeptic", "--reason", "asked")
    assert result.exit_code == 0, result.output
    erasures = [e for e in _log(event_store) if e.type == "Erasure.Recorded"]
    assert [e.position for e in erasures] == [head + 1]
    again = _invoke(runner, "erase", "reviewer:skeptic", "--reason", "asked")
    assert again.exit_code == 2


def test_help_says_what_a_person_is(runner: CliRunner) -> None:
    result = _invoke(runner, "erase", "--help")
    assert result.exit_code == 0
    assert "reviewer:HANDLE" in result.output
    assert "subscriber:ID" in result.output
    assert "--reason" in result.output
