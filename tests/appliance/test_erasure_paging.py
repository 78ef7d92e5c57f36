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


def pull_all(sender, receiver, origin: str, max_bytes: int) -> list[exchange.Page]:
    """Page every record of an origin from sender to receiver; return the pages."""
    have: dict[str, int] = {}
    pages = []
    while True:
        activate(sender)
        page = exchange.next_page(
            sender, receiver.origin, have, {origin: None}, max_bytes=max_bytes
        )
        if page is None:
            return pages
        activate(receiver)
        exchange.check_page(json.loads(page.header()), page.lines, sender.origin)
        result = receiver.log.ingest(page.lines)
        assert result.ok, result.rejected
        have[origin] = page.through
        pages.append(page)


def in_range(page: exchange.Page) -> list[dict]:
    """Return the fields of a page's own records (not the erasures sent after them)."""
    fields = [json.loads(line) for line in page.lines]
    return [
        f for f in fields if f["origin"] == page.origin and page.after < f["seq"] <= page.through
    ]


@pytest.fixture
def erased_home(tmp_path):
    """A home box whose member Quillon, with many posts, was erased with them: every
    stub names one large erasure."""
    home = new_box(tmp_path / "home", centre_name="Home Centre")
    quillon = accounts.actor_for(home, accounts.sign_up(home, NAME, PASSWORD))
    for n in range(12):
        board.create_post(home, quillon, {**POST, "title": f"{TITLE} {n}"})
    erasing.erase_member(home, quillon, quillon.id, "remove")
    return home


@pytest.mark.parametrize("max_bytes", [3000, 1])
def test_a_page_and_the_erasures_it_needs_fit_the_byte_limit(tmp_path, erased_home, max_bytes):
    home = erased_home
    activate(home)
    count = StoredRecord.select().where(StoredRecord.origin == home.origin).count()
    newcomer = new_box(tmp_path / "new", centre_name="New Centre")
    trust(newcomer, home)
    pages = pull_all(home, newcomer, home.origin, max_bytes)
    for page in pages:
        own = in_range(page)
        assert own and own[-1]["seq"] == page.through
        if len(own) > 1:  # a page keeps one record however large
            assert sum(len(line) + 1 for line in page.lines) <= max_bytes
    assert any(len(page.lines) > len(in_range(page)) for page in pages)  # erasures rode along
    if max_bytes == 1:
        assert all(len(in_range(page)) == 1 for page in pages)
    activate(newcomer)
    assert StoredRecord.select().where(StoredRecord.origin == home.origin).count() == count
    assert not Post.select().where(Post.title.startswith(TITLE)).exists()


def test_a_relayed_page_cut_for_its_erasures_ends_at_its_last_record(tmp_path, erased_home):
    home = erased_home
    activate(home)
    export = list(home.log.export())
    relay = new_box(tmp_path / "relay", centre_name="Relay Centre")
    trust(relay, home)
    assert relay.log.ingest(export).ok
    newcomer = new_box(tmp_path / "new", centre_name="New Centre")
    trust(newcomer, home, relay)
    pages = pull_all(relay, newcomer, home.origin, 3000)
    assert len(pages) > 2
    for page in pages:
        assert in_range(page)[-1]["seq"] == page.through
        if len(in_range(page)) > 1:
            assert sum(len(line) + 1 for line in page.lines) <= 3000
    activate(newcomer)
    assert Member.get_by_id(json.loads(export[-1])["subject"]).erased
