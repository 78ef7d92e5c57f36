"""Erasing a member (appliance/services/erasure.py, appliance/erasure.py): the erasure
record, redacted stubs in the log, local clean-up, and what other boxes accept.

The erased values are distinctive words, searched for in every projection table, in
`kith log export` lines and in the raw bytes of the database file and its WAL.
"""

from __future__ import annotations

import json

import pytest
from boxes import PASSWORD, member, new_box, record_count, snapshot, trust, with_role
from kithtest import Clock
from recordmaker import Origin, lines, post_body

from appliance import projection
from appliance.box import DB_FILE
from appliance.db import database
from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import (
    PROJECTIONS,
    Account,
    Comment,
    Erasure,
    LoginSession,
    Member,
    MemberPrivate,
    Post,
    Ride,
    StoredRecord,
)
from appliance.records import RecordError, encode, is_stub, make_stub, parse
from appliance.services import accounts, board, rides
from appliance.services import erasure as erasing

NAME = "Zephyrine Quillfeather"
CONTACT = "zq-7731@larkmail.example"
KEPT_TITLE = "Marmalade tangerine jars wanted"
AREAS = ("Xylophone Hollow", "Quincevale Parade")
ADDRESS = "88 Vortigern Crescent"
MINE = "Brambleberry crumble recipe"  # her comment on someone else's post
THEIRS = "Happy to bring jars on Tuesday"  # someone else's comment on her post
ERASED = (NAME, CONTACT, *AREAS, ADDRESS, MINE)

RIDE = {
    "from_address": ADDRESS,
    "to_address": "Surgery, Station Road",
    "from_area": AREAS[0],
    "to_area": AREAS[1],
    "date": "2026-01-06",
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "none",
    "return_at": "",
    "passengers": "1",
    "notes": "",
}


def post_data(title: str) -> dict:
    return {
        "type": "need",
        "title": title,
        "details": "",
        "category": "local-fix",
        "place": "Elm Road",
        "needed_by": "",
    }


@pytest.fixture
def zeph(box):
    member_id = accounts.sign_up(box, NAME, PASSWORD, contact=CONTACT)
    accounts.start_session(box, member_id)
    return accounts.actor_for(box, member_id)


@pytest.fixture
def story(box, zeph, bob):
    """Zeph posts, Bob comments on it; Bob posts, Zeph comments on his; Zeph asks a ride."""
    hers = board.create_post(box, zeph, post_data(KEPT_TITLE))
    theirs_id = board.add_comment(box, bob, hers, THEIRS)
    his = board.create_post(box, bob, post_data("Ladder for the gutter"))
    mine_id = board.add_comment(box, zeph, his, MINE)
    ride = rides.request_ride(box, zeph, RIDE)
    return {"hers": hers, "his": his, "theirs": theirs_id, "mine": mine_id, "ride": ride}


def projected_text() -> str:
    return json.dumps(snapshot(), default=str)


def exported(box) -> bytes:
    return b"\n".join(box.log.export())


def file_bytes(box) -> bytes:
    """The database file and its WAL, as they are on disk."""
    path = box.data_dir / DB_FILE
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def assert_gone(box, values) -> None:
    text, export, disk = projected_text(), exported(box), file_bytes(box)
    for value in values:
        assert value not in text, value
        assert value.encode() not in export, value
        assert value.encode() not in disk, value


def refold_all() -> None:
    """Empty every folded table and refold every entity from the log."""
    for model in PROJECTIONS:
        if model is not Erasure:  # written by the log, not by a fold
            model.delete().execute()
    database.execute_sql("DELETE FROM post_fts")
    aggregates = [
        a for (a,) in database.execute_sql("SELECT DISTINCT aggregate FROM stored_record")
    ]
    with database.atomic():
        projection.refold_many(aggregates)


# --- keep ------------------------------------------------------------------------------


