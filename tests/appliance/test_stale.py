"""The "still needed?" sweep without HTTP: asking, answering, going quiet and reviving."""

from __future__ import annotations

import json

import pytest
from boxes import START_MS, record_count, trust
from recordmaker import DAY_MS, Origin, post_body

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Post
from appliance.services import assisted, board, board_queries, moderation, stale

ASK_AFTER = 30 * DAY_MS  # the default stale_days
ANSWER_WITHIN = 7 * DAY_MS  # the default stale_answer_days


def new_post(box, actor, title="Ladder for the gutter", **change) -> str:
    data = {
        "type": "need",
        "title": title,
        "details": "",
        "category": "household",
        "place": "Mill Lane",
        "needed_by": "",
        **change,
    }
    return board.create_post(box, actor, data)


def kinds_written(box, since: int) -> list[dict]:
    """Return the records this box wrote after its seq `since`."""
    return [r for r in map(json.loads, box.log.export()) if r["seq"] > since]


def seq(box) -> int:
    return max(r["seq"] for r in map(json.loads, box.log.export()))


def asked(box, clock, actor, **change) -> str:
    """Return a post of the actor's that the sweep has just asked about."""
    post_id = new_post(box, actor, **change)
    clock.advance(ASK_AFTER + 1)
    assert stale.sweep(box) >= 1
    assert Post.get_by_id(post_id).asked_ms is not None
    return post_id


def gone_quiet(box, clock, actor, **change) -> str:
    post_id = asked(box, clock, actor, **change)
    clock.advance(ANSWER_WITHIN + 1)
    assert stale.sweep(box) >= 1
    assert Post.get_by_id(post_id).stale
    return post_id


def main_board(box, viewer=None, **filters) -> list[str]:
    f = board_queries.parse_filters(filters)
    return [p["id"] for p in board_queries.list_posts(box, viewer, f)["posts"]]


def test_the_sweep_asks_only_after_the_centres_days_and_only_once(box, clock, alice):
    post_id = new_post(box, alice)
    clock.advance(ASK_AFTER - 1)
    assert stale.sweep(box) == 0
    clock.advance(2)
    before = seq(box)
    assert stale.sweep(box) == 1
    [record] = kinds_written(box, before)
    assert record["kind"] == "post.stale_check"
    assert record["subject"] == post_id
    assert record["author"] is None and record["scope"] == "federation"
    assert Post.get_by_id(post_id).asked_ms == clock.ms
    count = record_count()
    assert stale.sweep(box) == 0  # asked already: nothing more until answered
    assert record_count() == count


def test_an_unanswered_question_sends_the_post_to_gone_quiet(box, clock, alice, bob):
    post_id = asked(box, clock, alice)
    assert main_board(box, bob) == [post_id]
    clock.advance(ANSWER_WITHIN - 1)
    assert stale.sweep(box) == 0
    clock.advance(2)
    before = seq(box)
    assert stale.sweep(box) == 1
    assert [r["kind"] for r in kinds_written(box, before)] == ["post.staled"]
    post = Post.get_by_id(post_id)
    assert post.stale and post.asked_ms is None and post.status == "open"
    assert main_board(box, bob) == []
    assert main_board(box, None) == []
    assert main_board(box, bob, status="stale") == [post_id]
    assert stale.sweep(box) == 0  # stale posts are left alone


def test_the_rule_decides_how_long(box, clock, alice):
    box.log.append(
        "rule.set",
        {"name": "stale_days", "value": 3, "proposal": None},
        subject=box.centre.id,
        scope="local",
    )
    post_id = new_post(box, alice)
    clock.advance(3 * DAY_MS + 1)
    assert stale.sweep(box) == 1
    assert Post.get_by_id(post_id).asked_ms is not None


def test_yes_keeps_the_post_and_resets_its_clock(box, clock, alice):
    post_id = asked(box, clock, alice)
    stale.answer(box, alice, post_id, True)
    post = Post.get_by_id(post_id)
    assert post.asked_ms is None and post.fresh_ms == clock.ms and post.status == "open"
    clock.advance(ASK_AFTER - 1)
    assert stale.sweep(box) == 0  # counted from the answer, not from the post
    clock.advance(2)
    assert stale.sweep(box) == 1


