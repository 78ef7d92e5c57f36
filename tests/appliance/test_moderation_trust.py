"""Whose moderation counts: a hide or restore counts only from the box itself or from
someone its own centre made staff (before it, unexpired), whatever order the records
arrive in; and a centre trusted only through a paired centre is reviewed by default,
with a choice staff can change (sync/PROTOCOL.md section 4, "Moderation")."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from boxes import START_MS, activate, new_box, record_count, snapshot, trust
from recordmaker import Made, Origin

from appliance.db import database
from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.fold_moderation import load_policies
from appliance.models import Comment, ModerationEvent, Post, StoredRecord
from appliance.services import moderation, moderation_log

POST = {
    "type": "should",
    "title": "Bench by the pond is broken",
    "details": "",
    "category": "tools",
    "place": "Park",
    "needed_by": None,
}
STAFF = {"role": "staff", "expires": None}


def ingest(box, *made: Made) -> None:
    result = box.log.ingest([m.line for m in made])
    assert result.ok, result.rejected


def hidden(post_id: str) -> bool:
    return Post.get_by_id(post_id).hidden


def event(record: Made) -> tuple:
    row = ModerationEvent.get_by_id(record.id)
    return row.honoured, row.review, row.author


def riverside_records() -> SimpleNamespace:
    """A made-up centre: its centre record, Rita (made staff there), Mo (no role), a post."""
    river = Origin("riverside", start_ms=START_MS + 1000)
    w = SimpleNamespace(origin=river)
    w.centre = river.make("centre.created", {"name": "Riverside", "timezone": "Europe/London"})
    w.rita = river.make("member.joined", {"name": "Rita"})
    w.mo = river.make("member.joined", {"name": "Mo"})
    w.post = river.make("post.created", POST, author=w.mo.id)
    w.comment = river.make("comment.added", {"text": "Fixed it?"}, subject=w.post.id)
    return w


@pytest.fixture
def river(box) -> SimpleNamespace:
    """Riverside's records, stored here (Rita has no role yet)."""
    w = riverside_records()
    trust(box, w.origin)
    ingest(box, w.centre, w.rita, w.mo, w.post, w.comment)
    return w


def hide(w, author: Made | None, reason: str = "Advert", **kw) -> Made:
    w.origin.tick(60_000)
    body = {"reason": reason, "rule": "spam"}
    return w.origin.make(
        "post.hidden", body, subject=w.post.id, author=author.id if author else None, **kw
    )


def grant(w, who: Made, role: str = "staff", expires: int | None = None) -> Made:
    w.origin.tick(1000)
    body = {"role": role, "expires": expires}
    return w.origin.make("role.granted", body, subject=who.id)


# --- who may hide ----------------------------------------------------------------------------


def test_a_hide_by_a_member_without_a_role_never_counts(box, river, staff):
    made = hide(river, river.mo, "I don't like it")
    ingest(box, made)
    assert not hidden(river.post.id)
    assert event(made) == (False, "unauthorised", river.mo.id)
    # Never a decision: not in the public log; staff see it in their queue.
    assert moderation_log.public_log(box) == []
    [seen] = moderation.review_queue(box, staff)["unauthorised"]
    assert (seen["id"], seen["centre"], seen["here"], seen["reason"]) == (
        made.id,
        "Riverside",
        False,
        "I don't like it",
    )
    assert moderation.review_queue(box, staff)["peer_hides"] == []
    # Nobody can accept it into counting.
    before = record_count()
    with pytest.raises(Conflict):
        moderation.review_peer_hide(box, staff, made.id, "accept")
    assert record_count() == before


def test_a_restore_or_comment_hide_by_a_member_without_a_role_never_counts(box, river):
    granted = grant(river, river.rita)
    staff_hide = hide(river, river.rita)
    mo_restore = river.origin.make(
        "post.unhidden", {"reason": "Mine"}, subject=river.post.id, author=river.mo.id
    )
    body = {"comment": river.comment.id, "reason": "Rude", "rule": "offensive"}
    mo_comment = river.origin.make(
        "comment.hidden", body, subject=river.post.id, author=river.mo.id
    )
    ingest(box, granted, staff_hide, mo_restore, mo_comment)
    assert hidden(river.post.id), "Rita's hide counts; Mo's restore does not"
    assert not Comment.get_by_id(river.comment.id).hidden
    assert event(staff_hide) == (True, None, river.rita.id)
    assert event(mo_restore)[:2] == (False, "unauthorised")
    assert event(mo_comment)[:2] == (False, "unauthorised")
    rows = moderation_log.public_log(box)
    assert [(r["action"], r["by"]) for r in rows] == [("hidden", "Staff of %(centre)s")]


