"""Moderation rules through the services: flags and the automatic hide, staff hides with a
rule, clearing flags, appeals, a peer's hides honoured, reviewed or ignored, the queue,
and the public log that names nobody."""

from __future__ import annotations

import json

import pytest
from boxes import START_MS, member, record_count, trust
from recordmaker import Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import (
    Appeal,
    Comment,
    Flag,
    MemberPrivate,
    ModerationEvent,
    Post,
    StoredRecord,
)
from appliance.services import board, moderation, moderation_log

POST = {
    "type": "need",
    "title": "Ladder for the gutter at Number Nine",
    "details": "Ring Alice on 07700 900456 before noon.",
    "category": "local-fix",
    "place": "Elm Road",
    "needed_by": "",
}
COMMENT = "My neighbour Doris has a ladder, flat 3B"


@pytest.fixture
def post(box, alice) -> str:
    """Alice's open need."""
    return board.create_post(box, alice, POST)


@pytest.fixture
def flaggers(box) -> list:
    return [member(box, name) for name in ("Carol", "Dev", "Eve", "Fay")]


def hidden(post_id: str) -> bool:
    return Post.get_by_id(post_id).hidden


def stored(kind: str) -> list[StoredRecord]:
    return list(StoredRecord.select().where(StoredRecord.kind == kind))


def set_rule(box, name: str, value: int) -> None:
    """Set a community rule as an adopted proposal would (the governance service's record)."""
    body = {"name": name, "value": value, "proposal": None}
    box.log.append("rule.set", body, subject=box.centre.id)


# --- flags and the automatic hide ------------------------------------------------------


def test_a_flag_is_a_local_record_and_counts_once_per_member(box, post, bob):
    flag_id = moderation.flag(box, bob, post, None, "spam", "  Selling things  ")
    row = Flag.get_by_id(flag_id)
    assert (row.post, row.comment, row.member, row.reason, row.note, row.counts) == (
        post,
        None,
        bob.id,
        "spam",
        "Selling things",
        True,
    )
    [record] = stored("flag.raised")
    assert record.scope == "local"
    before = record_count()
    with pytest.raises(Conflict) as excinfo:
        moderation.flag(box, bob, post, None, "offensive")
    assert excinfo.value.message == "You have already flagged this; staff will look at it."
    assert record_count() == before


def test_the_box_hides_a_post_exactly_at_the_threshold(box, post, flaggers):
    moderation.flag(box, flaggers[0], post, None, "spam")
    moderation.flag(box, flaggers[1], post, None, "offensive")
    assert not hidden(post), "two flags are below the default of three"
    assert stored("post.hidden") == []
    moderation.flag(box, flaggers[2], post, None, "spam")
    assert hidden(post)
    [hide] = stored("post.hidden")
    raw = json.loads(bytes(hide.raw))
    assert raw["author"] is None and raw["scope"] == "federation"
    assert raw["body"] == {"reason": "Hidden pending review: flagged by 3 members", "rule": "flags"}
    event = ModerationEvent.get_by_id(hide.id)
    assert (event.action, event.rule, event.by_box, event.honoured) == (
        "hidden",
        "flags",
        True,
        True,
    )
    # Hidden now: a fourth member cannot flag it (it is gone for them), nothing is written.
    before = record_count()
    with pytest.raises(NotFound):
        moderation.flag(box, flaggers[3], post, None, "spam")
    assert record_count() == before


def test_the_threshold_is_the_centres_rule(box, post, flaggers):
    set_rule(box, "flags_to_hide", 2)
    moderation.flag(box, flaggers[0], post, None, "spam")
    assert not hidden(post)
    moderation.flag(box, flaggers[1], post, None, "spam")
    assert hidden(post)


def test_a_threshold_of_zero_turns_the_automatic_hide_off(box, post, flaggers):
    set_rule(box, "flags_to_hide", 0)
    for person in flaggers:
        moderation.flag(box, person, post, None, "spam")
    assert not hidden(post)
    assert Flag.select().where(Flag.counts).count() == 4


