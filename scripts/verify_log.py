#!/usr/bin/env python3
"""Checks a Verdict Ledger's log from outside, with HTTP and its public key.

``python scripts/verify_log.py --url URL --key KEY [--state FILE]
[--event POSITION ...] [--json]``

An auditor should not have to trust the ledger's own code to audit the
ledger, so this script is written from ``docs/AUDIT.md`` alone and shares no
code with the server: it parses the C2SP signed note and checks its Ed25519
signature, checks RFC 9162 consistency and inclusion proofs with its own
arithmetic, and decodes the event leaves itself. It needs only the standard
library and ``cryptography``, so it can be copied anywhere and run there.

Exit status: 0 when everything checked verifies, 1 when anything does not
(the problems say what), 2 when the check could not be made at all (a bad
argument or key, or the server could not be reached).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import http.client
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # the one dependency: say so rather than show a traceback
    print(
        "verify_log: needs 'cryptography' (pip install cryptography)", file=sys.stderr
    )
    sys.exit(2)

HASH_SIZE = 32
ED25519_ALGORITHM = 0x01
ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
# Bounds on what the server may make us read or do: a note is a few hundred
# bytes, Go's note package stops at 100 signatures, and a tree of fewer than
# 2**64 leaves needs at most 64 hashes for an inclusion path and 65 for a
# consistency path.
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100
MAX_PATH_HASHES = 65
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
MAX_TREE_SIZE = 2**64 - 1
TIMEOUT_SECONDS = 30.0

LEAF_HEADER = 8 + 16 + 8 + 2
EMPTY_ROOT = hashlib.sha256(b"").digest()


class UsageError(Exception):
    """The check cannot be made: a bad argument, key or state file (exit 2)."""


class NetworkError(Exception):
    """The server could not be reached or gave no usable answer (exit 2)."""


class VerificationError(Exception):
    """Something the ledger published does not verify (exit 1)."""


class HttpStatusError(Exception):
    """The server answered with an HTTP error status; carries its detail."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        super().__init__(f"{url} answered HTTP {status}: {detail}")
        self.status = status


def b64decode(text: str) -> bytes:
    """Standard base64, and only its one canonical spelling of each value.

    Python's decoder takes padding bits that are not zero; refusing them
    means one value has one text, so an edited character never goes
    unnoticed.

    Raises:
        ValueError: The text is not canonical standard base64.
    """
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode("ascii") != text:
        msg = "not canonical base64"
        raise ValueError(msg)
    return data