def test_the_box_itself_hides_without_a_role(box, river):
    made = hide(river, None, "Hidden pending review: flagged by 3 members")
    ingest(box, made)
    assert hidden(river.post.id)
    assert event(made) == (True, None, None)


def test_a_role_counts_only_from_the_records_own_centre(box, river, admin):
    # This box making Rita staff says nothing about what she does at Riverside.
    box.log.append("role.granted", STAFF, subject=river.rita.id, author=admin.id)
    first = hide(river, river.rita, "Before her role")
    ingest(box, first)
    assert not hidden(river.post.id)
    # Riverside's grant counts from its place in Riverside's chain on, not before.
    ingest(box, grant(river, river.rita))
    assert event(first)[:2] == (False, "unauthorised")
    assert not hidden(river.post.id)
    second = hide(river, river.rita, "After her role")
    ingest(box, second)
    assert hidden(river.post.id)
    assert event(second) == (True, None, river.rita.id)


@pytest.mark.parametrize(
    ("role", "expires_after_hide", "counts"),
    [
        ("staff", None, True),
        ("admin", None, True),
        ("staff", 1, True),  # still valid at the hide's time
        ("staff", 0, False),  # ran out at the hide's time
        ("coordinator", None, False),
        ("driver", None, False),
    ],
)
def test_only_an_unexpired_staff_or_admin_role_counts(box, river, role, expires_after_hide, counts):
    # The grant ticks 1 s and the hide 60 s: the hide's time is known before either exists.
    hide_ms = river.origin.hlc[0] + 1000 + 60_000
    expires = None if expires_after_hide is None else hide_ms + expires_after_hide
    granted = grant(river, river.rita, role, expires)
    made = hide(river, river.rita)
    assert made.fields["hlc"][0] == hide_ms
    ingest(box, granted, made)
    assert hidden(river.post.id) is counts
    assert event(made)[:2] == ((True, None) if counts else (False, "unauthorised"))


def test_a_revoked_role_stops_counting_from_the_revocation_on(box, river):
    granted = grant(river, river.rita)
    before = hide(river, river.rita, "While staff")
    river.origin.tick(1000)
    revoked = river.origin.make("role.revoked", {"role": "staff"}, subject=river.rita.id)
    restore = river.origin.make(
        "post.unhidden", {"reason": "After"}, subject=river.post.id, author=river.rita.id
    )
    ingest(box, granted, before, revoked, restore)
    assert event(before) == (True, None, river.rita.id)
    assert event(restore)[:2] == (False, "unauthorised")
    assert hidden(river.post.id), "the restore made after her role ended does not count"


def test_on_this_box_too_only_staff_hides_count(box, alice, bob, staff):
    post = box.log.append("post.created", POST, author=alice.id)
    # A record no service writes (moderation.set_post_hidden checks staff): the fold does
    # not rely on that check.
    rogue = box.log.append("post.hidden", {"reason": "Mine now"}, subject=post.id, author=bob.id)
    assert not hidden(post.id)
    row = ModerationEvent.get_by_id(rogue.id)
    assert (row.honoured, row.review, row.author) == (False, "unauthorised", bob.id)
    [seen] = moderation.review_queue(box, staff)["unauthorised"]
    assert (seen["id"], seen["here"], seen["title"]) == (rogue.id, True, POST["title"])
    moderation.set_post_hidden(box, staff, post.id, True, "Advert", rule="spam")
    assert hidden(post.id)
    assert [r["by"] for r in moderation_log.public_log(box)] == ["Staff of this centre"]


# --- order independence --------------------------------------------------------------------


