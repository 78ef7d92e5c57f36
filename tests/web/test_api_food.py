"""The food bank JSON API (/api/v1/food/): every operation against web/openapi/food.yaml,
with the same rules as the pages: who may act, bad input refused with nothing written,
small counts suppressed, and nobody named in what a visitor can fetch."""

from __future__ import annotations

import json

import pytest
from apitools import ApiClient, assert_documented, session_api, token_for
from pagetools import ADMIN, PASSWORD, actor, member_id, record_count

from appliance.models import Item
from appliance.services import accounts, catalogue, food, orgs, shifts

NEEDED_BY = "2027-03-24"  # a week after the web tests' clock (Wednesday 2027-03-17, noon)
SHIFT = {
    "title": "Sorting the Saturday delivery",
    "date": "2027-03-20",
    "start": "09:30",
    "end": "12:00",
    "people": 2,
    "bring": "Gloves",
}


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def items(box) -> dict[str, str]:
    catalogue.add_starter_items(box, actor(box, ADMIN))
    return {i.name: i.id for i in Item.select()}


@pytest.fixture
def bank(box) -> str:
    return orgs.create_org(
        box, actor(box, ADMIN), {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Hall"}
    )


@pytest.fixture
def shop(box) -> str:
    return orgs.create_org(
        box, actor(box, ADMIN), {"name": "Corner Shop", "type": "shop", "place": "1 High St"}
    )


def member(box, name: str, org: str | None = None) -> str:
    """Sign a member up (an organiser of `org` if given); return a personal token."""
    accounts.sign_up(box, name, PASSWORD)
    if org:
        orgs.set_org_role(box, actor(box, ADMIN), org, member_id(name), "organiser")
    return token_for(box, name)


@pytest.fixture
def olive(box, client, bank, items) -> ApiClient:
    """Olive Organiser, who runs the food bank, through the API with her token."""
    return ApiClient(client, member(box, "Olive Organiser", bank))


@pytest.fixture
def sid(box, client, shop, items) -> ApiClient:
    """Sid Shopkeeper, who runs the corner shop."""
    return ApiClient(client, member(box, "Sid Shopkeeper", shop))


@pytest.fixture
def alice(box, client) -> ApiClient:
    """Alice Member: signed in, organises nothing."""
    return ApiClient(client, member(box, "Alice Member"))


@pytest.fixture
def visitor(browser) -> ApiClient:
    """Nobody signed in, but with a page's CSRF token: so a POST gets as far as the rules."""
    return ApiClient(browser.client, csrf=browser.token("/signup"))


@pytest.fixture
def need(box, olive, bank, items) -> str:
    """The bank's need: 10 × Baked beans and 5 packs of Pasta by NEEDED_BY."""
    return food.create_need(
        box,
        actor(box, "Olive Organiser"),
        {"org": bank, "title": "Tins for the weekend", "needed_by": NEEDED_BY},
        [(items["Baked beans"], "10"), (items["Pasta"], "5")],
    )


@pytest.fixture
def supply(box, sid, shop, items) -> str:
    """The shop's supply: 6 × Baked beans, use by 2027-03-19."""
    return food.create_supply(
        box,
        actor(box, "Sid Shopkeeper"),
        {"org": shop, "title": "Dented tins", "use_by": "2027-03-19"},
        [(items["Baked beans"], "6")],
    )


@pytest.fixture
def shift(box, olive, bank) -> str:
    return shifts.create_shift(
        box, actor(box, "Olive Organiser"), {**SHIFT, "org": bank, "people": "2"}
    )


def unchanged(box, api: ApiClient, method: str, path: str, template: str, status: int, **kw):
    """Send a request that must be refused with `status`; check nothing was written and the
    answer is documented; return the error body."""
    before = record_count(box)
    response = api.request(method, path, **kw)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    body = assert_documented(response, method, template)
    assert body["error"]
    assert record_count(box) == before
    return body


# --- reading ------------------------------------------------------------------------------


def test_a_visitor_reads_organisations_needs_supplies_and_the_catalogue(
    client, need, supply, bank, shop, shift
):
    api = ApiClient(client)
    listed = assert_documented(api.get("/api/v1/food/orgs"), "GET", "/api/v1/food/orgs")
    by_name = {o["name"]: o for o in listed["orgs"]}
    assert by_name["Millbrook Food Bank"]["open_needs"] == 1
    assert by_name["Millbrook Food Bank"]["type_label"] == "Food bank"
    assert by_name["Corner Shop"]["open_supplies"] == 1
    assert listed["my_orgs"] == []

    page = assert_documented(
        api.get(f"/api/v1/food/orgs/{bank}"), "GET", "/api/v1/food/orgs/{org_id}"
    )
    assert page["org"]["name"] == "Millbrook Food Bank"
    assert [n["id"] for n in page["needs"]] == [need]
    assert [s["id"] for s in page["shifts"]] == [shift]
    assert page["is_organiser"] is False

    needs = assert_documented(api.get("/api/v1/food/needs"), "GET", "/api/v1/food/needs")
    [got] = needs["needs"]
    assert (got["id"], got["asked"], got["missing"], got["needed_by"]) == (need, 15, 15, NEEDED_BY)
    assert {(line["name"], line["qty"], line["unit_label"]) for line in got["lines"]} == {
        ("Baked beans", 10, "items"),
        ("Pasta", 5, "packs"),
    }
    # The filter: the shop has no needs.
    only_shop = api.get(f"/api/v1/food/needs?org={shop}")
    assert assert_documented(only_shop, "GET", "/api/v1/food/needs") == {"needs": []}

    supplies = assert_documented(api.get("/api/v1/food/supplies"), "GET", "/api/v1/food/supplies")
    assert [s["id"] for s in supplies["supplies"]] == [supply]
    assert supplies["supplies"][0]["use_by"] == "2027-03-19"

    catalogue_ = assert_documented(api.get("/api/v1/food/items"), "GET", "/api/v1/food/items")
    names = [i["name"] for i in catalogue_["items"]]
    assert len(names) == len(catalogue.STARTER_ITEMS) and "Rice" in names
    rice = next(i for i in catalogue_["items"] if i["name"] == "Rice")
    assert (rice["unit"], rice["category_label"], rice["own"]) == (
        "kg",
        "Dry food (pasta, rice, cereal)",
        True,
    )


def test_my_orgs_and_is_organiser_follow_the_caller(olive, bank):
    listed = assert_documented(olive.get("/api/v1/food/orgs"), "GET", "/api/v1/food/orgs")
    assert [o["id"] for o in listed["my_orgs"]] == [bank]
    page = olive.get(f"/api/v1/food/orgs/{bank}")
    assert assert_documented(page, "GET", "/api/v1/food/orgs/{org_id}")["is_organiser"] is True


def test_unknown_things_and_bad_filters_are_refused(client, bank, box):
    api = ApiClient(client)
    for path, template in [
        ("/api/v1/food/orgs/nope", "/api/v1/food/orgs/{org_id}"),
        ("/api/v1/food/shifts/nope", "/api/v1/food/shifts/{shift_id}"),
    ]:
        assert unchanged(box, api, "GET", path, template, 404)
    bad_filters = [
        ("/api/v1/food/needs?org=nope", "/api/v1/food/needs", "org"),
        ("/api/v1/food/supplies?org=nope", "/api/v1/food/supplies", "org"),
        ("/api/v1/food/shifts?org=nope", "/api/v1/food/shifts", "org"),
        ("/api/v1/food/shifts?days=0", "/api/v1/food/shifts", "days"),
        ("/api/v1/food/shifts?days=367", "/api/v1/food/shifts", "days"),
        ("/api/v1/food/shifts?days=soon", "/api/v1/food/shifts", "days"),
        ("/api/v1/food/shifts?days=%C2%B2", "/api/v1/food/shifts", "days"),  # a superscript 2
        ("/api/v1/food/balance?org=nope", "/api/v1/food/balance", "org"),
        ("/api/v1/food/trends?category=sweets", "/api/v1/food/trends", "category"),
    ]
    for path, template, field in bad_filters:
        body = unchanged(box, api, "GET", path, template, 400)
        assert list(body["fields"]) == [field], path
    assert (
        "no such organisation"
        in unchanged(box, api, "GET", "/api/v1/food/needs?org=nope", "/api/v1/food/needs", 400)[
            "fields"
        ]["org"]
    )


def test_a_bad_token_is_refused_even_where_visitors_may_read(client, box):
    api = ApiClient(client, "kith_not-a-token")
    body = unchanged(box, api, "GET", "/api/v1/food/needs", "/api/v1/food/needs", 401)
    assert "not known" in body["error"]


# --- needs and supplies -----------------------------------------------------------------------


def need_body(bank, items, **change) -> dict:
    return {
        "org": bank,
        "title": "Nappies for the baby bank",
        "details": "Size 4 and 5",
        "needed_by": NEEDED_BY,
        "lines": [
            {"item": items["Nappies"], "qty": 8},
            {"item": items["Baby formula"], "qty": "3"},
        ],
        **change,
    }


def test_an_organiser_posts_a_need_and_a_volunteer_task(box, olive, bank, items):
    before = record_count(box)
    response = olive.post("/api/v1/food/needs", json=need_body(bank, items))
    body = assert_documented(response, "POST", "/api/v1/food/needs")
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/posts/{body['id']}"
    assert record_count(box) == before + 1
    [listed] = olive.get("/api/v1/food/needs").get_json()["needs"]
    assert (listed["id"], listed["asked"], listed["place"]) == (body["id"], 11, "Hall")

    task = olive.post(
        "/api/v1/food/needs",
        json={"org": bank, "title": "Drivers for Saturday", "needed_by": NEEDED_BY, "task": True},
    )
    assert task.status_code == 201
    assert_documented(task, "POST", "/api/v1/food/needs")
    found = {n["id"]: n for n in olive.get("/api/v1/food/needs").get_json()["needs"]}
    assert found[task.get_json()["id"]]["task"] is True


NEED_REFUSALS = [
    # (what changes in the body, the field named)
    ({"title": ""}, "title"),
    ({"title": 5}, "title"),
    ({"needed_by": ""}, "needed_by"),
    ({"needed_by": "2027-03-01"}, "needed_by"),
    ({"needed_by": "next week"}, "needed_by"),
    ({"org": ""}, "org"),
    ({"org": "not-an-org"}, "org"),
    ({"lines": []}, "lines"),
    ({"lines": "beans"}, "lines"),
    ({"lines": [{"item": "nope", "qty": 1}]}, "lines"),
    ({"lines": [{"qty": 1}]}, "lines"),
    ({"lines": [{"item": "x", "qty": 1.5}]}, "lines"),
    ({"task": "yes"}, "task"),
    ({"task": True}, "lines"),  # a volunteer task with items
]


@pytest.mark.parametrize(("change", "field"), NEED_REFUSALS)
def test_a_bad_need_is_refused_by_field_and_writes_nothing(box, olive, bank, items, change, field):
    path = "/api/v1/food/needs"
    body = unchanged(box, olive, "POST", path, path, 400, json=need_body(bank, items, **change))
    assert field in body["fields"], body


def test_bad_quantities_say_what_is_wrong(box, olive, bank, items):
    for qty, words in [(0, "at least 1"), (100_001, "100,000"), ("twelve", "whole number")]:
        body = need_body(bank, items, lines=[{"item": items["Pasta"], "qty": qty}])
        refusal = unchanged(
            box, olive, "POST", "/api/v1/food/needs", "/api/v1/food/needs", 400, json=body
        )
        assert words in refusal["fields"]["lines"]


def test_posting_needs_json_from_an_organiser(box, olive, alice, visitor, bank, items):
    path = "/api/v1/food/needs"
    good = need_body(bank, items)
    # Not JSON: a form, nothing at all; JSON, but not one object, or broken.
    unchanged(box, olive, "POST", path, path, 415, data={"title": "x"})
    unchanged(box, olive, "POST", path, path, 415)
    assert "one JSON object" in unchanged(box, olive, "POST", path, path, 400, json=[good])["error"]
    broken = {"data": '{"title": ', "content_type": "application/json"}
    assert unchanged(box, olive, "POST", path, path, 400, **broken)["fields"] == {}
    # Not an organiser of the bank; not signed in.
    refused = unchanged(box, alice, "POST", path, path, 403, json=good)
    assert "Millbrook Food Bank" in refused["error"]
    assert "log in" in unchanged(box, visitor, "POST", path, path, 401, json=good)["error"]


def test_an_organiser_posts_a_supply(box, sid, shop, items, alice):
    path = "/api/v1/food/supplies"
    body = {
        "org": shop,
        "title": "Bread from today",
        "lines": [{"item": items["Bread"], "qty": 20}],
    }
    before = record_count(box)
    response = sid.post(path, json={**body, "use_by": "2027-03-18"})
    created = assert_documented(response, "POST", path)
    assert response.status_code == 201 and record_count(box) == before + 1
    [listed] = sid.get(path).get_json()["supplies"]
    assert (listed["id"], listed["missing"], listed["use_by"]) == (created["id"], 20, "2027-03-18")

    for change, field in [
        ({"lines": []}, "lines"),
        ({"use_by": "2026-01-01"}, "use_by"),
        ({"use_by": 20270318}, "use_by"),
        ({"title": None}, "title"),
    ]:
        refusal = unchanged(box, sid, "POST", path, path, 400, json={**body, **change})
        assert field in refusal["fields"]
    unchanged(box, alice, "POST", path, path, 403, json=body)


# --- pledges and claims -----------------------------------------------------------------------


def test_a_member_pledges_and_withdraws(box, alice, client, need, items):
    path, template = f"/api/v1/food/posts/{need}/pledges", "/api/v1/food/posts/{post_id}/pledges"
    response = alice.post(
        path, json={"item": items["Baked beans"], "qty": 4, "bring_on": "2027-03-20"}
    )
    pledged = assert_documented(response, "POST", template)
    assert response.status_code == 201 and pledged["post_id"] == need
    [listed] = ApiClient(client).get("/api/v1/food/needs").get_json()["needs"]
    assert listed["missing"] == 11

    # Someone else cannot withdraw it; Alice can, once.
    bob = ApiClient(client, member(box, "Bob Neighbour"))
    withdraw = f"/api/v1/food/pledges/{pledged['id']}/withdraw"
    w_template = "/api/v1/food/pledges/{pledge_id}/withdraw"
    assert "Only the person" in unchanged(box, bob, "POST", withdraw, w_template, 403)["error"]
    done = alice.post(withdraw)
    assert assert_documented(done, "POST", w_template) == {"id": pledged["id"], "post_id": need}
    assert ApiClient(client).get("/api/v1/food/needs").get_json()["needs"][0]["missing"] == 15
    unchanged(box, alice, "POST", withdraw, w_template, 404)


def test_bad_pledges_are_refused(box, alice, visitor, need, supply, items):
    path, template = f"/api/v1/food/posts/{need}/pledges", "/api/v1/food/posts/{post_id}/pledges"
    beans = items["Baked beans"]
    for body, field in [
        ({"item": beans, "qty": 11}, "qty"),  # only 10 are needed
        ({"item": items["Rice"], "qty": 1}, "item"),  # not on this need
        ({"item": beans, "qty": 0}, "qty"),
        ({"item": beans, "qty": True}, "qty"),
        ({"item": beans, "qty": 1, "bring_on": "2027-03-30"}, "bring_on"),  # after the need's date
        ({"item": beans, "qty": 1, "bring_on": "2027-03-01"}, "bring_on"),
    ]:
        refusal = unchanged(box, alice, "POST", path, template, 400, json=body)
        assert field in refusal["fields"], body
    too_many = unchanged(box, alice, "POST", path, template, 400, json={"item": beans, "qty": 11})
    assert "Only 10 items of Baked beans are still needed" in too_many["error"]
    unchanged(box, alice, "POST", path, template, 415, data={"item": beans, "qty": "1"})
    unchanged(box, visitor, "POST", path, template, 401, json={"item": beans, "qty": 1})
    nowhere = "/api/v1/food/posts/nope/pledges"
    unchanged(box, alice, "POST", nowhere, template, 404, json={"item": beans, "qty": 1})
    to_supply = f"/api/v1/food/posts/{supply}/pledges"
    refusal = unchanged(
        box, alice, "POST", to_supply, template, 409, json={"item": beans, "qty": 1}
    )
    assert "only to a food need" in refusal["error"]


def test_an_organiser_claims_from_another_organisations_supply(
    box, olive, sid, alice, client, supply, bank, shop, items
):
    path, template = f"/api/v1/food/posts/{supply}/claims", "/api/v1/food/posts/{post_id}/claims"
    beans = items["Baked beans"]
    # Refusals first: not her organisation, the supplier's own, too many, not signed in.
    assert (
        "Only an organiser"
        in unchanged(
            box, alice, "POST", path, template, 403, json={"org": bank, "item": beans, "qty": 1}
        )["error"]
    )
    own = unchanged(
        box, sid, "POST", path, template, 400, json={"org": shop, "item": beans, "qty": 1}
    )
    assert "your own organisation" in own["fields"]["org"]
    for body, field in [
        ({"org": bank, "item": beans, "qty": 7}, "qty"),
        ({"org": "nope", "item": beans, "qty": 1}, "org"),
        ({"org": bank, "item": beans, "qty": [1]}, "qty"),
    ]:
        assert field in unchanged(box, olive, "POST", path, template, 400, json=body)["fields"]

    response = olive.post(path, json={"org": bank, "item": beans, "qty": 6})
    claimed = assert_documented(response, "POST", template)
    assert response.status_code == 201
    # All claimed: the supply leaves the open list; another claim is a conflict.
    assert ApiClient(client).get("/api/v1/food/supplies").get_json() == {"supplies": []}
    unchanged(box, olive, "POST", path, template, 409, json={"org": bank, "item": beans, "qty": 1})

    withdraw, w_template = (
        f"/api/v1/food/claims/{claimed['id']}/withdraw",
        "/api/v1/food/claims/{claim_id}/withdraw",
    )
    unchanged(box, sid, "POST", withdraw, w_template, 403)
    assert assert_documented(olive.post(withdraw), "POST", w_template)["post_id"] == supply
    [back] = ApiClient(client).get("/api/v1/food/supplies").get_json()["supplies"]
    assert back["missing"] == 6
    unchanged(box, olive, "POST", withdraw, w_template, 404)


# --- shifts -------------------------------------------------------------------------------


def test_an_organiser_plans_a_shift_and_members_sign_up(box, olive, alice, client, bank):
    response = olive.post("/api/v1/food/shifts", json={**SHIFT, "org": bank})
    planned = assert_documented(response, "POST", "/api/v1/food/shifts")
    assert response.status_code == 201
    shift_id = planned["id"]
    assert response.headers["Location"] == f"/api/v1/food/shifts/{shift_id}"
    assert (planned["day"], planned["start"], planned["place"]) == ("2027-03-20", "09:30", "Hall")
    assert planned["can"]["cancel"] is True and planned["volunteers"] == []

    base = f"/api/v1/food/shifts/{shift_id}"
    joined = assert_documented(
        alice.post(base + "/join"), "POST", "/api/v1/food/shifts/{shift_id}/join"
    )
    assert (joined["mine"], joined["coming"], joined["places_left"]) == ("confirmed", 1, 1)
    assert "volunteers" not in joined  # a volunteer does not see the others' names
    unchanged(box, alice, "POST", base + "/join", "/api/v1/food/shifts/{shift_id}/join", 409)

    # The organiser sees who is coming; a visitor sees only the numbers.
    seen = assert_documented(olive.get(base), "GET", "/api/v1/food/shifts/{shift_id}")
    assert [p["name"] for p in seen["volunteers"]] == ["Alice Member"]
    public = ApiClient(client).get(base)
    assert "Alice" not in public.get_data(as_text=True)
    assert assert_documented(public, "GET", "/api/v1/food/shifts/{shift_id}")["coming"] == 1

    listing = assert_documented(alice.get("/api/v1/food/shifts"), "GET", "/api/v1/food/shifts")
    assert [s["id"] for s in listing["mine"]] == [shift_id]
    assert [s["id"] for s in listing["shifts"]] == [shift_id]
    visitor_list = ApiClient(client).get(f"/api/v1/food/shifts?org={bank}&days=3")
    assert assert_documented(visitor_list, "GET", "/api/v1/food/shifts")["mine"] is None
    assert ApiClient(client).get("/api/v1/food/shifts?days=2").get_json()["shifts"] == []

    left = assert_documented(
        alice.post(base + "/leave"), "POST", "/api/v1/food/shifts/{shift_id}/leave"
    )
    assert (left["mine"], left["coming"]) == (None, 0)
    unchanged(box, alice, "POST", base + "/leave", "/api/v1/food/shifts/{shift_id}/leave", 409)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"people": 0}, "people"),
        ({"people": "lots"}, "people"),
        ({"people": 2.5}, "people"),
        ({"date": "2027-03-10"}, "date"),
        ({"date": "20/03/2027"}, "date"),
        ({"start": "9.30"}, "start"),
        ({"end": "09:00", "start": "09:30"}, "end"),
        ({"title": ""}, "title"),
        ({"title": ["Sorting"]}, "title"),
    ],
)
def test_a_bad_shift_is_refused_by_field(box, olive, bank, change, field):
    path = "/api/v1/food/shifts"
    body = unchanged(box, olive, "POST", path, path, 400, json={**SHIFT, "org": bank, **change})
    assert field in body["fields"], body


