"""Operations: liveness, readiness, projection lag, a hello-world probe, metrics."""

from __future__ import annotations

from typing import Any, Literal

import anyio.to_thread
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency

from api import metrics, readiness
from api.problem_details import ApiProblem, documented
from api.schemas import Health, Liveness, Readiness
from api.security import metrics_reader
from api.storage_faults import storage_fault
from projections.projector import Projector

# Lag above which /healthz says "lagging" (still 200: the node is alive).
LAGGING = 1000


def _checks(state: State) -> list[readiness.Check]:
    settings = state.settings
    return [
        readiness.read_models(state.read_model, state.projector),
        readiness.event_store(settings.ledger, settings.ready_timeout_seconds),
        readiness.disk(settings.ledger, settings.min_free_bytes),
        readiness.last_write(state.writer.health),
    ]


class HealthController(Controller):
    """What operators and load balancers poll."""

    tags = ["operations"]

    @get("/healthz", sync_to_thread=True, summary="Liveness and projection lag")
    def health(self, projector: NamedDependency[Projector]) -> Health:
        """Always 200 while the process serves; ``lag`` says how far behind it reads.

        Reads the log's head, which may wait up to ``LEDGER_LOCK_TIMEOUT``
        when the event store is out of reach; a liveness probe with a short
        timeout belongs on ``/healthz/live``.
        """
        try:
            lag = projector.lag()
        except Exception as error:
            if storage_fault(error) is None:
                raise
            return Health(
                status="storage-unavailable",
                head=None,
                projected=projector.position,
                lag=None,
            )
        status: Literal["ok", "lagging"] = "ok" if lag.lag <= LAGGING else "lagging"
        return Health(
            status=status, head=lag.head, projected=lag.projected, lag=lag.lag
        )

    @get(
        "/healthz/live",
        sync_to_thread=False,
        summary="Liveness: 200 while the process answers, whatever its storage",
    )
    def live(self) -> Liveness:
        """Touches no storage, so a stuck disk or database never fails it."""
        return Liveness(status="alive")

    @get(
        "/healthz/ready",
        summary="Readiness: 200 while writes can be stored and reads are served",
        responses=documented(503),
    )
    async def ready(self, request: Request[Any, Any, State]) -> Readiness:
        """503 ``not-ready`` naming each failed check (see :mod:`api.readiness`).

        Checks that the read models are open and followed, that the event
        store's write lock can be taken, that the disk of ``LEDGER_HOME`` is
        writable with ``LEDGER_MIN_FREE_BYTES`` free, and that this worker's
        latest write did not just fail with a storage fault.
        """
        checks = await anyio.to_thread.run_sync(_checks, request.app.state)
        failed = [check for check in checks if not check.ok]
        if failed:
            raise ApiProblem(
                "not-ready",
                "; ".join(f"{check.name}: {check.detail}" for check in failed),
                {"Retry-After": str(max(check.retry_after for check in failed))},
            )
        return Readiness(
            status="ready", checks={check.name: check.detail for check in checks}
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

    @get(
        "/metrics",
        sync_to_thread=False,
        include_in_schema=False,
        guards=[metrics_reader],
    )
    def metrics(self, request: Request[Any, Any, State]) -> Response[bytes]:
        """Prometheus text exposition of this node (all its workers).

        Needs a metrics or admin token, or a client in LEDGER_METRICS_ALLOW.
        """
        projector: Projector = request.app.state.projector
        return Response(
            content=metrics.render(projector.lag), media_type=metrics.CONTENT_TYPE
        )
