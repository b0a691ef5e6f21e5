"""What browsers are told about every answer: security headers and CORS.

:class:`SecurityHeaders` wraps the whole application as raw ASGI, outside
Litestar's routing, so every answer carries the headers: JSON, pages, feeds,
static files, problems, 304s, the event stream and the prebuilt card bytes
that skip Litestar's response machinery. The pages run no inline script and
no inline style (``vote.js`` and ``site.css`` are static files), so the
policy allows only this origin's own files.

Cross-origin calls (CORS) are off unless ``LEDGER_CORS_ORIGINS`` lists the
origins allowed; then Litestar's ``CORSConfig`` answers their preflights.
"""

from __future__ import annotations

from litestar.config.cors import CORSConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.web.reference import PATHS, REDOC_HOST

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""Every answer's policy: this origin's scripts, styles and calls only."""

REFERENCE_CSP = (
    f"default-src 'none'; script-src 'self' {REDOC_HOST}; "
    # Redoc styles its page from script (styled-components) and searches in
    # a worker it makes from a blob; neither runs an inline script.
    "style-src 'self' 'unsafe-inline'; worker-src blob:; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""The policy of the API reference page (:mod:`api.web.reference`)."""

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


def headers_for(csp: str) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers of an answer under the policy ``csp``."""
    return ((b"content-security-policy", csp.encode()), *_COMMON)


class SecurityHeaders:
    """ASGI wrapper: adds the security headers to every HTTP answer.

    Args:
        app: The application to wrap.
        schema_path: Where the OpenAPI routes live (``/schema``); the
            reference page under it gets :data:`REFERENCE_CSP`.
    """

    def __init__(self, app: ASGIApp, *, schema_path: str) -> None:
        self.app = app
        self._headers = headers_for(CSP)
        self._reference_headers = headers_for(REFERENCE_CSP)
        self._reference_paths = frozenset(
            schema_path + path.rstrip("/") for path in PATHS
        ) | {schema_path + "/"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = (
            self._reference_headers
            if scope["path"] in self._reference_paths
            else self._headers
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A copy: the response cache keeps the message it saw and
                # sends that same one again for the next request.
                headers = [*message.get("headers", ()), *added]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """Litestar's CORS for the allowed ``origins``; None (CORS off) for none."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
            "Last-Event-ID",
            "X-Request-ID",
        ],
        expose_headers=[
            "ETag",
            "Link",
            "Location",
            "Retry-After",
            "WWW-Authenticate",
            "X-Request-ID",
        ],
        allow_credentials=False,
    )
