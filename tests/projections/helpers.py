"""Helpers shared by the read-side tests: dumping read models, driving commands."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ledger import errors
from ledger.application import Ledger
from ledger.context import Context
from projections import engine, files, registry, schema
from projections.source import LogSource, Raw

LEDGER = str(Path(sys.executable).with_name("ledger"))


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, in key order (migration records left out)."""
    conn = sqlite3.connect(os.path.realpath(path))
    try:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
            for table, key in schema.KEYS.items()
        }
    finally:
        conn.close()


def open_readmodel(path: Path) -> files.Connection:
    """A read-model file, migrated, as a projector opens it."""
    conn = files.connect(path)
    schema.migrate(conn)
    return conn


def project(
    conn: files.Connection, after: int, raws: Sequence[Raw], source: LogSource
) -> int:
    """Projects ``raws`` as a live projector's batch does; returns the position."""
    batch = engine.Batch(conn, registry.dispatch(), log=source)
    return engine.project(conn, after, raws, batch)


def run_ledger(
    home: Path, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the ``ledger`` CLI on ``home`` (with ``env`` set too) in its own process."""
    return subprocess.run(
        [LEDGER, *args],
        env={**os.environ, **(env or {}), "LEDGER_HOME": str(home), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


TOOLS = ("alpha", "beta", "gamma")
REVIEWERS = ("ada", "bob", "cy")
VOTERS = ("v1", "v2", "v3", "v4")
FIELDS = {
    "name": "A tool",
    "vendor": "Acme",
    "category": "Developer Tools",
    "tagline": "Does things",
    "description": "It does things well.",
    "entry": "Free",
    "license": "MIT",
}
CTX = Context(actor="editor:test", request_id="test")


def apply_command(ledger: Ledger, step: Sequence[Any]) -> bool:
    """Runs one generated command; False when the domain refuses it."""
    op, *args = step
    try:
        COMMANDS[op](ledger, *args)
    except errors.LedgerError:
        return False
    return True


def _register(ledger: Ledger, tool: int) -> None:
    ledger.register_tool(CTX, TOOLS[tool], {**FIELDS, "name": TOOLS[tool].title()})


def _edit(ledger: Ledger, tool: int, entry: str) -> None:
    ledger.edit_tool(CTX, TOOLS[tool], {"entry": entry}, reason="repriced")


def _retire(ledger: Ledger, tool: int) -> None:
    ledger.retire_tool(CTX, TOOLS[tool], reason="gone")


def _reinstate(ledger: Ledger, tool: int) -> None:
    ledger.reinstate_tool(CTX, TOOLS[tool], reason="back")


def _enroll(ledger: Ledger, reviewer: int, lens: str) -> None:
    handle = REVIEWERS[reviewer]
    ledger.enroll_reviewer(CTX, handle, name=handle.title(), lens=lens)


def _lens(ledger: Ledger, reviewer: int, lens: str) -> None:
    ledger.edit_reviewer(CTX, REVIEWERS[reviewer], {"lens": lens}, reason="new lens")


def _review(ledger: Ledger, tool: int, reviewer: int, verdict: str, text: str) -> None:
    ledger.put_review(
        Context(actor=f"reviewer:{REVIEWERS[reviewer]}", request_id="test"),
        TOOLS[tool],
        REVIEWERS[reviewer],
        verdict=verdict,
        rationale=f"Because {text}.",
        reason="changed my mind",
    )


def _withdraw(ledger: Ledger, tool: int, reviewer: int) -> None:
    ledger.withdraw_review(
        Context(actor=f"reviewer:{REVIEWERS[reviewer]}", request_id="test"),
        TOOLS[tool],
        REVIEWERS[reviewer],
        reason="conflict",
    )


def _vote(ledger: Ledger, voter: int, tool: int, choice: str) -> None:
    ledger.cast_vote(CTX, VOTERS[voter], TOOLS[tool], choice)


def _retract(ledger: Ledger, voter: int, tool: int) -> None:
    ledger.retract_vote(CTX, VOTERS[voter], TOOLS[tool])


def _publish(ledger: Ledger, a: int, b: int) -> None:
    ledger.publish_comparison(CTX, TOOLS[a], TOOLS[b], question="Which one?")


def _pick(ledger: Ledger, voter: int, a: int, b: int, pick_a: bool) -> None:
    pick = TOOLS[a] if pick_a else TOOLS[b]
    ledger.cast_comparison_vote(CTX, VOTERS[voter], TOOLS[a], TOOLS[b], pick)


def _unpick(ledger: Ledger, voter: int, a: int, b: int) -> None:
    ledger.retract_comparison_vote(CTX, VOTERS[voter], TOOLS[a], TOOLS[b])


def _question(ledger: Ledger, a: int, b: int, text: str) -> None:
    ledger.edit_comparison(CTX, TOOLS[a], TOOLS[b], question=f"Which {text}?")


def _retire_comparison(ledger: Ledger, a: int, b: int) -> None:
    ledger.retire_comparison(CTX, TOOLS[a], TOOLS[b], reason="stale")


ADDRESSES = ("ann@example.org", "ben@example.org")


def _subscribe(ledger: Ledger, subscriber: int) -> None:
    ledger.subscribe(CTX, ADDRESSES[subscriber])


def _subscription(ledger: Ledger, subscriber: int) -> Any:
    return ledger.subscription_id(ADDRESSES[subscriber])


def _confirm(ledger: Ledger, subscriber: int) -> None:
    ledger.confirm_subscription(CTX, _subscription(ledger, subscriber))


def _unsubscribe(ledger: Ledger, subscriber: int) -> None:
    ledger.unsubscribe(CTX, _subscription(ledger, subscriber), reason="enough")


def _bounce(ledger: Ledger, subscriber: int, week: str) -> None:
    subscription_id = _subscription(ledger, subscriber)
    ledger.record_delivery_failure(CTX, subscription_id, week, "550 no such user")


def _erase_subscriber(ledger: Ledger, subscriber: int) -> None:
    person = ledger.person_named(ADDRESSES[subscriber])
    ledger.erase(CTX, person, reason="asked to be forgotten")


COMMANDS = {
    "subscribe": _subscribe,
    "confirm": _confirm,
    "unsubscribe": _unsubscribe,
    "bounce": _bounce,
    "erase_subscriber": _erase_subscriber,
    "register": _register,
    "edit": _edit,
    "retire": _retire,
    "reinstate": _reinstate,
    "enroll": _enroll,
    "lens": _lens,
    "review": _review,
    "withdraw": _withdraw,
    "vote": _vote,
    "retract": _retract,
    "publish": _publish,
    "pick": _pick,
    "unpick": _unpick,
    "question": _question,
    "retire_comparison": _retire_comparison,
}


def seed(ledger: Ledger) -> None:
    """Registers every tool and reviewer, so random commands mostly succeed."""
    for index in range(len(TOOLS)):
        _register(ledger, index)
    for index, lens in enumerate(("builder", "skeptic", "buyer")):
        _enroll(ledger, index, lens)


def assert_matches_write_side(ledger: Ledger, path: Path) -> None:
    """Checks the read models against the aggregates the write side loads.

    An oracle independent of the fold: every figure is recounted from the
    aggregates' own state.
    """
    from ledger.domainmodel import pair
    from projections import ReadModel

    model = ReadModel(path, sealer=ledger.sealer)
    try:
        slugs = [card.slug for card in model.tools()]
        for slug in TOOLS:
            try:
                tool = ledger.tool(slug)
            except errors.ToolNotFound:
                assert slug not in slugs
                continue
            card = model.tool(slug)
            assert card is not None
            assert card.version == tool["version"]
            assert card.retired == tool["retired"]
            assert (card.retirement is not None) == tool["retired"]
            assert card.entry == tool["entry"]
            panel = {"ship": 0, "skip": 0}
            reviews = {item.reviewer: item for item in model.reviews(slug)}
            for handle in REVIEWERS:
                try:
                    review = ledger.review(slug, handle)
                except errors.ReviewNotFound:
                    assert handle not in reviews
                    continue
                item = reviews[handle]
                assert (item.verdict, item.rationale) == (
                    review["verdict"],
                    review["rationale"],
                )
                assert item.revision == review["revisions"]
                assert item.withdrawn == review["withdrawn"]
                if not review["withdrawn"]:
                    panel[review["verdict"]] += 1
            assert (card.panel.ship, card.panel.skip) == (panel["ship"], panel["skip"])
            community = {"ship": 0, "skip": 0, None: 0}
            for voter in VOTERS:
                community[ledger.vote(voter, f"tool:{slug}")] += 1
            assert (card.community.ship, card.community.skip) == (
                community["ship"],
                community["skip"],
            )
        for summary in model.comparisons():
            view = model.comparison(summary.b, summary.a)
            assert view is not None
            picks = {summary.a: 0, summary.b: 0, None: 0}
            subject = "comparison:" + "/".join(pair(summary.a, summary.b))
            for voter in VOTERS:
                picks[ledger.vote(voter, subject)] += 1
            assert (view.head_to_head.a, view.head_to_head.b) == (
                picks[summary.b],
                picks[summary.a],
            )
            for item in view.split:
                for slug, verdict in ((summary.b, item.a), (summary.a, item.b)):
                    try:
                        review = ledger.review(slug, item.reviewer)
                    except errors.ReviewNotFound:
                        assert verdict is None
                        continue
                    live = None if review["withdrawn"] else review["verdict"]
                    assert verdict == live
    finally:
        model.close()


# Random command scripts.

tool = st.integers(0, len(TOOLS) - 1)
reviewer = st.integers(0, len(REVIEWERS) - 1)
voter = st.integers(0, 1)  # few voters, so votes get changed and retracted
verdict = st.sampled_from(("ship", "skip"))
lens = st.sampled_from(("builder", "skeptic", "futurist", "buyer"))
word = st.sampled_from(("speed", "price", "licence"))
subscriber = st.integers(0, len(ADDRESSES) - 1)

command = st.one_of(
    st.tuples(st.just("register"), tool),
    st.tuples(st.just("edit"), tool, st.sampled_from(("Free", "$5", "$9"))),
    st.tuples(st.just("retire"), tool),
    st.tuples(st.just("reinstate"), tool),
    st.tuples(st.just("lens"), reviewer, lens),
    st.tuples(st.just("review"), tool, reviewer, verdict, word),
    st.tuples(st.just("review"), tool, reviewer, verdict, word),
    st.tuples(st.just("withdraw"), tool, reviewer),
    st.tuples(st.just("vote"), voter, tool, verdict),
    st.tuples(st.just("vote"), voter, tool, verdict),
    st.tuples(st.just("retract"), voter, tool),
    st.tuples(st.just("publish"), tool, tool),
    st.tuples(st.just("publish"), st.just(0), st.just(1)),
    st.tuples(st.just("pick"), voter, tool, tool, st.booleans()),
    st.tuples(st.just("unpick"), voter, tool, tool),
    st.tuples(st.just("question"), tool, tool, word),
    st.tuples(st.just("retire_comparison"), tool, tool),
    st.tuples(st.just("subscribe"), subscriber),
    st.tuples(st.just("confirm"), subscriber),
    st.tuples(st.just("unsubscribe"), subscriber),
    st.tuples(st.just("bounce"), subscriber, st.sampled_from(("2026-W47", "2026-W48"))),
    st.tuples(st.just("erase_subscriber"), subscriber),
)
project_now = st.tuples(st.just("project"), st.integers(1, 7))
steps = st.lists(st.one_of(command, command, project_now), min_size=5, max_size=60)
