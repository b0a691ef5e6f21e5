"""Raw HTTP/1.1 over a socket, for requests no client library will send.

A header that never ends, a body that stops halfway: httpx sends neither, so
the connection tests write the bytes themselves and read what comes back
until the server closes the connection.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx

WAIT = 20.0
"""Longest a read waits; a server that holds on longer fails the test."""


def connect(base: str, *, receive_buffer: int | None = None) -> socket.socket:
    """A connection to the server at ``base`` (``http://host:port``).

    Args:
        base: The server's base URL.
        receive_buffer: A receive buffer this small (set before connecting,
            so the window the server sees is small too), to make a client
            that stops reading stall the server's sends sooner.
    """
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(WAIT)
    sock.connect((parts.hostname, parts.port))
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection.

    Raises:
        TimeoutError: The server kept the connection open for :data:`WAIT`
            seconds without sending anything.
    """
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    """What the server sends until ``marker`` (or the connection's end)."""
    received = b""
    while marker not in received and (chunk := sock.recv(65536)):
        received += chunk
    return received


def parse(raw: bytes) -> httpx.Response:
    """The one HTTP/1.1 answer in ``raw``, as an httpx response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    length = {k.lower(): v for k, v in headers}.get("content-length")
    if length is not None:
        body = body[: int(length)]
    return httpx.Response(int(status_line.split(" ")[1]), headers=headers, content=body)


def stalled_post(base: str, path: str, token: str, *, sent: bytes) -> httpx.Response:
    """POSTs ``sent`` as the start of a longer JSON body, then waits.

    Returns:
        The server's answer, read once it has closed the connection.
    """
    host = urlsplit(base).netloc
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(sent) + 100}\r\n\r\n"
    )
    with connect(base) as sock:
        sock.sendall(head.encode() + sent)
        return parse(read_until_closed(sock))
