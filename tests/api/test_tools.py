"""Tools: cards, ETags, history, as-of scorecards, register and edit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import CARD, Api

NEW_TOOL = {
    "slug": "zed-coder",
    "name": "Zed Coder",
    "vendor": "Zed",
    "category": "Developer Tools",
    "tagline": "An editor's own model",
    "entry": "$10/mo",
}


def test_list_tools_gives_every_card(api: Api) -> None:
    answer = api.client.get("/api/tools")
    assert answer.status_code == 200
    slugs = [card["slug"] for card in answer.json()["items"]]
    assert slugs == ["code-llama-4", "mistral-medium-3"]


def test_card_has_the_contract_fields_and_the_seed_figures(api: Api) -> None:
    answer = api.client.get("/api/tools/mistral-medium-3")
    assert answer.status_code == 200
    card = answer.json()
    for name in (
        "slug",
        "name",
        "vendor",
        "category",
        "tagline",
        "description",
        "entry",
        "license",
        "panel",
        "community",
        "version",
        "position",
        "updated_at",
    ):
        assert name in card
    assert card["panel"]["ship"] == 3
    assert card["panel"]["total"] == 4
    assert card["panel"]["ship_pct"] == 75.0
    assert card["community"]["total"] == 0
    assert card["community"]["ship_pct"] is None


def test_card_etag_answers_304_until_the_card_changes(api: Api) -> None:
    first = api.client.get(CARD)
    etag = first.headers["etag"]
    assert (
        etag == f'"code-llama-4:{first.json()["version"]}:{first.json()["position"]}"'
    )
    again = api.client.get(CARD, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    vote = api.request("PUT", CARD + "/vote", "voter", json={"choice": "skip"})
    assert vote.status_code == 201
    position = vote.json()["position"]
    changed = api.client.get(
        CARD, params={"min_position": position}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["community"]["skip"] == 1


def test_unknown_tool_is_a_404_problem(api: Api) -> None:
    for path in (
        "/api/tools/nope",
        "/api/tools/nope/history",
        "/api/tools/nope/reviews",
    ):
        answer = api.client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"] == "/problems/tool-not-found"
        assert problem["status"] == 404
        assert "'nope'" in problem["detail"]


def test_history_has_one_row_per_verdict_change(api: Api) -> None:
    answer = api.client.get("/api/tools/mistral-medium-3/history")
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert items[0]["type"] == "Tool.Registered"
    reviews = [item for item in items if item["type"] == "Review.Submitted"]
    assert len(reviews) == 4
    last = items[-1]
    assert last["after"]["panel"]["ship"] == 3
    assert last["after"]["panel"]["skip"] == 1
    assert set(last) >= {"position", "at", "type", "actor", "reason", "before", "after"}


def test_scorecard_by_position_and_by_time(api: Api) -> None:
    history = api.client.get("/api/tools/mistral-medium-3/history").json()["items"]
    registered = history[0]
    early = api.client.get(
        "/api/tools/mistral-medium-3/scorecard",
        params={"position": registered["position"]},
    )
    assert early.status_code == 200
    assert early.json()["panel"]["total"] == 0
    now = api.client.get(
        "/api/tools/mistral-medium-3/scorecard",
        params={"as_of": "2999-01-01T00:00:00Z"},
    )
    assert now.status_code == 200
    assert now.json()["panel"]["total"] == 4


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"as_of": "2020-01-01T00:00:00Z", "position": "3"},
        {"as_of": "yesterday"},
        {"position": "-1"},
        {"position": "three"},
    ],
)
def test_scorecard_needs_exactly_one_valid_point(
    api: Api, params: dict[str, str]
) -> None:
    answer = api.client.get("/api/tools/code-llama-4/scorecard", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"]


def test_scorecard_before_the_tool_existed_is_404(api: Api) -> None:
    answer = api.client.get(
        "/api/tools/code-llama-4/scorecard", params={"as_of": "2000-01-01T00:00:00"}
    )
    assert answer.status_code == 404
    assert "not registered yet" in answer.json()["detail"]


def test_editor_registers_a_tool(api: Api) -> None:
    head = api.head()
    answer = api.request("POST", "/api/tools", "editor", json=NEW_TOOL)
    assert answer.status_code == 201
    assert answer.headers["location"] == "/api/tools/zed-coder"
    receipt = answer.json()
    assert receipt == {"version": 1, "position": head + 1}
    card = api.client.get(
        "/api/tools/zed-coder", params={"min_position": receipt["position"]}
    )
    assert card.status_code == 200
    assert card.json()["entry"] == "$10/mo"


def test_admin_may_do_what_an_editor_may(api: Api) -> None:
    answer = api.request("POST", "/api/tools", "admin", json=NEW_TOOL)
    assert answer.status_code == 201


def test_register_refuses_a_duplicate_and_bad_input(api: Api) -> None:
    def register(status: int, **changes: str) -> dict[str, Any]:
        body = {**NEW_TOOL, **changes}
        return api.refuses(status, "POST", "/api/tools", "editor", json=body)

    with api.appends(0):
        duplicate = register(409, slug="code-llama-4")
        bad_slug = register(422, slug="Not A Slug")
        missing = api.refuses(422, "POST", "/api/tools", "editor", json={"slug": "x"})
        blank = register(422, name="   ")
        register(422, price="1")
    assert duplicate["type"] == "/problems/tool-already-registered"
    assert "slug" in bad_slug["detail"]
    assert "name" in missing["detail"]
    assert "name must not be empty" in blank["detail"]


def test_patch_edits_with_a_reason_and_if_match(api: Api) -> None:
    card = api.client.get(CARD).json()
    answer = api.request(
        "PATCH",
        CARD,
        "editor",
        json={"entry": "$0 (weights)", "reason": "weights are free, hosting is not"},
        headers={"If-Match": str(card["version"])},
    )
    assert answer.status_code == 200
    receipt = answer.json()
    assert receipt["version"] == card["version"] + 1
    updated = api.client.get(CARD, params={"min_position": receipt["position"]}).json()
    assert updated["entry"] == "$0 (weights)"
    assert updated["name"] == card["name"]


def test_patch_accepts_the_card_etag_as_if_match(api: Api) -> None:
    etag = api.client.get(CARD).headers["etag"]
    answer = api.request(
        "PATCH",
        CARD,
        "editor",
        json={"tagline": "Open code models"},
        headers={"If-Match": etag},
    )
    assert answer.status_code == 200


def test_patch_with_a_stale_version_is_412_and_appends_nothing(api: Api) -> None:
    head = api.head()
    answer = api.request(
        "PATCH",
        CARD,
        "editor",
        json={"tagline": "Something new"},
        headers={"If-Match": "7"},
    )
    assert answer.status_code == 412
    problem = answer.json()
    assert problem["type"] == "/problems/stale-version"
    assert problem["expected"] == 7
    assert problem["actual"] == 1
    assert api.head() == head


def test_patch_refusals(api: Api) -> None:
    def edit(status: int, body: dict[str, str], **kw: Any) -> dict[str, Any]:
        return api.refuses(status, "PATCH", CARD, "editor", json=body, **kw)

    with api.appends(0):
        no_reason = edit(422, {"entry": "$5"})
        nothing = edit(422, {})
        api.refuses(404, "PATCH", "/api/tools/nope", "editor", json={"name": "X"})
        edit(400, {"name": "X"}, headers={"If-Match": "v7"})
        api.refuses(403, "PATCH", CARD, "voter", json={"name": "X"})
        api.refuses(401, "PATCH", CARD, None, json={"name": "X"})
    assert "reason" in no_reason["detail"]
    assert "changes nothing" in nothing["detail"]


def test_card_etag_stays_usable_as_if_match_after_votes(api: Api) -> None:
    vote = api.request("PUT", CARD + "/vote", "voter", json={"choice": "ship"})
    card = api.client.get(CARD, params={"min_position": vote.json()["position"]})
    assert card.json()["community"]["ship"] == 1
    answer = api.request(
        "PATCH",
        CARD,
        "editor",
        json={"tagline": "Voted on, then edited"},
        headers={"If-Match": card.headers["etag"]},
    )
    assert answer.status_code == 200
