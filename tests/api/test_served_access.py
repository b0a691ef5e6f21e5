"""Token revocation, expiry and metrics access on a real ``ledger serve``.

Two granian workers each keep their own connection to the token store; a
token revoked from the command line or over HTTP must be refused from the
next request on by both, and an expired one by both. Which worker answered
is read from the request id, whose prefix is per process.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.browser_security import CSP
from ledger.auth import TokenStoreBase, open_token_store
from tests.api.helpers import LEDGER, issue_tokens, ledger_settings, make_home, served
from tests.stores import STORES, environment, store_env

WORKERS = 2
PER_WORKER = 5
ATTEMPTS = 400


@dataclass(frozen=True)
class Node:
    """The served node: its URL, home, tokens and event store's environment."""

    base: str
    home: Path
    tokens: dict[str, str]
    env: dict[str, str]


@pytest.fixture(scope="module", params=STORES)
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """Two workers over a demo ledger; metrics allowed to a network not ours."""
    root = tmp_path_factory.mktemp("served-access")
    with store_env(request.param, root) as env:
        with environment(env):
            home = make_home(root)
            tokens = issue_tokens(home)
        store = _store(home, env)
        try:
            tokens["admin2"] = store.create("admin")
            tokens["admin3"] = store.create("admin")
            tokens["metrics"] = store.create("metrics")
            tokens["expired"], _ = store.issue(
                "admin",
                expires_in=timedelta(minutes=30),
                now=datetime.now(UTC) - timedelta(hours=1),
            )
        finally:
            store.close()
        allow = {**env, "LEDGER_METRICS_ALLOW": "10.0.0.0/8"}
        with served(home, workers=WORKERS, env=allow) as base:
            yield Node(base, home, tokens, env)


def _store(home: Path, env: dict[str, str]) -> TokenStoreBase:
    with environment(env):
        return open_token_store(ledger_settings(home), env)


def _worker(answer: httpx.Response) -> str:
    """The answering process: the per-process prefix of its request id."""
    return answer.headers["x-request-id"].rsplit("-", 1)[0]


def _statuses_by_worker(base: str, token: str) -> dict[str, list[int]]:
    """Sends the token, a new connection each time, until every worker answered."""
    seen: dict[str, list[int]] = {}
    for _ in range(ATTEMPTS):
        answer = httpx.get(
            base + "/api/tokens",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        seen.setdefault(_worker(answer), []).append(answer.status_code)
        if len(seen) == WORKERS and all(len(s) >= PER_WORKER for s in seen.values()):
            return seen
    pytest.fail(f"not every worker answered in {ATTEMPTS} requests: {seen}")


def _all(seen: dict[str, list[int]]) -> set[int]:
    return {status for statuses in seen.values() for status in statuses}


def _revoke_with_the_cli(served: Node, token_id: str) -> None:
    revoked = subprocess.run(
        [LEDGER, "token", "revoke", token_id],
        env={**os.environ, **served.env, "LEDGER_HOME": str(served.home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert revoked.returncode == 0, revoked.stderr


def _revoke_over_http(base: str, token_id: str, admin: str) -> None:
    revoked = httpx.delete(
        f"{base}/api/tokens/{token_id}",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text


@pytest.mark.parametrize(
    ("who", "how"), [("admin2", "cli"), ("admin3", "http")], ids=["cli", "http"]
)
def test_a_revoked_token_is_refused_by_every_worker(
    node: Node, who: str, how: str
) -> None:
    base, tokens = node.base, node.tokens
    # Every worker has verified the token before...
    assert _all(_statuses_by_worker(base, tokens[who])) == {200}
    token_id = tokens[who].split("_")[1]
    if how == "cli":
        _revoke_with_the_cli(node, token_id)
    else:
        _revoke_over_http(base, token_id, tokens["admin"])
    # ... and every one refuses it from the next request on.
    assert _all(_statuses_by_worker(base, tokens[who])) == {401}


def test_an_expired_token_is_refused_by_every_worker(node: Node) -> None:
    base, tokens = node.base, node.tokens
    assert _all(_statuses_by_worker(base, tokens["expired"])) == {401}


def test_the_last_use_of_a_token_is_recorded(node: Node) -> None:
    base, tokens = node.base, node.tokens
    token_id = tokens["admin"].split("_")[1]
    started = datetime.now(UTC).replace(microsecond=0)
    answer = httpx.get(
        base + "/api/tokens",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        timeout=10,
    )
    assert answer.status_code == 200
    # Written by the worker's own thread soon after: look until it is there.
    deadline = time.monotonic() + 10
    store = _store(node.home, node.env)
    try:
        while True:
            info = store.get(token_id)
            assert info is not None
            if info.last_used_at is not None:
                break
            assert time.monotonic() < deadline, "the last use was never written"
            time.sleep(0.05)
    finally:
        store.close()
    assert info.last_used_at >= started - timedelta(minutes=1)


def test_metrics_outside_the_allow_list_need_a_token(node: Node) -> None:
    base, tokens = node.base, node.tokens
    anonymous = httpx.get(base + "/metrics", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    scraper = httpx.get(
        base + "/metrics",
        headers={"Authorization": f"Bearer {tokens['metrics']}"},
        timeout=10,
    )
    assert scraper.status_code == 200
    assert "ledger_projection_lag_events" in scraper.text


@pytest.mark.usefixtures("event_store")
def test_an_allowed_address_reads_metrics_without_a_token(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    with served(home, env={"LEDGER_METRICS_ALLOW": "10.0.0.0/8, 127.0.0.1"}) as base:
        answer = httpx.get(base + "/metrics", timeout=10)
    assert answer.status_code == 200
    assert "ledger_head_position" in answer.text


def test_the_event_stream_carries_the_security_headers(node: Node) -> None:
    with httpx.stream("GET", node.base + "/api/events/stream", timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-security-policy"] == CSP
        assert stream.headers["x-content-type-options"] == "nosniff"
        assert stream.headers["x-frame-options"] == "DENY"
