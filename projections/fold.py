"""Folding batches of the log into the read models, exactly once.

A batch is decoded, folded in memory against the few rows it touches (read
with one ``SELECT … IN`` per table, not one query per event), and written
back with one ``executemany`` per table, together with the new tracking
position, in one ``BEGIN IMMEDIATE`` transaction. The tracking position is
read again inside that transaction and every event at or below it is
skipped, so several processes projecting into the same file never apply an
event twice, and a crash between commits simply projects the batch again.

Every event becomes one row of ``audit``; every event that concerns a tool
also becomes one row of ``tool_events``, which for an event that changed the
tool's card holds the card's figures before and after it (the verdict
history).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

import msgspec

from ledger.domainmodel import comparison_subject, pair, tool_subject
from ledger.rules import TOOL_FIELDS
from projections import schema
from projections.events import Event, decode, decode_vote, iso_text, plain_votes
from projections.source import LogSource, Raw, chunks
from projections.stats import figure_columns
from projections.store import SQL

log = logging.getLogger(__name__)


COLUMNS = {
    "reviewers": (
        "handle", "id", "name", "lens", "retired", "version",
        "enrolled_position", "position", "updated_at",
    ),
    "reviews": (
        "id", "tool", "reviewer", "verdict", "rationale", "revision",
        "submitted_at", "revised_at", "withdrawn", "version",
        "submitted_position", "position",
    ),
    "comparisons": (
        "lo", "hi", "id", "a", "b", "question", "retired", "version",
        "published_position", "position", "updated_at",
    ),
}  # fmt: skip
"""The columns of the tables written from row dicts."""

Row = dict[str, Any]


class Connection(SQL, Protocol):
    """What folding needs of a connection: ``sqlite3``'s, or APSW's in a rebuild."""

    @property
    def in_transaction(self) -> bool: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


Tally = tuple[str, str, list[int]]
"""A head-to-head tally: the pair and its picks ``[lo, hi, total]``."""
CARD_COLUMNS = (
    "position, tool, kind, tool_version, "
    "before_panel_ship, before_panel_skip, before_community_ship, "
    "before_community_skip, panel_ship, panel_skip, community_ship, community_skip"
)

# The three shapes of ``tool_events`` row, each bound whole and never padded
# with None: binding a None costs sqlite3 an adapter lookup, several times
# dearer than a number.
INSERT_CARD = f"INSERT INTO tool_events ({CARD_COLUMNS}) VALUES ({','.join('?' * 12)})"
"""An event that changed a card: position, tool, kind, version, 8 counts."""
INSERT_VOTE = (
    f"INSERT INTO tool_events ({CARD_COLUMNS}) "
    "VALUES (?1, ?2, 'vote', ?3, ?4, ?5, ?6, ?7, ?4, ?5, ?8, ?9)"
)
"""A vote on a tool: position, tool, version, the panel counts it left as
they were, and the community counts before and after."""
INSERT_PAIR = "INSERT INTO tool_events (position, tool, other_tool) VALUES (?,?,?)"
"""An event that concerns two tools and no card: position and both tools."""


_encode_json = msgspec.json.Encoder().encode


@lru_cache(maxsize=65536)
def _figures(ship: int, skip: int) -> tuple[Any, ...]:
    return figure_columns(ship, skip)


class GapError(RuntimeError):
    """The file's tracking position is behind the batch's start.

    Happens when the file was swapped for a rebuilt one that reflects less
    than the batch assumed; the caller re-reads from the tracked position.
    """


def project(
    conn: Connection,
    after: int,
    raws: Sequence[Raw],
    batch: Batch | None = None,
    *,
    source: LogSource | None = None,
) -> int:
    """Applies ``raws`` (read after position ``after``) exactly once.

    Args:
        conn: A read-model connection in autocommit mode.
        after: The position the batch was read after; the file must reflect
            at least that much, or events between would be skipped.
        raws: Consecutive events of the log, oldest first.
        batch: A fold that keeps its rows across transactions (a rebuild's
            :class:`Replay`); by default each call folds afresh from the file.
        source: The log ``raws`` were read from, where a fresh fold finds the
            earlier events of the votes the batch changes.

    Returns:
        The position the file reflects after this transaction.

    Raises:
        GapError: If the file reflects less than ``after``.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        tracked = schema.tracked_position(conn)
        if tracked < after:
            msg = f"read model at {tracked}, batch starts after {after}"
            raise GapError(msg)
        fresh = raws
        if raws and raws[0][0] <= tracked:  # a replayed or overlapping batch
            fresh = [raw for raw in raws if raw[0] > tracked]
        if fresh:
            (batch or Batch(conn, source)).apply_raws(fresh)
            tracked = fresh[-1][0]
            conn.execute(
                "UPDATE tracking SET position = ? WHERE name = ?",
                (tracked, schema.TRACKING),
            )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return tracked


