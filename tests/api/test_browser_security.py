"""Security headers on every kind of answer, pages without inline code, CORS, metrics.

Every answer, whatever made it (a handler, the response cache, the prebuilt
card bytes, a 304, the static files, a refusal before any handler), carries
the Content-Security-Policy, ``nosniff``, ``X-Frame-Options`` and a
``Referrer-Policy``. CORS stays off unless origins are configured; /metrics
needs a metrics or admin token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from api.browser_security import CSP, REFERENCE_CSP
from api.config import ApiSettings
from tests.api.helpers import CARD, PAIR, Api, problem, settings_for

PAGES = [
    "/",
    "/tools/code-llama-4",
    "/tools/code-llama-4/provenance",
    "/compare/code-llama-4/mistral-medium-3",
    "/tools/no-such-tool",
    "/problems/tool-not-found",
]
APP_ORIGIN = "https://app.example"


def _revalidated(api: Api, path: str) -> httpx.Response:
    first = api.client.get(path)
    assert "etag" in first.headers, path
    answer = api.client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert answer.status_code == 304, path
    return answer


ANSWERS: dict[str, Callable[[Api], httpx.Response]] = {
    "json list": lambda api: api.client.get("/api/tools"),
    "json list from the response cache": lambda api: (
        api.client.get("/api/comparisons"),
        api.client.get("/api/comparisons"),
    )[1],
    "prebuilt card": lambda api: api.client.get(CARD),
    "prebuilt card 304": lambda api: _revalidated(api, CARD),
    "prebuilt comparison 304": lambda api: _revalidated(api, PAIR),
    **{f"page {path}": lambda api, path=path: api.client.get(path) for path in PAGES},
    "atom feed": lambda api: api.client.get("/feeds/verdicts.atom"),
    "static css": lambda api: api.client.get("/static/site.css"),
    "static js": lambda api: api.client.get("/static/vote.js"),
    "problem 404": lambda api: api.client.get("/api/tools/nope"),
    "unknown path": lambda api: api.client.get("/api/nothing-here"),
    "wrong method": lambda api: api.client.delete("/api/tools"),
    "no token": lambda api: api.client.post("/api/tools", json={}),
    "validation": lambda api: api.client.get("/api/events?limit=0"),
    "health": lambda api: api.client.get("/healthz"),
    "ping": lambda api: api.client.get("/healthz/ping"),
    "metrics refused": lambda api: api.client.get("/metrics"),
    "metrics": lambda api: api.request("GET", "/metrics", "admin"),
    "openapi json": lambda api: api.client.get("/schema/openapi.json"),
    "options": lambda api: api.client.options("/api/tools"),
    "write": lambda api: api.request(
        "PUT", CARD + "/vote", "voter", json={"choice": "ship"}
    ),
    "tokens": lambda api: api.request("GET", "/api/tokens", "admin"),
}


def _assert_headers(answer: httpx.Response, csp: str = CSP) -> None:
    assert answer.headers["content-security-policy"] == csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_every_kind_of_answer_carries_the_security_headers(api: Api, kind: str) -> None:
    _assert_headers(ANSWERS[kind](api))


def test_the_policy_allows_no_inline_script_and_no_framing() -> None:
    for policy in (CSP, REFERENCE_CSP):
        directives = dict([*part.split(" ", 1), ""][:2] for part in policy.split("; "))
        assert "'unsafe-inline'" not in directives["script-src"]
        assert "'unsafe-eval'" not in directives["script-src"]
        assert directives["frame-ancestors"] == "'none'"
        assert directives["default-src"] == "'none'"
    assert "'unsafe-inline'" not in CSP


def test_the_reference_page_runs_no_inline_script(api: Api) -> None:
    for path in ("/schema", "/schema/redoc"):
        answer = api.client.get(path)
        assert answer.status_code == 200
        _assert_headers(answer, REFERENCE_CSP)
        found = InlineCode(answer.text)
        assert found.problems == []
        assert found.scripts == [
            "https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"
        ]
        assert '<redoc spec-url="/schema/openapi.json">' in answer.text


class InlineCode(HTMLParser):
    """Scripts a page loads, and any code or style written into the page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.problems: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            if named.get("src"):
                self.scripts.append(str(named["src"]))
            else:
                self.problems.append("inline <script>")
            self._in_script = True
        if tag == "style":
            self.problems.append("inline <style>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")


