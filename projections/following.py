"""How a node's projector follows a shared PostgreSQL log.

On the embedded store the projector is woken by the node's own appends and
polls for the rest. On PostgreSQL other nodes append too, so a
:class:`~projections.log_listener.LogListener` wakes the projector (and any
other follower, such as the API's event-stream watcher) on every append by
any node, the projector's poll becomes the fallback
(``LEDGER_FOLLOW_FALLBACK``), and every projected batch is reported to the
:class:`~projections.node_registry.NodeRegistry` under the node's name
(``LEDGER_NODE_NAME``) for ``ledger status``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.settings import env_value
from projections.log_listener import LogListener, Wake
from projections.node_registry import NodeRegistry, registry_of
from projections.projector import Projector

APPLICATION_NAME = "ledger-listener"
"""The listening connection's ``application_name``, before the node's name."""


@dataclass(frozen=True)
class FollowSettings:
    """How a node follows a PostgreSQL log.

    Attributes:
        fallback_seconds: Seconds between the projector's polls, which only
            matter when a notification was lost or the listening connection
            is down (``LEDGER_FOLLOW_FALLBACK``).
        node_name: The node's name in ``ledger status`` and on its listening
            connection (``LEDGER_NODE_NAME``, default host name and home).
    """

    fallback_seconds: float = 1.0
    node_name: str = ""

    @classmethod
    def from_env(
        cls, home: Path, environ: Mapping[str, str] | None = None
    ) -> FollowSettings:
        """Reads ``LEDGER_FOLLOW_FALLBACK`` and ``LEDGER_NODE_NAME``.

        Raises:
            ValueError: A variable has a value it cannot take.
        """
        env = os.environ if environ is None else environ
        default = cls.of(home)
        return cls(
            fallback_seconds=env_value(
                env, "LEDGER_FOLLOW_FALLBACK", default.fallback_seconds, minimum=0.01
            ),
            node_name=env_value(env, "LEDGER_NODE_NAME", default.node_name),
        )

    @classmethod
    def of(cls, home: Path) -> FollowSettings:
        """The defaults for a node on ``home``: named by host name and home."""
        return cls(node_name=f"{socket.gethostname()}:{home.resolve()}")


class Following:
    """A started projector's listener and node reports; :meth:`close` ends them.

    Args:
        projector: The started projector of a ledger on PostgreSQL.
        registry: The node table beside the projector's log.
        settings: The fallback interval and the node's name.
    """

    def __init__(
        self, projector: Projector, registry: NodeRegistry, settings: FollowSettings
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.listener = LogListener(
            registry.recorder,
            application_name=f"{APPLICATION_NAME} {settings.node_name}",
            retry_seconds=settings.fallback_seconds,
        )
        self.listener.add(projector.wake)
        projector.poll_interval = settings.fallback_seconds
        earlier = projector.on_commit

        def committed(position: int) -> None:
            if earlier is not None:
                earlier(position)
            self.registry.report(settings.node_name, position)

        projector.on_commit = committed
        self.registry.report(settings.node_name, projector.position)
        self.listener.start()

    @classmethod
    def start(
        cls, projector: Projector, settings: FollowSettings | None = None
    ) -> Following | None:
        """Follows by notification if the projector's log is in PostgreSQL.

        Returns:
            The following to close, or None on the embedded store, whose
            projector keeps polling as it was.
        """
        registry = registry_of(projector.ledger)
        if registry is None:
            return None
        home = projector.ledger.settings.home
        return cls(projector, registry, settings or FollowSettings.from_env(home))

    def also_wake(self, wake: Wake) -> None:
        """Wakes ``wake`` too on every append by any node."""
        self.listener.add(wake)

    def close(self) -> None:
        """Stops listening (the projector is stopped by its owner)."""
        self.listener.close()
