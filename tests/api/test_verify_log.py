"""``scripts/verify_log.py``, the auditor's verifier, checked from outside.

The script is loaded from its file, never through the server's packages:
it must stand on ``docs/AUDIT.md`` alone. Its pieces are checked first with
notes signed here by a fixed key, RFC 6962's reference vectors and a small
RFC 9162 tree written here (not the server's), and every way of editing a
proof; then the whole command against a stand-in log served over real HTTP;
and last against ``ledger serve`` itself, before and after someone rewrites
the stored log on disk.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from tests import rfc6962_vectors
from tests.api.helpers import CARD, LEDGER, issue_tokens, served

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_log.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_log", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_log"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


vl = _load_script()

ORIGIN = "verdict-ledger.localhost/log"
PRIVATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


ED25519 = b"\x01"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes_raw()


def key_id_of(name: str, private: Ed25519PrivateKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + raw_public(private)).digest()[:4]


def key_text(name: str = ORIGIN, private: Ed25519PrivateKey = PRIVATE) -> str:
    """The note-verifier key text, built here from the spec."""
    encoded = b64(ED25519 + raw_public(private))
    return f"{name}+{key_id_of(name, private).hex()}+{encoded}"


KEY = vl.parse_verifier_key(key_text())


def signature_line(
    body: str,
    private: Ed25519PrivateKey = PRIVATE,
    name: str = ORIGIN,
    key_id: bytes | None = None,
) -> str:
    signature = private.sign(body.encode())
    the_id = key_id if key_id is not None else key_id_of(name, private)
    return f"\u2014 {name} {b64(the_id + signature)}\n"


def body_of(size: int, root: bytes, origin: str = ORIGIN) -> str:
    return f"{origin}\n{size}\n{b64(root)}\n"


def note(body: str, *signatures: str) -> bytes:
    """A signed note: ``body``, a blank line, the signature lines."""
    lines = signatures or (signature_line(body),)
    return (body + "\n" + "".join(lines)).encode()


# --- a reference RFC 9162 tree, written here from the RFC -----------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n``."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = split(len(hashes))
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def audit_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = split(len(hashes))
    if m < k:
        return [*audit_path(m, hashes[:k]), mth(hashes[k:])]
    return [*audit_path(m - k, hashes[k:]), mth(hashes[:k])]


def subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    if m == len(hashes):
        return [] if complete else [mth(hashes)]
    k = split(len(hashes))
    if m <= k:
        return [*subproof(m, hashes[:k], complete), mth(hashes[k:])]
    return [*subproof(m - k, hashes[k:], False), mth(hashes[:k])]


def consistency_path(m: int, hashes: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(hashes)) else subproof(m, hashes, True)


# RFC 6962's reference vectors, roots as bytes.
ROOTS = [bytes.fromhex(text) for text in rfc6962_vectors.ROOTS]
LEAVES = rfc6962_vectors.LEAVES
INCLUSION = rfc6962_vectors.INCLUSION
CONSISTENCY = rfc6962_vectors.CONSISTENCY
HASHES = [leaf_hash(leaf) for leaf in LEAVES]
JUNK = hashlib.sha256(b"junk").digest()


def edits(path: list[bytes]) -> list[list[bytes]]:
    """Every way of spoiling a path: a hash changed, dropped, added, moved or cut."""
    spoiled = [[*path, JUNK], [JUNK, *path], path + path[-1:], path[:1] + path]
    for at in range(len(path)):
        spoiled.append([*path[:at], JUNK, *path[at + 1 :]])
        spoiled.append(path[:at] + path[at + 1 :])
        spoiled.append(path[:at])  # truncated to a prefix
    for at in range(len(path) - 1):
        swapped = list(path)
        swapped[at], swapped[at + 1] = swapped[at + 1], swapped[at]
        spoiled.append(swapped)
    if len(path) > 1:
        spoiled.append(path[::-1])
    return [edit for edit in spoiled if edit != path]


# --- the key and the note -------------------------------------------------


def test_the_key_text_is_read_and_its_id_checked() -> None:
    assert KEY.name == ORIGIN
    assert KEY.public_key == raw_public(PRIVATE)
    assert KEY.key_id == key_id_of(ORIGIN, PRIVATE)
    assert KEY.text() == key_text()
    name, id_hex, encoded = key_text().split("+", 2)
    wrong_id = f"{int(id_hex, 16) ^ 1:08x}"
    not_ed25519 = b64(b"\x02" + raw_public(PRIVATE))
    other_name = "another.example/log"
    for bad in (
        f"{name}+{wrong_id}+{encoded}",  # an ID that is not this key's
        f"{other_name}+{id_hex}+{encoded}",  # a name the ID was not made for
        f"{name}+{id_hex}+{not_ed25519}",  # not Ed25519
        f"{name}+{id_hex}+{b64(raw_public(PRIVATE))}",  # no algorithm byte
        f"{name}+{id_hex[:6]}+{encoded}",
        f"{name}+{id_hex}",
        f"+{id_hex}+{encoded}",
        f"{name}+{id_hex}+not base64!",
    ):
        with pytest.raises(vl.UsageError):
            vl.parse_verifier_key(bad)


def test_a_good_note_verifies() -> None:
    root = mth(HASHES)
    checkpoint = vl.open_note(note(body_of(8, root)), KEY)
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.root) == (
        ORIGIN,
        8,
        root,
    )
    assert checkpoint.extensions == ()
    # Extension lines are signed and kept; a witness's cosignature is ignored.
    body = body_of(8, root) + "some extension\n"
    witness = signature_line(body, OTHER, "witness.example")
    cosigned = vl.open_note(note(body, signature_line(body), witness), KEY)
    assert cosigned.extensions == ("some extension",)
    assert vl.open_note(note(body, witness, signature_line(body)), KEY).tree_size == 8
    # A tree of no leaves has the root of the empty string.
    assert vl.open_note(note(body_of(0, mth([]))), KEY).tree_size == 0


def test_a_note_with_any_byte_flipped_fails() -> None:
    good = note(body_of(8, mth(HASHES)))
    for at in range(len(good)):
        flipped = bytearray(good)
        flipped[at] ^= 0x01
        with pytest.raises(vl.VerificationError):
            vl.open_note(bytes(flipped), KEY)


def test_notes_not_signed_by_the_key_fail() -> None:
    body = body_of(8, mth(HASHES))
    with pytest.raises(vl.VerificationError, match="no signature of the key"):
        # another key under the same name: its ID differs, so it is not ours
        vl.open_note(note(body, signature_line(body, OTHER)), KEY)
    # another key claiming our name and our ID
    forged = signature_line(body, OTHER, key_id=KEY.key_id)
    with pytest.raises(vl.VerificationError, match="does not verify"):
        vl.open_note(note(body, forged), KEY)
    with pytest.raises(vl.VerificationError, match="no signature of the key"):
        # our key ID and signature under another name
        vl.open_note(note(body, signature_line(body, name="other.example/log")), KEY)
    # a bad signature of ours beside a good one still fails
    bad = signature_line(body_of(9, mth(HASHES)))
    with pytest.raises(vl.VerificationError, match="does not verify"):
        vl.open_note(note(body, signature_line(body), bad), KEY)
    # signed by our key, but for another log
    other_log = body_of(8, mth(HASHES), origin="other.example/log")
    with pytest.raises(vl.VerificationError, match="origin"):
        vl.open_note(note(other_log, signature_line(other_log)), KEY)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(body_of(8, JUNK).encode(), id="no-signatures"),
        pytest.param(b"", id="empty"),
        pytest.param(note(f"{ORIGIN}\n8\n"), id="no-root"),
        pytest.param(note(f"{ORIGIN}\n08\n{b64(JUNK)}\n"), id="leading-zero"),
        pytest.param(note(f"{ORIGIN}\n-8\n{b64(JUNK)}\n"), id="negative"),
        pytest.param(note(f"{ORIGIN}\n8\n{b64(JUNK[:31])}\n"), id="short-root"),
        pytest.param(note(f"{ORIGIN}\n8\n{b64(JUNK)}\n\nmore\n"), id="blank-line"),
        pytest.param(note(f"{ORIGIN}\n8\n{b64(JUNK)}\nx\x07\n"), id="control-char"),
        pytest.param(note(body_of(8, JUNK)) + b"\xff\n", id="not-utf8"),
        pytest.param(note(body_of(8, JUNK))[:-1], id="no-final-newline"),
        pytest.param(
            note(body_of(8, JUNK), "- " + signature_line(body_of(8, JUNK))[2:]),
            id="hyphen-not-em-dash",
        ),
    ],
)
def test_malformed_notes_fail(text: bytes) -> None:
    with pytest.raises(vl.VerificationError):
        vl.open_note(text, KEY)


def test_note_size_and_signature_count_are_bounded() -> None:
    body = body_of(8, JUNK)
    witnesses = [signature_line(body, OTHER, "w.example")] * 101
    with pytest.raises(vl.VerificationError, match="over 100 signatures"):
        vl.open_note(note(body, signature_line(body), *witnesses), KEY)
    huge = body_of(8, JUNK) + "x" * (64 * 1024) + "\n"
    with pytest.raises(vl.VerificationError, match="over 65536 bytes"):
        vl.open_note(note(huge), KEY)


# --- RFC 9162 proofs ------------------------------------------------------


def test_the_reference_tree_here_matches_rfc_6962() -> None:
    assert [mth(HASHES[:size]) for size in range(1, 9)] == ROOTS
    for index, size, expected in INCLUSION:
        assert [n.hex() for n in audit_path(index, HASHES[:size])] == expected
    for first, second, expected in CONSISTENCY:
        assert [n.hex() for n in consistency_path(first, HASHES[:second])] == expected


def test_the_reference_inclusion_paths_verify_and_edits_fail() -> None:
    for index, size, expected in INCLUSION:
        path = [bytes.fromhex(text) for text in expected]
        root = ROOTS[size - 1]
        assert vl.verify_inclusion(HASHES[index], index, size, path, root)
        for spoiled in edits(path):
            assert not vl.verify_inclusion(HASHES[index], index, size, spoiled, root)
        assert not vl.verify_inclusion(JUNK, index, size, path, root)
        assert not vl.verify_inclusion(HASHES[index], index, size, path, JUNK)
        assert not vl.verify_inclusion(HASHES[index], size, size, path, root)
        assert not vl.verify_inclusion(HASHES[index], index, size * 2, path, root)
        assert not vl.verify_inclusion(HASHES[index], -1, size, path, root)


def test_the_reference_consistency_paths_verify_and_edits_fail() -> None:
    for first, second, expected in CONSISTENCY:
        path = [bytes.fromhex(text) for text in expected]
        old, new = ROOTS[first - 1], ROOTS[second - 1]
        assert vl.verify_consistency(first, second, path, old, new)
        for spoiled in edits(path):
            assert not vl.verify_consistency(first, second, spoiled, old, new)
        assert not vl.verify_consistency(first, second, path, JUNK, new)
        assert not vl.verify_consistency(first, second, path, old, JUNK)
        assert not vl.verify_consistency(second, first, path, new, old)
        # As for inclusion: a path fixes its tree's height, not its size.
        assert not vl.verify_consistency(first, second * 2, path, old, new)
        assert not vl.verify_consistency(first, second, [], old, new)


def test_consistency_of_equal_and_empty_trees() -> None:
    assert vl.verify_consistency(8, 8, [], ROOTS[7], ROOTS[7])
    assert not vl.verify_consistency(8, 8, [ROOTS[7]], ROOTS[7], ROOTS[7])
    assert not vl.verify_consistency(8, 8, [], ROOTS[6], ROOTS[7])
    assert vl.verify_consistency(0, 8, [], mth([]), ROOTS[7])
    assert not vl.verify_consistency(0, 8, [ROOTS[7]], mth([]), ROOTS[7])
    assert not vl.verify_consistency(0, 8, [], JUNK, ROOTS[7])


leaves = st.lists(st.binary(max_size=12), min_size=1, max_size=40, unique=True)


@given(data=leaves, choice=st.data())
def test_every_proof_of_a_random_tree_verifies_and_no_edit_of_it_does(
    data: list[bytes], choice: st.DataObject
) -> None:
    hashes = [leaf_hash(leaf) for leaf in data]
    size = len(hashes)
    root = mth(hashes)
    index = choice.draw(st.integers(0, size - 1))
    path = audit_path(index, hashes)
    assert vl.verify_inclusion(hashes[index], index, size, path, root)
    for spoiled in edits(path):
        assert not vl.verify_inclusion(hashes[index], index, size, spoiled, root)
    first = choice.draw(st.integers(1, size))
    old = mth(hashes[:first])
    proof = consistency_path(first, hashes)
    assert vl.verify_consistency(first, size, proof, old, root)
    for spoiled in edits(proof):
        assert not vl.verify_consistency(first, size, spoiled, old, root)
    if first < size:
        # A rewritten prefix is not consistent with the tree published before.
        rewritten = [leaf_hash(b"rewritten"), *hashes[1:]]
        forged = consistency_path(first, rewritten)
        assert not vl.verify_consistency(first, size, forged, old, mth(rewritten))


# --- leaves ---------------------------------------------------------------

AGGREGATE = uuid.UUID("2ebd9c71-869f-5058-86d1-fabeedd419a1")
TOPIC = "ledger.domainmodel:Vote.Cast"


def make_leaf(
    position: int,
    state: bytes = b'{"choice":"ship"}',
    topic: str = TOPIC,
    version: int = 3,
) -> bytes:
    """A leaf laid out as docs/AUDIT.md says, built here."""
    encoded = topic.encode()
    return (
        position.to_bytes(8, "big")
        + AGGREGATE.bytes
        + version.to_bytes(8, "big")
        + len(encoded).to_bytes(2, "big")
        + encoded
        + len(state).to_bytes(4, "big")
        + state
    )


def test_a_leaf_is_read_field_by_field() -> None:
    leaf = vl.parse_leaf(make_leaf(7, topic="ledger.domainmodel:Tool.Édité"))
    assert (leaf.position, leaf.aggregate_id, leaf.version) == (7, AGGREGATE, 3)
    assert leaf.topic == "ledger.domainmodel:Tool.Édité"
    assert leaf.state == b'{"choice":"ship"}'
    assert leaf.state_json() == {"choice": "ship"}
    assert vl.parse_leaf(make_leaf(1, state=b"")).state == b""


def test_leaves_whose_lengths_do_not_add_up_fail() -> None:
    good = make_leaf(7)
    topic_length_at = 8 + 16 + 8
    longer_topic = bytearray(good)
    longer_topic[topic_length_at + 1] += 1
    bad_utf8 = make_leaf(7, topic="x").replace(b"x", b"\xff")
    for bad in (
        good + b"\x00",  # a trailing byte
        good[:-1],  # state shorter than its length
        good[:20],  # not even the fixed fields
        bytes(longer_topic),  # topic eats the state length
        b"",
        bad_utf8,
    ):
        with pytest.raises(vl.VerificationError):
            vl.parse_leaf(bad)


# --- the whole command against a stand-in log over real HTTP --------------


@dataclass
class StandIn:
    """A log served the way docs/AUDIT.md says, from leaves held here."""

    leaves: list[bytes]
    checkpoints: dict[int, bytes] = field(default_factory=dict)
    latest: int = 0
    requests: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)

    def sign(self, size: int | None = None) -> bytes:
        """Publishes a checkpoint of the first ``size`` leaves (all by default)."""
        size = len(self.leaves) if size is None else size
        root = mth([leaf_hash(leaf) for leaf in self.leaves[:size]])
        self.checkpoints[size] = note(body_of(size, root))
        self.latest = size
        return self.checkpoints[size]

    def answer(self, path: str, query: dict[str, int]) -> tuple[int, str, bytes]:
        self.requests.append(path)
        hashes = [leaf_hash(leaf) for leaf in self.leaves]
        if path in self.overrides:
            return 200, "application/json", json.dumps(self.overrides[path]).encode()
        if path == "/api/checkpoints/latest":
            return 200, "text/plain; charset=utf-8", self.checkpoints[self.latest]
        if path == "/api/log/consistency":
            first, second = query["from"], query["to"]
            proof = consistency_path(first, hashes[:second])
            body = {
                "first": first,
                "second": second,
                "consistency_path": [b64(node) for node in proof],
            }
            return 200, "application/json", json.dumps(body).encode()
        if path.startswith("/api/events/") and path.endswith("/proof"):
            position = int(path.split("/")[3])
            size = query.get("size", self.latest)
            if position > size:
                return 404, "application/problem+json", b'{"detail": "not there"}'
            body = {
                "leaf_index": position - 1,
                "tree_size": size,
                "leaf": b64(self.leaves[position - 1]),
                "inclusion_path": [
                    b64(node) for node in audit_path(position - 1, hashes[:size])
                ],
            }
            return 200, "application/json", json.dumps(body).encode()
        return 404, "application/problem+json", b'{"detail": "no such route"}'


@pytest.fixture
def stand_in() -> Iterator[tuple[StandIn, str]]:
    """A stand-in log of ten events on a loopback port; yields it and its URL."""
    log = StandIn([make_leaf(p, f'{{"n":{p}}}'.encode()) for p in range(1, 11)])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
            status, kind, body = log.answer(url.path, query)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield log, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def run_main(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any]]:
    """``main(args + --json)``: its exit status and its JSON object."""
    status = vl.main([*args, "--json"])
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_first_use_then_a_grown_log_then_a_rollback(
    stand_in: tuple[StandIn, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, url = stand_in
    state = tmp_path / "seen.note"
    first_note = log.sign(6)
    args = ["--url", url, "--key", key_text(), "--state", str(state)]
    # First use: trusted, saved, and the events asked for are proven.
    status, report = run_main(capsys, *args, "--event", "1", "--event", "6")
    assert status == 0, report
    assert report["ok"] is True
    assert (report["origin"], report["tree_size"]) == (ORIGIN, 6)
    assert report["consistency"] is None
    assert state.read_bytes() == first_note
    assert [e["position"] for e in report["events"]] == [1, 6]
    assert report["events"][1]["state"] == {"n": 6}
    assert report["events"][1]["topic"] == TOPIC
    assert report["events"][1]["aggregate_id"] == str(AGGREGATE)
    assert report["events"][1]["version"] == 3
    # The log grows: consistent with what was saved, so the new one is saved.
    grown = log.sign()
    status, report = run_main(capsys, *args, "--event", "9")
    assert status == 0, report
    assert report["consistency"]["from"] == 6
    assert report["consistency"]["to"] == 10
    assert report["consistency"]["ok"] is True
    assert state.read_bytes() == grown
    # Nothing new: equal sizes and roots pass.
    assert run_main(capsys, *args)[0] == 0
    # The log shows an older checkpoint than the one saved: a rollback.
    log.latest = 6
    status, report = run_main(capsys, *args)
    assert status == 1
    assert any("rollback" in problem for problem in report["problems"])
    assert state.read_bytes() == grown


def test_a_rewritten_log_fails_consistency_and_keeps_the_saved_state(
    stand_in: tuple[StandIn, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, url = stand_in
    state = tmp_path / "seen.note"
    args = ["--url", url, "--key", key_text(), "--state", str(state)]
    saved = log.sign(6)
    assert run_main(capsys, *args)[0] == 0
    # Someone edits event 2 and signs the rewritten log, grown or not.
    log.leaves[1] = make_leaf(2, b'{"n":"forged"}')
    log.sign(6)
    status, report = run_main(capsys, *args)
    assert status == 1
    assert any("two different roots" in problem for problem in report["problems"])
    assert report["problems"][0].startswith("consistency")
    log.sign()
    status, report = run_main(capsys, *args)
    assert status == 1
    assert report["consistency"]["ok"] is False
    assert any(
        "consistency proof does not verify" in problem for problem in report["problems"]
    )
    assert state.read_bytes() == saved
    # The text output says the same, line by line, and names no traceback.
    assert vl.main(args) == 1
    out = capsys.readouterr().out
    assert "FAIL  consistency from saved size 6 to 10" in out
    assert "Traceback" not in out


def test_bad_event_proofs_fail(
    stand_in: tuple[StandIn, str], capsys: pytest.CaptureFixture[str]
) -> None:
    log, url = stand_in
    log.sign()
    args = ["--url", url, "--key", key_text()]
    proof = log.answer("/api/events/4/proof", {"size": 10})[2]
    good = json.loads(proof)
    cases = {
        "wrong size": {**good, "tree_size": 9},
        "another leaf": {**good, "leaf": b64(make_leaf(5))},
        "edited leaf": {**good, "leaf": b64(make_leaf(4, b'{"n":"x"}'))},
        "trailing byte": {**good, "leaf": b64(make_leaf(4, b'{"n":4}') + b"\x00")},
        "dropped hash": {**good, "inclusion_path": good["inclusion_path"][1:]},
        "added hash": {**good, "inclusion_path": [*good["inclusion_path"], b64(JUNK)]},
        "wrong index": {**good, "leaf_index": 4},
        "another event's proof": json.loads(
            log.answer("/api/events/5/proof", {"size": 10})[2]
        ),
        "not base64": {**good, "inclusion_path": ["%%%"]},
        "missing field": {"leaf": good["leaf"]},
    }
    for what, body in cases.items():
        log.overrides = {"/api/events/4/proof": body}
        status, report = run_main(capsys, *args, "--event", "4")
        assert status == 1, what
        assert report["events"][0]["ok"] is False, what
        assert report["problems"], what
    log.overrides = {}
    status, report = run_main(capsys, *args, "--event", "4", "--event", "11")
    assert status == 1
    assert [e["ok"] for e in report["events"]] == [True, False]
    assert "404" in report["problems"][0]


def test_a_consistency_proof_must_be_for_the_sizes_asked(
    stand_in: tuple[StandIn, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, url = stand_in
    state = tmp_path / "seen.note"
    args = ["--url", url, "--key", key_text(), "--state", str(state)]
    saved = log.sign(6)
    assert run_main(capsys, *args)[0] == 0
    log.sign()
    good = json.loads(log.answer("/api/log/consistency", {"from": 6, "to": 10})[2])
    for body in (
        {**good, "first": 5},
        {**good, "second": 11},
        {**good, "consistency_path": good["consistency_path"][:-1]},
        {**good, "consistency_path": [*good["consistency_path"], b64(JUNK)]},
        {"first": 6, "second": 10},
        [],
    ):
        log.overrides = {"/api/log/consistency": body}
        status, report = run_main(capsys, *args)
        assert status == 1, body
        assert report["consistency"]["ok"] is False
        assert state.read_bytes() == saved


def test_a_checkpoint_signed_by_another_key_fails(
    stand_in: tuple[StandIn, str], capsys: pytest.CaptureFixture[str]
) -> None:
    log, url = stand_in
    body = body_of(10, mth([leaf_hash(leaf) for leaf in log.leaves]))
    log.checkpoints[10], log.latest = note(body, signature_line(body, OTHER)), 10
    status, report = run_main(capsys, "--url", url, "--key", key_text())
    assert status == 1
    assert report["ok"] is False
    assert report["tree_size"] is None


def test_usage_and_network_errors_exit_2_without_a_traceback(
    stand_in: tuple[StandIn, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, url = stand_in
    log.sign()
    key_file = tmp_path / "log.pub"
    key_file.write_text(key_text() + "\n")
    assert vl.main(["--url", url, "--key", f"@{key_file}"]) == 0
    capsys.readouterr()
    closed = f"http://127.0.0.1:{_closed_port()}"
    for args in (
        ["--url", closed, "--key", key_text()],
        ["--url", url, "--key", "not a key"],
        ["--url", url, "--key", f"@{tmp_path / 'missing'}"],
        ["--url", "ftp://example.invalid", "--key", key_text()],
        ["--url", url, "--key", key_text(), "--event", "0"],
        ["--url", url],
    ):
        assert vl.main(args) == 2, args
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        assert captured.err.strip()
    status, report = run_main(capsys, "--url", closed, "--key", key_text())
    assert status == 2
    assert report["ok"] is False
    assert "cannot fetch" in report["error"]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- end to end against ledger serve --------------------------------------


def run_ledger(home: Path, *args: str) -> str:
    """``ledger ARGS`` on ``home``; its stdout, after checking it succeeded."""
    env = {**os.environ, "LEDGER_HOME": str(home)}
    env.pop("LEDGER_EVENT_STORE", None)
    done = subprocess.run(
        [LEDGER, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"ledger {' '.join(args)}: {done.stderr}"
    return done.stdout


def run_verifier(*args: str) -> tuple[int, dict[str, Any]]:
    """The script as an auditor runs it: its own process, --json."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def vote(base: str, token: str, choice: str) -> int:
    answer = httpx.put(
        base + CARD + "/vote",
        json={"choice": choice},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text
    position: int = answer.json()["position"]
    return position


@pytest.mark.sqlite_only("rewrites the SQLite log file")
def test_the_verifier_against_a_live_ledger_that_is_then_rewritten(
    home: Path, tmp_path: Path
) -> None:
    tokens = issue_tokens(home)
    run_ledger(home, "checkpoint")
    key = run_ledger(home, "key", "show").strip()
    state = tmp_path / "auditor" / "checkpoint.note"
    state.parent.mkdir()
    audit = ["--key", key, "--state", str(state)]
    with served(home) as base:
        assert httpx.get(base + "/api/log/key", timeout=10).text.strip() == key
        published = httpx.get(base + "/api/checkpoints/latest", timeout=10)
        # The honest log: signed, trusted on first use, events proven.
        status, report = run_verifier("--url", base, *audit, "--event", "1")
        assert status == 0, report
        assert state.read_bytes() == published.content
        first_size = report["tree_size"]
        status, report = run_verifier(
            "--url", base, *audit, "--event", "2", "--event", str(first_size)
        )
        assert status == 0, report
        registered = report["events"][0]
        assert registered["topic"] == "ledger.domainmodel:Tool.Registered"
        assert registered["version"] == 1
        assert registered["state"]["slug"] == "mistral-medium-3"
        # The log grows and a new checkpoint is signed: still consistent.
        vote(base, tokens["voter"], "ship")
        newest = vote(base, tokens["voter2"], "skip")
        run_ledger(home, "checkpoint")
        status, report = run_verifier(
            "--url", base, *audit, "--event", "2", "--event", str(newest)
        )
        assert status == 0, report
        assert report["tree_size"] >= newest > first_size
        assert report["consistency"]["ok"] is True
        assert report["consistency"]["from"] == first_size
        assert report["events"][1]["topic"].endswith("Cast")
        honest = state.read_bytes()
    # Someone with the disk rewrites event 2, rebuilds over the broken chain
    # and asks for a checkpoint of the forged log.
    events = sqlite3.connect(home / "events.sqlite")
    with events:
        (stored,) = events.execute(
            "SELECT state FROM stored_events WHERE rowid = 2"
        ).fetchone()
        forged = stored.replace(b'"license":"Apache 2.0"', b'"license":"Proprietary"')
        assert forged != stored
        events.execute("UPDATE stored_events SET state = ? WHERE rowid = 2", (forged,))
    events.close()
    run_ledger(home, "rebuild", "--ignore-chain")
    run_ledger(home, "checkpoint")
    with served(home) as base:
        # The log has not grown, so the newest checkpoint may still be the
        # honest one (then event 2's proof fails) or a forged one of the same
        # size (then the roots differ): either way, it fails.
        status, report = run_verifier("--url", base, *audit, "--event", "2")
        assert status == 1, report
        assert any(
            problem.startswith(("consistency", "event 2"))
            for problem in report["problems"]
        ), report
        assert state.read_bytes() == honest
        # Once it grows and signs the forged tree, it cannot prove that tree
        # extends what the auditor saw.
        vote(base, tokens["voter"], "skip")
        run_ledger(home, "checkpoint")
        status, report = run_verifier("--url", base, *audit)
        assert status == 1, report
        assert report["tree_size"] > first_size
        assert report["consistency"]["ok"] is False
        assert any("consistency" in problem for problem in report["problems"])
        assert state.read_bytes() == honest
