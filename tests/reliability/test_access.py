"""Every write endpoint against every kind of credential: 401, 403 or 2xx.

See :mod:`tests.reliability.access`: the endpoints come from the app's own
routes, so a new write route fails this test until it is given a request.
"""

from __future__ import annotations

from pathlib import Path

from api import create_app
from ledger.auth import ROLES
from tests.api.helpers import settings_for
from tests.reliability import access


def test_every_write_endpoint_is_known_to_the_access_check(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path))
    found = {op.key for op in access.operations(app)}
    assert found == set(access.REQUESTS)
    # every one is guarded by a role but the anonymous voter tokens and the
    # subscriptions, whose signed links (or a new address) are all they take
    assert {op.key for op in access.operations(app) if op.role is None} == {
        "POST /api/voters",
        "POST /api/subscriptions",
        "POST /api/subscriptions/confirm",
        "POST /api/subscriptions/unsubscribe",
        "POST /subscriptions",
        "POST /subscriptions/confirm",
        "POST /subscriptions/unsubscribe",
    }


def test_each_credential_gets_its_due_and_a_refusal_changes_nothing(
    tmp_path: Path,
) -> None:
    found = access.run(tmp_path)
    kinds = len(access.credentials(tmp_path / "other"))
    assert kinds >= 10 + len(ROLES)
    assert found.requests == len(found.operations) * kinds
    assert found.wrong == []
    assert found.changed_when_refused == []
    assert found.unchanged_when_allowed == []
    assert found.refused > found.requests // 2
