"""Two writers editing one tool at once: one edit wins, the other is a 409.

The workers of one node take turns through a file lock, so they never lose
a race to each other; a writer outside that lock (another node's, or one
with ``LEDGER_WRITE_LOCK=0``) can.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from tests.api.helpers import CARD, Api, ledger_settings, settings_for
from tests.stores import appends_held


def _race(api: Api, home: Path, other: TestClient[Litestar]) -> list[httpx.Response]:
    """Both clients PATCH the same tool while the store's write lock is held.

    Holding the store's write lock makes both commands load version 1 and
    decide before either can append.
    """
    answers: list[httpx.Response] = []

    def edit(client: TestClient[Litestar], tagline: str) -> None:
        answers.append(
            client.patch(CARD, json={"tagline": tagline}, headers=api.auth("editor"))
        )

    racers = [
        threading.Thread(target=edit, args=(api.client, "Tagline from writer one")),
        threading.Thread(target=edit, args=(other, "Tagline from writer two")),
    ]
    with appends_held(ledger_settings(home)):
        for racer in racers:
            racer.start()
        time.sleep(0.5)
    for racer in racers:
        racer.join(15)
    return answers


def test_an_edit_that_loses_a_race_is_409_and_appends_nothing(
    api: Api, home: Path
) -> None:
    head = api.head()
    with TestClient(app=create_app(settings_for(home, write_lock=False))) as other:
        answers = _race(api, home, other)
    assert sorted(answer.status_code for answer in answers) == [200, 409]
    loser = next(answer for answer in answers if answer.status_code == 409)
    assert loser.json()["type"] == "/problems/concurrency-conflict"
    assert "another writer" in loser.json()["detail"]
    assert api.head() == head + 1


@pytest.mark.sqlite_only(
    "the writer lock is only taken on SQLite; PostgreSQL's race (test_nodes.py)"
)
def test_workers_of_one_node_take_turns_instead_of_racing(api: Api, home: Path) -> None:
    head = api.head()
    with TestClient(app=create_app(settings_for(home))) as same_node:
        answers = _race(api, home, same_node)
    assert [answer.status_code for answer in answers] == [200, 200]
    assert sorted(answer.json()["version"] for answer in answers) == [2, 3]
    assert api.head() == head + 2
