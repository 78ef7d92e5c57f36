"""Assisted posting without HTTP: staff post for a walk-in visitor, who may leave a name
and a way to reach them that only this centre's staff see and no record ever carries."""

from __future__ import annotations

import json

import pytest
from boxes import START_MS, record_count, trust
from recordmaker import DAY_MS, Origin

from appliance.errors import InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.kinds import check_body
from appliance.models import AssistedVisitor, Post
from appliance.records import RecordError
from appliance.services import assisted, board

VISITOR = {"visitor_name": "Mrs Okoye", "visitor_contact": "07700 900123, or Tuesdays at the café"}


def form(**change) -> dict:
    data = {
        "type": "need",
        "title": "Help carrying shopping upstairs",
        "details": "Third floor, no lift.",
        "category": "household",
        "place": "Riverside estate",
        "needed_by": "",
        **VISITOR,
    }
    return {**data, **change}


def exported(box) -> str:
    return b"\n".join(box.log.export()).decode()


def test_staff_post_for_a_visitor_as_themselves_marked_assisted(box, staff):
    post_id = assisted.create_assisted_post(box, staff, form())
    [record] = [r for r in map(json.loads, box.log.export()) if r["kind"] == "post.created"]
    assert record["author"] == staff.id
    assert record["body"] == {
        "type": "need",
        "title": "Help carrying shopping upstairs",
        "details": "Third floor, no lift.",
        "category": "household",
        "place": "Riverside estate",
        "needed_by": None,
        "assisted": True,
    }
    assert Post.get_by_id(post_id).author == staff.id


def test_the_visitors_details_are_never_in_a_record(box, staff):
    post_id = assisted.create_assisted_post(box, staff, form())
    assert AssistedVisitor.get_by_id(post_id).contact == VISITOR["visitor_contact"]
    text = exported(box)
    assert "Okoye" not in text and "07700" not in text


def test_only_staff_post_for_visitors(box, alice):
    before = record_count()
    with pytest.raises(NotSignedIn):
        assisted.create_assisted_post(box, None, form())
    with pytest.raises(NotAllowed):
        assisted.create_assisted_post(box, alice, form())
    assert record_count() == before
    assert AssistedVisitor.select().count() == 0


def test_every_bad_field_is_reported_at_once_and_nothing_is_kept(box, staff):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        assisted.create_assisted_post(
            box, staff, form(title="", visitor_name="x" * 61, visitor_contact="y" * 201)
        )
    assert set(excinfo.value.fields) == {"title", "visitor_name", "visitor_contact"}
    assert record_count() == before
    assert AssistedVisitor.select().count() == 0


def test_the_visitors_details_are_optional(box, staff):
    post_id = assisted.create_assisted_post(box, staff, form(visitor_name="", visitor_contact=""))
    assert assisted.assisted_note(post_id) == {"centre": "Test Centre"}
    assert [(p["id"], p["visitor"]) for p in assisted.recent(box, staff)] == [(post_id, None)]


def test_the_post_says_it_was_assisted_and_only_the_staff_list_names_the_visitor(box, staff, alice):
    post_id = assisted.create_assisted_post(box, staff, form())
    # The post's note is the same for everyone, staff included: a post page may be on the
    # hall's screen, so the visitor's details are only ever on the staff list.
    assert assisted.assisted_note(post_id) == {"centre": "Test Centre"}
    visitor = {"name": "Mrs Okoye", "contact": VISITOR["visitor_contact"]}
    assert [(p["id"], p["visitor"]) for p in assisted.recent(box, staff)] == [(post_id, visitor)]
    for viewer in (alice, None):
        with pytest.raises((NotAllowed, NotSignedIn)):
            assisted.recent(box, viewer)


def test_an_ordinary_post_has_no_note(box, alice, staff):
    post_id = board.create_post(box, alice, {k: v for k, v in form().items() if k not in VISITOR})
    assert assisted.assisted_note(post_id) is None
    assert assisted.assisted_note("0" * 64) is None


def test_an_assisted_post_from_another_centre_names_that_centre(box, staff):
    east = Origin("east", start_ms=START_MS - DAY_MS)
    trust(box, east.origin)
    body = board.check_post(box, form())
    records = [
        east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"}),
        east.make("post.created", {**body, "assisted": True}),
    ]
    assert box.log.ingest([r.line for r in records]).ok
    assert assisted.assisted_note(records[1].id) == {"centre": "East Centre"}


def test_forgetting_the_visitor_keeps_the_post(box, staff, alice):
    post_id = assisted.create_assisted_post(box, staff, form())
    with pytest.raises(NotAllowed):
        assisted.forget_visitor(box, alice, post_id)
    assisted.forget_visitor(box, staff, post_id)
    assert assisted.recent(box, staff)[0]["visitor"] is None
    with pytest.raises(NotFound):
        assisted.forget_visitor(box, staff, post_id)
    assert [p["id"] for p in assisted.recent(box, staff)] == [post_id]


def test_details_are_deleted_a_month_after_the_post_is_resolved(box, clock, staff):
    post_id = assisted.create_assisted_post(box, staff, form())
    board.resolve(box, staff, post_id, "Neighbour helped")
    clock.advance(assisted.RESOLVED_KEEP_DAYS * DAY_MS)
    assert assisted.recent(box, staff)[0]["visitor"] is not None
    clock.advance(1)
    assert assisted.recent(box, staff) == []
    assert AssistedVisitor.select().count() == 0
    assert assisted.assisted_note(post_id) == {"centre": "Test Centre"}  # still marked


def test_details_are_deleted_half_a_year_after_posting_even_if_open(box, clock, staff):
    post_id = assisted.create_assisted_post(box, staff, form())
    clock.advance(assisted.KEEP_DAYS * DAY_MS)
    assert assisted.recent(box, staff)[0]["visitor"] is not None
    clock.advance(1)
    assert assisted.recent(box, staff) == []
    assert AssistedVisitor.get_or_none(AssistedVisitor.post == post_id) is None


def test_recent_lists_posts_made_for_visitors_newest_first_for_staff(box, clock, staff, alice):
    first = assisted.create_assisted_post(box, staff, form(title="First"))
    clock.advance(1000)
    second = assisted.create_assisted_post(box, staff, form(title="Second", visitor_name=""))
    board.create_post(box, alice, form(title="Not assisted"))
    listed = assisted.recent(box, staff)
    assert [(p["id"], p["title"]) for p in listed] == [(second, "Second"), (first, "First")]
    assert listed[0]["visitor"] == {"name": "", "contact": VISITOR["visitor_contact"]}
    with pytest.raises(NotAllowed):
        assisted.recent(box, alice)


# --- the record: `assisted` is optional and only ever true -----------------------------


def post_fields(body_change: dict) -> dict:
    body = {
        "type": "need",
        "title": "t",
        "details": "",
        "category": "food",
        "place": "p",
        "needed_by": None,
        **body_change,
    }
    return {"kind": "post.created", "subject": None, "body": body}


def test_a_post_record_without_assisted_stays_valid():
    check_body(post_fields({}))
    check_body(post_fields({"assisted": True}))


@pytest.mark.parametrize("value", [False, 1, "true", None])
def test_assisted_is_true_or_left_out(value):
    with pytest.raises(RecordError, match="body.assisted must be true"):
        check_body(post_fields({"assisted": value}))
