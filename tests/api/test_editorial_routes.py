"""Editorial routes: retiring and reinstating tools, the panel, comparisons.

Each write is checked for its answer and what it leaves readable, each
refusal for its problem and for appending nothing. Runs on both stores.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import rules
from tests.api.helpers import CARD, PAIR, Api

TOOL = "mistral-medium-3"
TOOL_URL = f"/api/tools/{TOOL}"
FLIPPED = "/api/comparisons/mistral-medium-3/code-llama-4"
WHY = {"reason": "superseded by its successor"}
AS_JSON = {"Content-Type": "application/json"}


def read(api: Api, path: str, seen: int, **params: Any) -> Any:
    """The JSON at ``path`` once the read model reflects position ``seen``."""
    answer = api.client.get(path, params={"min_position": seen, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def slugs(api: Api, position: int) -> list[str]:
    return [card["slug"] for card in read(api, "/api/tools", position)["items"]]


def pairs(api: Api, position: int) -> list[tuple[str, str]]:
    items = read(api, "/api/comparisons", position)["items"]
    return [(item["a"], item["b"]) for item in items]


def retire(api: Api, path: str, who: str = "editor", **kw: Any) -> dict[str, Any]:
    answer = api.request("POST", path + "/retire", who, json=WHY, **kw)
    assert answer.status_code == 200, answer.text
    receipt: dict[str, Any] = answer.json()
    return receipt


# Tools.


def test_retiring_a_tool_delists_it_but_keeps_its_card_and_history(
    api: Api,
) -> None:
    version = api.client.get(TOOL_URL).json()["version"]
    head = api.head()
    with api.appends(1):
        receipt = retire(api, TOOL_URL, headers={"If-Match": str(version)})
    assert receipt == {"version": version + 1, "position": head + 1}
    assert slugs(api, receipt["position"]) == ["code-llama-4"]
    card = read(api, TOOL_URL, receipt["position"])
    assert card["retired"] is True
    retirement = card["retirement"]
    assert retirement["position"] == receipt["position"]
    assert retirement["reason"] == WHY["reason"]
    assert retirement["at"] == card["updated_at"]
    history = read(api, TOOL_URL + "/history", receipt["position"])["items"]
    last = history[-1]
    assert (last["type"], last["reason"], last["position"]) == (
        "Tool.Retired",
        WHY["reason"],
        receipt["position"],
    )
    assert last["actor"].startswith("editor:")
    # The comparison of a retired tool is still read at its URL.
    assert read(api, PAIR, receipt["position"])["b"]["retired"] is True


def test_reinstating_a_tool_lists_it_again_and_clears_its_retirement(
    api: Api,
) -> None:
    retired = retire(api, TOOL_URL)
    with api.appends(1):
        answer = api.request(
            "POST",
            TOOL_URL + "/reinstate",
            "admin",
            json={"reason": "the successor was withdrawn"},
            headers={"If-Match": str(retired["version"])},
        )
    assert answer.status_code == 200, answer.text
    receipt = answer.json()
    assert receipt["version"] == retired["version"] + 1
    assert slugs(api, receipt["position"]) == ["code-llama-4", TOOL]
    card = read(api, TOOL_URL, receipt["position"])
    assert (card["retired"], card["retirement"]) == (False, None)
    as_of = read(
        api, TOOL_URL + "/scorecard", receipt["position"], position=retired["position"]
    )
    assert as_of["retirement"]["position"] == retired["position"]


def test_tool_retirement_refusals_append_nothing(api: Api) -> None:
    def refused(status: int, path: str, who: str | None = "editor", **kw: Any) -> str:
        kw.setdefault("json", WHY)
        problem = api.refuses(status, "POST", path, who, **kw)
        return str(problem["type"])

    with api.appends(0):
        assert refused(409, TOOL_URL + "/reinstate") == "/problems/tool-not-retired"
        assert refused(404, "/api/tools/nope/retire") == "/problems/tool-not-found"
        assert refused(401, TOOL_URL + "/retire", None) == "/problems/unauthorized"
        assert refused(403, TOOL_URL + "/retire", "voter") == "/problems/forbidden"
        assert refused(403, TOOL_URL + "/retire", "builder") == "/problems/forbidden"
        for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 1001}):
            assert refused(422, TOOL_URL + "/retire", json=body) == (
                "/problems/validation-failed"
            )
        assert refused(422, TOOL_URL + "/retire", json={**WHY, "slug": "x"})
        assert refused(
            400, TOOL_URL + "/retire", json=None, content=b"{", headers=AS_JSON
        ) == ("/problems/malformed-body")
        assert refused(400, TOOL_URL + "/retire", headers={"If-Match": "v1"}) == (
            "/problems/invalid-if-match"
        )
        stale = api.refuses(
            412,
            "POST",
            TOOL_URL + "/retire",
            "editor",
            json=WHY,
            headers={"If-Match": "9"},
        )
    assert (stale["type"], stale["expected"], stale["actual"]) == (
        "/problems/stale-version",
        9,
        1,
    )
    retire(api, TOOL_URL)
    with api.appends(0):
        twice = api.refuses(409, "POST", TOOL_URL + "/retire", "editor", json=WHY)
    assert twice["type"] == "/problems/tool-retired"
    assert TOOL in twice["detail"]


def test_a_retired_tool_takes_no_votes(api: Api) -> None:
    retire(api, TOOL_URL)
    with api.appends(0):
        api.refuses(409, "PUT", TOOL_URL + "/vote", "voter", json={"choice": "ship"})


def test_retire_honours_idempotency_key(api: Api) -> None:
    headers = {"Idempotency-Key": "retire-mistral-1"}
    with api.appends(1):
        first = api.request(
            "POST", TOOL_URL + "/retire", "editor", json=WHY, headers=headers
        )
        again = api.request(
            "POST", TOOL_URL + "/retire", "editor", json=WHY, headers=headers
        )
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    with api.appends(0):
        other = api.refuses(
            422,
            "POST",
            TOOL_URL + "/retire",
            "editor",
            json={"reason": "another reason"},
            headers=headers,
        )
    assert other["type"] == "/problems/idempotency-key-reused"


# Reviewers.


def test_the_panel_is_listed_in_pages_and_each_reviewer_read(api: Api) -> None:
    first = api.client.get("/api/reviewers", params={"limit": 3})
    assert first.status_code == 200
    page = first.json()
    assert [item["handle"] for item in page["items"]] == [
        "builder",
        "skeptic",
        "futurist",
    ]
    assert page["next"]
    assert first.headers["link"].startswith(f"<{page['next']}>")
    rest = api.client.get(page["next"]).json()
    assert ([item["handle"] for item in rest["items"]], rest["next"]) == (
        ["buyer"],
        None,
    )
    answer = api.client.get("/api/reviewers/buyer")
    assert answer.status_code == 200
    buyer = answer.json()
    assert (buyer["lens"], buyer["retired"], buyer["retirement"]) == (
        "buyer",
        False,
        None,
    )
    assert answer.headers["etag"] == f'"buyer:{buyer["version"]}:{buyer["position"]}"'
    missing = api.refuses(404, "GET", "/api/reviewers/nobody")
    assert missing["type"] == "/problems/reviewer-not-found"


def test_admin_enrolls_a_reviewer_readable_at_its_location(api: Api) -> None:
    body = {"handle": "ada", "name": "Ada", "lens": "skeptic"}
    answer = api.request("POST", "/api/reviewers", "admin", json=body)
    assert answer.status_code == 201
    assert answer.headers["location"] == "/api/reviewers/ada"
    ada = read(api, "/api/reviewers/ada", answer.json()["position"])
    assert (ada["name"], ada["lens"], ada["version"]) == ("Ada", "skeptic", 1)


def test_admin_edits_a_reviewer_with_if_match(api: Api) -> None:
    etag = api.client.get("/api/reviewers/buyer").headers["etag"]
    with api.appends(1):
        answer = api.request(
            "PATCH",
            "/api/reviewers/buyer",
            "admin",
            json={"name": "Bea", "lens": "skeptic", "reason": "moved to security"},
            headers={"If-Match": etag},
        )
    assert answer.status_code == 200, answer.text
    receipt = answer.json()
    buyer = read(api, "/api/reviewers/buyer", receipt["position"])
    assert (buyer["name"], buyer["lens"], buyer["version"]) == (
        "Bea",
        "skeptic",
        receipt["version"],
    )
    event = api.client.get("/api/events", params={"after": receipt["position"] - 1})
    [edited] = event.json()["items"]
    assert (edited["type"], edited["reason"]) == (
        "Reviewer.ProfileEdited",
        "moved to security",
    )


def test_reviewer_edit_refusals_append_nothing(api: Api) -> None:
    path = "/api/reviewers/buyer"

    def refused(status: int, body: Any, who: str | None = "admin", **kw: Any) -> str:
        problem = api.refuses(status, "PATCH", path, who, json=body, **kw)
        return str(problem["type"])

    why = {"reason": "asked to"}
    with api.appends(0):
        assert refused(403, {**why, "name": "X"}, "editor") == "/problems/forbidden"
        assert refused(401, {**why, "name": "X"}, None) == "/problems/unauthorized"
        assert refused(422, {"name": "X"}) == "/problems/validation-failed"
        assert (
            refused(422, {**why, "lens": "optimist"}) == "/problems/validation-failed"
        )
        assert refused(422, {**why, "name": ""}) == "/problems/validation-failed"
        assert (
            refused(422, {**why, "email": "a@b.org"}) == "/problems/validation-failed"
        )
        assert refused(422, why) == "/problems/nothing-changed"
        assert refused(422, {**why, "lens": "buyer"}) == "/problems/nothing-changed"
        assert refused(412, {**why, "name": "X"}, headers={"If-Match": "5"}) == (
            "/problems/stale-version"
        )
        missing = api.refuses(
            404, "PATCH", "/api/reviewers/nobody", "admin", json={**why, "name": "X"}
        )
    assert missing["type"] == "/problems/reviewer-not-found"


def test_retiring_a_reviewer_leaves_the_panel_list_not_the_record(api: Api) -> None:
    path = "/api/reviewers/buyer"
    with api.appends(1):
        receipt = retire(api, path, "admin")
    items = read(api, "/api/reviewers", receipt["position"])["items"]
    assert [item["handle"] for item in items] == ["builder", "skeptic", "futurist"]
    buyer = read(api, path, receipt["position"])
    assert buyer["retired"] is True
    assert buyer["retirement"]["position"] == receipt["position"]
    assert buyer["retirement"]["reason"] == WHY["reason"]
    # Their reviews stand.
    reviews = read(api, CARD + "/reviews", receipt["position"])["items"]
    assert "buyer" in [item["reviewer"] for item in reviews]
    with api.appends(0):
        edited = api.refuses(
            409, "PATCH", path, "admin", json={"name": "Bea", "reason": "renamed"}
        )
        twice = api.refuses(409, "POST", path + "/retire", "admin", json=WHY)
    assert edited["type"] == twice["type"] == "/problems/reviewer-retired"


def test_reviewer_retirement_refusals_append_nothing(api: Api) -> None:
    path = "/api/reviewers/buyer/retire"
    with api.appends(0):
        api.refuses(403, "POST", path, "editor", json=WHY)
        api.refuses(401, "POST", path, None, json=WHY)
        api.refuses(422, "POST", path, "admin", json={"reason": " "})
        api.refuses(412, "POST", path, "admin", json=WHY, headers={"If-Match": "4"})
        api.refuses(404, "POST", "/api/reviewers/nobody/retire", "admin", json=WHY)


def test_reviewer_edit_honours_idempotency_key(api: Api) -> None:
    body = {"name": "Bea", "reason": "preferred name"}
    headers = {"Idempotency-Key": "rename-buyer"}
    with api.appends(1):
        first = api.request(
            "PATCH", "/api/reviewers/buyer", "admin", json=body, headers=headers
        )
        again = api.request(
            "PATCH", "/api/reviewers/buyer", "admin", json=body, headers=headers
        )
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


# Comparisons.


def test_editor_edits_a_comparison_in_either_order(api: Api) -> None:
    version = api.ledger.comparison("code-llama-4", TOOL)["version"]
    body = {"question": "Which one for a small team?", "reason": "narrowed"}
    with api.appends(1):
        answer = api.request(
            "PATCH", FLIPPED, "editor", json=body, headers={"If-Match": str(version)}
        )
    assert answer.status_code == 200, answer.text
    receipt = answer.json()
    assert receipt["version"] == version + 1
    view = read(api, PAIR, receipt["position"])
    assert view["question"] == body["question"]
    listed = read(api, "/api/comparisons", receipt["position"])["items"]
    assert listed[0]["question"] == body["question"]


def test_comparison_edit_refusals_append_nothing(api: Api) -> None:
    body = {"question": "Which one for a small team?", "reason": "narrowed"}

    def refused(
        status: int, payload: Any, who: str | None = "editor", **kw: Any
    ) -> str:
        problem = api.refuses(status, "PATCH", PAIR, who, json=payload, **kw)
        return str(problem["type"])

    same = {"question": "Which one should you ship with?", "reason": "none"}
    with api.appends(0):
        assert refused(403, body, "voter") == "/problems/forbidden"
        assert refused(401, body, None) == "/problems/unauthorized"
        assert refused(422, {"reason": "no question"}) == "/problems/validation-failed"
        assert refused(422, {"question": "No reason?"}) == "/problems/validation-failed"
        assert refused(422, {**body, "question": "q" * 201}) == (
            "/problems/validation-failed"
        )
        assert refused(422, same) == "/problems/nothing-changed"
        assert (
            refused(412, body, headers={"If-Match": "3"}) == "/problems/stale-version"
        )
        for path in (
            "/api/comparisons/code-llama-4/nope",
            "/api/comparisons/code-llama-4/code-llama-4",
        ):
            missing = api.refuses(404, "PATCH", path, "editor", json=body)
            assert missing["type"] == "/problems/comparison-not-found"


def test_retiring_a_comparison_delists_it_but_keeps_its_page(api: Api) -> None:
    with api.appends(1):
        receipt = retire(api, FLIPPED, headers={"If-Match": "1"})
    assert receipt["version"] == 2
    assert pairs(api, receipt["position"]) == []
    view = read(api, PAIR, receipt["position"])
    assert view["retired"] is True
    assert view["retirement"]["position"] == receipt["position"]
    assert view["retirement"]["reason"] == WHY["reason"]
    events = api.client.get("/api/events", params={"type": "Comparison.Retired"})
    [event] = events.json()["items"]
    assert (event["position"], event["reason"]) == (receipt["position"], WHY["reason"])
    edit = {"question": "Still?", "reason": "retired"}
    with api.appends(0):
        edited = api.refuses(409, "PATCH", PAIR, "editor", json=edit)
        twice = api.refuses(409, "POST", PAIR + "/retire", "editor", json=WHY)
        pick = api.refuses(
            409, "PUT", PAIR + "/vote", "voter", json={"pick": "code-llama-4"}
        )
    assert edited["type"] == twice["type"] == pick["type"]
    assert twice["type"] == "/problems/comparison-retired"


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("voter", 403), ("builder", 403)]
)
def test_comparison_retirement_needs_an_editor(
    api: Api, who: str | None, status: int
) -> None:
    with api.appends(0):
        api.refuses(status, "POST", PAIR + "/retire", who, json=WHY)


def test_comparison_retirement_refuses_bad_bodies(api: Api) -> None:
    with api.appends(0):
        api.refuses(422, "POST", PAIR + "/retire", "editor", json={})
        api.refuses(422, "POST", PAIR + "/retire", "editor", json={"reason": 3})
        api.refuses(
            400, "POST", PAIR + "/retire", "editor", content=b"[", headers=AS_JSON
        )
        api.refuses(415, "POST", PAIR + "/retire", "editor", content=b"{}")
        api.refuses(
            404, "POST", "/api/comparisons/code-llama-4/nope/retire", "editor", json=WHY
        )


def test_comparison_retirement_honours_idempotency_key(api: Api) -> None:
    headers = {"Idempotency-Key": "retire-pair"}
    with api.appends(1):
        first = api.request(
            "POST", PAIR + "/retire", "editor", json=WHY, headers=headers
        )
        again = api.request(
            "POST", PAIR + "/retire", "editor", json=WHY, headers=headers
        )
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


def test_the_openapi_document_states_each_route_and_its_constraints(api: Api) -> None:
    schema = api.client.get("/schema/openapi.json").json()
    paths = schema["paths"]
    for path, method in (
        ("/api/tools/{slug}/retire", "post"),
        ("/api/tools/{slug}/reinstate", "post"),
        ("/api/reviewers", "get"),
        ("/api/reviewers/{handle}", "get"),
        ("/api/reviewers/{handle}", "patch"),
        ("/api/reviewers/{handle}/retire", "post"),
        ("/api/comparisons/{a}/{b}", "patch"),
        ("/api/comparisons/{a}/{b}/retire", "post"),
    ):
        operation = paths[path][method]
        if method != "get":
            assert operation["security"] == [{"bearer": []}], path
            assert {"200", "401", "403", "404", "409", "412", "422"} <= set(
                operation["responses"]
            ), path
            assert any(p["name"] == "If-Match" for p in operation["parameters"]), path
    reason = schema["components"]["schemas"]["RetireOrReinstate"]["properties"][
        "reason"
    ]
    assert (reason["minLength"], reason["maxLength"], reason["pattern"]) == (
        1,
        1000,
        rules.NOT_BLANK,
    )
    update = schema["components"]["schemas"]["ReviewerUpdate"]
    assert update["required"] == ["reason"]
    lens = update["properties"]["lens"]
    assert "skeptic" in str(lens)
