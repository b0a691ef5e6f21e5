"""``ledger serve``: the API on granian, one app per worker process.

Registered through the ``ledger.commands`` entry point group, so the write
side's CLI never imports the HTTP side. The command itself opens nothing:
each granian worker builds its own app with :func:`api.app.create_app_from_env`
and opens the ledger and read model in its lifespan.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import click

from api.config import ApiSettings

TARGET = "api.app:create_app_from_env"
# Named here, not imported from api.metrics: prometheus_client picks its
# storage when first imported, and granian may fork the workers from this
# process, so it must not be imported before the variable is set.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
    from granian.constants import Interfaces
    from granian.server import Server

    try:
        defaults = ApiSettings.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    host = host or defaults.host
    port = port if port is not None else defaults.port
    workers = workers or defaults.workers
    # The workers read their settings from the environment they inherit.
    os.environ.update(
        LEDGER_HOST=host,
        LEDGER_PORT=str(port),
        LEDGER_WORKERS=str(workers),
        LEDGER_HOME=str(defaults.ledger.home.resolve()),
    )
    metrics_dir = os.environ.get(MULTIPROC_ENV)
    owned_metrics_dir = None
    if not metrics_dir:
        owned_metrics_dir = tempfile.mkdtemp(prefix="ledger-metrics-")
        os.environ[MULTIPROC_ENV] = owned_metrics_dir
    click.echo(
        f"serving {defaults.ledger.home} on http://{host}:{port} "
        f"with {workers} worker(s)",
        err=True,
    )
    try:
        Server(
            TARGET,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            workers=workers,
            factory=True,
            log_access=False,
            respawn_failed_workers=True,
        ).serve()
    finally:
        if owned_metrics_dir:
            shutil.rmtree(owned_metrics_dir, ignore_errors=True)
