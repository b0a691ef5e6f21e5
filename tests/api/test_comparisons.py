"""Comparisons: the head-to-head page's data, ordered as asked; publishing."""

from __future__ import annotations

import pytest

from tests.api.helpers import PAIR, Api

NEW_TOOL = {"slug": "new-tool", "name": "New", "vendor": "V", "category": "C"}


def test_list_comparisons(api: Api) -> None:
    answer = api.client.get("/api/comparisons")
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [(item["a"], item["b"]) for item in items] == [
        ("code-llama-4", "mistral-medium-3")
    ]
    assert items[0]["question"] == "Which one should you ship with?"


def test_comparison_view_is_the_seed_page(api: Api) -> None:
    answer = api.client.get(PAIR)
    assert answer.status_code == 200
    view = answer.json()
    assert view["a"]["slug"] == "code-llama-4"
    assert view["a"]["panel"]["ship_pct"] == 100.0
    assert view["b"]["panel"]["ship_pct"] == 75.0
    split = {row["lens"]: (row["a"], row["b"]) for row in view["split"]}
    assert split == {
        "builder": ("ship", "ship"),
        "skeptic": ("ship", "ship"),
        "futurist": ("ship", "ship"),
        "buyer": ("ship", "skip"),
    }
    assert view["head_to_head"] == {"a": 0, "b": 0, "total": 0, "provisional": False}


def test_comparison_is_ordered_as_asked(api: Api) -> None:
    view = api.client.get("/api/comparisons/mistral-medium-3/code-llama-4").json()
    assert view["a"]["slug"] == "mistral-medium-3"
    buyer = next(row for row in view["split"] if row["lens"] == "buyer")
    assert (buyer["a"], buyer["b"]) == ("skip", "ship")


def test_comparison_etag_and_304(api: Api) -> None:
    first = api.client.get(PAIR)
    etag = first.headers["etag"]
    assert api.client.get(PAIR, headers={"If-None-Match": etag}).status_code == 304
    assert (
        api.client.get(PAIR, headers={"If-None-Match": '"other", ' + etag}).status_code
        == 304
    )
    flipped = api.client.get("/api/comparisons/mistral-medium-3/code-llama-4")
    assert flipped.headers["etag"] != etag


@pytest.mark.parametrize(
    "path",
    [
        "/api/comparisons/code-llama-4/nope",
        "/api/comparisons/code-llama-4/code-llama-4",
    ],
)
def test_unknown_comparison_is_404(api: Api, path: str) -> None:
    answer = api.client.get(path)
    assert answer.status_code == 404
    assert answer.json()["type"] == "/problems/comparison-not-found"


def test_editor_publishes_a_comparison(api: Api) -> None:
    api.request("POST", "/api/tools", "editor", json=NEW_TOOL)
    head = api.head()
    answer = api.request(
        "POST",
        "/api/comparisons",
        "editor",
        json={"a": "new-tool", "b": "code-llama-4", "question": "Which is newer?"},
    )
    assert answer.status_code == 201
    assert answer.headers["location"] == "/api/comparisons/new-tool/code-llama-4"
    assert answer.json() == {"version": 1, "position": head + 1}
    view = api.client.get(
        "/api/comparisons/new-tool/code-llama-4",
        params={"min_position": head + 1},
    )
    assert view.status_code == 200
    assert view.json()["question"] == "Which is newer?"


def test_publish_refusals(api: Api) -> None:
    body = {"a": "code-llama-4", "b": "mistral-medium-3", "question": "Again?"}
    flipped = {**body, "a": body["b"], "b": body["a"]}
    with api.appends(0):
        api.refuses(409, "POST", "/api/comparisons", "editor", json=body)
        api.refuses(409, "POST", "/api/comparisons", "editor", json=flipped)
        same = api.refuses(
            422, "POST", "/api/comparisons", "editor", json={**body, "b": body["a"]}
        )
        api.refuses(
            404, "POST", "/api/comparisons", "editor", json={**body, "b": "nope"}
        )
    assert same["type"] == "/problems/same-tool"