def _marks(count: int) -> str:
    return ",".join("?" * count)


class Batch:
    """The in-memory fold of one batch, written back in one go.

    The fold reads the current rows of whatever the batch touches, applies
    each event to those rows in log order, and writes the touched rows once,
    so a vote changed ten times in a batch costs one row write.
    """

    audits = True
    """Whether the fold writes the ``audit`` rows (a bulk rebuild loads them)."""

    def __init__(self, conn: Connection, source: LogSource | None = None) -> None:
        self.conn = conn
        self.source = source
        """The log, for what the file does not hold: the votes named again."""
        self.tools: dict[str, Row] = {}
        self.tool_slugs: dict[str, str] = {}
        self.subjects: dict[str, Row | Tally] = {}
        """What a vote subject counts on, once looked up: a card or a tally."""
        self.reviews: dict[str, Row] = {}
        self.reviewers: dict[str, Row] = {}
        self.comparisons: dict[str, Row] = {}
        self.head_to_head: dict[tuple[str, str], list[int]] = {}
        self.votes: dict[str, tuple[str, str | None]] = {}
        self.states: dict[tuple[str, str | None], tuple[str, str | None]] = {}
        """One copy of each (subject, choice), however many votes are in it."""
        self.changing: Container[str] | None = None
        """Only these votes can be named again; by default, any vote can."""
        self.dirty_tools: set[str] = set()
        self.dirty_reviews: set[str] = set()
        self.dirty_reviewers: set[str] = set()
        self.dirty_comparisons: set[str] = set()
        self.dirty_head_to_head: set[tuple[str, str]] = set()
        self.split_keys: set[tuple[str, str]] = set()
        self.new_pairs: set[tuple[str, str]] = set()
        self.audit: list[tuple[Any, ...]] = []
        self.card_rows: list[tuple[Any, ...]] = []
        self.vote_rows: list[tuple[Any, ...]] = []
        self.pair_rows: list[tuple[str | int, ...]] = []
        self.tool_versions: list[tuple[Any, ...]] = []
        self.handlers: dict[str, Callable[[Event], None]] = {
            "Tool.Registered": self.tool_registered,
            "Tool.Edited": self.tool_changed,
            "Tool.Retired": self.tool_changed,
            "Tool.Reinstated": self.tool_changed,
            "Reviewer.Enrolled": self.reviewer_enrolled,
            "Reviewer.ProfileEdited": self.reviewer_changed,
            "Reviewer.Retired": self.reviewer_changed,
            "Review.Submitted": self.review_submitted,
            "Review.Revised": self.review_changed,
            "Review.Withdrawn": self.review_changed,
            "Review.Resubmitted": self.review_changed,
            "Comparison.Published": self.comparison_published,
            "Comparison.Edited": self.comparison_changed,
            "Comparison.Retired": self.comparison_changed,
            "Vote.Cast": self.vote,
            "Vote.Changed": self.vote,
            "Vote.Retracted": self.vote,
        }

    def apply_raws(self, raws: Sequence[Raw]) -> None:
        """Decodes and folds ``raws``, then writes every touched row."""
        self.apply([decode(raw) for raw in raws])

    def apply(self, events: Sequence[Event]) -> None:
        """Folds ``events`` and writes every touched row."""
        self.load(events)
        handlers = self.handlers
        audit = self.audit.append
        audits = self.audits
        for event in events:
            handler = handlers.get(event.type)
            if handler is not None:
                handler(event)
            if audits:
                audit(audit_row(event))
        self.write()

    # Loading what the batch touches.

    def load(self, events: Sequence[Event]) -> None:
        """Reads the current rows of every aggregate the batch refers to."""
        tool_ids: set[str] = set()
        slugs: set[str] = set()
        review_ids: set[str] = set()
        reviewer_ids: set[str] = set()
        comparison_ids: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        vote_ids: dict[str, int] = {}  # each vote named again: its first version here
        subjects: set[str] = set()
        for event in events:
            kind = event.type
            if kind == "Vote.Cast":
                subjects.add(event.data["subject"])
            elif kind.startswith("Vote."):
                vote_ids.setdefault(event.aggregate_id, event.version)
            elif kind == "Review.Submitted":
                slugs.add(event.data["tool"])
            elif kind.startswith("Review."):
                review_ids.add(event.aggregate_id)
            elif kind.startswith("Tool.") and kind != "Tool.Registered":
                tool_ids.add(event.aggregate_id)
            elif kind.startswith("Reviewer.") and kind != "Reviewer.Enrolled":
                reviewer_ids.add(event.aggregate_id)
            elif kind.startswith("Comparison.") and kind != "Comparison.Published":
                comparison_ids.add(event.aggregate_id)
        self.load_votes(vote_ids)
        votes = self.votes
        for vote_id in vote_ids:
            vote = votes.get(vote_id)
            if vote is not None:
                subjects.add(vote[0])
        for subject in subjects:
            _subject_needs(subject, slugs, pairs)
        for row in self._rows("SELECT * FROM reviews WHERE id IN ({})", review_ids):
            self.reviews[row["id"]] = row
            slugs.add(row["tool"])
        for query, keys in (
            ("SELECT * FROM tools WHERE id IN ({})", tool_ids),
            ("SELECT * FROM tools WHERE slug IN ({})", slugs),
        ):
            for row in self._rows(query, keys):
                self.tools[row["slug"]] = row
                self.tool_slugs[row["id"]] = row["slug"]
        for row in self._rows("SELECT * FROM reviewers WHERE id IN ({})", reviewer_ids):
            self.reviewers[row["id"]] = row
        for row in self._rows(
            "SELECT * FROM comparisons WHERE id IN ({})", comparison_ids
        ):
            self.comparisons[row["id"]] = row
        for chunk in chunks(sorted(pairs)):
            for lo, hi, lo_picks, hi_picks, total in self.conn.execute(
                "SELECT lo, hi, lo_picks, hi_picks, total FROM head_to_head "
                f"WHERE (lo, hi) IN (VALUES {','.join(['(?,?)'] * len(chunk))})",
                [slug for key in chunk for slug in key],
            ):
                self.head_to_head[lo, hi] = [lo_picks, hi_picks, total]

    def load_votes(self, vote_ids: Mapping[str, int]) -> None:
        """Folds the earlier events of the votes named again but not held.

        A vote's subject is in its Vote.Cast and its choice in its latest
        event; the log has both, under the vote's id, before the version the
        batch first names (``vote_ids`` maps each vote to that version).
        """
        votes = self.votes
        wanted = {key: version for key, version in vote_ids.items() if key not in votes}
        if not wanted:
            return
        if self.source is None:
            msg = "folding a vote's change needs the log the vote was cast in"
            raise ValueError(msg)
        states = self.states
        for raw in self.source.earlier_events(wanted):
            event = decode(raw)
            vote_id = event.aggregate_id
            if event.type == "Vote.Cast":
                subject = event.data["subject"]
            elif vote_id in votes:
                subject = votes[vote_id][0]
            else:
                continue  # no Vote.Cast: folding it will warn
            state = (
                subject,
                event.data.get("choice") if event.type != "Vote.Retracted" else None,
            )
            votes[vote_id] = states.setdefault(state, state)

    def _select(self, query: str, keys: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
        values = list(keys)
        for chunk in chunks(values):
            yield from self.conn.execute(query.format(_marks(len(chunk))), chunk)

    def _rows(self, query: str, keys: Iterable[Any]) -> Iterable[Row]:
        values = list(keys)
        for chunk in chunks(values):
            cursor = self.conn.execute(query.format(_marks(len(chunk))), chunk)
            names = [column[0] for column in cursor.description]
            for found in cursor.fetchall():
                yield dict(zip(names, found, strict=True))

    # Tools.

    def tool_registered(self, event: Event) -> None:
        data = event.data
        slug = data["slug"]
        card: Row = {
            "slug": slug,
            "id": event.aggregate_id,
            **{name: data.get(name, "") for name in TOOL_FIELDS},
            "panel_ship": 0,
            "panel_skip": 0,
            "community_ship": 0,
            "community_skip": 0,
            "version": event.version,
            "position": event.position,
            "updated_at": event.at,
            "retired": 0,
            "registered_position": event.position,
        }
        self.tools[slug] = card
        self.subjects.pop(tool_subject(slug), None)
        self.tool_slugs[event.aggregate_id] = slug
        self._tool_version(card, event)
        self._changed(card, event, "tool", (0, 0, 0, 0))

    def tool_changed(self, event: Event) -> None:
        slug = self.tool_slugs.get(event.aggregate_id)
        if slug is None:
            _unknown(event.position, "tool")
            return
        card = self.tools[slug]
        before = _counts(card)
        if event.type == "Tool.Edited":
            for name, value in event.data["changes"].items():
                if name in TOOL_FIELDS:
                    card[name] = value
        else:
            card["retired"] = int(event.type == "Tool.Retired")
        card["version"] = event.version
        self._tool_version(card, event)
        self._changed(card, event, "tool", before)

    def _tool_version(self, card: Row, event: Event) -> None:
        self.tool_versions.append(
            (
                card["slug"],
                card["version"],
                *(card[name] for name in TOOL_FIELDS),
                card["retired"],
                event.at,
                event.position,
            )
        )

    def _changed(
        self, card: Row, event: Event, kind: str, before: tuple[int, int, int, int]
    ) -> None:
        """Marks ``card`` changed by ``event``, with its row of the history."""
        card["position"] = event.position
        card["updated_at"] = event.at
        slug = card["slug"]
        self.dirty_tools.add(slug)
        self.card_rows.append(
            (
                event.position,
                slug,
                kind,
                card["version"],
                *before,
                card["panel_ship"],
                card["panel_skip"],
                card["community_ship"],
                card["community_skip"],
            )
        )

    # Reviewers.

    def reviewer_enrolled(self, event: Event) -> None:
        data = event.data
        self.reviewers[event.aggregate_id] = {
            "handle": data["handle"],
            "id": event.aggregate_id,
            "name": data["name"],
            "lens": data["lens"],
            "retired": 0,
            "version": event.version,
            "enrolled_position": event.position,
            "position": event.position,
            "updated_at": event.at,
        }
        self.dirty_reviewers.add(event.aggregate_id)

    def reviewer_changed(self, event: Event) -> None:
        reviewer = self.reviewers.get(event.aggregate_id)
        if reviewer is None:
            _unknown(event.position, "reviewer")
            return
        if event.type == "Reviewer.Retired":
            reviewer["retired"] = 1
        else:
            for name, value in event.data["changes"].items():
                if name in ("name", "lens"):
                    reviewer[name] = value
        reviewer["version"] = event.version
        reviewer["position"] = event.position
        reviewer["updated_at"] = event.at
        self.dirty_reviewers.add(event.aggregate_id)

    # Reviews.

    def review_submitted(self, event: Event) -> None:
        data = event.data
        review: Row = {
            "id": event.aggregate_id,
            "tool": data["tool"],
            "reviewer": data["reviewer"],
            "verdict": data["verdict"],
            "rationale": data["rationale"],
            "revision": 0,
            "submitted_at": event.at,
            "revised_at": None,
            "withdrawn": 0,
            "version": event.version,
            "submitted_position": event.position,
            "position": event.position,
        }
        self.reviews[event.aggregate_id] = review
        self._review_counted(review, None, event)

    def review_changed(self, event: Event) -> None:
        review = self.reviews.get(event.aggregate_id)
        if review is None:
            _unknown(event.position, "review")
            return
        counted = None if review["withdrawn"] else review["verdict"]
        if event.type == "Review.Withdrawn":
            review["withdrawn"] = 1
        else:
            review["verdict"] = event.data["verdict"]
            review["rationale"] = event.data["rationale"]
            review["withdrawn"] = 0
            review["revision"] += 1
            review["revised_at"] = event.at
        review["version"] = event.version
        review["position"] = event.position
        self._review_counted(review, counted, event)

    def _review_counted(self, review: Row, counted: str | None, event: Event) -> None:
        """Moves the review's weight on its tool's panel figures."""
        self.dirty_reviews.add(review["id"])
        self.split_keys.add((review["tool"], review["reviewer"]))
        card = self.tools.get(review["tool"])
        if card is None:
            _unknown(event.position, "tool")
            return
        before = _counts(card)
        if counted is not None:
            card["panel_" + counted] -= 1
        if not review["withdrawn"]:
            card["panel_" + review["verdict"]] += 1
        self._changed(card, event, "review", before)

    # Comparisons.

    def comparison_published(self, event: Event) -> None:
        data = event.data
        lo, hi = pair(data["a"], data["b"])
        self.comparisons[event.aggregate_id] = {
            "lo": lo,
            "hi": hi,
            "id": event.aggregate_id,
            "a": data["a"],
            "b": data["b"],
            "question": data["question"],
            "retired": 0,
            "version": event.version,
            "published_position": event.position,
            "position": event.position,
            "updated_at": event.at,
        }
        self.dirty_comparisons.add(event.aggregate_id)
        self.head_to_head[lo, hi] = [0, 0, 0]
        self.subjects.pop(comparison_subject(lo, hi), None)
        self.dirty_head_to_head.add((lo, hi))
        self.new_pairs.add((lo, hi))
        self._concerns(event.position, lo, hi)

    def comparison_changed(self, event: Event) -> None:
        comparison = self.comparisons.get(event.aggregate_id)
        if comparison is None:
            _unknown(event.position, "comparison")
            return
        if event.type == "Comparison.Retired":
            comparison["retired"] = 1
        else:
            comparison["question"] = event.data["question"]
        comparison["version"] = event.version
        comparison["position"] = event.position
        comparison["updated_at"] = event.at
        self.dirty_comparisons.add(event.aggregate_id)
        self._concerns(event.position, comparison["lo"], comparison["hi"])

    # Votes.

    def vote(self, event: Event) -> None:
        data = event.data
        self.fold_vote(
            event.position,
            event.at,
            event.aggregate_id,
            event.type,
            data.get("subject"),
            data.get("choice"),
        )

    def fold_vote(
        self,
        position: int,
        at: str,
        vote_id: str,
        kind: str,
        subject: str | None,
        choice: str | None,
    ) -> None:
        """Folds a vote cast, changed or retracted: most of any log, so kept lean.

        Takes the few values it needs rather than an :class:`Event`, so that a
        replay can decode votes into them directly; ``at`` may be the time as
        stored, since the card makes it ISO text only when it is written.
        """
        previous: str | None = None
        if kind == "Vote.Cast":
            assert subject is not None
            changing = self.changing
            if changing is None or vote_id in changing:
                state = (subject, choice)
                self.votes[vote_id] = self.states.setdefault(state, state)
        else:
            vote = self.votes.get(vote_id)
            if vote is None:
                _unknown(position, "vote")
                return
            subject, previous = vote
            if kind != "Vote.Changed":
                choice = None
            state = (subject, choice)
            self.votes[vote_id] = self.states.setdefault(state, state)
        target = self.subjects.get(subject) or self._subject(subject, position)
        if target is None:
            return
        if isinstance(target, tuple):
            self._pick(target, previous, choice, position)
            return
        card = target
        slug = card["slug"]
        ship, skip = card["community_ship"], card["community_skip"]
        now_ship = ship - (previous == "ship") + (choice == "ship")
        now_skip = skip - (previous == "skip") + (choice == "skip")
        card["community_ship"], card["community_skip"] = now_ship, now_skip
        card["position"], card["updated_at"] = position, at
        self.dirty_tools.add(slug)
        self.vote_rows.append(
            (
                position,
                slug,
                card["version"],
                card["panel_ship"],
                card["panel_skip"],
                ship,
                skip,
                now_ship,
                now_skip,
            )
        )

    def _subject(self, subject: str, position: int) -> Row | Tally | None:
        """Finds what a vote's subject counts on, and keeps it for the next vote.

        A ``tool:`` subject counts on the tool's card, a ``comparison:`` one
        on the pair's head-to-head tally; any other subject on nothing.
        """
        kind, _, key = subject.partition(":")
        if kind == "tool":
            card = self.tools.get(key)
            if card is None:
                _unknown(position, "tool")
                return None
            self.subjects[subject] = card
            return card
        if kind != "comparison":
            return None
        lo, _, hi = key.partition("/")
        picks = self.head_to_head.get((lo, hi))
        if picks is None:
            _unknown(position, "comparison")
            return None
        tally = (lo, hi, picks)
        self.subjects[subject] = tally
        return tally

    def _concerns(self, position: int, lo: str, hi: str) -> None:
        """Records an event that concerns two tools but no card."""
        self.pair_rows.append((position, lo, hi))

    def _pick(
        self, tally: Tally, previous: str | None, choice: str | None, position: int
    ) -> None:
        """Moves a head-to-head pick from ``previous`` to ``choice``."""
        lo, hi, picks = tally
        if previous == lo:
            picks[0] -= 1
        elif previous == hi:
            picks[1] -= 1
        if choice == lo:
            picks[0] += 1
        elif choice == hi:
            picks[1] += 1
        picks[2] = picks[0] + picks[1]
        self.dirty_head_to_head.add((lo, hi))
        self.pair_rows.append((position, lo, hi))

    # Writing back.

    def write(self) -> None:
        """Writes every touched row with one statement per table."""
        self.write_history()
        self.write_state()
        self.write_splits()
        self.written()

    def write_history(self) -> None:
        """Appends the batch's rows of ``audit``, ``tool_events`` and versions."""
        many = self.conn.executemany
        many(f"INSERT INTO audit VALUES ({_marks(9)})", self.audit)
        many(INSERT_CARD, self.card_rows)
        many(INSERT_VOTE, self.vote_rows)
        many(INSERT_PAIR, self.pair_rows)
        many(f"INSERT INTO tool_versions VALUES ({_marks(12)})", self.tool_versions)

    def _history_rows(self) -> tuple[list[Any], ...]:
        return (
            self.audit,
            self.card_rows,
            self.vote_rows,
            self.pair_rows,
            self.tool_versions,
        )

    def write_state(self) -> None:
        """Replaces the current rows the batch changed: cards, reviews…"""
        many = self.conn.executemany
        many(
            f"INSERT OR REPLACE INTO tools VALUES ({_marks(26)})",
            [_tool_row(self.tools[slug]) for slug in self.dirty_tools],
        )
        self._replace("reviewers", self.reviewers, self.dirty_reviewers)
        self._replace("reviews", self.reviews, self.dirty_reviews)
        self._replace("comparisons", self.comparisons, self.dirty_comparisons)
        many(
            "INSERT OR REPLACE INTO head_to_head VALUES (?,?,?,?,?)",
            [(*key, *self.head_to_head[key]) for key in self.dirty_head_to_head],
        )

    def written(self) -> None:
        """Forgets what was written, keeping the rows for the next batch."""
        for rows in self._history_rows():
            rows.clear()
        for dirty in (
            self.dirty_tools,
            self.dirty_reviews,
            self.dirty_reviewers,
            self.dirty_comparisons,
            self.dirty_head_to_head,
            self.split_keys,
            self.new_pairs,
        ):
            dirty.clear()

    def _replace(self, table: str, rows: dict[str, Row], dirty: set[str]) -> None:
        columns = COLUMNS[table]
        self.conn.executemany(
            f"INSERT OR REPLACE INTO {table} ({','.join(columns)}) "
            f"VALUES ({_marks(len(columns))})",
            [tuple(rows[key][name] for name in columns) for key in sorted(dirty)],
        )

    def write_splits(self) -> None:
        """Recomputes the reviewer split of every comparison the batch touched.

        The split is a pure function of the current reviews, so it is derived
        from the reviews table (already written) rather than folded event by
        event.
        """
        many = self.conn.executemany
        many(
            "INSERT OR REPLACE INTO splits (lo, hi, reviewer, lo_verdict, hi_verdict) "
            "SELECT ?1, ?2, reviewer, "
            "max(CASE WHEN tool = ?1 THEN verdict END), "
            "max(CASE WHEN tool = ?2 THEN verdict END) "
            "FROM reviews WHERE tool IN (?1, ?2) AND withdrawn = 0 GROUP BY reviewer",
            sorted(self.new_pairs),
        )
        if not self.split_keys:
            return
        by_tool: dict[str, set[str]] = {}
        for tool, reviewer in self.split_keys:
            by_tool.setdefault(tool, set()).add(reviewer)
        keys = set()
        for query in (
            "SELECT lo, hi FROM comparisons WHERE lo IN ({})",
            "SELECT lo, hi FROM comparisons WHERE hi IN ({})",
        ):
            for lo, hi in self._select(query, by_tool):
                if (lo, hi) in self.new_pairs:
                    continue
                for tool in (lo, hi):
                    for reviewer in by_tool.get(tool, ()):
                        keys.add((lo, hi, reviewer))
        ordered = sorted(keys)
        many(
            "INSERT OR REPLACE INTO splits (lo, hi, reviewer, lo_verdict, hi_verdict) "
            "SELECT ?1, ?2, ?3, "
            "(SELECT verdict FROM reviews "
            " WHERE tool = ?1 AND reviewer = ?3 AND withdrawn = 0), "
            "(SELECT verdict FROM reviews "
            " WHERE tool = ?2 AND reviewer = ?3 AND withdrawn = 0)",
            ordered,
        )
        many(
            "DELETE FROM splits WHERE lo = ? AND hi = ? AND reviewer = ? "
            "AND lo_verdict IS NULL AND hi_verdict IS NULL",
            ordered,
        )


class Replay(Batch):
    """A fold that keeps its rows from one batch to the next, for rebuilds.

    A rebuild writes into a file nobody reads until it is complete, so the
    rows a batch touched need not be read back by the next one, and the
    current rows (cards, reviews, tallies…), which every batch would rewrite,
    are written once by :meth:`finish`, the reviewer splits derived from the
    final reviews in one statement. The votes that later events may name are
    held, so that those events are folded without a lookup; past
    ``max_votes`` they are spilled to a temporary table, so memory stays
    bounded.

    Args:
        conn: The file being built.
        bulk: Leave the ``audit`` rows out; :mod:`projections.bulk` loads them.
        max_votes: How many votes to hold in memory at most.
        changing: The ids of the votes that are changed or retracted at some
            point (a superset will do); only those are held. By default, all.
    """

    MAX_VOTES = 1_000_000
    """About 120 MB of held votes; a million events hold fewer."""

    def __init__(
        self,
        conn: Connection,
        *,
        bulk: bool = False,
        max_votes: int | None = None,
        changing: Container[str] | None = None,
    ) -> None:
        super().__init__(conn)
        self.changing = changing
        self.audits = not bulk
        self.max_votes = self.MAX_VOTES if max_votes is None else max_votes
        self.spilled = False
        self.spills = 0
        """How many times held votes went to the temporary table."""

    def load(self, events: Sequence[Event]) -> None:
        # Everything the replay met is held, but for the votes spilled.
        if self.spilled:
            self.load_spilled(
                event.aggregate_id for event in events if event.type in _VOTE_CHANGES
            )

    def apply_raws(self, raws: Sequence[Raw]) -> None:
        """Folds ``raws``, decoding votes only as far as the fold needs.

        Votes are most of a log, and a rebuild that leaves the audit rows to
        :mod:`projections.bulk` needs only their subject, choice and time;
        every other event goes through :meth:`apply`'s handlers.
        """
        if self.audits:
            super().apply_raws(raws)
            return
        if self.spilled:
            self.load_spilled(raw[1] for raw in raws if raw[3].endswith(_VOTE_CHANGES))
        handlers = self.handlers
        fold_vote = self.fold_vote
        for raw in raws:
            kind = plain_votes[raw[3]]
            if kind is None:
                event = decode(raw)
                handler = handlers.get(event.type)
                if handler is not None:
                    handler(event)
            else:
                vote = decode_vote(raw[4])
                fold_vote(
                    raw[0],
                    vote.timestamp,  # made ISO text when the card is written
                    raw[1],
                    kind,
                    vote.subject,
                    vote.choice,
                )
        self.write()

    def load_spilled(self, vote_ids: Iterable[str]) -> None:
        """Reads back the spilled votes of ``vote_ids`` that are not held."""
        votes = self.votes
        states = self.states
        for vote_id, subject, choice in self._select(
            "SELECT id, subject, choice FROM temp.spilled_votes WHERE id IN ({})",
            {vote_id for vote_id in vote_ids if vote_id not in votes},
        ):
            state = (subject, choice)
            votes[vote_id] = states.setdefault(state, state)

    def write(self) -> None:
        """Appends the batch's history; the current rows wait for :meth:`finish`."""
        self.write_history()
        for rows in self._history_rows():
            rows.clear()
        if len(self.votes) > self.max_votes:
            self._spill_votes()

    def write_splits(self) -> None:
        """Left to :meth:`finish`."""

    def finish(self) -> None:
        """Writes what the batches left to the end; call once, in a transaction."""
        self.write_state()
        self.written()
        if self.spilled:
            self.conn.execute("DROP TABLE temp.spilled_votes")
            self.spilled = False
        self.conn.execute(
            "INSERT INTO splits (lo, hi, reviewer, lo_verdict, hi_verdict) "
            "SELECT c.lo, c.hi, r.reviewer, "
            "max(CASE WHEN r.tool = c.lo THEN r.verdict END), "
            "max(CASE WHEN r.tool = c.hi THEN r.verdict END) "
            "FROM comparisons c JOIN reviews r "
            "ON r.tool IN (c.lo, c.hi) AND r.withdrawn = 0 "
            "GROUP BY c.lo, c.hi, r.reviewer"
        )

    def _spill_votes(self) -> None:
        """Moves the held votes to a temporary table of this connection.

        It lives beside the file, not in it, and goes with the connection.
        """
        if not self.spilled:
            self.conn.execute(
                "CREATE TEMP TABLE spilled_votes (id TEXT PRIMARY KEY, "
                "subject TEXT NOT NULL, choice TEXT) WITHOUT ROWID"
            )
            self.spilled = True
        votes = self.votes
        self.spills += 1
        self.conn.executemany(
            "INSERT OR REPLACE INTO temp.spilled_votes VALUES (?,?,?)",
            [(key, *votes[key]) for key in sorted(votes)],
        )
        votes.clear()


_VOTE_CHANGES = ("Vote.Changed", "Vote.Retracted")
"""The events that name only their vote; a topic ends with one of these."""


def _unknown(position: int, what: str) -> None:
    log.warning("event %s names an unknown %s", position, what)


def _subject_needs(subject: str, slugs: set[str], pairs: set[tuple[str, str]]) -> None:
    kind, _, key = subject.partition(":")
    if kind == "tool":
        slugs.add(key)
    elif kind == "comparison":
        lo, _, hi = key.partition("/")
        pairs.add((lo, hi))


def audit_row(event: Event) -> tuple[Any, ...]:
    return (
        event.position,
        event.at,
        event.type,
        event.aggregate_id,
        event.version,
        event.actor,
        event.reason,
        event.request_id,
        _encode_json(event.data).decode(),
    )


def _counts(card: Row) -> tuple[int, int, int, int]:
    return (
        card["panel_ship"],
        card["panel_skip"],
        card["community_ship"],
        card["community_skip"],
    )


def _tool_row(card: Row) -> tuple[Any, ...]:
    return (
        card["slug"],
        card["id"],
        *(card[name] for name in TOOL_FIELDS),
        *_figures(card["panel_ship"], card["panel_skip"]),
        *_figures(card["community_ship"], card["community_skip"]),
        card["version"],
        card["position"],
        iso_text(card["updated_at"]),
        card["retired"],
        card["registered_position"],
    )
