"""The balance view's figures: need and offer per category and organisation, and the
matches across centres, built from records (some signed by another box's key)."""

from __future__ import annotations

import datetime

import pytest
from boxes import START_MS, member, record_count, trust
from recordmaker import DAY_MS, Origin

from appliance.errors import InvalidInput
from appliance.services import board, catalogue, food_appeal, food_balance, moderation, orgs

HOUR_MS = 3_600_000


# --- making food records (shared with test_food_trends) -------------------------------------


def add_org(box, staff, name, type="foodbank", place="Hill Road") -> str:
    return orgs.create_org(box, staff, {"name": name, "type": type, "place": place})


def add_item(box, staff, name, category="tins", unit="items") -> str:
    return catalogue.add_item(box, staff, {"name": name, "category": category, "unit": unit})


def food_post(type, org, lines, title=None, needed_by=None, use_by=None) -> dict:
    """The body of a food need (type need) or supply (type offer)."""
    body = {
        "type": type,
        "title": title or f"{type} of {len(lines)} items",
        "details": "",
        "category": "food",
        "place": "Hill Road",
        "needed_by": needed_by,
        "org": org,
        "lines": [{"item": item, "qty": qty} for item, qty in lines],
    }
    if use_by:
        body["use_by"] = use_by
    return body


def need(box, who, org, lines, **kw) -> str:
    return box.log.append("post.created", food_post("need", org, lines, **kw), author=who.id).id


def supply(box, who, org, lines, **kw) -> str:
    return box.log.append("post.created", food_post("offer", org, lines, **kw), author=who.id).id


def pledge(box, who, post, item, qty) -> str:
    body = {"item": item, "qty": qty, "bring_on": None}
    return box.log.append("pledge.made", body, subject=post, author=who.id).id


def claim(box, who, post, org, item, qty) -> str:
    body = {"org": org, "item": item, "qty": qty}
    return box.log.append("claim.made", body, subject=post, author=who.id).id


def day(box, days: int) -> str:
    return (board.today(box) + datetime.timedelta(days=days)).isoformat()


class East:
    """Another centre's box, as its signed records arrive here: Centre B and its shop."""

    def __init__(self, box):
        self.box = box
        self.o = Origin("east", start_ms=START_MS - DAY_MS)
        trust(box, self.o.origin)
        centre = self.o.make("centre.created", {"name": "Centre B", "timezone": "Europe/London"})
        joined = self.o.make("member.joined", {"name": "Eve"})
        self.member = joined.id
        self.send(centre, joined)

    def send(self, *made):
        result = self.box.log.ingest([m.line for m in made])
        assert result.ok, result.rejected
        return made[-1].id if made else None

    def make(self, kind, body, subject=None):
        self.o.tick(1)
        return self.o.make(kind, body, subject=subject, author=self.member)

    def org(self, name, type="shop", place="Riverside"):
        return self.send(self.make("org.created", {"name": name, "type": type, "place": place}))

    def item(self, name, category="tins", unit="items"):
        body = {"name": name, "category": category, "unit": unit}
        return self.send(self.make("item.created", body))

    def post(self, type, org, lines, **kw):
        return self.send(self.make("post.created", food_post(type, org, lines, **kw)))


@pytest.fixture
def east(box):
    return East(box)


@pytest.fixture
def organiser(box):
    return member(box, "Olu")


@pytest.fixture
def hilltop(box, staff):
    return add_org(box, staff, "Hilltop Food Bank")


@pytest.fixture
def beans(box, staff):
    return add_item(box, staff, "Baked beans")


# --- matches ------------------------------------------------------------------------------


def test_a_surplus_at_another_centre_matches_a_need_here_by_name_and_unit(
    box, staff, organiser, hilltop, beans, east
):
    shop = east.org("Riverside Shop")
    their_beans = east.item("baked  Beans")  # another box's entry, the same item
    offer = east.post("offer", shop, [(their_beans, 40)], title="Surplus tins")
    wanted = need(box, organiser, hilltop, [(beans, 25)], title="Tins for Friday")

    data = food_balance.balance(box)
    [match] = data["matches"]
    assert match["amount"] == 25
    assert match["supply"]["post"] == offer and match["need"]["post"] == wanted
    assert (match["supply"]["qty"], match["need"]["qty"]) == (40, 25)
    assert match["supply"]["org"]["centre"] == "Centre B"
    assert match["need"]["org"]["centre"] is None and match["need"]["org"]["own"]
    assert match["item"] == {"name": "Baked beans", "unit": "items", "category": "tins"}
    assert match["sentence"] == (
        "Riverside Shop (Centre B) has 40 × Baked beans on offer; Hilltop Food Bank needs 25."
    )
    assert data["matches_total"] == 1


