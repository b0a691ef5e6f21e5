"""Cross-site request forgery: a form post must be this session's own.

Every refused post answers 403 and leaves the log's head where it was. The
forms' CSRF field is an HMAC of the form's path keyed with the session's
secret, so a field taken from another session, or from another form of the
same session, is refused as surely as none at all; a post naming another
site as its origin is refused even with a valid field.
"""

from __future__ import annotations

import pytest
from litestar.routes import HTTPRoute

from tests.pages.helpers import Desk, Page, cookie_value

REGISTER = "/editor/tools/new"
TOOL = {"slug": "forged-1", "name": "Forged", "vendor": "Nobody", "category": "X"}


def refused_unchanged(desk: Desk, answer_status: int, head: int) -> None:
    assert answer_status == 403
    assert desk.head() == head
    assert desk.client.get("/api/tools/forged-1").status_code == 404


def test_a_post_without_the_csrf_field_is_refused(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    answer = desk.post(REGISTER, session, TOOL, csrf=None)
    refused_unchanged(desk, answer.status_code, head)
    assert "CSRF field is missing" in Page(answer.text).text


def test_another_sessions_csrf_field_is_refused(desk: Desk) -> None:
    mine = desk.session("editor")
    theirs = desk.session("admin")
    their_field, _ = desk.form(REGISTER, theirs)
    head = desk.head()
    answer = desk.post(REGISTER, mine, TOOL, csrf=their_field)
    refused_unchanged(desk, answer.status_code, head)


def test_the_same_editors_other_session_is_another_session(desk: Desk) -> None:
    first = desk.session("editor")
    second = desk.session("editor")
    field, _ = desk.form(REGISTER, second)
    head = desk.head()
    refused_unchanged(
        desk, desk.post(REGISTER, first, TOOL, csrf=field).status_code, head
    )


def test_a_field_of_another_form_is_refused(desk: Desk) -> None:
    session = desk.session("editor")
    other_form, _ = desk.form("/editor/comparisons/new", session)
    head = desk.head()
    answer = desk.post(REGISTER, session, TOOL, csrf=other_form)
    refused_unchanged(desk, answer.status_code, head)


def test_a_post_without_a_session_is_refused(desk: Desk) -> None:
    session = desk.session("editor")
    field, _ = desk.form(REGISTER, session)
    head = desk.head()
    answer = desk.post(REGISTER, None, TOOL, csrf=field)
    refused_unchanged(desk, answer.status_code, head)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": "https://evil.example/page"},
    ],
    ids=["origin", "null-origin", "sec-fetch-site", "referer"],
)
def test_a_cross_site_post_is_refused_even_with_a_valid_field(
    desk: Desk, headers: dict[str, str]
) -> None:
    session = desk.session("editor")
    field, _ = desk.form(REGISTER, session)
    head = desk.head()
    answer = desk.post(REGISTER, session, TOOL, csrf=field, headers=headers)
    refused_unchanged(desk, answer.status_code, head)
    assert "another site" in Page(answer.text).text


def test_a_same_origin_post_with_the_field_is_taken(desk: Desk) -> None:
    session = desk.session("editor")
    field, _ = desk.form(REGISTER, session)
    head = desk.head()
    answer = desk.post(
        REGISTER,
        session,
        TOOL,
        csrf=field,
        headers={
            "Origin": str(desk.client.base_url).rstrip("/"),
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert answer.status_code == 303, answer.text
    assert desk.head() == head + 1


def test_a_cross_site_sign_in_is_refused(desk: Desk) -> None:
    answer = desk.sign_in(desk.tokens["editor"], Origin="https://evil.example")
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers
    assert desk.sign_in(desk.tokens["editor"]).status_code == 303


def test_a_forged_session_cookie_opens_nothing(desk: Desk) -> None:
    session = desk.session("editor")
    assert desk.get("/editor", session[:-2] + "xx").status_code == 303
    assert desk.get("/editor", "x" * 500).status_code == 303
    assert cookie_value(desk.sign_in(desk.tokens["editor"])) != session


def editorial_posts(desk: Desk) -> list[str]:
    """Every form post of the editorial pages but signing in, as concrete paths."""
    found = []
    for route in desk.client.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/editor"):
            continue
        if "POST" not in route.methods or route.path == "/editor/sign-in":
            continue
        path = route.path
        for name, value in PATH_VALUES.items():
            path = path.replace(name, value)
        found.append(path)
    return sorted(found)


PATH_VALUES = {
    "{slug:str}": "code-llama-4",
    "{a:str}": "code-llama-4",
    "{b:str}": "mistral-medium-3",
}


def test_every_form_refuses_a_bearer_token_and_a_post_without_its_field(
    desk: Desk,
) -> None:
    paths = editorial_posts(desk)
    assert "/editor/tools/new" in paths
    assert "/editor/tools/code-llama-4/review/withdraw" in paths
    assert len(paths) >= 8
    editor, reviewer = desk.session("editor"), desk.session("builder")
    head = desk.head()
    data = {"reason": "forged", "question": "Forged?", **TOOL}
    for path in paths:
        for who in ("admin", "editor", "builder"):
            bearer = {"Authorization": f"Bearer {desk.tokens[who]}"}
            answer = desk.post(path, None, data, csrf=None, headers=bearer)
            assert answer.status_code == 403, (path, who)
        for session in (editor, reviewer):
            answer = desk.post(path, session, data, csrf=None)
            assert answer.status_code == 403, path
    assert desk.head() == head
    assert desk.get("/editor", editor).status_code == 200, "still signed in"