# --- hashing and RFC 9162 proofs ------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``: the leaf prefix keeps leaves and nodes apart."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``, the hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(
    hashed_leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves the leaf at ``index`` of a tree with ``root``.

    RFC 9162 section 2.1.3.2, step by step. Every hash of the path must be
    used and the path must end exactly at the root (``sn == 0``), so a path
    with a hash dropped, added or moved cannot pass; verifiers that stopped
    early were fooled by such paths before.

    Args:
        hashed_leaf: The leaf's hash, :func:`leaf_hash` of its bytes.
        index: The leaf's index, from 0.
        size: The tree size the root is for.
        path: The inclusion path, nearest the leaf first.
        root: The root hash of the tree of ``size`` leaves.

    Returns:
        True only when the path proves the leaf.
    """
    if not 0 <= index < size or len(path) > MAX_PATH_HASHES:
        return False
    if any(len(node) != HASH_SIZE for node in path):
        return False
    fn, sn = index, size - 1
    result = hashed_leaf
    for node in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(node, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    first: int,
    second: int,
    path: Sequence[bytes],
    first_root: bytes,
    second_root: bytes,
) -> bool:
    """Whether ``path`` proves the tree of ``second`` leaves extends ``first``.

    RFC 9162 section 2.1.4.2, plus the cases it leaves to the caller: equal
    sizes need equal roots and an empty path, and every tree extends the
    empty one. A log that rewrote, dropped or reordered any of the first
    ``first`` leaves cannot produce a path that passes, and the path must be
    consumed whole (see :func:`verify_inclusion`).

    Args:
        first: The older tree size.
        second: The newer tree size.
        path: The consistency path.
        first_root: The root of the older tree.
        second_root: The root of the newer tree.

    Returns:
        True only when the path proves the newer tree extends the older.
    """
    if not 0 <= first <= second or len(path) > MAX_PATH_HASHES:
        return False
    if any(len(node) != HASH_SIZE for node in path):
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path and first_root == EMPTY_ROOT
    if not path:
        return False
    nodes = list(path)
    if first & (first - 1) == 0:  # an exact power of two
        nodes.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_result = second_result = nodes[0]
    for node in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first_result = node_hash(node, first_result)
            second_result = node_hash(node, second_result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            second_result = node_hash(second_result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first_result == first_root and second_result == second_root


# --- the verifier key and signed checkpoints ------------------------------


def _is_valid_name(name: str) -> bool:
    """A key name as Go's note package allows: not empty, no space, no ``+``."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(name || 0x0A || 0x01 || key)[:4]``."""
    data = name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class VerifierKey:
    """The ledger's public key with its name and ID, as an auditor pins it.

    Attributes:
        name: The key name, which must also be the checkpoint's origin.
        key_id: The 4-byte key ID that picks this key's signature line.
        public_key: The 32 raw bytes of the Ed25519 public key.
    """

    name: str
    key_id: bytes
    public_key: bytes

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def text(self) -> str:
        """The key back in its note-verifier text form."""
        encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{encoded.decode()}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Reads ``<name>+<8 hex key ID>+<base64(0x01 || public key)>``.

    The key ID is recomputed and must match, so a key text that was mangled
    or pasted together from two keys is refused before anything is fetched.

    Raises:
        UsageError: The text is not an Ed25519 verifier key.
    """
    name, plus, rest = text.strip().partition("+")
    id_text, plus2, key_text = rest.partition("+")
    if not plus or not plus2 or not _is_valid_name(name):
        msg = "the key must read <name>+<8 hex digits>+<base64 key>"
        raise UsageError(msg)
    try:
        if len(id_text) != 2 * KEY_ID_SIZE:
            raise ValueError(id_text)
        wanted_id = bytes.fromhex(id_text)
        raw = b64decode(key_text)
    except (ValueError, binascii.Error):
        msg = "the key's ID must be 8 hex digits and the key itself base64"
        raise UsageError(msg) from None
    if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != ED25519_ALGORITHM:
        msg = "the key is not an Ed25519 key (0x01 and 32 bytes)"
        raise UsageError(msg)
    public_key = raw[1:]
    if key_id(name, public_key) != wanted_id:
        msg = "the key's ID does not match its name and public key"
        raise UsageError(msg)
    return VerifierKey(name, wanted_id, public_key)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature has verified.

    Attributes:
        origin: The log's origin line.
        tree_size: The number of leaves the checkpoint covers.
        root: The 32-byte root hash.
        extensions: Any lines after the root; signed, but not read here.
        note: The signed note, verbatim, as saved for the next run.
    """

    origin: str
    tree_size: int
    root: bytes
    extensions: tuple[str, ...]
    note: bytes

    @property
    def root_b64(self) -> str:
        """The root as the note and the JSON spell it."""
        return base64.b64encode(self.root).decode()


def _parse_checkpoint_body(text: str) -> tuple[str, int, bytes, tuple[str, ...]]:
    """Origin, size, root and extension lines of a C2SP checkpoint body."""
    lines = text.split("\n")
    if lines[-1] != "" or len(lines) < 4:
        msg = "the checkpoint body needs an origin, a size and a root line"
        raise VerificationError(msg)
    origin, size_text, root_text, *extensions = lines[:-1]
    if not origin or any(not line for line in extensions):
        msg = "the checkpoint body has an empty line"
        raise VerificationError(msg)
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (len(size_text) > 1 and size_text[0] == "0")
        or int(size_text) > MAX_TREE_SIZE
    ):
        msg = f"the checkpoint's tree size {size_text!r} is not a decimal number"
        raise VerificationError(msg)
    try:
        root = b64decode(root_text)
    except (ValueError, binascii.Error):
        root = b""
    if len(root) != HASH_SIZE:
        msg = "the checkpoint's root line is not a base64 SHA-256 hash"
        raise VerificationError(msg)
    return origin, int(size_text), root, tuple(extensions)


