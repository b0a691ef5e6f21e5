"""Bearer tokens: verified against the hashed store, revocable, stamped as actor.

Every write needs a token of a role that may do it: none or a bad one is 401
with ``WWW-Authenticate``, another role's is 403, and either appends nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.auth import open_token_store
from tests.api.helpers import CARD, PAIR, Api, ledger_settings, problem

TOOL = {"slug": "zed-coder", "name": "Zed Coder", "vendor": "Zed", "category": "C"}
REVIEW = {"verdict": "skip", "rationale": "Not mine to say.", "reason": "x"}
# Each write, and the tokens that may not make it (besides none and bad ones).
WRITES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("POST", "/api/tools", {"json": TOOL}, ["voter", "builder"]),
    ("PATCH", CARD, {"json": {"name": "X"}}, ["voter"]),
    (
        "POST",
        "/api/reviewers",
        {"json": {"handle": "ada", "name": "Ada", "lens": "skeptic"}},
        ["editor", "voter"],
    ),
    ("PUT", CARD + "/reviews/builder", {"json": REVIEW}, ["editor", "admin"]),
    ("DELETE", CARD + "/reviews/builder", {"params": {"reason": "x"}}, ["editor"]),
    (
        "POST",
        "/api/comparisons",
        {"json": {"a": "code-llama-4", "b": "mistral-medium-3", "question": "?"}},
        ["voter"],
    ),
    ("PUT", CARD + "/vote", {"json": {"choice": "ship"}}, ["editor"]),
    ("DELETE", CARD + "/vote", {}, ["admin"]),
    ("PUT", PAIR + "/vote", {"json": {"pick": "code-llama-4"}}, ["builder"]),
    ("DELETE", PAIR + "/vote", {}, ["editor"]),
]
REFUSALS = [
    pytest.param(method, path, kw, who, headers, status, id=f"{method} {path} {label}")
    for method, path, kw, others in WRITES
    for who, headers, status, label in [
        (None, {}, 401, "anonymous"),
        (None, {"Authorization": "Bearer vl_nope_nope"}, 401, "unknown token"),
        (None, {"Authorization": "Basic dXNlcjpwYXNz"}, 401, "basic auth"),
        *((other, {}, 403, other) for other in others),
    ]
]


@pytest.mark.parametrize(("method", "path", "kw", "who", "headers", "status"), REFUSALS)
def test_a_write_refuses_callers_without_the_role(
    api: Api,
    method: str,
    path: str,
    kw: dict[str, Any],
    who: str | None,
    headers: dict[str, str],
    status: int,
) -> None:
    with api.appends(0):
        answer = api.request(method, path, who, headers=headers, **kw)
    problem(answer, status)
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused_at_once(api: Api, home: Path) -> None:
    assert (
        api.request("PATCH", CARD, "editor", json={"tagline": "One"}).status_code == 200
    )
    store = open_token_store(ledger_settings(home))
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
