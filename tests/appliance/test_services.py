"""Service rules without HTTP: posting, helping, moderation, roles, accounts, the board."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from boxes import PASSWORD, START_MS, member, new_box, record_count, trust, with_role
from kithtest import Clock
from recordmaker import DAY_MS, Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Category, Comment, Helper, Member, MemberPrivate, Post, Role, Thanks
from appliance.services import accounts, board, board_queries, centre, members, moderation
from appliance.services.board_queries import BoardFilters, parse_filters

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> int:
    """Return the epoch milliseconds of a London wall-clock time like 2026-01-05 09:00."""
    moment = datetime.datetime.fromisoformat(text).replace(tzinfo=LONDON)
    return int(moment.timestamp() * 1000)


def post_data(title: str = "Ladder for the gutter", **change) -> dict:
    data = {
        "type": "need",
        "title": title,
        "details": "Just for an afternoon.",
        "category": "local-fix",
        "place": "Elm Road",
        "needed_by": "",
    }
    return {**data, **change}


def invalid_fields(excinfo) -> set[str]:
    return set(excinfo.value.fields)


def refreshed(box, actor):
    """Return the actor as the box sees them now (roles and badge change over time)."""
    return accounts.actor_for(box, actor.id)


@pytest.fixture
def post(box, alice) -> str:
    """Alice's open need."""
    return board.create_post(box, alice, post_data())


# --- posting -----------------------------------------------------------------------------


def test_create_post_needs_a_member(box):
    before = record_count()
    with pytest.raises(NotSignedIn):
        board.create_post(box, None, post_data())
    assert record_count() == before


def test_create_post_cleans_and_records_the_post(box, alice):
    post_id = board.create_post(
        box,
        alice,
        post_data(
            "  Ladder   for the\tgutter ", details="Line one\r\nLine two  ", place=" Elm  Road"
        ),
    )
    row = Post.get_by_id(post_id)
    assert (row.title, row.details, row.place) == (
        "Ladder for the gutter",
        "Line one\nLine two",
        "Elm Road",
    )
    assert (row.author, row.origin, row.status, row.needed_by) == (
        alice.id,
        box.origin,
        "open",
        None,
    )
    assert row.created_ms == START_MS


@pytest.mark.parametrize(
    "change, field",
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"details": "x" * 4001}, "details"),
        ({"category": "bicycles"}, "category"),
        ({"category": ""}, "category"),
        ({"type": "request"}, "type"),
        ({"place": ""}, "place"),
        ({"place": "x" * 81}, "place"),
        ({"needed_by": "2025-12-31"}, "needed_by"),
        ({"needed_by": "2026-02-30"}, "needed_by"),
        ({"needed_by": "next tuesday"}, "needed_by"),
        ({"needed_by": "20260105"}, "needed_by"),
    ],
)
def test_create_post_refuses_bad_fields(box, alice, change, field):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        board.create_post(box, alice, post_data(**change))
    assert invalid_fields(excinfo) == {field}
    assert record_count() == before
    assert Post.select().count() == 0


def test_create_post_reports_every_bad_field_at_once(box, alice):
    with pytest.raises(InvalidInput) as excinfo:
        board.create_post(box, alice, {"type": "", "title": "", "place": ""})
    assert invalid_fields(excinfo) == {"type", "title", "category", "place"}


def test_create_post_limits_are_inclusive(box, alice):
    post_id = board.create_post(
        box,
        alice,
        post_data("x" * 120, details="y" * 4000, place="z" * 80, needed_by="2026-01-01"),
    )
    row = Post.get_by_id(post_id)
    assert (len(row.title), len(row.details), len(row.place)) == (120, 4000, 80)
    assert row.needed_by == "2026-01-01"  # today in the centre's zone is not the past


def test_create_post_only_in_an_active_category(box, alice, staff):
    centre.set_category(box, staff, "Local fixes", active=False, slug="local-fix")
    with pytest.raises(InvalidInput) as excinfo:
        board.create_post(box, alice, post_data())
    assert invalid_fields(excinfo) == {"category"}
    slug = centre.set_category(box, staff, "Garden tools")
    assert slug == "garden-tools"
    assert board.create_post(box, alice, post_data(category=slug))