def test_only_organisers_plan_and_cancel_shifts(box, olive, alice, visitor, bank, shift):
    path = "/api/v1/food/shifts"
    assert (
        "Only an organiser"
        in unchanged(box, alice, "POST", path, path, 403, json={**SHIFT, "org": bank})["error"]
    )
    unchanged(box, visitor, "POST", path, path, 401, json={**SHIFT, "org": bank})
    unchanged(box, olive, "POST", path, path, 404, json={**SHIFT, "org": "nope"})
    unchanged(box, olive, "POST", path, path, 415, data={**SHIFT, "org": bank})

    cancel, template = (
        f"/api/v1/food/shifts/{shift}/cancel",
        "/api/v1/food/shifts/{shift_id}/cancel",
    )
    unchanged(box, alice, "POST", cancel, template, 403, json={"reason": "Rain"})
    assert "reason" in unchanged(box, olive, "POST", cancel, template, 400, json={})["fields"]
    assert (
        "reason"
        in unchanged(box, olive, "POST", cancel, template, 400, json={"reason": 3})["fields"]
    )
    unchanged(
        box, olive, "POST", "/api/v1/food/shifts/nope/cancel", template, 404, json={"reason": "x"}
    )

    done = assert_documented(
        olive.post(cancel, json={"reason": "The van broke down"}), "POST", template
    )
    assert (done["cancelled"], done["cancel_reason"]) == (True, "The van broke down")
    unchanged(box, olive, "POST", cancel, template, 409, json={"reason": "Again"})
    join = f"/api/v1/food/shifts/{shift}/join"
    assert (
        "cancelled"
        in unchanged(box, alice, "POST", join, "/api/v1/food/shifts/{shift_id}/join", 409)["error"]
    )
    unchanged(box, visitor, "POST", join, "/api/v1/food/shifts/{shift_id}/join", 401)


