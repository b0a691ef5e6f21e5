"""The editorial pages: signing in, each form's success and refusals, roles.

Driven in process over the demo ledger on both event stores (the sessions
live beside the tokens). A refused post must show the ledger's detail next
to the field it concerns, keep what was typed, and append nothing.
"""

from __future__ import annotations

from typing import Any

from api.controllers.editor import SIGN_INS_PER_WINDOW
from api.editor_sessions import csrf_token
from ledger import rules
from ledger.context import Context
from tests.pages.helpers import (
    Desk,
    Page,
    cookie_value,
    field_errors,
    field_value,
    ledger_of,
)

TOOL = {
    "slug": "quill-9",
    "name": "Quill 9",
    "vendor": "Inkworks",
    "category": "Code assistant",
    "tagline": "Writes the boring parts",
    "description": "A code model tuned for tests.",
    "entry": "Free tier",
    "license": "MIT",
}
OTHER = Context(actor="editor:elsewhere", request_id="other-editor")


def token_id(token: str) -> str:
    return token.split("_")[1]


def register(desk: Desk, session: str, **changes: str) -> Any:
    return desk.post("/editor/tools/new", session, {**TOOL, **changes})


def secret_of(desk: Desk, session: str) -> str:
    """The CSRF secret the server keeps for ``session`` (to forge a valid post)."""
    found = desk.client.app.state.sessions.store().find(session)
    assert found is not None
    secret: str = found.csrf_secret
    return secret


# Signing in and out.


def test_sign_in_sets_a_session_cookie_script_cannot_read(desk: Desk) -> None:
    answer = desk.sign_in(desk.tokens["editor"])
    assert answer.status_code == 303
    assert answer.headers["location"] == "/editor"
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes, "plain HTTP: a Secure cookie would be lost"
    home = desk.get("/editor", cookie_value(answer))
    assert home.status_code == 200
    assert f"editor:{token_id(desk.tokens['editor'])}" in Page(home.text).text
    assert home.headers["cache-control"] == "no-store"


