"""Request ids, access logs as JSON lines, and request metrics.

One ASGI wrapper does all three around the whole application, outside
Litestar's routing, so even a 404 for an unknown path or a 405 gets a request
id, a log line and a count. Log lines are single JSON objects, so log
shippers need no parsing rules.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any, cast

import msgspec
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from api import metrics

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:@/+=-]{1,128}$")
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line, enc_hook=str).decode()


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that writes JSON lines to stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "api": {"handlers": ["stderr"], "level": level, "propagate": False},
            "projections": {"handlers": ["stderr"], "level": level, "propagate": False},
            "litestar": {
                "handlers": ["stderr"],
                "level": "WARNING",
                "propagate": False,
            },
        },
    }


class AccessLog:
    """One JSON line per request, in the same shape as :class:`JsonFormatter`'s.

    Written in batches rather than through ``logging``: a log record, a
    formatter and a write system call per request would cost more than
    answering a card from cache. Lines are buffered for at most
    ``interval`` seconds (or ``limit`` bytes), then written in one go.

    Args:
        stream: Where lines go (standard error by default, read at write time).
        interval: Longest a line waits in the buffer, in seconds.
        limit: Buffered bytes that trigger an immediate write.
    """

    def __init__(
        self, stream: IO[str] | None = None, interval: float = 0.2, limit: int = 65536
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._limit = limit
        self._lines: list[bytes] = []
        self._size = 0
        self._scheduled: asyncio.TimerHandle | None = None

    def write(self, line: dict[str, Any]) -> None:
        """Buffers one line; schedules or performs the write."""
        encoded = _encode_line(line)
        self._lines.append(encoded)
        self._size += len(encoded) + 1
        if self._size >= self._limit:
            self.flush()
        elif self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_later(
                self._interval, self.flush
            )

    def flush(self) -> None:
        """Writes every buffered line now."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if not self._lines:
            return
        data = b"\n".join(self._lines).decode() + "\n"
        self._lines.clear()
        self._size = 0
        stream = self._stream or sys.stderr
        stream.write(data)
        stream.flush()


_encode_line = msgspec.json.Encoder().encode


class RequestObserver:
    """ASGI wrapper: assigns ``X-Request-ID``, logs and counts each request.

    Args:
        app: The application to wrap.
        access_log: Where to write an access log line per request, if anywhere.
    """

    def __init__(self, app: ASGIApp, *, access_log: AccessLog | None) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "method" not in scope:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "<unmatched>"
            method: str = cast("HTTPScope", scope)["method"]
            if method not in _METHODS:
                method = "OTHER"
            metrics.observe(method, route, status, elapsed)
            if self.access_log is not None:
                path = scope["path"]
                self.access_log.write(
                    {
                        "ts": datetime.now(UTC).isoformat(),
                        "level": "info",
                        "logger": "api.access",
                        "msg": f"{method} {path} {status}",
                        "request_id": request_id,
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": (scope.get("client") or ("", 0))[0],
                    }
                )


# Generated ids: a random per-process prefix and a counter, unique without
# paying for a UUID (and its system call) on every request.
_PREFIX = secrets.token_hex(6)
_COUNTER = itertools.count(1)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _VALID_REQUEST_ID.match(value):
                return value.decode()
            break
    return f"{_PREFIX}-{next(_COUNTER):x}"