def open_note(note: bytes, key: VerifierKey) -> Checkpoint:
    """Verifies a signed note by ``key`` and reads the checkpoint in it.

    Follows the C2SP signed-note rules: the text and the signature lines
    are split at the last blank line; a signature line whose name and key
    ID are not the pinned key's is ignored (a log may be cosigned by
    witnesses we do not know); a line of the pinned key must verify; at
    least one must. The origin must be the key's name, so that a checkpoint
    of another log signed with the same key is not taken for this log's.

    Args:
        note: The note as served, bytes for bytes.
        key: The pinned verifier key.

    Returns:
        The checkpoint.

    Raises:
        VerificationError: The note is malformed, too big, carries a bad
            signature of the key or none, or is for another origin.
    """
    if len(note) > MAX_NOTE_BYTES:
        msg = f"the checkpoint note is over {MAX_NOTE_BYTES} bytes"
        raise VerificationError(msg)
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError:
        msg = "the checkpoint note is not UTF-8"
        raise VerificationError(msg) from None
    if any(c < " " and c != "\n" for c in decoded):
        msg = "the checkpoint note holds a control character"
        raise VerificationError(msg)
    split = decoded.rfind("\n\n")
    if split < 0:
        msg = "the checkpoint note has no blank line before its signatures"
        raise VerificationError(msg)
    text, signatures = decoded[: split + 1], decoded[split + 2 :]
    if not signatures or not signatures.endswith("\n"):
        msg = "the checkpoint note has no signature lines"
        raise VerificationError(msg)
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        msg = f"the checkpoint note has over {MAX_SIGNATURES} signatures"
        raise VerificationError(msg)
    verified = False
    for line in lines:
        name, signature = _parse_signature_line(line)
        if name != key.name or signature[:KEY_ID_SIZE] != key.key_id:
            continue  # another key's signature, e.g. a witness's: not ours to judge
        if not key.verifies(text.encode(), signature[KEY_ID_SIZE:]):
            msg = f"the signature of {key.name} does not verify"
            raise VerificationError(msg)
        verified = True
    if not verified:
        msg = f"the checkpoint note carries no signature of the key {key.text()}"
        raise VerificationError(msg)
    origin, size, root, extensions = _parse_checkpoint_body(text)
    if origin != key.name:
        msg = f"the checkpoint's origin {origin!r} is not the key's name {key.name!r}"
        raise VerificationError(msg)
    return Checkpoint(origin, size, root, extensions, note)


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    """The key name and the ``key ID || signature`` bytes of a signature line."""
    if not line.startswith(SIGNATURE_PREFIX):
        msg = "a signature line does not start with an em dash and a space"
        raise VerificationError(msg)
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        signature = b64decode(encoded)
    except (ValueError, binascii.Error):
        signature = b""
    if not space or not _is_valid_name(name) or len(signature) <= KEY_ID_SIZE:
        msg = f"the signature line {line!r} is malformed"
        raise VerificationError(msg)
    return name, signature


# --- leaves ---------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """An event as its leaf holds it.

    Attributes:
        position: The event's position in the log.
        aggregate_id: The aggregate's UUID.
        version: The event's version within its aggregate.
        topic: The event class's topic.
        state: The stored state, byte for byte.
    """

    position: int
    aggregate_id: uuid.UUID
    version: int
    topic: str
    state: bytes

    def state_json(self) -> Any:
        """The state decoded as JSON, or None where it is not JSON."""
        try:
            return json.loads(self.state)
        except ValueError:
            return None


def parse_leaf(data: bytes) -> Leaf:
    """Reads a leaf field by field, as ``docs/AUDIT.md`` lays it out.

    Every length must match what follows it exactly, with no trailing
    bytes, so that one leaf has one reading: otherwise two different events
    could share a leaf hash by moving bytes between fields.

    Raises:
        VerificationError: The bytes are not a leaf.
    """
    if len(data) < LEAF_HEADER:
        msg = f"the leaf is {len(data)} bytes, shorter than its fixed fields"
        raise VerificationError(msg)
    position = int.from_bytes(data[0:8], "big")
    aggregate_id = uuid.UUID(bytes=data[8:24])
    version = int.from_bytes(data[24:32], "big")
    topic_length = int.from_bytes(data[32:34], "big")
    topic_end = LEAF_HEADER + topic_length
    if len(data) < topic_end + 4:
        msg = "the leaf is shorter than its topic length says"
        raise VerificationError(msg)
    try:
        topic = data[LEAF_HEADER:topic_end].decode("utf-8")
    except UnicodeDecodeError:
        msg = "the leaf's topic is not UTF-8"
        raise VerificationError(msg) from None
    state_length = int.from_bytes(data[topic_end : topic_end + 4], "big")
    state = data[topic_end + 4 :]
    if len(state) != state_length:
        msg = (
            f"the leaf's state length says {state_length} bytes but {len(state)} follow"
        )
        raise VerificationError(msg)
    return Leaf(position, aggregate_id, version, topic, state)


# --- HTTP -----------------------------------------------------------------


def fetch(base: str, path: str, params: dict[str, int] | None = None) -> bytes:
    """GETs ``base + path`` and returns its body, read up to a bound.

    Raises:
        HttpStatusError: The server answered with an error status.
        NetworkError: The server could not be reached or said too much.
    """
    url = base.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"User-Agent": "verify_log"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            body: bytes = answer.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise HttpStatusError(url, error.code, _problem_detail(error)) from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        msg = f"cannot fetch {url}: {reason}"
        raise NetworkError(msg) from None
    if len(body) > MAX_RESPONSE_BYTES:
        msg = f"{url} answered with over {MAX_RESPONSE_BYTES} bytes"
        raise NetworkError(msg)
    return body


def _problem_detail(error: urllib.error.HTTPError) -> str:
    """The ``detail`` of an RFC 9457 problem body, else the status's reason."""
    try:
        body = json.loads(error.read(64 * 1024))
        detail = body.get("detail") or body.get("title")
    except (ValueError, AttributeError, OSError):
        detail = None
    return str(detail or error.reason)


