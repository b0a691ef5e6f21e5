"""The tamper-evident log over HTTP: its key, signed checkpoints and proofs.

Every route answers from what was published or is stored, never from a
request's say: a proof is only given for the tree size of a published
checkpoint, so a verifier always checks it against a root the ledger
signed. docs/AUDIT.md is the contract.
"""

from __future__ import annotations

import binascii
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter
from litestar.types import ASGIApp

from api import param_bounds
from api.pagination import DEFAULT_LIMIT, LINK_HEADER, Limit, link_header, link_with
from api.prebuilt import (
    IMMUTABLE,
    NO_CACHE,
    encode,
    json_bytes,
    prebuilt_response,
)
from api.problem_details import ApiProblem, documented
from api.proof_schemas import (
    CheckpointList,
    ConsistencyProof,
    InclusionProof,
    PublishedCheckpoint,
)
from projections.chain_queries import NotInTree
from projections.checkpoints import CheckpointStore, Published
from projections.log_leaves import leaf
from projections.queries import ReadModel
from projections.source import LogSource

TEXT = "text/plain; charset=utf-8"


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _published(store: CheckpointStore, size: int | None, name: str) -> Published:
    """The checkpoint of tree size ``size`` (the newest if None), or a 404."""
    found = store.latest() if size is None else store.at_size(size)
    if found is None:
        if size is None:
            detail = "no checkpoint has been published yet"
        else:
            detail = (
                f"{name}={size} is not the tree size of a published checkpoint; "
                "GET /api/checkpoints lists them"
            )
        raise ApiProblem("no-checkpoint", detail)
    return found


class TransparencyController(Controller):
    """The log's verifier key, its signed checkpoints, and proofs against them."""

    path = "/api"
    tags = ["audit"]

    @get(
        "/log/key",
        sync_to_thread=False,
        media_type=TEXT,
        summary="The verifier key of the log's checkpoints (note-verifier text form)",
    )
    def key(self, request: Request[Any, Any, State]) -> str:
        """``name+key ID+base64(0x01 || Ed25519 public key)``, then a newline."""
        text: str = request.app.state.log_key.text()
        return text + "\n"

    @get(
        "/checkpoints/latest",
        sync_to_thread=False,
        media_type=TEXT,
        summary="The newest signed checkpoint, verbatim (C2SP tlog-checkpoint)",
        responses=documented(404),
    )
    def latest(self, request: Request[Any, Any, State]) -> str:
        """The signed note as it was signed; check it with ``/api/log/key``."""
        return _published(request.app.state.checkpoints, None, "size").note

    @get(
        "/checkpoints",
        sync_to_thread=False,
        summary="Every published checkpoint, smallest tree first, page by page",
        response_headers=LINK_HEADER,
        responses=documented(422),
    )
    def checkpoints(
        self,
        request: Request[Any, Any, State],
        after: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=2**62,
                description="Only trees larger than this size",
                schema_extra=param_bounds.POSITION,
            ),
        ] = 0,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Response[CheckpointList]:
        """``next`` is the ``after`` of the next page; null when this is the last."""
        store: CheckpointStore = request.app.state.checkpoints
        found = store.after(after, limit + 1)
        items = [
            PublishedCheckpoint(p.tree_size, p.signed_at, p.note) for p in found[:limit]
        ]
        following = items[-1].tree_size if len(found) > limit else None
        link = None if following is None else link_with(request, "after", following)
        return Response(
            CheckpointList(items=items, next=following), headers=link_header(link)
        )

    @get(
        "/events/{position:int}/proof",
        sync_to_thread=False,
        summary="The inclusion proof of an event in a checkpoint's tree (RFC 9162)",
        responses={**prebuilt_response(InclusionProof), **documented(404, 422)},
    )
    def inclusion(
        self,
        request: Request[Any, Any, State],
        position: FromPath[int],
        size: Annotated[
            int | None,
            QueryParameter(
                ge=1,
                le=2**62,
                description="A published checkpoint's tree size (default: the newest)",
            ),
        ] = None,
    ) -> ASGIApp:
        """The leaf's bytes come from the log as stored: hash them yourself.

        A checkpoint's tree never changes, so its proofs need no wait for
        ``min_position``: the read model is used as it stands. For the same
        reason a proof asked of a named ``size`` is the same forever, and
        says so to caches; one of the newest checkpoint is not.
        """
        read_model: ReadModel = request.app.state.read_model
        checkpoint = _published(request.app.state.checkpoints, size, "size")
        tree_size = checkpoint.tree_size
        try:
            proof = read_model.inclusion(position, tree_size)
        except NotInTree as missing:
            detail = f"no event at position {position} among the first {tree_size}"
            raise ApiProblem("not-in-tree", detail) from missing
        source: LogSource = request.app.state.log_source
        stored = source.read(position - 1, 1)
        if not stored or stored[0][0] != position:
            detail = f"the log holds no event at position {position}"
            raise ApiProblem("not-in-tree", detail)
        body = encode(
            InclusionProof(
                leaf_index=proof.leaf_index,
                tree_size=tree_size,
                leaf=_b64(leaf(stored[0])),
                inclusion_path=[_b64(hashed) for hashed in proof.inclusion_path],
            )
        )
        return json_bytes(body, (b"cache-control", IMMUTABLE if size else NO_CACHE))

    @get(
        "/log/consistency",
        sync_to_thread=False,
        summary="The proof that one checkpoint's tree begins another's (RFC 9162)",
        responses=documented(404, 422),
    )
    def consistency(
        self,
        request: Request[Any, Any, State],
        first: Annotated[
            int,
            QueryParameter(
                name="from",
                ge=1,
                le=2**62,
                description="The earlier tree size",
                schema_extra=param_bounds.TREE_SIZE,
            ),
        ],
        second: Annotated[
            int,
            QueryParameter(
                name="to",
                ge=1,
                le=2**62,
                description="The later tree size",
                schema_extra=param_bounds.TREE_SIZE,
            ),
        ],
    ) -> ConsistencyProof:
        """Both sizes must be those of published checkpoints."""
        read_model: ReadModel = request.app.state.read_model
        if first > second:
            detail = f"from={first} is a larger tree than to={second}"
            raise ApiProblem("bad-consistency-range", detail)
        store: CheckpointStore = request.app.state.checkpoints
        _published(store, first, "from")
        _published(store, second, "to")
        try:
            path = read_model.consistency(first, second)
        except NotInTree as missing:
            raise ApiProblem("not-in-tree", str(missing)) from missing
        return ConsistencyProof(
            first=first,
            second=second,
            consistency_path=[_b64(hashed) for hashed in path],
        )