def test_flags_from_one_member_never_add_up(box, post, bob, flaggers):
    moderation.flag(box, bob, post, None, "spam")
    for _ in range(3):
        with pytest.raises(Conflict):
            moderation.flag(box, bob, post, None, "spam")
    moderation.flag(box, flaggers[0], post, None, "spam")
    assert not hidden(post)
    assert Flag.select().count() == 2


def test_a_comment_is_hidden_by_flags_but_not_its_post(box, post, bob, flaggers):
    comment = board.add_comment(box, bob, post, COMMENT)
    for person in flaggers[:3]:
        moderation.flag(box, person, post, comment, "personal_info")
    assert Comment.get_by_id(comment).hidden
    assert not hidden(post)
    [hide] = stored("comment.hidden")
    body = json.loads(bytes(hide.raw))["body"]
    assert body == {
        "comment": comment,
        "reason": "Hidden pending review: flagged by 3 members",
        "rule": "flags",
    }


def test_nobody_flags_their_own_post_or_comment(box, post, alice, bob):
    comment = board.add_comment(box, bob, post, "Mine")
    before = record_count()
    with pytest.raises(NotAllowed) as excinfo:
        moderation.flag(box, alice, post, None, "spam")
    assert excinfo.value.message == "You cannot flag your own post."
    with pytest.raises(NotAllowed) as excinfo:
        moderation.flag(box, bob, post, comment, "spam")
    assert excinfo.value.message == "You cannot flag your own comment."
    assert record_count() == before


def test_flagging_bad_input_changes_nothing(box, post, bob):
    before = record_count()
    with pytest.raises(NotSignedIn):
        moderation.flag(box, None, post, None, "spam")
    with pytest.raises(InvalidInput) as excinfo:
        moderation.flag(box, bob, post, None, "boring")
    assert set(excinfo.value.fields) == {"reason"}
    with pytest.raises(InvalidInput) as excinfo:
        moderation.flag(box, bob, post, None, "other", "   ")
    assert excinfo.value.fields == {
        "note": "Please say what is wrong, so staff know what to look for."
    }
    with pytest.raises(InvalidInput) as excinfo:
        moderation.flag(box, bob, post, None, "spam", "x" * 501)
    assert set(excinfo.value.fields) == {"note"}
    with pytest.raises(NotFound):
        moderation.flag(box, bob, "f" * 64, None, "spam")
    with pytest.raises(NotFound):
        moderation.flag(box, bob, post, "e" * 64, "spam")
    assert record_count() == before


def test_a_hidden_comment_cannot_be_flagged(box, post, bob, staff):
    comment = board.add_comment(box, bob, post, "Rude")
    moderation.set_comment_hidden(box, staff, comment, True, "Not kind")
    with pytest.raises(NotFound):
        moderation.flag(box, member(box, "Gil"), post, comment, "spam")


# --- staff hides, restores and clearing flags --------------------------------------------


def test_only_staff_hide_and_restore(box, post, bob, staff):
    before = record_count()
    for who in (None, bob):
        with pytest.raises((NotSignedIn, NotAllowed)):
            moderation.set_post_hidden(box, who, post, True, "I don't like it")
    with pytest.raises(NotAllowed):
        moderation.clear_flags(box, bob, post, None)
    assert record_count() == before
    moderation.set_post_hidden(box, staff, post, True, "Selling", rule="spam")
    event = ModerationEvent.get()
    assert (event.rule, event.by_box, event.reason) == ("spam", False, "Selling")
    with pytest.raises(NotAllowed):
        moderation.set_post_hidden(box, bob, post, False, "")
    assert hidden(post)


