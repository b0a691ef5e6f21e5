"""Reviews: a reviewer writes only their own; revisions and withdrawals say why."""

from __future__ import annotations

from tests.api.conftest import Api

BUILDER = "/api/tools/code-llama-4/reviews/builder"
SKEPTIC = "/api/tools/code-llama-4/reviews/skeptic"


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
    answer = api.request(
        "PUT",
        BUILDER,
        "builder",
        json={
            "verdict": "skip",
            "rationale": "The 400B needs a cluster most teams do not have.",
            "reason": "tried it on our hardware",
        },
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
    registered = api.request(
        "POST",
        "/api/tools",
        "editor",
        json={"slug": "new-tool", "name": "New", "vendor": "V", "category": "C"},
    )
    assert registered.status_code == 201
    body = {"verdict": "ship", "rationale": "Does what it says."}
    first = api.request(
        "PUT", "/api/tools/new-tool/reviews/builder", "builder", json=body
    )
    assert first.status_code == 201
    assert first.json()["version"] == 1
    head = api.head()
    again = api.request(
        "PUT", "/api/tools/new-tool/reviews/builder", "builder", json=body
    )
    assert again.status_code == 200
    assert again.json() == {"version": 1, "position": head}
    assert api.head() == head


def test_revision_without_a_reason_is_422(api: Api) -> None:
    head = api.head()
    answer = api.request(
        "PUT",
        BUILDER,
        "builder",
        json={"verdict": "skip", "rationale": "Changed my mind."},
    )
    assert answer.status_code == 422
    assert answer.json()["type"] == "/problems/reason-required"
    assert "reason" in answer.json()["detail"]
    assert api.head() == head


def test_a_reviewer_token_writes_only_its_own_reviews(api: Api) -> None:
    head = api.head()
    body = {"verdict": "skip", "rationale": "Not mine to say.", "reason": "x"}
    other = api.request("PUT", SKEPTIC, "builder", json=body)
    assert other.status_code == 403
    assert "'builder'" in other.json()["detail"]
    editor = api.request("PUT", BUILDER, "editor", json=body)
    assert editor.status_code == 403
    admin = api.request("PUT", BUILDER, "admin", json=body)
    assert admin.status_code == 403
    nobody = api.request("PUT", BUILDER, None, json=body)
    assert nobody.status_code == 401
    withdraw = api.request("DELETE", SKEPTIC, "builder", params={"reason": "x"})
    assert withdraw.status_code == 403
    assert api.head() == head


def test_review_refusals(api: Api) -> None:
    head = api.head()
    bad_verdict = api.request(
        "PUT", BUILDER, "builder", json={"verdict": "maybe", "rationale": "Hmm."}
    )
    assert bad_verdict.status_code == 422
    assert "verdict" in bad_verdict.json()["detail"]
    empty = api.request(
        "PUT", BUILDER, "builder", json={"verdict": "ship", "rationale": ""}
    )
    assert empty.status_code == 422
    no_tool = api.request(
        "PUT",
        "/api/tools/nope/reviews/builder",
        "builder",
        json={"verdict": "ship", "rationale": "Fine."},
    )
    assert no_tool.status_code == 404
    stale = api.request(
        "PUT",
        BUILDER,
        "builder",
        json={"verdict": "skip", "rationale": "Other.", "reason": "why"},
        headers={"If-Match": "5"},
    )
    assert stale.status_code == 412
    assert api.head() == head


def test_withdraw_needs_a_reason_and_happens_once(api: Api) -> None:
    head = api.head()
    no_reason = api.request("DELETE", BUILDER, "builder")
    assert no_reason.status_code == 422
    assert "reason" in no_reason.json()["detail"]
    assert api.head() == head
    withdrawn = api.request(
        "DELETE", BUILDER, "builder", params={"reason": "conflict of interest"}
    )
    assert withdrawn.status_code == 200
    receipt = withdrawn.json()
    assert receipt == {"version": 2, "position": head + 1}
    again = api.request("DELETE", BUILDER, "builder", params={"reason": "again"})
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/review-withdrawn"
    assert api.head() == head + 1
    card = api.client.get(
        "/api/tools/code-llama-4", params={"min_position": receipt["position"]}
    ).json()
    assert card["panel"]["total"] == 3
    resubmitted = api.request(
        "PUT",
        BUILDER,
        "builder",
        json={"verdict": "ship", "rationale": "Back on the panel."},
    )
    assert resubmitted.status_code == 200
    assert resubmitted.json()["version"] == 3


def test_withdrawing_a_review_never_written_is_404(api: Api) -> None:
    api.request(
        "POST",
        "/api/tools",
        "editor",
        json={"slug": "new-tool", "name": "New", "vendor": "V", "category": "C"},
    )
    head = api.head()
    answer = api.request(
        "DELETE",
        "/api/tools/new-tool/reviews/builder",
        "builder",
        params={"reason": "x"},
    )
    assert answer.status_code == 404
    assert answer.json()["type"] == "/problems/review-not-found"
    assert api.head() == head
