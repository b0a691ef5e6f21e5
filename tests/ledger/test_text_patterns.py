"""The patterns that state the ledger's text rules in the API's schema.

A client reads them in another regex dialect than Python's, so each must
mean in any dialect exactly what the ledger's own checks do.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import durations, errors, rules


def test_not_blank_is_exactly_what_strip_leaves_something_of() -> None:
    found = re.compile(rules.NOT_BLANK)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert (found.search(char) is None) == char.isspace(), hex(code)
    # No class shorthand (\s, \S, \d) whose meaning differs between dialects.
    assert not re.search(r"\\[sSdDwW]", rules.NOT_BLANK)


@pytest.mark.parametrize("text", ["   ", "\t\n", "\x1c\x1f", "\u3000\xa0", ""])
def test_blank_text_is_refused_by_both(text: str) -> None:
    assert re.search(rules.NOT_BLANK, text) is None
    with pytest.raises(errors.InvalidField):
        rules.text(text, "name", rules.MAX_NAME)


def test_a_slug_with_a_trailing_newline_is_refused() -> None:
    # Python's $ matches before a final newline; a schema's does not.
    with pytest.raises(errors.InvalidSlug):
        rules.slug("code-llama-4\n")
    assert rules.slug("code-llama-4") == "code-llama-4"


@given(
    st.text(
        alphabet=st.sampled_from("0123456789mhdMHDx \t\n\ufeff"), min_size=1, max_size=9
    )
)
def test_duration_shape_matches_what_parse_reads(text: str) -> None:
    shaped = re.search(durations.SHAPE, text)
    if shaped is None:
        with pytest.raises(ValueError, match="a duration is"):
            durations.parse(text)
        return
    # Within the shape, parse refuses only zero and more than ten years.
    number, unit = re.findall(r"([0-9]+)([mhdMHD])", text)[0]
    lifetime = int(number) * durations.UNITS[unit.lower()]
    if timedelta(0) < lifetime <= durations.LONGEST:
        assert durations.parse(text) == lifetime
    else:
        with pytest.raises(ValueError, match=r"longer than zero|at most"):
            durations.parse(text)
