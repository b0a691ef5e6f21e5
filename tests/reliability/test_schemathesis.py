"""Property-based checks of the whole OpenAPI contract, alone and in sequences.

No input makes a 5xx, and every status an operation answers with is one its
OpenAPI entry documents; no sequence of calls makes a 5xx either. The schema
states what the API enforces: a request valid by the schema is not refused
as malformed (400 or 422), and one the schema rules out is refused with a
4xx. Refusals of rules no schema can state (a position past the log, a
comparison of a tool with itself, a stale version, a slug nobody registered)
are the API keeping its own rules, not a mismatch: :data:`DOMAIN_RULES`
names those problem kinds, and 404, 409 and 412 count as such refusals.

schemathesis reads ``/schema/openapi.json`` and generates requests for every
operation, both valid ones and ones that break the schema (wrong types,
missing fields, bad parameters), and runs them through the app in process:
random ones, and each operation's coverage cases (every bound, pattern, enum
and required field, just inside and just outside).
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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from schemathesis import GenerationMode
from schemathesis.checks import (
    CheckContext,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.python import asgi

from api import create_app
from api.problem_kinds import TYPE_BASE
from tests.api.helpers import issue_tokens, log_head, make_home, settings_for

EXAMPLES = 8
SEQUENCES = 25
STEPS = 8
DEMO_EVENTS = 15

DOMAIN_RULES = frozenset(
    {
        "position-beyond-log",  # a position the log has not reached yet
        "not-in-tree",  # an event the named tree does not hold
        "bad-consistency-range",  # from above to
        "scorecard-needs-one-point",  # exactly one of as_of and position
        "empty-time-range",  # since before until
        "from-after-to",  # a diff's from after its to
        "invalid-cursor",  # a cursor made up rather than taken from a next link
        "invalid-duration",  # a lifetime of zero, or above ten years
        "reviewer-token-mismatch",  # a handle with a reviewer token, and only then
        "same-tool",  # a comparison of a tool with itself
        "invalid-choice",  # a pick that is neither tool of the comparison
        "reason-required",  # a change to a verdict, or an edit that sways one
        "nothing-changed",  # an edit that sets what is already there
        "idempotency-key-reused",  # a key already used for another body
        "invalid-address",  # an address no mail can be sent to
        "invalid-link",  # a token the server did not sign, or signed long ago
        "invalid-week",  # week 53 of a year that has 52, or week 00
        "invalid-person",  # a handle or id no person of the ledger has
    }
)
"""Problem kinds that refuse a schema-valid request for a rule no schema
states: the ledger's state, or one value against another."""

ACCEPTED = {
    "positive_data_acceptance": {
        # The defaults, and 412: a stale If-Match is the ledger's state.
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412"]
    }
}
CONFIG = SchemathesisConfig.from_dict({"checks": ACCEPTED})
"""What a schema-valid request may be answered with besides a success."""
COVERAGE = SchemathesisConfig.from_dict(
    {
        "checks": ACCEPTED,
        "phases": {"examples": {"enabled": False}, "fuzzing": {"enabled": False}},
    }
)
""":data:`CONFIG`, generating each operation's coverage cases alone (random
cases have a test of their own)."""


LIMITS = {"voter_tokens_per_window": 10_000, "subscribe_per_window": 10_000}
"""Rate limits of public writes no generated run comes near."""


def _problem_kind(response: Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.removeprefix(TYPE_BASE) if isinstance(kind, str) else None


def schema_valid_accepted(
    ctx: CheckContext, response: Response, case: schemathesis.Case
) -> bool | None:
    """``positive_data_acceptance``, where a refusal of a domain rule is kept.

    A 4xx of a kind in :data:`DOMAIN_RULES` says the request broke a rule
    the schema cannot state; any other 400 or 422 of a schema-valid request
    means the schema promises what the server refuses.
    """
    if 400 <= response.status_code < 500 and _problem_kind(response) in DOMAIN_RULES:
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    schema_valid_accepted,
    negative_data_rejection,
]


def _role(path: str) -> str:
    if path.endswith("/vote"):
        return "voter"
    if "/reviews/" in path:
        return "builder"
    return "admin"


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    """Runs generated cases of one operation; fails on any of :data:`CHECKS`."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_server_error(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

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
    app = create_app(settings_for(home, **LIMITS))
    schema = schemathesis.openapi.from_asgi(
        "/schema/openapi.json", app, config=CONFIG
    ).exclude(path="/api/events/stream")
    try:
        yield schema, home, tokens
    finally:
        asgi.shutdown_lifespans()


def test_no_request_makes_a_server_error_or_a_mismatch(
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


def test_no_sequence_of_requests_makes_a_server_error_or_a_mismatch(
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
            case.validate_response(
                response, checks=[not_a_server_error, schema_valid_accepted]
            )

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


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, read without starting the app."""
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(settings_for(Path(scratch) / "ledger"))
        document: dict[str, Any] = app.openapi_schema.to_schema()
        return document


contract = schemathesis.openapi.from_dict(_document(), config=COVERAGE).exclude(
    path="/api/events/stream"
)
"""The schema again, for pytest to run each operation's coverage cases as a test."""


@pytest.fixture(scope="module")
def contract_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Litestar, dict[str, str]]]:
    """One app over a demo ledger for every operation's coverage cases."""
    home = make_home(tmp_path_factory.mktemp("contract"))
    tokens = issue_tokens(home)
    app = create_app(settings_for(home, **LIMITS))
    try:
        yield app, tokens
    finally:
        asgi.shutdown_lifespans()


@contract.parametrize()
@settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_each_operation_enforces_its_schema(
    case: schemathesis.Case, contract_app: tuple[Litestar, dict[str, str]]
) -> None:
    """Every bound, pattern, enum and required field, just inside and outside."""
    app, tokens = contract_app
    headers = {"Authorization": f"Bearer {tokens[_role(case.operation.path)]}"}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)
