"""Verdict Ledger's HTTP side: the Litestar app, its JSON API, pages and feed.

``create_app`` is imported lazily so that ``ledger serve`` (:mod:`api.serve`)
starts granian without loading the app in the parent process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(name)