def test_a_staff_hide_names_a_rule_and_a_reason(box, post, staff):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        moderation.set_post_hidden(box, staff, post, True, "Spam", rule="flags")
    assert set(excinfo.value.fields) == {"rule"}
    with pytest.raises(InvalidInput) as excinfo:
        moderation.set_post_hidden(box, staff, post, True, "  ")
    assert set(excinfo.value.fields) == {"reason"}
    assert record_count() == before
    moderation.set_post_hidden(box, staff, post, True, "Rude")  # the code of conduct by default
    assert ModerationEvent.get().rule == "conduct"
    with pytest.raises(Conflict):
        moderation.set_post_hidden(box, staff, post, True, "Again")


def test_restoring_stops_the_flags_counting(box, post, flaggers, staff):
    for person in flaggers[:3]:
        moderation.flag(box, person, post, None, "spam")
    moderation.set_post_hidden(box, staff, post, False, "It is a real need")
    assert not hidden(post)
    assert [f.counts for f in Flag.select()] == [False, False, False]
    # Answered flags do not count again: one new flag is one, not four.
    moderation.flag(box, flaggers[0], post, None, "spam")
    assert not hidden(post)
    assert Flag.select().where(Flag.counts).count() == 1


def test_staff_can_keep_an_automatic_hide_with_their_own_rule(box, post, flaggers, staff):
    for person in flaggers[:3]:
        moderation.flag(box, person, post, None, "spam")
    assert moderation.review_queue(box, staff)["pending"][0]["post"] == post
    moderation.set_post_hidden(box, staff, post, True, "An advert", rule="spam")
    assert hidden(post)
    assert moderation.review_queue(box, staff)["pending"] == []
    assert Post.get_by_id(post).hidden_reason == "An advert"


def test_clearing_flags(box, post, bob, staff):
    before = record_count()
    with pytest.raises(Conflict):
        moderation.clear_flags(box, staff, post, None)
    assert record_count() == before
    moderation.flag(box, bob, post, None, "off_topic")
    moderation.clear_flags(box, staff, post, None, "Fine where it is")
    assert Flag.get().counts is False
    assert stored("flags.cleared")[0].scope == "local"
    assert moderation.review_queue(box, staff)["flagged"] == []
    with pytest.raises(Conflict):
        moderation.clear_flags(box, staff, post, None)


# --- appeals -----------------------------------------------------------------------------


def test_the_author_appeals_once_and_staff_answer_once(box, post, alice, staff):
    moderation.set_post_hidden(box, staff, post, True, "Looks like an advert", rule="spam")
    view = moderation.author_view(box, alice, post)
    [item] = view["items"]
    assert (item["reason"], item["rule"], item["may_appeal"]) == (
        "Looks like an advert",
        "Spam",
        True,
    )
    appeal_id = moderation.appeal(box, alice, post, None, "It is a real need, not an advert")
    assert stored("appeal.made")[0].scope == "local"
    before = record_count()
    with pytest.raises(Conflict) as excinfo:
        moderation.appeal(box, alice, post, None, "Please!")
    assert excinfo.value.message == "You have already appealed; an appeal is answered once."
    assert record_count() == before
    [item] = moderation.author_view(box, alice, post)["items"]
    assert item["may_appeal"] is False and item["appeal"]["outcome"] is None

    moderation.decide_appeal(box, staff, appeal_id, "upheld", "It sells a service")
    assert hidden(post)
    row = Appeal.get_by_id(appeal_id)
    assert (row.outcome, row.answer) == ("upheld", "It sells a service")
    before = record_count()
    with pytest.raises(Conflict):
        moderation.decide_appeal(box, staff, appeal_id, "overturned", "Changed my mind")
    # An appeal of an appeal: the author cannot appeal the answer either.
    with pytest.raises(Conflict):
        moderation.appeal(box, alice, post, None, "I appeal the appeal")
    assert record_count() == before
    assert hidden(post)


def test_an_overturned_appeal_restores_the_post(box, post, alice, staff):
    moderation.set_post_hidden(box, staff, post, True, "Looks like an advert")
    appeal_id = moderation.appeal(box, alice, post, None, "It is a real need")
    moderation.decide_appeal(box, staff, appeal_id, "overturned", "Alice explained")
    assert not hidden(post)
    assert [e.action for e in ModerationEvent.select().order_by(ModerationEvent.at_ms)] == [
        "hidden",
        "restored",
    ]
    assert ModerationEvent.get(ModerationEvent.action == "restored").reason == "Alice explained"