# --- staff: organisations and the catalogue -----------------------------------------------------


def test_staff_add_organisations_and_items_signed_in_on_the_box(box, admin_client, items):
    staff = session_api(admin_client)
    response = staff.post(
        "/api/v1/food/orgs", json={"name": "St Mark's Pantry", "type": "group", "place": "Crypt"}
    )
    created = assert_documented(response, "POST", "/api/v1/food/orgs")
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/food/orgs/{created['id']}"
    shown = staff.get(response.headers["Location"]).get_json()
    assert (shown["org"]["name"], shown["org"]["type_label"]) == (
        "St Mark's Pantry",
        "Community group",
    )

    response = staff.post(
        "/api/v1/food/items", json={"name": "Coffee", "category": "drinks", "unit": "packs"}
    )
    assert assert_documented(response, "POST", "/api/v1/food/items")["id"]
    assert response.status_code == 201
    assert "Coffee" in [i["name"] for i in staff.get("/api/v1/food/items").get_json()["items"]]


STAFF_REFUSALS = [
    ("/api/v1/food/orgs", {"name": "", "type": "foodbank", "place": "Hall"}, "name"),
    (
        "/api/v1/food/orgs",
        {"name": "Millbrook Food Bank", "type": "foodbank", "place": "x"},
        "name",
    ),
    ("/api/v1/food/orgs", {"name": "Pantry", "type": "cafe", "place": "Hall"}, "type"),
    ("/api/v1/food/orgs", {"name": "Pantry", "type": "group", "place": 7}, "place"),
    ("/api/v1/food/items", {"name": "Rice", "category": "dry", "unit": "kg"}, "name"),
    ("/api/v1/food/items", {"name": "Oats", "category": "cereal", "unit": "kg"}, "category"),
    ("/api/v1/food/items", {"name": "Oats", "category": "dry", "unit": "sacks"}, "unit"),
]


