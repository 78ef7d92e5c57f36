"""Food posts at the edges: a need whose organisation has not reached this box, an
organiser whose role was taken away, and an organisation that staff retired."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from boxes import START_MS, member, record_count, trust
from recordmaker import Origin, post_body

from appliance.errors import Conflict, NotAllowed
from appliance.models import Item
from appliance.services import (
    board,
    board_queries,
    catalogue,
    food,
    food_appeal,
    food_balance,
    food_export,
    food_queries,
    food_trends,
    kiosk,
    orgs,
)

BY = "2026-01-10"  # the appliance tests' clock starts at 2026-01-01 12:00 UTC


@pytest.fixture
def town(box, staff):
    """A food bank and a shop, each with an organiser, a need of the bank's (beans and
    pasta) and a supply of the shop's (beans)."""
    catalogue.add_starter_items(box, staff)
    items = {i.name: i.id for i in Item.select()}
    bank = orgs.create_org(
        box, staff, {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Hall"}
    )
    shop = orgs.create_org(
        box, staff, {"name": "Corner Shop", "type": "shop", "place": "1 High St"}
    )
    olive, sid = member(box, "Olive"), member(box, "Sid")
    orgs.set_org_role(box, staff, bank, olive.id, "organiser")
    orgs.set_org_role(box, staff, shop, sid.id, "organiser")
    lines = [(items["Baked beans"], "10"), (items["Pasta"], "5")]
    need = food.create_need(box, olive, {"org": bank, "title": "Tins", "needed_by": BY}, lines)
    offer = {"org": shop, "title": "Spare beans", "use_by": BY}
    supply = food.create_supply(box, sid, offer, [(items["Baked beans"], "30")])
    return SimpleNamespace(
        items=items, bank=bank, shop=shop, olive=olive, sid=sid, need=need, supply=supply
    )


# --- an organisation whose record has not arrived -----------------------------------------


@pytest.fixture
def orphans(box, town):
    """A need and a supply from another centre, for an organisation whose org.created never
    reaches this box (a USB bundle can carry part of the picture)."""
    east = Origin("east-centre", start_ms=START_MS)
    trust(box, east)
    missing_org = "d" * 64
    beans = town.items["Baked beans"]
    need = east.make(
        "post.created",
        post_body("need", "Beans, please", org=missing_org, items={beans: 12}, needed_by=BY),
        author="e" * 64,
    )
    supply = east.make(
        "post.created",
        post_body("offer", "Spare pasta", org=missing_org, items={town.items["Pasta"]: 4}),
        author="e" * 64,
    )
    assert box.log.ingest([need.line, supply.line]).ok
    return SimpleNamespace(org=missing_org, need=need.id, supply=supply.id)


def test_posts_of_an_organisation_not_on_this_box_are_listed_under_a_plain_name(
    box, town, orphans, alice
):
    hub = food_queries.hub(box, alice)
    groups = [(g["name"], g["unknown"], [n["id"] for n in g["needs"]]) for g in hub["orgs"]]
    assert groups == [
        ("Corner Shop", False, []),
        ("Millbrook Food Bank", False, [town.need]),
        ("an organisation", True, [orphans.need]),
    ]
    assert hub["orgs"][-1]["supplies"] == 1 and hub["needs"] == 2
    [need] = food_queries.open_needs(box, None, org=orphans.org)
    assert (need["org_id"], need["org"]["name"], need["org"]["unknown"]) == (
        orphans.org,
        "an organisation",
        True,
    )
    supplies = {s["id"]: s["org"]["name"] for s in food_queries.open_supplies(box, None)}
    assert supplies == {town.supply: "Corner Shop", orphans.supply: "an organisation"}
    detail = food_queries.food_detail(box, alice, orphans.need)
    assert (detail["org"]["unknown"], detail["can_pledge"]) == (True, True)
    assert board_queries.get_post(box, alice, orphans.need)["can"]["resolve"] is False


def test_every_food_reading_takes_a_post_of_an_unknown_organisation(box, town, orphans):
    balance = food_balance.balance(box)
    sentences = [food_balance.describe_match(m) for m in balance["matches"]]
    assert "Corner Shop has 30 × Baked beans on offer; an organisation needs 12." in sentences
    assert food_trends.trends(box)["weeks"][-1]["demand"]["value"] is None  # two posts only
    assert food_appeal.appeal(box)["most_needed"][0]["banks"] == ["Millbrook Food Bank"]
    needs = food_export.export(box, "needs").rows
    assert {(r["need"], r["org_id"], r["org"]) for r in needs if r["need"] == orphans.need} == {
        (orphans.need, orphans.org, None)
    }
    for dataset in food_export.DATASETS:
        food_export.as_csv(food_export.export(box, dataset))
    screen = kiosk.screen(box)
    assert orphans.need in [n["id"] for n in screen["food"]]


# --- an organiser whose role was taken away ------------------------------------------------


def test_a_removed_organiser_can_no_longer_close_or_reopen_the_needs(box, staff, town):
    orgs.set_org_role(box, staff, town.bank, town.olive.id, None)
    before = record_count()
    with pytest.raises(NotAllowed, match="Only an organiser of Millbrook Food Bank, or staff"):
        board.resolve(box, town.olive, town.need, "Done")
    assert record_count() == before
    assert board_queries.get_post(box, town.olive, town.need)["can"]["resolve"] is False
    board.resolve(box, staff, town.need, "Closed by staff")
    before = record_count()
    with pytest.raises(NotAllowed):
        board.reopen(box, town.olive, town.need)
    assert record_count() == before
    assert board_queries.get_post(box, town.olive, town.need)["can"]["reopen"] is False


# --- a retired organisation ------------------------------------------------------------------


def set_active(box, staff, org_id, active: bool) -> None:
    """Retire an organisation as its staff do, or bring it back, its details unchanged."""
    org = orgs.get_org(org_id)
    data = {"name": org.name, "type": org.type, "place": org.place}
    orgs.change_org(box, staff, org_id, data, active=active)


def test_a_retired_organisations_posts_take_no_pledges_or_claims(box, staff, town, alice):
    olly = member(box, "Olly")  # organises a second bank, which claims from the shop
    other = orgs.create_org(
        box, staff, {"name": "Hilltop Larder", "type": "foodbank", "place": "Library"}
    )
    orgs.set_org_role(box, staff, other, olly.id, "organiser")
    set_active(box, staff, town.bank, False)
    set_active(box, staff, town.shop, False)
    beans = town.items["Baked beans"]
    before = record_count()
    with pytest.raises(Conflict) as excinfo:
        food.pledge(box, alice, town.need, beans, "2")
    assert str(excinfo.value) == (
        "Millbrook Food Bank is no longer active here, so its needs take no new pledges."
    )
    with pytest.raises(Conflict) as excinfo:
        food.claim(box, olly, town.supply, other, beans, "2")
    assert str(excinfo.value) == (
        "Corner Shop is no longer active here, so its supplies cannot be claimed."
    )
    assert record_count() == before
    detail = food_queries.food_detail(box, alice, town.need)
    assert (detail["org"]["active"], detail["can_pledge"]) == (False, False)
    assert food_queries.food_detail(box, olly, town.supply)["can_claim"] is False


def test_a_retired_organisations_posts_count_nowhere(box, staff, town, alice):
    set_active(box, staff, town.bank, False)
    set_active(box, staff, town.shop, False)
    assert food_queries.open_needs(box, None) == []
    assert food_queries.open_supplies(box, None) == []
    hub = food_queries.hub(box, alice)
    assert (hub["orgs"], hub["needs"], hub["supplies"]) == ([], 0, [])
    assert food_queries.org_page(box, None, town.bank)["needs"] == []
    balance = food_balance.balance(box)
    assert balance["matches"] == [] and all(
        c["needed"] == [] and c["on_offer"] == [] for c in balance["categories"]
    )
    appeal = food_appeal.appeal(box)
    assert (appeal["most_needed"], appeal["banks"], appeal["headline"]) == ([], [], None)
    # Staff bring the bank back: its need counts again.
    set_active(box, staff, town.bank, True)
    assert [n["id"] for n in food_queries.open_needs(box, None)] == [town.need]
