"""Bearer tokens: verified against the hashed store, revocable, stamped as actor."""

from __future__ import annotations

from pathlib import Path

from ledger.auth import TokenStore
from ledger.settings import Settings
from tests.api.conftest import CARD, Api


def test_a_revoked_token_is_refused_at_once(api: Api, home: Path) -> None:
    assert (
        api.request("PATCH", CARD, "editor", json={"tagline": "One"}).status_code == 200
    )
    settings = Settings(home=home)
    store = TokenStore(settings.auth_path, settings.server_secret())
    try:
        assert store.revoke(api.tokens["editor"].split("_")[1])
    finally:
        store.close()
    head = api.head()
    refused = api.request("PATCH", CARD, "editor", json={"tagline": "Two"})
    assert refused.status_code == 401
    assert "not valid" in refused.json()["detail"]
    assert api.head() == head


def test_a_token_with_a_wrong_secret_is_refused(api: Api) -> None:
    prefix, token_id, _ = api.tokens["admin"].split("_", 2)
    forged = f"{prefix}_{token_id}_not-the-secret"
    answer = api.client.post(
        "/api/reviewers",
        json={"handle": "eve", "name": "Eve", "lens": "buyer"},
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert answer.status_code == 401


def test_events_carry_the_principal_as_actor(api: Api) -> None:
    edit = api.request("PATCH", CARD, "editor", json={"tagline": "Three"})
    review = api.request(
        "PUT",
        CARD + "/reviews/skeptic",
        "skeptic",
        json={"verdict": "skip", "rationale": "Too big to tune.", "reason": "costs"},
    )
    last = review.json()["position"]
    page = api.client.get(
        "/api/events",
        params={"after": edit.json()["position"] - 1, "min_position": last},
    ).json()
    actors = [item["actor"] for item in page["items"]]
    editor_id = api.tokens["editor"].split("_")[1]
    assert actors == [f"editor:{editor_id}", "reviewer:skeptic"]
