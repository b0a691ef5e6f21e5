"""Tools: registered, edited, retired and reinstated, and the rules on each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger import errors, rules
from ledger.application import Ledger
from ledger.context import Context
from ledger.domainmodel import Tool

from .helpers import (
    EDITOR,
    Given,
    envelope,
    nothing,
    refused,
    register,
    single_new_event,
    tool_fields,
)


def test_register_tool_appends_registered_with_every_field(ledger: Ledger) -> None:
    # given an empty ledger
    fields = tool_fields("Alpha Coder")
    # when an editor registers a tool
    receipt = ledger.register_tool(EDITOR, "alpha-coder", fields)
    # then one Tool.Registered event holds the slug and every field
    event = single_new_event(ledger, 0, receipt)
    assert receipt.version == 1
    assert receipt.id == Tool.id_for("alpha-coder")
    assert envelope(event) == {
        "type": "Tool.Registered",
        "actor": "editor:e1",
        "reason": "",
        "request_id": "req-editor",
    }
    assert event.data == {"slug": "alpha-coder", **fields}
    assert ledger.tool("alpha-coder") == {
        "slug": "alpha-coder",
        **fields,
        "retired": False,
        "version": 1,
    }


def test_register_tool_fills_optional_fields_with_empty_text(ledger: Ledger) -> None:
    # when a tool is registered with only the required fields
    required = {"name": "Bare", "vendor": "Acme", "category": "Chat"}
    receipt = ledger.register_tool(EDITOR, "bare", required)
    # then the optional fields are recorded as empty strings
    event = single_new_event(ledger, 0, receipt)
    assert event.data == {
        "slug": "bare",
        **dict.fromkeys(rules.TOOL_FIELDS, ""),
        **required,
    }


BAD_SLUGS = ["Alpha", "alpha coder", "alpha_coder", "-alpha", "alpha-"]


@pytest.mark.parametrize(
    ("slug", "fields", "error"),
    [
        *[
            (slug, tool_fields(), errors.InvalidSlug)
            for slug in [*BAD_SLUGS, "", "a" * 65, "é"]
        ],
        ("alpha", {"name": "X", "vendor": "Y"}, errors.InvalidField),
        ("alpha", {"name": " ", "vendor": "Y", "category": "Z"}, errors.InvalidField),
        ("alpha", {**tool_fields(), "price": "Free"}, errors.InvalidField),
        ("alpha", tool_fields(tagline="x" * 301), errors.InvalidField),
    ],
    ids=[
        *["capitals", "space", "underscore", "leading-hyphen", "trailing-hyphen"],
        *["empty", "too-long", "not-ascii"],
        "no-category",
        "blank-name",
        "unknown-field",
        "long-tagline",
    ],
)
def test_register_tool_refuses_a_bad_slug_or_bad_fields(
    ledger: Ledger, slug: str, fields: dict[str, str], error: type
) -> None:
    refused(ledger, error, ledger.register_tool, EDITOR, slug, fields)


def test_register_tool_refuses_a_slug_already_taken(ledger: Ledger) -> None:
    register(ledger, "alpha")
    info = refused(
        ledger,
        errors.ToolAlreadyRegistered,
        ledger.register_tool,
        EDITOR,
        "alpha",
        tool_fields("Another"),
    )
    # the error names the slug and the first tool is untouched
    assert "alpha" in str(info.value)
    assert ledger.tool("alpha")["name"] == "Alpha"


def test_edit_tool_records_only_the_fields_that_change(ledger: Ledger) -> None:
    # given a tool
    register(ledger, "alpha")
    head = ledger.head_position()
    # when its name and tagline are edited (the vendor is sent unchanged)
    receipt = ledger.edit_tool(
        Context(actor="editor:e2", request_id="req-7"),
        "alpha",
        {"name": "Alpha 2", "tagline": "Now faster", "vendor": "Acme"},
        expected_version=1,
    )
    # then Tool.Edited holds just the changes, and no reason was needed
    event = single_new_event(ledger, head, receipt)
    assert receipt.version == 2
    assert envelope(event) == {
        "type": "Tool.Edited",
        "actor": "editor:e2",
        "reason": "",
        "request_id": "req-7",
    }
    assert event.data == {"changes": {"name": "Alpha 2", "tagline": "Now faster"}}
    assert ledger.tool("alpha")["name"] == "Alpha 2"


@pytest.mark.parametrize("field", sorted(rules.VERDICT_FIELDS))
def test_an_edit_of_a_verdict_field_is_recorded_with_its_reason(
    ledger: Ledger, field: str
) -> None:
    register(ledger, "alpha")
    receipt = ledger.edit_tool(
        EDITOR, "alpha", {field: "Changed"}, reason="vendor announcement"
    )
    event = single_new_event(ledger, 1, receipt)
    assert event.reason == "vendor announcement"
    assert event.data == {"changes": {field: "Changed"}}


def test_edit_tool_with_a_stale_expected_version_is_a_conflict(ledger: Ledger) -> None:
    # given a tool edited once (version 2)
    register(ledger, "alpha")
    ledger.edit_tool(EDITOR, "alpha", {"name": "Alpha 2"}, expected_version=1)
    # when an editor who saw version 1 edits it
    info = refused(
        ledger,
        errors.StaleVersion,
        ledger.edit_tool,
        EDITOR,
        "alpha",
        {"tagline": "Mine"},
        expected_version=1,
    )
    # then the conflict says which versions, and nothing was overwritten
    assert (info.value.expected, info.value.actual) == (1, 2)  # type: ignore[attr-defined]
    assert isinstance(info.value, errors.ConcurrencyConflict)
    assert ledger.tool("alpha")["tagline"] == "Writes the boring parts"


def test_retire_and_reinstate_tool_record_why(ledger: Ledger) -> None:
    register(ledger, "alpha")
    # when a tool is retired
    retired = ledger.retire_tool(
        EDITOR, "alpha", reason="discontinued", expected_version=1
    )
    # then Tool.Retired records who and why
    event = single_new_event(ledger, 1, retired)
    assert envelope(event) == {
        "type": "Tool.Retired",
        "actor": "editor:e1",
        "reason": "discontinued",
        "request_id": "req-editor",
    }
    assert event.data == {}
    assert ledger.tool("alpha")["retired"] is True
    # and when it is reinstated, Tool.Reinstated does
    back = ledger.reinstate_tool(
        EDITOR, "alpha", reason="relaunched", expected_version=2
    )
    event = single_new_event(ledger, 2, back)
    assert (event.type, event.reason, back.version) == (
        "Tool.Reinstated",
        "relaunched",
        3,
    )
    assert ledger.tool("alpha")["retired"] is False


Command = Callable[[Ledger], object]


def edit(changes: dict[str, str], **keywords: Any) -> Command:
    return lambda ledger: ledger.edit_tool(EDITOR, "alpha", changes, **keywords)


def retire(**keywords: Any) -> Command:
    return lambda ledger: ledger.retire_tool(EDITOR, "alpha", **keywords)


def reinstate(reason: str) -> Command:
    return lambda ledger: ledger.reinstate_tool(EDITOR, "alpha", reason=reason)


def retired(ledger: Ledger) -> None:
    register(ledger, "alpha")
    ledger.retire_tool(EDITOR, "alpha", reason="gone")


def edited(ledger: Ledger) -> None:
    register(ledger, "alpha")
    ledger.edit_tool(EDITOR, "alpha", {"name": "Renamed"})


@pytest.mark.parametrize(
    ("given", "command", "error"),
    [
        *[
            (register, edit({field: "Changed"}, reason="  "), errors.ReasonRequired)
            for field in sorted(rules.VERDICT_FIELDS)
        ],
        (register, edit({"name": "Alpha", "vendor": "Acme"}), errors.NothingChanged),
        (nothing, edit({"name": "X"}), errors.ToolNotFound),
        (register, retire(reason=""), errors.ReasonRequired),
        (retired, retire(reason="x"), errors.ToolRetired),
        (edited, retire(reason="gone", expected_version=1), errors.StaleVersion),
        (retired, reinstate(""), errors.ReasonRequired),
        (register, reinstate("x"), errors.ToolNotRetired),
    ],
    ids=[
        *[f"{field}-without-reason" for field in sorted(rules.VERDICT_FIELDS)],
        "edit-nothing",
        "edit-unknown",
        "retire-without-reason",
        "retire-twice",
        "retire-stale",
        "reinstate-without-reason",
        "reinstate-active",
    ],
)
def test_edit_retire_and_reinstate_tool_refuse(
    ledger: Ledger, given: Given, command: Command, error: type
) -> None:
    given(ledger)
    refused(ledger, error, command, ledger)
