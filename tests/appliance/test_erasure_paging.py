"""A box meeting an origin for the first time gets a member's stubs page by page, even
when the erasure that covers them lies pages later in that origin's chain.

A page is judged on its own (sync/PROTOCOL.md, "Erasure"), so the sender puts the
erasure records its stubs name after the page's own records.
"""

from __future__ import annotations

import json

import pytest
from boxes import PASSWORD, activate, new_box, trust

from appliance.models import Member, Post, StoredRecord
from appliance.records import is_stub
from appliance.services import accounts, board
from appliance.services import erasure as erasing
from sync import exchange

NAME = "Quillon Fairweather"
TITLE = "Spare greenhouse panes"
POST = {"type": "offer", "details": "", "category": "food", "place": "Hall", "needed_by": ""}


def test_stubs_far_from_their_erasure_arrive_in_small_pages(tmp_path):
    home = new_box(tmp_path / "home", centre_name="Home Centre")
    quillon = accounts.actor_for(home, accounts.sign_up(home, NAME, PASSWORD))
    bob = accounts.actor_for(home, accounts.sign_up(home, "Bob Baker", PASSWORD))
    board.create_post(home, quillon, {**POST, "title": TITLE})
    for n in range(8):  # the erasure ends up many pages after Quillon's records
        board.create_post(home, bob, {**POST, "title": f"Bob's post {n}"})
    erasure = erasing.erase_member(home, quillon, quillon.id, "remove")

    newcomer = new_box(tmp_path / "new", centre_name="New Centre")
    trust(newcomer, home)
    activate(home)
    trust(home, newcomer)
    have: dict[str, int] = {}
    pages = 0
    while True:
        activate(home)
        accepts = {home.origin: None}
        page = exchange.next_page(home, newcomer.origin, have, accepts, max_records=3)
        if page is None:
            break
        activate(newcomer)
        header = json.loads(page.header())
        exchange.check_page(header, page.lines, home.origin)
        result = newcomer.log.ingest(page.lines)
        assert result.ok, result.rejected
        have[home.origin] = page.through
        pages += 1

    assert pages > 3
    assert StoredRecord.get_by_id(erasure).kind == "member.erased"
    member = Member.get_by_id(quillon.id)
    assert member.erased and member.name != NAME
    assert not Post.select().where(Post.title == TITLE).exists()
    assert Post.select().count() == 8  # Bob's posts all arrived
    stubs = [r for r in StoredRecord.select() if is_stub(json.loads(bytes(r.raw)))]
    assert stubs and all(r.origin == home.origin for r in stubs)


def test_a_page_may_carry_only_erasures_past_its_range():
    header = {"origin": "east", "after": 0, "through": 1, "count": 2, "more": False}
    parsed = [{"origin": "east", "seq": 1, "kind": "centre.created"}]
    erasure = {"origin": "west", "seq": 9, "kind": "member.erased"}
    exchange.check_page(header, [b"1", b"2"], "east", [*parsed, erasure])
    for later in (
        {"origin": "east", "seq": 5, "kind": "post.created"},
        {"origin": "west", "seq": 9, "kind": "post.created"},
    ):
        with pytest.raises(ValueError):
            exchange.check_page(header, [b"1", b"2"], "east", [*parsed, later])
    # Nothing of the range may follow an erasure tacked on after it.
    with pytest.raises(ValueError):
        exchange.check_page(header, [b"1", b"2"], "east", [erasure, *parsed])
