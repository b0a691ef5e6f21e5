"""A ledger whose events happen at set times across three ISO weeks, for digests.

Weeks 2026-W47 (16-22 November), W48 (23-29 November) and W49 (from 30
November). Each event's timestamp is set before it is stored, as the
benchmark's simulated site does, so the weeks' boundaries can be tested to
the microsecond: the last microsecond of W47 and the first instant of W48
(written without microseconds, the form the read side parses rather than
slices).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger import domainmodel as dm
from ledger.application import Ledger
from ledger.context import Context
from ledger.rules import VERDICTS

CTX = Context(actor="editor:test", request_id="digest")
W47 = datetime(2026, 11, 16, tzinfo=UTC)
W48 = W47 + timedelta(days=7)
W49 = W48 + timedelta(days=7)
TICK = timedelta(microseconds=1)
HOSTILE = '<script>alert("x")</script> & Co'
"""The name of one tool: pages and mails must show it as text."""

FIELDS = {
    "vendor": "Acme",
    "category": "Developer Tools",
    "tagline": "Does things",
    "description": "It does things well.",
    "entry": "Free",
    "license": "MIT",
}


class Script:
    """Builds domain events and stamps each with the time it is said to happen."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.tools: dict[str, dm.Tool] = {}
        self.reviewers: dict[str, dm.Reviewer] = {}
        self.reviews: dict[tuple[str, str], dm.Review] = {}
        self.votes: dict[tuple[str, str], dm.Vote] = {}

    def at(self, when: datetime, *aggregates: Any) -> None:
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                self.events.append(dataclasses.replace(event, timestamp=when))

    def register(self, when: datetime, slug: str, name: str) -> None:
        tool = self.tools[slug] = dm.Tool.register(CTX, slug, {**FIELDS, "name": name})
        self.at(when, tool)

    def enroll(self, when: datetime, handle: str) -> None:
        reviewer = dm.Reviewer.enroll(CTX, handle, handle.title(), "builder")
        self.reviewers[handle] = reviewer
        self.at(when, reviewer)

    def review(self, when: datetime, tool: str, reviewer: str, verdict: str) -> None:
        review = self.reviews.get((tool, reviewer))
        if review is None:
            review = dm.Review.submit(
                CTX, self.tools[tool], self.reviewers[reviewer], verdict, "Because."
            )
            self.reviews[tool, reviewer] = review
        else:
            review.revise(CTX, verdict, f"Now {verdict}.", "new facts")
        self.at(when, review)

    def vote(self, when: datetime, tool: str, voter: str, choice: str) -> None:
        vote = self.votes.get((tool, voter))
        if vote is None:
            vote = dm.Vote.cast(CTX, f"tool:{tool}", f"{voter:0>32}", choice, VERDICTS)
            self.votes[tool, voter] = vote
        else:
            vote.change(CTX, choice, VERDICTS)
        self.at(when, vote)

    def publish(self, when: datetime, a: str, b: str, question: str) -> None:
        comparison = dm.Comparison.publish(CTX, self.tools[a], self.tools[b], question)
        self.at(when, comparison)


def three_weeks() -> Script:
    """The events of the three weeks, in the order they happen.

    W47: three tools, three reviewers, alpha reviewed ship twice, five votes
    on each tool (alpha 5-0, beta 3-2, gamma 5-0), and alpha vs beta
    published in its last microsecond.

    W48: beta vs the hostile tool published in its first instant; ada turns
    alpha to skip (2-0 to 1-1), cy reviews gamma ship (0-0 to 1-0) and, in
    the week's last microsecond, bob reviews beta skip (0-0 to 0-1); three
    alpha voters turn to skip (5-0 to 2-3), five new ship votes on beta (3-2
    to 8-2), one gamma voter turns to skip (5-0 to 4-1), and a tool
    registered this week gets its first vote (no swing from nothing).

    W49: alpha vs gamma published and cy reviews beta, in its first microsecond.
    """
    script = Script()
    day = W47 + timedelta(hours=10)
    script.register(day, "alpha", "Alpha")
    script.register(day, "beta", "Beta")
    script.register(day, "gamma", HOSTILE)
    for handle in ("ada", "bob", "cy"):
        script.enroll(day, handle)
    day += timedelta(days=1)
    script.review(day, "alpha", "ada", "ship")
    script.review(day, "alpha", "bob", "ship")
    for n in range(5):
        script.vote(day, "alpha", f"a{n}", "ship")
        script.vote(day, "beta", f"b{n}", "ship" if n < 3 else "skip")
        script.vote(day, "gamma", f"g{n}", "ship")
    script.publish(W48 - TICK, "alpha", "beta", "Which one ships?")

    script.publish(W48, "beta", "gamma", "Beta or <the other>?")
    day = W48 + timedelta(days=2)
    script.review(day, "alpha", "ada", "skip")
    script.review(day, "gamma", "cy", "ship")
    for n in range(3):
        script.vote(day, "alpha", f"a{n}", "skip")
    for n in range(5, 10):
        script.vote(day, "beta", f"b{n}", "ship")
    script.vote(day, "gamma", "g0", "skip")
    script.register(day, "delta", "Delta")
    script.vote(day, "delta", "d0", "ship")
    script.review(W49 - TICK, "beta", "bob", "skip")

    script.publish(W49 + TICK, "alpha", "gamma", "Alpha or gamma?")
    script.review(W49 + TICK, "beta", "cy", "skip")
    return script


def store(ledger: Ledger, script: Script) -> None:
    """Appends the script's events to the log, stamped as they are."""
    ledger.recorder.insert_events(
        [ledger.mapper.to_stored_event(event) for event in script.events]
    )
