"""The verdict history summarised: each tool's card at the end of every day.

A tool with a million votes has a million rows of history; a chart or a
reader skimming months wants a few hundred points. ``card_days`` keeps, per
tool and UTC day, how many events changed the card that day (and how many of
them were community votes), the card's four counts after the day's last
change and that change's position. Weeks (ISO, from Monday) and months are
rolled up from the days when asked, which reads at most a row per day, never
the history itself.
"""

from __future__ import annotations

from projections.decoding import day_of
from projections.readmodel_parts import Rows, Tally

CARD_DAYS = Tally(
    "card_days",
    """
    CREATE TABLE card_days (
        tool TEXT NOT NULL, day TEXT NOT NULL,
        changes INTEGER NOT NULL, votes INTEGER NOT NULL,
        panel_ship INTEGER NOT NULL, panel_skip INTEGER NOT NULL,
        community_ship INTEGER NOT NULL, community_skip INTEGER NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (tool, day)
    ) WITHOUT ROWID""",
    key=("tool", "day"),
    insert=(
        "INSERT INTO card_days VALUES (?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (tool, day) DO UPDATE SET "
        "changes = changes + excluded.changes, votes = votes + excluded.votes, "
        "panel_ship = excluded.panel_ship, panel_skip = excluded.panel_skip, "
        "community_ship = excluded.community_ship, "
        "community_skip = excluded.community_skip, position = excluded.position"
    ),
)

BUCKETS = {
    "day": "day",
    "week": "date(day, '-' || ((strftime('%w', day) + 6) % 7) || ' days')",
    "month": "substr(day, 1, 7) || '-01'",
}
"""By bucket size, the SQL of the first day of the bucket a ``day`` falls in."""


def rollup(bucket: str, *, newest_first: bool = False) -> str:
    """The SQL of a page of one tool's buckets of ``bucket`` size.

    Parameters: the tool, a day bound (oldest first: the buckets from that
    day on; newest first: the buckets before it) and how many buckets. The
    counts and the position are the bucket's last day's: SQLite takes the
    bare columns from the row where ``max(position)`` is found.
    """
    start = BUCKETS[bucket]
    where, order = ("day < ?", "DESC") if newest_first else ("day >= ?", "")
    return (
        f"SELECT {start} AS start, sum(changes), sum(votes), max(position), "
        "panel_ship, panel_skip, community_ship, community_skip "
        f"FROM card_days WHERE tool = ? AND {where} "
        f"GROUP BY start ORDER BY start {order} LIMIT ?"
    )


def counted(
    rows: Rows,
    tool: str,
    timestamp: str,
    position: int,
    counts: tuple[int, int, int, int],
    vote: int,
) -> None:
    """Adds one change of ``tool``'s card, at ``timestamp``, to its day."""
    days = rows[CARD_DAYS]
    key = (tool, day_of(timestamp))
    entry = days.get(key)
    if entry is None:
        days[key] = [*key, 1, vote, *counts, position]
    else:
        entry[2] += 1
        entry[3] += vote
        entry[4:9] = (*counts, position)
