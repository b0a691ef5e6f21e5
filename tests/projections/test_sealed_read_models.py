"""Personal data in the read models: stored sealed, opened by the queries.

Reviewers' names, rationales and reasons reach the read models as the log
stores them, sealed, whether folded event by event or loaded in bulk by a
rebuild; the query layer opens them as it answers, so a reader sees the
clear text while the reviewer's key lives and ``[erased]`` from the moment
it is destroyed, without the read models being touched.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.context import Context
from ledger.personal_data import ERASED, is_sealed
from projections import Projector, ReadModel
from projections.rebuild import build

from .helpers import CTX, seed

ADA = Context(actor="reviewer:ada", request_id="r-ada")
BOB = Context(actor="reviewer:bob", request_id="r-bob")

ADA_TEXTS = {
    "name": "Ada",
    "first": "Ada finds it fast.",
    "revised": "Ada finds it slower now.",
    "revise_reason": "Ada saw it regress",
    "withdraw_reason": "Ada has a conflict",
}
BOB_TEXTS = {
    "name": "Bob",
    "first": "Bob likes the docs.",
    "revised": "Bob likes the docs less.",
    "revise_reason": "Bob reread them",
}


def _write(ledger: Ledger) -> None:
    seed(ledger)  # enrols ada, bob and cy, named Ada, Bob and Cy
    ledger.put_review(ADA, "alpha", "ada", verdict="ship", rationale=ADA_TEXTS["first"])
    ledger.put_review(
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale=ADA_TEXTS["revised"],
        reason=ADA_TEXTS["revise_reason"],
    )
    ledger.put_review(ADA, "beta", "ada", verdict="ship", rationale="Ada: fine.")
    ledger.withdraw_review(ADA, "beta", "ada", reason=ADA_TEXTS["withdraw_reason"])
    ledger.put_review(BOB, "alpha", "bob", verdict="ship", rationale=BOB_TEXTS["first"])
    ledger.put_review(
        BOB,
        "alpha",
        "bob",
        verdict="skip",
        rationale=BOB_TEXTS["revised"],
        reason=BOB_TEXTS["revise_reason"],
    )


def _catch_up(ledger: Ledger, path: Path) -> None:
    projector = Projector(ledger, path)
    try:
        projector.catch_up()
    finally:
        projector.close()


@pytest.fixture
def written(ledger: Ledger, live_path: Path) -> Ledger:
    _write(ledger)
    _catch_up(ledger, live_path)
    return ledger


def _stored_texts(path: Path) -> list[str]:
    """Every personal text the read models hold, as stored."""
    conn = sqlite3.connect(path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM reviewers")]
        rationales = [row[0] for row in conn.execute("SELECT rationale FROM reviews")]
        reasons = [
            row[0]
            for row in conn.execute(
                "SELECT reason FROM audit WHERE type LIKE 'Review.%' AND reason != ''"
            )
        ]
        data = [row[0] for row in conn.execute("SELECT data FROM audit")]
    finally:
        conn.close()
    assert (len(names), len(rationales), len(reasons)) == (3, 3, 3)
    return [*names, *rationales, *reasons, "\n".join(data)]


def _assert_sealed(path: Path) -> None:
    stored = _stored_texts(path)
    *fields, data = stored
    assert all(is_sealed(text) for text in fields), fields
    for text in (*ADA_TEXTS.values(), *BOB_TEXTS.values()):
        assert text not in data
        assert all(text not in field for field in fields)


def _shown(model: ReadModel) -> dict[str, object]:
    """What the queries answer for the two reviewers' personal data."""
    reviews = {item.reviewer: item.rationale for item in model.reviews("alpha")}
    history = model.history("alpha")
    reasons = [item.reason for item in history if item.type == "Review.Revised"]
    events = model.events(limit=1000).items
    withdrawn = [item.reason for item in events if item.type == "Review.Withdrawn"]
    enrolled = {
        item.data["handle"]: item.data["name"]
        for item in events
        if item.type == "Reviewer.Enrolled"
    }
    submitted = {
        (item.data["reviewer"], item.data["tool"]): item.data["rationale"]
        for item in events
        if item.type == "Review.Submitted"
    }
    panel = {member.handle: member.name for member in model.panel_page().items}
    ada = model.panel_member("ada")
    assert ada is not None
    feed = [item.reason for _, item in model.verdict_changes() if item.reason]
    diff = model.diff("alpha", 0, model.position())
    return {
        "reviews": reviews,
        "revised": reasons,
        "withdrawn": withdrawn,
        "enrolled": enrolled,
        "submitted": submitted,
        "panel": panel,
        "member": ada.name,
        "feed": feed,
        "diff": [item.reason for item in diff.events.items if item.reason],
    }


