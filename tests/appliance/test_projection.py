"""Refolding many entities at once gives exactly what refolding them one by one gives.

`projection.refold_many` loads the records of a whole page's entities together and
writes their rows together (one upsert of posts, one delete of their comments, helpers
and thanks, and the search row only for a post that is new). These tests rebuild the
projections of random histories (the generator of test_convergence) every way there is
and compare every projection table and the search index.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from boxes import snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from recordmaker import Origin
from test_convergence import ORIGIN_NAMES, histories, receiving_box

from appliance import projection
from appliance.db import database
from appliance.models import PROJECTIONS, Post, StoredRecord
from appliance.records import parse


def wipe_projections() -> None:
    """Empty every projection table and the search index (the records stay)."""
    with database.atomic():
        for model in PROJECTIONS:
            model.delete().execute()
        database.execute_sql("DELETE FROM post_fts")


def all_aggregates() -> list[str]:
    return [a for (a,) in StoredRecord.select(StoredRecord.aggregate).distinct().tuples()]


def fts_rows_per_post() -> dict[str, int]:
    rows = database.execute_sql("SELECT post_id, count(*) FROM post_fts GROUP BY post_id")
    return dict(rows.fetchall())


@settings(max_examples=25, deadline=None)
@given(records=histories(), order=st.randoms(use_true_random=False))
def test_refold_many_equals_refolding_one_by_one(records, order):
    with tempfile.TemporaryDirectory() as tmp:
        box = receiving_box(Path(tmp), [Origin(name).origin for name in ORIGIN_NAMES])
        try:
            assert box.log.ingest([r.line for r in records]).ok
            ingested = snapshot()  # one refold_many over the whole batch
            aggregates = all_aggregates()
            order.shuffle(aggregates)

            wipe_projections()
            with database.atomic():
                for aggregate in aggregates:
                    projection.refold(aggregate)
            assert snapshot() == ingested

            wipe_projections()
            with database.atomic():
                projection.refold_many(aggregates)
            assert snapshot() == ingested

            # Again on top of existing rows, in two halves, with records already parsed:
            # upserts must not duplicate a search row nor leave a stale child row.
            half = len(aggregates) // 2
            known = {r.id: parse(r.line) for r in records[: len(records) // 2]}
            with database.atomic():
                projection.refold_many(aggregates[:half], known=known)
                projection.refold_many(aggregates[half:])
            assert snapshot() == ingested
            assert set(fts_rows_per_post().values()) <= {1}
            assert len(fts_rows_per_post()) == Post.select().count()
        finally:
            database.close()


def test_a_post_keeps_one_search_row_as_replies_arrive(tmp_path):
    east = Origin("east")
    joined = east.make("member.joined", {"name": "Ann"})
    post = east.make(
        "post.created",
        {
            "type": "need",
            "title": "Ladder wanted",
            "details": "For the gutter",
            "category": "tools",
            "place": "Elm Road",
            "needed_by": None,
        },
        author=joined.id,
    )
    box = receiving_box(tmp_path, [east.origin])
    try:
        assert box.log.ingest([joined.line, post.line]).ok
        for text in ("I have one", "Still needed?", "Collected, thanks"):
            comment = east.make("comment.added", {"text": text}, subject=post.id, author=joined.id)
            assert box.log.ingest([comment.line]).ok
        assert fts_rows_per_post() == {post.id: 1}
        found = database.execute_sql(
            "SELECT post_id FROM post_fts WHERE post_fts MATCH ?", ("gutter",)
        ).fetchall()
        assert found == [(post.id,)]
        assert Post.get_by_id(post.id).comment_count == 3
    finally:
        database.close()
