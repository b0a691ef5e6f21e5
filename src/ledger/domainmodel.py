"""The aggregates of the ledger and the past-tense events that change them.

Each aggregate's id is derived from its natural key with uuid5, so a second
"register" of the same slug, a second review by the same reviewer of the same
tool, or a second vote by the same voter on the same subject collides on
``(originator_id, version 1)`` and the event store itself refuses it.

Every event carries ``actor``, ``reason`` and ``request_id`` besides the id,
version and timestamp that eventsourcing records.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Self
from uuid import NAMESPACE_DNS, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger import errors, rules
from ledger.context import Context
from ledger.personal_data import reviewer_person

NAMESPACE = uuid5(NAMESPACE_DNS, "verdict-ledger.ids")


@lru_cache(maxsize=4096)  # tools and reviewers are looked up on every vote
def derive_id(kind: str, *key: str) -> UUID:
    """The deterministic id of the aggregate of ``kind`` with natural ``key``."""
    return uuid5(NAMESPACE, "/".join((kind, *key)))


def pair(a: str, b: str) -> tuple[str, str]:
    """The order-free key of a pair of tools."""
    return (a, b) if a <= b else (b, a)


def tool_subject(slug: str) -> str:
    """What a ship/skip vote on a tool is about, as votes record it."""
    return f"tool:{slug}"


def comparison_subject(a: str, b: str) -> str:
    """What a head-to-head pick is about, whichever order the pair is named in."""
    return "comparison:" + "/".join(pair(a, b))


class LedgerAggregate(Aggregate):
    """Base aggregate whose events say who acted, why, and in which request."""

    kind: ClassVar[str]
    """The aggregate's kind, part of its id: renaming it would change every id."""

    class Event(Aggregate.Event):
        actor: str
        reason: str
        request_id: str

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def id_for(cls, *key: str) -> UUID:
        """The id of the aggregate of this kind with natural ``key``."""
        return derive_id(cls.kind, *key)

    @classmethod
    def _start(
        cls, event_class: type[Any], aggregate_id: UUID, ctx: Context, **fields: Any
    ) -> Self:
        fields.setdefault("reason", "")
        return cls._create(
            event_class,
            id=aggregate_id,
            actor=ctx.actor,
            request_id=ctx.request_id,
            **fields,
        )

    def _record(self, event_class: type[Any], ctx: Context, **fields: Any) -> None:
        fields.setdefault("reason", "")
        self.trigger_event(
            event_class, actor=ctx.actor, request_id=ctx.request_id, **fields
        )


class Retirable(LedgerAggregate):
    """An aggregate that can be retired, after which it takes nothing new.

    Each subclass defines its own ``Retired`` event, so that the stored topic
    names the subclass, and the error a retired one refuses with.
    """

    if TYPE_CHECKING:  # set by the events' apply methods
        retired: bool
        Retired: type[LedgerAggregate.Event]

    retired_error: ClassVar[type[errors.Conflict]]

    def retire(self, ctx: Context, reason: str) -> None:
        self.check_active()
        why = rules.reason(reason, required=True, what=f"retiring a {self.kind}")
        self._record(self.Retired, ctx, reason=why)

    def check_active(self) -> None:
        if self.retired:
            raise self.retired_error(self.retired_message())

    def retired_message(self) -> str:
        """What a refusal says about this retired aggregate."""
        raise NotImplementedError


def _changed_fields(
    current: Mapping[str, str], proposed: Mapping[str, str]
) -> dict[str, str]:
    changes = {k: v for k, v in proposed.items() if current.get(k) != v}
    if not changes:
        msg = "the edit changes nothing"
        raise errors.NothingChanged(msg)
    return changes


