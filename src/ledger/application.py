"""The ledger application: the only way into the log.

Commands load the aggregates they need, let them decide, and save what they
decided; each returns a :class:`Receipt` with the new version and the log
position. Queries return plain values. Nothing here knows about HTTP or read
models; how aggregates are loaded and appended is in :mod:`ledger.repository`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from ledger import errors
from ledger.context import Context
from ledger.domainmodel import Comparison, Review, Reviewer, Tool, Vote, tool_subject
from ledger.repository import LedgerApplication, Receipt
from ledger.rules import VERDICTS
from ledger.settings import Settings
from ledger.store import Unchanged

__all__ = ["Ledger", "Receipt"]


class Ledger(LedgerApplication):
    """Verdict Ledger's commands and queries over one event store."""

    name = "VerdictLedger"

    def __init__(
        self, settings: Settings | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings, env)
        self._voter_hmac = hmac.new(
            self.settings.server_secret(), digestmod=hashlib.sha256
        )

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
        vote = self._existing_vote(key, subject)
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

    def vote_version(self, voter: str, subject: str) -> int:
        """The version of ``voter``'s vote on ``subject``."""
        return self._existing_vote(self.voter_key(voter), subject, copy=False).version

    def _existing_vote(self, key: str, subject: str, *, copy: bool = True) -> Vote:
        vote = self._find(Vote, Vote.id_for(subject, key), copy=copy)
        if vote is None:
            msg = f"no vote on {subject} by this voter"
            raise errors.VoteNotFound(msg)
        return vote

    def head_position(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0