def test_items_match_only_in_the_same_unit_and_never_within_one_organisation(
    box, staff, organiser, hilltop, beans, east
):
    rice_kg = add_item(box, staff, "Rice", "dry", "kg")
    shop = east.org("Riverside Shop")
    rice_packs = east.item("Rice", "dry", "packs")
    east.post("offer", shop, [(rice_packs, 10)])
    need(box, organiser, hilltop, [(rice_kg, 5), (beans, 10)])
    supply(box, organiser, hilltop, [(beans, 30)])  # its own overflow: nothing to match
    assert food_balance.balance(box)["matches"] == []


def test_covered_closed_hidden_and_out_of_date_posts_are_left_out(
    box, clock, staff, organiser, hilltop, beans, east
):
    alice = member(box, "Alice")
    shop = east.org("Riverside Shop")
    their_beans = east.item("Baked beans")
    covered = need(box, organiser, hilltop, [(beans, 10)], title="Covered")
    pledge(box, alice, covered, beans, 10)
    closed = need(box, organiser, hilltop, [(beans, 11)], title="Closed")
    board.resolve(box, staff, closed, "Sorted")
    hidden = need(box, organiser, hilltop, [(beans, 12)], title="Hidden")
    moderation.set_post_hidden(box, staff, hidden, True, "Posted twice")
    need(box, organiser, hilltop, [(beans, 13)], title="Too late", needed_by=day(box, 1))
    east.post("offer", shop, [(their_beans, 50)], title="Old stock", use_by=day(box, 1))
    hidden_offer = supply(box, organiser, add_org(box, staff, "Corner Shop", "shop"), [(beans, 9)])
    moderation.set_post_hidden(box, staff, hidden_offer, True, "Not real")
    clock.advance(2 * DAY_MS)  # the needed-by and use-by dates have passed

    data = food_balance.balance(box)
    assert data["matches"] == []
    tins = data["categories"][0]
    assert (tins["category"], tins["needed"], tins["on_offer"]) == ("tins", [], [])

    # The same dates still count on the day itself.
    fresh = east.post("offer", shop, [(their_beans, 7)], use_by=day(box, 0))
    wanted = need(box, organiser, hilltop, [(beans, 4)], needed_by=day(box, 0))
    [match] = food_balance.balance(box)["matches"]
    assert (match["supply"]["post"], match["need"]["post"], match["amount"]) == (fresh, wanted, 4)


def test_amounts_are_what_is_still_missing_and_still_left(
    box, staff, organiser, hilltop, beans, east
):
    alice = member(box, "Alice")
    shop = east.org("Riverside Shop")
    their_beans = east.item("Baked beans")
    offer = supply(box, organiser, add_org(box, staff, "Corner Shop", "shop"), [(beans, 40)])
    claim(box, organiser, offer, hilltop, beans, 15)  # 25 left
    wanted = need(box, organiser, hilltop, [(beans, 30)])
    pledge(box, alice, wanted, beans, 2)  # 28 missing

    def plan():
        return [
            (
                m["supply"]["post"],
                m["need"]["post"],
                m["supply"]["qty"],
                m["need"]["qty"],
                m["amount"],
            )
            for m in food_balance.balance(box)["matches"]
        ]

    assert plan() == [(offer, wanted, 25, 28, 25)]
    tins = food_balance.balance(box)["categories"][0]
    assert tins["needed"] == [{"unit": "items", "qty": 28}]
    assert tins["on_offer"] == [{"unit": "items", "qty": 25}]
    assert tins["units"] == [{"unit": "items", "needed": 28, "on_offer": 25, "balance": -3}]

    # A bigger supply covers the need alone: the smaller one is not offered to it too.
    big = east.post("offer", shop, [(their_beans, 100)])
    assert plan() == [(big, wanted, 100, 28, 28)]

    # A second, bigger need takes the big supply first; the small one goes to the first.
    valley = add_org(box, staff, "Valley Pantry")
    more = need(box, organiser, valley, [(beans, 100)])
    assert plan() == [(big, more, 100, 100, 100), (offer, wanted, 25, 28, 25)]