class Tool(Retirable):
    """An AI tool on the site, as its editors describe it."""

    kind = "tool"
    retired_error = errors.ToolRetired

    if TYPE_CHECKING:  # set by the events' apply methods
        slug: str
        fields: dict[str, str]

    class Registered(LedgerAggregate.Created):
        slug: str
        name: str
        vendor: str
        category: str
        tagline: str
        description: str
        entry: str
        license: str

        def apply(self, tool: Tool) -> None:
            tool.slug = self.slug
            tool.fields = {name: getattr(self, name) for name in rules.TOOL_FIELDS}
            tool.retired = False

    class Edited(LedgerAggregate.Event):
        changes: dict[str, str]

        def apply(self, tool: Tool) -> None:
            tool.fields.update(self.changes)

    class Retired(LedgerAggregate.Event):
        def apply(self, tool: Tool) -> None:
            tool.retired = True

    class Reinstated(LedgerAggregate.Event):
        def apply(self, tool: Tool) -> None:
            tool.retired = False

    @classmethod
    def register(cls, ctx: Context, slug: str, fields: Mapping[str, str]) -> Tool:
        rules.slug(slug)
        values = dict.fromkeys(rules.TOOL_FIELDS, "")
        values.update(rules.tool_fields(fields, partial=False))
        return cls._start(cls.Registered, cls.id_for(slug), ctx, slug=slug, **values)

    def edit(self, ctx: Context, changes: Mapping[str, str], reason: str) -> None:
        """Changes some fields; a reason is required where a verdict rests on them."""
        changed = _changed_fields(self.fields, rules.tool_fields(changes, partial=True))
        needs_reason = bool(rules.VERDICT_FIELDS & changed.keys())
        why = rules.reason(
            reason,
            required=needs_reason,
            what="editing " + ", ".join(sorted(rules.VERDICT_FIELDS & changed.keys())),
        )
        self._record(self.Edited, ctx, changes=changed, reason=why)

    def reinstate(self, ctx: Context, reason: str) -> None:
        if not self.retired:
            msg = f"tool {self.slug!r} is not retired"
            raise errors.ToolNotRetired(msg)
        why = rules.reason(reason, required=True, what="reinstating a tool")
        self._record(self.Reinstated, ctx, reason=why)

    def retired_message(self) -> str:
        return f"tool {self.slug!r} is retired and takes no new reviews or votes"


class Reviewer(Retirable):
    """A member of the review panel, who judges tools through one lens."""

    kind = "reviewer"
    retired_error = errors.ReviewerRetired

    if TYPE_CHECKING:  # set by the events' apply methods
        handle: str
        name: str
        lens: str

    class Enrolled(LedgerAggregate.Created):
        handle: str
        name: str
        lens: str
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("name",)

        def apply(self, reviewer: Reviewer) -> None:
            reviewer.handle = self.handle
            reviewer.name = self.name
            reviewer.lens = self.lens
            reviewer.retired = False

    class ProfileEdited(LedgerAggregate.Event):
        changes: dict[str, str]
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("changes.name",)

        def apply(self, reviewer: Reviewer) -> None:
            for name, value in self.changes.items():
                setattr(reviewer, name, value)

    class Retired(LedgerAggregate.Event):
        def apply(self, reviewer: Reviewer) -> None:
            reviewer.retired = True

    @classmethod
    def enroll(cls, ctx: Context, handle: str, name: str, lens: str) -> Reviewer:
        rules.slug(handle, "handle")
        return cls._start(
            cls.Enrolled,
            cls.id_for(handle),
            ctx,
            handle=handle,
            name=rules.text(name, "name", rules.MAX_NAME),
            lens=rules.lens(lens),
            person=reviewer_person(handle),
        )

    def edit_profile(
        self, ctx: Context, changes: Mapping[str, str], reason: str
    ) -> None:
        """Renames the reviewer or changes the lens; a new lens must be explained.

        A retired reviewer's profile stays as it was when they left.
        """
        self.check_active()
        unknown = set(changes) - set(rules.REVIEWER_FIELDS)
        if unknown:
            msg = f"unknown reviewer field(s): {', '.join(sorted(unknown))}"
            raise errors.InvalidField(msg)
        proposed = {}
        if "name" in changes:
            proposed["name"] = rules.text(changes["name"], "name", rules.MAX_NAME)
        if "lens" in changes:
            proposed["lens"] = rules.lens(changes["lens"])
        changed = _changed_fields({"name": self.name, "lens": self.lens}, proposed)
        why = rules.reason(
            reason, required="lens" in changed, what="changing a reviewer's lens"
        )
        self._record(
            self.ProfileEdited,
            ctx,
            changes=changed,
            reason=why,
            person=reviewer_person(self.handle),
        )

    def retired_message(self) -> str:
        return f"reviewer {self.handle!r} is retired"


