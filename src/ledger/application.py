"""The ledger application: the only way into the log.

Commands load the aggregates they need, let them decide, and save what they
decided; each returns a :class:`Receipt` with the new version and the log
position. Queries return plain values. Nothing here knows about HTTP or read
models.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.persistence import IntegrityError, Mapper, Recording
from eventsourcing.utils import get_topic

from ledger import errors
from ledger.codec import MsgspecMapper
from ledger.context import Context
from ledger.domainmodel import (
    Comparison,
    Review,
    Reviewer,
    Tool,
    Vote,
    pair,
    tool_subject,
)
from ledger.rules import VERDICTS
from ledger.settings import Settings
from ledger.store import ConditionalAppends, DependencyChanged, Unchanged

A = TypeVar("A")
Listener = Callable[[int], None]
Attempt = Callable[[bool], "Receipt"]

ATTEMPTS = 3
"""How often a command reruns when an aggregate it decided on moved on."""

DECISIVE_TOPICS = frozenset(
    get_topic(event)
    for event in (Tool.Retired, Tool.Reinstated, Reviewer.Retired, Comparison.Retired)
)
"""Events that can change whether a vote, review or comparison may be recorded."""

CACHED_REFUSALS = (errors.ToolRetired, errors.ReviewerRetired, errors.ComparisonRetired)
"""Refusals a cached dependency can cause; they are confirmed on fresh state."""


@dataclass(frozen=True)
class Receipt:
    """What a command appended: the aggregate, its new version, the log position."""

    id: UUID
    version: int
    position: int


class Ledger(Application[UUID]):
    """Verdict Ledger's commands and queries over one event store."""

    name = "VerdictLedger"
    # Commands load the same few aggregates again and again (every vote
    # checks its tool), so they stay built in eventsourcing's cache. A load
    # still reads any newer events first (fast-forwarding, the default);
    # only checks guarded by a conditional append skip that read (see
    # ``_depending``). Environment variables override this.
    env = {"AGGREGATE_CACHE_MAXSIZE": "4096"}

    def __init__(
        self, settings: Settings | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._voter_hmac = hmac.new(
            self.settings.server_secret(), digestmod=hashlib.sha256
        )
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        super().__init__(env={**self.settings.eventsourcing_env(), **(env or {})})
        self._conditional = isinstance(self.recorder, ConditionalAppends)
        if isinstance(self.recorder, ConditionalAppends):
            self.recorder.decisive_topics = DECISIVE_TOPICS
        # Creating first and loading only if the store refuses is one round
        # trip less, where a refused insert costs nothing (see ledger.store).
        self._create_first = self._conditional and not getattr(
            self.recorder, "refusals_use_positions", True
        )

    def construct_mapper(self) -> Mapper[UUID]:
        return MsgspecMapper(
            cipher=self.factory.cipher(), compressor=self.factory.compressor()
        )

    # Wake-ups for followers of the log in this process.

    def add_listener(self, listener: Listener) -> None:
        """Calls ``listener(position)`` after every local append."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._listeners_lock:
            self._listeners.remove(listener)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if recordings:
            position = recordings[-1].notification.id
            for listener in list(self._listeners):
                listener(position)

    # Tools.

    def register_tool(
        self, ctx: Context, slug: str, fields: Mapping[str, str]
    ) -> Receipt:
        tool = Tool.register(ctx, slug, fields)
        duplicate = errors.ToolAlreadyRegistered(f"tool {slug!r} is already registered")
        return self._save(tool, duplicate=duplicate)

    def edit_tool(
        self,
        ctx: Context,
        slug: str,
        changes: Mapping[str, str],
        *,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Receipt:
        tool = self._tool(slug, expected_version)
        tool.edit(ctx, changes, reason)
        return self._save(tool)

    def retire_tool(
        self,
        ctx: Context,
        slug: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        tool = self._tool(slug, expected_version)
        tool.retire(ctx, reason)
        return self._save(tool)

    def reinstate_tool(
        self,
        ctx: Context,
        slug: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        tool = self._tool(slug, expected_version)
        tool.reinstate(ctx, reason)
        return self._save(tool)

    # Reviewers.

    def enroll_reviewer(
        self, ctx: Context, handle: str, *, name: str, lens: str
    ) -> Receipt:
        reviewer = Reviewer.enroll(ctx, handle, name, lens)
        duplicate = errors.ReviewerAlreadyEnrolled(
            f"reviewer {handle!r} is already enrolled"
        )
        return self._save(reviewer, duplicate=duplicate)

    def edit_reviewer(
        self,
        ctx: Context,
        handle: str,
        changes: Mapping[str, str],
        *,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Receipt:
        reviewer = self._reviewer(handle, expected_version)
        reviewer.edit_profile(ctx, changes, reason)
        return self._save(reviewer)

    def retire_reviewer(self, ctx: Context, handle: str, *, reason: str) -> Receipt:
        reviewer = self._reviewer(handle)
        reviewer.retire(ctx, reason)
        return self._save(reviewer)

    # Reviews.

    def submit_review(
        self, ctx: Context, tool: str, reviewer: str, *, verdict: str, rationale: str
    ) -> Receipt:
        """A first verdict; a withdrawn review is resubmitted instead.

        The review's deterministic id makes the store refuse a second
        submission, so where that refusal is free the review is submitted
        first and the existing one loaded only if the store refuses it.
        """

        def attempt(cached: bool) -> Receipt:
            the_tool = self._tool(tool, cached=cached)
            the_reviewer = self._reviewer(reviewer, cached=cached)
            unchanged = self._unchanged(the_tool, the_reviewer)
            review_id = Review.id_for(tool, reviewer)
            existing = None if self._create_first else self._find(Review, review_id)
            if existing is None:
                review = Review.submit(ctx, the_tool, the_reviewer, verdict, rationale)
                receipt = self._save_new(review, unchanged)
                if receipt is not None:
                    return receipt
                existing = self._review(tool, reviewer)
            existing.resubmit(ctx, the_tool, the_reviewer, verdict, rationale, "")
            return self._save(existing, unchanged=unchanged)

        return self._depending(attempt)

    def revise_review(
        self,
        ctx: Context,
        tool: str,
        reviewer: str,
        *,
        verdict: str,
        rationale: str,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        review = self._review(tool, reviewer, expected_version)
        review.revise(ctx, verdict, rationale, reason)
        return self._save(review)

    def put_review(
        self,
        ctx: Context,
        tool: str,
        reviewer: str,
        *,
        verdict: str,
        rationale: str,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Receipt:
        """Submits, resubmits or revises, whichever the review's state calls for."""
        existing = self._find(Review, Review.id_for(tool, reviewer))
        if existing is None:
            return self.submit_review(
                ctx, tool, reviewer, verdict=verdict, rationale=rationale
            )
        self._check_version(existing, expected_version, "review")
        if existing.withdrawn:

            def attempt(cached: bool) -> Receipt:
                review = self._review(tool, reviewer)
                self._check_version(review, expected_version, "review")
                the_tool = self._tool(tool, cached=cached)
                the_reviewer = self._reviewer(reviewer, cached=cached)
                unchanged = self._unchanged(the_tool, the_reviewer)
                review.resubmit(ctx, the_tool, the_reviewer, verdict, rationale, reason)
                return self._save(review, unchanged=unchanged)

            return self._depending(attempt)
        existing.revise(ctx, verdict, rationale, reason)
        return self._save(existing)

    def withdraw_review(
        self,
        ctx: Context,
        tool: str,
        reviewer: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        review = self._review(tool, reviewer, expected_version)
        review.withdraw(ctx, reason)
        return self._save(review)

    # Comparisons.

    def publish_comparison(
        self, ctx: Context, a: str, b: str, *, question: str
    ) -> Receipt:

        def attempt(cached: bool) -> Receipt:
            tool_a, tool_b = self._tool(a, cached=cached), self._tool(b, cached=cached)
            unchanged = self._unchanged(tool_a, tool_b)
            comparison = Comparison.publish(ctx, tool_a, tool_b, question)
            duplicate = errors.ComparisonAlreadyPublished(
                f"{a!r} and {b!r} are already compared"
            )
            return self._save(comparison, duplicate=duplicate, unchanged=unchanged)

        return self._depending(attempt)

    def edit_comparison(
        self, ctx: Context, a: str, b: str, *, question: str, reason: str = ""
    ) -> Receipt:
        comparison = self._comparison(a, b)
        comparison.edit(ctx, question, reason)
        return self._save(comparison)

    def retire_comparison(
        self, ctx: Context, a: str, b: str, *, reason: str
    ) -> Receipt:
        comparison = self._comparison(a, b)
        comparison.retire(ctx, reason)
        return self._save(comparison)

    # Votes.

    def voter_key(self, identity: str) -> str:
        """The keyed hash that stands for a voter in the log."""
        digest = self._voter_hmac.copy()  # keyed once, in __init__
        digest.update(identity.encode())
        return digest.hexdigest()[:32]

    def cast_vote(self, ctx: Context, voter: str, tool: str, choice: str) -> Receipt:
        """Casts, changes or re-casts ``voter``'s ship/skip vote on ``tool``."""

        def attempt(cached: bool) -> Receipt:
            the_tool = self._tool(tool, cached=cached)
            unchanged = self._unchanged(the_tool)
            the_tool.check_active()
            subject = tool_subject(tool)
            return self._vote(ctx, voter, subject, choice, VERDICTS, unchanged)

        return self._depending(attempt)

    def retract_vote(self, ctx: Context, voter: str, tool: str) -> Receipt:
        self._tool(tool, copy=False)
        return self._retract(ctx, voter, tool_subject(tool))

    def cast_comparison_vote(
        self, ctx: Context, voter: str, a: str, b: str, pick: str
    ) -> Receipt:
        """Casts, changes or re-casts ``voter``'s pick in the head-to-head."""

        def attempt(cached: bool) -> Receipt:
            comparison = self._comparison(a, b, cached=cached)
            tool_a = self._tool(comparison.a, cached=cached)
            tool_b = self._tool(comparison.b, cached=cached)
            unchanged = self._unchanged(comparison, tool_a, tool_b)
            for checked in (comparison, tool_a, tool_b):
                checked.check_active()
            allowed = (comparison.a, comparison.b)
            subject = comparison.subject()
            return self._vote(ctx, voter, subject, pick, allowed, unchanged)

        return self._depending(attempt)

    def retract_comparison_vote(
        self, ctx: Context, voter: str, a: str, b: str
    ) -> Receipt:
        subject = self._comparison(a, b, copy=False).subject()
        return self._retract(ctx, voter, subject)

    def _vote(
        self,
        ctx: Context,
        voter: str,
        subject: str,
        choice: str,
        allowed: tuple[str, ...],
        unchanged: Unchanged,
    ) -> Receipt:
        """Casts a first vote, or changes the one the event store already holds.

        The vote's deterministic id makes the store refuse a second cast by
        the same voter on the same subject. Most votes are first votes, so
        where that refusal is free the vote is cast first and the existing
        one loaded only if the store refuses it.
        """
        key = self.voter_key(voter)
        ctx = Context(actor=f"voter:{key}", request_id=ctx.request_id)
        existing = None
        if not self._create_first:
            existing = self._find(Vote, Vote.id_for(subject, key))
        if existing is None:
            vote = Vote.cast(ctx, subject, key, choice, allowed)
            receipt = self._save_new(vote, unchanged)
            if receipt is not None:
                return receipt
            existing = self._find(Vote, vote.id)
            if existing is None:  # pragma: no cover - the store just refused it
                msg = f"the vote on {subject} vanished while being changed"
                raise errors.ConcurrencyConflict(msg)
        existing.change(ctx, choice, allowed)
        return self._save(existing, unchanged=unchanged)

    def _retract(self, ctx: Context, voter: str, subject: str) -> Receipt:
        key = self.voter_key(voter)
        vote = self._find(Vote, Vote.id_for(subject, key))
        if vote is None:
            msg = f"no vote on {subject} by this voter"
            raise errors.VoteNotFound(msg)
        vote.retract(Context(actor=f"voter:{key}", request_id=ctx.request_id))
        return self._save(vote)

    # Queries.

    def tool(self, slug: str) -> dict[str, Any]:
        """The tool's current fields, version and retired flag."""
        tool = self._tool(slug, copy=False)
        return {
            "slug": tool.slug,
            **tool.fields,
            "retired": tool.retired,
            "version": tool.version,
        }

    def reviewer(self, handle: str) -> dict[str, Any]:
        reviewer = self._reviewer(handle, copy=False)
        return {
            "handle": reviewer.handle,
            "name": reviewer.name,
            "lens": reviewer.lens,
            "retired": reviewer.retired,
            "version": reviewer.version,
        }

    def review(self, tool: str, reviewer: str) -> dict[str, Any]:
        review = self._review(tool, reviewer, copy=False)
        return {
            "tool": review.tool,
            "reviewer": review.reviewer,
            "verdict": review.verdict,
            "rationale": review.rationale,
            "withdrawn": review.withdrawn,
            "revisions": review.revisions,
            "version": review.version,
        }

    def comparison(self, a: str, b: str) -> dict[str, Any]:
        comparison = self._comparison(a, b, copy=False)
        return {
            "a": comparison.a,
            "b": comparison.b,
            "question": comparison.question,
            "retired": comparison.retired,
            "version": comparison.version,
        }

    def vote(self, voter: str, subject: str) -> str | None:
        """The current choice of ``voter`` on ``subject``, or None."""
        vote_id = Vote.id_for(subject, self.voter_key(voter))
        vote = self._find(Vote, vote_id, copy=False)
        return None if vote is None else vote.choice

    def head_position(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # Loading and saving.

    def _find(
        self,
        cls: type[A],
        aggregate_id: UUID,
        *,
        copy: bool = True,
        cached: bool = False,
    ) -> A | None:
        """Loads an aggregate to change it, or to read it with ``copy=False``.

        Commands that change an aggregate need their own copy (eventsourcing
        deep-copies it out of the cache); checks and queries share the cached
        one. ``cached=True`` also skips reading newer events when the
        aggregate is in the cache, so it may be behind the store: only for
        checks whose append is conditional on it (see ``_depending``).
        """
        aggregate: Any = None
        cache = self.repository.cache
        if cached and cache is not None:
            try:
                aggregate = cache.get(aggregate_id)
            except KeyError:
                aggregate = None
        if aggregate is None:
            try:
                aggregate = self.repository.get(
                    aggregate_id, deepcopy_from_cache=copy and not cached
                )
            except AggregateNotFoundError:
                return None
        if not isinstance(aggregate, cls):
            msg = (
                f"{aggregate_id} is a {type(aggregate).__name__}, not a {cls.__name__}"
            )
            raise TypeError(msg)
        return aggregate

    @staticmethod
    def _check_version(aggregate: Any, expected: int | None, what: str) -> None:
        if expected is not None and aggregate.version != expected:
            raise errors.StaleVersion(what, expected, aggregate.version)

    def _tool(
        self,
        slug: str,
        expected_version: int | None = None,
        *,
        copy: bool = True,
        cached: bool = False,
    ) -> Tool:
        tool = self._find(Tool, Tool.id_for(slug), copy=copy, cached=cached)
        if tool is None:
            msg = f"no tool {slug!r}"
            raise errors.ToolNotFound(msg)
        self._check_version(tool, expected_version, f"tool {slug!r}")
        return tool

    def _reviewer(
        self,
        handle: str,
        expected_version: int | None = None,
        *,
        copy: bool = True,
        cached: bool = False,
    ) -> Reviewer:
        reviewer_id = Reviewer.id_for(handle)
        reviewer = self._find(Reviewer, reviewer_id, copy=copy, cached=cached)
        if reviewer is None:
            msg = f"no reviewer {handle!r}"
            raise errors.ReviewerNotFound(msg)
        self._check_version(reviewer, expected_version, f"reviewer {handle!r}")
        return reviewer

    def _review(
        self,
        tool: str,
        reviewer: str,
        expected_version: int | None = None,
        *,
        copy: bool = True,
    ) -> Review:
        review = self._find(Review, Review.id_for(tool, reviewer), copy=copy)
        if review is None:
            msg = f"{reviewer!r} has not reviewed {tool!r}"
            raise errors.ReviewNotFound(msg)
        self._check_version(review, expected_version, "review")
        return review

    def _comparison(
        self, a: str, b: str, *, copy: bool = True, cached: bool = False
    ) -> Comparison:
        comparison_id = Comparison.id_for(*pair(a, b))
        comparison = self._find(Comparison, comparison_id, copy=copy, cached=cached)
        if comparison is None:
            msg = f"no comparison of {a!r} and {b!r}"
            raise errors.ComparisonNotFound(msg)
        return comparison

    def _unchanged(self, *aggregates: Any) -> Unchanged:
        """The versions a command saw of what it decided on, to append against.

        Read before the command checks anything: if a cached aggregate is
        fast-forwarded meanwhile, the version is older than the state checked
        and the append is refused, never the other way round.
        """
        if not self._conditional:
            return ()
        return [(aggregate.id, aggregate.version) for aggregate in aggregates]

    def _depending(self, attempt: Attempt) -> Receipt:
        """Runs a command whose events depend on other aggregates' state.

        A vote depends on its tool being active, a review on its tool and
        reviewer. ``attempt(cached)`` decides, on cached aggregates when
        ``cached``, and appends only if those aggregates are still at the
        versions it saw. A cached aggregate may be behind the store both ways:
        an acceptance made on it is caught by that condition, a refusal made
        on it (the tool looked retired) is checked again on fresh aggregates.
        Without conditional appends (a recorder other than the ledger's) every
        attempt reads fresh aggregates, as eventsourcing always does.
        """
        if self._conditional:
            try:
                return attempt(True)
            except (DependencyChanged, *CACHED_REFUSALS):
                pass
        for _ in range(ATTEMPTS):
            try:
                return attempt(False)
            except DependencyChanged:
                continue
        msg = "what this command depends on kept changing; try again"
        raise errors.ConcurrencyConflict(msg)

    def _append(self, aggregate: Any, unchanged: Unchanged = ()) -> Receipt:
        """Records the aggregate's pending events and wakes the log's followers.

        This is :meth:`Application.save` for exactly one aggregate, without
        its runtime protocol checks of what was passed (a third of a vote's
        CPU time) and without the deprecated ``notify`` hook. ``unchanged``
        makes the append conditional (see :mod:`ledger.store`).
        """
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events.extend(aggregate.collect_events())
        processing.aggregates[aggregate.id] = aggregate
        if unchanged:
            processing.saved_kwargs["unchanged"] = unchanged
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return Receipt(
            id=aggregate.id,
            version=aggregate.version,
            position=recordings[-1].notification.id,
        )

    def _save_new(self, aggregate: Any, unchanged: Unchanged = ()) -> Receipt | None:
        """Appends a new aggregate; None if its id is already in the store."""
        try:
            return self._append(aggregate, unchanged)
        except IntegrityError:
            return None

    def _save(
        self,
        aggregate: Any,
        duplicate: errors.Conflict | None = None,
        unchanged: Unchanged = (),
    ) -> Receipt:
        """Appends the aggregate's pending events; a lost race is a conflict."""
        try:
            return self._append(aggregate, unchanged)
        except IntegrityError as error:
            if duplicate is not None:
                raise duplicate from error
            msg = (
                f"{type(aggregate).__name__} {aggregate.id} was changed by another "
                "writer; reload and try again"
            )
            raise errors.ConcurrencyConflict(msg) from error
