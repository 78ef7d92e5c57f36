"""Helpers for tests of the core: boxes on a settable clock, members, trust, snapshots.

Every box in one process shares the one peewee handle (appliance.db.database), so a
test that uses several boxes calls `activate(box)` before touching each one; tests of
foreign records usually build them with recordmaker instead of a second box.
"""

from __future__ import annotations

from pathlib import Path

from kithtest import Clock
from peewee import AutoField
from recordmaker import BASE_MS, Origin

from appliance.box import DB_FILE, Box
from appliance.db import database, open_database
from appliance.models import PROJECTIONS, StoredRecord
from appliance.services import accounts, centre

# 2026-01-01 12:00 UTC: a Thursday, noon in London, so "today" is unambiguous.
START_MS = BASE_MS + 12 * 3600 * 1000
PASSWORD = "correct horse battery"


def activate(box: Box) -> Box:
    """Point the shared database handle at this box's file and return the box."""
    open_database(box.data_dir / DB_FILE)
    return box


def new_box(path: Path, clock: Clock | None = None, centre_name: str | None = None) -> Box:
    """Create a box in path on a settable clock, with a centre if a name is given."""
    box = Box.create(path)
    box.log.now_ms = clock or Clock(START_MS)
    if centre_name:
        centre.create_centre(box, centre_name)
    return box


def trust(box: Box, *origins: Origin | Box | str) -> list[str]:
    """Make box accept records of the given origins; return the trust.granted ids.

    An origin is a made-up Origin, another Box, or an origin's public key text.
    """
    ids = []
    for other in origins:
        origin = other if isinstance(other, str) else other.origin
        rec = box.log.append("trust.granted", {"origin": origin, "name": f"peer {origin[:6]}"})
        ids.append(rec.id)
    return ids


def trust_each_other(*boxes: Box) -> None:
    """Make every box trust every other one (switching the database to each in turn)."""
    for box in boxes:
        activate(box)
        trust(box, *(b for b in boxes if b is not box))


def member(box: Box, name: str) -> accounts.Actor:
    """Sign up a member on the box and return them as an Actor."""
    return accounts.actor_for(box, accounts.sign_up(box, name, PASSWORD))


def with_role(box: Box, name: str, role: str) -> accounts.Actor:
    """Sign up a member and give them a role as the box itself does at `kith init`."""
    member_id = accounts.sign_up(box, name, PASSWORD)
    box.log.append("role.granted", {"role": role, "expires": None}, subject=member_id)
    return accounts.actor_for(box, member_id)


def record_count() -> int:
    """Return how many records the active box stores."""
    return StoredRecord.select().count()


def snapshot() -> dict[str, list[tuple]]:
    """Return every projection table and the post search index, as sorted rows.

    Auto-increment row ids are left out: they depend on arrival order, not on state.
    """
    dump: dict[str, list[tuple]] = {}
    for model in PROJECTIONS:
        fields = [f for f in model._meta.sorted_fields if not isinstance(f, AutoField)]
        rows = model.select(*fields).tuples()
        dump[model._meta.table_name] = sorted(rows, key=repr)
    fts = database.execute_sql("SELECT post_id, title, details, place FROM post_fts")
    dump["post_fts"] = sorted(fts.fetchall(), key=repr)
    return dump