class Review(LedgerAggregate):
    """One reviewer's verdict on one tool, with every revision kept."""

    kind = "review"

    if TYPE_CHECKING:  # set by the events' apply methods
        tool: str
        reviewer: str
        verdict: str
        rationale: str
        withdrawn: bool
        revisions: int
        person: str

    class Submitted(LedgerAggregate.Created):
        tool: str
        reviewer: str
        verdict: str
        rationale: str
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("rationale",)

        # Version 1 stored the verdict as a boolean ``ship``.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["verdict"] = "ship" if state.pop("ship") else "skip"

        def apply(self, review: Review) -> None:
            review.tool = self.tool
            review.reviewer = self.reviewer
            review.person = self.person or reviewer_person(self.reviewer)
            review.verdict = self.verdict
            review.rationale = self.rationale
            review.withdrawn = False
            review.revisions = 0

    class Revised(LedgerAggregate.Event):
        verdict: str
        rationale: str
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("rationale", "reason")

        def apply(self, review: Review) -> None:
            review.verdict = self.verdict
            review.rationale = self.rationale
            review.revisions += 1

    class Withdrawn(LedgerAggregate.Event):
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("reason",)

        def apply(self, review: Review) -> None:
            review.withdrawn = True

    class Resubmitted(LedgerAggregate.Event):
        verdict: str
        rationale: str
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("rationale", "reason")

        def apply(self, review: Review) -> None:
            review.verdict = self.verdict
            review.rationale = self.rationale
            review.withdrawn = False
            review.revisions += 1

    @classmethod
    def submit(
        cls, ctx: Context, tool: Tool, reviewer: Reviewer, verdict: str, rationale: str
    ) -> Review:
        tool.check_active()
        reviewer.check_active()
        return cls._start(
            cls.Submitted,
            cls.id_for(tool.slug, reviewer.handle),
            ctx,
            tool=tool.slug,
            reviewer=reviewer.handle,
            verdict=rules.verdict(verdict),
            rationale=rules.rationale(rationale),
            person=reviewer_person(reviewer.handle),
        )

    def revise(self, ctx: Context, verdict: str, rationale: str, reason: str) -> None:
        """Changes the verdict and/or rationale of a live review, saying why."""
        self.check_live()
        verdict = rules.verdict(verdict)
        rationale = rules.rationale(rationale)
        if (verdict, rationale) == (self.verdict, self.rationale):
            msg = "the revision changes neither verdict nor rationale"
            raise errors.NothingChanged(msg)
        why = rules.reason(reason, required=True, what="revising a review")
        self._record(
            self.Revised,
            ctx,
            verdict=verdict,
            rationale=rationale,
            reason=why,
            person=self.person,
        )

    def withdraw(self, ctx: Context, reason: str) -> None:
        self.check_live()
        why = rules.reason(reason, required=True, what="withdrawing a review")
        self._record(self.Withdrawn, ctx, reason=why, person=self.person)

    def resubmit(
        self,
        ctx: Context,
        tool: Tool,
        reviewer: Reviewer,
        verdict: str,
        rationale: str,
        reason: str,
    ) -> None:
        """Brings a withdrawn review back, as a new verdict on a live tool."""
        if not self.withdrawn:
            msg = (
                f"{self.reviewer!r} already has a live review of {self.tool!r}; "
                "revise it instead"
            )
            raise errors.ReviewAlreadySubmitted(msg)
        tool.check_active()
        reviewer.check_active()
        self._record(
            self.Resubmitted,
            ctx,
            verdict=rules.verdict(verdict),
            rationale=rules.rationale(rationale),
            reason=rules.reason(reason, required=False),
            person=self.person,
        )

    def check_live(self) -> None:
        if self.withdrawn:
            msg = f"the review of {self.tool!r} by {self.reviewer!r} is withdrawn"
            raise errors.ReviewWithdrawn(msg)