def test_centre_lists_are_staff_only(box, alice, staff):
    with pytest.raises(NotAllowed):
        centre.set_category(box, alice, "Bikes")
    with pytest.raises(NotSignedIn):
        centre.set_place(box, None, "Main hall")
    with pytest.raises(InvalidInput):
        centre.set_category(box, staff, "!!!")
    centre.set_place(box, staff, "Main  hall")
    centre.set_place(box, staff, "Car park")
    centre.set_place(box, staff, "Car park", active=False)
    assert centre.places(box) == ["Main hall"]
    assert Category.select().where(Category.origin == box.origin).count() == 6


# --- comments and help -------------------------------------------------------------------


def test_comments(box, post, bob):
    with pytest.raises(NotSignedIn):
        board.add_comment(box, None, post, "hi")
    with pytest.raises(InvalidInput):
        board.add_comment(box, bob, post, "  \n ")
    with pytest.raises(InvalidInput):
        board.add_comment(box, bob, post, "x" * 2001)
    with pytest.raises(NotFound):
        board.add_comment(box, bob, "f" * 64, "hello")
    comment_id = board.add_comment(box, bob, post, " I have a long ladder \r\n")
    assert Comment.get_by_id(comment_id).text == "I have a long ladder"
    assert Post.get_by_id(post).comment_count == 1


def test_offer_help_rules(box, post, alice, bob):
    with pytest.raises(NotAllowed):
        board.offer_help(box, alice, post, "can_help")  # own post
    with pytest.raises(InvalidInput):
        board.offer_help(box, bob, post, "maybe")
    board.offer_help(box, bob, post, "can_help")
    assert Post.get_by_id(post).status == "open"
    with pytest.raises(Conflict):
        board.offer_help(box, bob, post, "can_help")
    board.offer_help(box, bob, post, "on_it")
    row = Post.get_by_id(post)
    assert (row.status, row.helper_count) == ("on_it", 1)
    helper = Helper.get((Helper.post == post) & (Helper.member == bob.id))
    assert (helper.mode, helper.since_ms) == ("on_it", START_MS)


def test_withdraw_help(box, post, bob):
    with pytest.raises(Conflict):
        board.withdraw_help(box, bob, post)
    board.offer_help(box, bob, post, "on_it")
    board.withdraw_help(box, bob, post)
    row = Post.get_by_id(post)
    assert (row.status, row.helper_count) == ("open", 0)
    with pytest.raises(Conflict):
        board.withdraw_help(box, bob, post)


def test_resolved_post_cannot_get_help(box, post, alice, bob):
    board.resolve(box, alice, post, "Borrowed one")
    before = record_count()
    with pytest.raises(Conflict):
        board.offer_help(box, bob, post, "on_it")
    assert record_count() == before


def test_resolve_and_reopen_rules(box, post, alice, bob, staff):
    with pytest.raises(NotAllowed):
        board.resolve(box, bob, post)
    with pytest.raises(Conflict):
        board.reopen(box, alice, post)
    with pytest.raises(InvalidInput):
        board.resolve(box, alice, post, "x" * 1001)
    board.resolve(box, alice, post, " All done ")
    row = Post.get_by_id(post)
    assert (row.status, row.resolved_note, row.resolved_by) == ("resolved", "All done", alice.id)
    with pytest.raises(Conflict):
        board.resolve(box, alice, post)
    with pytest.raises(NotAllowed):
        board.reopen(box, bob, post)
    board.reopen(box, staff, post)
    row = Post.get_by_id(post)
    assert (row.status, row.resolved_note, row.resolved_by) == ("open", None, None)
    board.resolve(box, staff, post)  # staff may resolve anyone's post
    assert Post.get_by_id(post).resolved_by == staff.id


def test_thanks_rules(box, post, alice, bob):
    carol = member(box, "Carol")
    with pytest.raises(InvalidInput) as excinfo:
        board.thank(box, alice, post, bob.id, "Thanks!")  # bob is not helping
    assert invalid_fields(excinfo) == {"helper"}
    board.offer_help(box, bob, post, "on_it")
    with pytest.raises(NotAllowed):
        board.thank(box, carol, post, bob.id, "Thanks!")
    with pytest.raises(InvalidInput):
        board.thank(box, alice, post, bob.id, "  ")
    with pytest.raises(InvalidInput):
        board.thank(box, alice, post, bob.id, "x" * 1001)
    thanks_id = board.thank(box, alice, post, bob.id, " You star ")
    row = Thanks.get_by_id(thanks_id)
    assert (row.post, row.giver, row.helper, row.message) == (post, alice.id, bob.id, "You star")
    [listed] = board_queries.list_thanks(box, None)
    assert listed["from"]["name"] == "Alice" and listed["to"]["name"] == "Bob"
    assert listed["post"] == {"id": post, "title": "Ladder for the gutter"}