def test_biggest_matches_first_and_the_org_filter(box, staff, organiser, hilltop, beans, east):
    valley = add_org(box, staff, "Valley Pantry")
    pasta = add_item(box, staff, "Pasta", "dry", "packs")
    shop = east.org("Riverside Shop")
    their_beans = east.item("Baked beans")
    their_pasta = east.item("Pasta", "dry", "packs")
    east.post("offer", shop, [(their_beans, 40), (their_pasta, 6)])
    need(box, organiser, hilltop, [(beans, 25)])
    need(box, organiser, valley, [(beans, 30), (pasta, 10)])
    corner = add_org(box, staff, "Corner Shop", "shop")
    supply(box, organiser, corner, [(pasta, 3)])

    matches = food_balance.balance(box)["matches"]
    assert [(m["sentence"], m["amount"]) for m in matches] == [
        ("Riverside Shop (Centre B) has 40 × Baked beans on offer; Valley Pantry needs 30.", 30),
        # What is left of the 40 once Valley Pantry's 30 are set aside.
        (
            "Riverside Shop (Centre B) has 40 × Baked beans on offer; Hilltop Food Bank needs 25.",
            10,
        ),
        ("Riverside Shop (Centre B) has 6 packs of Pasta on offer; Valley Pantry needs 10.", 6),
        ("Corner Shop has 3 packs of Pasta on offer; Valley Pantry needs 10.", 3),
    ]
    narrowed = food_balance.balance(box, org=hilltop)
    assert [(m["need"]["org"]["name"], m["amount"]) for m in narrowed["matches"]] == [
        ("Hilltop Food Bank", 10)
    ]
    assert narrowed["org"]["name"] == "Hilltop Food Bank"
    by_corner = food_balance.balance(box, org=corner)["matches"]
    assert [(m["supply"]["org"]["name"], m["amount"]) for m in by_corner] == [("Corner Shop", 3)]


def test_an_unknown_organisation_filter_is_refused(box, staff, hilltop):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        food_balance.balance(box, org="0" * 64)
    assert caught.value.fields == {"org": "There is no such organisation."}
    assert record_count() == before


def test_each_category_lists_every_organisation_with_need_or_offer(
    box, staff, organiser, hilltop, beans, east
):
    nappies = add_item(box, staff, "Nappies", "baby", "packs")
    rice = add_item(box, staff, "Rice", "dry", "kg")
    shop = east.org("Riverside Shop")
    their_beans = east.item("Baked beans")
    east.post("offer", shop, [(their_beans, 40)])
    need(box, organiser, hilltop, [(beans, 25), (nappies, 8), (rice, 5)])
    need(box, organiser, hilltop, [(beans, 5)])
    add_org(box, staff, "Quiet Group", "group")  # known, but nothing to show per category

    data = food_balance.balance(box)
    assert [c["category"] for c in data["categories"]] == list(catalogue.CATEGORY_LABELS)
    tins = data["categories"][0]
    assert [
        (r["org"]["name"], r["org"]["centre"], r["needed"], r["on_offer"]) for r in tins["orgs"]
    ] == [
        ("Hilltop Food Bank", None, [{"unit": "items", "qty": 30}], []),
        ("Riverside Shop", "Centre B", [], [{"unit": "items", "qty": 40}]),
    ]
    assert tins["by_item"] == [
        {"name": "Baked beans", "unit": "items", "needed": 30, "on_offer": 40, "balance": 10}
    ]
    baby = next(c for c in data["categories"] if c["category"] == "baby")
    assert baby["units"] == [{"unit": "packs", "needed": 8, "on_offer": 0, "balance": -8}]
    dry = next(c for c in data["categories"] if c["category"] == "dry")
    assert dry["needed"] == [{"unit": "kg", "qty": 5}]
    assert [o["name"] for o in data["orgs"]] == [
        "Hilltop Food Bank",
        "Quiet Group",
        "Riverside Shop",
    ]


def test_the_viewer_sees_which_matches_are_their_organisations(
    box, staff, organiser, hilltop, beans, east
):
    orgs.set_org_role(box, staff, hilltop, organiser.id, "organiser")
    shop = east.org("Riverside Shop")
    east.post("offer", shop, [(east.item("Baked beans"), 40)])
    need(box, organiser, hilltop, [(beans, 25)])
    assert [m["mine"] for m in food_balance.balance(box, viewer=organiser)["matches"]] == [True]
    stranger = member(box, "Stranger")
    assert [m["mine"] for m in food_balance.balance(box, viewer=stranger)["matches"]] == [False]
    assert [m["mine"] for m in food_balance.balance(box)["matches"]] == [False]


def test_quantities_are_said_in_their_unit():
    assert food_balance.quantity(1, "packs", "Pasta") == "1 pack of Pasta"
    assert food_balance.quantity(3, "packs", "Pasta") == "3 packs of Pasta"
    assert food_balance.quantity(12, "kg", "Rice") == "12 kg of Rice"
    assert food_balance.quantity(40, "items", "Baked beans") == "40 × Baked beans"
    assert food_balance.quantity(2, "litres", "UHT milk") == "2 litres of UHT milk"


# --- the appeal ---------------------------------------------------------------------------


