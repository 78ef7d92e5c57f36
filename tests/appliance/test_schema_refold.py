"""A box that learns new kinds in a schema step applies the records it already held.

An older box stores a newer peer's records of kinds it does not know without applying
them. When the box is upgraded, the schema step that brings those kinds refolds their
entities, so a food bank or a ride synced before the upgrade shows after it.
"""

from __future__ import annotations

from boxes import trust
from recordmaker import Origin

from appliance.box import DB_FILE
from appliance.db import FOOD_KINDS, STEPS, TRAVEL_KINDS, database, open_database
from appliance.kinds import KINDS
from appliance.models import FOOD, TRAVEL, Org


def test_every_kind_a_step_teaches_is_a_kind():
    assert set(FOOD_KINDS) | set(TRAVEL_KINDS) <= set(KINDS)
    assert not set(FOOD_KINDS) & set(TRAVEL_KINDS)


def test_records_stored_before_the_upgrade_apply_after_it(box):
    other = Origin("hill-centre")
    trust(box, other)
    made = other.make(
        "org.created", {"name": "Hill Pantry", "type": "foodbank", "place": "Hill Road"}
    )
    assert box.log.ingest([made.line]).ok
    # Make this box what a schema-3 box was: no food or travel tables, no food columns,
    # the record stored but never applied.
    for model in [*FOOD, *TRAVEL]:
        database.execute_sql(f'DROP TABLE "{model._meta.table_name}"')
    database.execute_sql('DROP INDEX "post_org"')
    for column in ("org", "use_by", "covered"):
        database.execute_sql(f'ALTER TABLE "post" DROP COLUMN "{column}"')
    database.execute_sql("PRAGMA user_version = 3")
    open_database(box.data_dir / DB_FILE)
    assert Org.get_by_id(made.id).name == "Hill Pantry"
    assert database.execute_sql("PRAGMA user_version").fetchone()[0] == len(STEPS)
