"""Liveness and readiness: ``/healthz/live`` and ``/healthz/ready``.

The storage faults that fail readiness are injected in
``test_storage_faults.py``; these are the node's own states.
"""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from api import create_app
from tests.api.helpers import Api, problem, settings_for


def test_a_healthy_node_is_live_and_ready(api: Api) -> None:
    assert api.client.get("/healthz/live").json() == {"status": "alive"}
    answer = api.client.get("/healthz/ready")
    assert answer.status_code == 200
    ready = answer.json()
    assert ready["status"] == "ready"
    assert set(ready["checks"]) == {"read_models", "event_store", "disk", "last_write"}
    assert ready["checks"]["read_models"] == f"at position {api.head()}"
    assert ready["checks"]["event_store"] == "writable"


def test_closed_read_models_make_the_node_not_ready_but_alive(api: Api) -> None:
    api.client.app.state.read_model.close()
    refused = api.client.get("/healthz/ready")
    body = problem(refused, 503)
    assert body["type"] == "/problems/not-ready"
    assert body["detail"] == "read_models: the read models are not open"
    assert refused.headers["Retry-After"] == "5"
    assert api.client.get("/healthz/live").status_code == 200


def test_a_stopped_projector_makes_the_node_not_ready(api: Api) -> None:
    api.client.app.state.projector.stop()
    body = problem(api.client.get("/healthz/ready"), 503)
    assert "not following the log" in body["detail"]


def test_too_little_free_space_makes_the_node_not_ready(home: Path) -> None:
    settings = settings_for(home, min_free_bytes=2**62)
    with TestClient(app=create_app(settings)) as client:
        body = problem(client.get("/healthz/ready"), 503)
        assert body["detail"].startswith("disk: ")
        assert "fewer than LEDGER_MIN_FREE_BYTES" in body["detail"]
        # Reads are still served: only writes are at risk.
        assert client.get("/api/tools").status_code == 200


def test_the_health_routes_are_in_the_openapi_document(api: Api) -> None:
    paths = api.client.get("/schema/openapi.json").json()["paths"]
    assert "get" in paths["/healthz/live"]
    ready = paths["/healthz/ready"]["get"]["responses"]
    assert "(/problems/not-ready)" in ready["503"]["description"]
