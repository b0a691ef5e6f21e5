"""The read models' tables, created and evolved by sqlite-utils migrations.

Every table is keyed so that ``SELECT *`` ordered by its key is the same for
an incremental projection and a full rebuild: no rowids that depend on how
many times a row was replaced, no wall-clock values (times come from events).

Indexes that only queries need are a migration of their own, so a rebuild can
bulk-load into bare tables and index them once at the end, which is much
faster than keeping the indexes up to date row by row.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from projections.store import SQL

TRACKING = "readmodel"
"""The tracking row's name: one position for every read model in the file."""

migrations = Migrations("projections.readmodel")

FIGURE_COLUMNS = """
    {p}_ship INTEGER NOT NULL, {p}_skip INTEGER NOT NULL, {p}_total INTEGER NOT NULL,
    {p}_pct REAL, {p}_low REAL, {p}_high REAL"""

TABLES = {
    "tracking": """
        CREATE TABLE tracking (
            name TEXT PRIMARY KEY,
            position INTEGER NOT NULL
        ) WITHOUT ROWID""",
    # One card per tool: its fields, both figure sets and what it reflects.
    "tools": f"""
        CREATE TABLE tools (
            slug TEXT PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL, vendor TEXT NOT NULL, category TEXT NOT NULL,
            tagline TEXT NOT NULL, description TEXT NOT NULL, entry TEXT NOT NULL,
            license TEXT NOT NULL,
            {FIGURE_COLUMNS.format(p="panel")},
            {FIGURE_COLUMNS.format(p="community")},
            version INTEGER NOT NULL,
            position INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            retired INTEGER NOT NULL,
            registered_position INTEGER NOT NULL
        ) WITHOUT ROWID""",
    # Each version of a tool's own fields, so an as-of card is one lookup.
    "tool_versions": """
        CREATE TABLE tool_versions (
            slug TEXT NOT NULL, version INTEGER NOT NULL,
            name TEXT NOT NULL, vendor TEXT NOT NULL, category TEXT NOT NULL,
            tagline TEXT NOT NULL, description TEXT NOT NULL, entry TEXT NOT NULL,
            license TEXT NOT NULL, retired INTEGER NOT NULL,
            at TEXT NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (slug, version)
        ) WITHOUT ROWID""",
    "reviewers": """
        CREATE TABLE reviewers (
            handle TEXT PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL, lens TEXT NOT NULL, retired INTEGER NOT NULL,
            version INTEGER NOT NULL, enrolled_position INTEGER NOT NULL,
            position INTEGER NOT NULL, updated_at TEXT NOT NULL
        ) WITHOUT ROWID""",
    # The current review per (tool, reviewer); withdrawn ones are kept, flagged.
    "reviews": """
        CREATE TABLE reviews (
            id TEXT PRIMARY KEY,
            tool TEXT NOT NULL, reviewer TEXT NOT NULL,
            verdict TEXT NOT NULL, rationale TEXT NOT NULL,
            revision INTEGER NOT NULL,
            submitted_at TEXT NOT NULL, revised_at TEXT,
            withdrawn INTEGER NOT NULL,
            version INTEGER NOT NULL,
            submitted_position INTEGER NOT NULL, position INTEGER NOT NULL
        ) WITHOUT ROWID""",
    # ``lo``/``hi`` is the order-free key of the pair; ``a``/``b`` as published.
    "comparisons": """
        CREATE TABLE comparisons (
            lo TEXT NOT NULL, hi TEXT NOT NULL,
            id TEXT NOT NULL UNIQUE,
            a TEXT NOT NULL, b TEXT NOT NULL, question TEXT NOT NULL,
            retired INTEGER NOT NULL, version INTEGER NOT NULL,
            published_position INTEGER NOT NULL, position INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (lo, hi)
        ) WITHOUT ROWID""",
    # Each reviewer's live verdicts on both tools of a comparison.
    "splits": """
        CREATE TABLE splits (
            lo TEXT NOT NULL, hi TEXT NOT NULL, reviewer TEXT NOT NULL,
            lo_verdict TEXT, hi_verdict TEXT,
            PRIMARY KEY (lo, hi, reviewer)
        ) WITHOUT ROWID""",
    "head_to_head": """
        CREATE TABLE head_to_head (
            lo TEXT NOT NULL, hi TEXT NOT NULL,
            lo_picks INTEGER NOT NULL, hi_picks INTEGER NOT NULL,
            total INTEGER NOT NULL,
            PRIMARY KEY (lo, hi)
        ) WITHOUT ROWID""",
    # The audit index: every event of the log, envelope and data, as stored.
    "audit": """
        CREATE TABLE audit (
            position INTEGER PRIMARY KEY,
            at TEXT NOT NULL, type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
            version INTEGER NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
            request_id TEXT NOT NULL, data TEXT NOT NULL
        )""",
    # Every event that concerns a tool: ``tool`` (and ``other_tool`` for a
    # comparison's events) for the audit index by tool, and for an event that
    # changed the tool's card (``kind`` is then tool, review or vote) the
    # card's figures before and after it and the version of the tool's fields
    # it showed. That is the verdict history, and an as-of card is one lookup
    # of it. Figures are stored as the counts they derive from; shares and
    # intervals are a pure function of those.
    "tool_events": """
        CREATE TABLE tool_events (
            position INTEGER PRIMARY KEY,
            tool TEXT NOT NULL, other_tool TEXT, kind TEXT, tool_version INTEGER,
            before_panel_ship INTEGER, before_panel_skip INTEGER,
            before_community_ship INTEGER, before_community_skip INTEGER,
            panel_ship INTEGER, panel_skip INTEGER,
            community_ship INTEGER, community_skip INTEGER
        )""",
}

