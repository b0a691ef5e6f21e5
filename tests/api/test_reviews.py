"""Reviews: a reviewer writes only their own; revisions and withdrawals say why."""

from __future__ import annotations

import httpx

from tests.api.helpers import Api

BUILDER = "/api/tools/code-llama-4/reviews/builder"
SKEPTIC = "/api/tools/code-llama-4/reviews/skeptic"
NEW_TOOL = {"slug": "new-tool", "name": "New", "vendor": "V", "category": "C"}
NEW_TOOL_BUILDER = "/api/tools/new-tool/reviews/builder"


def _put(
    api: Api,
    verdict: str,
    rationale: str,
    path: str = BUILDER,
    *,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The builder's PUT of a review, with a ``reason`` when given one."""
    body = {"verdict": verdict, "rationale": rationale}
    if reason is not None:
        body["reason"] = reason
    return api.request("PUT", path, "builder", json=body, headers=headers or {})


def test_list_reviews_of_a_tool(api: Api) -> None:
    answer = api.client.get("/api/tools/mistral-medium-3/reviews")
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert {item["reviewer"] for item in items} == {
        "builder",
        "skeptic",
        "futurist",
        "buyer",
    }
    buyer = next(item for item in items if item["reviewer"] == "buyer")
    assert buyer["verdict"] == "skip"
    assert buyer["lens"] == "buyer"
    assert buyer["revision"] == 0
    assert buyer["withdrawn"] is False
    assert set(buyer) >= {"rationale", "submitted_at", "revised_at"}


def test_reviewer_revises_own_review_with_a_reason(api: Api) -> None:
    answer = _put(
        api,
        "skip",
        "The 400B needs a cluster most teams do not have.",
        reason="tried it on our hardware",
    )
    assert answer.status_code == 200
    receipt = answer.json()
    assert receipt["version"] == 2
    reviews = api.client.get(
        "/api/tools/code-llama-4/reviews", params={"min_position": receipt["position"]}
    ).json()["items"]
    builder = next(item for item in reviews if item["reviewer"] == "builder")
    assert builder["verdict"] == "skip"
    assert builder["revision"] == 1
    card = api.client.get(
        "/api/tools/code-llama-4", params={"min_position": receipt["position"]}
    ).json()
    assert card["panel"]["ship"] == 3
    assert card["panel"]["skip"] == 1


def test_first_review_is_201_and_unchanged_put_is_200_with_nothing_appended(
    api: Api,
) -> None:
    registered = api.request("POST", "/api/tools", "editor", json=NEW_TOOL)
    assert registered.status_code == 201
    first = _put(api, "ship", "Does what it says.", NEW_TOOL_BUILDER)
    assert first.status_code == 201
    assert first.json()["version"] == 1
    head = api.head()
    with api.appends(0):
        again = _put(api, "ship", "Does what it says.", NEW_TOOL_BUILDER)
    assert again.status_code == 200
    assert again.json() == {"version": 1, "position": head}


def test_revision_without_a_reason_is_422(api: Api) -> None:
    with api.appends(0):
        answer = _put(api, "skip", "Changed my mind.")
    assert answer.status_code == 422
    assert answer.json()["type"] == "/problems/reason-required"
    assert "reason" in answer.json()["detail"]


def test_a_reviewer_token_writes_only_its_own_reviews(api: Api) -> None:
    with api.appends(0):
        other = api.refuses(
            403,
            "PUT",
            SKEPTIC,
            "builder",
            json={"verdict": "skip", "rationale": "Not mine to say.", "reason": "x"},
        )
        api.refuses(403, "DELETE", SKEPTIC, "builder", params={"reason": "x"})
    assert "'builder'" in other["detail"]


def test_review_refusals(api: Api) -> None:
    with api.appends(0):
        bad_verdict = _put(api, "maybe", "Hmm.")
        empty = _put(api, "ship", "")
        no_tool = _put(api, "ship", "Fine.", "/api/tools/nope/reviews/builder")
        stale = _put(api, "skip", "Other.", reason="why", headers={"If-Match": "5"})
    assert bad_verdict.status_code == 422
    assert "verdict" in bad_verdict.json()["detail"]
    assert empty.status_code == 422
    assert no_tool.status_code == 404
    assert stale.status_code == 412


def test_withdraw_needs_a_reason_and_happens_once(api: Api) -> None:
    head = api.head()
    with api.appends(0):
        no_reason = api.request("DELETE", BUILDER, "builder")
    assert no_reason.status_code == 422
    assert "reason" in no_reason.json()["detail"]
    with api.appends(1):
        withdrawn = api.request(
            "DELETE", BUILDER, "builder", params={"reason": "conflict of interest"}
        )
        assert withdrawn.status_code == 200
        receipt = withdrawn.json()
        assert receipt == {"version": 2, "position": head + 1}
        again = api.request("DELETE", BUILDER, "builder", params={"reason": "again"})
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/review-withdrawn"
    card = api.client.get(
        "/api/tools/code-llama-4", params={"min_position": receipt["position"]}
    ).json()
    assert card["panel"]["total"] == 3
    resubmitted = _put(api, "ship", "Back on the panel.")
    assert resubmitted.status_code == 200
    assert resubmitted.json()["version"] == 3


def test_withdrawing_a_review_never_written_is_404(api: Api) -> None:
    api.request("POST", "/api/tools", "editor", json=NEW_TOOL)
    with api.appends(0):
        answer = api.request(
            "DELETE", NEW_TOOL_BUILDER, "builder", params={"reason": "x"}
        )
    assert answer.status_code == 404
    assert answer.json()["type"] == "/problems/review-not-found"
