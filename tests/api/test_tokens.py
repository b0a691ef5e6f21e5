"""``/api/tokens``: admins issue, list and revoke tokens over HTTP.

Only an admin token gets in (401 without a valid token, 403 with another
role); a token the answer issues works at once, a revoked or expired one is
refused at once, and a token's last use is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from litestar.testing import TestClient

from api import create_app
from api.token_schemas import Role
from ledger.auth import ROLES, TokenStoreBase, open_token_store
from tests.api.helpers import (
    CARD,
    Api,
    issue_tokens,
    ledger_settings,
    problem,
    settings_for,
)

ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/tokens", {}),
    ("GET", "/api/tokens/0123456789ab", {}),
    ("POST", "/api/tokens", {"json": {"role": "voter"}}),
    ("DELETE", "/api/tokens/0123456789ab", {}),
]


def _store(home: Path) -> TokenStoreBase:
    return open_token_store(ledger_settings(home))


def _id(token: str) -> str:
    return token.split("_")[1]


def _listed(api: Api) -> list[tuple[str, str]]:
    """Each token's id and state: what a refused request must leave alone."""
    page = api.request("GET", "/api/tokens", "admin").json()
    return [(item["id"], item["state"]) for item in page["items"]]


@pytest.mark.parametrize(("method", "path", "kw"), ROUTES)
@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("editor", 403), ("voter", 403), ("builder", 403)],
)
def test_only_an_admin_token_gets_in(
    api: Api,
    method: str,
    path: str,
    kw: dict[str, Any],
    who: str | None,
    status: int,
) -> None:
    before = _listed(api)
    problem(api.request(method, path, who, **kw), status)
    assert _listed(api) == before


def test_an_issued_token_is_shown_once_and_works_at_once(api: Api) -> None:
    issued = api.request("POST", "/api/tokens", "admin", json={"role": "editor"})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert issued.headers["cache-control"] == "no-store"
    assert issued.headers["location"] == f"/api/tokens/{body['id']}"
    assert body["token"].startswith(f"vl_{body['id']}_")
    assert (body["role"], body["state"], body["expires_at"]) == ("editor", "live", None)
    edit = api.client.patch(
        CARD,
        json={"tagline": "Issued over HTTP"},
        headers={"Authorization": f"Bearer {body['token']}"},
    )
    assert edit.status_code == 200, edit.text
    shown = api.request("GET", issued.headers["location"], "admin")
    assert shown.status_code == 200
    assert "token" not in shown.json()
    assert body["token"].split("_", 2)[2] not in shown.text


def test_a_token_may_be_issued_to_expire(api: Api) -> None:
    answer = api.request(
        "POST", "/api/tokens", "admin", json={"role": "voter", "expires_in": "12h"}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    created = datetime.fromisoformat(body["created_at"])
    assert datetime.fromisoformat(body["expires_at"]) - created == timedelta(hours=12)


def test_a_reviewer_token_names_an_enrolled_reviewer(api: Api) -> None:
    answer = api.request(
        "POST",
        "/api/tokens",
        "admin",
        json={"role": "reviewer", "reviewer": "skeptic", "expires_in": "30d"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["reviewer"] == "skeptic"


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"role": "voter", "expires_in": "soon"}, 422, "invalid-duration"),
        ({"role": "voter", "expires_in": "0m"}, 422, "invalid-duration"),
        ({"role": "voter", "expires_in": "9999d"}, 422, "invalid-duration"),
        ({"role": "voter", "expires_in": "9" * 40}, 422, "validation-failed"),
        ({"role": "reviewer"}, 422, "reviewer-token-mismatch"),
        ({"role": "editor", "reviewer": "skeptic"}, 422, "reviewer-token-mismatch"),
        ({"role": "reviewer", "reviewer": "nobody"}, 404, "reviewer-not-found"),
        ({"role": "root"}, 422, "validation-failed"),
        ({"role": "voter", "secret": "mine"}, 422, "validation-failed"),
    ],
)
def test_a_bad_request_for_a_token_issues_none(
    api: Api, body: dict[str, str], status: int, kind: str
) -> None:
    before = _listed(api)
    refused = api.refuses(status, "POST", "/api/tokens", "admin", json=body)
    assert refused["type"] == f"/problems/{kind}"
    assert _listed(api) == before


def test_the_list_pages_in_the_order_issued_without_secrets(api: Api) -> None:
    first = api.request("GET", "/api/tokens", "admin", params={"limit": 4})
    assert first.status_code == 200
    page = first.json()
    assert first.headers["cache-control"] == "no-store"
    assert [item["id"] for item in page["items"]] == [
        _id(api.tokens[who]) for who in ("admin", "editor", "builder", "skeptic")
    ]
    assert first.headers["link"] == f'<{page["next"]}>; rel="next"'
    rest = api.client.get(page["next"], headers=api.auth("admin")).json()
    assert [item["id"] for item in rest["items"]] == [
        _id(api.tokens["voter"]),
        _id(api.tokens["voter2"]),
    ]
    assert rest["next"] is None
    reviewers = api.request(
        "GET", "/api/tokens", "admin", params={"role": "reviewer"}
    ).json()
    assert [item["reviewer"] for item in reviewers["items"]] == ["builder", "skeptic"]
    text = first.text + str(rest)
    for token in api.tokens.values():
        assert token.split("_", 2)[2] not in text
    assert "digest" not in text


def test_a_revoked_token_is_refused_from_the_next_request(api: Api) -> None:
    editor = _id(api.tokens["editor"])
    revoked = api.request("DELETE", f"/api/tokens/{editor}", "admin")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked"
    with api.appends(0):
        refused = api.refuses(401, "PATCH", CARD, "editor", json={"tagline": "No"})
    assert "revoked, expired" in refused["detail"]
    again = api.refuses(409, "DELETE", f"/api/tokens/{editor}", "admin")
    assert again["type"] == "/problems/token-already-revoked"
    missing = api.refuses(404, "DELETE", "/api/tokens/0123456789ab", "admin")
    assert missing["type"] == "/problems/token-not-found"
    assert api.refuses(404, "GET", "/api/tokens/nope", "admin")["type"] == (
        "/problems/token-not-found"
    )


def test_an_expired_token_is_refused(api: Api, home: Path) -> None:
    store = _store(home)
    try:
        token, info = store.issue(
            "editor",
            expires_in=timedelta(minutes=90),
            now=datetime.now(UTC) - timedelta(hours=2),
        )
    finally:
        store.close()
    with api.appends(0):
        api.refuses(
            401,
            "PATCH",
            CARD,
            headers={"Authorization": f"Bearer {token}"},
            json={"tagline": "Too late"},
        )
    shown = api.request("GET", f"/api/tokens/{info.id}", "admin").json()
    assert shown["state"] == "expired"


def test_the_last_use_of_a_token_is_recorded(home: Path) -> None:
    tokens = issue_tokens(home)
    started = datetime.now(UTC).replace(microsecond=0)
    with TestClient(app=create_app(settings_for(home))) as client:
        edit = client.patch(
            CARD,
            json={"tagline": "Used"},
            headers={"Authorization": f"Bearer {tokens['editor']}"},
        )
        assert edit.status_code == 200
    # The app's shutdown writes the last uses it queued.
    store = _store(home)
    try:
        used = store.get(_id(tokens["editor"]))
        unused = store.get(_id(tokens["voter"]))
    finally:
        store.close()
    assert used is not None
    assert used.last_used_at is not None
    assert used.last_used_at >= started
    assert unused is not None
    assert unused.last_used_at is None


def test_the_api_offers_every_role_of_the_store() -> None:
    assert get_args(Role) == ROLES
