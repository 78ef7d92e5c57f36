"""The record log: appending, ingesting foreign records, forks, trust, export and verify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from boxes import START_MS, activate, member, new_box, record_count, snapshot, trust
from kithtest import Clock
from recordmaker import DAY_MS, Origin, lines

from appliance.box import KEY_FILE, SECRET_FILE, Box
from appliance.db import database
from appliance.models import (
    BoxState,
    Comment,
    Member,
    Post,
    Quarantine,
    StoredRecord,
    TrustedOrigin,
)
from appliance.records import parse
from appliance.services import board, board_queries
from appliance.services.board_queries import BoardFilters

HOUR_MS = 3_600_000
ROOT = Path(__file__).resolve().parents[2]


def board_titles(box, viewer=None) -> list[str]:
    """Return the titles on the first page of the board, as a visitor sees it."""
    return [p["title"] for p in board_queries.list_posts(box, viewer, BoardFilters())["posts"]]


def post_body(title: str, **change) -> dict:
    body = {
        "type": "need",
        "title": title,
        "details": "",
        "category": "food",
        "place": "Millbrook",
        "needed_by": None,
    }
    return {**body, **change}


@pytest.fixture
def north() -> Origin:
    return Origin("north")


@pytest.fixture
def peer(box, north) -> Origin:
    """A made-up peer box that `box` trusts."""
    trust(box, north)
    return north


def peer_post(origin: Origin, title: str = "Lift to the hospital") -> list:
    """Return a member joining on the origin and posting a need: two records."""
    joined = origin.make("member.joined", {"name": "Nora"})
    post = origin.make("post.created", post_body(title), author=joined.id)
    return [joined, post]


# --- appending -------------------------------------------------------------------------


def test_append_links_a_chain_with_increasing_hlc(tmp_path):
    clock = Clock(START_MS)
    box = new_box(tmp_path / "box", clock)
    first = box.log.append("centre.created", {"name": "Hall", "timezone": "Europe/London"})
    second = box.log.append(
        "category.set", {"slug": "food", "label": "Food", "active": True}, subject=first.id
    )
    clock.advance(5)
    third = box.log.append("member.joined", {"name": "Ann"})
    clock.ms -= 60_000  # the wall clock steps back (a Pi without a real-time clock)
    fourth = box.log.append("member.joined", {"name": "Ben"})

    assert [r.seq for r in (first, second, third, fourth)] == [1, 2, 3, 4]
    assert [r.prev for r in (first, second, third, fourth)] == [
        None,
        first.id,
        second.id,
        third.id,
    ]
    assert first.hlc == [START_MS, 0]
    assert second.hlc == [START_MS, 1]
    assert third.hlc == [START_MS + 5, 0]
    assert fourth.hlc == [START_MS + 5, 1]
    assert all(r.origin == box.origin and r.author is None for r in (first, third))
    for rec in (first, second, third, fourth):
        stored = StoredRecord.get_by_id(rec.id)
        assert bytes(stored.raw) == rec.raw
        assert parse(bytes(stored.raw)).id == rec.id
    state = BoxState.get_by_id(box.origin)
    assert (state.seq, state.last_id) == (4, fourth.id)
    assert box.log.version_vector() == {box.origin: 4}


def test_append_refuses_a_body_peers_would_refuse(box):
    before = record_count()
    with pytest.raises(ValueError, match="body.title must not be empty"):
        box.log.append("post.created", post_body("   "))
    with pytest.raises(ValueError, match="needs a subject"):
        box.log.append("post.resolved", {"note": ""})
    assert record_count() == before
    assert BoxState.get_by_id(box.origin).seq == before


def test_append_normalises_strings_to_nfc(box, alice):
    post_id = box.log.append("post.created", post_body("Cafe\u0301 help"), author=alice.id).id
    assert Post.get_by_id(post_id).title == "Caf\u00e9 help"


# --- ingesting -------------------------------------------------------------------------


def test_trusted_foreign_records_are_applied(box, peer):
    records = peer_post(peer)
    result = box.log.ingest(lines(records))
    assert result.ok
    assert result.accepted == [r.id for r in records]
    assert result.duplicates == 0
    assert board_titles(box) == ["Lift to the hospital"]
    post = Post.get_by_id(records[1].id)
    assert (post.origin, post.author) == (peer.origin, records[0].id)
    assert Member.get_by_id(records[0].id).name == "Nora"
    assert box.log.version_vector()[peer.origin] == 2


def test_untrusted_origin_is_refused(box, north):
    before, state = record_count(), snapshot()
    result = box.log.ingest(lines(peer_post(north)))
    assert not result.ok
    assert [r.line for r in result.rejected] == [1, 2]
    assert all("not trusted" in r.reason for r in result.rejected)
    assert result.rejected[0].origin == north.origin
    assert result.accepted == []
    assert record_count() == before
    assert snapshot() == state


def test_bad_signature_is_refused(box, peer):
    joined, post = peer_post(peer)
    tampered = post.line.replace(b"hospital", b"hospitul")
    result = box.log.ingest([joined.line, tampered])
    assert [(r.line, r.reason) for r in result.rejected] == [(2, "signature does not verify")]
    assert Member.get_or_none(Member.id == joined.id) is None


def test_batch_with_one_bad_record_applies_nothing(box, peer, alice):
    board.create_post(box, alice, post_body("Local need"))
    before, state = record_count(), snapshot()
    joined, post = peer_post(peer)
    comment = peer.make("comment.added", {"text": "I can drive"}, subject=post.id)
    bad_body = peer.make("comment.added", {"text": ""}, subject=post.id)
    result = box.log.ingest([joined.line, post.line, bad_body.line, comment.line])
    assert result.accepted == []
    assert [r.line for r in result.rejected] == [3]
    assert "body.text must not be empty" in result.rejected[0].reason
    assert record_count() == before
    assert snapshot() == state
    assert board_titles(box) == ["Local need"]


def test_ingesting_twice_changes_nothing(box, peer):
    records = peer_post(peer)
    records.append(peer.make("comment.added", {"text": "When?"}, subject=records[1].id))
    first = box.log.ingest(lines(records))
    assert len(first.accepted) == 3
    count, state = record_count(), snapshot()
    again = box.log.ingest(lines(records))
    assert (again.ok, again.accepted, again.duplicates) == (True, [], 3)
    assert record_count() == count
    assert snapshot() == state
    # Duplicates inside one batch are skipped too.
    extra = peer.make("comment.added", {"text": "Thursday"}, subject=records[1].id)
    mixed = box.log.ingest([extra.line, records[0].line, extra.line])
    assert (mixed.accepted, mixed.duplicates) == ([extra.id], 2)
    assert Post.get_by_id(records[1].id).comment_count == 2


def test_blank_lines_are_skipped(box, peer):
    joined, post = peer_post(peer)
    result = box.log.ingest([joined.line + b"\n", b"\n", b"  ", post.line + b"\n"])
    assert result.ok and result.accepted == [joined.id, post.id]


def test_records_may_arrive_before_the_entity_they_feed(box, peer):
    joined, post = peer_post(peer)
    comment = peer.make("comment.added", {"text": "Still needed?"}, subject=post.id)
    helper = peer.make("help.offered", {"mode": "on_it"}, subject=post.id, author="c" * 64)
    # The comment and offer (seq 3, 4) arrive first: stored, not yet visible.
    assert box.log.ingest([comment.line, helper.line]).ok
    assert Post.get_or_none(Post.id == post.id) is None
    assert box.log.version_vector().get(peer.origin) is None
    assert box.log.ingest([post.line, joined.line]).ok
    row = Post.get_by_id(post.id)
    assert (row.comment_count, row.helper_count, row.status) == (1, 1, "on_it")
    assert Comment.get_by_id(comment.id).text == "Still needed?"
    assert box.log.version_vector()[peer.origin] == 4


def test_unknown_kinds_are_stored_but_not_applied(box, peer):
    state = snapshot()
    future = peer.make("carpool.offered", {"from": "here", "seats": 2})
    result = box.log.ingest([future.line])
    assert result.ok and result.accepted == [future.id]
    assert StoredRecord.get_by_id(future.id).kind == "carpool.offered"
    assert snapshot() == state


def test_lone_surrogate_is_a_rejection_not_a_crash(box, peer):
    joined = peer.make("member.joined", {"name": "Nora"})
    hostile = joined.line.replace(b'"name":"Nora"', b'"name":"\\ud800"')
    result = box.log.ingest([hostile])
    assert [r.line for r in result.rejected] == [1]


def test_known_kind_with_wrong_subject_is_refused(box, peer):
    post = peer.make("post.created", post_body("x"), subject="a" * 64)
    result = box.log.ingest([post.line])
    assert "creates an entity" in result.rejected[0].reason
    resolved = peer.make("post.resolved", {"note": ""}, seq=1, prev=None)
    result = box.log.ingest([resolved.line])
    assert "needs a subject" in result.rejected[0].reason


# --- forks -----------------------------------------------------------------------------


def test_fork_quarantines_the_origin(box, peer, clock):
    joined, post = peer_post(peer)
    assert box.log.ingest([joined.line, post.line]).ok
    twin = peer.make(
        "post.created", post_body("Something else"), seq=2, prev=joined.id, advance=False
    )
    other = Origin("south")
    trust(box, other)
    bystander = other.make("member.joined", {"name": "Sid"})
    count, state = record_count(), snapshot()

    result = box.log.ingest([bystander.line, twin.line])
    assert not result.ok
    assert result.accepted == [] and result.duplicates == 0
    [rejection] = result.rejected
    assert rejection.line == 0
    assert rejection.reason == "fork: two records claim seq 2"
    assert rejection.origin == peer.origin
    # The first record is kept; nothing of the batch is stored.
    assert record_count() == count
    assert snapshot() == state
    assert Post.get_by_id(post.id).title == "Lift to the hospital"
    quarantine = Quarantine.get_by_id(peer.origin)
    assert quarantine.reason == "two records claim seq 2"
    assert post.id in quarantine.evidence and twin.id in quarantine.evidence
    assert quarantine.at_ms == clock()

    # Later records of the quarantined origin are refused, others are not.
    later = peer.make("comment.added", {"text": "Hello?"}, subject=post.id)
    refused = box.log.ingest([later.line])
    assert "quarantined" in refused.rejected[0].reason
    assert box.log.ingest([bystander.line]).ok


def test_fork_inside_one_batch(box, peer):
    joined = peer.make("member.joined", {"name": "Nora"})
    one = peer.make("post.created", post_body("One"), author=joined.id, advance=False)
    two = peer.make("post.created", post_body("Two"), author=joined.id)
    count = record_count()
    result = box.log.ingest([joined.line, one.line, two.line])
    assert result.rejected[0].reason.startswith("fork:")
    assert record_count() == count
    assert Quarantine.get_or_none(Quarantine.origin == peer.origin) is not None


def test_record_whose_prev_contradicts_the_chain_is_a_fork(box, peer):
    joined, post = peer_post(peer)
    assert box.log.ingest([joined.line, post.line]).ok
    stray = peer.make("comment.added", {"text": "x"}, subject=post.id, prev="b" * 64)
    result = box.log.ingest([stray.line])
    assert result.rejected[0].reason == "fork: seq 3 does not follow seq 2"
    assert Quarantine.get_by_id(peer.origin)


def test_record_before_a_held_successor_must_match_its_prev(box, peer):
    joined = peer.make("member.joined", {"name": "Nora"})
    post = peer.make("post.created", post_body("x"), author=joined.id)
    assert box.log.ingest([post.line]).ok
    impostor = peer.make("member.joined", {"name": "Not Nora"}, seq=1, prev=None, advance=False)
    result = box.log.ingest([impostor.line])
    assert result.rejected[0].reason == "fork: seq 2 does not follow seq 1"


# --- clock bound -----------------------------------------------------------------------


def test_record_far_in_the_future_is_refused(box, peer, clock):
    limit = box.log.max_clock_ahead_ms
    assert limit == DAY_MS
    future = peer.make("member.joined", {"name": "Tess"}, hlc=[clock() + limit + 1000, 0])
    result = box.log.ingest([future.line])
    assert "ahead of this box's clock (limit 86400 s)" in result.rejected[0].reason
    assert Member.get_or_none(Member.id == future.id) is None


def test_record_within_the_bound_moves_the_clock(box, peer, clock):
    ahead = clock() + 23 * HOUR_MS
    rec = peer.make("member.joined", {"name": "Tess"}, hlc=[ahead, 7])
    assert box.log.ingest([rec.line]).ok
    mine = box.log.append("member.joined", {"name": "Local"})
    assert mine.hlc == [ahead, 8]


def test_clock_bound_holds_against_the_wall_clock(box, peer, clock):
    first = peer.make("member.joined", {"name": "Tess"}, hlc=[clock() + 23 * HOUR_MS, 0])
    assert box.log.ingest([first.line]).ok
    # The wall clock has not moved: a run of records must not ratchet the horizon.
    second = peer.make("member.joined", {"name": "Tom"}, hlc=[clock() + 46 * HOUR_MS, 0])
    result = box.log.ingest([second.line])
    assert "ahead of this box's clock" in result.rejected[0].reason
    assert Member.get_or_none(Member.id == second.id) is None
    # Once the wall clock catches up, the same record is welcome.
    clock.advance(23 * HOUR_MS)
    assert box.log.ingest([second.line]).ok


# --- trust -----------------------------------------------------------------------------


def test_revoked_trust_refuses_later_seqs(box, north):
    [grant] = trust(box, north)
    joined, post = peer_post(north)
    assert box.log.ingest([joined.line]).ok
    box.log.append("trust.revoked", {"last_seq": 2}, subject=grant)
    assert box.log.trusted_origins()[north.origin] == 2
    # Seq 2 is within the last valid seq; seq 3 is not.
    assert box.log.ingest([post.line]).ok
    late = north.make("comment.added", {"text": "x"}, subject=post.id)
    result = box.log.ingest([late.line])
    assert "revoked after seq 2" in result.rejected[0].reason
    assert Comment.get_or_none(Comment.id == late.id) is None


def test_a_new_grant_after_revocation_trusts_again(box, north):
    [grant] = trust(box, north)
    box.log.append("trust.revoked", {"last_seq": 0}, subject=grant)
    assert box.log.trusted_origins()[north.origin] == 0
    trust(box, north)
    assert box.log.trusted_origins()[north.origin] is None
    assert box.log.ingest(lines(peer_post(north))).ok


def test_trust_reaches_one_step_through_a_trusted_peer_and_no_further(box, peer):
    hub_friend = Origin("hub friend")
    vouch = peer.make("trust.granted", {"origin": hub_friend.origin, "name": "Hub friend"})
    assert box.log.ingest([vouch.line]).ok
    # One step: the peer's own grant lets its friend's records in (A learns C via hub B).
    assert box.log.trusted_origins()[hub_friend.origin] is None
    assert box.log.ingest([hub_friend.make("member.joined", {"name": "Cal"}).line]).ok
    # Two steps: a grant made by the relayed origin does not count.
    stranger = Origin("stranger")
    second = hub_friend.make("trust.granted", {"origin": stranger.origin, "name": "Stranger"})
    assert box.log.ingest([second.line]).ok
    assert stranger.origin not in box.log.trusted_origins()
    result = box.log.ingest([stranger.make("member.joined", {"name": "Sly"}).line])
    assert "not trusted" in result.rejected[0].reason


def test_a_revoked_peer_relays_nothing_and_own_revocation_wins(box, peer):
    friend, other = Origin("friend"), Origin("other")
    vouches = [
        peer.make("trust.granted", {"origin": friend.origin, "name": "F"}),
        peer.make("trust.granted", {"origin": other.origin, "name": "O"}),
    ]
    assert box.log.ingest([v.line for v in vouches]).ok
    assert box.log.trusted_origins()[other.origin] is None
    (grant,) = trust(box, friend)
    box.log.append("trust.revoked", {"last_seq": 1}, subject=grant)
    # This box's own revocation of `friend` wins over the peer's continuing grant.
    assert box.log.trusted_origins()[friend.origin] == 1
    (peer_grant,) = [
        t.id for t in TrustedOrigin.select().where(TrustedOrigin.origin == peer.origin)
    ]
    box.log.append("trust.revoked", {"last_seq": peer.seq}, subject=peer_grant)
    # A peer trusted only up to a seq relays no one any more.
    assert box.log.trusted_origins()[peer.origin] == peer.seq
    assert other.origin not in box.log.trusted_origins()


def test_trust_inside_a_batch_does_not_vouch_for_the_batch(box):
    other = Origin("other")
    # This box's own next record, arriving from elsewhere, vouching for `other`...
    state = BoxState.get_by_id(box.origin)
    me = Origin("me", key=box.log.key)
    me.seq, me.prev, me.hlc = state.seq, state.last_id, [state.hlc_ms, state.hlc_c]
    grant = me.make("trust.granted", {"origin": other.origin, "name": "Other"})
    # ...and a record of `other` in the same batch: trust is what the box held before.
    joined = other.make("member.joined", {"name": "Oz"})
    result = box.log.ingest([grant.line, joined.line])
    assert [(r.line, r.reason) for r in result.rejected] == [
        (2, "origin is not trusted by this box")
    ]
    assert box.log.ingest([grant.line]).ok
    assert box.log.trusted_origins()[other.origin] is None
    assert box.log.ingest([joined.line]).ok


# --- export, verify, durability ---------------------------------------------------------


def busy_box(box, alice, bob) -> None:
    """Fill a box with a little of everything, through the services."""
    need = board.create_post(box, alice, post_body("Ladder for the gutter", place="Elm Road"))
    board.create_post(box, bob, post_body("Spare pram", type="offer", category="household"))
    board.add_comment(box, bob, need, "I have one")
    board.offer_help(box, bob, need, "on_it")
    board.thank(box, alice, need, bob.id, "Brilliant, thank you")
    board.resolve(box, alice, need, "Sorted")


def test_export_then_verify_round_trip(tmp_path, box, alice, bob):
    busy_box(box, alice, bob)
    exported = list(box.log.export())
    assert len(exported) == record_count()
    assert [parse(line).seq for line in exported] == list(range(1, len(exported) + 1))
    assert box.log.verify() == []
    original = snapshot()
    origin = box.origin

    other = new_box(tmp_path / "other", Clock(START_MS))
    trust(other, origin)
    result = other.log.ingest(exported)
    assert result.ok and len(result.accepted) == len(exported)
    copied = snapshot()
    # The copy also holds its own trust of the first box; everything else is identical.
    copied["trusted_origin"] = [r for r in copied["trusted_origin"] if origin not in r]
    assert copied == original
    assert copied["post"] and copied["thanks"] and copied["category"]
    assert other.log.verify() == []
    assert other.log.version_vector()[origin] == len(exported)


def test_verify_reports_a_tampered_record(box, alice):
    post_id = board.create_post(box, alice, post_body("Tidy the garden"))
    row = StoredRecord.get_by_id(post_id)
    StoredRecord.update(raw=bytes(row.raw).replace(b"garden", b"gardez")).where(
        StoredRecord.id == post_id
    ).execute()
    problems = box.log.verify()
    assert problems == [f"{post_id}: signature does not verify"]


WRITER = """
import os, sys
from appliance.box import Box
from appliance.services import accounts, board
box = Box.open(sys.argv[1])
alice = accounts.actor_for(box, sys.argv[2])
body = {"type": "need", "title": "Bring chairs", "details": "", "category": "food",
        "place": "Hall", "needed_by": None}