def test_no_resolves_the_post(box, clock, alice):
    post_id = asked(box, clock, alice)
    stale.answer(box, alice, post_id, False)
    post = Post.get_by_id(post_id)
    assert post.status == "resolved" and post.resolved_note == "No longer needed"
    assert post.asked_ms is None
    clock.advance(ASK_AFTER + ANSWER_WITHIN)
    assert stale.sweep(box) == 0  # resolved posts are never asked


def test_only_the_poster_answers(box, clock, alice, bob, staff):
    post_id = asked(box, clock, alice)
    count = record_count()
    for someone in (bob, staff):  # staff answer only for visitors' posts
        with pytest.raises(NotAllowed):
            stale.answer(box, someone, post_id, False)
    with pytest.raises(NotSignedIn):
        stale.answer(box, None, post_id, True)
    with pytest.raises(NotFound):
        stale.answer(box, alice, "0" * 64, True)
    assert record_count() == count
    assert Post.get_by_id(post_id).asked_ms is not None


def test_answering_when_not_asked_is_a_conflict(box, clock, alice):
    post_id = new_post(box, alice)
    count = record_count()
    with pytest.raises(Conflict):
        stale.answer(box, alice, post_id, True)
    stale_post = gone_quiet(box, clock, alice, title="Old one")
    count = record_count()
    with pytest.raises(Conflict):  # too late: it went quiet, it can be revived
        stale.answer(box, alice, stale_post, True)
    assert record_count() == count


@pytest.mark.parametrize("value", [None, "", "maybe", "YES", "1"])
def test_an_answer_is_yes_or_no(value):
    with pytest.raises(InvalidInput) as exc:
        stale.parse_answer(value)
    assert exc.value.fields == {"answer": "Please answer yes or no."}


def test_yes_and_no_are_read(box):
    assert stale.parse_answer("yes") is True
    assert stale.parse_answer("no") is False


def test_any_member_revives_a_post_that_went_quiet(box, clock, alice, bob):
    post_id = gone_quiet(box, clock, alice)
    before = seq(box)
    stale.revive(box, bob, post_id)
    [record] = kinds_written(box, before)
    assert (record["kind"], record["author"]) == ("post.revived", bob.id)
    post = Post.get_by_id(post_id)
    assert not post.stale and post.asked_ms is None and post.fresh_ms == clock.ms
    assert main_board(box, bob) == [post_id]
    assert main_board(box, bob, status="stale") == []
    clock.advance(ASK_AFTER - 1)
    assert stale.sweep(box) == 0  # a fresh start


def test_reviving_needs_a_member_and_a_quiet_post(box, clock, alice, bob):
    post_id = new_post(box, alice)
    count = record_count()
    with pytest.raises(Conflict):
        stale.revive(box, bob, post_id)
    quiet = gone_quiet(box, clock, alice, title="Quiet")
    count = record_count()
    with pytest.raises(NotSignedIn):
        stale.revive(box, None, quiet)
    with pytest.raises(NotFound):
        stale.revive(box, bob, "f" * 64)
    assert record_count() == count


def test_the_sweep_passes_over_resolved_hidden_and_other_centres_posts(
    box, clock, alice, bob, staff
):
    resolved = new_post(box, alice, title="Done")
    board.resolve(box, alice, resolved)
    hidden = new_post(box, alice, title="Rude")
    moderation.set_post_hidden(box, staff, hidden, True, "Not kind")
    on_it = new_post(box, alice, title="Being done")
    board.offer_help(box, bob, on_it, "on_it")
    east = Origin("east", start_ms=START_MS)
    trust(box, east.origin)
    records = [
        east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"}),
        east.make("post.created", post_body(title="East's need"), author="e" * 64),
    ]
    assert box.log.ingest([r.line for r in records]).ok
    clock.advance(ASK_AFTER + 1)
    assert stale.sweep(box) == 1  # only the one being worked on: its poster is asked
    assert Post.get_by_id(on_it).asked_ms is not None
    for post_id in (resolved, hidden, records[1].id):
        assert Post.get_by_id(post_id).asked_ms is None