def test_keep_erases_the_person_and_leaves_their_posts_as_a_former_member(box, zeph, story):
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert all(v.encode() in file_bytes(box) for v in (NAME, CONTACT, AREAS[0], MINE))
    before = record_count()
    erasure_id = erasing.erase_member(box, zeph, zeph.id, "keep")
    assert record_count() == before + 1

    row = Member.get_by_id(zeph.id)
    assert (row.name, row.erased) == (projection.ERASED_NAME, True)
    for model in (Account, LoginSession, MemberPrivate):
        assert not model.select().where(model.member == zeph.id).exists()
    assert accounts.actor_for(box, zeph.id) is None  # an erased account acts no more
    assert not Ride.select().exists()
    # Her post stays, with Bob's comment on it; her own comment stays, without her name.
    post = Post.get_by_id(story["hers"])
    assert (post.title, post.author) == (KEPT_TITLE, zeph.id)
    assert Comment.get_by_id(story["theirs"]).text == THEIRS
    assert Comment.get_by_id(story["mine"]).text == MINE
    erased = Erasure.get_by_id(zeph.id)
    assert (erased.id, erased.mode, json.loads(erased.entities)) == (
        erasure_id,
        "keep",
        [story["ride"]],
    )
    assert_gone(box, (NAME, CONTACT, *AREAS, ADDRESS))
    assert KEPT_TITLE.encode() in exported(box)
    # The chain is whole: same seqs and ids, stubs where bodies were.
    stubs = [parse(line) for line in box.log.export() if b'"redacted"' in line]
    assert {s.id for s in stubs} >= {zeph.id, story["ride"]}
    assert all(s.fields["redacted"]["erasure"] == erasure_id for s in stubs)
    assert box.log.verify() == []


def test_remove_takes_their_posts_with_others_comments_and_what_they_wrote(box, zeph, story, bob):
    erasing.erase_member(box, zeph, zeph.id, "remove")
    assert not Post.select().where(Post.id == story["hers"]).exists()
    assert not Comment.select().where(Comment.id.in_([story["theirs"], story["mine"]])).exists()
    assert Post.get_by_id(story["his"]).title == "Ladder for the gutter"
    hits = database.execute_sql("SELECT COUNT(*) FROM post_fts WHERE post_fts MATCH 'marmalade'")
    assert hits.fetchone()[0] == 0
    assert_gone(box, (*ERASED, KEPT_TITLE, "tangerine", THEIRS))
    assert json.loads(Erasure.get_by_id(zeph.id).entities) == sorted([story["hers"], story["ride"]])
    assert box.log.verify() == []


@pytest.mark.parametrize("mode", ["keep", "remove"])
def test_refolding_everything_gives_the_same_tables(box, zeph, story, mode):
    erasing.erase_member(box, zeph, zeph.id, mode)
    before = snapshot()
    refold_all()
    assert snapshot() == before


@pytest.mark.parametrize("mode", ["keep", "remove"])
def test_a_box_that_meets_the_chain_later_accepts_the_stubs(tmp_path, box, zeph, story, mode):
    erasing.erase_member(box, zeph, zeph.id, mode)
    export = list(box.log.export())
    tables = {m: sorted(m.select().tuples(), key=repr) for m in (Member, Post, Comment, Ride)}
    erasure_row = Erasure.get_by_id(zeph.id).__data__
    later = new_box(tmp_path / "later", Clock(box.log.now_ms()))
    trust(later, box.origin)
    result = later.log.ingest(export)
    assert result.ok, result.rejected
    for model, rows in tables.items():
        theirs = model.select().where(getattr(model, "origin", None) == box.origin)
        if model is Comment:
            theirs = model.select()
        assert sorted(theirs.tuples(), key=repr) == rows, model
    assert Erasure.get_by_id(zeph.id).__data__ == erasure_row
    assert later.log.verify() == []
    assert_gone(later, ERASED if mode == "remove" else (NAME, *AREAS))


