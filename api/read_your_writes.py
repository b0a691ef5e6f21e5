"""Read-your-writes: a read waits, bounded, until it reflects a position.

Reads come from this node's read model, which trails the log by a little.
A client that just wrote passes the ``position`` it was given as
``min_position``; the read then waits for at most ``min_position_timeout``
seconds until the read model reflects it. The wait sleeps on the event loop
between looks, so other requests are served meanwhile. If it does not get
there in time the answer is a 503 problem with ``Retry-After`` (the request
was fine, the node is behind), unless the position is past the end of the
log, which no wait can fix (422).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import anyio.to_thread
from litestar.datastructures import State
from litestar.params import QueryParameter

from api import param_bounds
from api.problem_details import ApiProblem
from projections.queries import ReadModel

READ = (400, 422, 503)
"""The problem statuses any read that takes ``min_position`` may answer with:
a position out of bounds or past the log (422), a wait that ran out (503), or
a request that could not be read at all (400). Litestar documents a 400 for
every operation with parameters in its own shape; this one describes ours."""

MinPosition = Annotated[
    int | None,
    QueryParameter(
        name="min_position",
        ge=0,
        le=2**62,
        schema_extra=param_bounds.POSITION,
        description=(
            "Wait (bounded) until the read model reflects this log position, "
            "e.g. the position a write answered"
        ),
    ),
]


async def reach(state: State, position: int) -> None:
    """Returns once the read model reflects ``position``, or raises a problem."""
    read_model: ReadModel = state.read_model
    if read_model.position() >= position:
        return
    head = await anyio.to_thread.run_sync(state.ledger.head_position)
    if position > head:
        raise ApiProblem(
            "position-beyond-log",
            f"position {position} is past the end of the log (head {head})",
        )
    # ReadModel.wait_for would block the loop in time.sleep; this sleeps in asyncio.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.settings.min_position_timeout
    delay = 0.002
    while loop.time() < deadline:
        await asyncio.sleep(delay)
        if read_model.position() >= position:
            return
        delay = min(delay * 2, 0.05)
    raise ApiProblem(
        "projection-behind",
        f"the read model reflects position {read_model.position()}, not yet "
        f"{position}; retry shortly",
        {"Retry-After": "1"},
    )


async def provide_read_model(
    state: State, min_position: MinPosition = None
) -> ReadModel:
    """App-level ``read_model`` dependency; honours ``min_position`` first."""
    if min_position:
        await reach(state, min_position)
    read_model: ReadModel = state.read_model
    return read_model
