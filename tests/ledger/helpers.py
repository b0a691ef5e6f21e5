"""Small givens shared by the write-side tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from ledger import log
from ledger.application import Ledger
from ledger.context import Context

EDITOR = Context(actor="editor:e1", request_id="req-editor")
ADMIN = Context(actor="admin:a1", request_id="req-admin")
VOTER = Context(actor="voter", request_id="req-vote")

RATIONALE = "Runs locally, well documented, and the licence is clear."

ReadLog = Callable[..., list[log.LoggedEvent]]
"""The type of the ``events`` fixture."""


def reviewer_ctx(handle: str) -> Context:
    return Context(actor=f"reviewer:{handle}", request_id=f"req-{handle}")


def tool_fields(name: str = "Alpha Coder", **overrides: str) -> dict[str, str]:
    fields = {
        "name": name,
        "vendor": "Acme",
        "category": "Developer Tools",
        "tagline": "Writes the boring parts",
        "description": "A coding assistant that runs on your own machine.",
        "entry": "Free",
        "license": "MIT",
    }
    fields.update(overrides)
    return fields


def register(ledger: Ledger, slug: str = "alpha", **fields: str) -> None:
    ledger.register_tool(EDITOR, slug, tool_fields(slug.title(), **fields))


def enroll(ledger: Ledger, handle: str = "ada", lens: str = "builder") -> None:
    ledger.enroll_reviewer(ADMIN, handle, name=handle.title(), lens=lens)


def given_tools_and_panel(ledger: Ledger) -> None:
    """Two tools and two active reviewers."""
    register(ledger, "alpha")
    register(ledger, "beta")
    enroll(ledger, "ada", "builder")
    enroll(ledger, "bob", "skeptic")


@contextmanager
def nothing_appended(ledger: Ledger) -> Iterator[None]:
    """Asserts the block leaves the log exactly as it found it."""
    head = ledger.head_position()
    yield
    assert ledger.head_position() == head
    assert log.read(ledger.recorder, after=head) == []


def refused(
    ledger: Ledger,
    error: type[Exception],
    command: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> pytest.ExceptionInfo[Exception]:
    """Runs a command that must fail with ``error`` and append nothing."""
    with nothing_appended(ledger), pytest.raises(error) as info:
        command(*args, **kwargs)
    return info


def single_new_event(ledger: Ledger, before: int, receipt: Any) -> log.LoggedEvent:
    """The one event a command appended, checked against its receipt."""
    new = log.read(ledger.recorder, after=before)
    assert len(new) == 1, new
    event = new[0]
    assert receipt.position == event.position == before + 1
    assert receipt.version == event.version
    assert receipt.id == event.aggregate_id
    return event


def envelope(event: log.LoggedEvent) -> Mapping[str, Any]:
    """What every event records besides its data."""
    return {
        "type": event.type,
        "actor": event.actor,
        "reason": event.reason,
        "request_id": event.request_id,
    }
