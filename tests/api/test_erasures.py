"""``POST /api/erasures``: an admin erases a person's data over HTTP.

On the demo ledger, on each event store. Each refusal is a problem of the
status its ledger error maps to, with nothing appended and no key touched.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import log
from ledger.context import Context
from ledger.people import MAX_ADDRESS
from ledger.personal_data import ERASED
from ledger.rules import MAX_REASON
from tests.api.helpers import Api

PATH = "/api/erasures"
SKEPTIC = {"person": "reviewer:skeptic", "reason": "asked to be forgotten"}


def _name_of(api: Api, handle: str) -> Any:
    for event in log.read(api.ledger.recorder, after=0, limit=10_000):
        if event.type == "Reviewer.Enrolled" and event.data["handle"] == handle:
            return api.ledger.sealer.unseal(event.data["name"])
    raise AssertionError(handle)


def test_an_admin_erases_a_reviewer(api: Api) -> None:
    head = api.head()
    with api.appends(1):
        answer = api.request("POST", PATH, "admin", json=SKEPTIC)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"version": 1, "position": head + 1}
    recorded = log.read(api.ledger.recorder, after=head, limit=10)[0]
    assert recorded.type == "Erasure.Recorded"
    assert recorded.data == {"person": "reviewer:skeptic"}
    assert recorded.actor.startswith("admin:")
    assert recorded.reason == "asked to be forgotten"
    assert _name_of(api, "skeptic") == ERASED
    assert _name_of(api, "builder") == "The Builder"


def test_a_subscriber_is_erased_by_address(api: Api) -> None:
    ctx = Context(actor="system", request_id="test")
    subscribed = api.ledger.subscribe(ctx, "reader@example.org")
    body = {"person": "Reader@Example.org", "reason": "asked"}
    with api.appends(2):  # the erasure, and the subscription's end
        answer = api.request("POST", PATH, "admin", json=body)
    assert answer.status_code == 200, answer.text
    assert "reader@example.org" not in answer.text.lower()
    found = api.ledger.subscription(subscribed.subscription_id)
    assert found["address"] == ERASED
    assert found["status"] == "unsubscribed"
    assert answer.json() == {"version": found["version"], "position": api.head()}


def test_a_retry_with_the_same_idempotency_key_replays_the_answer(api: Api) -> None:
    headers = {"Idempotency-Key": "erase-skeptic"}
    with api.appends(1):
        first = api.request("POST", PATH, "admin", json=SKEPTIC, headers=headers)
        again = api.request("POST", PATH, "admin", json=SKEPTIC, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


@pytest.mark.parametrize(
    ("body", "status", "kind", "said"),
    [
        pytest.param(
            {"person": "skeptic", "reason": "asked"},
            422,
            "invalid-person",
            "names no person",
            id="not-a-person",
        ),
        pytest.param(
            {"person": "nobody@", "reason": "asked"},
            422,
            "invalid-address",
            "not an email address",
            id="bad-address",
        ),
        pytest.param(
            {"person": "reviewer:nobody", "reason": "asked"},
            404,
            "person-not-found",
            "no personal data of reviewer:nobody",
            id="unknown-reviewer",
        ),
        pytest.param(
            {"person": "reviewer:skeptic", "reason": " "},
            422,
            None,
            "reason",
            id="blank-reason",
        ),
        pytest.param(
            {"person": "reviewer:skeptic"},
            422,
            "validation-failed",
            "reason",
            id="no-reason",
        ),
        pytest.param(
            {"person": "", "reason": "asked"},
            422,
            "validation-failed",
            "person",
            id="empty-person",
        ),
        pytest.param(
            {"person": "x" * (MAX_ADDRESS + 1), "reason": "asked"},
            422,
            "validation-failed",
            "person",
            id="long-person",
        ),
        pytest.param(
            {"person": "reviewer:skeptic", "reason": "x" * (MAX_REASON + 1)},
            422,
            "validation-failed",
            "reason",
            id="long-reason",
        ),
        pytest.param(
            {**SKEPTIC, "extra": 1},
            422,
            "validation-failed",
            "extra",
            id="unknown-field",
        ),
    ],
)
def test_a_refused_erasure_is_a_problem_and_changes_nothing(
    api: Api, body: dict[str, Any], status: int, kind: str | None, said: str
) -> None:
    with api.appends(0):
        problem = api.refuses(status, "POST", PATH, "admin", json=body)
    if kind is not None:
        assert problem["type"] == f"/problems/{kind}"
    assert said in str(problem), problem
    assert _name_of(api, "skeptic") == "The Skeptic"


def test_erasing_twice_is_a_conflict(api: Api) -> None:
    assert api.request("POST", PATH, "admin", json=SKEPTIC).status_code == 200
    with api.appends(0):
        problem = api.refuses(409, "POST", PATH, "admin", json=SKEPTIC)
    assert problem["type"] == "/problems/already-erased"
    assert "erased already" in problem["detail"]


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("editor", 403), ("builder", 403), ("voter", 403)]
)
def test_only_an_admin_erases(api: Api, who: str | None, status: int) -> None:
    with api.appends(0):
        api.refuses(status, "POST", PATH, who, json=SKEPTIC)
    assert _name_of(api, "skeptic") == "The Skeptic"


def test_openapi_documents_the_route_and_its_bounds(api: Api) -> None:
    document = api.client.get("/schema/openapi.json").json()
    operation = document["paths"][PATH]["post"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(operation["responses"])
    assert operation["security"]
    schema = document["components"]["schemas"]["ErasureCreate"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"person", "reason"}
    person = schema["properties"]["person"]
    assert (person["minLength"], person["maxLength"]) == (1, MAX_ADDRESS)
    assert schema["properties"]["reason"]["maxLength"] == MAX_REASON