@pytest.mark.parametrize(("path", "body", "field"), STAFF_REFUSALS)
def test_bad_staff_input_is_refused_by_field(box, admin_client, bank, items, path, body, field):
    refusal = unchanged(box, session_api(admin_client), "POST", path, path, 400, json=body)
    assert field in refusal["fields"]


@pytest.mark.parametrize("path", ["/api/v1/food/orgs", "/api/v1/food/items"])
def test_staff_routes_refuse_tokens_members_and_visitors(
    box, client, admin_client, alice, visitor, path
):
    body = {"name": "Pantry", "type": "group", "place": "Hall", "category": "dry", "unit": "kg"}
    # The admin's own token: staff work needs signing in on the box.
    with_token = ApiClient(client, token_for(box, ADMIN))
    refusal = unchanged(box, with_token, "POST", path, path, 403, json=body)
    assert "personal token cannot be used for staff work" in refusal["error"]
    assert "staff" in unchanged(box, alice, "POST", path, path, 403, json=body)["error"]
    unchanged(box, visitor, "POST", path, path, 401, json=body)
    unchanged(box, session_api(admin_client), "POST", path, path, 415, data=body)


def test_a_session_post_without_its_csrf_token_is_refused(box, admin_client):
    no_csrf = ApiClient(admin_client.client)
    body = {"name": "Pantry", "type": "group", "place": "Hall"}
    unchanged(box, no_csrf, "POST", "/api/v1/food/orgs", "/api/v1/food/orgs", 400, json=body)


