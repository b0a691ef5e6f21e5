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

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, Recording

from ledger import errors
from ledger.codec import MsgspecMapper
from ledger.context import Context
from ledger.domainmodel import Comparison, Review, Reviewer, Tool, Vote, pair
from ledger.rules import VERDICTS
from ledger.settings import Settings

A = TypeVar("A")
Listener = Callable[[int], None]


@dataclass(frozen=True)
class Receipt:
    """What a command appended: the aggregate, its new version, the log position."""

    id: UUID
    version: int
    position: int


class Ledger(Application[UUID]):
    """Verdict Ledger's commands and queries over one event store."""

    name = "VerdictLedger"

    def __init__(
        self, settings: Settings | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._voter_secret = self.settings.server_secret()
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        super().__init__(env={**self.settings.eventsourcing_env(), **(env or {})})

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
        """A first verdict; a withdrawn review is resubmitted instead."""
        the_tool, the_reviewer = self._tool(tool), self._reviewer(reviewer)
        existing = self._find(Review, Review.id_for(tool, reviewer))
        if existing is None:
            review = Review.submit(ctx, the_tool, the_reviewer, verdict, rationale)
            duplicate = errors.ReviewAlreadySubmitted(
                f"{reviewer!r} has already reviewed {tool!r}; revise it instead"
            )
            return self._save(review, duplicate=duplicate)
        existing.resubmit(ctx, the_tool, the_reviewer, verdict, rationale, "")
        return self._save(existing)

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
        if existing is None or existing.withdrawn:
            the_tool, the_reviewer = self._tool(tool), self._reviewer(reviewer)
            if existing is None:
                return self.submit_review(
                    ctx, tool, reviewer, verdict=verdict, rationale=rationale
                )
            self._check_version(existing, expected_version, "review")
            existing.resubmit(ctx, the_tool, the_reviewer, verdict, rationale, reason)
            return self._save(existing)
        self._check_version(existing, expected_version, "review")
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
        comparison = Comparison.publish(ctx, self._tool(a), self._tool(b), question)
        duplicate = errors.ComparisonAlreadyPublished(
            f"{a!r} and {b!r} are already compared"
        )
        return self._save(comparison, duplicate=duplicate)

    def edit_comparison(
        self, ctx: Context, a: str, b: str, *, question: str, reason: str = ""
    ) -> Receipt:
        comparison = self._comparison(a, b)
        comparison.edit(ctx, question, reason)
        return self._save(comparison)

    def retire_comparison(self, ctx: Context, a: str, b: str, *, reason: str) -> Receipt:
        comparison = self._comparison(a, b)
        comparison.retire(ctx, reason)
        return self._save(comparison)

    # Votes.

    def voter_key(self, identity: str) -> str:
        """The keyed hash that stands for a voter in the log."""
        digest = hmac.new(self._voter_secret, identity.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def cast_vote(self, ctx: Context, voter: str, tool: str, choice: str) -> Receipt:
        """Casts, changes or re-casts ``voter``'s ship/skip vote on ``tool``."""
        self._tool(tool).check_active()
        return self._vote(ctx, voter, f"tool:{tool}", choice, VERDICTS)

    def retract_vote(self, ctx: Context, voter: str, tool: str) -> Receipt:
        self._tool(tool)
        return self._retract(ctx, voter, f"tool:{tool}")

    def cast_comparison_vote(
        self, ctx: Context, voter: str, a: str, b: str, pick: str
    ) -> Receipt:
        """Casts, changes or re-casts ``voter``'s pick in the head-to-head."""
        comparison = self._comparison(a, b)
        comparison.check_active()
        for slug in (comparison.a, comparison.b):
            self._tool(slug).check_active()
        allowed = (comparison.a, comparison.b)
        return self._vote(ctx, voter, comparison.subject(), pick, allowed)

    def retract_comparison_vote(
        self, ctx: Context, voter: str, a: str, b: str
    ) -> Receipt:
        return self._retract(ctx, voter, self._comparison(a, b).subject())

    def _vote(
        self,
        ctx: Context,
        voter: str,
        subject: str,
        choice: str,
        allowed: tuple[str, ...],
    ) -> Receipt:
        key = self.voter_key(voter)
        ctx = Context(actor=f"voter:{key}", request_id=ctx.request_id)
        vote = self._find(Vote, Vote.id_for(subject, key))
        if vote is None:
            return self._save(Vote.cast(ctx, subject, key, choice, allowed))
        vote.change(ctx, choice, allowed)
        return self._save(vote)

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
        tool = self._tool(slug)
        return {
            "slug": tool.slug,
            **tool.fields,
            "retired": tool.retired,
            "version": tool.version,
        }

    def reviewer(self, handle: str) -> dict[str, Any]:
        reviewer = self._reviewer(handle)
        return {
            "handle": reviewer.handle,
            "name": reviewer.name,
            "lens": reviewer.lens,
            "retired": reviewer.retired,
            "version": reviewer.version,
        }

    def review(self, tool: str, reviewer: str) -> dict[str, Any]:
        review = self._review(tool, reviewer)
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
        comparison = self._comparison(a, b)
        return {
            "a": comparison.a,
            "b": comparison.b,
            "question": comparison.question,
            "retired": comparison.retired,
            "version": comparison.version,
        }

    def vote(self, voter: str, subject: str) -> str | None:
        """The current choice of ``voter`` on ``subject``, or None."""
        vote = self._find(Vote, Vote.id_for(subject, self.voter_key(voter)))
        return None if vote is None else vote.choice

    def head_position(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # Loading and saving.

    def _find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, cls):
            msg = f"{aggregate_id} is a {type(aggregate).__name__}, not a {cls.__name__}"
            raise TypeError(msg)
        return aggregate

    @staticmethod
    def _check_version(aggregate: Any, expected: int | None, what: str) -> None:
        if expected is not None and aggregate.version != expected:
            raise errors.StaleVersion(what, expected, aggregate.version)

    def _tool(self, slug: str, expected_version: int | None = None) -> Tool:
        tool = self._find(Tool, Tool.id_for(slug))
        if tool is None:
            msg = f"no tool {slug!r}"
            raise errors.ToolNotFound(msg)
        self._check_version(tool, expected_version, f"tool {slug!r}")
        return tool

    def _reviewer(self, handle: str, expected_version: int | None = None) -> Reviewer:
        reviewer = self._find(Reviewer, Reviewer.id_for(handle))
        if reviewer is None:
            msg = f"no reviewer {handle!r}"
            raise errors.ReviewerNotFound(msg)
        self._check_version(reviewer, expected_version, f"reviewer {handle!r}")
        return reviewer

    def _review(
        self, tool: str, reviewer: str, expected_version: int | None = None
    ) -> Review:
        review = self._find(Review, Review.id_for(tool, reviewer))
        if review is None:
            msg = f"{reviewer!r} has not reviewed {tool!r}"
            raise errors.ReviewNotFound(msg)
        self._check_version(review, expected_version, "review")
        return review

    def _comparison(self, a: str, b: str) -> Comparison:
        comparison = self._find(Comparison, Comparison.id_for(*pair(a, b)))
        if comparison is None:
            msg = f"no comparison of {a!r} and {b!r}"
            raise errors.ComparisonNotFound(msg)
        return comparison

    def _save(self, aggregate: Any, duplicate: errors.Conflict | None = None) -> Receipt:
        """Appends the aggregate's pending events; a lost race is a conflict."""
        try:
            recordings = self.save(aggregate)
        except IntegrityError as error:
            if duplicate is not None:
                raise duplicate from error
            msg = (
                f"{type(aggregate).__name__} {aggregate.id} was changed by another "
                "writer; reload and try again"
            )
            raise errors.ConcurrencyConflict(msg) from error
        last = recordings[-1]
        return Receipt(
            id=aggregate.id, version=aggregate.version, position=last.notification.id
        )
