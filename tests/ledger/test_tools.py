"""Tools: registered, edited, retired and reinstated, and the rules on each."""

from __future__ import annotations

import pytest

from ledger import errors, rules
from ledger.application import Ledger
from ledger.context import Context
from ledger.domainmodel import Tool

from .helpers import (
    EDITOR,
    envelope,
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


@pytest.mark.parametrize(
    "slug",
    ["Alpha", "alpha coder", "alpha_coder", "-alpha", "alpha-", "", "a" * 65, "é"],
)
def test_register_tool_refuses_a_slug_that_is_not_lowercase_url_safe(
    ledger: Ledger, slug: str
) -> None:
    # when a tool is registered under a bad slug, then nothing is appended
    refused(
        ledger, errors.InvalidSlug, ledger.register_tool, EDITOR, slug, tool_fields()
    )


def test_register_tool_refuses_a_slug_already_taken(ledger: Ledger) -> None:
    # given a registered tool
    register(ledger, "alpha")
    # when another tool is registered under the same slug
    info = refused(
        ledger,
        errors.ToolAlreadyRegistered,
        ledger.register_tool,
        EDITOR,
        "alpha",
        tool_fields("Another"),
    )
    # then the error names the slug and the first tool is untouched
    assert "alpha" in str(info.value)
    assert ledger.tool("alpha")["name"] == "Alpha"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "X", "vendor": "Y"}, errors.InvalidField),  # no category
        ({"name": " ", "vendor": "Y", "category": "Z"}, errors.InvalidField),
        ({**tool_fields(), "price": "Free"}, errors.InvalidField),
        ({**tool_fields(), "tagline": "x" * 301}, errors.InvalidField),
    ],
)
def test_register_tool_refuses_missing_unknown_or_oversized_fields(
    ledger: Ledger, fields: dict[str, str], error: type[Exception]
) -> None:
    refused(ledger, error, ledger.register_tool, EDITOR, "alpha", fields)


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
def test_edit_of_a_verdict_field_needs_a_reason(ledger: Ledger, field: str) -> None:
    # given a tool
    register(ledger, "alpha")
    # when a field a verdict rests on is changed without a reason, it is refused
    refused(
        ledger,
        errors.ReasonRequired,
        ledger.edit_tool,
        EDITOR,
        "alpha",
        {field: "Changed"},
        reason="  ",
    )
    # and with a reason it is recorded, reason included
    receipt = ledger.edit_tool(
        EDITOR, "alpha", {field: "Changed"}, reason="vendor announcement"
    )
    event = single_new_event(ledger, receipt.position - 1, receipt)
    assert event.reason == "vendor announcement"
    assert event.data == {"changes": {field: "Changed"}}


def test_edit_tool_that_changes_nothing_is_refused(ledger: Ledger) -> None:
    register(ledger, "alpha")
    refused(
        ledger,
        errors.NothingChanged,
        ledger.edit_tool,
        EDITOR,
        "alpha",
        {"name": "Alpha", "vendor": "Acme"},
    )


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


def test_edit_of_an_unknown_tool_is_not_found(ledger: Ledger) -> None:
    refused(
        ledger, errors.ToolNotFound, ledger.edit_tool, EDITOR, "nope", {"name": "X"}
    )


def test_retire_and_reinstate_tool_need_reasons(ledger: Ledger) -> None:
    # given a tool
    register(ledger, "alpha")
    # when it is retired without a reason, it is refused
    refused(
        ledger, errors.ReasonRequired, ledger.retire_tool, EDITOR, "alpha", reason=""
    )
    # when it is retired with one
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
    # and a retired tool cannot be retired again
    refused(ledger, errors.ToolRetired, ledger.retire_tool, EDITOR, "alpha", reason="x")
    # when it is reinstated, that too needs a reason
    refused(
        ledger, errors.ReasonRequired, ledger.reinstate_tool, EDITOR, "alpha", reason=""
    )
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


def test_reinstate_of_an_active_tool_is_refused(ledger: Ledger) -> None:
    register(ledger, "alpha")
    refused(
        ledger,
        errors.ToolNotRetired,
        ledger.reinstate_tool,
        EDITOR,
        "alpha",
        reason="x",
    )


def test_retire_with_a_stale_expected_version_is_a_conflict(ledger: Ledger) -> None:
    register(ledger, "alpha")
    ledger.edit_tool(EDITOR, "alpha", {"name": "Renamed"})
    refused(
        ledger,
        errors.StaleVersion,
        ledger.retire_tool,
        EDITOR,
        "alpha",
        reason="gone",
        expected_version=1,
    )