# --- moderation --------------------------------------------------------------------------


def test_moderation_is_staff_only(box, post, alice, bob):
    comment_id = board.add_comment(box, bob, post, "Spam spam")
    with pytest.raises(NotSignedIn):
        moderation.set_post_hidden(box, None, post, True, "spam")
    with pytest.raises(NotAllowed):
        moderation.set_post_hidden(box, alice, post, True, "spam")
    with pytest.raises(NotAllowed):
        moderation.set_comment_hidden(box, alice, comment_id, True, "spam")
    assert not Post.get_by_id(post).hidden


def test_hidden_post_is_gone_for_members_and_visible_to_staff(box, post, alice, bob, staff):
    with pytest.raises(InvalidInput):
        moderation.set_post_hidden(box, staff, post, True, "  ")
    moderation.set_post_hidden(box, staff, post, True, "Not a real need")
    with pytest.raises(Conflict):
        moderation.set_post_hidden(box, staff, post, True, "again")

    for viewer in (None, alice, bob):
        assert board_queries.list_posts(box, viewer, BoardFilters())["total"] == 0
    for viewer in (None, bob):
        with pytest.raises(NotFound):
            board_queries.get_post(box, viewer, post)
    # Its author (Alice) still opens it, to read why and appeal, but cannot act on it.
    assert board_queries.get_post(box, alice, post)["id"] == post
    with pytest.raises(NotFound):
        board.add_comment(box, bob, post, "hello")
    with pytest.raises(NotFound):
        board.offer_help(box, bob, post, "on_it")
    with pytest.raises(Conflict):
        board.resolve(box, alice, post)

    listed = board_queries.list_posts(box, staff, BoardFilters())
    assert [(p["id"], p["hidden"], p["hidden_reason"]) for p in listed["posts"]] == [
        (post, True, "Not a real need")
    ]
    assert board_queries.get_post(box, staff, post)["can"]["moderate"] is True
    with pytest.raises(Conflict):
        board.add_comment(box, staff, post, "hidden posts take no comments")

    moderation.set_post_hidden(box, staff, post, False, "")
    assert board_queries.list_posts(box, alice, BoardFilters())["total"] == 1


def test_hidden_comment(box, post, bob, staff):
    keep = board.add_comment(box, bob, post, "Happy to help")
    spam = board.add_comment(box, bob, post, "Buy cheap watches")
    moderation.set_comment_hidden(box, staff, spam, True, "Spam")
    with pytest.raises(Conflict):
        moderation.set_comment_hidden(box, staff, spam, True, "Spam")
    with pytest.raises(NotFound):
        moderation.set_comment_hidden(box, staff, "e" * 64, True, "Spam")
    assert Post.get_by_id(post).comment_count == 1
    seen = board_queries.get_post(box, bob, post)["comments"]
    assert [c["id"] for c in seen] == [keep]
    staff_view = board_queries.get_post(box, staff, post)["comments"]
    assert [(c["id"], c["hidden"]) for c in staff_view] == [(keep, False), (spam, True)]
    moderation.set_comment_hidden(box, staff, spam, False, "")
    assert Post.get_by_id(post).comment_count == 2


# --- members, roles, badges --------------------------------------------------------------


def test_verified_badge(box, alice, bob, staff):
    with pytest.raises(NotAllowed):
        members.set_verified(box, bob, alice.id, True)
    with pytest.raises(NotFound):
        members.set_verified(box, staff, "d" * 64, True)
    members.set_verified(box, staff, alice.id, True)
    row = Member.get_by_id(alice.id)
    assert (row.verified, row.verified_by) == (True, staff.id)
    assert refreshed(box, alice).verified
    with pytest.raises(Conflict):
        members.set_verified(box, staff, alice.id, True)
    post_id = board.create_post(box, alice, post_data())
    assert board_queries.get_post(box, None, post_id)["author"]["verified"] is True
    members.set_verified(box, staff, alice.id, False)
    assert not Member.get_by_id(alice.id).verified
    with pytest.raises(Conflict):
        members.set_verified(box, staff, alice.id, False)