def test_staff_erase_for_a_member_who_asks(box, zeph, story, staff):
    erasing.erase_member(box, staff, zeph.id)
    assert Member.get_by_id(zeph.id).erased
    assert StoredRecord.get_by_id(Erasure.get_by_id(zeph.id).id).kind == "member.erased"


def test_the_preview_counts_what_goes_and_stays(box, zeph, story, staff):
    preview = erasing.erasure_preview(box, zeph, zeph.id)
    assert preview == {
        "member": zeph.id,
        "name": NAME,
        "posts": 1,
        "comments": 1,
        "others_comments": 1,
        "rides": 1,
        "shifts": 0,
        "contact": True,
        "last_admin": False,
        "remove_allowed": True,
    }
    assert erasing.erasure_preview(box, staff, zeph.id)["name"] == NAME
    with pytest.raises(NotAllowed):
        erasing.erasure_preview(box, member(box, "Nosy"), zeph.id)


# --- bad input ---------------------------------------------------------------------------


def refused(call, error):
    before = record_count(), Account.select().count(), Erasure.select().count()
    with pytest.raises(error) as excinfo:
        call()
    assert (record_count(), Account.select().count(), Erasure.select().count()) == before
    return excinfo.value


def test_bad_requests_change_nothing(box, zeph, bob, staff):
    message = refused(lambda: erasing.erase_member(box, bob, zeph.id), NotAllowed)
    assert "only erase your own account" in message.message
    refused(lambda: erasing.erase_member(box, None, zeph.id), NotSignedIn)
    refused(lambda: erasing.erase_member(box, staff, "f" * 64), NotFound)
    error = refused(lambda: erasing.erase_member(box, zeph, zeph.id, "shred"), InvalidInput)
    assert set(error.fields) == {"mode"}
    refused(lambda: erasing.erase_member(box, zeph, zeph.id, ""), InvalidInput)
    erasing.erase_member(box, zeph, zeph.id)
    message = refused(lambda: erasing.erase_member(box, staff, zeph.id), Conflict)
    assert "already erased" in message.message


def test_only_an_admin_erases_a_member_of_staff(box, staff, admin):
    other = with_role(box, "Second Staff", "staff")
    message = refused(lambda: erasing.erase_member(box, staff, other.id), NotAllowed)
    assert "Only an admin" in message.message
    refused(lambda: erasing.erase_member(box, staff, admin.id), NotAllowed)
    erasing.erase_member(box, admin, other.id)
    assert Member.get_by_id(other.id).erased


def test_the_last_admin_cannot_erase_themself(box, admin):
    message = refused(lambda: erasing.erase_member(box, admin, admin.id), Conflict)
    assert "last admin" in message.message
    with_role(box, "Second Admin", "admin")
    erasing.erase_member(box, admin, admin.id)
    assert Member.get_by_id(admin.id).erased


def test_an_account_that_did_staff_work_is_erased_keeping_its_posts(box, staff, bob):
    board.create_post(box, staff, post_data("Chairs for the hall"))
    from appliance.services import members

    members.set_verified(box, staff, bob.id, True)
    message = refused(lambda: erasing.erase_member(box, staff, staff.id, "remove"), Conflict)
    assert "staff work" in message.message
    assert not erasing.erasure_preview(box, staff, staff.id)["remove_allowed"]
    erasing.erase_member(box, staff, staff.id, "keep")
    assert Member.get_by_id(bob.id).verified  # her work stays


def test_too_many_entities_are_refused(box, zeph, story, monkeypatch):
    monkeypatch.setattr(erasing, "ENTITIES_MAX", 1)
    message = refused(lambda: erasing.erase_member(box, zeph, zeph.id, "remove"), Conflict)
    assert "too many" in message.message