def test_the_appeal_lists_what_this_centres_banks_miss_most(
    box, clock, staff, organiser, hilltop, beans, east
):
    alice = member(box, "Alice")
    valley = add_org(box, staff, "Valley Pantry", place="Valley Hall")
    nappies = add_item(box, staff, "Nappies", "baby", "packs")
    first = need(box, organiser, hilltop, [(beans, 25), (nappies, 4)], needed_by=day(box, 5))
    need(box, organiser, hilltop, [(beans, 5)], needed_by=day(box, 3))
    pledge(box, alice, first, beans, 10)  # 15 + 5 still missing
    need(box, organiser, valley, [(nappies, 12)])
    shop = add_org(box, staff, "Corner Shop", "shop")
    need(box, organiser, shop, [(beans, 500)])  # a shop's need: not for this appeal
    their_bank = east.org("Riverside Food Bank", "foodbank")
    east.post("need", their_bank, [(east.item("Baked beans"), 900)])  # another centre's

    data = food_appeal.appeal(box)
    assert [(i["text"], i["banks"], i["by"]) for i in data["most_needed"]] == [
        ("20 × Baked beans", ["Hilltop Food Bank"], day(box, 3)),
        ("16 packs of Nappies", ["Hilltop Food Bank", "Valley Pantry"], day(box, 5)),
    ]
    assert data["headline"] == "Most needed: 20 × Baked beans, 16 packs of Nappies"
    # Four needs of tins this week across the area, none before: demand is rising.
    assert data["rising"] == [{"category": "tins", "label": "Tins and jars"}]
    assert data["text"] == (
        "Hilltop Food Bank needs: 20 × Baked beans, 4 packs of Nappies. "
        f"Drop off at Hill Road, by {day(box, 3)}.\n\n"
        "Valley Pantry needs: 12 packs of Nappies. Drop off at Valley Hall.\n\n"
        "In the coming weeks we expect to need more: Tins and jars.\n\n"
        "Thank you!"
    )
    assert [b["name"] for b in data["banks"]] == ["Hilltop Food Bank", "Valley Pantry"]


def test_the_appeal_adds_rising_categories_and_thanks_when_nothing_is_missing(
    box, clock, staff, organiser, hilltop, beans
):
    empty = food_appeal.appeal(box)
    assert (empty["most_needed"], empty["headline"], empty["banks"]) == ([], None, [])
    assert empty["text"] == "Our food banks have what they asked for right now. Thank you!"

    alice = member(box, "Alice")
    for qty in (10, 10, 10):  # three posts this week, nothing before: rising
        clock.advance(HOUR_MS)
        wanted = need(box, organiser, hilltop, [(beans, qty)])
        pledge(box, alice, wanted, beans, qty)  # all pledged: nothing missing now
    data = food_appeal.appeal(box)
    assert data["most_needed"] == []
    assert data["rising"] == [{"category": "tins", "label": "Tins and jars"}]
    assert data["text"] == (
        "In the coming weeks we expect to need more: Tins and jars.\n\n"
        "Our food banks have what they asked for right now. Thank you!"
    )


def test_the_appeal_is_worded_in_the_words_given(box, staff, organiser, hilltop, beans):
    need(box, organiser, hilltop, [(beans, 2)], needed_by=day(box, 1))
    shouting = food_balance.Words(
        gettext=lambda text, **kw: (text % kw if kw else text).upper(),
        day=lambda iso: "tomorrow",
    )
    text = food_appeal.appeal(box, words=shouting)["text"]
    assert text.startswith(
        "HILLTOP FOOD BANK NEEDS: 2 × BAKED BEANS. DROP OFF AT HILL ROAD, BY TOMORROW."
    )


def test_a_post_whose_organisation_has_not_arrived_still_counts(
    box, staff, organiser, hilltop, beans, east
):
    east.post("offer", "f" * 64, [(east.item("Baked beans"), 40)])  # its org.created is not here
    need(box, organiser, hilltop, [(beans, 25)])
    [match] = food_balance.balance(box)["matches"]
    assert (
        match["sentence"]
        == "an organisation has 40 × Baked beans on offer; Hilltop Food Bank needs 25."
    )
    assert match["supply"]["org"]["unknown"]


def test_an_organisation_of_a_centre_not_yet_known_says_so(box, staff, organiser, hilltop, beans):
    west = Origin("west", start_ms=START_MS - DAY_MS)  # its centre.created never sent
    trust(box, west.origin)
    shop = west.make("org.created", {"name": "West Shop", "type": "shop", "place": "West"})
    item = west.make("item.created", {"name": "Baked beans", "category": "tins", "unit": "items"})
    offer = west.make("post.created", food_post("offer", shop.id, [(item.id, 9)]))
    assert box.log.ingest([shop.line, item.line, offer.line]).ok
    need(box, organiser, hilltop, [(beans, 25)])
    [match] = food_balance.balance(box)["matches"]
    assert match["sentence"] == (
        "West Shop (another centre) has 9 × Baked beans on offer; Hilltop Food Bank needs 25."
    )
