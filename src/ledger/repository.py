"""How the ledger's commands load aggregates and append what they decide.

:class:`LedgerApplication` is eventsourcing's ``Application`` configured for
the ledger (msgspec encoding, the aggregate cache, conditional appends) with
the few mechanics every command shares: loading an aggregate by its natural
key, checking an expected version, deciding again on fresh state when a
cached one may have misled, appending as one durable transaction and waking
the log's followers in this process. The commands themselves are in
:mod:`ledger.application`.
"""

from __future__ import annotations

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
from ledger.conditional_appends import ConditionalAppends, DependencyChanged, Unchanged
from ledger.domainmodel import (
    Comparison,
    LedgerAggregate,
    Review,
    Reviewer,
    Tool,
    Vote,
)
from ledger.personal_data import Sealer, open_keyring
from ledger.settings import Settings

A = TypeVar("A")
L = TypeVar("L", bound=LedgerAggregate)
T = TypeVar("T")
Listener = Callable[[int], None]

ATTEMPTS = 3
"""How often a command reruns when an aggregate it decided on moved on."""

DECISIVE_TOPICS = frozenset(
    get_topic(event)
    for event in (Tool.Retired, Tool.Reinstated, Reviewer.Retired, Comparison.Retired)
)
"""Events that can change whether a vote, review or comparison may be recorded."""

NAMES: dict[type[LedgerAggregate], tuple[type[errors.NotFound], Callable[..., str]]] = {
    Tool: (errors.ToolNotFound, lambda slug: f"tool {slug!r}"),
    Reviewer: (errors.ReviewerNotFound, lambda handle: f"reviewer {handle!r}"),
    Review: (
        errors.ReviewNotFound,
        lambda tool, reviewer: f"review of {tool!r} by {reviewer!r}",
    ),
    Comparison: (
        errors.ComparisonNotFound,
        lambda a, b: f"comparison of {a!r} and {b!r}",
    ),
    Vote: (errors.VoteNotFound, lambda subject, _: f"vote on {subject} by this voter"),
}
"""Per kind, by natural key: the error when there is none, and how errors name one."""


@dataclass(frozen=True)
class Receipt:
    """What a command appended: the aggregate, its new version, the log position."""

    id: UUID
    version: int
    position: int


class LedgerApplication(Application[UUID]):
    """The event-sourced application under the ledger's commands."""

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
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        merged = {**self.settings.eventsourcing_env(), **(env or {})}
        self.keyring = open_keyring(self.settings, merged)
        self.sealer = Sealer(self.keyring)
        super().__init__(env=merged)
        self._conditional = isinstance(self.recorder, ConditionalAppends)
        if isinstance(self.recorder, ConditionalAppends):
            self.recorder.decisive_topics = DECISIVE_TOPICS
        # Creating a vote or review first, and loading the one there is only
        # if the store refuses the duplicate id, is one round trip less for
        # the common case, a first one. On PostgreSQL the refused insert takes
        # a position (ConditionalAppends.refusals_use_positions), leaving a
        # gap; positions there have gaps anyway.
        self._create_first = self._conditional

    def close(self) -> None:
        super().close()
        self.keyring.close()

    def construct_mapper(self) -> Mapper[UUID]:
        return MsgspecMapper(
            sealer=self.sealer,
            cipher=self.factory.cipher(),
            compressor=self.factory.compressor(),
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

    def _get(
        self,
        cls: type[L],
        *key: str,
        expected_version: int | None = None,
        copy: bool = True,
        cached: bool = False,
    ) -> L:
        """The aggregate of ``cls`` with natural ``key``, as :meth:`_find` loads it.

        Raises:
            errors.NotFound: The kind's own, when none was ever recorded.
            errors.StaleVersion: It is not at ``expected_version``, if given.
        """
        aggregate = self._find(cls, cls.id_for(*key), copy=copy, cached=cached)
        missing, name = NAMES[cls]
        if aggregate is None:
            raise missing(f"no {name(*key)}")
        if expected_version is not None and aggregate.version != expected_version:
            raise errors.StaleVersion(name(*key), expected_version, aggregate.version)
        return aggregate

    def _unchanged(self, *aggregates: Any) -> Unchanged:
        """The versions a command saw of what it decided on, to append against.

        Read before the command checks anything: if a cached aggregate is
        fast-forwarded meanwhile, the version is older than the state checked
        and the append is refused, never the other way round.
        """
        if not self._conditional:
            return ()
        return [(aggregate.id, aggregate.version) for aggregate in aggregates]

    def _depending(self, attempt: Callable[[bool], T]) -> T:
        """Runs a command whose events depend on other aggregates' state.

        A vote depends on its tool being active, a review on its tool and
        reviewer. ``attempt(cached)`` decides, on cached aggregates when
        ``cached``, and appends only if those aggregates are still at the
        versions it saw (or only decides, leaving the append to its caller).
        A cached aggregate may be behind the store both ways: an acceptance
        made on it is caught by that condition, and a refusal made on it is
        decided again on fresh aggregates, so that what a command answers
        never depends on how current the cache was (a vote on a tool retired
        elsewhere is refused as such, not for its choice). A lost race is
        answered as it is. Without conditional appends (a recorder other
        than the ledger's) every attempt reads fresh aggregates, as
        eventsourcing always does.
        """
        if self._conditional:
            try:
                return attempt(True)
            except errors.ConcurrencyConflict:
                raise
            except (DependencyChanged, errors.LedgerError):
                pass
        for _ in range(ATTEMPTS):
            try:
                return attempt(False)
            except DependencyChanged:
                continue
        msg = "what this command depends on kept changing; try again"
        raise errors.ConcurrencyConflict(msg)

    def _append(self, *aggregates: Any, unchanged: Unchanged = ()) -> list[Receipt]:
        """Records the aggregates' pending events in one transaction, in order.

        This is :meth:`Application.save` without its runtime protocol checks
        of what was passed (a large share of a vote's CPU time; see
        docs/PERFORMANCE.md) and without the deprecated ``notify`` hook; it
        also wakes the log's followers in this process. ``unchanged`` makes
        the append conditional (see :mod:`ledger.conditional_appends`).
        """
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        if unchanged:
            processing.saved_kwargs["unchanged"] = unchanged
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        positions = {
            recording.domain_event.originator_id: recording.notification.id
            for recording in recordings
        }
        return [
            Receipt(aggregate.id, aggregate.version, positions[aggregate.id])
            for aggregate in aggregates
        ]

    def _save_new(self, aggregate: Any, unchanged: Unchanged = ()) -> Receipt | None:
        """Appends a new aggregate; None if its id is already in the store."""
        try:
            return self._append(aggregate, unchanged=unchanged)[0]
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
            return self._append(aggregate, unchanged=unchanged)[0]
        except IntegrityError as error:
            if duplicate is not None:
                raise duplicate from error
            msg = (
                f"{type(aggregate).__name__} {aggregate.id} was changed by another "
                "writer; reload and try again"
            )
            raise errors.ConcurrencyConflict(msg) from error