def test_the_cookie_is_secure_over_https(desk: Desk) -> None:
    answer = desk.client.post(
        "https://testserver/editor/sign-in",
        data={"token": desk.tokens["editor"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    attributes = {p.strip().lower() for p in answer.headers["set-cookie"].split(";")}
    assert {"secure", "httponly", "samesite=lax"} <= attributes


def test_the_session_id_is_stored_only_as_a_digest(desk: Desk) -> None:
    session = desk.session("editor")
    store = desk.client.app.state.sessions.store()
    rows = store._rows("SELECT digest, token_id FROM {sessions}", [])
    assert session not in {row[0] for row in rows}
    assert token_id(desk.tokens["editor"]) in {row[1] for row in rows}


def test_a_bad_token_is_refused_on_the_form(desk: Desk) -> None:
    answer = desk.sign_in("vl_0123456789ab_not-the-secret")
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert "not valid" in field_errors(answer.text)["token"]


def test_a_voter_token_cannot_sign_in(desk: Desk) -> None:
    answer = desk.sign_in(desk.tokens["voter"])
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers
    assert "voter token cannot sign in" in field_errors(answer.text)["token"]


def test_a_revoked_token_ends_its_sessions_and_cannot_sign_in(desk: Desk) -> None:
    session = desk.session("editor")
    assert desk.get("/editor/tools/new", session).status_code == 200
    desk.client.app.state.tokens.store().revoke(token_id(desk.tokens["editor"]))
    again = desk.get("/editor/tools/new", session)
    assert again.status_code == 303
    assert again.headers["location"] == "/editor/sign-in?next=/editor/tools/new"
    head = desk.head()
    refused = desk.post("/editor/tools/new", session, TOOL, csrf="0" * 64)
    assert refused.status_code == 403
    assert desk.head() == head
    assert desk.sign_in(desk.tokens["editor"]).status_code == 401


def test_signing_out_ends_the_session_on_the_server(desk: Desk) -> None:
    session = desk.session("editor")
    csrf, _ = desk.form("/editor/tools/new", session)
    out = desk.sign_out(session)
    assert out.status_code == 303
    assert out.headers["location"] == "/"
    assert "max-age=0" in out.headers["set-cookie"].lower()
    # The old cookie, replayed, opens nothing and writes nothing.
    assert desk.get("/editor", session).status_code == 303
    head = desk.head()
    replayed = desk.post("/editor/tools/new", session, TOOL, csrf=csrf)
    assert replayed.status_code == 403
    assert desk.head() == head


def test_signing_out_needs_the_forms_csrf_field(desk: Desk) -> None:
    session = desk.session("editor")
    assert desk.sign_out(session, csrf=None).status_code == 403
    assert desk.get("/editor", session).status_code == 200


def test_sign_in_goes_back_to_the_page_asked_for_but_not_off_site(desk: Desk) -> None:
    login = desk.get("/editor/tools/quill-9/edit", None)
    assert (
        login.headers["location"] == "/editor/sign-in?next=/editor/tools/quill-9/edit"
    )
    form = desk.get(login.headers["location"], None)
    assert field_value(form.text, "next") == "/editor/tools/quill-9/edit"
    for target, lands in (
        ("/editor/tools/new", "/editor/tools/new"),
        ("//evil.example/x", "/editor"),
        ("https://evil.example/", "/editor"),
    ):
        answer = desk.client.post(
            "/editor/sign-in",
            data={"token": desk.tokens["editor"], "next": target},
            follow_redirects=False,
        )
        desk.client.cookies.clear()
        assert answer.headers["location"] == lands


# Registering a tool.


def test_register_a_tool_then_see_its_page(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    answer = register(desk, session)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/tools/quill-9"
    assert desk.head() == head + 1
    page = desk.get("/tools/quill-9", None)
    assert page.status_code == 200
    assert "Quill 9" in Page(page.text).text
    history = desk.client.get("/api/tools/quill-9/history").json()["items"]
    assert history[0]["actor"] == f"editor:{token_id(desk.tokens['editor'])}"
    assert ledger_of(desk.client).tool("quill-9")["license"] == "MIT"


def test_an_admin_registers_too(desk: Desk) -> None:
    session = desk.session("admin")
    assert register(desk, session).status_code == 303


def test_a_bad_slug_is_shown_beside_the_slug(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    answer = register(desk, session, slug="Quill 9")
    assert answer.status_code == 422
    errors = field_errors(answer.text)
    assert list(errors) == ["slug"]
    assert "lowercase" in errors["slug"]
    assert field_value(answer.text, "slug") == "Quill 9"
    assert field_value(answer.text, "vendor") == "Inkworks"
    assert Page(answer.text).find("data-problem", "/problems/invalid-slug")
    assert desk.head() == head


def test_a_duplicate_slug_is_a_conflict_beside_the_slug(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    answer = register(desk, session, slug="code-llama-4")
    assert answer.status_code == 409
    assert "already registered" in field_errors(answer.text)["slug"]
    assert desk.head() == head


def test_a_missing_name_is_shown_beside_the_name(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    answer = register(desk, session, name="  ")
    assert answer.status_code == 422
    assert list(field_errors(answer.text)) == ["name"]
    assert field_value(answer.text, "description") == TOOL["description"]
    assert desk.head() == head


# Editing and retiring a tool.


def test_edit_a_tool_with_its_current_values_filled_in(desk: Desk) -> None:
    session = desk.session("editor")
    form = desk.get("/editor/tools/code-llama-4/edit", session)
    assert field_value(form.text, "name") == "Code Llama 4 (70B & 400B)"
    head = desk.head()
    answer = desk.post(
        "/editor/tools/code-llama-4/edit",
        session,
        {
            **_fields(desk, "code-llama-4"),
            "category": "Open code model",
            "reason": "Recategorised with the vendor's release notes",
        },
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/tools/code-llama-4"
    assert desk.head() == head + 1
    assert ledger_of(desk.client).tool("code-llama-4")["category"] == "Open code model"
    assert "Open code model" in Page(desk.get("/tools/code-llama-4", None).text).text


def test_an_edit_that_needs_a_reason_says_so_beside_the_reason(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    fields = {**_fields(desk, "code-llama-4"), "license": "Apache-2.0", "reason": ""}
    answer = desk.post("/editor/tools/code-llama-4/edit", session, fields)
    assert answer.status_code == 422
    assert "needs a reason" in field_errors(answer.text)["reason"]
    assert field_value(answer.text, "license") == "Apache-2.0"
    assert desk.head() == head


def test_a_stale_edit_shows_what_changed_and_applies_with_one_submit(
    desk: Desk,
) -> None:
    session = desk.session("editor")
    csrf, version = desk.form("/editor/tools/code-llama-4/edit", session)
    ledger_of(desk.client).edit_tool(
        OTHER, "code-llama-4", {"tagline": "Edited elsewhere meanwhile"}
    )
    head = desk.head()
    mine = {
        **_fields(desk, "code-llama-4"),
        "name": "Code Llama Four",
        "tagline": "My tagline",
        "version": str(version),
    }
    stale = desk.post("/editor/tools/code-llama-4/edit", session, mine, csrf=csrf)
    assert stale.status_code == 409
    assert desk.head() == head
    page = Page(stale.text)
    rows = {row[0]: row[1:] for row in _stale_rows(page)}
    assert rows["Tagline"] == ["Edited elsewhere meanwhile", "My tagline"]
    assert rows["Name"] == ["Code Llama 4 (70B & 400B)", "Code Llama Four"]
    assert field_value(stale.text, "name") == "Code Llama Four"
    new_version = field_value(stale.text, "version")
    assert new_version == str(int(str(version)) + 1)
    # One more submit of the form as it came back applies the edit.
    again = {
        name: str(field_value(stale.text, name))
        for name in (*rules.TOOL_FIELDS, "reason", "version", "csrf")
    }
    applied = desk.post("/editor/tools/code-llama-4/edit", session, again, csrf=None)
    assert applied.status_code == 303, applied.text
    tool = ledger_of(desk.client).tool("code-llama-4")
    assert (tool["name"], tool["tagline"]) == ("Code Llama Four", "My tagline")


def test_retire_a_tool_with_a_reason(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    missing = desk.post("/editor/tools/mistral-medium-3/retire", session, {})
    assert missing.status_code == 422
    assert "needs a reason" in field_errors(missing.text)["reason"]
    assert desk.head() == head
    answer = desk.post(
        "/editor/tools/mistral-medium-3/retire",
        session,
        {"reason": "Withdrawn by its vendor"},
    )
    assert answer.status_code == 303
    assert desk.head() == head + 1
    assert ledger_of(desk.client).tool("mistral-medium-3")["retired"] is True
    assert "Retired" in Page(desk.get("/tools/mistral-medium-3", None).text).text


def test_reinstate_a_retired_tool_with_a_reason(desk: Desk) -> None:
    session = desk.session("editor")
    path = "/editor/tools/mistral-medium-3/reinstate"
    head = desk.head()
    active = desk.post(path, session, {"reason": "Back on sale"})
    assert active.status_code == 409
    assert "is not retired" in Page(active.text).text
    assert desk.head() == head
    retired = desk.post(
        "/editor/tools/mistral-medium-3/retire", session, {"reason": "Withdrawn"}
    )
    assert retired.status_code == 303
    assert path in _links(desk.get("/tools/mistral-medium-3", session).text)
    missing = desk.post(path, session, {})
    assert missing.status_code == 422
    assert "needs a reason" in field_errors(missing.text)["reason"]
    answer = desk.post(path, session, {"reason": "Back on sale"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/tools/mistral-medium-3"
    assert desk.head() == head + 2
    assert ledger_of(desk.client).tool("mistral-medium-3")["retired"] is False
    assert (
        "Retired since" not in Page(desk.get("/tools/mistral-medium-3", None).text).text
    )


def test_a_stale_reinstatement_shows_the_tool_now(desk: Desk) -> None:
    session = desk.session("editor")
    ledger_of(desk.client).retire_tool(OTHER, "mistral-medium-3", reason="Gone")
    path = "/editor/tools/mistral-medium-3/reinstate"
    csrf, version = desk.form(path, session)
    ledger_of(desk.client).edit_tool(
        OTHER, "mistral-medium-3", {"tagline": "Changed meanwhile"}
    )
    head = desk.head()
    answer = desk.post(
        path, session, {"reason": "Back", "version": str(version)}, csrf=csrf
    )
    assert answer.status_code == 409
    rows = {row[0]: row[1:] for row in _stale_rows(Page(answer.text))}
    assert rows["Tagline"][0] == "Changed meanwhile"
    assert desk.head() == head


def test_an_unknown_tool_has_no_edit_form(desk: Desk) -> None:
    session = desk.session("editor")
    assert desk.get("/editor/tools/no-such-tool/edit", session).status_code == 404


# Comparisons.


def test_publish_a_comparison_and_edit_its_question(desk: Desk) -> None:
    session = desk.session("editor")
    assert register(desk, session).status_code == 303
    head = desk.head()
    published = desk.post(
        "/editor/comparisons/new",
        session,
        {"a": "quill-9", "b": "code-llama-4", "question": "Which writes tests?"},
    )
    assert published.status_code == 303, published.text
    assert published.headers["location"] == "/compare/quill-9/code-llama-4"
    assert desk.head() == head + 1
    page = desk.get("/compare/quill-9/code-llama-4", None)
    assert "Which writes tests?" in Page(page.text).text
    path = "/editor/comparisons/quill-9/code-llama-4/edit"
    edited = desk.post(
        path, session, {"question": "Which writes better tests?", "reason": "Clearer"}
    )
    assert edited.status_code == 303
    view = ledger_of(desk.client).comparison("quill-9", "code-llama-4")
    assert view["question"] == "Which writes better tests?"


def test_a_comparison_of_an_unknown_tool_is_shown_beside_that_tool(
    desk: Desk,
) -> None:
    session = desk.session("editor")
    head = desk.head()
    answer = desk.post(
        "/editor/comparisons/new",
        session,
        {"a": "code-llama-4", "b": "nope-9", "question": "Which?"},
    )
    assert answer.status_code == 404
    assert list(field_errors(answer.text)) == ["b"]
    duplicate = desk.post(
        "/editor/comparisons/new",
        session,
        {"a": "mistral-medium-3", "b": "code-llama-4", "question": "Again?"},
    )
    assert duplicate.status_code == 409
    assert "already compared" in Page(duplicate.text).text
    assert desk.head() == head


def test_retire_a_comparison_with_a_reason(desk: Desk) -> None:
    session = desk.session("editor")
    path = "/editor/comparisons/code-llama-4/mistral-medium-3/retire"
    assert path in _links(desk.get("/compare/code-llama-4/mistral-medium-3", None).text)
    head = desk.head()
    missing = desk.post(path, session, {})
    assert missing.status_code == 422
    assert "needs a reason" in field_errors(missing.text)["reason"]
    assert desk.head() == head
    answer = desk.post(path, session, {"reason": "Superseded by a newer pair"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/compare/code-llama-4/mistral-medium-3"
    assert desk.head() == head + 1
    shown = Page(desk.get("/compare/code-llama-4/mistral-medium-3", None).text).text
    assert "Superseded by a newer pair" in shown
    again = desk.post(path, session, {"reason": "Twice"})
    assert again.status_code == 409
    assert desk.head() == head + 1


def test_a_stale_question_edit_shows_the_question_now(desk: Desk) -> None:
    session = desk.session("editor")
    path = "/editor/comparisons/code-llama-4/mistral-medium-3/edit"
    csrf, version = desk.form(path, session)
    ledger_of(desk.client).edit_comparison(
        OTHER, "code-llama-4", "mistral-medium-3", question="Changed meanwhile?"
    )
    answer = desk.post(
        path,
        session,
        {"question": "Mine?", "reason": "", "version": str(version)},
        csrf=csrf,
    )
    assert answer.status_code == 409
    rows = {row[0]: row[1:] for row in _stale_rows(Page(answer.text))}
    assert rows["Question"] == ["Changed meanwhile?", "Mine?"]


# Reviews.


def test_a_reviewer_submits_revises_and_withdraws_their_review(desk: Desk) -> None:
    editor = desk.session("editor")
    assert register(desk, editor).status_code == 303
    session = desk.session("builder")
    path = "/editor/tools/quill-9/review"
    form = desk.get(path, session)
    assert field_value(form.text, "reason") is None, "a first review needs no reason"
    head = desk.head()
    empty = desk.post(path, session, {"verdict": "ship", "rationale": " "})
    assert empty.status_code == 422
    assert list(field_errors(empty.text)) == ["rationale"]
    assert desk.head() == head
    submitted = desk.post(
        path, session, {"verdict": "ship", "rationale": "Fast and careful."}
    )
    assert submitted.status_code == 303, submitted.text
    assert desk.head() == head + 1
    review = ledger_of(desk.client).review("quill-9", "builder")
    assert (review["verdict"], review["rationale"]) == ("ship", "Fast and careful.")
    card = desk.client.get("/api/tools/quill-9").json()
    assert card["panel"]["ship"] == 1

    # Revising asks for a reason, beside the reason field.
    revise = desk.get(path, session)
    assert field_value(revise.text, "rationale") == "Fast and careful."
    no_reason = desk.post(
        path, session, {"verdict": "skip", "rationale": "Slower than it looked."}
    )
    assert no_reason.status_code == 422
    assert "needs a reason" in field_errors(no_reason.text)["reason"]
    assert field_value(no_reason.text, "verdict") == "skip"
    revised = desk.post(
        path,
        session,
        {"verdict": "skip", "rationale": "Slower.", "reason": "Benchmarked it"},
    )
    assert revised.status_code == 303
    assert ledger_of(desk.client).review("quill-9", "builder")["verdict"] == "skip"

    withdraw = path + "/withdraw"
    refused = desk.post(withdraw, session, {"reason": ""})
    assert refused.status_code == 422
    assert "reason" in field_errors(refused.text)
    done = desk.post(withdraw, session, {"reason": "Conflict of interest"})
    assert done.status_code == 303
    assert ledger_of(desk.client).review("quill-9", "builder")["withdrawn"] is True
    history = desk.client.get("/api/tools/quill-9/history?kind=panel").json()
    assert {item["actor"] for item in history["items"]} == {"reviewer:builder"}


def test_a_stale_revision_shows_the_review_now(desk: Desk) -> None:
    session = desk.session("skeptic")
    path = "/editor/tools/code-llama-4/review"
    csrf, version = desk.form(path, session)
    ledger_of(desk.client).revise_review(
        Context(actor="reviewer:skeptic", request_id="another-tab"),
        "code-llama-4",
        "skeptic",
        verdict="skip",
        rationale="Changed in another tab.",
        reason="Second thoughts",
    )
    head = desk.head()
    answer = desk.post(
        path,
        session,
        {
            "verdict": "ship",
            "rationale": "Mine.",
            "reason": "Mine",
            "version": str(version),
        },
        csrf=csrf,
    )
    assert answer.status_code == 409
    assert desk.head() == head
    rows = {row[0]: row[1:] for row in _stale_rows(Page(answer.text))}
    assert rows["Rationale"] == ["Changed in another tab.", "Mine."]
    assert field_value(answer.text, "version") == str(int(str(version)) + 1)


# Roles.


def test_a_reviewer_cannot_register_a_tool(desk: Desk) -> None:
    session = desk.session("builder")
    assert desk.get("/editor/tools/new", session).status_code == 403
    head = desk.head()
    forged = csrf_token(secret_of(desk, session), "/editor/tools/new")
    answer = desk.post("/editor/tools/new", session, TOOL, csrf=forged)
    assert answer.status_code == 403
    assert "Not for this role" in Page(answer.text).text
    assert desk.head() == head


def test_an_editor_cannot_review(desk: Desk) -> None:
    session = desk.session("editor")
    path = "/editor/tools/code-llama-4/review"
    assert desk.get(path, session).status_code == 403
    head = desk.head()
    forged = csrf_token(secret_of(desk, session), path)
    data = {"verdict": "skip", "rationale": "No.", "reason": "No"}
    assert desk.post(path, session, data, csrf=forged).status_code == 403
    assert desk.head() == head


def _links(html: str) -> set[str | None]:
    return {node.attrs.get("href") for node in Page(html).find("href", tag="a")}


def test_the_tool_page_links_to_its_editorial_forms(desk: Desk) -> None:
    links = _links(desk.get("/tools/code-llama-4", None).text)
    assert {
        "/editor/tools/code-llama-4/edit",
        "/editor/tools/code-llama-4/retire",
        "/editor/tools/code-llama-4/review",
        "/editor",
    } <= links


def _fields(desk: Desk, slug: str) -> dict[str, str]:
    tool = ledger_of(desk.client).tool(slug)
    names = ("name", "vendor", "category", "tagline", "description", "entry")
    return {name: tool[name] for name in (*names, "license")}


def _stale_rows(page: Page) -> list[list[str]]:
    table = page.find("data-stale", tag="table")
    assert table, "the page shows what changed"
    return [
        [cell.text for cell in row.children if cell.tag in ("th", "td")]
        for row in table[0].children[1].children
        if row.tag == "tr"
    ]


def test_sign_in_is_rate_limited_per_address(desk: Desk) -> None:
    # Fixed windows: should one end mid-test, the next fills up in turn.
    statuses = [
        desk.sign_in("vl_0123456789ab_wrong").status_code
        for _ in range(2 * SIGN_INS_PER_WINDOW + 1)
    ]
    assert set(statuses) == {401, 429}
    assert statuses.index(429) >= SIGN_INS_PER_WINDOW
    limited = desk.sign_in(desk.tokens["editor"])
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "set-cookie" not in limited.headers


def test_a_form_larger_than_the_body_limit_is_refused(desk: Desk) -> None:
    session = desk.session("editor")
    head = desk.head()
    huge = register(desk, session, description="x" * 20_000)
    assert huge.status_code == 413
    assert desk.head() == head
