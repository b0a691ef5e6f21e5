"""The ledger application: the only way into the log.

Commands load the aggregates they need, let them decide, and save what they
decided; each returns a :class:`Receipt` with the new version and the log
position. Queries return plain values. Nothing here knows about HTTP or read
models; how aggregates are loaded and appended is in :mod:`ledger.repository`.

A vote is decided in one place, :meth:`Ledger.decide_vote`, whether it is
cast alone (:meth:`Ledger.cast`) or together with the votes queued beside it
(:mod:`ledger.group_commit`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger import errors
from ledger.conditional_appends import Unchanged
from ledger.context import Context
from ledger.domainmodel import (
    Comparison,
    Retirable,
    Review,
    Reviewer,
    Tool,
    Vote,
    comparison_subject,
    tool_subject,
)
from ledger.people_commands import PeopleCommands
from ledger.repository import LedgerApplication, Receipt
from ledger.rules import VERDICTS
from ledger.settings import Settings

__all__ = ["Ledger", "Receipt", "VoteCommand", "VoteDecision"]


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
        return ledger.cast(self)

    def subject(self) -> str:
        """The vote's subject as the ledger names it."""
        if self.tool is not None:
            return tool_subject(self.tool)
        return comparison_subject(self.a, self.b)


@dataclass(frozen=True)
class VoteDecision:
    """A vote as decided, not yet appended.

    Attributes:
        vote: The voter's vote on the subject, with its one new event.
        unchanged: The tool, or the comparison and its tools, at the versions
            the decision saw; the append is conditional on them.
    """

    vote: Vote
    unchanged: Unchanged


