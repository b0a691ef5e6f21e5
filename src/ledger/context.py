"""Who is acting and on behalf of which request."""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM = "system"


@dataclass(frozen=True)
class Context:
    """The actor and correlation id stamped on every event a command appends.

    Attributes:
        actor: A role-qualified, non-personal id such as ``editor:3fa1c2d9``,
            ``reviewer:ada``, ``voter:<keyed hash>`` or, from the command
            line, ``operator:<login name>``; ``system`` for the demo.
        request_id: Correlates the events of one HTTP request or CLI call.
    """

    actor: str = SYSTEM
    request_id: str = ""