def test_staff_and_admin_roles_need_an_admin(box, alice, bob, staff, admin):
    with pytest.raises(NotAllowed):
        members.grant_role(box, alice, bob.id, "driver")
    with pytest.raises(NotAllowed):
        members.grant_role(box, staff, bob.id, "staff")
    with pytest.raises(NotAllowed):
        members.grant_role(box, staff, bob.id, "admin")
    with pytest.raises(InvalidInput):
        members.grant_role(box, staff, bob.id, "Driver 1")
    with pytest.raises(NotFound):
        members.grant_role(box, staff, "d" * 64, "driver")
    members.grant_role(box, staff, bob.id, " Driver ")
    assert refreshed(box, bob).roles == {"driver"}
    members.grant_role(box, admin, bob.id, "staff")
    bob_now = refreshed(box, bob)
    assert bob_now.is_staff and not bob_now.is_admin
    grant = Role.get((Role.member == bob.id) & (Role.role == "staff"))
    assert (grant.granted_by, grant.origin, grant.expires_ms) == (admin.id, box.origin, None)

    with pytest.raises(NotAllowed):
        members.revoke_role(box, staff, bob.id, "staff")
    with pytest.raises(Conflict):
        members.revoke_role(box, staff, alice.id, "driver")
    members.revoke_role(box, staff, bob.id, "driver")
    members.revoke_role(box, admin, bob.id, "staff")
    assert refreshed(box, bob).roles == frozenset()
    # Without the role, bob can no longer moderate.
    with pytest.raises(NotAllowed):
        members.set_verified(box, refreshed(box, bob), alice.id, True)


def test_role_expires_at_the_end_of_its_day(box, clock, alice, admin):
    with pytest.raises(InvalidInput):
        members.grant_role(box, admin, alice.id, "driver", expires="2025-12-31")
    with pytest.raises(InvalidInput):
        members.grant_role(box, admin, alice.id, "driver", expires="soon")
    members.grant_role(box, admin, alice.id, "driver", expires="2026-01-02")
    assert Role.get(Role.member == alice.id).expires_ms == at("2026-01-03 00:00")
    assert "driver" in refreshed(box, alice).roles
    clock.ms = at("2026-01-02 23:59")
    assert "driver" in refreshed(box, alice).roles
    clock.ms = at("2026-01-03 00:00")
    assert "driver" not in refreshed(box, alice).roles
    # An expired role is not held, so revoking it is a conflict.
    with pytest.raises(Conflict):
        members.revoke_role(box, admin, alice.id, "driver")


def test_roles_granted_by_another_box_do_not_count_here(box, alice):
    other = Origin("other-centre")
    trust(box, other)
    grant = other.make(
        "role.granted", {"role": "admin", "expires": None}, subject=alice.id, author="a" * 64
    )
    assert box.log.ingest([grant.line]).ok
    assert Role.get(Role.member == alice.id).origin == other.origin
    assert refreshed(box, alice).roles == frozenset()
    with pytest.raises(NotAllowed):
        members.list_members(box, refreshed(box, alice))


def test_list_members_for_staff(box, alice, bob, staff):
    listed = members.list_members(box, staff, "bo")
    assert [(m["name"], m["local"], m["roles"]) for m in listed] == [("Bob", True, [])]
    everyone = [m["name"] for m in members.list_members(box, staff)]
    assert everyone == ["Alice", "Bob", "Sam Staff"]


# --- accounts ----------------------------------------------------------------------------


def test_sign_up_validation(box, alice):
    before = record_count()
    cases = [
        (("  aLiCe ", PASSWORD), {"name"}),
        (("", PASSWORD), {"name"}),
        (("x" * 61, PASSWORD), {"name"}),
        (("Dora", "short"), {"password"}),
        (("Dora", "x" * 201), {"password"}),
        (("alice", "short"), {"name", "password"}),
    ]
    for (name, password), fields in cases:
        with pytest.raises(InvalidInput) as excinfo:
            accounts.sign_up(box, name, password)
        assert invalid_fields(excinfo) == fields, name
    with pytest.raises(InvalidInput) as excinfo:
        accounts.sign_up(box, "Dora", PASSWORD, contact="x" * 201)
    assert invalid_fields(excinfo) == {"contact"}
    assert record_count() == before
    assert Member.select().count() == 1


