"""min_position: read-your-writes, bounded."""

from __future__ import annotations

import time

from tests.api.helpers import CARD, Api


def test_min_position_waits_for_the_write(api: Api) -> None:
    for _ in range(5):
        answer = api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
        position = answer.json()["position"]
        card = api.client.get(CARD, params={"min_position": position}).json()
        assert card["position"] >= position
        assert card["community"]["ship"] == 1
        api.request("DELETE", CARD + "/vote", "voter")


def test_min_position_past_the_log_is_422(api: Api) -> None:
    answer = api.client.get("/api/tools", params={"min_position": api.head() + 100})
    assert answer.status_code == 422
    assert answer.json()["type"] == "/problems/position-beyond-log"


def test_a_stalled_read_model_answers_503_with_retry_after(api: Api) -> None:
    api.client.app.state.projector.stop()
    vote = api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
    position = vote.json()["position"]
    started = time.monotonic()
    answer = api.client.get(CARD, params={"min_position": position})
    waited = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"] == "/problems/projection-behind"
    assert 0.4 <= waited < 3
    api.client.app.state.projector.start()
    assert api.client.get(CARD, params={"min_position": position}).status_code == 200


def test_every_read_takes_min_position(api: Api) -> None:
    head = api.head()
    for path in (
        "/api/tools",
        CARD,
        CARD + "/reviews",
        CARD + "/history",
        "/api/comparisons",
        "/api/comparisons/code-llama-4/mistral-medium-3",
        "/api/events",
    ):
        answer = api.client.get(path, params={"min_position": head})
        assert answer.status_code == 200, path
        bad = api.client.get(path, params={"min_position": -3})
        assert bad.status_code == 422, path
