"""Racing conditional edits of one tool: conflicts, never a lost update."""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import issue_tokens, make_home
from tests.reliability import contention


def test_racing_if_match_edits_lose_no_update(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    editor = issue_tokens(home)["editor"]
    found = contention.run(home, editor, clients=4, attempts=25)
    assert found.attempts == 100
    # every attempt was applied or refused as a conflict, nothing else
    assert found.other_answers == {}
    assert found.applied + found.conflicts == found.attempts
    # the threads did race: some lost, some won
    assert found.conflicts > 0
    assert found.applied > 0
    # each applied edit moved the version by one and is in the log once
    assert found.final_version == found.first_version + found.applied
    assert found.edits_logged == found.applied
    assert found.lost_updates == 0
