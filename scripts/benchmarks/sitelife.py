"""A plausible life of the site, as a log: the benchmarks' generated ledgers.

Builds the real aggregates in memory with the real domain classes, so every
event is one the ledger could have appended (the domain refuses what it would
refuse live), maps them with the ledger's own mapper and bulk-inserts them:
appending a million events one command at a time would take the better part
of an hour. The log has tools, a panel, reviews with revisions and
withdrawals, comparisons, and mostly community votes cast, changed and
retracted, with a few tools drawing most of the attention.

Events are stamped by a simulated clock rather than the wall clock, so that
a generated log spans about two years whatever its length, as a real one
would: read models and pages that group by time (days, as-of lookups, the
history's dates) then see realistic spreads, not a minute's worth of events.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

INSERT_BATCH = 20_000
"""Stored events per bulk insert."""
START = datetime(2025, 1, 1, tzinfo=UTC)
"""When the simulated clock starts."""
SPAN = timedelta(days=730)
"""About how long a generated log lasts on the simulated clock."""


def generate(home: Path, events: int, seed: int) -> int:
    """Writes a log of about ``events`` events into a fresh ledger at ``home``.

    A ledger at ``home`` that already has events is kept as it is, so that a
    large generated log can be reused across runs (``--home``).

    Returns:
        The number of events in the log.
    """
    from ledger.application import Ledger
    from ledger.settings import Settings

    ledger = Ledger(Settings(home=home))
    try:
        if ledger.head_position():
            return ledger.head_position()
        batch = []
        written = 0
        for domain_event in SiteLife(random.Random(seed)).events(events):
            batch.append(ledger.mapper.to_stored_event(domain_event))
            if len(batch) == INSERT_BATCH:
                ledger.recorder.insert_events(batch)
                written += len(batch)
                batch = []
        if batch:
            ledger.recorder.insert_events(batch)
            written += len(batch)
        return written
    finally:
        ledger.close()


class SiteLife:
    """Drives the real aggregates through a plausible life of the site.

    Args:
        rng: Every choice comes from it, the clock's gaps included, so one
            seed gives one log.
    """

    def __init__(self, rng: random.Random) -> None:
        from ledger import domainmodel, errors, rules
        from ledger.context import Context

        self.refused = errors.LedgerError
        self.rng = rng
        self.dm = domainmodel
        self.verdicts = rules.VERDICTS
        self.lenses = rules.LENSES
        self.Context = Context
        self.tools: list[Any] = []
        self.active: list[Any] = []
        self.reviewers: list[Any] = []
        self.reviews: dict[tuple[str, str], Any] = {}
        self.review_keys: list[tuple[str, str]] = []
        self.comparisons: list[Any] = []
        self.pairs: set[tuple[str, str]] = set()
        self.votes: list[Any] = []
        self.voters = 0
        self.elapsed = 0.0
        """Seconds from :data:`START` to the last event stamped."""
        self.rate = 1.0
        """Events per simulated second, set by :meth:`events` from its total."""

    def ctx(self, actor: str) -> Any:
        return self.Context(actor=actor, request_id=f"r{self.rng.getrandbits(40):x}")

    def events(self, total: int) -> Iterator[Any]:
        """Yields about ``total`` domain events, in the order they happened.

        Stops at the first action that brings the count to ``total`` or past
        it, so a log has ``total`` events or a few more, and its simulated
        clock ends about :data:`SPAN` after :data:`START`.
        """
        self.rate = total / SPAN.total_seconds()
        produced = 0
        n_tools = max(20, total // 2000)
        for index in range(n_tools):
            produced += yield from self._emit(self._register(index))
        for index in range(40):
            reviewer = self.dm.Reviewer.enroll(
                self.ctx("admin"),
                f"reviewer-{index}",
                f"Reviewer {index}",
                self.lenses[index % 4],
            )
            self.reviewers.append(reviewer)
            produced += yield from self._emit(reviewer)
        actions = (
            (self._vote_tool, 55),
            (self._change_vote, 16),
            (self._retract_vote, 6),
            (self._vote_comparison, 14),
            (self._submit_review, 4),
            (self._revise_review, 2),
            (self._withdraw_review, 0.6),
            (self._resubmit_review, 0.4),
            (self._publish_comparison, 0.5),
            (self._edit_tool, 0.4),
            (self._retire_or_reinstate, 0.1),
        )
        choose = self.rng.choices
        functions = [function for function, _ in actions]
        weights = [weight for _, weight in actions]
        while produced < total:
            for action in choose(functions, weights, k=1000):
                try:
                    aggregate = action()
                except self.refused:  # the domain said no, as it would live
                    continue
                if aggregate is not None:
                    produced += yield from self._emit(aggregate)
                    if produced >= total:
                        return

    def _emit(self, aggregate: Any) -> collections.abc.Generator[Any, None, int]:
        """Yields the aggregate's new events, each stamped by the simulated clock.

        The events are frozen dataclasses: a stamped copy replaces each. The
        aggregate keeps its wall-clock ``modified_on``, which no later command
        looks at, so it goes on taking commands as before.
        """
        events = aggregate.collect_events()
        for event in events:
            yield dataclasses.replace(event, timestamp=self._tick())
        return len(events)

    def _tick(self) -> datetime:
        """The next event's time: the clock moves on by a random gap.

        Gaps are exponential (events arrive independently) with a mean of
        :data:`SPAN` over the log's length. The microsecond is never 0:
        msgspec writes the fixed-width ``...HH:MM:SS.ffffffZ`` text, which the
        read side takes without parsing, only when there are microseconds.
        """
        self.elapsed += self.rng.expovariate(self.rate)
        stamp = START + timedelta(seconds=self.elapsed)
        return stamp.replace(microsecond=max(1, stamp.microsecond))

    def _register(self, index: int) -> Any:
        tool = self.dm.Tool.register(
            self.ctx("editor"),
            f"tool-{index}",
            {
                "name": f"Tool {index}",
                "vendor": f"Vendor {index % 97}",
                "category": self.rng.choice(("Developer Tools", "Writing", "Search")),
                "tagline": f"The {index}th tool of the benchmark",
                "description": "An AI tool under review. " * 8,
                "entry": self.rng.choice(("Free", "$10/month", "$20/month")),
                "license": self.rng.choice(("Apache 2.0", "Proprietary", "MIT")),
            },
        )
        self.tools.append(tool)
        self.active.append(tool)
        return tool

    def _tool(self) -> Any:
        # Popular tools get most of the attention.
        return self.active[int(len(self.active) * self.rng.random() ** 2)]

    def _vote_tool(self) -> Any:
        self.voters += 1
        tool = self._tool()
        vote = self.dm.Vote.cast(
            self.ctx("voter"),
            f"tool:{tool.slug}",
            f"{self.voters:032x}",
            self.rng.choice(self.verdicts),
            self.verdicts,
        )
        return self._keep(vote)

    def _vote_comparison(self) -> Any:
        if not self.comparisons:
            return None
        self.voters += 1
        comparison = self.rng.choice(self.comparisons)
        options = (comparison.a, comparison.b)
        vote = self.dm.Vote.cast(
            self.ctx("voter"),
            comparison.subject(),
            f"{self.voters:032x}",
            self.rng.choice(options),
            options,
        )
        return self._keep(vote)

    def _keep(self, vote: Any) -> Any:
        if len(self.votes) < 50_000:
            self.votes.append(vote)
        else:
            self.votes[self.rng.randrange(len(self.votes))] = vote
        return vote

    def _options(self, vote: Any) -> tuple[str, ...]:
        if vote.subject.startswith("tool:"):
            return self.verdicts
        return tuple(vote.subject.partition(":")[2].split("/"))

    def _change_vote(self) -> Any:
        if not self.votes:
            return None
        vote = self.rng.choice(self.votes)
        options = self._options(vote)
        choice = next(option for option in options if option != vote.choice)
        vote.change(self.ctx("voter"), choice, options)
        return vote

    def _retract_vote(self) -> Any:
        if not self.votes:
            return None
        vote = self.rng.choice(self.votes)
        if vote.choice is None:
            return None
        vote.retract(self.ctx("voter"))
        return vote

    def _submit_review(self) -> Any:
        tool = self._tool()
        reviewer = self.rng.choice(self.reviewers)
        key = (tool.slug, reviewer.handle)
        if key in self.reviews:
            return None
        review = self.dm.Review.submit(
            self.ctx(f"reviewer:{reviewer.handle}"),
            tool,
            reviewer,
            self.rng.choice(self.verdicts),
            "A considered rationale. " * 10,
        )
        self.reviews[key] = review
        self.review_keys.append(key)
        return review

    def _some_review(self, *, withdrawn: bool) -> Any:
        if not self.review_keys:
            return None
        review = self.reviews[self.rng.choice(self.review_keys)]
        if review.withdrawn != withdrawn or review.tool not in self._active_slugs():
            return None
        return review

    def _active_slugs(self) -> set[str]:
        return {tool.slug for tool in self.active}

    def _revise_review(self) -> Any:
        review = self._some_review(withdrawn=False)
        if review is None:
            return None
        verdict = "skip" if review.verdict == "ship" else "ship"
        review.revise(
            self.ctx(f"reviewer:{review.reviewer}"),
            verdict,
            review.rationale + " Revised.",
            "new evidence",
        )
        return review

    def _withdraw_review(self) -> Any:
        review = self._some_review(withdrawn=False)
        if review is None:
            return None
        review.withdraw(self.ctx(f"reviewer:{review.reviewer}"), "conflict of interest")
        return review

    def _resubmit_review(self) -> Any:
        review = self._some_review(withdrawn=True)
        if review is None:
            return None
        tool = next(t for t in self.active if t.slug == review.tool)
        reviewer = next(r for r in self.reviewers if r.handle == review.reviewer)
        review.resubmit(
            self.ctx(f"reviewer:{review.reviewer}"),
            tool,
            reviewer,
            self.rng.choice(self.verdicts),
            "Back with a fresh look. " * 5,
            "conflict resolved",
        )
        return review

    def _publish_comparison(self) -> Any:
        a, b = self.rng.sample(self.active, 2)
        key = self.dm.pair(a.slug, b.slug)
        if key in self.pairs or len(self.comparisons) >= 3 * len(self.tools):
            return None
        comparison = self.dm.Comparison.publish(
            self.ctx("editor"), a, b, f"{a.slug} or {b.slug}?"
        )
        self.pairs.add(key)
        self.comparisons.append(comparison)
        return comparison

    def _edit_tool(self) -> Any:
        tool = self.rng.choice(self.active)
        tool.edit(
            self.ctx("editor"),
            {"entry": f"${self.rng.randrange(5, 50)}/month"},
            "pricing changed",
        )
        return tool

    def _retire_or_reinstate(self) -> Any:
        retired = [tool for tool in self.tools if tool.retired]
        if retired and self.rng.random() < 0.7:
            tool = self.rng.choice(retired)
            tool.reinstate(self.ctx("editor"), "back on the market")
            self.active.append(tool)
            return tool
        if len(self.active) <= 10:
            return None
        tool = self.rng.choice(self.active)
        tool.retire(self.ctx("editor"), "discontinued")
        self.active.remove(tool)
        return tool