print(board.create_post(box, alice, body), flush=True)
os._exit(0)  # no clean shutdown: the record must already be on disk
"""


def test_local_record_is_durable_after_reopening(tmp_path, box, alice):
    database.close()
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path / "box"), alice.id],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    post_id = done.stdout.strip()
    reopened = Box.open(tmp_path / "box")
    seq = StoredRecord.get_by_id(post_id).seq
    assert reopened.origin == box.origin
    assert Post.get_by_id(post_id).title == "Bring chairs"
    assert reopened.log.verify() == []
    nxt = reopened.log.append("member.joined", {"name": "After"})
    assert (nxt.seq, nxt.prev) == (seq + 1, post_id)


def test_restored_box_learns_its_own_seq_back(tmp_path, box, alice):
    board.create_post(box, alice, post_body("Before the crash"))
    exported = list(box.log.export())
    last = parse(exported[-1])
    # A restore with the key but an empty database: the box has forgotten its seq.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir(mode=0o700)
    for name in (KEY_FILE, SECRET_FILE):
        shutil.copy2(tmp_path / "box" / name, restored_dir / name)
    restored = Box.open(restored_dir)
    restored.log.now_ms = Clock(START_MS)
    assert restored.origin == box.origin
    assert BoxState.get_by_id(restored.origin).seq == 0
    assert restored.log.ingest(exported).ok
    nxt = restored.log.append("member.joined", {"name": "After the restore"})
    assert (nxt.seq, nxt.prev) == (last.seq + 1, last.id)
    assert nxt.hlc > last.hlc


def test_boxes_share_one_database_handle(tmp_path, box, alice):
    post_id = board.create_post(box, alice, post_body("Only on the first box"))
    other = new_box(tmp_path / "other", centre_name="Other Centre")
    assert Post.get_or_none(Post.id == post_id) is None
    activate(box)
    assert Post.get_by_id(post_id)
    assert member(box, "Carol").name == "Carol"
    assert json.loads(bytes(StoredRecord.get_by_id(post_id).raw))["origin"] == box.origin
    assert other.origin != box.origin
