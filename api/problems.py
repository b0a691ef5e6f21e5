"""One exception handler: every failure becomes an RFC 9457 problem.

Clients get the same shape whether the ledger refused a command, Litestar
refused a request before a handler ran, or something broke: ``type`` names
the kind of problem, ``title`` says it in words, ``status`` repeats the HTTP
status and ``detail`` says what exactly was wrong with this request. A domain
error's status follows from its base class, so a new error class in
``ledger.errors`` needs no change here.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from api.problem_types import domain_status, http_kind, kebab, title
from ledger import errors
from ledger.auth import TokenError

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/problems/"

log = logging.getLogger("api.problems")


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem details body.

    Attributes:
        type: A URI reference naming the kind of problem.
        title: A short, human-readable summary of that kind.
        status: The HTTP status code.
        detail: What went wrong with this particular request.
        instance: The path of the request that failed.
        request_id: The request's correlation id, as in ``X-Request-ID``.
        errors: Per-field validation messages, for 422 from validation.
        expected: For a stale ``If-Match``: the version the client expected.
        actual: For a stale ``If-Match``: the version the ledger holds.
    """

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    expected: int | None = None
    actual: int | None = None


class ApiProblem(Exception):
    """A problem the API itself raises, outside the ledger's own errors.

    Args:
        status: The HTTP status code.
        kind: The problem type's last path segment, e.g. ``projection-behind``.
        detail: What went wrong with this request.
        headers: Extra response headers such as ``Retry-After``.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    return [
        {k: v for k, v in item.items() if k in ("key", "source", "message")}
        for item in extra
        if isinstance(item, dict)
    ]


def _validation_detail(found: list[dict[str, Any]]) -> str:
    if not found:
        return "the request is not valid"
    parts = []
    for item in found:
        where = item.get("key") or "body"
        source = item.get("source")
        label = f"{source} {where!r}" if source else repr(where)
        parts.append(f"{label}: {item.get('message', 'is not valid')}")
    return "; ".join(parts)


def to_problem(exc: Exception) -> tuple[Problem, dict[str, str]]:
    """The problem body and extra headers that stand for ``exc``."""
    if isinstance(exc, ApiProblem):
        problem = Problem(TYPE_BASE + exc.kind, title(exc.kind), exc.status, exc.detail)
        return problem, exc.headers
    if isinstance(exc, errors.LedgerError):
        kind = kebab(type(exc).__name__)
        problem = Problem(
            TYPE_BASE + kind, title(kind), domain_status(type(exc)), str(exc)
        )
        if isinstance(exc, errors.StaleVersion):
            problem.expected, problem.actual = exc.expected, exc.actual
        return problem, {}
    if isinstance(exc, TokenError):
        return Problem(
            TYPE_BASE + "invalid-token-request", "Invalid token request", 422, str(exc)
        ), {}
    if isinstance(exc, ValidationException):
        found = _validation_errors(exc)
        problem = Problem(
            TYPE_BASE + "validation-failed",
            "Validation failed",
            422,
            _validation_detail(found),
            errors=found or None,
        )
        return problem, {}
    if isinstance(exc, HTTPException):
        status = exc.status_code
        phrase = (
            HTTPStatus(status).phrase
            if status in HTTPStatus._value2member_map_
            else "Error"
        )
        kind = http_kind(phrase)
        detail = (
            exc.detail
            if exc.detail and exc.detail != phrase
            else _DEFAULT_DETAIL.get(status, phrase)
        )
        if isinstance(exc.__cause__, SerializationException):
            kind, detail = "malformed-body", f"the body is not valid JSON: {detail}"
        headers = dict(exc.headers or {})
        if isinstance(exc, NotAuthorizedException):
            headers.setdefault("WWW-Authenticate", 'Bearer realm="verdict-ledger"')
        return Problem(TYPE_BASE + kind, phrase, status, detail), headers
    return (
        Problem(
            TYPE_BASE + "internal-error",
            "Internal server error",
            HTTP_500_INTERNAL_SERVER_ERROR,
            "the server failed to handle this request; it has been logged",
        ),
        {},
    )


_DEFAULT_DETAIL = {
    400: "the request could not be understood",
    401: "this request needs 'Authorization: Bearer <token>' with a valid token",
    403: "this token's role may not do this",
    404: "there is nothing at this path",
    405: "this path does not take that method",
    413: "the request body is larger than this server accepts",
    429: "too many requests from this client; wait and retry",
}


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's handler for every exception: answers with problem details."""
    problem, headers = to_problem(exc)
    if problem.status >= 500:
        log.exception(
            "unhandled error on %s %s", request.method, request.url.path, exc_info=exc
        )
    problem.instance = request.url.path
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        problem.request_id = request_id
    if problem.status == 405 and isinstance(exc, HTTPException):
        headers.update(exc.headers or {})
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


_DESCRIPTIONS = {
    400: "Malformed request (body, If-Match or Idempotency-Key)",
    401: "No bearer token, or not a valid one",
    403: "The token's role may not do this",
    404: "No such tool, reviewer, review, vote or comparison",
    409: "Clashes with what the ledger holds, or lost a race with another write",
    412: "If-Match names a version that is no longer current",
    413: "Request body too large",
    422: "The request breaks a rule; nothing was appended",
    429: "Too many requests from this client; see Retry-After",
    503: "The read model has not reached min_position in time; see Retry-After",
}


def documented(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a handler can answer with."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[status],
            media_type=MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }
