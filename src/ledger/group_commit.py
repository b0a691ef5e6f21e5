"""Group commit of votes: many PUT votes, one durable transaction.

A vote is a one-event command, so alone it pays a whole SQLite transaction
and a flush to disk for a few hundred bytes. When votes queue up in the
writer thread of the API, :func:`cast_together` decides each of them exactly
as the ledger's own command does (:meth:`Ledger.decide_vote`) and appends the
accepted ones with one conditional append: on the condition that every tool
and comparison they were checked against is still at the version seen.

A batch only ever appends what the single commands, run in the same order,
would have appended, in that order, and each vote keeps the single command's
outcome:

- a vote the ledger refuses appends nothing, so its error is its outcome at
  once, wherever it stands;
- a vote by a voter who already has a vote on the same subject in the batch
  depends on that one being appended: the batch gathered so far is appended
  first, then the vote is decided;
- if a batch cannot be appended as decided (another writer cast the same
  vote or retired a tool meanwhile), nothing of it is appended and each of
  its votes runs alone, through the ledger's own command, in order;
- if the store fails (its lock held past the timeout, a full disk, a server
  out of reach), the votes not yet appended fail with that error, at once,
  rather than each waiting on the store in turn.

Only stores that honour conditional appends get batches; on others every
vote simply runs alone.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.application import Ledger, Receipt, VoteCommand, VoteDecision
from ledger.conditional_appends import ConditionalAppends, DependencyChanged
from ledger.domainmodel import Vote
from ledger.errors import LedgerError

__all__ = ["VoteCommand", "cast_together"]

Outcome = Receipt | BaseException


def cast_together(
    ledger: Ledger, commands: list[VoteCommand]
) -> list[Receipt | BaseException]:
    """Casts ``commands`` in order, with as few appends as their outcomes allow.

    Returns:
        Per command, in order: its receipt, or the error the ledger raised.
    """
    if not isinstance(ledger.recorder, ConditionalAppends):
        return [_alone(ledger, command) for command in commands]
    batch = _Batch(ledger, commands)
    for index, command in enumerate(commands):
        vote_id = Vote.id_for(command.subject(), ledger.voter_key(command.voter))
        if vote_id in batch.decided:
            batch.flush()
        if batch.failed is not None:
            for rest in range(index, len(commands)):
                batch.outcomes[rest] = batch.failed
            break
        try:
            batch.decided[vote_id] = (index, ledger.decide_vote(command))
        except LedgerError as refusal:
            batch.outcomes[index] = refusal
        except Exception as error:  # the store failed; the rest would wait on it
            batch.outcomes[index] = batch.failed = error
    batch.flush()
    return [batch.outcomes[index] for index in range(len(commands))]


class _Batch:
    """The votes decided and not yet appended, and every command's outcome."""

    def __init__(self, ledger: Ledger, commands: list[VoteCommand]) -> None:
        self.ledger = ledger
        self.commands = commands
        self.decided: dict[UUID, tuple[int, VoteDecision]] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.failed: Exception | None = None
        """What failed in the store, if anything did: every vote not yet
        decided or appended fails with it, without waiting on the store again."""

    def flush(self) -> None:
        """Appends the votes decided so far, or runs each alone if refused."""
        pending = list(self.decided.values())
        self.decided.clear()
        if not pending:
            return
        try:
            receipts = self.ledger.append_votes([decision for _, decision in pending])
        except (IntegrityError, DependencyChanged):
            for index, _ in pending:
                self.outcomes[index] = _alone(self.ledger, self.commands[index])
        except Exception as error:  # e.g. the store is unreachable: none landed
            self.failed = error
            for index, _ in pending:
                self.outcomes[index] = error
        else:
            for (index, _), receipt in zip(pending, receipts, strict=True):
                self.outcomes[index] = receipt


def _alone(ledger: Ledger, command: VoteCommand) -> Outcome:
    try:
        return ledger.cast(command)
    except Exception as error:
        return error
