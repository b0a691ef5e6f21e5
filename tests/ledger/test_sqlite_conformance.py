"""eventsourcing's own test cases, run against the ledger's SQLite event store.

The ledger's recorders are eventsourcing recorders, so the library's
conformance cases are their contract: the recorder cases of
``eventsourcing.tests.persistence`` and the application cases of
``eventsourcing.tests.application``, run the way eventsourcing's own
repository runs them on its SQLite recorders (tests/persistence_tests/
test_sqlite.py, test_noninterleaving_notification_ids.py, tests/
application_tests/test_application_with_sqlite.py), on a file and in
memory. Every case runs twice: as eventsourcing calls the recorder, and with
a recorder that sends every append through the conditional path
(:class:`~tests.ledger.helpers.AlwaysConditional`), so both of the ledger's
ways of appending meet the contract.

The base cases are reached through their module, never imported by name:
pytest collects every ``TestCase`` in a module's namespace, the abstract
ones included.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any, ClassVar
from unittest import TestCase

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
)
from eventsourcing.tests import application, persistence
from eventsourcing.utils import get_topic

from ledger.conditional_appends import ConditionalAppends
from ledger.sqlite_recorder import (
    LedgerSQLiteAggregateRecorder,
    LedgerSQLiteApplicationRecorder,
    LedgerSQLiteFactory,
    LedgerSQLiteProcessRecorder,
)

from .helpers import AlwaysConditional, own_threads_joined, set_environment

pytestmark = pytest.mark.sqlite_only(
    "eventsourcing's cases on the SQLite recorders; test_postgres_conformance.py"
    " runs them on PostgreSQL's"
)


class ConditionalAggregateRecorder(AlwaysConditional, LedgerSQLiteAggregateRecorder):
    pass


class ConditionalApplicationRecorder(
    AlwaysConditional, LedgerSQLiteApplicationRecorder
):
    pass


class ConditionalProcessRecorder(AlwaysConditional, LedgerSQLiteProcessRecorder):
    pass


class AlwaysConditionalFactory(LedgerSQLiteFactory):
    """The ledger's factory, with recorders that append only conditionally."""

    aggregate_recorder_class = ConditionalAggregateRecorder
    application_recorder_class = ConditionalApplicationRecorder
    process_recorder_class = ConditionalProcessRecorder


class OnFile(TestCase):
    """The store in a file of a temporary directory, as the ledger keeps it."""

    factory_class: ClassVar[type[LedgerSQLiteFactory]] = LedgerSQLiteFactory

    def db_name(self) -> str:
        directory = self.enterContext(tempfile.TemporaryDirectory())
        return os.path.join(directory, "events.sqlite")


class InMemory(OnFile):
    """A private in-memory database: one connection, which appends share."""

    def db_name(self) -> str:
        return ":memory:"


class InSharedMemory(OnFile):
    """An in-memory database all connections of the process share."""

    def db_name(self) -> str:
        return f"file:ledger-{uuid.uuid4().hex}?mode=memory&cache=shared"


class Conditional:
    factory_class = AlwaysConditionalFactory


class Recorders(OnFile):
    def factory(self) -> LedgerSQLiteFactory:
        factory = self.factory_class({"SQLITE_DBNAME": self.db_name()})
        self.addCleanup(factory.close)
        self.enterContext(own_threads_joined())  # exits first
        return factory

    def created(self, recorder: Any) -> Any:
        assert isinstance(recorder, ConditionalAppends)
        return recorder


class Aggregates(Recorders):
    def create_recorder(self) -> AggregateRecorder:
        return self.created(self.factory().aggregate_recorder("snapshots"))


class Applications(Recorders):
    def create_recorder(self) -> ApplicationRecorder:
        return self.created(self.factory().application_recorder())


class Processes(Recorders):
    def create_recorder(self) -> ProcessRecorder:
        return self.created(self.factory().process_recorder())


class TestAggregateRecorder(Aggregates, persistence.AggregateRecorderTestCase):
    pass


class TestAggregateRecorderInMemory(
    InMemory, Aggregates, persistence.AggregateRecorderTestCase
):
    pass


class TestConditionalAggregateRecorder(
    Conditional, Aggregates, persistence.AggregateRecorderTestCase
):
    pass


class TestApplicationRecorder(Applications, persistence.ApplicationRecorderTestCase):
    pass


class TestApplicationRecorderInMemory(
    InMemory, Applications, persistence.ApplicationRecorderTestCase
):
    pass


class TestConditionalApplicationRecorder(
    Conditional, Applications, persistence.ApplicationRecorderTestCase
):
    pass


class TestConditionalApplicationRecorderInMemory(
    Conditional, InMemory, Applications, persistence.ApplicationRecorderTestCase
):
    pass


class TestProcessRecorder(Processes, persistence.ProcessRecorderTestCase):
    pass


class TestProcessRecorderInMemory(
    InMemory, Processes, persistence.ProcessRecorderTestCase
):
    pass


class TestConditionalProcessRecorder(
    Conditional, Processes, persistence.ProcessRecorderTestCase
):
    pass


class TestNonInterleavingNotificationIDs(
    Applications, persistence.NonInterleavingNotificationIDsBaseCase
):
    insert_num = 10000  # as eventsourcing runs it on SQLite


class TestConditionalNonInterleavingNotificationIDs(
    Conditional, Applications, persistence.NonInterleavingNotificationIDsBaseCase
):
    insert_num = 10000


class WithFactoryInEnvironment(OnFile):
    """Selects the ledger's factory where eventsourcing applications read it."""

    @property
    def expected_factory_topic(self) -> str:  # read by ExampleApplicationTestCase
        return get_topic(self.factory_class)

    def setUp(self) -> None:
        super().setUp()
        variables = {
            "PERSISTENCE_MODULE": get_topic(self.factory_class),
            "CREATE_TABLE": "y",
            "SQLITE_DBNAME": self.db_name(),
        }
        set_environment(self, variables)


class TestApplication(WithFactoryInEnvironment, application.ApplicationTestCase):
    pass


class TestApplicationInMemory(
    InSharedMemory, WithFactoryInEnvironment, application.ApplicationTestCase
):
    pass


class TestApplicationConditional(
    Conditional, WithFactoryInEnvironment, application.ApplicationTestCase
):
    pass


class TestExampleApplication(
    WithFactoryInEnvironment, application.ExampleApplicationTestCase
):
    pass


class TestExampleApplicationInMemory(
    InSharedMemory, WithFactoryInEnvironment, application.ExampleApplicationTestCase
):
    pass


class TestExampleApplicationConditional(
    Conditional, WithFactoryInEnvironment, application.ExampleApplicationTestCase
):
    pass