def test_an_overturned_appeal_restores_a_comment(box, post, bob, staff):
    comment = board.add_comment(box, bob, post, "Rude")
    moderation.set_comment_hidden(box, staff, comment, True, "Not kind", rule="offensive")
    appeal_id = moderation.appeal(box, bob, post, comment, "I was quoting")
    assert Appeal.get_by_id(appeal_id).comment == comment
    moderation.decide_appeal(box, staff, appeal_id, "overturned", "Fair enough")
    assert not Comment.get_by_id(comment).hidden


def test_only_the_author_appeals_and_only_while_hidden(box, post, alice, bob, staff):
    before = record_count()
    with pytest.raises(Conflict) as excinfo:
        moderation.appeal(box, alice, post, None, "Why?")
    assert excinfo.value.message == "Only something that is hidden can be appealed."
    moderation.set_post_hidden(box, staff, post, True, "Advert")
    before = record_count()
    for who in (bob, staff):
        with pytest.raises(NotAllowed):
            moderation.appeal(box, who, post, None, "Let it be")
    with pytest.raises(NotSignedIn):
        moderation.appeal(box, None, post, None, "Let it be")
    with pytest.raises(InvalidInput) as excinfo:
        moderation.appeal(box, alice, post, None, "   ")
    assert set(excinfo.value.fields) == {"text"}
    with pytest.raises(NotFound):
        moderation.appeal(box, alice, "f" * 64, None, "Let it be")
    assert record_count() == before
    assert moderation.author_view(box, bob, post)["items"] == []


def test_deciding_an_appeal_bad_input(box, post, alice, bob, staff):
    moderation.set_post_hidden(box, staff, post, True, "Advert")
    appeal_id = moderation.appeal(box, alice, post, None, "Not an advert")
    before = record_count()
    with pytest.raises(NotAllowed):
        moderation.decide_appeal(box, bob, appeal_id, "overturned", "I say so")
    with pytest.raises(InvalidInput) as excinfo:
        moderation.decide_appeal(box, staff, appeal_id, "maybe", "")
    assert set(excinfo.value.fields) == {"outcome", "reason"}
    with pytest.raises(NotFound):
        moderation.decide_appeal(box, staff, "a" * 64, "upheld", "Why not")
    assert record_count() == before


# --- peers' moderation ---------------------------------------------------------------------


# A member of the paired centre's staff (their member.joined need not be here).
PEER_STAFF = "c" * 64


@pytest.fixture
def peer(box):
    """A paired centre with a post of its own that this box holds, and a staff member."""
    other = Origin("riverside", start_ms=START_MS + 1000)
    trust(box, other)
    made = [other.make("centre.created", {"name": "Riverside Centre", "timezone": "Europe/London"})]
    made.append(
        other.make(
            "post.created", {**POST, "title": "Riverside need", "needed_by": None}, author="b" * 64
        )
    )
    made.append(other.make("role.granted", {"role": "staff", "expires": None}, subject=PEER_STAFF))
    assert box.log.ingest([m.line for m in made]).ok
    other.post = made[1].id
    return other


def peer_hide(box, peer, reason: str = "Advert") -> str:
    peer.tick(60_000)
    made = peer.make(
        "post.hidden", {"reason": reason, "rule": "spam"}, subject=peer.post, author=PEER_STAFF
    )
    assert box.log.ingest([made.line]).ok
    return made.id


def test_a_peers_hide_is_honoured_by_default(box, peer, staff):
    peer_hide(box, peer)
    assert hidden(peer.post)
    [row] = moderation_log.public_log(box)
    assert (row["by"], row["by_params"]) == ("Staff of %(centre)s", {"centre": "Riverside Centre"})


