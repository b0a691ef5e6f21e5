"""Reviewers: only an admin enrolls the panel."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

ADA = {"handle": "ada", "name": "Ada", "lens": "skeptic"}


def test_admin_enrolls_a_reviewer(api: Api) -> None:
    head = api.head()
    answer = api.request("POST", "/api/reviewers", "admin", json=ADA)
    assert answer.status_code == 201
    assert answer.json() == {"version": 1, "position": head + 1}
    assert api.ledger.reviewer("ada")["lens"] == "skeptic"


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("editor", 403), ("voter", 403)]
)
def test_only_an_admin_enrolls(api: Api, who: str | None, status: int) -> None:
    head = api.head()
    answer = api.request("POST", "/api/reviewers", who, json=ADA)
    assert answer.status_code == status
    assert api.head() == head


def test_enroll_refusals(api: Api) -> None:
    head = api.head()
    duplicate = api.request(
        "POST", "/api/reviewers", "admin", json={**ADA, "handle": "builder"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["type"] == "/problems/reviewer-already-enrolled"
    lens = api.request(
        "POST", "/api/reviewers", "admin", json={**ADA, "lens": "optimist"}
    )
    assert lens.status_code == 422
    assert "lens" in lens.json()["detail"]
    handle = api.request(
        "POST", "/api/reviewers", "admin", json={**ADA, "handle": "Ada!"}
    )
    assert handle.status_code == 422
    assert api.head() == head
