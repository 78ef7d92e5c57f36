"""Erasures from a misbehaving peer, and erasures whose records arrive in any order
(appliance/erasure.py, appliance/log.py; sync/PROTOCOL.md section 8).

A trusted peer may send any erasure of its own members and any stub (a stub's id and
fields cannot be checked). These tests pin down what it still cannot do: redact this
box's records or another centre's, unpair this box, hide a verified record behind a
stub, or get an honest origin quarantined; and that the order records arrive in changes
nothing.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import test_convergence as convergence
from boxes import record_count, snapshot, trust
from recordmaker import Origin, lines, post_body, ride_body

from appliance.models import Comment, Erasure, Member, Post, Quarantine, Ride, StoredRecord
from appliance.records import encode, is_stub, make_stub, parse
from appliance.services import board

REFUSED = "redacted record without a valid erasure that covers it"


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
def world(box, alice):
    """Trusted peers P (members Pat and Quinn, Pat's post) and Q; Alice's post here."""
    p, q = Origin("peer-p"), Origin("peer-q")
    trusts = trust(box, p.origin, q.origin)
    made = SimpleNamespace(p=p, q=q, trusts=trusts)
    made.centre = p.make("centre.created", {"name": "Peer Centre", "timezone": "Europe/London"})
    made.pat = p.make("member.joined", {"name": "Patience Wolverhampton"})
    made.quinn = p.make("member.joined", {"name": "Quinn Oddfellow"})
    made.post = p.make("post.created", post_body(title="Pat's gooseberry glut"), author=made.pat.id)
    made.q_centre = q.make("centre.created", {"name": "Q Centre", "timezone": "Europe/London"})
    records = [made.centre, made.pat, made.quinn, made.post, made.q_centre]
    assert box.log.ingest(lines(records)).ok
    made.alice_post = board.create_post(box, alice, post_data("Alice's spare ladder"))
    return made


def erasure_of(origin: Origin, member_id: str, author: str, mode="remove", entities=()):
    body = {"mode": mode, "entities": list(entities)}
    return origin.make("member.erased", body, subject=member_id, author=author)


def stub_line(fields: dict, record_id: str, erasure_id: str, **changes) -> bytes:
    """Return a stub of whatever fields a peer chooses to claim."""
    claimed = {k: v for k, v in fields.items() if k not in ("body", "sig")}
    claimed.update(changes)
    claimed["redacted"] = {"id": record_id, "erasure": erasure_id}
    return encode(claimed)


def raw_of(record_id: str) -> bytes:
    return bytes(StoredRecord.get_by_id(record_id).raw)


def held_in_full(record_id: str) -> bool:
    return not is_stub(json.loads(raw_of(record_id)))


# --- what an erasure's entities may name ----------------------------------------------


def test_an_erasure_cannot_name_this_boxs_records(box, world):
    centre_id = StoredRecord.get(StoredRecord.kind == "centre.created").id
    named = [world.alice_post, *world.trusts, centre_id]
    erase = erasure_of(world.p, world.pat.id, world.pat.id, entities=[world.post.id, *named])
    assert box.log.ingest([erase.line]).ok
    assert Member.get_by_id(world.pat.id).erased  # the erasure itself is valid
    assert not Post.select().where(Post.id == world.post.id).exists()
    # This box's own post, its pairing and its centre stand.
    assert Post.get_by_id(world.alice_post).title == "Alice's spare ladder"
    assert all(held_in_full(i) for i in named)
    assert {world.p.origin, world.q.origin} <= set(box.log.trusted_origins())
    # A comment on Alice's post arriving later is kept, and a stub of one is refused.
    comment = world.q.make("comment.added", {"text": "Mine is taller"}, subject=world.alice_post)
    assert box.log.ingest([comment.line]).ok
    assert Comment.get_by_id(comment.id).text == "Mine is taller"
    other = world.q.make("comment.added", {"text": "Or mine"}, subject=world.alice_post)
    before = record_count()
    result = box.log.ingest([make_stub(parse(other.line), erase.id).raw])
    assert [r.reason for r in result.rejected] == [REFUSED]
    assert record_count() == before
    assert box.log.verify() == []


def test_only_the_members_own_rides_go(box, world):
    theirs = world.p.make("ride.requested", ride_body(world.quinn.id), author=world.quinn.id)
    hers = world.p.make("ride.requested", ride_body(world.pat.id), author=world.quinn.id)
    assert box.log.ingest(lines([theirs, hers])).ok
    erase = erasure_of(world.p, world.pat.id, world.pat.id, "keep", [theirs.id, hers.id])
    assert box.log.ingest([erase.line]).ok
    assert [r.id for r in Ride.select()] == [theirs.id]
    assert held_in_full(theirs.id) and not held_in_full(hers.id)
    # With mode keep her post stays, though the erasure names it.
    keep = erasure_of(world.p, world.quinn.id, world.quinn.id, "keep", [world.post.id])
    assert box.log.ingest([keep.line]).ok
    assert Member.get_by_id(world.quinn.id).erased
    assert Post.get_by_id(world.post.id).title == "Pat's gooseberry glut"


def test_an_entity_is_judged_when_its_creating_record_arrives(box, world):
    p = world.p
    hers = p.make("post.created", post_body(title="Pat's quince jelly"), author=world.pat.id)
    q_post = world.q.make("post.created", post_body(title="Q's own plums"))
    erase = erasure_of(p, world.pat.id, world.pat.id, entities=[hers.id, q_post.id])
    assert box.log.ingest([erase.line]).ok  # P's seq 5 has not arrived: a gap
    on_hers = world.q.make("comment.added", {"text": "Quince please"}, subject=hers.id)
    on_q = world.q.make("comment.added", {"text": "Plums please"}, subject=q_post.id)
    assert box.log.ingest(lines([q_post, on_hers, on_q])).ok
    # Q's post was not Pat's to take; the fate of Pat's waits for her post.
    assert Post.get_by_id(q_post.id).title == "Q's own plums"
    assert all(held_in_full(i) for i in (q_post.id, on_q.id, on_hers.id))
    assert box.log.ingest([hers.line]).ok
    assert not held_in_full(hers.id) and not held_in_full(on_hers.id)
    assert not Post.select().where(Post.id == hers.id).exists()
    assert Comment.get_by_id(on_q.id).text == "Plums please"
    assert box.log.verify() == []


# --- forged stubs -----------------------------------------------------------------------


@pytest.fixture
def erased_pat(box, world):
    """Pat erased by P, mode remove: the erasure every forged stub below names."""
    erase = erasure_of(world.p, world.pat.id, world.pat.id, entities=[world.post.id])
    assert box.log.ingest([erase.line]).ok
    return erase


def test_what_the_member_wrote_counts_only_at_their_home_box(box, world, erased_pat):
    q = world.q
    claimed = q.make(
        "comment.added", {"text": "Signed Pat"}, subject=world.alice_post, advance=False
    )
    before = record_count()
    result = box.log.ingest([stub_line(claimed.fields, claimed.id, erased_pat.id)])
    assert [r.reason for r in result.rejected] == [REFUSED]
    assert record_count() == before
    # Q's record naming Pat as its author is Q's word, not Pat's: kept in full.
    written = q.make(
        "comment.added", {"text": "Signed Pat"}, subject=world.alice_post, author=world.pat.id
    )
    assert box.log.ingest([written.line]).ok
    assert held_in_full(written.id)
    assert Comment.get_by_id(written.id).text == "Signed Pat"


def covered_stub_at(world, erased_pat, genuine, record_id: str) -> bytes:
    """A stub at the genuine record's place, claiming to be about Pat (so covered)."""
    return stub_line(genuine.fields, record_id, erased_pat.id, subject=world.pat.id)


def test_a_stub_carrying_a_real_records_id_gives_way_to_it(box, world, erased_pat):
    genuine = world.q.make("comment.added", {"text": "Real words"}, subject=world.alice_post)
    assert box.log.ingest([covered_stub_at(world, erased_pat, genuine, genuine.id)]).ok
    result = box.log.ingest([genuine.line])
    assert (result.ok, result.accepted, result.duplicates) == (True, [genuine.id], 0)
    assert raw_of(genuine.id) == genuine.line
    assert Comment.get_by_id(genuine.id).text == "Real words"
    assert box.log.verify() == []


def test_a_stub_with_a_made_up_id_does_not_make_a_fork(box, world, erased_pat):
    genuine = world.q.make("comment.added", {"text": "Real words"}, subject=world.alice_post)
    assert box.log.ingest([covered_stub_at(world, erased_pat, genuine, "ab" * 32)]).ok
    result = box.log.ingest([genuine.line])
    assert result.ok, result.rejected
    assert not Quarantine.select().exists()
    assert not StoredRecord.select().where(StoredRecord.id == "ab" * 32).exists()
    assert Comment.get_by_id(genuine.id).text == "Real words"
    assert box.log.verify() == []


def test_a_stub_never_displaces_a_verified_neighbour(box, world, erased_pat):
    q = world.q
    second = q.make("comment.added", {"text": "Second"}, subject=world.alice_post)
    third = q.make("comment.added", {"text": "Third"}, subject=world.alice_post)
    # A made-up record at seq 2: the genuine seq 3, which follows another, still enters.
    assert box.log.ingest([covered_stub_at(world, erased_pat, second, "cd" * 32)]).ok
    assert box.log.ingest([third.line]).ok
    assert not StoredRecord.select().where(StoredRecord.id == "cd" * 32).exists()
    assert box.log.ingest([second.line]).ok
    # A stub contradicting what is held is passed over, not taken for a fork.
    before = record_count()
    late = box.log.ingest([covered_stub_at(world, erased_pat, second, "ef" * 32)])
    assert (late.ok, late.accepted, late.duplicates) == (True, [], 1)
    assert record_count() == before
    assert not Quarantine.select().exists()
    assert {c.text for c in Comment.select()} == {"Second", "Third"}
    assert box.log.verify() == []


def test_a_covered_record_replaces_a_forged_stub_by_its_own(box, world, erased_pat):
    genuine = world.p.make("conduct.accepted", {"version": 1}, subject=world.pat.id)
    forged = stub_line(genuine.fields, genuine.id, erased_pat.id, hlc=[1, 0], kind="vote.cast")
    assert box.log.ingest([forged]).ok
    assert box.log.ingest([genuine.line]).ok
    assert raw_of(genuine.id) == make_stub(parse(genuine.line), erased_pat.id).raw
    assert StoredRecord.get_by_id(genuine.id).hlc_ms == genuine.fields["hlc"][0]
    assert box.log.verify() == []


def test_a_borrowed_member_id_cannot_erase_another_centres_member(box, world):
    # P claims, by a stub, that Q's member joined at P, then erases them.
    q_member = world.q.make("member.joined", {"name": "Rowan Quayside"})
    erase = world.p.make(
        "member.erased",
        {"mode": "keep", "entities": []},
        subject=q_member.id,
        author=q_member.id,
    )
    claimed = world.p.make("member.joined", {"name": "x"}, advance=False)
    stub = stub_line(claimed.fields, q_member.id, erase.id, seq=99, prev="0" * 64)
    assert box.log.ingest([stub, erase.line]).ok
    assert box.log.ingest([q_member.line]).ok
    assert held_in_full(q_member.id)
    assert Member.get_by_id(q_member.id).name == "Rowan Quayside"
    about = world.q.make("conduct.accepted", {"version": 1}, subject=q_member.id)
    assert box.log.ingest([about.line]).ok
    assert held_in_full(about.id)


# --- arrival order ----------------------------------------------------------------------


def staff_erasure_history() -> list:
    """East's staff member Quinn erases Pat (remove); West comments on Pat's post."""
    east, west = Origin("east"), Origin("west")
    tz = "Europe/London"
    centre = east.make("centre.created", {"name": "East", "timezone": tz})
    pat = east.make("member.joined", {"name": "Pat Eastwood"})
    quinn = east.make("member.joined", {"name": "Quinn Eastwood"})
    post = east.make("post.created", post_body(title="Pat's damsons"), author=pat.id)
    ride = east.make("ride.requested", ride_body(pat.id), author=pat.id)
    grant = east.make("role.granted", {"role": "staff", "expires": None}, subject=quinn.id)
    erase = erasure_of(east, pat.id, quinn.id, "remove", [post.id, ride.id])
    west_centre = west.make("centre.created", {"name": "West", "timezone": tz})
    wendy = west.make("member.joined", {"name": "Wendy West"})
    comment = west.make("comment.added", {"text": "Damson gin!"}, subject=post.id, author=wendy.id)
    return [centre, pat, quinn, post, ride, grant, erase, west_centre, wendy, comment]


def test_a_staff_erasure_before_the_staff_grant_is_honoured_when_it_arrives():
    records = staff_erasure_history()
    pat, post, grant, erase = records[1], records[3], records[5], records[6]
    in_order = [list(range(len(records)))]
    erasure_first = [[0, 1, 2, 3, 4], [6], [7, 8, 9], [5]]
    with convergence.received(records, erasure_first):
        assert Erasure.get_by_id(pat.id).id == erase.id
        assert not Post.select().where(Post.id == post.id).exists()
        assert not Comment.select().exists() and not Ride.select().exists()
        assert StoredRecord.get_by_id(grant.id).kind == "role.granted"
    plans = [in_order, erasure_first, *convergence.every_order(records)]
    seen = []
    for plan in plans:
        with convergence.received(records, plan):
            seen.append(snapshot())
    assert all(s == seen[0] for s in seen)
