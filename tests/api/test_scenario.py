"""A tool's whole story over HTTP: registered, reviewed, revised, voted on."""

from __future__ import annotations

from pathlib import Path

from ledger.auth import open_token_store
from tests.api.helpers import Api, ledger_settings


def _reviewer_token(home: Path, handle: str) -> str:
    """What ``ledger token create --role reviewer --reviewer HANDLE`` prints."""
    store = open_token_store(ledger_settings(home))
    try:
        return store.create("reviewer", handle)
    finally:
        store.close()


def test_a_tool_from_registration_to_revised_verdicts(api: Api, home: Path) -> None:
    tool = "/api/tools/quill-7"
    registered = api.request(
        "POST",
        "/api/tools",
        "editor",
        json={
            "slug": "quill-7",
            "name": "Quill 7",
            "vendor": "Quill Labs",
            "category": "Writing",
            "tagline": "Drafts that sound like you",
            "entry": "Free tier",
        },
    )
    assert registered.status_code == 201
    for handle, lens in (("ann", "builder"), ("bob", "skeptic")):
        enrolled = api.request(
            "POST",
            "/api/reviewers",
            "admin",
            json={"handle": handle, "name": handle.title(), "lens": lens},
        )
        assert enrolled.status_code == 201
        api.tokens[handle] = _reviewer_token(home, handle)

    ann = api.request(
        "PUT",
        f"{tool}/reviews/ann",
        "ann",
        json={"verdict": "ship", "rationale": "Fast and keeps my voice."},
    )
    bob = api.request(
        "PUT",
        f"{tool}/reviews/bob",
        "bob",
        json={"verdict": "ship", "rationale": "Claims hold up in a week of use."},
    )
    assert (ann.status_code, bob.status_code) == (201, 201)
    both_ship = bob.json()["position"]

    revised = api.request(
        "PUT",
        f"{tool}/reviews/bob",
        "bob",
        json={
            "verdict": "skip",
            "rationale": "The free tier now caps drafts at three a day.",
            "reason": "pricing changed",
        },
    )
    assert revised.status_code == 200
    voted = [
        api.request("PUT", f"{tool}/vote", voter, json={"choice": "ship"})
        for voter in ("voter", "voter2")
    ]
    assert [answer.status_code for answer in voted] == [201, 201]
    changed = api.request("PUT", f"{tool}/vote", "voter2", json={"choice": "skip"})
    assert changed.status_code == 200
    last = changed.json()["position"]

    card = api.client.get(tool, params={"min_position": last}).json()
    assert card["panel"] == {
        **card["panel"],
        "ship": 1,
        "skip": 1,
        "total": 2,
        "ship_pct": 50.0,
    }
    assert card["community"] == {
        **card["community"],
        "ship": 1,
        "skip": 1,
        "total": 2,
        "ship_pct": 50.0,
    }
    assert card["position"] == last

    history = api.client.get(f"{tool}/history").json()["items"]
    types = [item["type"] for item in history]
    assert types == [
        "Tool.Registered",
        "Review.Submitted",
        "Review.Submitted",
        "Review.Revised",
        "Vote.Cast",
        "Vote.Cast",
        "Vote.Changed",
    ]
    revision = history[3]
    assert revision["actor"] == "reviewer:bob"
    assert revision["reason"] == "pricing changed"
    assert revision["before"]["panel"]["ship"] == 2
    assert revision["after"]["panel"]["ship"] == 1
    assert history[-1]["before"]["community"]["ship"] == 2
    assert history[-1]["after"]["community"]["skip"] == 1

    then = api.client.get(f"{tool}/scorecard", params={"position": both_ship}).json()
    assert then["panel"]["ship_pct"] == 100.0
    assert then["community"]["total"] == 0
    at_revision = api.client.get(
        f"{tool}/scorecard", params={"as_of": revision["at"]}
    ).json()
    assert at_revision["panel"]["ship"] == 1
    assert at_revision["community"]["total"] == 0

    reviews = api.client.get(f"{tool}/reviews").json()["items"]
    bob_now = next(item for item in reviews if item["reviewer"] == "bob")
    assert (bob_now["verdict"], bob_now["revision"]) == ("skip", 1)
    audit = api.client.get("/api/events", params={"tool": "quill-7"}).json()["items"]
    assert len(audit) == 7
