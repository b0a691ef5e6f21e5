"""What ``ledger verify`` concludes from the leaves that differ: its findings.

The chain read model recorded each leaf when its event was first projected,
so the first leaf of the log that differs from that record names the
position where the log changed, and comparing the leaves around it (each
event hashed as if at another's position) tells an altered event from a
removed, inserted or reordered one. Without such a record, only the signed
roots speak, and they narrow the change to the leaves between two
checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.log_leaves import leaf_hash
from projections.source import Raw


@dataclass(frozen=True)
class Finding:
    """One thing that does not match.

    Attributes:
        kind: ``altered``, ``removed``, ``inserted`` or ``reordered`` for the
            log; ``checkpoint`` for a stored checkpoint that is not what the
            log's key signed for this log; ``mismatch`` for a signed root the
            log no longer gives, where the change could not be pinned to one
            event; ``chain`` for a read model that differs from the log
            while the log still matches every checkpoint.
        position: The first log position concerned, where one is known.
        detail: What was found, in a sentence.
        tree_size: The checkpoint concerned, for checkpoint findings.
    """

    kind: str
    position: int | None
    detail: str
    tree_size: int | None = None


@dataclass(frozen=True)
class Difference:
    """A leaf whose hash differs from the one the chain recorded for it."""

    index: int
    raw: Raw | None
    """The log's event at this leaf, or None past the log's end."""
    position: int
    """The position the chain recorded for this leaf."""
    hashed: bytes


def conclude(
    differences: list[Difference],
    first_mismatch: int | None,
    latest: int,
    verified: int,
) -> Finding | None:
    """What the log's differences say: the first changed event, or a range.

    Args:
        differences: The first leaves that differ from the chain's record.
        first_mismatch: The smallest tree size whose signed root the log no
            longer gives, if any.
        latest: The largest tree size signed.
        verified: The largest tree size whose signed root the log gives.
    """
    if differences:
        first = differences[0]
        if (first_mismatch is None and first.index >= latest) or (
            first_mismatch is not None and first.index < first_mismatch
        ):
            return _classify(differences)
        if first_mismatch is None:
            return Finding(
                "chain",
                first.position,
                "the log still gives every signed root, but the read models' "
                f"chain recorded another leaf at position {first.position}: "
                "rebuild the read models",
            )
    if first_mismatch is None:
        return None
    return Finding(
        "mismatch",
        None,
        f"the log no longer gives the root signed for tree size "
        f"{first_mismatch}; the change is among leaves {verified} "
        f"to {first_mismatch - 1} (counted from 0), and the read models' "
        "chain cannot say which",
        first_mismatch,
    )


def _at(raw: Raw, position: int) -> bytes:
    """The leaf hash ``raw``'s event would have at ``position``."""
    return leaf_hash((position, *raw[1:]))


def _classify(differences: list[Difference]) -> Finding:
    """What happened at the first leaf that differs from the chain's record."""
    first = differences[0]
    raw, position = first.raw, first.position
    following = {d.index: d for d in differences[1:]}
    after = following.get(first.index + 1)
    if raw is None:
        return Finding(
            "removed",
            position,
            f"the log ends before position {position}, which was recorded",
        )
    if raw[0] > position:
        return Finding(
            "removed",
            position,
            f"the event at position {position} is gone; the log goes on at {raw[0]}",
        )
    if raw[0] < position:
        return Finding(
            "inserted",
            raw[0],
            f"an event at position {raw[0]} that was never recorded comes "
            f"before position {position}",
        )
    for other in differences[1:]:
        if (
            other.raw is not None
            and _at(raw, other.position) == other.hashed
            and _at(other.raw, position) == first.hashed
        ):
            return Finding(
                "reordered",
                position,
                f"the events at positions {position} and {other.position} "
                "changed places",
            )
    if after is not None and _at(raw, after.position) == after.hashed:
        return Finding(
            "removed",
            position,
            f"the event at position {position} is gone; the events after it "
            "moved down a place",
        )
    if (
        after is not None
        and after.raw is not None
        and _at(after.raw, position) == first.hashed
    ):
        return Finding(
            "inserted",
            position,
            f"an event that was never recorded is at position {position}; "
            "the events after it moved up a place",
        )
    return Finding("altered", position, f"the event at position {position} was changed")