def test_ignoring_a_peer_refolds_its_hides_and_back(box, peer, staff):
    peer_hide(box, peer)
    moderation.set_peer_policy(box, staff, peer.origin, "ignore")
    assert not hidden(peer.post)
    [policy] = stored("moderation.policy.set")
    assert policy.scope == "local"
    assert moderation_log.public_log(box) == []
    moderation.set_peer_policy(box, staff, peer.origin, "honour")
    assert hidden(peer.post)


def test_reviewing_a_peers_hide(box, peer, staff):
    moderation.set_peer_policy(box, staff, peer.origin, "review")
    hide_id = peer_hide(box, peer)
    assert not hidden(peer.post)
    [waiting] = moderation.review_queue(box, staff)["peer_hides"]
    assert (waiting["id"], waiting["centre"], waiting["rule"]) == (
        hide_id,
        "Riverside Centre",
        "Spam",
    )
    gil = member(box, "Gil")
    before = record_count()
    with pytest.raises(InvalidInput):
        moderation.review_peer_hide(box, staff, hide_id, "maybe")
    with pytest.raises(NotAllowed):
        moderation.review_peer_hide(box, gil, hide_id, "accept")
    assert record_count() == before
    moderation.review_peer_hide(box, staff, hide_id, "accept")
    assert hidden(peer.post)
    assert moderation.review_queue(box, staff)["peer_hides"] == []
    with pytest.raises(Conflict):
        moderation.review_peer_hide(box, staff, hide_id, "dismiss")


def test_a_dismissed_peer_hide_leaves_the_post_up(box, peer, staff):
    moderation.set_peer_policy(box, staff, peer.origin, "review")
    hide_id = peer_hide(box, peer)
    moderation.review_peer_hide(box, staff, hide_id, "dismiss")
    assert not hidden(peer.post)
    assert ModerationEvent.get_by_id(hide_id).review == "dismiss"


def test_peer_policy_bad_input(box, peer, staff, bob):
    stranger = Origin("stranger")
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        moderation.set_peer_policy(box, staff, stranger.origin, "ignore")
    assert excinfo.value.fields == {
        "origin": "That is not a centre this box exchanges records with."
    }
    with pytest.raises(InvalidInput):
        moderation.set_peer_policy(box, staff, box.origin, "ignore")
    with pytest.raises(InvalidInput) as excinfo:
        moderation.set_peer_policy(box, staff, peer.origin, "sometimes")
    assert set(excinfo.value.fields) == {"mode"}
    with pytest.raises(NotAllowed):
        moderation.set_peer_policy(box, bob, peer.origin, "ignore")
    with pytest.raises(Conflict):
        moderation.set_peer_policy(box, staff, peer.origin, "honour")  # already the default
    assert record_count() == before
    choices = moderation_log.peer_choices(box, staff)
    assert [(c["name"], c["mode"], c["direct"]) for c in choices] == [
        ("Riverside Centre", "honour", True)
    ]


# --- the queue and the public log -----------------------------------------------------------


def test_the_queue_shows_what_waits_for_staff(box, post, alice, bob, flaggers, staff):
    comment = board.add_comment(box, bob, post, COMMENT)
    moderation.flag(box, flaggers[0], post, None, "spam")
    moderation.flag(box, flaggers[1], post, None, "other", "Asks for money")
    moderation.flag(box, flaggers[2], post, comment, "personal_info")
    queue = moderation.review_queue(box, staff)
    by_target = {(f["post"], f["comment"]): f for f in queue["flagged"]}
    on_post = by_target[(post, None)]
    assert (on_post["title"], on_post["count"], on_post["notes"]) == (
        POST["title"],
        2,
        ["Asks for money"],
    )
    assert {r["reason"]: r["count"] for r in on_post["reasons"]} == {"spam": 1, "other": 1}
    assert by_target[(post, comment)]["text"] == COMMENT
    assert queue["pending"] == [] and queue["appeals"] == []

    moderation.flag(box, flaggers[3], post, None, "spam")  # the third: hidden now
    queue = moderation.review_queue(box, staff)
    assert [(f["post"], f["comment"]) for f in queue["flagged"]] == [(post, comment)]
    [pending] = queue["pending"]
    assert (pending["post"], pending["flags"]["count"]) == (post, 3)
    appeal_id = moderation.appeal(box, alice, post, None, "It is real")
    [waiting] = moderation.review_queue(box, staff)["appeals"]
    assert (waiting["id"], waiting["member"], waiting["appeal"]) == (
        appeal_id,
        "Alice",
        "It is real",
    )
    assert waiting["rule"] == "Flagged by members, waiting for staff"
    with pytest.raises(NotAllowed):
        moderation.review_queue(box, bob)


