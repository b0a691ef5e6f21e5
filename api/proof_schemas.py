"""The answers of the tamper-evident log's routes, in RFC 9162's field names.

Hashes and leaves are standard base64, as in RFC 9162's JSON and C2SP's
formats, so that a verifier written from docs/AUDIT.md reads them as is.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class InclusionProof(msgspec.Struct):
    """``GET /api/events/{position}/proof``: RFC 9162's ``inclusion_proof_v2``."""

    leaf_index: Annotated[int, Meta(description="The event's leaf, counted from 0")]
    tree_size: Annotated[int, Meta(description="The checkpoint's tree size")]
    leaf: Annotated[
        str,
        Meta(
            description="The leaf's bytes (docs/AUDIT.md), base64: hash them yourself"
        ),
    ]
    inclusion_path: Annotated[
        list[str], Meta(description="The audit path, base64 hashes, leaf upwards")
    ]


class ConsistencyProof(msgspec.Struct):
    """``GET /api/log/consistency``: RFC 9162's ``consistency_proof_v2``."""

    first: Annotated[int, Meta(description="The earlier tree size")]
    second: Annotated[int, Meta(description="The later tree size")]
    consistency_path: Annotated[list[str], Meta(description="Base64 hashes")]


class PublishedCheckpoint(msgspec.Struct):
    """One signed checkpoint, as published."""

    tree_size: int
    signed_at: Annotated[str, Meta(description="When it was signed, ISO 8601 UTC")]
    note: Annotated[str, Meta(description="The C2SP signed note, verbatim")]


class CheckpointList(msgspec.Struct):
    """``GET /api/checkpoints``: published checkpoints, smallest tree first."""

    items: list[PublishedCheckpoint]
    next: Annotated[
        int | None,
        Meta(description="The after of the next page; null on the last page"),
    ] = None
