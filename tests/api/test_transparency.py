"""The tamper-evident log over HTTP: key, checkpoints and RFC 9162 proofs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.app import create_app
from ledger.context import Context
from projections import merkle_tree
from projections.checkpoints import ChainSettings, Checkpoint
from projections.log_leaves import leaf
from projections.signed_notes import VerifierKey
from projections.source import LogSource
from tests.api.helpers import Api, issue_tokens, problem, settings_for
from tests.projections.chain_helpers import backdate

CTX = Context(actor="editor:test", request_id="test")
TOOLS = ("code-llama-4", "mistral-medium-3")


@pytest.fixture
def signing(home: Path) -> Iterator[Api]:
    """The demo app, signing a checkpoint after every batch it projects."""
    settings = settings_for(home, chain=ChainSettings(home=home, every=1))
    with TestClient(app=create_app(settings)) as client:
        yield Api(client, issue_tokens(home))


def _vote(api: Api, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        receipt = api.ledger.cast_vote(CTX, f"v{n}", TOOLS[n % 2], "ship")
        assert api.client.app.state.projector.wait_for(receipt.position, 5)


def _key(api: Api) -> VerifierKey:
    answer = api.client.get("/api/log/key")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return VerifierKey.parse(answer.text)


def _latest(api: Api) -> Checkpoint:
    answer = api.client.get("/api/checkpoints/latest")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return Checkpoint.parse(_key(api).verify(answer.text))


def _leaf_hashes(api: Api) -> list[bytes]:
    source = LogSource(api.ledger)
    try:
        return [merkle_tree.leaf_hash(leaf(raw)) for raw in source.read(0, 100_000)]
    finally:
        source.close()


def _hashes(encoded: list[str]) -> list[bytes]:
    return [base64.b64decode(item) for item in encoded]


def test_the_key_is_the_one_that_signs_the_latest_checkpoint(api: Api) -> None:
    key = _key(api)
    assert key.name == "verdict-ledger.localhost/log"
    checkpoint = _latest(api)
    hashes = _leaf_hashes(api)
    assert checkpoint.size == len(hashes) == api.head()
    assert checkpoint.root == merkle_tree.root(hashes)


@pytest.mark.usefixtures("event_store")
def test_no_checkpoint_before_the_log_has_events(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    with TestClient(app=create_app(settings_for(home))) as client:
        answer = problem(client.get("/api/checkpoints/latest"), 404)
        assert answer["type"] == "/problems/no-checkpoint"
        assert client.get("/api/checkpoints").json() == {"items": [], "next": None}
        problem(client.get("/api/events/1/proof"), 404)


def test_every_published_checkpoint_is_listed_page_by_page(signing: Api) -> None:
    _vote(signing, 4)
    listed = signing.client.get("/api/checkpoints").json()
    sizes = [item["tree_size"] for item in listed["items"]]
    assert sizes == sorted(sizes)
    assert sizes[0] == 15
    assert sizes[-1] == signing.head()
    key = _key(signing)
    for item in listed["items"]:
        assert Checkpoint.parse(key.verify(item["note"])).size == item["tree_size"]
    first = signing.client.get("/api/checkpoints", params={"limit": 2})
    assert [i["tree_size"] for i in first.json()["items"]] == sizes[:2]
    assert first.json()["next"] == sizes[1]
    assert (
        first.headers["link"]
        == f'</api/checkpoints?limit=2&after={sizes[1]}>; rel="next"'
    )
    rest = signing.client.get(f"/api/checkpoints?after={sizes[1]}&limit=100").json()
    assert [i["tree_size"] for i in rest["items"]] == sizes[2:]
    assert rest["next"] is None


def test_every_event_has_a_proof_that_verifies_against_the_checkpoint(
    signing: Api,
) -> None:
    _vote(signing, 6)
    checkpoint = _latest(signing)
    for position in range(1, checkpoint.size + 1):
        answer = signing.client.get(f"/api/events/{position}/proof")
        assert answer.status_code == 200, answer.text
        proof = answer.json()
        assert set(proof) == {"leaf_index", "tree_size", "leaf", "inclusion_path"}
        assert proof["tree_size"] == checkpoint.size
        assert proof["leaf_index"] == position - 1
        raw = base64.b64decode(proof["leaf"])
        assert int.from_bytes(raw[:8], "big") == position
        assert merkle_tree.verifies_inclusion(
            merkle_tree.leaf_hash(raw),
            proof["leaf_index"],
            proof["tree_size"],
            _hashes(proof["inclusion_path"]),
            checkpoint.root,
        )


def test_only_a_proof_of_a_named_tree_size_may_be_cached_for_good(
    signing: Api,
) -> None:
    _vote(signing, 2)
    size = _latest(signing).size
    newest = signing.client.get("/api/events/1/proof")
    named = signing.client.get(f"/api/events/1/proof?size={size}")
    assert newest.headers["cache-control"] == "no-cache"
    assert named.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert newest.headers["content-type"] == "application/json"
    assert named.json() == newest.json()


def test_a_proof_in_an_older_checkpoint_verifies_against_its_root(
    signing: Api,
) -> None:
    _vote(signing, 3)
    key = _key(signing)
    items = signing.client.get("/api/checkpoints").json()["items"]
    for item in items:
        checkpoint = Checkpoint.parse(key.verify(item["note"]))
        proof = signing.client.get(
            f"/api/events/{checkpoint.size}/proof", params={"size": checkpoint.size}
        ).json()
        assert merkle_tree.verifies_inclusion(
            merkle_tree.leaf_hash(base64.b64decode(proof["leaf"])),
            proof["leaf_index"],
            checkpoint.size,
            _hashes(proof["inclusion_path"]),
            checkpoint.root,
        )


def test_consistency_between_every_pair_of_checkpoints_verifies(signing: Api) -> None:
    _vote(signing, 5)
    key = _key(signing)
    checkpoints = [
        Checkpoint.parse(key.verify(item["note"]))
        for item in signing.client.get("/api/checkpoints").json()["items"]
    ]
    assert len(checkpoints) >= 3
    for older in checkpoints:
        for newer in checkpoints:
            if older.size > newer.size:
                continue
            answer = signing.client.get(
                "/api/log/consistency", params={"from": older.size, "to": newer.size}
            )
            assert answer.status_code == 200, answer.text
            proof = answer.json()
            assert (proof["first"], proof["second"]) == (older.size, newer.size)
            path = _hashes(proof["consistency_path"])
            assert merkle_tree.verifies_consistency(
                older.size, newer.size, path, older.root, newer.root
            )
            if older.size < newer.size:
                assert not merkle_tree.verifies_consistency(
                    older.size, newer.size, path[:-1], older.root, newer.root
                )


def test_bad_sizes_and_positions_get_a_clear_4xx(signing: Api) -> None:
    _vote(signing, 2)
    size = _latest(signing).size
    get = signing.client.get
    assert problem(get(f"/api/events/1/proof?size={size + 5}"), 404)["type"] == (
        "/problems/no-checkpoint"
    )
    assert problem(get(f"/api/events/{size + 1}/proof?size={size}"), 422)["type"] == (
        "/problems/not-in-tree"
    )
    assert problem(get("/api/events/16/proof?size=15"), 422)["type"] == (
        "/problems/not-in-tree"
    )
    problem(get("/api/events/0/proof"), 422)
    problem(get("/api/events/1/proof?size=abc"), 422)
    problem(get("/api/events/1/proof?size=0"), 422)
    problem(get("/api/events/abc/proof"), 404)
    assert problem(get(f"/api/log/consistency?from={size}&to=15"), 422)["type"] == (
        "/problems/bad-consistency-range"
    )
    assert problem(get("/api/log/consistency?from=14&to=15"), 404)["detail"].startswith(
        "from=14"
    )
    problem(get("/api/log/consistency?from=0&to=15"), 422)
    problem(get("/api/log/consistency?to=15"), 422)
    same = get("/api/log/consistency?from=15&to=15").json()
    assert same == {"first": 15, "second": 15, "consistency_path": []}


@pytest.mark.sqlite_only("tampers with the SQLite log file")
def test_a_tampered_log_serves_proofs_that_fail(signing: Api, home: Path) -> None:
    _vote(signing, 3)
    checkpoint = _latest(signing)
    backdate(home, 7)
    proof = signing.client.get("/api/events/7/proof").json()
    assert not merkle_tree.verifies_inclusion(
        merkle_tree.leaf_hash(base64.b64decode(proof["leaf"])),
        proof["leaf_index"],
        proof["tree_size"],
        _hashes(proof["inclusion_path"]),
        checkpoint.root,
    )
    untouched = signing.client.get("/api/events/8/proof").json()
    assert merkle_tree.verifies_inclusion(
        merkle_tree.leaf_hash(base64.b64decode(untouched["leaf"])),
        untouched["leaf_index"],
        untouched["tree_size"],
        _hashes(untouched["inclusion_path"]),
        checkpoint.root,
    )