def test_a_member_of_another_centre_is_erased_there(box, staff):
    peer = Origin("elsewhere")
    trust(box, peer.origin)
    centre = peer.make("centre.created", {"name": "Fernlea Hub", "timezone": "Europe/London"})
    joined = peer.make("member.joined", {"name": "Far Away"})
    assert box.log.ingest(lines([centre, joined])).ok
    message = refused(lambda: erasing.erase_member(box, staff, joined.id), Conflict)
    assert message.message % message.params == (
        "Only Fernlea Hub's staff can erase that account: ask there."
    )


# --- erasures from other boxes -----------------------------------------------------------


@pytest.fixture
def peer(box):
    """A trusted peer box P with its centre, a member Pat who posted, and a member Quinn."""
    p = Origin("peer-p")
    trust(box, p.origin)
    centre = p.make("centre.created", {"name": "Peer Centre", "timezone": "Europe/London"})
    pat = p.make("member.joined", {"name": "Patience Wolverhampton"})
    quinn = p.make("member.joined", {"name": "Quinn"})
    post = p.make("post.created", post_body(title="Pat's gooseberry glut"), author=pat.id)
    assert box.log.ingest(lines([centre, pat, quinn, post])).ok
    return {"p": p, "centre": centre, "pat": pat, "quinn": quinn, "post": post}


def erasure_of(origin: Origin, member_id: str, author: str, mode="remove", entities=()):
    body = {"mode": mode, "entities": list(entities)}
    return origin.make("member.erased", body, subject=member_id, author=author)


def test_forged_erasures_are_stored_but_change_nothing(box, peer, alice):
    before = snapshot()
    # Another trusted box erasing P's member; a P member who is not staff erasing Pat;
    # P erasing a member of this box.
    mallory = Origin("mallory")
    trust(box, mallory.origin)
    before = snapshot()
    forged = [
        erasure_of(mallory, peer["pat"].id, peer["pat"].id),
        erasure_of(peer["p"], peer["pat"].id, peer["quinn"].id),
        erasure_of(peer["p"], alice.id, alice.id),
    ]
    for made in forged:
        result = box.log.ingest([made.line])
        assert result.ok, result.rejected
    assert snapshot() == before
    assert Member.get_by_id(peer["pat"].id).name == "Patience Wolverhampton"
    assert not Erasure.select().exists()
    assert box.log.verify() == []


def test_staff_of_the_home_box_erase_and_their_stubs_are_accepted(box, peer):
    p = peer["p"]
    # Quinn is made staff by P; a role granted by another box would not count.
    grant = p.make("role.granted", {"role": "staff", "expires": None}, subject=peer["quinn"].id)
    erase = erasure_of(p, peer["pat"].id, peer["quinn"].id, entities=[peer["post"].id])
    assert box.log.ingest(lines([grant, erase])).ok
    assert Member.get_by_id(peer["pat"].id).erased
    assert not Post.select().where(Post.id == peer["post"].id).exists()
    stored = parse(bytes(StoredRecord.get_by_id(peer["post"].id).raw))
    assert is_stub(stored.fields) and stored.id == peer["post"].id
    assert "gooseberry" not in projected_text()


def test_an_erasure_waits_for_its_member(box):
    p = Origin("peer-late")
    trust(box, p.origin)
    centre = p.make("centre.created", {"name": "Late Centre", "timezone": "Europe/London"})
    pat = p.make("member.joined", {"name": "Persephone Late"})
    erase = erasure_of(p, pat.id, pat.id, mode="keep")
    assert box.log.ingest([erase.line]).ok  # seq 3 before 1 and 2: a gap is allowed
    assert not Erasure.select().exists()
    assert box.log.ingest(lines([centre, pat])).ok
    assert Member.get_by_id(pat.id).erased
    assert is_stub(json.loads(bytes(StoredRecord.get_by_id(pat.id).raw)))


