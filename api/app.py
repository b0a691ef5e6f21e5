"""The application factory: one Litestar app per worker process.

``create_app`` wires controllers, dependencies, the problem-details handler
and the request observer; its lifespan opens what a worker needs (the ledger,
the token store, the idempotency keys and rate-limit windows, the read model)
and starts the projector that keeps the read model following the log.
``create_app_from_env`` is what granian imports in each worker (``ledger
serve``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import logging.config
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api import response_cache
from api.body_deadline import BodyDeadline
from api.browser_security import SecurityHeaders, cors_config
from api.config import ApiSettings
from api.controllers.comparisons import ComparisonsController
from api.controllers.digests import DigestPagesController, DigestsController
from api.controllers.editor import EditorController
from api.controllers.editor_reviews import EditorReviewsController
from api.controllers.editor_tools import EditorToolsController
from api.controllers.erasures import ErasuresController
from api.controllers.events import EventsController
from api.controllers.feeds import FeedController
from api.controllers.health import HealthController
from api.controllers.pages import PagesController
from api.controllers.problems import ProblemsController
from api.controllers.provenance import ProvenanceController
from api.controllers.reviewers import ReviewersController
from api.controllers.reviews import ReviewsController
from api.controllers.subscription_pages import SubscriptionPagesController
from api.controllers.subscriptions import SubscriptionsController
from api.controllers.tokens import TokensController
from api.controllers.tools import ToolsController
from api.controllers.transparency import TransparencyController
from api.controllers.voters import VotersController
from api.controllers.votes import VotesController
from api.editor_sessions import Sessions
from api.event_stream import Shutdown
from api.idempotency_store import open_idempotency_store
from api.json_bodies import JsonRequest
from api.log_watcher import LogWatcher
from api.observability import AccessLog, RequestObserver, logging_config
from api.openapi_bodies import close_request_bodies
from api.prebuilt import EncodedCache
from api.problem_details import problem_response
from api.rate_limit import RateLimiter
from api.read_your_writes import provide_read_model
from api.security import Tokens, provide_principal
from api.stream_slots import StreamSlots
from api.web.reference import ReferencePage
from api.web.templating import static_router, template_config
from api.writer_thread import WriterThread
from ledger.application import Ledger
from projections import readmodel_path
from projections.checkpoints import Checkpointer, CheckpointStore
from projections.following import Following
from projections.projector import Projector
from projections.queries import ReadModel
from projections.source import LogSource

log = logging.getLogger("api.app")

API_DESCRIPTION = """\
Every panel review, community vote and tool edit of an AI-tool comparison
site, kept as an immutable event log, and the scorecards they add up to.

