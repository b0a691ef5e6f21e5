"""The API reference page at ``/schema``: Redoc, without an inline script.

Litestar's own Redoc page starts Redoc from an inline ``<script>`` holding
the whole OpenAPI document, which a Content-Security-Policy without inline
scripts blocks. This page names the document instead (``<redoc spec-url>``),
which Redoc's bundle picks up by itself, so the page needs only the bundle's
host in ``script-src`` (see :data:`api.browser_security.REFERENCE_CSP`).
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request
from litestar.openapi.plugins import RedocRenderPlugin

REDOC_HOST = "https://cdn.redoc.ly"
PATHS = ("/", "/redoc")
"""Where under the OpenAPI path (``/schema``) the page answers."""


class ReferencePage(RedocRenderPlugin):
    """Renders the Redoc page that loads ``openapi.json`` by its URL."""

    def __init__(self) -> None:
        super().__init__(
            js_url=f"{REDOC_HOST}/redoc/latest/bundles/redoc.standalone.js",
            google_fonts=False,
            path=list(PATHS),
        )

    def render(
        self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]
    ) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        config = request.app.openapi_config
        assert config is not None, "a render plugin is only called with one"
        spec = html.escape(f"{config.path}/openapi.json")
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n'
            '  <meta charset="utf-8">\n'
            '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"  <title>{title}</title>\n"
            f'  <script src="{html.escape(self.js_url)}" defer></script>\n'
            "</head>\n<body>\n"
            f'  <redoc spec-url="{spec}"></redoc>\n'
            "</body>\n</html>\n"
        ).encode()