# --- the whole area: balance, trends, appeal ------------------------------------------------------


def test_the_balance_matches_a_supply_with_a_need(client, olive, need, supply, bank, shop):
    body = assert_documented(
        ApiClient(client).get("/api/v1/food/balance"), "GET", "/api/v1/food/balance"
    )
    [match] = body["matches"]
    assert match["amount"] == 6 and match["mine"] is False
    assert (match["supply"]["org"]["id"], match["need"]["org"]["id"]) == (shop, bank)
    assert (
        match["sentence"]
        == "Corner Shop has 6 × Baked beans on offer; Millbrook Food Bank needs 10."
    )
    tins = next(c for c in body["categories"] if c["category"] == "tins")
    assert tins["label"] == "Tins and jars"
    assert tins["units"] == [{"unit": "items", "needed": 10, "on_offer": 6, "balance": -4}]
    mine = assert_documented(
        olive.get(f"/api/v1/food/balance?org={bank}"), "GET", "/api/v1/food/balance"
    )
    assert mine["org"]["id"] == bank and mine["matches"][0]["mine"] is True


def test_trends_suppress_a_figure_from_fewer_than_three_posts(box, client, olive, bank, items):
    api = ApiClient(client)

    def this_week():
        body = assert_documented(
            api.get("/api/v1/food/trends?category=tins"), "GET", "/api/v1/food/trends"
        )
        assert body["category"] == "tins" and body["min_count"] == 3
        return body["weeks"][-1]["demand"]

    assert this_week() == {"value": 0, "suppressed": False}  # nothing at all singles nobody out
    for n, qty in enumerate((4, 5, 6)):
        olive.post(
            "/api/v1/food/needs",
            json=need_body(
                bank, items, title=f"Tins {n}", lines=[{"item": items["Soup"], "qty": qty}]
            ),
        )
        if n < 2:
            assert this_week() == {"value": None, "suppressed": True}
    assert this_week() == {"value": 15, "suppressed": False}
    everything = assert_documented(api.get("/api/v1/food/trends"), "GET", "/api/v1/food/trends")
    assert everything["category"] == "all" and len(everything["weeks"]) == 12
    assert [d["label"] for d in everything["labour"]][:2] == ["Monday", "Tuesday"]


