"""One exception handler: every failure becomes an RFC 9457 problem.

Clients get the same shape whether the ledger refused a command, Litestar
refused a request before a handler ran, or something broke: ``type`` names
the kind of problem, ``title`` says it in words, ``status`` repeats the HTTP
status and ``detail`` says what exactly was wrong with this request. The kind
decides the status (see :mod:`api.problem_kinds`); a raise names only the kind.
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

from api import metrics
from api.problem_kinds import (
    BY_HTTP_STATUS,
    KINDS,
    TYPE_BASE,
    ProblemKind,
    of_ledger_error,
)
from api.storage_faults import storage_fault
from ledger import errors

MEDIA_TYPE = "application/problem+json"
# RFC 9457 4.2.1: a problem with nothing to say beyond its HTTP status.
BLANK = "about:blank"

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

    @classmethod
    def of(cls, kind: ProblemKind, detail: str, **extra: Any) -> Problem:
        """A problem of ``kind``, whose status is the kind's."""
        return cls(kind.type, kind.title, kind.status, detail, **extra)


class ApiProblem(Exception):
    """A problem the API itself raises, outside the ledger's own errors.

    Args:
        kind: The name of a kind of :data:`api.problem_kinds.KINDS`, e.g.
            ``projection-behind``; it decides the status.
        detail: What went wrong with this request.
        headers: Extra response headers such as ``Retry-After``.

    Raises:
        KeyError: ``kind`` is not a declared kind.
    """

    def __init__(
        self, kind: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = KINDS[kind]
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


def _phrase(status: int) -> str:
    """The reason phrase of ``status``; "Error" for a status it has none of."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _http_problem(exc: HTTPException) -> Problem:
    """A refusal Litestar made: its declared kind, or ``about:blank``."""
    phrase = _phrase(exc.status_code)
    given = exc.detail if exc.detail and exc.detail != phrase else None
    if isinstance(exc.__cause__, SerializationException):
        return Problem.of(
            KINDS["malformed-body"], f"the body is not valid JSON: {given or phrase}"
        )
    kind = BY_HTTP_STATUS.get(exc.status_code)
    if kind is None:
        return Problem(BLANK, phrase, exc.status_code, given or phrase)
    return Problem.of(kind, given or kind.description)


def to_problem(exc: Exception) -> tuple[Problem, dict[str, str]]:
    """The problem body and extra headers that stand for ``exc``."""
    if isinstance(exc, ApiProblem):
        return Problem.of(exc.kind, exc.detail), exc.headers
    if isinstance(exc, errors.LedgerError):
        problem = Problem.of(of_ledger_error(type(exc)), str(exc))
        if isinstance(exc, errors.StaleVersion):
            problem.expected, problem.actual = exc.expected, exc.actual
        return problem, {}
    if isinstance(exc, ValidationException):
        found = _validation_errors(exc)
        problem = Problem.of(
            KINDS["validation-failed"], _validation_detail(found), errors=found or None
        )
        return problem, {}
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers or {})
        if isinstance(exc, NotAuthorizedException):
            headers.setdefault("WWW-Authenticate", 'Bearer realm="verdict-ledger"')
        return _http_problem(exc), headers
    fault = storage_fault(exc)
    if fault is not None:
        problem = Problem.of(KINDS["storage-unavailable"], fault.detail)
        return problem, {"Retry-After": str(fault.retry_after)}
    return Problem.of(KINDS["internal-error"], KINDS["internal-error"].description), {}


def _note_unavailable(
    request: Request[Any, Any, Any], problem: Problem, exc: Exception
) -> None:
    """Logs a 503 in one line, with the driver's words for a storage fault.

    No traceback: it is a state of the node, not a bug. Storage faults are
    counted by cause, for alerts.
    """
    fault = storage_fault(exc)
    if fault is not None:
        metrics.STORAGE_FAULTS.labels(cause=fault.cause).inc()
    log.warning(
        "%s on %s %s: %s",
        problem.type.removeprefix(TYPE_BASE),
        request.method,
        request.url.path,
        str(exc) if fault is None else f"{fault.cause}: {fault.reason}",
    )


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's handler for every exception: answers with problem details."""
    problem, headers = to_problem(exc)
    if problem.status == 500:
        log.exception(
            "unhandled error on %s %s", request.method, request.url.path, exc_info=exc
        )
    elif problem.status >= 500:
        _note_unavailable(request, problem, exc)
    problem.instance = request.url.path
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        problem.request_id = request_id
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _description(status: int) -> str:
    """What a problem of ``status`` may be: each of its kinds, linked."""
    kinds = [kind for kind in KINDS.values() if kind.status == status]
    if not kinds:
        msg = f"no problem kind answers with {status}"
        raise ValueError(msg)
    links = ", ".join(f"[{kind.name}]({kind.type})" for kind in kinds)
    return f"{_phrase(status)}; the problem `type` is one of {links}"


def documented(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a handler can answer with.

    503 is always among them: any operation may find its storage unable to
    answer (``storage-unavailable``).
    """
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_description(status),
            media_type=MEDIA_TYPE,
            generate_examples=False,
        )
        for status in sorted({*statuses, 503})
    }
