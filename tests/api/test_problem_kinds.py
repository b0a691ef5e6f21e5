"""Every problem kind answers with the status it documents.

A kind's status is documented twice: on its page behind the ``type`` URI, and
in the OpenAPI entry of each operation that can answer with it. Each of the
API's own kinds and each HTTP-level kind is triggered here by a real request
(:data:`TRIGGERS` must name every one, so a kind added to the table without a
request that makes it fails :func:`test_every_kind_has_a_trigger`); every
class of the ledger's error hierarchy goes through the exception handler.
"""

from __future__ import annotations

import ast
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.exceptions import TooManyRequestsException
from litestar.testing import TestClient

from api import create_app
from api.problem_details import to_problem
from api.problem_kinds import HTTP_LEVEL, KINDS, OWN, ledger_errors
from ledger import errors
from ledger.mail_transport import MailSettings
from tests.api.helpers import (
    CARD,
    Api,
    free_port,
    idempotency_keys,
    ledger_settings,
    problem,
    served,
    settings_for,
)
from tests.api.raw_http import stalled_post
from tests.stores import appends_held

API = Path(__file__).parents[2] / "api"
TOOL = {"slug": "new-tool", "name": "New", "vendor": "V", "category": "C"}


@dataclass(frozen=True)
class Trigger:
    """A real request that is answered with one kind of problem.

    Attributes:
        operation: ``METHOD /path/template`` of the OpenAPI operation that
            answers, or None where the refusal comes before any operation
            (unknown path, wrong method, bad Host) or from a fault.
        send: Makes the request(s); returns the answer to check.
    """

    operation: str | None
    send: Callable[[Api], httpx.Response]


def _post_tool(api: Api, who: str | None = "editor", **kw: Any) -> httpx.Response:
    return api.request("POST", "/api/tools", who, **kw)


def _key_reused(api: Api) -> httpx.Response:
    headers = {"Idempotency-Key": "k1"}
    assert _post_tool(api, json=TOOL, headers=headers).status_code == 201
    return _post_tool(api, json={**TOOL, "slug": "other"}, headers=headers)


def _key_in_flight(api: Api) -> httpx.Response:
    """A retry while the first request with its key waits to append.

    The test holds the event store's write lock, as another writer would
    while it appends, so the first request stays claimed but unfinished
    until the retry has been answered.
    """
    home = api.client.app.state.settings.ledger.home
    headers = {"Idempotency-Key": "slow"}
    first: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(_post_tool(api, json=TOOL, headers=headers))
    )
    with appends_held(ledger_settings(home)):
        thread.start()
        _wait_for_claim(home, "slow")
        retry = _post_tool(api, json=TOOL, headers=headers)
    thread.join(15)
    assert first[0].status_code == 201
    return retry


def _wait_for_claim(home: Path, key: str) -> None:
    deadline = time.monotonic() + 10
    while key not in idempotency_keys(home):
        assert time.monotonic() < deadline, "the first request never claimed"
        time.sleep(0.01)


def _projection_behind(api: Api) -> httpx.Response:
    api.client.app.state.projector.stop()
    vote = api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
    return api.client.get(CARD, params={"min_position": vote.json()["position"]})


def _too_many_voter_tokens(api: Api) -> httpx.Response:
    for _ in range(3):  # the test settings allow three per window
        assert api.client.post("/api/voters").status_code == 201
    return api.client.post("/api/voters")


def _revoke_twice(api: Api) -> httpx.Response:
    path = "/api/tokens/" + api.tokens["voter"].split("_")[1]
    assert api.request("DELETE", path, "admin").status_code == 200
    return api.request("DELETE", path, "admin")


def _stream_with_slots_taken(api: Api, clients: list[str]) -> httpx.Response:
    """A stream asked for while each of ``clients`` holds one open.

    The test client cannot hold a stream open (it reads each answer to its
    end), so the slots are taken through the worker's own count; the
    end-to-end caps are in ``test_connections.py``.
    """
    slots = api.client.app.state.stream_slots
    frees = [slots.take(client) for client in clients]
    try:
        return api.client.get("/api/events/stream")
    finally:
        for free in frees:
            free()


def _too_many_subscription_requests(api: Api) -> httpx.Response:
    """Requests past the client's allowance; bad addresses count too."""
    limit = api.client.app.state.settings.subscribe_per_window
    for _ in range(limit):
        answer = api.client.post("/api/subscriptions", json={"address": "nobody@"})
        assert answer.status_code == 422
    return api.client.post("/api/subscriptions", json={"address": "a@example.org"})


def _mail_unavailable(api: Api) -> httpx.Response:
    """A subscription sent to a second app on the same home and log, whose
    mail relay is a port nothing listens on."""
    dead = MailSettings(smtp_url=f"smtp://127.0.0.1:{free_port()}?starttls=0")
    settings = replace(api.client.app.state.settings, mail=dead)
    with TestClient(app=create_app(settings)) as client:
        return client.post("/api/subscriptions", json={"address": "a@example.org"})


def _too_many_streams(api: Api) -> httpx.Response:
    """A stream asked for while this client holds as many as it may."""
    held = api.client.app.state.stream_slots.per_client
    return _stream_with_slots_taken(api, ["testclient"] * held)


def _streams_full(api: Api) -> httpx.Response:
    """A stream asked for while the worker holds as many as it keeps room for."""
    held = api.client.app.state.stream_slots.per_worker
    return _stream_with_slots_taken(api, [f"client-{n}" for n in range(held)])


def _body_timeout(api: Api) -> httpx.Response:
    """A body that stops halfway, sent to a real server of the same home."""
    home = api.client.app.state.settings.ledger.home
    with served(home, env={"LEDGER_BODY_TIMEOUT": "0.5"}) as base:
        return stalled_post(base, "/api/tools", api.tokens["editor"], sent=b'{"sl')


def _storage_unavailable(api: Api) -> httpx.Response:
    """A write while another connection holds the event store's write lock.

    Sent to a second app on the same home whose writers wait one second
    for the lock, not the ten the fixture's app would.
    """
    home = api.client.app.state.settings.ledger.home
    ledger = replace(ledger_settings(home), lock_timeout=1)
    with (
        TestClient(app=create_app(settings_for(home, ledger=ledger))) as client,
        appends_held(ledger),
    ):
        return client.post("/api/tools", json=TOOL, headers=api.auth("editor"))


def _not_ready(api: Api) -> httpx.Response:
    api.client.app.state.projector.stop()  # reads would no longer be current
    return api.client.get("/healthz/ready")


def _internal_error(api: Api) -> httpx.Response:
    api.client.app.state.read_model.close()
    return api.client.get("/api/tools")