CLEAR = {
    "reviews": {"ada": ADA_TEXTS["revised"], "bob": BOB_TEXTS["revised"]},
    "revised": [ADA_TEXTS["revise_reason"], BOB_TEXTS["revise_reason"]],
    "withdrawn": [ADA_TEXTS["withdraw_reason"]],
    "enrolled": {"ada": "Ada", "bob": "Bob", "cy": "Cy"},
    "submitted": {
        ("ada", "alpha"): ADA_TEXTS["first"],
        ("ada", "beta"): "Ada: fine.",
        ("bob", "alpha"): BOB_TEXTS["first"],
    },
    "panel": {"ada": "Ada", "bob": "Bob", "cy": "Cy"},
    "member": "Ada",
    "feed": [
        BOB_TEXTS["revise_reason"],
        ADA_TEXTS["withdraw_reason"],
        ADA_TEXTS["revise_reason"],
    ],
    "diff": [ADA_TEXTS["revise_reason"], BOB_TEXTS["revise_reason"]],
}

ERASED_ADA = {
    "reviews": {"ada": ERASED, "bob": BOB_TEXTS["revised"]},
    "revised": [ERASED, BOB_TEXTS["revise_reason"]],
    "withdrawn": [ERASED],
    "enrolled": {"ada": ERASED, "bob": "Bob", "cy": "Cy"},
    "submitted": {
        ("ada", "alpha"): ERASED,
        ("ada", "beta"): ERASED,
        ("bob", "alpha"): BOB_TEXTS["first"],
    },
    "panel": {"ada": ERASED, "bob": "Bob", "cy": "Cy"},
    "member": ERASED,
    "feed": [BOB_TEXTS["revise_reason"], ERASED, ERASED],
    "diff": [ERASED, BOB_TEXTS["revise_reason"]],
}


def test_the_read_models_hold_sealed_text_that_queries_open(
    written: Ledger, live_path: Path
) -> None:
    _assert_sealed(live_path)
    opened = ReadModel(live_path, sealer=written.sealer)
    as_stored = ReadModel(live_path)
    try:
        assert _shown(opened) == CLEAR
        kept = _shown(as_stored)
    finally:
        opened.close()
        as_stored.close()
    # Without a sealer the queries answer what is stored: sealed, not clear.
    assert is_sealed(kept["member"])
    reviews = kept["reviews"]
    assert isinstance(reviews, dict)
    assert all(is_sealed(text) for text in reviews.values())


def test_an_erased_reviewer_reads_as_erased_at_once_and_the_others_do_not(
    written: Ledger, live_path: Path
) -> None:
    model = ReadModel(live_path, sealer=written.sealer)
    try:
        before = dict(model.events(limit=1000).items[0].data)
        written.erase(CTX, "reviewer:ada", reason="asked to be forgotten")
        # Before the erasure is even projected, the queries show it.
        assert _shown(model) == ERASED_ADA
        _catch_up(written, live_path)
        assert _shown(model) == ERASED_ADA
        # Tools' own data is nobody's: unchanged.
        assert dict(model.events(limit=1000).items[0].data) == before
    finally:
        model.close()
    _assert_sealed(live_path)


def test_a_rebuild_holds_sealed_text_and_cannot_bring_erased_text_back(
    written: Ledger, tmp_path: Path
) -> None:
    written.erase(CTX, "reviewer:ada", reason="asked to be forgotten")
    folded, bulk = tmp_path / "folded.sqlite", tmp_path / "bulk.sqlite"
    build(written, folded, bulk=False)
    build(written, bulk, bulk=True)
    for path in (folded, bulk):
        _assert_sealed(path)
        model = ReadModel(path, sealer=written.sealer)
        try:
            assert _shown(model) == ERASED_ADA
        finally:
            model.close()
