"""Property-based checks of the whole OpenAPI contract, alone and in sequences.

No input makes a 5xx, and every status an operation answers with is one its
OpenAPI entry documents; no sequence of calls makes a 5xx either.

schemathesis reads ``/schema/openapi.json`` and generates requests for every
operation, both valid ones and ones that break the schema (wrong types,
missing fields, bad parameters), and runs them through the app in process.
Writes carry a token of the role they need, so generated bodies get past the
guards and reach the ledger. Examples are bounded (and derandomized, so a
failure reproduces) to keep the run well under a minute.

The stateful phase chains operations the way a client would: schemathesis
infers the links between them (a created tool's slug into its card, edit,
reviews and votes; an issued token's id into its revocation), and runs
short random sequences of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.core.result import Ok
from schemathesis.python import asgi

from api import create_app
from tests.api.helpers import issue_tokens, log_head, make_home, settings_for

EXAMPLES = 8
SEQUENCES = 25
STEPS = 8
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


@pytest.fixture
def served_schema(tmp_path: Path) -> Iterator[tuple[Any, Path, dict[str, str]]]:
    """The app's OpenAPI schema, served in process over a demo ledger."""
    home = make_home(tmp_path)
    tokens = issue_tokens(home)
    app = create_app(settings_for(home, voter_tokens_per_window=10_000))
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app).exclude(
        path="/api/events/stream"
    )
    try:
        yield schema, home, tokens
    finally:
        asgi.shutdown_lifespans()


def test_no_request_makes_a_server_error(
    served_schema: tuple[Any, Path, dict[str, str]],
) -> None:
    schema, home, tokens = served_schema
    checked = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        headers = {"Authorization": f"Bearer {tokens[_role(operation.path)]}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, headers)
        checked.append(f"{operation.method.upper()} {operation.path}")
    # Generated writes got past the guards and were appended.
    assert log_head(home) > DEMO_EVENTS
    assert len(checked) >= 20
    assert "PATCH /api/tools/{slug}" in checked
    assert "PUT /api/comparisons/{a}/{b}/vote" in checked


def test_no_sequence_of_requests_makes_a_server_error(
    served_schema: tuple[Any, Path, dict[str, str]],
) -> None:
    schema, home, tokens = served_schema
    workflow = schema.as_state_machine()
    steps: list[str] = []
    sequences = itertools.count()

    class Sequences(workflow):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            # A sequence may revoke the tokens it writes with (it can list
            # them); each starts with tokens of its own.
            tokens.update(issue_tokens(home))
            self.sequence = next(sequences)

        def before_call(self, case: schemathesis.Case) -> None:
            # The server keeps what earlier sequences made, and hypothesis
            # replays choices: a slug registered twice would answer 409 where
            # it answered 201, and change which steps can follow. Each
            # sequence registers slugs of its own, so answers depend on the
            # generated data alone.
            body = case.body
            if case.operation.path == "/api/tools" and isinstance(body, dict):
                slug = body.get("slug")
                if isinstance(slug, str):
                    case.body = {**body, "slug": f"{slug}-s{self.sequence}"}

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            steps.append(f"{case.method} {case.path}")
            token = tokens[_role(case.path)]
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(
            self, response: Any, case: schemathesis.Case, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=[not_a_server_error])

    Sequences.run(
        settings=settings(
            max_examples=SEQUENCES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    # The sequences created tools and wrote to what they created.
    assert "POST /api/tools" in steps
    assert any(step.startswith(("PATCH", "PUT", "DELETE")) for step in steps)
    assert log_head(home) > DEMO_EVENTS