TRIGGERS: dict[str, Trigger] = {
    # The API's own kinds.
    "validation-failed": Trigger(
        "GET /api/events", lambda api: api.client.get("/api/events?limit=0")
    ),
    "malformed-body": Trigger(
        "POST /api/tools",
        lambda api: _post_tool(
            api, content=b'{"slug": ', headers={"Content-Type": "application/json"}
        ),
    ),
    "invalid-if-match": Trigger(
        "PATCH /api/tools/{slug}",
        lambda api: api.request(
            "PATCH", CARD, "editor", json={"name": "X"}, headers={"If-Match": "v7"}
        ),
    ),
    "invalid-idempotency-key": Trigger(
        "POST /api/tools",
        lambda api: _post_tool(api, json=TOOL, headers={"Idempotency-Key": "k" * 256}),
    ),
    "idempotency-key-reused": Trigger("POST /api/tools", _key_reused),
    "idempotency-key-in-flight": Trigger("POST /api/tools", _key_in_flight),
    "invalid-last-event-id": Trigger(
        "GET /api/events/stream",
        lambda api: api.client.get(
            "/api/events/stream", headers={"Last-Event-ID": "yesterday"}
        ),
    ),
    "position-beyond-log": Trigger(
        "GET /api/tools",
        lambda api: api.client.get(
            "/api/tools", params={"min_position": api.head() + 100}
        ),
    ),
    "projection-behind": Trigger("GET /api/tools/{slug}", _projection_behind),
    "scorecard-needs-one-point": Trigger(
        "GET /api/tools/{slug}/scorecard",
        lambda api: api.client.get(CARD + "/scorecard"),
    ),
    "invalid-point": Trigger(
        "GET /api/tools/{slug}/diff",
        lambda api: api.client.get(CARD + "/diff", params={"from": "yesterday"}),
    ),
    "from-after-to": Trigger(
        "GET /api/tools/{slug}/diff",
        lambda api: api.client.get(CARD + "/diff", params={"from": 5, "to": 3}),
    ),
    "too-many-voter-tokens": Trigger("POST /api/voters", _too_many_voter_tokens),
    "too-many-subscription-requests": Trigger(
        "POST /api/subscriptions", _too_many_subscription_requests
    ),
    "mail-unavailable": Trigger("POST /api/subscriptions", _mail_unavailable),
    "invalid-link": Trigger(
        "POST /api/subscriptions/confirm",
        lambda api: api.client.post(
            "/api/subscriptions/confirm", json={"token": "not.a.signed-token"}
        ),
    ),
    "unknown-event-type": Trigger(
        "GET /api/events",
        lambda api: api.client.get("/api/events", params={"type": "Tool.Exploded"}),
    ),
    "invalid-cursor": Trigger(
        "GET /api/tools/{slug}/history",
        lambda api: api.client.get(
            CARD + "/history", params={"cursor": "bm90LWEta2V5"}
        ),
    ),
    "empty-time-range": Trigger(
        "GET /api/tools/{slug}/history",
        lambda api: api.client.get(
            CARD + "/history",
            params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        ),
    ),
    "no-checkpoint": Trigger(
        "GET /api/events/{position}/proof",
        lambda api: api.client.get("/api/events/1/proof?size=999"),
    ),
    "not-in-tree": Trigger(
        "GET /api/events/{position}/proof",
        lambda api: api.client.get("/api/events/999/proof"),
    ),
    "bad-consistency-range": Trigger(
        "GET /api/log/consistency",
        lambda api: api.client.get("/api/log/consistency?from=9&to=3"),
    ),
    "unsupported-media-type": Trigger(
        "POST /api/tools",
        lambda api: _post_tool(
            api,
            content=json.dumps(TOOL),
            headers={"Content-Type": "text/plain"},
        ),
    ),
    "body-too-deep": Trigger(
        "POST /api/tools",
        lambda api: _post_tool(
            api,
            content="[" * 100 + "]" * 100,
            headers={"Content-Type": "application/json"},
        ),
    ),
    "storage-unavailable": Trigger("POST /api/tools", _storage_unavailable),
    "not-ready": Trigger("GET /healthz/ready", _not_ready),
    "internal-error": Trigger(None, _internal_error),
    "too-many-streams": Trigger("GET /api/events/stream", _too_many_streams),
    "streams-full": Trigger("GET /api/events/stream", _streams_full),
    "body-timeout": Trigger(None, _body_timeout),
    "token-not-found": Trigger(
        "DELETE /api/tokens/{token_id}",
        lambda api: api.request("DELETE", "/api/tokens/0123456789ab", "admin"),
    ),
    "token-already-revoked": Trigger("DELETE /api/tokens/{token_id}", _revoke_twice),
    "invalid-duration": Trigger(
        "POST /api/tokens",
        lambda api: api.request(
            "POST", "/api/tokens", "admin", json={"role": "voter", "expires_in": "1y"}
        ),
    ),
    "reviewer-token-mismatch": Trigger(
        "POST /api/tokens",
        lambda api: api.request(
            "POST", "/api/tokens", "admin", json={"role": "reviewer"}
        ),
    ),
    # The HTTP-level kinds.
    "bad-request": Trigger(
        None, lambda api: api.client.get("/api/tools", headers={"Host": "a b"})
    ),
    "unauthorized": Trigger(
        "POST /api/tools", lambda api: _post_tool(api, None, json=TOOL)
    ),
    "forbidden": Trigger(
        "POST /api/tools", lambda api: _post_tool(api, "voter", json=TOOL)
    ),
    "not-found": Trigger(None, lambda api: api.client.get("/api/nothing-here")),
    "method-not-allowed": Trigger(None, lambda api: api.client.delete("/api/tools")),
    "request-entity-too-large": Trigger(
        "POST /api/tools",
        lambda api: _post_tool(api, json={**TOOL, "description": "x" * 20_000}),
    ),
    # Some of the ledger's kinds, as the handlers meet them.
    "tool-not-found": Trigger(
        "GET /api/tools/{slug}/history",
        lambda api: api.client.get("/api/tools/nope/history"),
    ),
    "tool-already-registered": Trigger(
        "POST /api/tools",
        lambda api: _post_tool(api, json={**TOOL, "slug": "code-llama-4"}),
    ),
    "stale-version": Trigger(
        "PATCH /api/tools/{slug}",
        lambda api: api.request(
            "PATCH", CARD, "editor", json={"name": "X"}, headers={"If-Match": "7"}
        ),
    ),
    "reason-required": Trigger(
        "DELETE /api/tools/{slug}/reviews/{handle}",
        lambda api: api.request("DELETE", CARD + "/reviews/builder", "builder"),
    ),
    "vote-not-found": Trigger(
        "DELETE /api/tools/{slug}/vote",
        lambda api: api.request("DELETE", CARD + "/vote", "voter"),
    ),
}


def _raised_api_kinds() -> set[str]:
    """Every kind literal passed to ``ApiProblem(...)`` in the api package."""
    kinds: set[str] = set()
    for source in API.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "ApiProblem"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                kinds.add(node.args[0].value)
    return kinds


