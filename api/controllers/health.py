"""Operations: liveness with projection lag, a hello-world probe, and metrics."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency

from api import metrics
from api.schemas import Health
from projections.projector import Projector

# Lag above which /healthz says "lagging" (still 200: the node is alive).
LAGGING = 1000


class HealthController(Controller):
    """What operators and load balancers poll."""

    tags = ["operations"]

    @get("/healthz", sync_to_thread=False, summary="Liveness and projection lag")
    def health(self, projector: NamedDependency[Projector]) -> Health:
        """Always 200 while the process serves; ``lag`` says how far behind it reads."""
        lag = projector.lag()
        status: Literal["ok", "lagging"] = "ok" if lag.lag <= LAGGING else "lagging"
        return Health(
            status=status, head=lag.head, projected=lag.projected, lag=lag.lag
        )

    @get(
        "/healthz/ping",
        sync_to_thread=False,
        media_type="text/plain",
        summary="Hello world: the cheapest route through the full middleware stack",
    )
    def ping(self) -> bytes:
        """Touches neither the ledger nor the read model.

        The HTTP benchmark's baseline: it pays the same request-id, metrics
        and logging as every route, so the ratio of a card read to it is the
        cost of the read itself.
        """
        return b"pong"

    @get("/metrics", sync_to_thread=False, include_in_schema=False)
    def metrics(self, request: Request[Any, Any, State]) -> Response[bytes]:
        """Prometheus text exposition of this node (all its workers)."""
        projector: Projector = request.app.state.projector
        return Response(
            content=metrics.render(projector.lag), media_type=metrics.CONTENT_TYPE
        )