class Comparison(Retirable):
    """A head-to-head of two registered tools, with the question it answers."""

    kind = "comparison"
    retired_error = errors.ComparisonRetired

    if TYPE_CHECKING:  # set by the events' apply methods
        a: str
        b: str
        question: str

    class Published(LedgerAggregate.Created):
        a: str
        b: str
        question: str

        def apply(self, comparison: Comparison) -> None:
            comparison.a = self.a
            comparison.b = self.b
            comparison.question = self.question
            comparison.retired = False

    class Edited(LedgerAggregate.Event):
        question: str

        def apply(self, comparison: Comparison) -> None:
            comparison.question = self.question

    class Retired(LedgerAggregate.Event):
        def apply(self, comparison: Comparison) -> None:
            comparison.retired = True

    @classmethod
    def id_for(cls, *key: str) -> UUID:
        """The same id whichever way round the pair is named."""
        a, b = key
        return super().id_for(*pair(a, b))

    @classmethod
    def publish(cls, ctx: Context, a: Tool, b: Tool, question: str) -> Comparison:
        if a.slug == b.slug:
            msg = f"a comparison needs two distinct tools, not {a.slug!r} twice"
            raise errors.SameTool(msg)
        a.check_active()
        b.check_active()
        return cls._start(
            cls.Published,
            cls.id_for(a.slug, b.slug),
            ctx,
            a=a.slug,
            b=b.slug,
            question=rules.text(question, "question", rules.MAX_NAME),
        )

    def edit(self, ctx: Context, question: str, reason: str) -> None:
        self.check_active()
        question = rules.text(question, "question", rules.MAX_NAME)
        if question == self.question:
            msg = "the edit changes nothing"
            raise errors.NothingChanged(msg)
        self._record(
            self.Edited,
            ctx,
            question=question,
            reason=rules.reason(reason, required=False),
        )

    def retired_message(self) -> str:
        return f"the comparison of {self.a!r} and {self.b!r} is retired"

    def subject(self) -> str:
        return comparison_subject(self.a, self.b)


class Vote(LedgerAggregate):
    """One community voter's vote on one subject: a tool, or a head-to-head.

    ``voter`` is a keyed hash of the voter's identity, never the identity.
    """

    kind = "vote"

    if TYPE_CHECKING:  # set by the events' apply methods
        subject: str
        voter: str
        choice: str | None

    class Cast(LedgerAggregate.Created):
        subject: str
        voter: str
        choice: str

        def apply(self, vote: Vote) -> None:
            vote.subject = self.subject
            vote.voter = self.voter
            vote.choice = self.choice

    class Changed(LedgerAggregate.Event):
        choice: str

        def apply(self, vote: Vote) -> None:
            vote.choice = self.choice

    class Retracted(LedgerAggregate.Event):
        def apply(self, vote: Vote) -> None:
            vote.choice = None

    @staticmethod
    def check_choice(choice: str, allowed: tuple[str, ...]) -> str:
        if choice not in allowed:
            msg = f"choice must be one of {', '.join(allowed)}, not {choice!r}"
            raise errors.InvalidChoice(msg)
        return choice

    @classmethod
    def cast(
        cls,
        ctx: Context,
        subject: str,
        voter: str,
        choice: str,
        allowed: tuple[str, ...],
    ) -> Vote:
        return cls._start(
            cls.Cast,
            cls.id_for(subject, voter),
            ctx,
            subject=subject,
            voter=voter,
            choice=cls.check_choice(choice, allowed),
        )

    def change(self, ctx: Context, choice: str, allowed: tuple[str, ...]) -> None:
        """Changes the choice, or casts again after a retraction."""
        choice = self.check_choice(choice, allowed)
        if choice == self.choice:
            msg = f"the vote is already {choice!r}"
            raise errors.NothingChanged(msg)
        self._record(self.Changed, ctx, choice=choice)

    def retract(self, ctx: Context) -> None:
        if self.choice is None:
            msg = "the vote is already retracted"
            raise errors.VoteRetracted(msg)
        self._record(self.Retracted, ctx)