def test_a_role_that_arrives_after_the_hide_refolds_the_post(box, river):
    granted = grant(river, river.rita)
    made = hide(river, river.rita)
    ingest(box, made)  # a gap in Riverside's chain: the grant is still on its way
    assert not hidden(river.post.id)
    assert event(made)[:2] == (False, "unauthorised")
    ingest(box, granted)
    assert hidden(river.post.id)
    assert event(made) == (True, None, river.rita.id)


def test_a_revocation_that_arrives_late_undoes_a_later_hide(box, river):
    granted = grant(river, river.rita)
    river.origin.tick(1000)
    revoked = river.origin.make("role.revoked", {"role": "staff"}, subject=river.rita.id)
    made = hide(river, river.rita)
    ingest(box, granted, made)
    assert hidden(river.post.id)
    ingest(box, revoked)
    assert not hidden(river.post.id)
    assert event(made)[:2] == (False, "unauthorised")


def received(tmp_path, name: str, origins: list[str], batches: list[list[Made]]) -> dict:
    """Ingest batches into a fresh box (no centre of its own); return its projections.

    Left out: the trust rows, which name the receiving box (each box has its own key).
    """
    box = activate(new_box(tmp_path / name))
    trust(box, *origins)
    for batch in batches:
        ingest(box, *batch)
    dump = snapshot()
    dump.pop("trusted_origin")
    database.close()
    return dump


def column(model, name: str) -> int:
    """Return where a column sits in a snapshot row of the model."""
    fields = [f.name for f in model._meta.sorted_fields if f.name != "rowid"]
    return fields.index(name)


def test_any_arrival_order_gives_the_same_tables(tmp_path):
    w = riverside_records()
    base = [w.centre, w.rita, w.mo, w.post, w.comment]
    granted = grant(w, w.rita)
    first = hide(w, w.rita, "Staff hide")
    rogue = w.origin.make("post.unhidden", {"reason": "Mine"}, subject=w.post.id, author=w.mo.id)
    body = {"comment": w.comment.id, "reason": "Rude", "rule": "offensive"}
    on_comment = w.origin.make("comment.hidden", body, subject=w.post.id, author=w.rita.id)
    w.origin.tick(1000)
    revoked = w.origin.make("role.revoked", {"role": "staff"}, subject=w.rita.id)
    late = w.origin.make(
        "post.unhidden", {"reason": "After her role"}, subject=w.post.id, author=w.rita.id
    )
    records = [*base, granted, first, rogue, on_comment, revoked, late]
    origin = [w.origin.origin]
    in_order = received(tmp_path, "in-order", origin, [records])
    # Moderation first, then the roles, then the people and the post.
    backwards = [[first, rogue, on_comment, late], [revoked], [granted], list(reversed(base))]
    assert received(tmp_path, "backwards", origin, backwards) == in_order
    one_by_one = [[r] for r in reversed(records)]
    assert received(tmp_path, "one-by-one", origin, one_by_one) == in_order
    # The post and its moderation first, the roles last: the member's refold refolds it.
    roles_last = [base, [first, rogue, on_comment, late], [revoked], [granted]]
    assert received(tmp_path, "roles-last", origin, roles_last) == in_order
    # And the tables say what the rules say: Rita's hides while staff count; Mo's restore
    # and hers after the revocation do not.
    honoured = column(ModerationEvent, "honoured")
    counted = {row[0]: bool(row[honoured]) for row in in_order["moderation_event"]}
    assert counted == {first.id: True, rogue.id: False, on_comment.id: True, late.id: False}
    [post] = in_order["post"]
    assert post[column(Post, "hidden")]
    [comment] = in_order["comment"]
    assert comment[column(Comment, "hidden")]


# --- centres trusted through a paired centre -----------------------------------------------


@pytest.fixture
def far(box) -> SimpleNamespace:
    """A hub this box paired with, and a far centre the hub paired with (relayed here),
    with a post and a hide by its staff, stored here."""
    hub = Origin("hub", start_ms=START_MS)
    far = Origin("far", start_ms=START_MS + 500)
    trust(box, hub)
    ingest(
        box,
        hub.make("centre.created", {"name": "Hub Centre", "timezone": "Europe/London"}),
        hub.make("trust.granted", {"origin": far.origin, "name": "Far Centre"}),
    )
    w = SimpleNamespace(hub=hub, origin=far)
    w.centre = far.make("centre.created", {"name": "Far Centre", "timezone": "Europe/London"})
    w.rita = far.make("member.joined", {"name": "Rita"})
    w.post = far.make("post.created", POST, author=w.rita.id)
    w.granted = grant(w, w.rita)
    w.hide = hide(w, w.rita)
    ingest(box, w.centre, w.rita, w.post, w.granted, w.hide)
    return w


