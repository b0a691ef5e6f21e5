"""Two ``ledger serve`` nodes on one PostgreSQL log share tokens and idempotency keys.

Neither is copied between the nodes' homes: both live beside the log. A
token issued on one node (over HTTP, or by ``ledger token create`` on that
node's box) works on the other; one revoked on either is refused by both
from the next request on; a create retried on the other node with the same
``Idempotency-Key`` replays the first answer and appends nothing, and the
same key with another body is refused there as it would be on the first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import CARD, LEDGER, problem
from tests.api.test_nodes import Nodes, two_nodes
from tests.helpers import URL, Postgres, private_schema

TOOL = {"slug": "shared-key", "name": "Shared", "vendor": "V", "category": "C"}


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Postgres]:
    """A private schema of the test database, dropped after the test."""
    yield from private_schema(tmp_path / "admin")


@pytest.fixture
def nodes(tmp_path: Path, schema: Postgres) -> Iterator[Nodes]:
    with two_nodes(tmp_path, schema) as served:
        yield served


def _edit(base: str, token: str, tagline: str) -> httpx.Response:
    return httpx.patch(
        base + CARD,
        json={"tagline": tagline},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _cli(home: Path, schema: Postgres, *args: str) -> str:
    """Runs ``ledger ARGS`` on the box of the node at ``home``; its stdout."""
    env = {
        **os.environ,
        **schema.env,
        "LEDGER_HOME": str(home),
        "LEDGER_EVENT_STORE": URL,
    }
    done = subprocess.run(
        [LEDGER, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_token_made_on_one_node_works_on_the_other_until_revoked_on_either(
    nodes: Nodes, schema: Postgres
) -> None:
    one, other = nodes.bases
    issued = httpx.post(
        one + "/api/tokens",
        json={"role": "editor"},
        headers=nodes.auth("admin"),
        timeout=10,
    )
    assert issued.status_code == 201, issued.text
    token, token_id = issued.json()["token"], issued.json()["id"]
    assert _edit(other, token, "Edited on B").status_code == 200
    listed = httpx.get(
        other + f"/api/tokens/{token_id}", headers=nodes.auth("admin"), timeout=10
    )
    assert listed.json()["state"] == "live"
    revoked = httpx.delete(
        other + f"/api/tokens/{token_id}", headers=nodes.auth("admin"), timeout=10
    )
    assert revoked.status_code == 200, revoked.text
    refused = _edit(one, token, "After revocation")
    assert "not valid" in problem(refused, 401)["detail"]
    # From the other box's command line, the same: made on B, revoked on A.
    made = _cli(nodes.homes[1], schema, "token", "create", "--role", "editor")
    assert _edit(one, made, "Made by the CLI on B").status_code == 200
    _cli(nodes.homes[0], schema, "token", "revoke", made.split("_")[1])
    problem(_edit(other, made, "After the CLI revoked it"), 401)
    assert not (nodes.homes[0] / "auth.sqlite").exists()


def test_a_create_retried_on_the_other_node_replays_the_first_answer(
    nodes: Nodes,
) -> None:
    one, other = nodes.bases
    headers = nodes.auth("editor", **{"Idempotency-Key": "create-shared"})
    first = httpx.post(one + "/api/tools", json=TOOL, headers=headers, timeout=10)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    before = len(nodes.log_of())
    again = httpx.post(other + "/api/tools", json=TOOL, headers=headers, timeout=10)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    changed = {**TOOL, "name": "Another body"}
    reused = httpx.post(other + "/api/tools", json=changed, headers=headers, timeout=10)
    assert problem(reused, 422)["type"] == "/problems/idempotency-key-reused"
    assert len(nodes.log_of()) == before
    # Nothing of it was kept in the nodes' homes.
    assert not any((home / "api-claims").exists() for home in nodes.homes)
