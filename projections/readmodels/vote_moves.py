"""What each community vote last did: held in memory, never stored.

``Vote.Changed`` and ``Vote.Retracted`` name only their vote: its subject is
in its ``Vote.Cast``, and the choice an event replaces is in the event before
it. So this read model completes every vote event for the read models that
count votes (cards count ship and skip on tools, comparisons count picks in
head-to-heads). It folds first and completes the event with the
:data:`Move` it made (``event.completed``; None for a vote it never saw
cast, which it warns of), and holds each vote's last move for its later
events. A vote it does not hold is worked out from the vote's earlier events
in the log, where they are kept under the log's own primary key, so the
read-model file needs no table of votes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.domainmodel import Vote
from projections.decoding import Event, decode, event_classes
from projections.engine import HeldRows
from projections.readmodel_parts import Held, ReadModel, Rows, unknown
from projections.source import Raw

TOOL = "tool"
PAIR = "comparison"
"""The kinds of subject a vote can be about: a tool, or a head-to-head."""

Subject = tuple[str, Any]
"""A vote's subject, read: ``(TOOL, slug)`` or ``(PAIR, (lo, hi))``."""

Move = tuple[str, Any, str | None, str | None]
"""A vote's subject kind and key, its choice before its latest event, and after.

The kind is :data:`TOOL` or :data:`PAIR` (anything else counts nowhere), the
key the tool's slug or the pair ``(lo, hi)``.
"""


class _Subjects(dict[str, Subject]):
    """Each subject text, read once: ``tool:x`` or ``comparison:lo/hi``."""

    def __missing__(self, text: str) -> Subject:
        kind, _, key = text.partition(":")
        found: Subject = (kind, key)
        if kind == PAIR:
            lo, _, hi = key.partition("/")
            found = (PAIR, (lo, hi))
        elif kind == TOOL:
            found = (TOOL, key)
        self[text] = found
        return found


_subjects = _Subjects()
_moves: dict[Move, Move] = {}
"""One copy of each move, however many votes made it: few subjects, many votes."""


class _Choices(dict[str, Move]):
    """The moves of votes cast on one subject, by choice."""

    def __init__(self, subject: Subject) -> None:
        super().__init__()
        self.subject = subject

    def __missing__(self, choice: str) -> Move:
        found = self[choice] = _move_to(self.subject, None, choice)
        return found


class _Casts(dict[str, _Choices]):
    """By subject text, then choice, the move of a vote cast: looked up, not built."""

    def __missing__(self, text: str) -> _Choices:
        found = self[text] = _Choices(_subjects[text])
        return found


_casts = _Casts()


def _move_to(subject: Subject, before: str | None, after: str | None) -> Move:
    move = (subject[0], subject[1], before, after)
    return _moves.setdefault(move, move)


def fold_earlier(raws: Sequence[Raw]) -> Move | None:
    """A vote's last move, from its events in order; None without its cast."""
    move: Move | None = None
    for raw in raws:
        event: Any = decode(raw)
        if event.event_class is Vote.Cast:
            move = _move_to(_subjects[event.subject], None, event.choice)
        elif move is not None:
            choice = event.choice if event.event_class is Vote.Changed else None
            move = _move_to((move[0], move[1]), move[3], choice)
    return move


VOTES = Held("votes", fold=fold_earlier)

CHANGES = (Vote.Changed, Vote.Retracted)
"""The vote events that name only their vote."""


def cast(rows: Rows, event: Any) -> None:
    move = event.completed = _casts[event.subject][event.choice]
    rows[VOTES].hold(event.aggregate_id, move)


def changed(rows: Rows, event: Any) -> None:
    _change(rows, event, event.choice)


def retracted(rows: Rows, event: Any) -> None:
    _change(rows, event, None)


def _change(rows: Rows, event: Event, choice: str | None) -> None:
    votes: HeldRows = rows[VOTES]
    last = votes.get_before(event.aggregate_id, event.version)
    if last is None:
        unknown(event, "vote")
        return
    move = event.completed = _move_to((last[0], last[1]), last[3], choice)
    votes[event.aggregate_id] = move


def preload(rows: Rows, raws: Sequence[Raw]) -> None:
    """Works out at once every vote the batch changes or retracts but does not hold."""
    votes: HeldRows = rows[VOTES]
    if votes.holds_all:
        return
    below: dict[str, int] = {}
    for _, vote_id, version, topic, _ in raws:
        if event_classes[topic] in CHANGES and vote_id not in votes:
            below.setdefault(vote_id, version)
    if below:
        votes.load(below)


READ_MODEL = ReadModel(
    name="vote_moves",
    tables=(VOTES,),
    handlers={Vote.Cast: cast, Vote.Changed: changed, Vote.Retracted: retracted},
    preload=preload,
)