@pytest.mark.parametrize("path", PAGES)
def test_pages_hold_no_inline_script_style_or_handler(api: Api, path: str) -> None:
    answer = api.client.get(path)
    assert "text/html" in answer.headers["content-type"]
    found = InlineCode(answer.text)
    assert found.problems == []
    assert all(src.startswith("/static/") for src in found.scripts)


def test_cors_is_off_without_configured_origins(api: Api) -> None:
    preflight = api.client.options(
        "/api/tools",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert not any(name.startswith("access-control-") for name in preflight.headers)
    read = api.client.get("/api/tools", headers={"Origin": APP_ORIGIN})
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers


@pytest.fixture
def cors_client(home: Path) -> Iterator[TestClient[Litestar]]:
    """The app with one origin allowed to call it from a browser."""
    settings = settings_for(home, cors_origins=(APP_ORIGIN,))
    with TestClient(app=create_app(settings)) as client:
        yield client


def _preflight(client: TestClient[Litestar], origin: str) -> httpx.Response:
    """A browser's preflight of a vote from a page of ``origin``."""
    return client.options(
        CARD + "/vote",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": (
                "authorization,content-type,idempotency-key"
            ),
        },
    )


def test_a_configured_origin_passes_its_preflight(
    cors_client: TestClient[Litestar],
) -> None:
    preflight = _preflight(cors_client, APP_ORIGIN)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= set(
        allowed.replace(" ", "").split(",")
    )
    _assert_cors_headers(preflight)
    read = cors_client.get(CARD, headers={"Origin": APP_ORIGIN})
    assert read.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "ETag" in read.headers["access-control-expose-headers"]


def test_another_origin_is_refused_its_preflight(
    cors_client: TestClient[Litestar],
) -> None:
    preflight = _preflight(cors_client, "https://evil.example")
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    _assert_cors_headers(preflight)
    read = cors_client.get(CARD, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in read.headers


def _assert_cors_headers(answer: httpx.Response) -> None:
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("voter", 403), ("editor", 403), ("metrics", 200), ("admin", 200)],
)
def test_metrics_need_a_metrics_or_admin_token(
    api: Api, who: str | None, status: int
) -> None:
    if who == "metrics":
        api.tokens["metrics"] = _metrics_token(api)
    answer = api.request("GET", "/metrics", who)
    if status == 200:
        assert answer.status_code == 200
        assert "ledger_projection_lag_events" in answer.text
    else:
        problem(answer, status)


def _metrics_token(api: Api) -> str:
    issued = api.request("POST", "/api/tokens", "admin", json={"role": "metrics"})
    assert issued.status_code == 201
    token: str = issued.json()["token"]
    return token


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("LEDGER_CORS_ORIGINS", "app.example", "LEDGER_CORS_ORIGINS must be"),
        ("LEDGER_CORS_ORIGINS", "https://app.example/", "not 'https://app.example/'"),
        ("LEDGER_CORS_ORIGINS", "ftp://app.example", "comma-separated origins"),
        ("LEDGER_METRICS_ALLOW", "localhost", "LEDGER_METRICS_ALLOW must be"),
        ("LEDGER_METRICS_ALLOW", "10.0.0.0/33", "not '10.0.0.0/33'"),
    ],
)
def test_a_bad_allow_list_is_refused_by_name(name: str, value: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        ApiSettings.from_env({name: value})


def test_allow_lists_are_read_from_the_environment() -> None:
    settings = ApiSettings.from_env(
        {
            "LEDGER_CORS_ORIGINS": " https://app.example, http://localhost:3000 ",
            "LEDGER_METRICS_ALLOW": "127.0.0.1, 10.0.0.0/8, ::1",
        }
    )
    assert settings.cors_origins == ("https://app.example", "http://localhost:3000")
    assert [str(net) for net in settings.metrics_allow] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    defaults = ApiSettings.from_env({})
    assert (defaults.cors_origins, defaults.metrics_allow) == ((), ())
