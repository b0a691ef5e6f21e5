"""A corpus of hostile requests over raw sockets: never a 5xx, never a hang.

See :mod:`tests.reliability.hostile` for the corpus. schemathesis covers
what the OpenAPI schema describes (``test_schemathesis.py``); this covers
what it cannot: broken framing, stalled clients, bytes that are not text.
"""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import issue_tokens, make_home, problem, served
from tests.api.raw_http import connect, parse, read_until_closed
from tests.reliability import hostile


def test_no_hostile_request_gets_a_5xx_hangs_or_appends(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    found = hostile.run(home, issue_tokens(home))
    assert len(found.outcomes) >= 70
    assert [o for o in found.outcomes if o.hung] == []
    assert [(o.case, o.status) for o in found.failures] == []
    assert found.appended == 0
    # stalled clients were cut off by the server, not left to the client
    slow = {o.case: o for o in found.outcomes if "halfway" in o.case}
    assert all(o.seconds < hostile.WAIT / 2 for o in slow.values())
    assert slow["body that stops halfway"].status == 408
    # what could be answered was answered: a refusal, not a dropped connection
    answered = [o for o in found.outcomes if o.status is not None]
    assert len(answered) >= len(found.outcomes) - 5


def test_a_body_whose_chunked_framing_breaks_is_a_400(tmp_path: Path) -> None:
    """granian reports it as the client's disconnect, which Litestar made a 500."""
    home = make_home(tmp_path)
    tokens = issue_tokens(home)
    broken = hostile.request(
        "POST",
        "/api/tools",
        {
            "Authorization": f"Bearer {tokens['editor']}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        b"zz\r\n{}\r\n0\r\n\r\n",
    )
    with served(home) as base, connect(base) as sock:
        sock.sendall(broken)
        answer = parse(read_until_closed(sock))
    body = problem(answer, 400)
    assert body["type"] == "/problems/bad-request"
    assert "ended before it was complete" in body["detail"]