def test_the_appeal_gives_the_ready_text(client, need):
    body = assert_documented(
        ApiClient(client).get("/api/v1/food/appeal"), "GET", "/api/v1/food/appeal"
    )
    assert body["text"].startswith("Millbrook Food Bank needs: 10 × Baked beans, 5 packs of Pasta.")
    assert body["headline"] == "Most needed: 10 × Baked beans, 5 packs of Pasta"
    assert [e["missing"] for e in body["most_needed"]] == [10, 5]


# --- privacy -------------------------------------------------------------------------------


def test_public_answers_name_nobody(box, client, alice, need, supply, shift, items, bank):
    """Pledgers, claimers and volunteers are named only to organisers: never to a visitor."""
    alice.post(f"/api/v1/food/posts/{need}/pledges", json={"item": items["Pasta"], "qty": 2})
    alice.post(f"/api/v1/food/shifts/{shift}/join")
    api = ApiClient(client)
    personal = ["Alice Member", "Olive Organiser", "Sid Shopkeeper", ADMIN]
    personal += [member_id(name) for name in personal]
    for path in [
        "/api/v1/food/orgs",
        f"/api/v1/food/orgs/{bank}",
        "/api/v1/food/items",
        "/api/v1/food/needs",
        "/api/v1/food/supplies",
        "/api/v1/food/shifts",
        f"/api/v1/food/shifts/{shift}",
        "/api/v1/food/balance",
        "/api/v1/food/trends",
        "/api/v1/food/appeal",
    ]:
        response = api.get(path)
        assert response.status_code == 200, path
        assert_documented(response)
        text = json.dumps(response.get_json(), ensure_ascii=False)
        for value in personal:
            assert value not in text, (path, value)