def test_a_record_arriving_after_the_erasure_is_stored_as_its_stub(box, peer, bob):
    p = peer["p"]
    comment = p.make(
        "comment.added", {"text": "Pat again"}, subject=peer["post"].id, author=peer["pat"].id
    )
    erase = erasure_of(p, peer["pat"].id, peer["pat"].id, entities=[peer["post"].id])
    assert box.log.ingest([erase.line]).ok  # the comment (seq 5) has not arrived
    assert box.log.ingest([comment.line]).ok
    raw = bytes(StoredRecord.get_by_id(comment.id).raw)
    assert b"Pat again" not in raw and json.loads(raw)["redacted"]["erasure"] == erase.id
    # And a comment of this box's member on the removed post, written after the erasure.
    late = Origin("peer-q")
    trust(box, late.origin)
    other = late.make("comment.added", {"text": "Late words"}, subject=peer["post"].id)
    assert box.log.ingest([other.line]).ok
    assert is_stub(json.loads(bytes(StoredRecord.get_by_id(other.id).raw)))
    assert box.log.verify() == []


def test_a_stub_without_a_valid_erasure_is_refused(box, peer):
    p = peer["p"]
    shown = p.make("post.resolved", {"note": "done"}, subject=peer["post"].id)
    fake = make_stub(parse(shown.line), "e" * 64)
    before = record_count()
    result = box.log.ingest([fake.raw])
    assert [r.reason for r in result.rejected] == [
        "redacted record without a valid erasure that covers it"
    ]
    assert (result.rejected[0].line, result.rejected[0].id) == (1, shown.id)
    assert record_count() == before
    # Naming a real erasure that does not cover it is no better.
    erase = erasure_of(p, peer["quinn"].id, peer["quinn"].id, mode="keep")
    stub = make_stub(parse(shown.line), erase.id)
    result = box.log.ingest([stub.raw, erase.line])
    assert not result.ok and result.rejected[0].line == 1
    assert record_count() == before


def test_a_stub_must_be_well_formed(box, peer):
    shown = peer["p"].make("post.resolved", {"note": "done"}, subject=peer["post"].id)
    good = make_stub(parse(shown.line), "e" * 64)
    bad = [
        good.raw.replace(b'"erasure":"eee', b'"erasure":"EEE'),
        good.raw.replace(b'"redacted":{', b'"redacted":{"x":1,'),
        good.raw.replace(b'"seq":5', b'"seq": 5'),
        encode({**good.fields, "colour": "blue"}),
    ]
    before = record_count()
    result = box.log.ingest(bad)
    assert [r.line for r in result.rejected] == [1, 2, 3, 4]
    assert record_count() == before
    # A record that keeps its body cannot pass for a stub.
    with pytest.raises(RecordError, match="unknown field"):
        parse(encode({**shown.fields, "redacted": good.fields["redacted"]}))


def test_verify_reports_a_stub_no_erasure_covers(box, peer):
    stored = StoredRecord.get_by_id(peer["post"].id)
    stub = make_stub(parse(bytes(stored.raw)), "e" * 64)
    StoredRecord.update(raw=stub.raw).where(StoredRecord.id == stored.id).execute()
    assert box.log.verify() == [
        f"{stored.id}: redacted record without a valid erasure that covers it"
    ]


def test_erasures_stored_before_the_box_knew_them_are_applied_by_apply_stored(box, peer):
    from appliance.erasure import apply_stored
    from appliance.log import _INSERT_STORED, _row

    # As an older box would have stored it: kept, never applied.
    made = erasure_of(peer["p"], peer["pat"].id, peer["pat"].id, mode="keep")
    with database.atomic():
        database.execute_sql(_INSERT_STORED, _row(parse(made.line)))
    assert Member.get_by_id(peer["pat"].id).name == "Patience Wolverhampton"
    with database.atomic():
        assert apply_stored().erasures == [made.id]
    assert Member.get_by_id(peer["pat"].id).erased
    assert "Patience" not in projected_text()
    with database.atomic():
        assert apply_stored().erasures == []  # once is enough
    assert box.log.verify() == []