def fetch_json(base: str, path: str, params: dict[str, int]) -> dict[str, Any]:
    """GETs a JSON object; an answer that is not one fails verification."""
    body = fetch(base, path, params)
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        msg = f"{path} did not answer with a JSON object"
        raise VerificationError(msg)
    return value


def _integer(answer: dict[str, Any], name: str) -> int:
    """Field ``name`` of a proof, which must be a non-negative integer."""
    value = answer.get(name)
    if type(value) is not int or value < 0:
        msg = f"the proof's {name!r} is not a non-negative integer: {value!r}"
        raise VerificationError(msg)
    return value


def _hashes(answer: dict[str, Any], name: str) -> list[bytes]:
    """Field ``name`` of a proof, which must be a list of base64 hashes."""
    value = answer.get(name)
    if not isinstance(value, list) or len(value) > MAX_PATH_HASHES:
        msg = f"the proof's {name!r} is not a list of at most {MAX_PATH_HASHES}"
        raise VerificationError(msg)
    hashes = []
    for item in value:
        try:
            node = b64decode(item)
        except (TypeError, ValueError, binascii.Error):
            node = b""
        if len(node) != HASH_SIZE:
            msg = f"the proof's {name!r} holds something not a base64 hash"
            raise VerificationError(msg)
        hashes.append(node)
    return hashes


# --- the checks -----------------------------------------------------------


@dataclass
class Report:
    """What was checked and what failed, for the lines and the JSON."""

    checkpoint: Checkpoint | None = None
    consistency: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def ok(self, line: str) -> None:
        """Records a check that passed."""
        self.lines.append(f"OK    {line}")

    def fail(self, line: str) -> None:
        """Records a check that failed: a problem, and exit status 1."""
        self.lines.append(f"FAIL  {line}")
        self.problems.append(line)

    def note(self, line: str) -> None:
        """Records something worth saying that is neither pass nor fail."""
        self.lines.append(f"      {line}")

    def as_json(self) -> dict[str, Any]:
        """The one object ``--json`` prints, for scripts that act on it."""
        checkpoint = self.checkpoint
        return {
            "ok": not self.problems,
            "origin": checkpoint.origin if checkpoint else None,
            "tree_size": checkpoint.tree_size if checkpoint else None,
            "root": checkpoint.root_b64 if checkpoint else None,
            "consistency": self.consistency,
            "events": self.events,
            "problems": self.problems,
        }


def check_latest(url: str, key: VerifierKey, report: Report) -> Checkpoint | None:
    """Fetches the newest checkpoint and verifies its signature and origin."""
    try:
        note = fetch(url, "/api/checkpoints/latest")
    except HttpStatusError as error:
        msg = f"the server published no checkpoint: {error}"
        raise NetworkError(msg) from None
    try:
        checkpoint = open_note(note, key)
    except VerificationError as error:
        report.fail(f"checkpoint: {error}")
        return None
    report.checkpoint = checkpoint
    report.ok(
        f"checkpoint of {checkpoint.origin}: tree size {checkpoint.tree_size}, "
        f"root {checkpoint.root_b64}, signed by {key.name}+{key.key_id.hex()}"
    )
    return checkpoint


