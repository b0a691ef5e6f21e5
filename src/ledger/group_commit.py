"""Group commit of votes: many PUT votes, one durable transaction.

A vote is a one-event command, so alone it pays a whole SQLite transaction
and a flush to disk for a few hundred bytes. When votes queue up in the
writer thread of the API, :func:`cast_together` decides each of them as the ledger
would and appends all their events with one ``Ledger.save``, which
eventsourcing records atomically, on the condition that every tool and
comparison they were checked against is still at the version seen (the
ledger's conditional append). Per-vote outcomes stay exactly the ledger's:

- anything but a plain accepted vote (a refusal, an unchanged vote, a vote
  after another one of the same voter on the same subject in the batch) is
  left to the ledger's own command, run alone after the batch;
- if the batch cannot be appended as decided (another writer cast the same
  vote or changed a tool meanwhile), nothing of it is appended and every
  vote of it runs alone through the ledger's own command.

So a batch only ever appends what the single commands would have appended.
Only stores that honour conditional appends (the embedded SQLite store) get
batches; on others every vote simply runs alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger import errors
from ledger.application import Ledger, Receipt
from ledger.context import Context
from ledger.domainmodel import (
    Comparison,
    Tool,
    Vote,
    comparison_subject,
    tool_subject,
)
from ledger.rules import VERDICTS
from ledger.store import ConditionalAppends, DependencyChanged


@dataclass(frozen=True)
class VoteCommand:
    """One cast vote: on a tool (``tool``) or in a head-to-head (``a``, ``b``).

    Attributes:
        ctx: The request's context; the ledger stamps the voter's hash as actor.
        voter: The voter's identity (a token id), which the ledger hashes.
        choice: ``ship``/``skip`` for a tool, one of the two slugs for a pair.
    """

    ctx: Context
    voter: str
    choice: str
    tool: str | None = None
    a: str = ""
    b: str = ""

    def run_alone(self, ledger: Ledger) -> Receipt:
        """The ledger's own command for this vote."""
        if self.tool is not None:
            return ledger.cast_vote(self.ctx, self.voter, self.tool, self.choice)
        return ledger.cast_comparison_vote(
            self.ctx, self.voter, self.a, self.b, self.choice
        )

    def subject(self) -> str:
        """The vote's subject as the ledger names it."""
        if self.tool is not None:
            return tool_subject(self.tool)
        return comparison_subject(self.a, self.b)


class _Alone(Exception):
    """This vote is not a plain first-or-changed vote; the ledger decides it."""


def _load(ledger: Ledger, aggregate_id: UUID, *, copy: bool = True) -> Any:
    try:
        return ledger.repository.get(aggregate_id, deepcopy_from_cache=copy)
    except AggregateNotFoundError:
        return None


class _Checked(dict[UUID, Any]):
    """Tools and comparisons, read once per batch and shared (never changed)."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__()
        self.ledger = ledger

    def __missing__(self, aggregate_id: UUID) -> Any:
        found = self[aggregate_id] = _load(self.ledger, aggregate_id, copy=False)
        return found


def _decide(
    ledger: Ledger, command: VoteCommand, checked: _Checked
) -> tuple[Vote, dict[UUID, int]]:
    """The vote aggregate with its new event, and the versions it depends on."""
    if command.tool is not None:
        tool = checked[Tool.id_for(command.tool)]
        if tool is None or tool.retired:
            raise _Alone
        allowed: tuple[str, ...] = VERDICTS
        depends = {tool.id: tool.version}
    else:
        comparison = checked[Comparison.id_for(command.a, command.b)]
        if comparison is None or comparison.retired:
            raise _Alone
        tools = [checked[Tool.id_for(slug)] for slug in (comparison.a, comparison.b)]
        if any(tool is None or tool.retired for tool in tools):
            raise _Alone
        allowed = (comparison.a, comparison.b)
        depends = {comparison.id: comparison.version}
        depends.update((tool.id, tool.version) for tool in tools)
    if command.choice not in allowed:
        raise _Alone
    key = ledger.voter_key(command.voter)
    ctx = Context(actor=f"voter:{key}", request_id=command.ctx.request_id)
    subject = command.subject()
    vote = _load(ledger, Vote.id_for(subject, key))
    if vote is None:
        return Vote.cast(ctx, subject, key, command.choice, allowed), depends
    if vote.choice == command.choice:
        raise _Alone
    vote.change(ctx, command.choice, allowed)
    return vote, depends


def cast_together(
    ledger: Ledger, commands: list[VoteCommand]
) -> list[Receipt | BaseException]:
    """Casts ``commands`` with as few appends as their outcomes allow.

    Returns:
        Per command, in order: its receipt, or the error the ledger raised.
    """
    outcomes: dict[int, Receipt | BaseException] = {}
    alone: list[int] = []
    batched: list[tuple[int, Vote]] = []
    depends: dict[UUID, int] = {}
    taken: set[UUID] = set()
    conditional = isinstance(ledger.recorder, ConditionalAppends)
    checked = _Checked(ledger)
    for index, command in enumerate(commands):
        vote_id = Vote.id_for(command.subject(), ledger.voter_key(command.voter))
        if not conditional or vote_id in taken:
            alone.append(index)
            continue
        taken.add(vote_id)
        try:
            vote, needs = _decide(ledger, command, checked)
        except (_Alone, errors.LedgerError):
            alone.append(index)
            continue
        batched.append((index, vote))
        depends.update(needs)
    if batched:
        try:
            recordings = ledger.save(
                *(vote for _, vote in batched), unchanged=list(depends.items())
            )
        except (IntegrityError, DependencyChanged):
            alone.extend(index for index, _ in batched)
        else:
            positions = {
                recording.domain_event.originator_id: recording.notification.id
                for recording in recordings
            }
            for index, vote in batched:
                outcomes[index] = Receipt(vote.id, vote.version, positions[vote.id])
    for index in sorted(alone):
        try:
            outcomes[index] = commands[index].run_alone(ledger)
        except Exception as error:
            outcomes[index] = error
    return [outcomes[index] for index in range(len(commands))]