Reads are public, but for `/api/tokens` (admin). Writes need
`Authorization: Bearer <token>` (roles admin, editor, reviewer, voter;
`POST /api/voters` issues voter tokens, admins `POST /api/tokens`). Every write
answers `{version, position}`; pass `position` as `min_position` on a read to
see your write. Errors are RFC 9457 problem details; a 503 (storage
unavailable, read models behind) carries `Retry-After`: send the same request
again after it. Request bodies are JSON (`Content-Type: application/json`).
"""


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Opens the worker's resources, starts the projector, closes all on exit."""
    settings: ApiSettings = app.state.settings
    home = settings.ledger
    ledger = Ledger(home)
    tokens = Tokens(home)
    sessions = Sessions(home)
    idempotency = open_idempotency_store(settings)
    rate_limiter = RateLimiter(settings.api_db_path)
    path = readmodel_path(home)
    chain = settings.chain_settings
    projector = Projector(ledger, path, checkpointer=Checkpointer(chain))
    checkpoints = CheckpointStore(chain.store_path)
    log_source = LogSource(ledger)
    projector.catch_up()
    # Personal data is opened as it is read, with the keys as they are then.
    read_model = ReadModel(path, sealer=ledger.sealer)
    projector.start()
    # On PostgreSQL: woken by every node's appends, reported for `ledger status`.
    following = Following.start(projector, settings.follow)
    # Worker processes of one embedded store hand the write lock over in turn.
    shared_lock = settings.write_lock and home.event_store is None
    writer = WriterThread(ledger, home.home / "writer.lock" if shared_lock else None)
    shutdown = Shutdown()
    log_watcher = LogWatcher(
        ledger,
        poll=settings.stream_poll_seconds,
        keepalive=settings.stream_keepalive_seconds,
        shutdown=shutdown,
    )
    log_watcher.start()
    if following is not None:
        following.also_wake(log_watcher.wake)
    app.state.update(
        shutdown=shutdown,
        log_watcher=log_watcher,
        stream_slots=StreamSlots(
            settings.streams_per_client, settings.streams_per_worker
        ),
        ledger=ledger,
        writer=writer,
        tokens=tokens,
        sessions=sessions,
        idempotency=idempotency,
        rate_limiter=rate_limiter,
        projector=projector,
        read_model=read_model,
        checkpoints=checkpoints,
        log_key=chain.signer().verifier,
        log_source=log_source,
    )
    log.info(
        "worker ready", extra={"home": str(home.home), "head": projector.lag().head}
    )
    # What the worker has built by now lives as long as it does; frozen, the
    # collector stops scanning it, which took tens of milliseconds out of
    # the slowest answers (docs/PERFORMANCE.md, http).
    gc.freeze()
    store = app.response_cache_config.get_store_from_app(app)
    sweeper = asyncio.create_task(
        response_cache.sweep_stale(store, read_model.position)
    )
    # Last: a stop signal sent while the worker started has waited till now.
    shutdown.watch_signals()
    try:
        yield
    finally:
        sweeper.cancel()
        shutdown.stop()
        await log_watcher.close()
        if app.state.access_log is not None:
            app.state.access_log.flush()
        writer.close()
        if following is not None:
            following.close()
        projector.close()
        checkpoints.close()
        log_source.close()
        read_model.close()
        rate_limiter.close()
        idempotency.close()
        sessions.close()
        tokens.close()
        ledger.close()


def _from_state(name: str) -> Provide:
    def provide(state: State) -> Any:
        return state[name]

    provide.__name__ = f"provide_{name}"
    return Provide(provide, sync_to_thread=False)


def create_app(settings: ApiSettings | None = None) -> Litestar:
    """Builds the app for ``settings`` (default: from the environment)."""
    settings = settings or ApiSettings.from_env()
    logging.config.dictConfig(logging_config(settings.log_level))
    app = Litestar(
        route_handlers=[
            ToolsController,
            ProvenanceController,
            ReviewsController,
            ReviewersController,
            ComparisonsController,
            DigestsController,
            DigestPagesController,
            VotersController,
            VotesController,
            SubscriptionsController,
            SubscriptionPagesController,
            EventsController,
            TransparencyController,
            HealthController,
            ProblemsController,
            PagesController,
            EditorController,
            EditorToolsController,
            EditorReviewsController,
            FeedController,
            TokensController,
            ErasuresController,
            static_router(),
        ],
        dependencies={
            "ledger": _from_state("ledger"),
            "projector": _from_state("projector"),
            "settings": _from_state("settings"),
            "read_model": Provide(provide_read_model),
            "principal": Provide(provide_principal, sync_to_thread=False),
        },
        exception_handlers={Exception: problem_response},
        request_class=JsonRequest,
        response_cache_config=response_cache.config(),
        cors_config=cors_config(settings.cors_origins),
        lifespan=[lifespan],
        middleware=[
            DefineMiddleware(BodyDeadline, seconds=settings.body_timeout_seconds)
        ],
        request_max_body_size=settings.max_body_bytes,
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="Verdict Ledger",
            version="0.1.0",
            description=API_DESCRIPTION,
            path="/schema",
            render_plugins=[ReferencePage()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="From `ledger token create`, or POST /api/voters",
                    )
                }
            ),
        ),
        state=State({"settings": settings, "encoded": EncodedCache()}),
        logging_config=None,
    )
    close_request_bodies(app.openapi_schema)
    access_log = AccessLog() if settings.access_log else None
    app.state.access_log = access_log
    app.asgi_handler = SecurityHeaders(app.asgi_handler, schema_path="/schema")
    app.asgi_handler = RequestObserver(app.asgi_handler, access_log=access_log)
    return app


def create_app_from_env() -> Litestar:
    """granian's factory: the app configured by ``LEDGER_*`` variables."""
    return create_app(ApiSettings.from_env())