class Ledger(PeopleCommands, LedgerApplication):
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
        tool = self._get(Tool, slug, expected_version=expected_version)
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
        tool = self._get(Tool, slug, expected_version=expected_version)
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
        tool = self._get(Tool, slug, expected_version=expected_version)
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
        reviewer = self._get(Reviewer, handle, expected_version=expected_version)
        reviewer.edit_profile(ctx, changes, reason)
        return self._save(reviewer)

    def retire_reviewer(
        self,
        ctx: Context,
        handle: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        reviewer = self._get(Reviewer, handle, expected_version=expected_version)
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
            the_tool = self._get(Tool, tool, copy=False, cached=cached)
            the_reviewer = self._get(Reviewer, reviewer, copy=False, cached=cached)
            unchanged = self._unchanged(the_tool, the_reviewer)
            review_id = Review.id_for(tool, reviewer)
            existing = None if self._create_first else self._find(Review, review_id)
            if existing is None:
                review = Review.submit(ctx, the_tool, the_reviewer, verdict, rationale)
                receipt = self._save_new(review, unchanged)
                if receipt is not None:
                    return receipt
                existing = self._get(Review, tool, reviewer)
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
        review = self._get(Review, tool, reviewer, expected_version=expected_version)
        self._active_reviewer(reviewer)
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
        try:
            existing = self._get(
                Review, tool, reviewer, expected_version=expected_version
            )
        except errors.ReviewNotFound:
            return self.submit_review(
                ctx, tool, reviewer, verdict=verdict, rationale=rationale
            )
        if existing.withdrawn:

            def attempt(cached: bool) -> Receipt:
                review = self._get(
                    Review, tool, reviewer, expected_version=expected_version
                )
                the_tool = self._get(Tool, tool, copy=False, cached=cached)
                the_reviewer = self._get(Reviewer, reviewer, copy=False, cached=cached)
                unchanged = self._unchanged(the_tool, the_reviewer)
                review.resubmit(ctx, the_tool, the_reviewer, verdict, rationale, reason)
                return self._save(review, unchanged=unchanged)

            return self._depending(attempt)
        self._active_reviewer(reviewer)
        existing.revise(ctx, verdict, rationale, reason)
        return self._save(existing)

    def _active_reviewer(self, handle: str) -> None:
        """Refuses a revision by a reviewer who has left the panel.

        A review is its own aggregate, so its revision would not see the
        reviewer's retirement; a withdrawal stays open to them.

        Raises:
            errors.ReviewerRetired: The reviewer is retired.
        """
        self._get(Reviewer, handle, copy=False).check_active()

    def withdraw_review(
        self,
        ctx: Context,
        tool: str,
        reviewer: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        review = self._get(Review, tool, reviewer, expected_version=expected_version)
        review.withdraw(ctx, reason)
        return self._save(review)

    # Comparisons.

    def publish_comparison(
        self, ctx: Context, a: str, b: str, *, question: str
    ) -> Receipt:

        def attempt(cached: bool) -> Receipt:
            tool_a = self._get(Tool, a, copy=False, cached=cached)
            tool_b = self._get(Tool, b, copy=False, cached=cached)
            unchanged = self._unchanged(tool_a, tool_b)
            comparison = Comparison.publish(ctx, tool_a, tool_b, question)
            duplicate = errors.ComparisonAlreadyPublished(
                f"{a!r} and {b!r} are already compared"
            )
            return self._save(comparison, duplicate=duplicate, unchanged=unchanged)

        return self._depending(attempt)

    def edit_comparison(
        self,
        ctx: Context,
        a: str,
        b: str,
        *,
        question: str,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Receipt:
        comparison = self._get(Comparison, a, b, expected_version=expected_version)
        comparison.edit(ctx, question, reason)
        return self._save(comparison)

    def retire_comparison(
        self,
        ctx: Context,
        a: str,
        b: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        comparison = self._get(Comparison, a, b, expected_version=expected_version)
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
        return self.cast(VoteCommand(ctx, voter, choice, tool=tool))

    def cast_comparison_vote(
        self, ctx: Context, voter: str, a: str, b: str, pick: str
    ) -> Receipt:
        """Casts, changes or re-casts ``voter``'s pick in the head-to-head."""
        return self.cast(VoteCommand(ctx, voter, pick, a=a, b=b))

    def cast(self, command: VoteCommand) -> Receipt:
        """Decides one vote as :meth:`decide_vote` does and appends it at once.

        The vote's deterministic id makes the store refuse a second cast by
        the same voter on the same subject. Most votes are first votes, so
        where that refusal is free the vote is decided as a first one without
        reading whether there is one, and decided again, as a change of the
        one the store holds, only if the store refuses it.
        """

        def attempt(cached: bool) -> Receipt:
            if self._create_first:
                first = self._decide_vote(command, cached=cached, first=True)
                receipt = self._save_new(first.vote, first.unchanged)
                if receipt is not None:
                    return receipt
            decision = self._decide_vote(command, cached=cached)
            return self._save(decision.vote, unchanged=decision.unchanged)

        return self._depending(attempt)

    def decide_vote(self, command: VoteCommand) -> VoteDecision:
        """Decides a vote without appending it.

        Refuses, with the ledger's error, what :meth:`cast` would refuse,
        deciding on cached tools and comparisons first, as every command
        does (see :meth:`_depending`).
        """
        return self._depending(lambda cached: self._decide_vote(command, cached=cached))

    def append_votes(self, decisions: Sequence[VoteDecision]) -> list[Receipt]:
        """Appends decided votes in one transaction, in order, or none of them.

        Raises:
            IntegrityError: Another writer appended to one of the votes.
            DependencyChanged: A tool or comparison a decision saw was
                retired or reinstated since.
        """
        oldest: dict[UUID, int] = {}
        for decision in decisions:
            for aggregate_id, version in decision.unchanged:
                oldest[aggregate_id] = min(version, oldest.get(aggregate_id, version))
        votes = [decision.vote for decision in decisions]
        return self._append(*votes, unchanged=list(oldest.items()))

    def _decide_vote(
        self, command: VoteCommand, *, cached: bool, first: bool = False
    ) -> VoteDecision:
        """Checks what the vote is on, then casts or changes the voter's vote.

        ``first`` decides as if the voter had no vote on the subject yet,
        without reading whether there is one.
        """
        checked: tuple[Retirable, ...]
        if command.tool is not None:
            tool = self._get(Tool, command.tool, copy=False, cached=cached)
            checked, subject, allowed = (tool,), tool_subject(tool.slug), VERDICTS
        else:
            comparison = self._get(
                Comparison, command.a, command.b, copy=False, cached=cached
            )
            allowed = (comparison.a, comparison.b)
            tools = (self._get(Tool, s, copy=False, cached=cached) for s in allowed)
            checked, subject = (comparison, *tools), comparison.subject()
        unchanged = self._unchanged(*checked)
        for aggregate in checked:
            aggregate.check_active()
        key = self.voter_key(command.voter)
        ctx = Context(actor=f"voter:{key}", request_id=command.ctx.request_id)
        vote = None if first else self._find(Vote, Vote.id_for(subject, key))
        if vote is None:
            vote = Vote.cast(ctx, subject, key, command.choice, allowed)
        else:
            vote.change(ctx, command.choice, allowed)
        return VoteDecision(vote, unchanged)

    def retract_vote(self, ctx: Context, voter: str, tool: str) -> Receipt:
        self._get(Tool, tool, copy=False)
        return self._retract(ctx, voter, tool_subject(tool))

    def retract_comparison_vote(
        self, ctx: Context, voter: str, a: str, b: str
    ) -> Receipt:
        subject = self._get(Comparison, a, b, copy=False).subject()
        return self._retract(ctx, voter, subject)

    def _retract(self, ctx: Context, voter: str, subject: str) -> Receipt:
        key = self.voter_key(voter)
        vote = self._get(Vote, subject, key)
        vote.retract(Context(actor=f"voter:{key}", request_id=ctx.request_id))
        return self._save(vote)

    # Queries.

    def tool(self, slug: str) -> dict[str, Any]:
        """The tool's current fields, version and retired flag."""
        tool = self._get(Tool, slug, copy=False)
        return {
            "slug": tool.slug,
            **tool.fields,
            "retired": tool.retired,
            "version": tool.version,
        }

    def reviewer(self, handle: str) -> dict[str, Any]:
        reviewer = self._get(Reviewer, handle, copy=False)
        return {
            "handle": reviewer.handle,
            "name": reviewer.name,
            "lens": reviewer.lens,
            "retired": reviewer.retired,
            "version": reviewer.version,
        }

    def review(self, tool: str, reviewer: str) -> dict[str, Any]:
        review = self._get(Review, tool, reviewer, copy=False)
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
        comparison = self._get(Comparison, a, b, copy=False)
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
        return self._get(Vote, subject, self.voter_key(voter), copy=False).version

    def head_position(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0
