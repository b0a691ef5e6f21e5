"""Reviewers: only an admin enrolls the panel."""

from __future__ import annotations

from tests.api.helpers import Api

ADA = {"handle": "ada", "name": "Ada", "lens": "skeptic"}


def test_admin_enrolls_a_reviewer(api: Api) -> None:
    head = api.head()
    answer = api.request("POST", "/api/reviewers", "admin", json=ADA)
    assert answer.status_code == 201
    assert answer.json() == {"version": 1, "position": head + 1}
    assert api.ledger.reviewer("ada")["lens"] == "skeptic"


def test_enroll_refusals(api: Api) -> None:
    with api.appends(0):
        duplicate = api.refuses(
            409, "POST", "/api/reviewers", "admin", json={**ADA, "handle": "builder"}
        )
        lens = api.refuses(
            422, "POST", "/api/reviewers", "admin", json={**ADA, "lens": "optimist"}
        )
        api.refuses(422, "POST", "/api/reviewers", "admin", json={**ADA, "handle": "!"})
    assert duplicate["type"] == "/problems/reviewer-already-enrolled"
    assert "lens" in lens["detail"]
