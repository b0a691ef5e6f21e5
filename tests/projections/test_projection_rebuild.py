"""A rebuild swaps a complete new generation in; readers and projectors follow."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from ledger.application import Ledger
from projections import Projector, ReadModel
from projections.rebuild import build, rebuild

from .helpers import CTX, TOOLS, dump, run_ledger, seed


def _votes(ledger: Ledger, count: int) -> None:
    for voter in range(count):
        ledger.cast_vote(CTX, f"voter-{voter}", TOOLS[voter % 3], "ship")


def _tamper(path: Path) -> None:
    conn = sqlite3.connect(os.path.realpath(path))
    conn.execute("UPDATE tools SET name = 'tampered'")
    conn.commit()
    conn.close()


def test_a_reader_opened_before_a_rebuild_sees_the_rebuilt_data(
    home: Path, ledger: Ledger, live_path: Path
) -> None:
    seed(ledger)
    projector = Projector(ledger, live_path)
    projector.catch_up()
    model = ReadModel(live_path)
    _tamper(live_path)
    assert {card.name for card in model.tools()} == {"tampered"}
    assert not live_path.is_symlink()  # the first generation is a plain file
    result = run_ledger(home, "rebuild")
    assert result.returncode == 0, result.stderr
    assert f"up to position {ledger.head_position()}" in result.stdout
    assert {card.name for card in model.tools()} == {"Alpha", "Beta", "Gamma"}
    # The name now links to the one generation left; the old one is gone.
    generations = list(live_path.parent.glob("readmodel-*.sqlite"))
    assert live_path.is_symlink()
    assert [os.path.realpath(live_path)] == [str(g) for g in generations]
    assert not Path(str(live_path) + "-wal").exists()
    result = run_ledger(home, "rebuild")
    assert result.returncode == 0, result.stderr
    assert [os.path.realpath(live_path)] == [
        str(g) for g in live_path.parent.glob("readmodel-*.sqlite")
    ]
    assert generations[0].exists() is False
    # A started projector moves to the new generation too.
    projector.start()
    receipt = ledger.cast_vote(CTX, "after-the-swap", "alpha", "skip")
    assert projector.wait_for(receipt.position, timeout=5)
    card = model.tool("alpha")
    assert card is not None
    assert card.community.skip == 1
    projector.close()
    model.close()


def test_readers_never_see_a_half_built_view(
    ledger: Ledger, live_path: Path, tmp_path: Path
) -> None:
    seed(ledger)
    _votes(ledger, 600)
    head = ledger.head_position()
    projector = Projector(ledger, live_path)
    projector.catch_up()
    projector.close()
    _tamper(live_path)
    model = ReadModel(live_path)
    seen: list[tuple[int, str, int]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                cards = model.tools()
                total = sum(card.community.total for card in cards)
                seen.append((model.position(), cards[0].name, total))
        except BaseException as error:
            failures.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(3):
        rebuild(ledger, live_path, batch_size=50)
    done.set()
    reader.join()
    model.close()
    assert not failures
    assert seen
    assert all(position == head and total == 600 for position, _, total in seen)
    names = [name for _, name, _ in seen]
    assert names[-1] == "Alpha"
    first_rebuilt = names.index("Alpha") if "Alpha" in names else len(names)
    assert set(names[first_rebuilt:]) == {"Alpha"}, "went back to the old view"
    assert dump(live_path)["tools"] == dump(_clean(ledger, tmp_path))["tools"]


def _clean(ledger: Ledger, tmp_path: Path) -> Path:
    path = tmp_path / "clean.sqlite"
    build(ledger, path)
    return path
