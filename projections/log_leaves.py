"""The leaf of each stored event in the log's Merkle tree, as docs/AUDIT.md defines it.

A leaf holds every byte the store keeps for an event (its position, its
aggregate's id and version, its topic and its stored state, which holds its
time, actor and reason), length-prefixed so that no two events share a
leaf. Auditors rebuild these bytes from the spec alone, so the encoding is
the contract: change it and every signed checkpoint stops verifying.
"""

from __future__ import annotations

import hashlib
import struct

from projections.source import Raw

_HEAD = struct.Struct(">Q16sQ")
"""Position, aggregate id (16 bytes), version."""
_HASHED_HEAD = struct.Struct(">BQ16sQ")
"""The leaf hash's 0x00 prefix, then the head."""
_STATE_LENGTH = struct.Struct(">I")
_TOPICS: dict[str, bytes] = {}
_sha256 = hashlib.sha256
"""Each topic as a leaf holds it (its length, then its UTF-8): a log has few."""


def _topic(topic: str) -> bytes:
    found = _TOPICS.get(topic)
    if found is None:
        name = topic.encode()
        found = _TOPICS[topic] = len(name).to_bytes(2, "big") + name
    return found


def leaf(raw: Raw) -> bytes:
    """The leaf bytes of one stored event."""
    position, aggregate_id, version, topic, state = raw
    return b"".join(
        (
            _HEAD.pack(position, bytes.fromhex(aggregate_id), version),
            _topic(topic),
            _STATE_LENGTH.pack(len(state)),
            state,
        )
    )


def leaf_hash(raw: Raw) -> bytes:
    """``SHA-256(0x00 || leaf)``: the hash the tree holds for one stored event.

    The same bytes as :func:`leaf`, hashed without building them first:
    every event of the log goes through here on each fold and each verify.
    """
    position, aggregate_id, version, topic, state = raw
    named = _TOPICS.get(topic) or _topic(topic)
    return _sha256(
        b"".join(
            (
                _HASHED_HEAD.pack(0, position, bytes.fromhex(aggregate_id), version),
                named,
                _STATE_LENGTH.pack(len(state)),
                state,
            )
        )
    ).digest()
