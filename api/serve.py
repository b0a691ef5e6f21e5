"""``ledger serve``: the API on granian, one app per worker process.

Registered through the ``ledger.commands`` entry point group, so the write
side's CLI never imports the HTTP side. The command itself opens nothing:
each granian worker builds its own app with :func:`api.app.create_app_from_env`
and opens the ledger and read model in its lifespan.

Before granian starts, the command refuses a port something already listens
on (:mod:`api.port_check`) and makes the workers' metrics directory under
the home (:mod:`api.metrics_dir`). granian speaks HTTP/1.1 only, so that its
header timeout holds from the first byte of a connection; it is also how
long an idle keep-alive connection is kept. Workers start with SIGINT and
SIGTERM held until they can take them (:func:`hold_signals_in_workers`),
and one that has not stopped ``WORKER_KILL_SECONDS`` after it was asked to
is killed by granian.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Iterator

import click

from api import metrics_dir
from api.config import ApiSettings
from api.port_check import refuse_busy_port

TARGET = "api.app:create_app_from_env"
# Named here, not imported from api.metrics: prometheus_client picks its
# storage when first imported, and granian may fork the workers from this
# process, so it must not be imported before the variable is set.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_KILL_SECONDS = 30
"""How long granian waits for a stopping worker before it kills it; only
a worker stuck in its shutdown takes that long."""
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_held: list[set[int | signal.Signals]] = []
_holding = False


def _block_before_fork() -> None:
    if _holding:
        _held.append(signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS))


def _restore_after_fork() -> None:
    if _held:
        signal.pthread_sigmask(signal.SIG_SETMASK, _held.pop())


os.register_at_fork(before=_block_before_fork, after_in_parent=_restore_after_fork)


def allow_open_files(needed: int) -> None:
    """Lifts the open-files limit towards ``needed``, as far as allowed.

    Every connection is a file; a soft limit of 1,024 (a common default)
    would refuse connections long before the workers are full. The workers
    inherit the raised limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@contextlib.contextmanager
def hold_signals_in_workers() -> Iterator[None]:
    """Forks the worker processes with SIGINT and SIGTERM blocked.

    A worker inherits the main process's signal handlers, which only flag
    the main process's copy of the server; a stop signal that reached a
    worker before granian had put its own handler in place (while the app
    is imported) was lost, and the worker served on while the main process
    waited for it. Blocked, the signal waits until the worker's lifespan
    lets it in (:meth:`api.event_stream.Shutdown.watch_signals`). The main
    process itself keeps them unblocked.
    """
    global _holding
    _holding = True
    try:
        yield
    finally:
        _holding = False


@click.command("serve")
@click.option("--host", help="Interface to bind (default LEDGER_HOST or 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port to bind (default LEDGER_PORT or 8000).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes (default LEDGER_WORKERS or 1).",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the JSON API, pages and feeds of LEDGER_HOME over HTTP."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    try:
        defaults = ApiSettings.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    host = host or defaults.host
    port = port if port is not None else defaults.port
    workers = workers or defaults.workers
    refuse_busy_port(host, port)
    allow_open_files(workers * defaults.connections_per_worker + 256)
    # The workers read their settings from the environment they inherit.
    os.environ.update(
        LEDGER_HOST=host,
        LEDGER_PORT=str(port),
        LEDGER_WORKERS=str(workers),
        LEDGER_HOME=str(defaults.ledger.home.resolve()),
    )
    click.echo(
        f"serving {defaults.ledger.home} on http://{host}:{port} "
        f"with {workers} worker(s)",
        err=True,
    )
    with contextlib.ExitStack() as stack:
        if not os.environ.get(MULTIPROC_ENV):
            owned = stack.enter_context(metrics_dir.owned(defaults.ledger.home))
            os.environ[MULTIPROC_ENV] = str(owned)
        stack.enter_context(hold_signals_in_workers())
        Server(
            TARGET,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            http=HTTPModes.http1,
            http1_settings=HTTP1Settings(
                header_read_timeout=round(defaults.header_timeout_seconds * 1000)
            ),
            workers=workers,
            backpressure=defaults.connections_per_worker,
            factory=True,
            log_access=False,
            respawn_failed_workers=True,
            workers_kill_timeout=WORKER_KILL_SECONDS,
        ).serve()