KEYS = {
    "tracking": "name",
    "tools": "slug",
    "tool_versions": "slug, version",
    "reviewers": "handle",
    "reviews": "id",
    "comparisons": "lo, hi",
    "splits": "lo, hi, reviewer",
    "head_to_head": "lo, hi",
    "audit": "position",
    "tool_events": "position",
}
"""Each table's ordering key: what makes ``SELECT *`` comparable row by row."""

READ_MODELS = (
    "tools",
    "reviews",
    "reviewers",
    "comparisons",
    "splits",
    "head_to_head",
    "history",
    "audit",
)
"""The tables queries answer from (the rest is state the fold needs)."""

INDEXES = (
    # Folding needs these, so they exist from the start.
    ("reviews", ("tool", "reviewer"), True),
    ("comparisons", ("hi",), False),
)

HISTORY_VIEW = """
    CREATE VIEW history AS
    SELECT e.position, e.tool AS slug, a.at, a.type, e.kind, a.actor, a.reason,
        e.tool_version, e.before_panel_ship, e.before_panel_skip,
        e.before_community_ship, e.before_community_skip,
        e.panel_ship, e.panel_skip, e.community_ship, e.community_skip
    FROM tool_events e JOIN audit a USING (position)
    WHERE e.kind IS NOT NULL"""


@migrations()
def m001_tables(db: Database) -> None:
    """Creates every table and the indexes the fold itself reads through."""
    for ddl in TABLES.values():
        db.execute(ddl)
    db.execute(HISTORY_VIEW)
    db.execute("INSERT INTO tracking (name, position) VALUES (?, 0)", [TRACKING])
    for table, columns, unique in INDEXES:
        db[table].create_index(columns, unique=unique)  # type: ignore[union-attr]


AUDIT_INDEXES = "m002_audit_indexes"
TOOL_EVENT_INDEXES = "m003_tool_event_indexes"


@migrations(name=AUDIT_INDEXES)
def m002_audit_indexes(db: Database) -> None:
    """The audit index by event type, actor and time; built last on rebuild."""
    audit = db["audit"]
    audit.create_index(("type", "position"))  # type: ignore[union-attr]
    audit.create_index(("actor", "position"))  # type: ignore[union-attr]
    audit.create_index(("at",))  # type: ignore[union-attr]


TOOL_EVENT_INDEX_DDL = (
    "CREATE INDEX IF NOT EXISTS idx_tool_events_tool_position "
    "ON tool_events (tool, position)",
    "CREATE INDEX IF NOT EXISTS idx_tool_events_other_tool "
    "ON tool_events (other_tool, position) WHERE other_tool IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS idx_tool_events_verdicts "
    "ON tool_events (position) WHERE kind IN ('tool', 'review')",
)
"""m003's indexes, as plain SQL: a bulk rebuild's fold builds them itself,
through another SQLite binding, and m003 then finds them there."""


@migrations(name=TOOL_EVENT_INDEXES)
def m003_tool_event_indexes(db: Database) -> None:
    """Events and history by tool, and the feed of verdict changes."""
    for ddl in TOOL_EVENT_INDEX_DDL:
        db.execute(ddl)


@migrations()
def m004_votes_from_audit(db: Database) -> None:
    """Drops the table of every vote's state, which a rebuild derived twice.

    Vote.Changed and Vote.Retracted name only the vote; its subject and last
    choice are in its earlier events. This migration first had them looked
    up in the audit by aggregate, an index that m005 drops again.
    """
    db.execute("DROP TABLE IF EXISTS votes")


@migrations()
def m005_votes_from_the_log(db: Database) -> None:
    """Drops the audit index by aggregate that m004 once built.

    The fold reads a vote's earlier events from the log instead, under the
    log's own primary key, so the read model need not index a million
    aggregate ids for the few votes changed in a batch.
    """
    db.execute("DROP INDEX IF EXISTS idx_audit_aggregate_id_position")


def migrate(conn: sqlite3.Connection, *, stop_before: str | None = None) -> None:
    """Applies pending migrations, once, even with several processes opening.

    The check is lock-free; applying takes the write lock and checks again, so
    two workers starting together cannot both create the tables.
    """
    db = Database(conn, execute_plugins=False, recursive_triggers=False)
    if not migrations.pending(db):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db, stop_before=stop_before)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def is_migrated(conn: sqlite3.Connection) -> bool:
    """Whether every migration, indexes included, has been applied."""
    db = Database(conn, execute_plugins=False, recursive_triggers=False)
    return not migrations.pending(db)


def tracked_position(conn: SQL) -> int:
    """The position every read model in the file reflects (0 before any)."""
    try:
        row = conn.execute(
            "SELECT position FROM tracking WHERE name = ?", (TRACKING,)
        ).fetchone()
    except sqlite3.OperationalError:  # no tables yet
        return 0
    return int(row[0]) if row else 0
