"""Caps on the event streams a worker holds open: per client address, and in all.

A stream holds its connection for as long as the client likes, and granian
serves at most ``LEDGER_CONNECTIONS_PER_WORKER`` connections per worker (the
next ones wait to be accepted, requests included). So one client address may
hold ``LEDGER_STREAMS_PER_CLIENT`` streams (429 beyond), and all clients
together three quarters of the worker's connections (503 beyond), which
leaves the rest to requests. The counts live in the worker's memory, not in
``api.sqlite`` as the rate limits do: a stream's end is not a request that
could be counted down there, and a crash would leave slots taken for good.
So the caps are per worker; a client spread over N workers may hold up to N
times its cap. Behind a proxy every client has the proxy's address and they
share one cap.
"""

from __future__ import annotations

from collections.abc import Callable

from api.problem_details import ApiProblem

RETRY_AFTER_SECONDS = 5
"""What a refused client is told to wait before it tries again."""


class StreamSlots:
    """Counts open event streams per client address.

    Args:
        per_client: Streams one address may hold open at once.
        per_worker: Streams all addresses together may hold open at once.
    """

    def __init__(self, per_client: int, per_worker: int) -> None:
        self.per_client = per_client
        self.per_worker = per_worker
        self._open: dict[str, int] = {}
        self._total = 0

    def open(self, client: str) -> int:
        """How many streams ``client`` holds open now."""
        return self._open.get(client, 0)

    def take(self, client: str) -> Callable[[], None]:
        """Counts one more open stream of ``client``.

        Returns:
            What frees the slot again; calling it more than once frees it once.

        Raises:
            ApiProblem: ``too-many-streams`` (429, with ``Retry-After``): the
                address already holds :attr:`per_client` streams; or
                ``streams-full`` (503, with ``Retry-After``): the worker
                holds :attr:`per_worker`.
        """
        if self._total >= self.per_worker:
            raise ApiProblem(
                "streams-full",
                f"this worker already serves {self._total} event streams, the "
                f"most it keeps (three quarters of LEDGER_CONNECTIONS_PER_WORKER); "
                f"retry after {RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        held = self.open(client)
        if held >= self.per_client:
            raise ApiProblem(
                "too-many-streams",
                f"this address already holds {held} open event streams, the "
                f"most one worker allows (LEDGER_STREAMS_PER_CLIENT); close "
                f"one or retry after {RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self._open[client] = held + 1
        self._total += 1
        freed = False

        def free() -> None:
            nonlocal freed
            if freed:
                return
            freed = True
            self._total -= 1
            left = self._open.get(client, 0) - 1
            if left > 0:
                self._open[client] = left
            else:
                self._open.pop(client, None)

        return free
