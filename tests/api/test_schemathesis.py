"""Property-based checks of the whole OpenAPI contract.

No input makes a 5xx, and every status an operation answers with is one its
OpenAPI entry documents.

schemathesis reads ``/schema/openapi.json`` and generates requests for every
operation, both valid ones and ones that break the schema (wrong types,
missing fields, bad parameters), and runs them through the app in process.
Writes carry a token of the role they need, so generated bodies get past the
guards and reach the ledger. Examples are bounded (and derandomized, so a
failure reproduces) to keep the run well under a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.core.result import Ok
from schemathesis.python import asgi

from api import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from tests.api.helpers import issue_tokens, make_home, settings_for

EXAMPLES = 8
DEMO_EVENTS = 15


def _role(path: str) -> str:
    if path.endswith("/vote"):
        return "voter"
    if "/reviews/" in path:
        return "builder"
    return "admin"


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    """Runs generated cases of one operation; fails on 5xx or undocumented status."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_server_error(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers=headers, checks=[not_a_server_error, status_code_conformance]
        )

    try:
        no_server_error()
    except Unsatisfiable:
        # Nothing in this operation can be made invalid (e.g. it takes no
        # parameters at all), so it has no negative cases.
        if mode is GenerationMode.POSITIVE:
            raise


def test_no_request_makes_a_server_error(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tokens = issue_tokens(home)
    app = create_app(settings_for(home, voter_tokens_per_window=10_000))
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app).exclude(
        path="/api/events/stream"
    )
    checked = []
    try:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            headers = {"Authorization": f"Bearer {tokens[_role(operation.path)]}"}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, headers)
            checked.append(f"{operation.method.upper()} {operation.path}")
    finally:
        asgi.shutdown_lifespans()
    ledger = Ledger(Settings(home=home))
    try:
        # Generated writes got past the guards and were appended.
        assert ledger.head_position() > DEMO_EVENTS
    finally:
        ledger.close()
    assert len(checked) >= 20
    assert "PATCH /api/tools/{slug}" in checked
    assert "PUT /api/comparisons/{a}/{b}/vote" in checked
