"""Refusing to start on a port something already listens on.

granian's workers bind with ``SO_REUSEPORT`` so that they can share one
port, and on Linux that lets a second ``ledger serve`` bind the same port as
a running one and quietly take part of its traffic. Binding once without
``SO_REUSEPORT`` before granian starts fails while any socket listens there,
so the second server stops with a message instead. ``SO_REUSEADDR`` is set,
as servers do, so connections of a server that has just stopped (in
TIME_WAIT) do not hold the port.
"""

from __future__ import annotations

import errno
import socket

import click


def refuse_busy_port(host: str, port: int) -> None:
    """Stops ``ledger serve`` if ``host:port`` cannot be listened on.

    Port 0 (any free port) is never busy.

    Raises:
        click.ClickException: The port is in use, or the host cannot be bound.
    """
    if port == 0:
        return
    where = f"{host}:{port}"
    try:
        found = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        msg = f"cannot listen on {where}: {error.strerror}"
        raise click.ClickException(msg) from error
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                msg = (
                    f"{where} is already in use (another ledger serve?); stop "
                    f"it or choose another --port"
                )
            else:
                msg = f"cannot listen on {where}: {error.strerror}"
            raise click.ClickException(msg) from error