def test_a_relayed_centres_hides_wait_for_review(box, far, staff):
    assert not hidden(far.post.id)
    assert event(far.hide) == (False, "pending", far.rita.id)
    [waiting] = moderation.review_queue(box, staff)["peer_hides"]
    assert (waiting["id"], waiting["centre"]) == (far.hide.id, "Far Centre")
    moderation.review_peer_hide(box, staff, far.hide.id, "accept")
    assert hidden(far.post.id)


def test_staff_list_and_choose_for_a_relayed_centre(box, far, staff):
    choices = moderation_log.peer_choices(box, staff)
    assert [(c["name"], c["mode"], c["direct"], c["ended"], c["via"]) for c in choices] == [
        ("Hub Centre", "honour", True, False, ""),
        ("Far Centre", "review", False, False, "Hub Centre"),
    ]
    before = record_count()
    with pytest.raises(Conflict):
        moderation.set_peer_policy(box, staff, far.origin.origin, "review")  # the default
    assert record_count() == before
    moderation.set_peer_policy(box, staff, far.origin.origin, "honour")
    assert hidden(far.post.id), "the post is refolded at once"
    assert record_count() == before + 1
    moderation.set_peer_policy(box, staff, far.origin.origin, "ignore")
    assert not hidden(far.post.id)
    assert event(far.hide) == (False, None, far.rita.id)
    modes = {c["name"]: c["mode"] for c in moderation_log.peer_choices(box, staff)}
    assert modes == {"Hub Centre": "honour", "Far Centre": "ignore"}


def test_pairing_directly_makes_a_relayed_centre_honoured_by_default(box, far):
    assert load_policies().mode(far.origin.origin) == "review"
    trust(box, far.origin)
    assert load_policies().mode(far.origin.origin) == "honour"
    assert load_policies().mode(box.origin) == "honour"


def test_a_centre_whose_pairing_ended_can_still_be_chosen_for(box, far, staff):
    [grant] = StoredRecord.select().where(
        (StoredRecord.kind == "trust.granted") & (StoredRecord.origin == box.origin)
    )
    box.log.append("trust.revoked", {"last_seq": far.hub.seq}, subject=grant.id)
    # The hub is no longer trusted without a limit, so the far centre no longer reaches
    # this box; the hub itself is listed, its pairing ended, and still takes a choice.
    [choice] = moderation_log.peer_choices(box, staff)
    assert (choice["name"], choice["direct"], choice["ended"]) == ("Hub Centre", True, True)
    moderation.set_peer_policy(box, staff, far.hub.origin, "review")
    assert moderation_log.peer_choices(box, staff)[0]["mode"] == "review"


def test_peer_choice_bad_input_changes_nothing(box, far, staff, alice):
    before = record_count()
    cases = [
        (staff, Origin("stranger").origin, "ignore", {"origin"}),
        (staff, box.origin, "ignore", {"origin"}),
        (staff, "", "ignore", {"origin"}),
        (staff, "not a key", "ignore", {"origin"}),
        (staff, far.origin.origin, "sometimes", {"mode"}),
        (staff, far.origin.origin, "", {"mode"}),
    ]
    for who, origin, mode, fields in cases:
        with pytest.raises(InvalidInput) as excinfo:
            moderation.set_peer_policy(box, who, origin, mode)
        assert set(excinfo.value.fields) == fields, (origin, mode)
    assert excinfo.value.fields["mode"] == "Please choose honour, review or ignore."
    with pytest.raises(InvalidInput) as excinfo:
        moderation.set_peer_policy(box, staff, Origin("stranger").origin, "ignore")
    assert excinfo.value.fields["origin"] == "That is not a centre this box exchanges records with."
    with pytest.raises(NotAllowed):
        moderation.set_peer_policy(box, alice, far.origin.origin, "honour")
    assert record_count() == before
