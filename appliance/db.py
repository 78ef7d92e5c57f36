"""The one SQLite database of a box: a deferred peewee handle and its schema steps."""

from __future__ import annotations

from pathlib import Path

from peewee import SqliteDatabase

# Deferred: nothing opens a database at import time; Box.open() initialises it.
# Every transaction starts IMMEDIATE because the web server and the sync run write the
# same file: taking the write lock up front avoids deadlocked upgrades from SHARED.
database = SqliteDatabase(None, lock_type="IMMEDIATE")

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    # FULL: a record the box authored is on disk before the request answers, so a
    # power cut can never make the box reuse a seq it already sent to a peer.
    "synchronous": 2,
    "busy_timeout": 10_000,
    # 512 KiB of page cache per connection (one per server thread) instead of 2 MiB:
    # the board reads a few index pages per request and the box has little memory.
    "cache_size": -512,
}


def open_database(path: Path) -> SqliteDatabase:
    """Point the shared handle at the box's file and bring its schema up to date."""
    if not database.is_closed():
        database.close()
    # secure_delete: freed pages and cells are zeroed, so an erased member's redacted
    # records and removed rows leave no bytes behind in the file (appliance/erasure.py).
    database.init(str(path), pragmas={**PRAGMAS, "secure_delete": 1}, check_same_thread=False)
    database.connect(reuse_if_open=True)
    migrate(database)
    return database


def _step_1(db: SqliteDatabase) -> None:
    from appliance import models

    db.create_tables(models.ALL_MODELS)
    # Full-text search over posts; rowid is the post row's rowid (kept stable by upsert).
    db.execute_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS post_fts USING fts5("
        "post_id UNINDEXED, title, details, place, tokenize='unicode61 remove_diacritics 2')"
    )
    # The board's order (status_rank, created_ms DESC, id) read straight from an index,
    # so a page costs LIMIT rows rather than a sort of every open post.
    db.execute_sql("CREATE INDEX post_board ON post (hidden, status_rank, created_ms DESC, id)")
    db.execute_sql("CREATE INDEX post_board_staff ON post (status_rank, created_ms DESC, id)")


def _step_2(db: SqliteDatabase) -> None:
    from appliance import models

    db.create_tables(models.SYNC)


def _step_3(db: SqliteDatabase) -> None:
    from appliance import models

    db.create_tables(models.ASSISTED)


def _add_columns(db: SqliteDatabase, table: str, columns: dict[str, str]) -> None:
    """Add the columns a table lacks (a fresh box's step 1 already made them)."""
    have = {row[1] for row in db.execute_sql(f'PRAGMA table_info("{table}")')}
    for name, decl in columns.items():
        if name not in have:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {decl}')


FOOD_KINDS = [
    "org.created",
    "org.changed",
    "org.role.set",
    "item.created",
    "item.changed",
    "pledge.made",
    "pledge.withdrawn",
    "claim.made",
    "claim.withdrawn",
    "shift.created",
    "shift.cancelled",
    "shift.joined",
    "shift.left",
]
TRAVEL_KINDS = [
    "access_need.set",
    "driver_check.set",
    "provider.set",
    "driver.vouched",
    "driver.withdrawn",
    "ride.requested",
    "ride.addresses",
    "ride.taken",
    "ride.handed_back",
    "ride.started",
    "ride.done",
    "ride.cancelled",
    "ride.paid",
]


def _refold_kinds(db: SqliteDatabase, kinds: list[str]) -> None:
    """Apply records of kinds this step teaches the box.

    An older box stores records of kinds it does not know (a newer peer's) without
    applying them; once it learns them, their entities are refolded so they show.
    """
    from appliance import projection

    marks = ", ".join("?" * len(kinds))
    rows = db.execute_sql(
        f"SELECT DISTINCT aggregate FROM stored_record WHERE kind IN ({marks})", kinds
    ).fetchall()
    projection.refold_many([row[0] for row in rows])


def _step_4(db: SqliteDatabase) -> None:
    from appliance import models

    # Food banks: organisations, the item catalogue, item lines with pledges and claims,
    # shifts. Posts written before this step have no food fields, so NULL is their truth.
    db.create_tables(models.FOOD)
    _add_columns(
        db,
        "post",
        {
            "org": "VARCHAR(255)",
            "use_by": "VARCHAR(255)",
            "covered": "INTEGER NOT NULL DEFAULT 0",
        },
    )
    db.execute_sql('CREATE INDEX IF NOT EXISTS "post_org" ON "post" ("org")')
    _refold_kinds(db, FOOD_KINDS)


def _step_5(db: SqliteDatabase) -> None:
    from appliance import models

    # Community travel: the centres' lists, drivers' vouches, rides and their journeys.
    db.create_tables(models.TRAVEL)
    _refold_kinds(db, TRAVEL_KINDS)


GOVERNANCE_KINDS = [
    "flag.raised",
    "flags.cleared",
    "appeal.made",
    "appeal.decided",
    "hide.reviewed",
    "post.stale_check",
    "post.still_needed",
    "post.staled",
    "post.revived",
    "conduct.published",
    "rule.set",
    "moderation.policy.set",
    "conduct.accepted",
    "vouch.reviewed",
    "member.erased",
    "proposal.made",
    "vote.cast",
    "proposal.decided",
]


def _step_6(db: SqliteDatabase) -> None:
    from appliance import models

    # Governance and privacy: codes of conduct, rules and votes, flags, the moderation
    # log, appeals, the "still needed?" sweep, vouch reviews and erasures.
    db.create_tables(models.GOVERNANCE)
    db.create_tables([models.ApiToken])  # personal tokens for the JSON API (local only)
    _add_columns(
        db,
        "post",
        {
            "fresh_ms": "INTEGER",
            "asked_ms": "INTEGER",
            "stale": "INTEGER NOT NULL DEFAULT 0",
        },
    )
    _add_columns(
        db,
        "member",
        {"conduct_version": "INTEGER NOT NULL DEFAULT 0", "erased": "INTEGER NOT NULL DEFAULT 0"},
    )
    # Posts fold hides into the moderation log now: refold every post that has one.
    _refold_kinds(db, [*GOVERNANCE_KINDS, "post.hidden", "post.unhidden", "comment.hidden"])
    # Erasures stored before this box knew the kind: redact what they cover now.
    from appliance import erasure

    erasure.apply_stored()


# Schema steps, in order. Step N brings user_version from N-1 to N in one transaction.
STEPS = [_step_1, _step_2, _step_3, _step_4, _step_5, _step_6]


class NewerSchemaError(Exception):
    """The database was written by a newer Kith than the one running."""


def migrate(db: SqliteDatabase) -> None:
    """Apply every schema step the file has not had yet, one transaction per step."""
    current = db.execute_sql("PRAGMA user_version").fetchone()[0]
    if current > len(STEPS):
        # An older version after a rollback must not write into tables it does not know.
        db.close()
        raise NewerSchemaError(
            f"this box's database was written by a newer version of Kith (schema {current}; "
            f"this one knows {len(STEPS)}): start the newer version again, or go back with "
            "`kith update --rollback`, which carries the data back"
        )
    for number, step in enumerate(STEPS, start=1):
        if number <= current:
            continue
        with db.atomic():
            step(db)
            db.execute_sql(f"PRAGMA user_version = {number}")
