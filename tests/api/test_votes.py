"""Votes: anonymous voter tokens (rate-limited), one vote per voter per subject."""

from __future__ import annotations

from tests.api.helpers import Api

TOOL_VOTE = "/api/tools/code-llama-4/vote"
PAIR_VOTE = "/api/comparisons/code-llama-4/mistral-medium-3/vote"


def test_voter_tokens_are_issued_and_rate_limited(api: Api) -> None:
    head = api.head()
    tokens = []
    for _ in range(3):
        answer = api.client.post("/api/voters")
        assert answer.status_code == 201
        assert answer.headers["cache-control"] == "no-store"
        tokens.append(answer.json()["token"])
    assert len(set(tokens)) == 3
    refused = api.client.post("/api/voters")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"] == "application/problem+json"
    assert "3 voter tokens" in refused.json()["detail"]
    assert api.head() == head
    vote = api.client.put(
        TOOL_VOTE,
        json={"choice": "ship"},
        headers={"Authorization": f"Bearer {tokens[0]}"},
    )
    assert vote.status_code == 201


def test_cast_change_repeat_and_retract_a_tool_vote(api: Api) -> None:
    head = api.head()
    cast = api.request("PUT", TOOL_VOTE, "voter", json={"choice": "ship"})
    assert cast.status_code == 201
    assert cast.json() == {"version": 1, "position": head + 1}
    changed = api.request("PUT", TOOL_VOTE, "voter", json={"choice": "skip"})
    assert changed.status_code == 200
    # On PostgreSQL the change was first tried as a first vote, whose
    # refused insert took a position.
    gap = getattr(api.ledger.recorder, "refusals_use_positions", False)
    position = head + 2 + int(gap)
    assert changed.json() == {"version": 2, "position": position}
    repeated = api.request("PUT", TOOL_VOTE, "voter", json={"choice": "skip"})
    assert repeated.status_code == 200
    assert repeated.json() == {"version": 2, "position": position}
    assert api.head() == position
    card = api.client.get(
        "/api/tools/code-llama-4", params={"min_position": position}
    ).json()
    assert card["community"] == {
        **card["community"],
        "ship": 0,
        "skip": 1,
        "total": 1,
    }
    retracted = api.request("DELETE", TOOL_VOTE, "voter")
    assert retracted.status_code == 200
    assert retracted.json()["version"] == 3
    again = api.request("DELETE", TOOL_VOTE, "voter")
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/vote-retracted"
    assert api.head() == retracted.json()["position"] == position + 1 + 2 * gap


def test_the_log_holds_no_voter_token(api: Api) -> None:
    api.request("PUT", TOOL_VOTE, "voter", json={"choice": "ship"})
    token_id = api.tokens["voter"].split("_")[1]
    page = api.client.get(
        "/api/events", params={"type": "Vote.Cast", "min_position": api.head()}
    ).json()
    assert len(page["items"]) == 1
    text = str(page["items"][0])
    assert token_id not in text
    assert page["items"][0]["actor"].startswith("voter:")


def test_vote_refusals(api: Api) -> None:
    ship = {"choice": "ship"}
    with api.appends(0):
        api.refuses(422, "PUT", TOOL_VOTE, "voter", json={"choice": "maybe"})
        api.refuses(404, "PUT", "/api/tools/nope/vote", "voter", json=ship)
        api.refuses(403, "PUT", TOOL_VOTE, "editor", json=ship)
        api.refuses(401, "PUT", TOOL_VOTE, None, json=ship)
        never = api.refuses(404, "DELETE", TOOL_VOTE, "voter2")
    assert never["type"] == "/problems/vote-not-found"


def test_pick_a_side_in_a_head_to_head(api: Api) -> None:
    head = api.head()
    first = api.request("PUT", PAIR_VOTE, "voter", json={"pick": "mistral-medium-3"})
    assert first.status_code == 201
    second = api.request(
        "PUT",
        "/api/comparisons/mistral-medium-3/code-llama-4/vote",
        "voter2",
        json={"pick": "mistral-medium-3"},
    )
    assert second.status_code == 201
    view = api.client.get(
        "/api/comparisons/code-llama-4/mistral-medium-3",
        params={"min_position": head + 2},
    ).json()
    assert view["head_to_head"] == {"a": 0, "b": 2, "total": 2, "provisional": True}
    same = api.request("PUT", PAIR_VOTE, "voter", json={"pick": "mistral-medium-3"})
    assert same.status_code == 200
    assert same.json()["version"] == 1
    outsider = api.request("PUT", PAIR_VOTE, "voter", json={"pick": "other-tool"})
    assert outsider.status_code == 422
    assert api.head() == head + 2
    retracted = api.request("DELETE", PAIR_VOTE, "voter")
    assert retracted.status_code == 200
    view = api.client.get(
        "/api/comparisons/code-llama-4/mistral-medium-3",
        params={"min_position": retracted.json()["position"]},
    ).json()
    assert view["head_to_head"]["total"] == 1
