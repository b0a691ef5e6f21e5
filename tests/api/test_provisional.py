"""Provisional figures: a share or tally from fewer than five is flagged as such.

A panel of four gives "100%" from 4 of 4 verdicts; every answer that carries
figures (a card, a comparison, a history, a past scorecard, the list)
says ``provisional`` while 1-4 are counted, and not at 0 (no share at all)
or from 5 on.
"""

from __future__ import annotations

from typing import Any

from ledger.context import Context
from projections.models import PROVISIONAL_BELOW
from tests.api.helpers import PAIR, Api

CTX = Context(actor="editor:test", request_id="provisional-test")
TOOL = "/api/tools/code-llama-4"


def _card(api: Api, position: int) -> dict[str, Any]:
    answer = api.client.get(TOOL, params={"min_position": position})
    assert answer.status_code == 200
    card: dict[str, Any] = answer.json()
    return card


def test_community_share_is_provisional_from_one_to_four_votes(api: Api) -> None:
    assert PROVISIONAL_BELOW == 5
    start = _card(api, 0)
    assert start["community"]["total"] == 0
    assert start["community"]["ship_pct"] is None
    assert start["community"]["provisional"] is False
    # The demo panel counts four verdicts: its shares are provisional.
    assert (start["panel"]["total"], start["panel"]["ship_pct"]) == (4, 100.0)
    assert start["panel"]["provisional"] is True

    for voters in range(1, 6):
        receipt = api.ledger.cast_vote(CTX, f"voter-{voters}", "code-llama-4", "ship")
        community = _card(api, receipt.position)["community"]
        assert community["total"] == voters
        assert community["ship_pct"] == 100.0
        assert community["provisional"] is (voters < 5), community

    # Every other answer carrying figures agrees with the card.
    position = receipt.position
    history = api.client.get(
        f"{TOOL}/history", params={"order": "newest", "limit": 2}
    ).json()["items"]
    assert history[0]["after"]["community"]["provisional"] is False
    assert history[0]["before"]["community"]["provisional"] is True
    assert history[0]["after"]["panel"]["provisional"] is True
    scorecard = api.client.get(
        f"{TOOL}/scorecard", params={"position": position - 1}
    ).json()
    assert scorecard["community"]["total"] == 4
    assert scorecard["community"]["provisional"] is True
    view = api.client.get(PAIR).json()
    assert view["a"]["community"]["provisional"] is False
    assert view["b"]["community"]["provisional"] is False
    listed = api.client.get("/api/tools").json()["items"]
    assert [card["community"]["provisional"] for card in listed] == [False, False]


def test_a_retracted_vote_can_make_a_share_provisional_again(api: Api) -> None:
    for index in range(1, 6):
        api.ledger.cast_vote(CTX, f"skipper-{index}", "mistral-medium-3", "skip")
    receipt = api.ledger.retract_vote(CTX, "skipper-5", "mistral-medium-3")
    card = api.client.get(
        "/api/tools/mistral-medium-3", params={"min_position": receipt.position}
    ).json()
    assert (card["community"]["total"], card["community"]["ship_pct"]) == (4, 0.0)
    assert card["community"]["provisional"] is True


def test_head_to_head_tally_is_provisional_below_five_picks(api: Api) -> None:
    view = api.client.get(PAIR).json()
    assert view["head_to_head"]["provisional"] is False
    for voters in range(1, 6):
        receipt = api.ledger.cast_comparison_vote(
            CTX, f"picker-{voters}", "code-llama-4", "mistral-medium-3", "code-llama-4"
        )
        tally = api.client.get(PAIR, params={"min_position": receipt.position}).json()[
            "head_to_head"
        ]
        assert tally["total"] == voters
        assert tally["provisional"] is (voters < 5), tally


def test_openapi_documents_provisional(api: Api) -> None:
    schemas = api.client.get("/schema/openapi.json").json()["components"]["schemas"]
    for name in ("Figures", "HeadToHead"):
        field = schemas[name]["properties"]["provisional"]
        assert field["type"] == "boolean"
        assert "fewer than 5" in field["description"]