def test_every_kind_has_a_trigger() -> None:
    declared = {kind.name for kind in (*OWN, *HTTP_LEVEL)}
    assert declared <= TRIGGERS.keys()
    assert TRIGGERS.keys() <= KINDS.keys()


def test_every_kind_the_code_raises_is_declared_and_triggered() -> None:
    raised = _raised_api_kinds()
    assert "projection-behind" in raised
    assert raised <= {kind.name for kind in OWN}
    assert raised <= TRIGGERS.keys()


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_a_kind_answers_with_the_status_it_documents(api: Api, kind: str) -> None:
    trigger = TRIGGERS[kind]
    documented = KINDS[kind].status
    # when the request is made, the answer is a problem of that kind
    body = problem(trigger.send(api), documented)
    assert body["type"] == f"/problems/{kind}"
    assert body["title"] == KINDS[kind].title
    # its page documents the same status
    page = api.client.get(body["type"])
    assert page.status_code == 200
    assert f"HTTP {documented}" in page.text
    # and so does the OpenAPI entry of the operation that answered
    if trigger.operation is not None:
        method, template = trigger.operation.split(" ")
        spec = api.client.get("/schema/openapi.json").json()
        responses = spec["paths"][template][method.lower()]["responses"]
        assert str(documented) in responses, trigger.operation
        assert f"(/problems/{kind})" in responses[str(documented)]["description"]


def _instance(cls: type[errors.LedgerError]) -> errors.LedgerError:
    if issubclass(cls, errors.StaleVersion):
        return cls("tool 'x'", 1, 2)
    return cls("refused")


@pytest.mark.parametrize("cls", ledger_errors(), ids=lambda cls: cls.__name__)
def test_every_ledger_error_answers_with_its_documented_status(
    api: Api, cls: type[errors.LedgerError]
) -> None:
    answered, _ = to_problem(_instance(cls))
    kind = answered.type.removeprefix("/problems/")
    assert answered.status == KINDS[kind].status
    page = api.client.get(answered.type)
    assert page.status_code == 200
    assert f"HTTP {answered.status}" in page.text


def test_a_new_ledger_error_answers_as_its_base() -> None:
    class Later(errors.ToolRetired):
        """Defined after the table was built."""

    answered, _ = to_problem(Later("retired"))
    assert (answered.type, answered.status) == ("/problems/tool-retired", 409)


def test_every_ledger_refusal_is_described_by_its_docstring() -> None:
    found = KINDS["reason-required"]
    assert (found.status, found.description) == (422, errors.ReasonRequired.__doc__)
    assert KINDS["stale-version"].status == 412
    assert KINDS["tool-not-found"].status == 404
    assert KINDS["tool-retired"].status == 409


def test_the_reason_for_each_disputed_status() -> None:
    # Malformed header syntax is 400 (RFC 9110 15.5.1) ...
    assert KINDS["invalid-idempotency-key"].status == 400
    assert KINDS["invalid-last-event-id"].status == 400
    assert KINDS["invalid-if-match"].status == 400
    # ... a well-formed request that breaks a rule is 422.
    assert KINDS["idempotency-key-reused"].status == 422
    assert KINDS["position-beyond-log"].status == 422


def test_a_problem_type_uri_dereferences_to_its_page(api: Api) -> None:
    # given a refused request's problem type
    refused = api.client.get("/api/tools/no-such-tool")
    assert refused.status_code == 404
    problem_type = refused.json()["type"]
    assert problem_type == "/problems/tool-not-found"
    # when it is followed, a page explains it
    page = api.client.get(problem_type)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "Tool not found" in page.text
    assert "No tool is registered under that slug." in page.text
    assert "HTTP 404" in page.text


def test_http_level_problem_types_have_pages(api: Api) -> None:
    unauthorized = api.client.post("/api/tools", json={})
    assert unauthorized.status_code == 401
    page = api.client.get(unauthorized.json()["type"])
    assert page.status_code == 200
    assert "Unauthorized" in page.text


def test_an_unknown_problem_type_is_a_404_page(api: Api) -> None:
    page = api.client.get("/problems/no-such-problem")
    assert page.status_code == 404
    assert "no-such-problem" in page.text


def test_a_refusal_without_a_kind_of_its_own_is_about_blank() -> None:
    """RFC 9457 4.2.1: a status with no more to say than its phrase."""
    answered, headers = to_problem(
        TooManyRequestsException("slow down", headers={"Retry-After": "3"})
    )
    assert (answered.type, answered.title, answered.status) == (
        "about:blank",
        "Too Many Requests",
        429,
    )
    assert answered.detail == "slow down"
    assert headers == {"Retry-After": "3"}
