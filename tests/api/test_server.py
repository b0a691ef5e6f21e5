"""End to end against ``ledger serve``: granian, several workers, real sockets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import CARD, issue_tokens, make_home, served
from tests.stores import STORES, environment, store_env


@pytest.fixture(scope="module", params=STORES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """Two granian workers over one demo ledger, on each event store."""
    root = tmp_path_factory.mktemp("served")
    with store_env(request.param, root) as env:
        with environment(env):
            home = make_home(root)
            tokens = issue_tokens(home)
        with served(home, workers=2, env=env) as base:
            yield base, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _events(response: httpx.Response, count: int) -> list[dict[str, str]]:
    """Reads ``count`` SSE events (comments skipped) from a streaming response."""
    found: list[dict[str, str]] = []
    event: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in event:
                found.append(event)
                if len(found) == count:
                    return found
            event = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        event[name] = value.removeprefix(" ")
    return found


def test_reads_and_writes_over_real_http(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    with httpx.Client(base_url=base, timeout=10) as client:
        card = client.get(CARD)
        assert card.status_code == 200
        assert card.json()["panel"]["ship_pct"] == 100.0
        vote = client.put(
            CARD + "/vote", json={"choice": "skip"}, headers=_auth(tokens["voter"])
        )
        assert vote.status_code == 201
        position = vote.json()["position"]
        # Whichever worker answers, min_position makes the write visible.
        for _ in range(4):
            seen = client.get(CARD, params={"min_position": position}).json()
            assert seen["community"]["skip"] >= 1
        page = client.get("/compare/code-llama-4/mistral-medium-3")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert client.get("/schema/openapi.json").status_code == 200


def test_event_stream_delivers_new_events_and_resumes(
    server: tuple[str, dict[str, str]],
) -> None:
    base, tokens = server
    url = base + "/api/events/stream"
    with (
        httpx.Client(timeout=httpx.Timeout(10.0)) as client,
        client.stream("GET", url) as live,
    ):
        assert live.status_code == 200
        assert live.headers["content-type"].startswith("text/event-stream")
        first = client.put(
            base + "/api/tools/mistral-medium-3/vote",
            json={"choice": "ship"},
            headers=_auth(tokens["voter2"]),
        )
        assert first.status_code == 201
        second = client.put(
            base + "/api/tools/mistral-medium-3/vote",
            json={"choice": "skip"},
            headers=_auth(tokens["voter2"]),
        )
        assert second.status_code == 200
        received = _events(live, 2)
    assert [int(event["id"]) for event in received] == [
        first.json()["position"],
        second.json()["position"],
    ]
    assert [event["event"] for event in received] == ["Vote.Cast", "Vote.Changed"]
    data = json.loads(received[1]["data"])
    assert data["position"] == second.json()["position"]
    assert data["data"]["choice"] == "skip"

    resume = {"Last-Event-ID": received[0]["id"]}
    with (
        httpx.Client(timeout=httpx.Timeout(10.0)) as client,
        client.stream("GET", url, headers=resume) as again,
    ):
        replayed = _events(again, 1)
    assert int(replayed[0]["id"]) == second.json()["position"]

    with (
        httpx.Client(timeout=httpx.Timeout(10.0)) as client,
        client.stream("GET", url, params={"after": 0}) as from_start,
    ):
        earliest = _events(from_start, 1)
    assert earliest[0]["id"] == "1"
    assert earliest[0]["event"] == "Tool.Registered"


def test_metrics_add_up_across_workers(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server

    def pings(text: str) -> float:
        for line in text.splitlines():
            if (
                line.startswith("http_requests_total{")
                and 'route="/healthz/ping"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    scraper = _auth(tokens["admin"])
    with httpx.Client(base_url=base, timeout=10) as client:
        before = pings(client.get("/metrics", headers=scraper).text)
        for _ in range(40):
            assert client.get("/healthz/ping").status_code == 200
        # Any worker may answer the scrape; each must report all 40.
        for _ in range(4):
            text = client.get("/metrics", headers=scraper).text
            assert pings(text) - before == 40
        assert "ledger_projection_lag_events" in text


@pytest.mark.usefixtures("event_store")
def test_serve_stops_promptly_with_a_stream_open(tmp_path: Path) -> None:
    """An event stream never ends by itself; stopping must end it."""
    home = make_home(tmp_path)
    received: list[str] = []

    def listen(url: str) -> None:
        with httpx.stream("GET", url, timeout=httpx.Timeout(30.0)) as stream:
            received.extend(stream.iter_lines())

    with served(home, workers=1) as base:
        assert httpx.get(base + "/healthz", timeout=5).json()["lag"] == 0
        listener = threading.Thread(target=listen, args=(base + "/api/events/stream",))
        listener.start()
        time.sleep(0.5)
        started = time.monotonic()
    # served() has sent SIGINT and fails the test if the server is still up
    # 15 s later; the stream must have been ended, not cut by a timeout.
    listener.join(5)
    assert not listener.is_alive()
    assert time.monotonic() - started < 10
    assert ": verdict ledger events" in received
