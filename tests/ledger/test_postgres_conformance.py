"""eventsourcing's own test cases, run against the ledger's PostgreSQL event store.

The PostgreSQL side of test_sqlite_conformance.py, run the way
eventsourcing's own repository runs these cases on its PostgreSQL recorders
(tests/persistence_tests/test_postgres.py,
test_noninterleaving_notification_ids.py, tests/application_tests/
test_application_with_postgres.py), each test in a schema of its own, on
both kinds of recorder: the plain ones (:mod:`ledger.postgres_recorder`) and
those the ledger selects (:meth:`~ledger.settings.Settings.eventsourcing_env`),
which release the table lock before the flush (:mod:`ledger.postgres_appends`).

The aggregate recorder case runs on the recorder the factory makes for
snapshots, which is eventsourcing's own class (see
:class:`~ledger.postgres_recorder.LedgerPostgresFactory`), so it has no
conditional variant.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar
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
from ledger.postgres_appends import (
    EarlyUnlockApplicationRecorder,
    EarlyUnlockPostgresFactory,
    EarlyUnlockProcessRecorder,
)
from ledger.postgres_recorder import (
    LedgerPostgresApplicationRecorder,
    LedgerPostgresFactory,
    LedgerPostgresProcessRecorder,
)
from tests.helpers import private_schema

from .helpers import AlwaysConditional, own_threads_joined, set_environment

pytestmark = pytest.mark.postgres


class ConditionalApplicationRecorder(
    AlwaysConditional, LedgerPostgresApplicationRecorder
):
    pass


class ConditionalProcessRecorder(AlwaysConditional, LedgerPostgresProcessRecorder):
    pass


class AlwaysConditionalFactory(LedgerPostgresFactory):
    """The ledger's factory, with recorders that append only conditionally."""

    application_recorder_class = ConditionalApplicationRecorder
    process_recorder_class = ConditionalProcessRecorder


class EarlyConditionalApplicationRecorder(
    AlwaysConditional, EarlyUnlockApplicationRecorder
):
    pass


class EarlyConditionalProcessRecorder(AlwaysConditional, EarlyUnlockProcessRecorder):
    pass


class AlwaysConditionalEarlyUnlockFactory(EarlyUnlockPostgresFactory):
    """The ledger's default factory, with recorders that append only conditionally."""

    application_recorder_class = EarlyConditionalApplicationRecorder
    process_recorder_class = EarlyConditionalProcessRecorder


class InPrivateSchema(TestCase):
    """The ledger's PostgreSQL environment, in a schema dropped after the test."""

    factory_class: ClassVar[type[LedgerPostgresFactory]] = LedgerPostgresFactory

    def setUp(self) -> None:
        super().setUp()
        home = Path(self.enterContext(tempfile.TemporaryDirectory()))
        store = self.enterContext(contextmanager(private_schema)(home))
        self.env = {
            **store.settings.eventsourcing_env(),
            **store.env,
            "PERSISTENCE_MODULE": get_topic(self.factory_class),
        }


class Recorders(InPrivateSchema):
    def factory(self) -> LedgerPostgresFactory:
        factory = self.factory_class(self.env)
        self.addCleanup(factory.close)
        self.enterContext(own_threads_joined())  # exits first
        return factory


class Conditional:
    factory_class = AlwaysConditionalFactory


class EarlyUnlock:
    """The recorders that release the table lock before the flush (the default)."""

    factory_class = EarlyUnlockPostgresFactory


class EarlyUnlockConditional:
    factory_class = AlwaysConditionalEarlyUnlockFactory


class Applications(Recorders):
    def create_recorder(self) -> ApplicationRecorder:
        recorder = self.factory().application_recorder()
        assert isinstance(recorder, ConditionalAppends)
        return recorder


class Processes(Recorders):
    def create_recorder(self) -> ProcessRecorder:
        recorder = self.factory().process_recorder()
        assert isinstance(recorder, ConditionalAppends)
        return recorder


class TestAggregateRecorder(Recorders, persistence.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory().aggregate_recorder("snapshots")


class TestApplicationRecorder(Applications, persistence.ApplicationRecorderTestCase):
    pass


class TestConditionalApplicationRecorder(
    Conditional, Applications, persistence.ApplicationRecorderTestCase
):
    pass


class TestProcessRecorder(Processes, persistence.ProcessRecorderTestCase):
    pass


class TestConditionalProcessRecorder(
    Conditional, Processes, persistence.ProcessRecorderTestCase
):
    pass


class TestNonInterleavingNotificationIDs(
    Applications, persistence.NonInterleavingNotificationIDsBaseCase
):
    insert_num = 100  # as eventsourcing runs it on PostgreSQL


class TestConditionalNonInterleavingNotificationIDs(
    Conditional, Applications, persistence.NonInterleavingNotificationIDsBaseCase
):
    insert_num = 100


class WithFactoryInEnvironment(InPrivateSchema):
    """Selects the ledger's factory where eventsourcing applications read it."""

    @property
    def expected_factory_topic(self) -> str:  # read by ExampleApplicationTestCase
        return get_topic(self.factory_class)

    def setUp(self) -> None:
        super().setUp()
        set_environment(self, {**self.env, "CREATE_TABLE": "y"})


class TestApplication(WithFactoryInEnvironment, application.ApplicationTestCase):
    pass


class TestApplicationConditional(
    Conditional, WithFactoryInEnvironment, application.ApplicationTestCase
):
    pass


class TestExampleApplication(
    WithFactoryInEnvironment, application.ExampleApplicationTestCase
):
    pass


class TestEarlyUnlockApplicationRecorder(
    EarlyUnlock, Applications, persistence.ApplicationRecorderTestCase
):
    pass


class TestEarlyUnlockConditionalApplicationRecorder(
    EarlyUnlockConditional, Applications, persistence.ApplicationRecorderTestCase
):
    pass


class TestEarlyUnlockProcessRecorder(
    EarlyUnlock, Processes, persistence.ProcessRecorderTestCase
):
    pass


class TestEarlyUnlockConditionalProcessRecorder(
    EarlyUnlockConditional, Processes, persistence.ProcessRecorderTestCase
):
    pass


class TestEarlyUnlockNonInterleavingNotificationIDs(
    EarlyUnlock, Applications, persistence.NonInterleavingNotificationIDsBaseCase
):
    insert_num = 100


class TestEarlyUnlockConditionalNonInterleavingNotificationIDs(
    EarlyUnlockConditional,
    Applications,
    persistence.NonInterleavingNotificationIDsBaseCase,
):
    insert_num = 100


class TestEarlyUnlockApplication(
    EarlyUnlock, WithFactoryInEnvironment, application.ApplicationTestCase
):
    pass


class TestEarlyUnlockApplicationConditional(
    EarlyUnlockConditional, WithFactoryInEnvironment, application.ApplicationTestCase
):
    pass