def test_sign_up_records_the_member_and_keeps_secrets_local(box):
    member_id = accounts.sign_up(box, "  Dora   Day ", PASSWORD, contact="07700 900123")
    row = Member.get_by_id(member_id)
    assert (row.name, row.origin, row.verified, row.joined_ms) == (
        "Dora Day",
        box.origin,
        False,
        START_MS,
    )
    assert MemberPrivate.get_by_id(member_id).contact == "07700 900123"
    for raw in box.log.export():
        assert b"07700" not in raw and PASSWORD.encode() not in raw


def test_private_contact_visibility(box, staff):
    dora = accounts.actor_for(box, accounts.sign_up(box, "Dora", PASSWORD, contact="dora@x.org"))
    eve = member(box, "Eve")
    assert accounts.private_contact(dora, dora.id) == "dora@x.org"
    assert accounts.private_contact(staff, dora.id) == "dora@x.org"
    assert accounts.private_contact(staff, eve.id) is None
    with pytest.raises(NotAllowed):
        accounts.private_contact(eve, dora.id)
    with pytest.raises(NotSignedIn):
        accounts.private_contact(None, dora.id)


def test_log_in(box, alice):
    assert accounts.log_in(box, "  ALICE ", PASSWORD) == alice.id
    with pytest.raises(InvalidInput) as excinfo:
        accounts.log_in(box, "Alice", PASSWORD + "!")
    assert invalid_fields(excinfo) == {"password"}
    with pytest.raises(InvalidInput):
        accounts.log_in(box, "Nobody", PASSWORD)
    with pytest.raises(InvalidInput):
        accounts.log_in(box, "", "")


def test_sessions(box, clock, alice):
    token = accounts.start_session(box, alice.id)
    other = accounts.start_session(box, alice.id)
    assert token != other
    assert accounts.actor_for_session(box, token) == alice
    assert accounts.actor_for_session(box, None) is None
    assert accounts.actor_for_session(box, "not-a-token") is None
    accounts.end_session(token)
    assert accounts.actor_for_session(box, token) is None
    assert accounts.actor_for_session(box, other) == alice
    clock.advance(box.settings["session_days"] * DAY_MS - 1)
    assert accounts.actor_for_session(box, other) == alice
    clock.advance(1)
    assert accounts.actor_for_session(box, other) is None


# --- the board ---------------------------------------------------------------------------


@pytest.fixture
def board_box(tmp_path):
    """A box whose posts were made over two months; its clock ends on 2026-01-07 noon.

    Returns (box, posts by name, alice, bob, staff).
    """
    clock = Clock(at("2025-11-20 12:00"))
    box = new_box(tmp_path / "board", clock, centre_name="Board Centre")
    alice, bob = member(box, "Alice"), member(box, "Bob")
    staff = with_role(box, "Sam Staff", "staff")
    plan = [
        ("november", "2025-11-20 12:30", alice, post_data("Old ladder", place="Elm Road")),
        (
            "december",
            "2025-12-30 10:00",
            bob,
            post_data("Spare pram", type="offer", category="household", place="Oak Street"),
        ),
        (
            "new_year",
            "2026-01-02 09:00",
            alice,
            post_data("Café tables", type="should", category="volunteering", details="Paint"),
        ),
        ("monday", "2026-01-05 09:00", bob, post_data("Lift to hospital", category="travel")),
        ("today", "2026-01-07 08:00", alice, post_data("Bread for Friday", category="food")),
    ]
    posts = {}
    for name, when, author, data in plan:
        clock.ms = at(when)
        posts[name] = board.create_post(box, author, data)
    clock.ms = at("2026-01-07 12:00")
    return box, posts, alice, bob, staff


def listed(box, viewer=None, **args) -> list[str]:
    """Return the ids on one page of the board for query arguments."""
    return [p["id"] for p in board_queries.list_posts(box, viewer, parse_filters(args))["posts"]]


def test_board_lists_open_work_first_then_newest(board_box):
    box, posts, alice, bob, staff = board_box
    board.offer_help(box, alice, posts["monday"], "on_it")
    board.resolve(box, alice, posts["today"], "")
    assert listed(box) == [
        posts["new_year"],
        posts["december"],
        posts["november"],
        posts["monday"],
        posts["today"],
    ]
    assert listed(box, status="on_it") == [posts["monday"]]
    assert listed(box, status="resolved") == [posts["today"]]
    assert len(listed(box, status="open")) == 3


