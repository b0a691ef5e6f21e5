"""Hostile input: every malformed, oversized or odd value gets its clear 4xx.

Each case is a request no client should send (JSON nested a thousand deep, a
body that is not JSON, numbers of thousands of digits, positions past the
log, lone surrogates and NUL bytes, bytes that are not UTF-8) and the status
and problem kind it deserves. None may answer 5xx, and none may append.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.helpers import CARD, PAIR, Api, issue_tokens, make_home, problem, served

DEEP = "[" * 1000 + "]" * 1000
TOOL = {"slug": "new-tool", "name": "New", "vendor": "V", "category": "C"}
JSON_TYPE = {"Content-Type": "application/json"}
BODIES = [  # every operation that takes a JSON body: (method, path, who)
    ("POST", "/api/tools", "editor"),
    ("PATCH", CARD, "editor"),
    ("PUT", CARD + "/reviews/builder", "builder"),
    ("POST", "/api/reviewers", "admin"),
    ("POST", "/api/erasures", "admin"),
    ("POST", "/api/comparisons", "editor"),
    ("PUT", CARD + "/vote", "voter"),
    ("PUT", PAIR + "/vote", "voter"),
]


def _nested(levels: int) -> str:
    """A tool whose slug is arrays nested so that the body is ``levels`` deep."""
    inner = "[" * (levels - 1) + "]" * (levels - 1)
    return json.dumps({**TOOL, "slug": "@"}).replace('"@"', inner)


@dataclass(frozen=True)
class Case:
    """A hostile request and what it must be answered with.

    Attributes:
        method: The HTTP method.
        path: The path, query included.
        status: The status it deserves.
        kind: The problem kind of the answer (None: not a problem).
        who: Whose token it carries, if any.
        send: httpx keyword arguments (``content``, ``json``, ``headers``).
    """

    method: str
    path: str
    status: int
    kind: str | None
    who: str | None = None
    send: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    # Bodies.
    **{
        f"deep json on {method} {path}": Case(
            method,
            path,
            400,
            "body-too-deep",
            who,
            {"content": DEEP, "headers": JSON_TYPE},
        )
        for method, path, who in BODIES
    },
    "json 33 deep": Case(
        "POST",
        "/api/tools",
        400,
        "body-too-deep",
        "editor",
        {"content": _nested(33), "headers": JSON_TYPE},
    ),
    "json 32 deep is only invalid": Case(
        "POST",
        "/api/tools",
        422,
        "validation-failed",
        "editor",
        {"content": _nested(32), "headers": JSON_TYPE},
    ),
    "a text/plain body": Case(
        "POST",
        "/api/tools",
        415,
        "unsupported-media-type",
        "editor",
        {"content": json.dumps(TOOL), "headers": {"Content-Type": "text/plain"}},
    ),
    "a body without Content-Type": Case(
        "POST",
        "/api/tools",
        415,
        "unsupported-media-type",
        "editor",
        {"content": json.dumps(TOOL)},
    ),
    "a form body": Case(
        "PUT",
        CARD + "/vote",
        415,
        "unsupported-media-type",
        "voter",
        {
            "content": "choice=ship",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
    ),
    "a near miss of application/json": Case(
        "PATCH",
        CARD,
        415,
        "unsupported-media-type",
        "editor",
        {"content": '{"name": "X"}', "headers": {"Content-Type": "application/jsonx"}},
    ),
    "bytes that are not UTF-8": Case(
        "POST",
        "/api/tools",
        400,
        "malformed-body",
        "editor",
        {"content": b'{"slug": "a\xff"}', "headers": JSON_TYPE},
    ),
    "a lone surrogate": Case(
        "POST",
        "/api/tools",
        400,
        "malformed-body",
        "editor",
        {"content": b'{"slug": "\\ud800"}', "headers": JSON_TYPE},
    ),
    "a number of 5,000 digits": Case(
        "POST",
        "/api/tools",
        400,
        "malformed-body",
        "editor",
        {"content": '{"slug": ' + "9" * 5000 + "}", "headers": JSON_TYPE},
    ),
    "an infinite number": Case(
        "POST",
        "/api/tools",
        400,
        "malformed-body",
        "editor",
        {"content": '{"slug": 1e999}', "headers": JSON_TYPE},
    ),
    "a NUL in a field": Case(
        "POST",
        "/api/tools",
        422,
        "validation-failed",
        "editor",
        {"json": {**TOOL, "slug": "a\x00b"}},
    ),
    # Headers.
    "If-Match of 5,000 digits": Case(
        "PATCH",
        CARD,
        400,
        "invalid-if-match",
        "editor",
        {"json": {"name": "X"}, "headers": {"If-Match": "9" * 5000}},
    ),
    "If-Match past any version": Case(
        "PATCH",
        CARD,
        400,
        "invalid-if-match",
        "editor",
        {"json": {"name": "X"}, "headers": {"If-Match": "9" * 19}},
    ),
    "If-Match negative": Case(
        "PATCH",
        CARD,
        400,
        "invalid-if-match",
        "editor",
        {"json": {"name": "X"}, "headers": {"If-Match": "-1"}},
    ),
    "an Idempotency-Key in Latin-1": Case(
        "POST",
        "/api/tools",
        201,
        None,
        "editor",
        {"json": TOOL, "headers": {"Idempotency-Key": "cl\xe9".encode("latin-1")}},
    ),
    "a token of 10,000 characters": Case(
        "POST",
        "/api/tools",
        401,
        "unauthorized",
        None,
        {"json": TOOL, "headers": {"Authorization": "Bearer " + "x" * 10_000}},
    ),
    "a token in Latin-1": Case(
        "POST",
        "/api/tools",
        401,
        "unauthorized",
        None,
        {"json": TOOL, "headers": {"Authorization": "Bearer \xe9".encode("latin-1")}},
    ),
    "Last-Event-ID of 5,000 digits": Case(
        "GET",
        "/api/events/stream",
        400,
        "invalid-last-event-id",
        None,
        {"headers": {"Last-Event-ID": "9" * 5000}},
    ),
    "Last-Event-ID negative": Case(
        "GET",
        "/api/events/stream",
        400,
        "invalid-last-event-id",
        None,
        {"headers": {"Last-Event-ID": "-3"}},
    ),
    "Last-Event-ID in other digits": Case(
        "GET",
        "/api/events/stream",
        400,
        "invalid-last-event-id",
        None,
        {"headers": {"Last-Event-ID": "\uff15".encode()}},
    ),
    "Last-Event-ID past the head": Case(
        "GET",
        "/api/events/stream",
        422,
        "position-beyond-log",
        None,
        {"headers": {"Last-Event-ID": "1000000"}},
    ),
    # Numbers in queries and paths.
    "a stream after past the head": Case(
        "GET", "/api/events/stream?after=1000000", 422, "position-beyond-log"
    ),
    "min_position of 5,000 digits": Case(
        "GET", "/api/tools?min_position=" + "9" * 5000, 422, "validation-failed"
    ),
    "min_position negative": Case(
        "GET", CARD + "?min_position=-1", 422, "validation-failed"
    ),
    "min_position past the log": Case(
        "GET", CARD + "?min_position=" + str(2**62), 422, "position-beyond-log"
    ),
    "a limit of thirty digits": Case(
        "GET", "/api/events?limit=" + "9" * 30, 422, "validation-failed"
    ),
    "a negative after": Case("GET", "/api/events?after=-5", 422, "validation-failed"),
    "a position of 5,000 digits in a path": Case(
        "GET", "/api/events/" + "9" * 5000 + "/proof", 404, "not-found"
    ),
    "a negative position in a path": Case(
        "GET", "/api/events/-1/proof", 422, "not-in-tree"
    ),
    "a proof's size of thirty digits": Case(
        "GET", "/api/events/1/proof?size=" + "9" * 30, 422, "validation-failed"
    ),
    "a proof's size of zero": Case(
        "GET", "/api/events/1/proof?size=0", 422, "validation-failed"
    ),
    "a consistency range of huge numbers": Case(
        "GET",
        "/api/log/consistency?from=" + "9" * 30 + "&to=" + "9" * 31,
        422,
        "validation-failed",
    ),
    "a consistency range below one": Case(
        "GET", "/api/log/consistency?from=-1&to=0", 422, "validation-failed"
    ),
    "a diff point of thirty digits": Case(
        "GET", CARD + "/diff?from=" + "9" * 30, 400, "invalid-point"
    ),
    "a diff point of 5,000 digits": Case(
        "GET", CARD + "/diff?from=" + "9" * 5000, 422, "validation-failed"
    ),
    "a scorecard in the year 99999": Case(
        "GET", CARD + "/scorecard?as_of=99999-01-01", 422, "validation-failed"
    ),
    "a time before the year 1 in UTC": Case(
        "GET",
        CARD + "/history?since=0001-01-01T00:00:00%2B14:00",
        422,
        "validation-failed",
    ),
    "a time after the year 9999 in UTC": Case(
        "GET",
        CARD + "/scorecard?as_of=9999-12-31T23:59:59-14:00",
        422,
        "validation-failed",
    ),
    "a cursor of stray bytes": Case(
        "GET", "/api/tools?cursor=%ff%fe", 422, "validation-failed"
    ),
    # Odd text in paths and queries.
    "a lone surrogate in a path": Case(
        "GET", "/api/tools/%ED%A0%80", 404, "tool-not-found"
    ),
    "a NUL in a path": Case("GET", "/api/tools/a%00b", 404, "tool-not-found"),
    "a NUL in a static file's name": Case("GET", "/static/%00", 404, None),
    "a NUL in a filter": Case("GET", "/api/events?actor=%00", 200, None),
    "a lone surrogate in a filter": Case(
        "GET", "/api/events?tool=%ED%A0%80", 200, None
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_request_gets_the_answer_it_deserves(api: Api, name: str) -> None:
    case = CASES[name]
    send = dict(case.send)
    headers = dict(send.pop("headers", {}))
    if case.who is not None:
        headers.update(api.auth(case.who))
    head = api.head()
    answer = api.client.request(case.method, case.path, headers=headers, **send)
    assert answer.status_code == case.status, answer.text
    if case.kind is not None:
        assert problem(answer, case.status)["type"] == f"/problems/{case.kind}"
    if case.status >= 400:
        assert api.head() == head


def test_a_415_says_what_the_operation_takes(api: Api) -> None:
    posted = api.request("POST", "/api/tools", "editor", content=json.dumps(TOOL))
    assert posted.status_code == 415
    assert posted.headers["Accept-Post"] == "application/json"
    patched = api.request(
        "PATCH",
        CARD,
        "editor",
        content='{"name": "X"}',
        headers={"Content-Type": "text/plain"},
    )
    assert patched.status_code == 415
    assert patched.headers["Accept-Patch"] == "application/json"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "APPLICATION/JSON",
    ],
)
def test_json_under_any_json_media_type_is_taken(api: Api, content_type: str) -> None:
    with api.appends(1):
        answer = api.request(
            "POST",
            "/api/tools",
            "editor",
            content=json.dumps(TOOL),
            headers={"Content-Type": content_type},
        )
    assert answer.status_code == 201, answer.text


def test_brackets_inside_strings_are_not_nesting(api: Api) -> None:
    deep_text = {**TOOL, "description": "[{" * 1000}
    with api.appends(1):
        answer = api.request("POST", "/api/tools", "editor", json=deep_text)
    assert answer.status_code == 201, answer.text


def test_the_415_is_documented_on_every_operation_that_takes_a_body(api: Api) -> None:
    paths = api.client.get("/schema/openapi.json").json()["paths"]
    for method, path, _ in BODIES:
        template = (
            path.replace("code-llama-4", "{slug}")
            .replace("builder", "{handle}")
            .replace("/{slug}/mistral-medium-3", "/{a}/{b}")
        )
        responses = paths[template][method.lower()]["responses"]
        assert "(/problems/unsupported-media-type)" in responses["415"]["description"]
        assert "(/problems/storage-unavailable)" in responses["503"]["description"]


@pytest.mark.usefixtures("event_store")
def test_a_stream_past_the_head_is_refused_before_it_starts(tmp_path: Path) -> None:
    """Over real HTTP: an EventSource gets a 422 it stops on, not a dying stream."""
    home = make_home(tmp_path)
    issue_tokens(home)
    with served(home) as base, httpx.Client(base_url=base, timeout=10) as client:
        head = int(client.get("/healthz").json()["head"])
        refused = client.get(
            "/api/events/stream", headers={"Last-Event-ID": str(head + 5)}
        )
        body = problem(refused, 422)
        assert body["type"] == "/problems/position-beyond-log"
        with client.stream(
            "GET", "/api/events/stream", headers={"Last-Event-ID": str(head)}
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
