"""Operations: liveness with lag, the hello-world probe, metrics, OpenAPI."""

from __future__ import annotations

import re

from tests.api.helpers import CARD, Api


def test_healthz_reports_lag(api: Api) -> None:
    answer = api.client.get("/healthz")
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "ok"
    assert health["head"] == api.head()
    assert health["lag"] == health["head"] - health["projected"]


def test_healthz_sees_a_stalled_projector(api: Api) -> None:
    api.client.app.state.projector.stop()
    api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
    health = api.client.get("/healthz").json()
    assert health["lag"] == 1
    assert health["projected"] == health["head"] - 1


def test_ping_is_plain_text(api: Api) -> None:
    answer = api.client.get("/healthz/ping")
    assert answer.status_code == 200
    assert answer.text == "pong"
    assert answer.headers["content-type"].startswith("text/plain")


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_latency_events_and_lag(api: Api) -> None:
    before = api.request("GET", "/metrics", "admin").text
    api.client.get(CARD)
    api.client.get("/api/tools/nope")
    api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
    answer = api.request("GET", "/metrics", "admin")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    route = "/api/tools/{slug}"
    for status in ("200", "404"):
        labels = {"method": "GET", "route": route, "status": status}
        grew = _sample(text, "http_requests_total", **labels) - _sample(
            before, "http_requests_total", **labels
        )
        assert grew == 1, status
    assert (
        _sample(text, "http_request_duration_seconds_count", method="GET", route=route)
        >= 2
    )
    appended = _sample(text, "ledger_events_appended_total", command="cast_vote")
    assert (
        appended - _sample(before, "ledger_events_appended_total", command="cast_vote")
        == 1
    )
    assert re.search(r"^ledger_projection_lag_events \d", text, re.MULTILINE)
    assert _sample(text, "ledger_head_position") == api.head()


def test_openapi_documents_the_contract(api: Api) -> None:
    answer = api.client.get("/schema/openapi.json")
    assert answer.status_code == 200
    spec = answer.json()
    paths = spec["paths"]
    expected = {
        "/api/tools": {"get", "post"},
        "/api/tools/{slug}": {"get", "patch"},
        "/api/tools/{slug}/reviews": {"get"},
        "/api/tools/{slug}/history": {"get"},
        "/api/tools/{slug}/scorecard": {"get"},
        "/api/tools/{slug}/reviews/{handle}": {"put", "delete"},
        "/api/reviewers": {"post"},
        "/api/comparisons": {"get", "post"},
        "/api/comparisons/{a}/{b}": {"get"},
        "/api/comparisons/{a}/{b}/vote": {"put", "delete"},
        "/api/tools/{slug}/vote": {"put", "delete"},
        "/api/voters": {"post"},
        "/api/events": {"get"},
        "/api/events/stream": {"get"},
        "/healthz": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    card = paths["/api/tools/{slug}"]["get"]["responses"]["200"]
    assert "Card" in str(card)
    params = {p["name"] for p in paths["/api/tools/{slug}"]["get"]["parameters"]}
    assert "min_position" in params
    assert api.client.get("/schema").status_code == 200