def test_board_filters(board_box):
    box, posts, *_ = board_box
    assert listed(box, type="offer") == [posts["december"]]
    assert listed(box, type="should") == [posts["new_year"]]
    assert listed(box, category="travel") == [posts["monday"]]
    assert listed(box, place="oak street") == [posts["december"]]
    assert listed(box, place="Oak") == []
    assert listed(box, when="today") == [posts["today"]]
    assert set(listed(box, when="week")) == {posts["monday"], posts["today"]}
    assert set(listed(box, when="month")) == {posts["new_year"], posts["monday"], posts["today"]}
    assert listed(box, **{"from": "2025-12-01", "to": "2025-12-31"}) == [posts["december"]]
    assert set(listed(box, **{"to": "2025-12-30"})) == {posts["november"], posts["december"]}
    assert listed(box, **{"from": "2026-01-06"}) == [posts["today"]]
    assert listed(box, type="need", category="food", when="today") == [posts["today"]]
    assert listed(box, type="offer", category="food") == []


def test_board_full_text_search(board_box):
    box, posts, *_ = board_box
    assert listed(box, q="ladder") == [posts["november"]]
    assert listed(box, q="LADD") == [posts["november"]]  # prefix, any case
    assert listed(box, q="cafe") == [posts["new_year"]]  # diacritics folded
    assert listed(box, q="paint") == [posts["new_year"]]  # details are searched
    assert listed(box, q="oak") == [posts["december"]]  # so is the place
    assert listed(box, q="spare pram") == [posts["december"]]  # every word must match
    assert listed(box, q="spare ladder") == []
    # What people type is words, never FTS syntax: no OR, no stray quotes, no columns.
    assert listed(box, q='ladder" OR "pram') == []
    assert listed(box, q='"ladder') == [posts["november"]]
    assert listed(box, q="title:pram") == []


def test_board_pagination(board_box):
    box, posts, *_ = board_box
    box.settings["page_size"] = 2
    pages = [
        board_queries.list_posts(box, None, parse_filters({"page": str(n)})) for n in (1, 2, 3)
    ]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [p["pages"] for p in pages] == [3, 3, 3]
    ids = [post["id"] for page in pages for post in page["posts"]]
    assert [len(p["posts"]) for p in pages] == [2, 2, 1]
    assert sorted(ids) == sorted(posts.values())
    beyond = board_queries.list_posts(box, None, parse_filters({"page": "9"}))
    assert (beyond["posts"], beyond["total"]) == ([], 5)
    assert pages[1]["filters"] == {"page": 2}


def test_board_hidden_posts_only_for_staff(board_box):
    box, posts, alice, bob, staff = board_box
    moderation.set_post_hidden(box, staff, posts["monday"], True, "Duplicate")
    assert posts["monday"] not in listed(box)
    assert posts["monday"] not in listed(box, alice)
    assert posts["monday"] not in listed(box, bob, category="travel")
    assert listed(box, staff, category="travel") == [posts["monday"]]
    assert "hidden" not in board_queries.list_posts(box, alice, BoardFilters())["posts"][0]


@pytest.mark.parametrize(
    "args, field",
    [
        ({"type": "request"}, "type"),
        ({"status": "closed"}, "status"),
        ({"when": "year"}, "when"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"q": "x" * 201}, "q"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
    ],
)
def test_parse_filters_errors(args, field):
    with pytest.raises(InvalidInput) as excinfo:
        parse_filters(args)
    assert invalid_fields(excinfo) == {field}


def test_parse_filters_reads_every_filter():
    f = parse_filters(
        {
            "type": " need ",
            "category": "food",
            "place": "Elm Road",
            "status": "open",
            "when": "week",
            "from": "2026-01-01",
            "to": "2026-01-31",
            "q": "bread",
            "page": "2",
            "unrelated": "ignored",
        }
    )
    assert f == BoardFilters(
        type="need",
        category="food",
        place="Elm Road",
        status="open",
        when="week",
        from_="2026-01-01",
        to="2026-01-31",
        q="bread",
        page=2,
    )
    assert f.active
    assert f.as_args(page=3)["from"] == "2026-01-01"
    assert not parse_filters({}).active