def read_state(path: Path, key: VerifierKey, report: Report) -> Checkpoint | None:
    """The checkpoint saved by the last run, verified again; None on failure."""
    try:
        with path.open("rb") as saved:
            note = saved.read(MAX_NOTE_BYTES + 1)
    except OSError as error:
        msg = f"cannot read the state file {path}: {error.strerror}"
        raise UsageError(msg) from None
    try:
        return open_note(note, key)
    except VerificationError as error:
        report.fail(f"saved checkpoint in {path}: {error}")
        return None


def check_consistency(
    url: str, old: Checkpoint, new: Checkpoint, report: Report
) -> bool:
    """Whether the new checkpoint extends the saved one, by a fetched proof."""
    result: dict[str, Any] = {
        "from": old.tree_size,
        "to": new.tree_size,
        "old_root": old.root_b64,
        "ok": False,
    }
    report.consistency = result
    what = f"consistency from saved size {old.tree_size} to {new.tree_size}"
    if old.tree_size > new.tree_size:
        report.fail(
            f"{what}: rollback, the log now publishes {new.tree_size} leaves "
            f"after signing {old.tree_size}"
        )
        return False
    if old.tree_size == new.tree_size and old.root != new.root:
        report.fail(
            f"{what}: the log signed two different roots for tree size "
            f"{new.tree_size}; it forked or was rewritten"
        )
        return False
    params = {"from": old.tree_size, "to": new.tree_size}
    try:
        answer = fetch_json(url, "/api/log/consistency", params)
        first, second = _integer(answer, "first"), _integer(answer, "second")
        path = _hashes(answer, "consistency_path")
        if (first, second) != (old.tree_size, new.tree_size):
            msg = f"the proof is from {first} to {second}, not the sizes asked"
            raise VerificationError(msg)
    except (HttpStatusError, VerificationError) as error:
        report.fail(f"{what}: consistency proof refused or malformed: {error}")
        return False
    # The sizes checked are the ones asked for, whatever the answer says.
    if not verify_consistency(old.tree_size, new.tree_size, path, old.root, new.root):
        report.fail(
            f"{what}: consistency proof does not verify; the log no longer "
            "extends the checkpoint it signed before (rewritten, dropped or "
            "reordered events)"
        )
        return False
    result["ok"] = True
    report.ok(f"{what} ({len(path)} hashes)")
    return True


def check_event(
    url: str, position: int, checkpoint: Checkpoint, report: Report
) -> None:
    """Fetches and checks one event's inclusion proof; records what it holds."""
    result: dict[str, Any] = {"position": position, "ok": False}
    report.events.append(result)
    what = f"event {position}"
    try:
        answer = fetch_json(
            url, f"/api/events/{position}/proof", {"size": checkpoint.tree_size}
        )
        index, size = _integer(answer, "leaf_index"), _integer(answer, "tree_size")
        path = _hashes(answer, "inclusion_path")
        encoded = answer.get("leaf")
        if not isinstance(encoded, str):
            msg = "the proof has no base64 'leaf'"
            raise VerificationError(msg)
        try:
            data = b64decode(encoded)
        except (ValueError, binascii.Error):
            msg = "the proof's 'leaf' is not base64"
            raise VerificationError(msg) from None
        if size != checkpoint.tree_size:
            msg = f"the proof is for tree size {size}, not {checkpoint.tree_size}"
            raise VerificationError(msg)
        leaf = parse_leaf(data)
        if leaf.position != position:
            msg = f"the leaf served is position {leaf.position}'s"
            raise VerificationError(msg)
    except (HttpStatusError, VerificationError) as error:
        report.fail(f"{what}: {error}")
        return
    result["leaf_index"] = index
    hashed = leaf_hash(data)
    if not verify_inclusion(hashed, index, checkpoint.tree_size, path, checkpoint.root):
        report.fail(
            f"{what}: inclusion proof at leaf index {index} does not verify "
            f"against the root of tree size {size}"
        )
        return
    state = leaf.state_json()
    result.update(
        ok=True,
        aggregate_id=str(leaf.aggregate_id),
        version=leaf.version,
        topic=leaf.topic,
        state=state,
    )
    if state is None:
        result["state_base64"] = base64.b64encode(leaf.state).decode()
    report.ok(
        f"{what}: in the log at leaf index {index} of {size}: aggregate "
        f"{leaf.aggregate_id}, version {leaf.version}, topic {leaf.topic}"
    )
    shown = (
        json.dumps(state, ensure_ascii=False, sort_keys=True)
        if state is not None
        else "(not JSON) " + result["state_base64"]
    )
    report.note(f"state: {shown}")