def test_a_hidden_post_is_not_answered_or_revived(box, clock, alice, staff):
    post_id = asked(box, clock, alice)
    moderation.set_post_hidden(box, staff, post_id, True, "Not kind")
    count = record_count()
    with pytest.raises(Conflict):  # the poster sees why it is hidden, but cannot answer
        stale.answer(box, alice, post_id, True)
    assert stale.my_questions(box, alice) == []
    assert record_count() == count


def test_my_questions_are_the_posters_own(box, clock, alice, bob):
    first = new_post(box, alice, title="First")
    clock.advance(2 * DAY_MS)
    second = new_post(box, alice, title="Second")
    new_post(box, bob, title="Bob's")
    clock.advance(ASK_AFTER - DAY_MS)
    assert stale.sweep(box) == 1  # the first only
    clock.advance(2 * DAY_MS)
    assert stale.sweep(box) == 2  # then the others, the first still waiting
    mine = stale.my_questions(box, alice)
    assert [(q["id"], q["title"], q["for_visitor"]) for q in mine] == [
        (first, "First", False),
        (second, "Second", False),
    ]
    assert [q["title"] for q in stale.my_questions(box, bob)] == ["Bob's"]
    assert stale.my_questions(box, None) == []
    stale.answer(box, alice, first, True)
    assert [q["id"] for q in stale.my_questions(box, alice)] == [second]


def visitor_post(box, staff) -> str:
    data = {
        "type": "need",
        "title": "Help carrying shopping upstairs",
        "details": "",
        "category": "household",
        "place": "Riverside estate",
        "needed_by": "",
        "visitor_name": "Mrs Okoye",
        "visitor_contact": "",
    }
    return assisted.create_assisted_post(box, staff, data)


def test_a_visitors_post_is_asked_of_staff(box, clock, staff, admin, alice):
    post_id = visitor_post(box, staff)
    own = new_post(box, staff, title="Staff's own")
    clock.advance(ASK_AFTER + 1)
    assert stale.sweep(box) == 2
    # Every member of staff sees the visitor's question; only its poster sees their own.
    assert [(q["id"], q["for_visitor"]) for q in stale.my_questions(box, admin)] == [
        (post_id, True)
    ]
    assert {q["id"] for q in stale.my_questions(box, staff)} == {post_id, own}
    assert stale.my_questions(box, alice) == []
    with pytest.raises(NotAllowed):
        stale.answer(box, alice, post_id, False)
    with pytest.raises(NotAllowed):  # not a visitor's post: only its poster answers
        stale.answer(box, admin, own, False)
    stale.answer(box, admin, post_id, False)
    post = Post.get_by_id(post_id)
    assert post.status == "resolved" and post.resolved_by == admin.id


def test_the_staff_member_who_posted_for_a_visitor_answers_yes(box, clock, staff):
    post_id = visitor_post(box, staff)
    clock.advance(ASK_AFTER + 1)
    stale.sweep(box)
    stale.answer(box, staff, post_id, True)
    assert Post.get_by_id(post_id).asked_ms is None


def test_another_staff_member_answers_yes_for_a_visitor(box, clock, staff, admin):
    post_id = visitor_post(box, staff)
    clock.advance(ASK_AFTER + 1)
    stale.sweep(box)
    stale.answer(box, admin, post_id, True)
    assert Post.get_by_id(post_id).asked_ms is None


def test_the_post_view_says_who_may_answer_and_revive(box, clock, alice, bob):
    post_id = asked(box, clock, alice)
    assert board_queries.get_post(box, alice, post_id)["can"]["still_needed"] is True
    assert board_queries.get_post(box, bob, post_id)["can"]["still_needed"] is False
    assert board_queries.get_post(box, None, post_id)["can"]["still_needed"] is False
    assert board_queries.get_post(box, bob, post_id)["can"]["revive"] is False
    clock.advance(ANSWER_WITHIN + 1)
    stale.sweep(box)
    view = board_queries.get_post(box, bob, post_id)
    assert view["stale"] is True
    assert view["can"]["revive"] is True and view["can"]["still_needed"] is False
    assert board_queries.get_post(box, None, post_id)["can"]["revive"] is False


def test_the_gone_quiet_filter_is_a_status(box):
    filters, errors = board_queries.read_filters({"status": "stale"})
    assert filters.status == "stale" and errors == {}
    filters, errors = board_queries.read_filters({"status": "quiet"})
    assert errors == {"status": "Status must be open, on_it, resolved or stale."}