def test_the_public_log_names_nobody_and_shows_no_content(
    box, clock, post, alice, bob, flaggers, staff
):
    accounts_contact = "alice.private@example.org"
    MemberPrivate.update(contact=accounts_contact).where(MemberPrivate.member == alice.id).execute()
    comment = board.add_comment(box, bob, post, COMMENT)
    for person in flaggers[:3]:
        moderation.flag(box, person, post, None, "spam", "Flagged by Carol for Alice's phone")
    clock.advance(60_000)
    moderation.set_comment_hidden(
        box, staff, comment, True, "Names a neighbour", rule="personal_info"
    )
    clock.advance(60_000)
    appeal_id = moderation.appeal(box, alice, post, None, "Mine is real")
    clock.advance(60_000)
    moderation.decide_appeal(box, staff, appeal_id, "overturned", "The author explained")
    rows = moderation_log.public_log(box)
    assert [(r["type"], r.get("action") or r.get("outcome")) for r in rows] == [
        ("decision", "restored"),
        ("appeal", "overturned"),
        ("decision", "hidden"),
        ("decision", "hidden"),
    ]
    auto = rows[3]
    assert (auto["what"], auto["what_params"]) == (
        "A post in %(category)s",
        {"category": "Local fixes"},
    )
    assert auto["by"] == "Automatically, after flags from members"
    assert auto["rule"] == "Flagged by members, waiting for staff"
    assert (rows[2]["what"], rows[2]["by"], rows[2]["rule"]) == (
        "A comment",
        "Staff of this centre",
        "Personal information",
    )
    text = json.dumps(rows)
    for secret in (
        "Alice",
        "Bob",
        "Carol",
        alice.id,
        bob.id,
        staff.id,
        "Sam Staff",
        POST["title"],
        POST["details"],
        "07700",
        COMMENT,
        accounts_contact,
        post,
        comment,
        "Mine is real",
    ):
        assert secret not in text, secret


def test_the_public_log_pages_by_time(box, clock, post, staff):
    moderation.set_post_hidden(box, staff, post, True, "First")
    clock.advance(60_000)
    moderation.set_post_hidden(box, staff, post, False, "Second")
    rows = moderation_log.public_log(box, limit=1)
    assert [r["reason"] for r in rows] == ["Second"]
    older = moderation_log.public_log(box, limit=1, before_ms=rows[0]["at_ms"])
    assert [r["reason"] for r in older] == ["First"]


def test_the_post_page_view_says_what_the_viewer_may_flag(box, post, alice, bob, staff):
    comment = board.add_comment(box, bob, post, "Hello")
    mine = board.add_comment(box, alice, post, "Thanks")
    view = moderation_log.post_moderation(box, bob, post)
    assert (view["flag_post"], view["flag_comments"]) == (True, {mine})
    moderation.flag(box, bob, post, mine, "spam")
    view = moderation_log.post_moderation(box, bob, post)
    assert view["flag_comments"] == set() and view["flagged"] == {mine}
    alices = moderation_log.post_moderation(box, alice, post)
    assert (alices["flag_post"], alices["flag_comments"]) == (False, {comment})
    assert moderation_log.post_moderation(box, None, post)["flag_post"] is False