def save_state(path: Path, checkpoint: Checkpoint) -> None:
    """Writes the note to ``path`` atomically: a crash leaves old or new whole.

    Raises:
        UsageError: The file cannot be written.
    """
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=directory
        )
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(checkpoint.note)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        msg = f"cannot write the state file {path}: {error.strerror or error}"
        raise UsageError(msg) from None


def verify(
    url: str,
    key: VerifierKey,
    state: Path | None,
    positions: Sequence[int],
    report: Report,
) -> None:
    """Runs every check the arguments ask for; ``report`` gets what each found.

    Raises:
        UsageError: A check could not be made for a reason of ours.
        NetworkError: The server could not be reached.
    """
    checkpoint = check_latest(url, key, report)
    if checkpoint is None:
        return
    if state is not None:
        if state.exists():
            old = read_state(state, key, report)
            if old is not None and check_consistency(url, old, checkpoint, report):
                if old.note == checkpoint.note:
                    report.note(f"no newer checkpoint than the one in {state}")
                else:
                    save_state(state, checkpoint)
                    report.note(f"saved the new checkpoint to {state}")
        else:
            save_state(state, checkpoint)
            report.note(
                f"no saved checkpoint in {state}: trusting this one on first "
                "use and saving it for the next run"
            )
    for position in positions:
        check_event(url, position, checkpoint, report)


# --- the command line -----------------------------------------------------


def _position(text: str) -> int:
    """An event position for argparse: positions start at 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"a position is a whole number from 1, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    """The command line; argparse gives --help and exit status 2 on misuse."""
    parser = argparse.ArgumentParser(
        prog="verify_log.py",
        description=(
            "Check a Verdict Ledger's signed checkpoint, its consistency with "
            "the checkpoint saved last time, and the inclusion of events, "
            "with nothing but HTTP and the ledger's public key."
        ),
    )
    parser.add_argument("--url", required=True, help="the ledger's base URL")
    parser.add_argument(
        "--key",
        required=True,
        help="the verifier key <name>+<id>+<base64>, or @FILE to read it from",
    )
    parser.add_argument(
        "--state",
        type=Path,
        help="the file of the checkpoint seen last time (created on first use)",
    )
    parser.add_argument(
        "--event",
        type=_position,
        action="append",
        default=[],
        metavar="POSITION",
        help="check that the event at POSITION is in the log (repeatable)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead"
    )
    return parser


def _key_text(argument: str) -> str:
    """The key text itself, or read from ``@FILE`` so it can be pinned on disk.

    Raises:
        UsageError: The file cannot be read.
    """
    if not argument.startswith("@"):
        return argument
    path = Path(argument[1:]).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        msg = f"cannot read the key file {path}: {error}"
        raise UsageError(msg) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the verifier; returns the exit status (0 ok, 1 failed, 2 error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage and the error
        return stop.code if isinstance(stop.code, int) else 2
    scheme = urllib.parse.urlsplit(args.url).scheme
    report = Report()
    try:
        if scheme not in ("http", "https"):
            msg = f"--url must be an http:// or https:// URL, not {args.url!r}"
            raise UsageError(msg)
        key = parse_verifier_key(_key_text(args.key))
        verify(args.url, key, args.state, args.event, report)
    except (UsageError, NetworkError) as error:
        # No verdict: the check could not be made, which is not a failure of
        # the log. The JSON still says what was checked before it stopped.
        print(f"verify_log: {error}", file=sys.stderr)
        if args.json:
            print(json.dumps({**report.as_json(), "ok": False, "error": str(error)}))
        return 2
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        for line in report.lines:
            print(line)
        if report.problems:
            print(f"FAILED: {len(report.problems)} problem(s)")
        else:
            print("verified: everything checked holds")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
