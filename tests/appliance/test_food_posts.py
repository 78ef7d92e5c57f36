"""Food needs and supplies (appliance/services/food.py): who may post, pledge, claim and
close them; partial fulfilment and closing by itself; every bad input refused with a
clear message and no record."""

from __future__ import annotations

import pytest
from boxes import START_MS, member, record_count, trust
from recordmaker import DAY_MS, Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Item, Pledge, Post, PostLine
from appliance.services import (
    board,
    board_queries,
    catalogue,
    centre,
    food,
    food_queries,
    moderation,
    orgs,
)
from appliance.services.board_queries import BoardFilters

BANK = {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Church Hall"}
SHOP = {"name": "Corner Shop", "type": "shop", "place": "1 High Street"}
TODAY = "2026-01-01"  # the appliance tests' clock starts at 2026-01-01 12:00 UTC


def need_data(**change) -> dict:
    return {
        "title": "Tins for the weekend",
        "details": "Drop off at the hall.",
        "needed_by": "2026-01-10",
        **change,
    }


@pytest.fixture
def items(box, staff) -> dict[str, str]:
    """The starter catalogue: item name -> id."""
    catalogue.add_starter_items(box, staff)
    return {i.name: i.id for i in Item.select()}


@pytest.fixture
def bank(box, staff) -> str:
    return orgs.create_org(box, staff, BANK)


@pytest.fixture
def shop(box, staff) -> str:
    return orgs.create_org(box, staff, SHOP)


@pytest.fixture
def olive(box, staff, bank):
    """An organiser of the food bank."""
    olive = member(box, "Olive")
    orgs.set_org_role(box, staff, bank, olive.id, "organiser")
    return olive


@pytest.fixture
def sid(box, staff, shop):
    """An organiser of the shop."""
    sid = member(box, "Sid")
    orgs.set_org_role(box, staff, shop, sid.id, "organiser")
    return sid


@pytest.fixture
def need(box, olive, bank, items) -> str:
    """The bank's need: 10 tins of baked beans and 5 packs of pasta, by 2026-01-10."""
    return food.create_need(
        box,
        olive,
        need_data(org=bank, needed_by="2026-01-10"),
        [(items["Baked beans"], "10"), (items["Pasta"], "5")],
    )


@pytest.fixture
def supply(box, sid, shop, items) -> str:
    """The shop's supply: 20 loaves of bread and 8 kg of fruit, use by 2026-01-03."""
    return food.create_supply(
        box,
        sid,
        {"org": shop, "title": "Bread and fruit", "use_by": "2026-01-03"},
        [(items["Bread"], "20"), (items["Fruit and vegetables"], "8")],
    )


def lines_of(post_id: str) -> dict[str, tuple[int, int]]:
    """Return item id -> (qty, covered) for a post."""
    return {r.item: (r.qty, r.covered) for r in PostLine.select().where(PostLine.post == post_id)}


def refused(excinfo) -> dict[str, str]:
    return excinfo.value.fields


# --- posting needs and supplies ----------------------------------------------------------


def test_an_organiser_posts_a_need_with_items(box, olive, bank, items, need):
    post = Post.get_by_id(need)
    assert (post.type, post.org, post.category, post.place, post.needed_by) == (
        "need",
        bank,
        "food",  # every centre has it
        "Church Hall",  # the organisation's place when none is given
        "2026-01-10",
    )
    assert (post.author, post.status, post.covered) == (olive.id, "open", False)
    assert lines_of(need) == {items["Baked beans"]: (10, 0), items["Pasta"]: (5, 0)}
    detail = food_queries.food_detail(box, olive, need)
    assert [(line["name"], line["unit"], line["missing"]) for line in detail["lines"]] == [
        ("Baked beans", "items", 10),
        ("Pasta", "packs", 5),
    ]
    assert (detail["asked"], detail["missing"], detail["task"]) == (15, 15, False)
    assert detail["org"]["name"] == "Millbrook Food Bank"
    assert detail["is_organiser"] is True


def test_a_need_may_name_its_own_place(box, olive, bank, items):
    post_id = food.create_need(
        box, olive, need_data(org=bank, place="  Back  door "), [(items["Soup"], "3")]
    )
    assert Post.get_by_id(post_id).place == "Back door"


def test_a_volunteer_task_has_no_items(box, olive, bank, alice):
    post_id = food.create_need(box, olive, need_data(org=bank, task="1"), [("", ""), ("", "")])
    assert PostLine.select().where(PostLine.post == post_id).count() == 0
    detail = food_queries.food_detail(box, alice, post_id)
    assert (detail["task"], detail["can_pledge"]) == (True, False)
    # Volunteers say "I can help" as on any post.
    board.offer_help(box, alice, post_id, "can_help")
    assert Post.get_by_id(post_id).helper_count == 1


def test_food_posts_go_to_the_first_category_when_food_is_retired(box, staff, olive, bank, items):
    centre.set_category(box, staff, "Food", active=False, slug="food")
    post_id = food.create_need(box, olive, need_data(org=bank), [(items["Soup"], "3")])
    first = centre.categories(box)[0].slug
    assert Post.get_by_id(post_id).category == first != "food"


def test_only_organisers_post_for_an_organisation(box, alice, staff, sid, bank, items):
    before = record_count()
    with pytest.raises(NotSignedIn):
        food.create_need(box, None, need_data(org=bank), [(items["Soup"], "3")])
    for who in (alice, staff, sid):  # a member, staff, an organiser of another organisation
        with pytest.raises(NotAllowed) as excinfo:
            food.create_need(box, who, need_data(org=bank), [(items["Soup"], "3")])
        assert str(excinfo.value) == "Only an organiser of Millbrook Food Bank can do that."
        with pytest.raises(NotAllowed):
            food.create_supply(box, who, {"org": bank, "title": "Spare"}, [(items["Soup"], "3")])
    assert record_count() == before
    with pytest.raises(NotAllowed):
        food.my_orgs(alice)
    assert [o.name for o in food.my_orgs(sid)] == ["Corner Shop"]


@pytest.mark.parametrize(
    "change, lines, field",
    [
        ({"org": ""}, None, "org"),
        ({"org": "f" * 64}, None, "org"),
        ({"title": "  "}, None, "title"),
        ({"title": "x" * 121}, None, "title"),
        ({"details": "x" * 4001}, None, "details"),
        ({"place": "x" * 81}, None, "place"),
        ({"needed_by": "2025-12-31"}, None, "needed_by"),
        ({"needed_by": "next week"}, None, "needed_by"),
        ({"needed_by": ""}, None, "needed_by"),  # every need says by when
        ({"needed_by": "   "}, None, "needed_by"),
        ({"needed_by": None, "task": "1"}, [], "needed_by"),  # a volunteer task too
        ({}, [], "lines"),
        ({}, [("", ""), ("", "")], "lines"),
        ({}, [("Baked beans", "0")], "lines"),
        ({}, [("Baked beans", "-4")], "lines"),
        ({}, [("Baked beans", "lots")], "lines"),
        ({}, [("Baked beans", "2.5")], "lines"),
        ({}, [("Baked beans", "100001")], "lines"),
        ({}, [("Baked beans", "")], "lines"),
        ({}, [("", "4")], "lines"),
        ({}, [("0" * 64, "4")], "lines"),
        ({}, [("Baked beans", "4"), ("Baked beans", "2")], "lines"),
        ({"task": "1"}, [("Baked beans", "4")], "lines"),
    ],
)
def test_bad_needs_are_refused_whole(box, olive, bank, items, change, lines, field):
    lines = [(items.get(i, i), q) for i, q in (lines or [])] if lines is not None else None
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        food.create_need(
            box,
            olive,
            {**need_data(org=bank), **change},
            [(items["Soup"], "3")] if lines is None else lines,
        )
    assert set(refused(excinfo)) == {field}
    assert record_count() == before


def test_every_bad_field_is_named_at_once(box, olive, items):
    with pytest.raises(InvalidInput) as excinfo:
        food.create_need(box, olive, {"title": "", "needed_by": "2020-01-01"}, [("", "-1")])
    assert set(refused(excinfo)) == {"org", "title", "needed_by", "lines"}


def test_a_need_says_by_when(box, olive, bank, items):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        food.create_need(box, olive, need_data(org=bank, needed_by=""), [(items["Soup"], "3")])
    assert refused(excinfo) == {"needed_by": "Please give the date you need it by."}
    assert record_count() == before


def test_retired_items_and_unknown_units_are_refused(box, staff, olive, bank, items):
    soup = items["Soup"]
    catalogue.change_item(
        box, staff, soup, {"name": "Soup", "category": "tins", "unit": "items"}, active=False
    )
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        food.create_need(box, olive, need_data(org=bank), [(soup, "3")])
    assert refused(excinfo) == {"lines": "Please choose items from the catalogue."}
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.add_item(box, staff, {"name": "Crisps", "category": "dry", "unit": "crates"})
    assert set(refused(excinfo)) == {"unit"}
    assert record_count() == before


def test_a_supply_needs_items_and_a_use_by_not_past(box, sid, shop, items, supply):
    post = Post.get_by_id(supply)
    assert (post.type, post.org, post.use_by, post.place, post.needed_by) == (
        "offer",
        shop,
        "2026-01-03",
        "1 High Street",
        None,
    )
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        food.create_supply(box, sid, {"org": shop, "title": "Spare", "task": "1"}, [])
    assert set(refused(excinfo)) == {"lines"}
    with pytest.raises(InvalidInput) as excinfo:
        food.create_supply(
            box,
            sid,
            {"org": shop, "title": "Spare", "use_by": "2025-12-31"},
            [(items["Soup"], "1")],
        )
    assert set(refused(excinfo)) == {"use_by"}
    assert record_count() == before


# --- pledges -----------------------------------------------------------------------------


def test_pledges_fill_a_need_in_parts_and_close_it(box, clock, need, items, alice, bob):
    beans, pasta = items["Baked beans"], items["Pasta"]
    first = food.pledge(box, alice, need, beans, "4", "2026-01-05")
    assert lines_of(need)[beans] == (10, 4)
    assert Post.get_by_id(need).status == "open"
    detail = food_queries.food_detail(box, alice, need)
    assert (detail["fully_covered"], detail["covered"], detail["missing"]) == (False, 4, 11)
    assert detail["can_pledge"] is True
    assert [line["item"] for line in detail["open_lines"]] == [beans, pasta]

    food.pledge(box, bob, need, beans, " 6 ", "")
    assert [line["item"] for line in food_queries.food_detail(box, bob, need)["open_lines"]] == [
        pasta
    ]
    clock.advance(60_000)
    food.pledge(box, bob, need, pasta, "5")
    post = Post.get_by_id(need)
    assert (post.status, post.covered, post.resolved_by) == ("resolved", True, None)
    assert post.resolved_ms == clock.ms  # closed at the pledge that covered it
    assert food_queries.food_detail(box, bob, need)["can_pledge"] is False

    # Alice cannot come after all: the need opens again for what she pledged.
    food.withdraw_pledge(box, alice, first)
    post = Post.get_by_id(need)
    assert (post.status, post.covered) == ("open", False)
    assert lines_of(need)[beans] == (10, 6)
    assert Pledge.get_or_none(Pledge.id == first) is None


def test_a_pledge_beyond_what_is_missing_is_refused(box, need, items, alice, bob):
    beans = items["Baked beans"]
    food.pledge(box, alice, need, beans, "6")
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        food.pledge(box, bob, need, beans, "5")
    assert refused(excinfo) == {
        "qty": "Only 4 items of Baked beans are still needed: please pledge 4 or fewer."
    }
    assert str(excinfo.value.message % excinfo.value.params).startswith("Only 4 items")
    food.pledge(box, bob, need, beans, "4")
    with pytest.raises(InvalidInput) as excinfo:
        food.pledge(box, bob, need, beans, "1")
    assert refused(excinfo) == {"item": "Baked beans is already fully pledged."}
    assert record_count() == before + 1


@pytest.mark.parametrize(
    "item, qty, bring_on, fields",
    [
        ("Baked beans", "0", None, {"qty"}),
        ("Baked beans", "-2", None, {"qty"}),
        ("Baked beans", "two", None, {"qty"}),
        ("Baked beans", "1.5", None, {"qty"}),
        ("Baked beans", "", None, {"qty"}),
        ("Baked beans", "100001", None, {"qty"}),
        ("Baked beans", "11", None, {"qty"}),  # more than the whole line
        ("Soup", "1", None, {"item"}),  # not on this need
        ("", "1", None, {"item"}),
        ("f" * 64, "1", None, {"item"}),
        ("Baked beans", "1", "2025-12-31", {"bring_on"}),
        ("Baked beans", "1", "2026-01-11", {"bring_on"}),  # after the need's date
        ("Baked beans", "1", "soon", {"bring_on"}),
        ("Soup", "0", "soon", {"item", "qty", "bring_on"}),
    ],
)
def test_bad_pledges_change_nothing(box, need, items, alice, item, qty, bring_on, fields):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        food.pledge(box, alice, need, items.get(item, item), qty, bring_on)
    assert set(refused(excinfo)) == fields
    assert record_count() == before
    assert Pledge.select().count() == 0


def test_a_pledge_may_come_on_the_last_day(box, need, items, alice):
    pledge_id = food.pledge(box, alice, need, items["Pasta"], "2", "2026-01-10")
    assert Pledge.get_by_id(pledge_id).bring_on == "2026-01-10"
    assert food.pledge(box, alice, need, items["Pasta"], "1", TODAY)


def test_no_pledges_to_closed_hidden_or_other_posts(box, clock, staff, olive, need, items, alice):
    beans = items["Baked beans"]
    with pytest.raises(NotSignedIn):
        food.pledge(box, None, need, beans, "1")
    ordinary = board.create_post(
        box,
        alice,
        {"type": "need", "title": "Tins", "details": "", "category": "food", "place": "Hall"},
    )
    before = record_count()
    with pytest.raises(Conflict, match="only to a food need"):
        food.pledge(box, alice, ordinary, beans, "1")
    with pytest.raises(NotFound):
        food.pledge(box, alice, "0" * 64, beans, "1")
    board.resolve(box, olive, need, "Enough for now")
    closed = record_count()
    with pytest.raises(Conflict, match="This need is closed"):
        food.pledge(box, alice, need, beans, "1")
    board.reopen(box, olive, need)
    moderation.set_post_hidden(box, staff, need, True, "Duplicate")
    hidden = record_count()
    with pytest.raises(NotFound):
        food.pledge(box, alice, need, beans, "1")
    with pytest.raises(Conflict, match="hidden"):
        food.pledge(box, staff, need, beans, "1")
    moderation.set_post_hidden(box, staff, need, False, "")
    clock.ms = START_MS + 10 * DAY_MS  # 2026-01-11: the need's date has passed
    last = record_count()
    with pytest.raises(Conflict, match="date that has passed"):
        food.pledge(box, alice, need, beans, "1")
    assert (closed, hidden, last) == (before + 1, closed + 2, hidden + 1)
    assert record_count() == last and Pledge.select().count() == 0


def test_no_pledges_to_a_covered_need(box, need, items, alice, bob):
    food.pledge(box, alice, need, items["Baked beans"], "10")
    food.pledge(box, alice, need, items["Pasta"], "5")
    before = record_count()
    with pytest.raises(Conflict, match="pledged already"):
        food.pledge(box, bob, need, items["Pasta"], "1")
    assert record_count() == before


def test_only_the_pledger_withdraws_a_pledge(box, need, items, alice, bob, olive, staff):
    pledge_id = food.pledge(box, alice, need, items["Pasta"], "2")
    before = record_count()
    for who in (bob, olive, staff):
        with pytest.raises(NotAllowed):
            food.withdraw_pledge(box, who, pledge_id)
    with pytest.raises(NotSignedIn):
        food.withdraw_pledge(box, None, pledge_id)
    assert record_count() == before
    assert food.withdraw_pledge(box, alice, pledge_id) == need
    with pytest.raises(NotFound):
        food.withdraw_pledge(box, alice, pledge_id)
    assert record_count() == before + 1


def test_pledgers_names_reach_only_them_organisers_and_staff(box, need, items, alice, bob):
    food.pledge(box, alice, need, items["Pasta"], "2", "2026-01-04")
    seen = food_queries.food_detail(box, None, need)  # a visitor
    assert [(p["who"], p["qty"], p["mine"]) for p in seen["pledges"]] == [(None, 2, False)]
    assert food_queries.food_detail(box, bob, need)["pledges"][0]["who"] is None
    assert food_queries.food_detail(box, alice, need)["pledges"][0]["who"] == "Alice"
    assert food_queries.food_detail(box, alice, need)["pledges"][0]["mine"] is True


def test_organisers_and_staff_see_pledgers(box, need, items, alice, olive, staff):
    food.pledge(box, alice, need, items["Pasta"], "2", "2026-01-04")
    for who in (olive, staff):
        detail = food_queries.food_detail(box, who, need)
        assert [(p["who"], p["bring_on"]) for p in detail["pledges"]] == [("Alice", "2026-01-04")]
    # A visitor sees no form, but a member does.
    assert food_queries.food_detail(box, None, need)["can_pledge"] is False


def test_pledges_made_apart_count_in_record_order(box, clock, need, items, alice):
    """A peer's pledge earlier in the agreed order counts first; a later one is capped."""
    beans = items["Baked beans"]
    peer = Origin("riverside-centre", start_ms=START_MS + 1000)
    trust(box, peer)
    clock.advance(2000)
    mine = food.pledge(box, alice, need, beans, "6")
    theirs = peer.make(
        "pledge.made", {"item": beans, "qty": 8, "bring_on": None}, subject=need, author="b" * 64
    )
    assert box.log.ingest([theirs.line]).ok
    counted = {p.id: (p.qty, p.counted) for p in Pledge.select()}
    assert counted == {theirs.id: (8, 8), mine: (6, 2)}
    assert lines_of(need)[beans] == (10, 10)
    pasta = food_queries.food_detail(box, alice, need)["open_lines"]
    assert [line["name"] for line in pasta] == ["Pasta"]
    # Once the earlier pledge goes, the capped one counts in full.
    withdrawn = peer.make("pledge.withdrawn", {"pledge": theirs.id}, subject=need, author="b" * 64)
    assert box.log.ingest([withdrawn.line]).ok
    assert Pledge.get_by_id(mine).counted == 6


# --- supplies and claims -----------------------------------------------------------------


def test_organisers_claim_a_supply_until_it_closes(box, olive, bank, supply, items):
    bread, fruit = items["Bread"], items["Fruit and vegetables"]
    detail = food_queries.food_detail(box, olive, supply)
    assert detail["can_claim"] is True
    assert detail["claim_orgs"] == [{"id": bank, "name": "Millbrook Food Bank"}]
    claim_id = food.claim(box, olive, supply, bank, bread, "20")
    assert lines_of(supply)[bread] == (20, 20)
    food.claim(box, olive, supply, bank, fruit, "8")
    post = Post.get_by_id(supply)
    assert (post.status, post.covered) == ("resolved", True)
    detail = food_queries.food_detail(box, None, supply)
    assert [(p["org"], p["who"], p["qty"]) for p in detail["pledges"]] == [
        ("Millbrook Food Bank", None, 20),
        ("Millbrook Food Bank", None, 8),
    ]
    food.withdraw_claim(box, olive, claim_id)
    assert Post.get_by_id(supply).status == "open"


def test_bad_claims_change_nothing(box, olive, bank, sid, shop, alice, supply, need, items):
    bread = items["Bread"]
    food.claim(box, olive, supply, bank, bread, "15")
    before = record_count()
    with pytest.raises(NotAllowed):
        food.claim(box, alice, supply, bank, bread, "1")  # a member, not an organiser
    with pytest.raises(NotAllowed):
        food.claim(box, sid, supply, bank, bread, "1")  # for someone else's organisation
    with pytest.raises(InvalidInput) as excinfo:
        food.claim(box, olive, supply, "", bread, "1")
    assert set(refused(excinfo)) == {"org"}
    with pytest.raises(InvalidInput) as excinfo:
        food.claim(box, olive, supply, bank, bread, "6")
    assert refused(excinfo) == {"qty": "Only 5 items of Bread are left: please claim 5 or fewer."}
    for qty in ("0", "-1", "many", "100001"):
        with pytest.raises(InvalidInput) as excinfo:
            food.claim(box, olive, supply, bank, bread, qty)
        assert set(refused(excinfo)) == {"qty"}
    with pytest.raises(InvalidInput) as excinfo:
        food.claim(box, olive, supply, bank, items["Soup"], "1")
    assert set(refused(excinfo)) == {"item"}
    with pytest.raises(Conflict, match="only from a supply"):
        food.claim(box, olive, need, bank, items["Pasta"], "1")
    with pytest.raises(NotAllowed):
        food.withdraw_claim(box, sid, Pledge.get().id)
    assert record_count() == before


def test_no_claims_after_the_use_by_date(box, clock, olive, bank, supply, items):
    clock.ms = START_MS + 3 * DAY_MS  # 2026-01-04
    before = record_count()
    with pytest.raises(Conflict, match="use-by"):
        food.claim(box, olive, supply, bank, items["Bread"], "1")
    assert record_count() == before
    assert food_queries.open_supplies(box, olive) == []


# --- closing and reopening ---------------------------------------------------------------


def test_organisers_and_staff_close_and_reopen_a_need(box, staff, bank, olive, sid, alice, need):
    before = record_count()
    for who in (alice, sid):
        with pytest.raises(NotAllowed) as excinfo:
            board.resolve(box, who, need, "")
        assert (
            str(excinfo.value) == "Only an organiser of Millbrook Food Bank, or staff, can do that."
        )
    assert record_count() == before
    # Another organiser of the bank (not the poster) may close it, and staff may reopen it.
    ola = member(box, "Ola")
    orgs.set_org_role(box, staff, bank, ola.id, "organiser")
    board.resolve(box, ola, need, "Had a big delivery")
    assert Post.get_by_id(need).resolved_by == ola.id
    assert board_queries.get_post(box, ola, need)["can"]["reopen"] is True
    assert board_queries.get_post(box, alice, need)["can"]["reopen"] is False
    with pytest.raises(NotAllowed):
        board.reopen(box, alice, need)
    board.reopen(box, staff, need)
    assert Post.get_by_id(need).status == "open"
    board.resolve(box, olive, need)
    board.reopen(box, olive, need)
    # A member of the bank (not an organiser) may not close it.
    orgs.set_org_role(box, staff, bank, alice.id, "member")
    with pytest.raises(NotAllowed):
        board.resolve(box, alice, need)


def test_a_covered_need_reopens_only_by_a_withdrawal(box, olive, need, items, alice):
    food.pledge(box, alice, need, items["Baked beans"], "10")
    food.pledge(box, alice, need, items["Pasta"], "5")
    assert board_queries.get_post(box, olive, need)["can"]["reopen"] is False
    before = record_count()
    with pytest.raises(Conflict, match="opens again if one is withdrawn"):
        board.reopen(box, olive, need)
    with pytest.raises(Conflict):
        board.resolve(box, olive, need)
    assert record_count() == before


# --- lists ---------------------------------------------------------------------------------


def test_open_needs_soonest_first_across_centres(box, clock, olive, bank, need, items, staff):
    later = food.create_need(
        box,
        olive,
        need_data(org=bank, title="Later", needed_by="2026-01-20"),
        [(items["Soup"], "2")],
    )
    next_month = food.create_need(
        box,
        olive,
        need_data(org=bank, title="Next month", needed_by="2026-02-01"),
        [(items["Rice"], "3")],
    )
    closed = food.create_need(box, olive, need_data(org=bank, title="Done"), [(items["Rice"], "1")])
    board.resolve(box, olive, closed)
    hidden = food.create_need(box, olive, need_data(org=bank, title="Oops"), [(items["Rice"], "1")])
    moderation.set_post_hidden(box, staff, hidden, True, "Duplicate")
    # Another centre's food bank and its need, synced here.
    east = Origin("east-centre", start_ms=START_MS)
    trust(box, east)
    made = [east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"})]
    made.append(
        east.make(
            "org.created",
            {"name": "East Pantry", "type": "foodbank", "place": "Dock Road"},
            author="e" * 64,
        )
    )
    body = {
        "type": "need",
        "title": "Nappies",
        "details": "",
        "category": "food",
        "place": "Dock Road",
        "needed_by": "2026-01-05",
        "org": made[1].id,
        "lines": [{"item": items["Nappies"], "qty": 12}],
    }
    made.append(east.make("post.created", body, author="e" * 64))
    assert box.log.ingest([m.line for m in made]).ok

    needs = food_queries.open_needs(box, None)
    assert [n["title"] for n in needs] == ["Nappies", "Tins for the weekend", "Later", "Next month"]
    assert (needs[0]["centre"], needs[0]["org"]["name"], needs[0]["org"]["centre"]) == (
        "East Centre",
        "East Pantry",
        "East Centre",
    )
    assert [(line["name"], line["missing"]) for line in needs[0]["lines"]] == [("Nappies", 12)]
    assert needs[1]["centre"] is None and needs[1]["missing"] == 15
    assert [n["id"] for n in food_queries.open_needs(box, None, org=bank)] == [
        need,
        later,
        next_month,
    ]
    hub = food_queries.hub(box, olive)
    assert [(o["name"], len(o["needs"])) for o in hub["orgs"]] == [
        ("East Pantry", 1),
        ("Millbrook Food Bank", 3),
    ]
    assert hub["needs"] == 4 and [o["name"] for o in hub["my_orgs"]] == ["Millbrook Food Bank"]
    # A need whose date has passed is no longer open for pledges.
    clock.ms = START_MS + 6 * DAY_MS  # 2026-01-07
    titles = [n["title"] for n in food_queries.open_needs(box, None)]
    assert titles == ["Tins for the weekend", "Later", "Next month"]


def test_open_supplies_and_the_org_page(box, olive, bank, shop, sid, supply, items):
    later = food.create_supply(
        box, sid, {"org": shop, "title": "Soup", "use_by": "2026-02-01"}, [(items["Soup"], "6")]
    )
    assert [s["id"] for s in food_queries.open_supplies(box, None)] == [supply, later]
    page = food_queries.org_page(box, sid, shop)
    assert page["is_organiser"] is True and page["needs"] == []
    assert [s["title"] for s in page["supplies"]] == ["Bread and fruit", "Soup"]
    assert food_queries.org_page(box, olive, shop)["is_organiser"] is False
    with pytest.raises(NotFound):
        food_queries.org_page(box, None, "0" * 64)


def test_the_board_filters_food_posts(box, need, supply, alice, items):
    board.create_post(
        box,
        alice,
        {"type": "need", "title": "Tins", "details": "", "category": "food", "place": "Hall"},
    )
    food.pledge(box, alice, need, items["Baked beans"], "3")

    def listed(**filters):
        return board_queries.list_posts(box, None, BoardFilters(**filters))["posts"]

    assert [p["id"] for p in listed(food="needs")] == [need]
    assert [p["id"] for p in listed(food="supplies")] == [supply]
    assert len(listed()) == 3
    summary = listed(food="needs")[0]
    assert summary["org"]["name"] == "Millbrook Food Bank"
    assert summary["quantities"] == {"asked": 15, "covered": 3, "missing": 12}
    assert listed(type="need", food="needs")[0]["id"] == need
    ordinary = [p for p in listed() if p["title"] == "Tins"][0]
    assert (ordinary["org"], ordinary["quantities"]) == (None, None)
    filters, errors = board_queries.read_filters({"food": "biscuits"})
    assert errors == {"food": "Food posts must be needs or supplies."}
    assert filters.food == ""
    with pytest.raises(InvalidInput):
        board_queries.parse_filters({"food": "biscuits"})
    post = board_queries.get_post(box, None, need)
    assert post["org"]["id"] == Post.get_by_id(need).org
    assert post["food"]["missing"] == 12


def test_an_organisation_does_not_claim_its_own_supply(box, sid, shop, supply, items):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        food.claim(box, sid, supply, shop, items["Bread"], "1")
    assert "own organisation" in refused(excinfo)["org"]
    assert record_count() == before
