"""The staff set-up JSON API (/api/v1/setup/): every operation against
web/openapi/setup.yaml, with the same rules as the staff pages: staff only and signed in
on the box (a token is refused), bad input refused by field with nothing written, and
drivers' data never in a visitor's or a member's answer."""

from __future__ import annotations

import pytest
from apitools import ApiClient, assert_documented, session_api, token_for
from pagetools import ADMIN, actor, member_id, record_count

from appliance.models import Item
from appliance.services import catalogue, drivers, orgs

# The web tests' clock is 2027-03-17 12:00 UTC, so today is 2027-03-17 at the centre.
CHECKS = {
    "licence": {"seen": "2027-01-10", "expires": "2030-01-01"},
    "insurance": {"seen": "2027-03-01", "expires": "2028-02-28"},
    "dbs": {"seen": "2026-05-01", "expires": "2029-05-01"},
}
VEHICLE = {"seats": 4, "wheelchair": False, "folded_chair": True, "dogs": True}
VOUCH = {"checks": CHECKS, "vehicle": VEHICLE}


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def staff(admin_client) -> ApiClient:
    """The admin (staff), signed in on the box: the login cookie and its CSRF token."""
    return session_api(admin_client)


@pytest.fixture
def rice(box) -> str:
    return catalogue.add_item(
        box, actor(box, ADMIN), {"name": "Rice", "category": "dry", "unit": "kg"}
    )


@pytest.fixture
def pasta(box) -> str:
    body = {"name": "Pasta", "category": "dry", "unit": "packs"}
    return catalogue.add_item(box, actor(box, ADMIN), body)


@pytest.fixture
def bank(box) -> str:
    body = {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Hall"}
    return orgs.create_org(box, actor(box, ADMIN), body)


@pytest.fixture
def shop(box) -> str:
    body = {"name": "Corner Shop", "type": "shop", "place": "1 High St"}
    return orgs.create_org(box, actor(box, ADMIN), body)


def ok(box, api: ApiClient, method: str, path: str, template: str, status: int = 200, **kw):
    """Send a request that must succeed with `status` and write one record; return its body."""
    before = record_count(box)
    response = api.request(method, path, **kw)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    body = assert_documented(response, method, template)
    written = record_count(box) - before
    return body, written


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


# --- the item catalogue ---------------------------------------------------------------------


def test_staff_add_the_starter_items_once(box, staff):
    path = "/api/v1/setup/items/starter"
    body, written = ok(box, staff, "POST", path, path)
    assert body["added"] == written == len(catalogue.STARTER_ITEMS)
    assert len(body["items"]) == len(catalogue.STARTER_ITEMS)
    rice = next(i for i in body["items"] if i["name"] == "Rice")
    assert (rice["unit"], rice["category_label"], rice["active"], rice["own"]) == (
        "kg",
        "Dry food (pasta, rice, cereal)",
        True,
        True,
    )
    again, written = ok(box, staff, "POST", path, path)
    assert (again["added"], written, len(again["items"])) == (0, 0, len(catalogue.STARTER_ITEMS))


def test_staff_change_retire_and_bring_back_an_item(box, client, staff, rice):
    path, template = f"/api/v1/setup/items/{rice}", "/api/v1/setup/items/{item_id}"
    change = {"name": "Brown rice", "category": "dry", "unit": "kg"}
    body, written = ok(box, staff, "POST", path, template, json=change)
    assert (body["id"], body["name"], body["active"], written) == (rice, "Brown rice", True, 1)
    assert Item.get_by_id(rice).name == "Brown rice"

    active, active_template = path + "/active", template + "/active"
    body, written = ok(box, staff, "POST", active, active_template, json={"active": False})
    assert (body["active"], body["name"], written) == (False, "Brown rice", 1)
    public = ApiClient(client).get("/api/v1/food/items").get_json()["items"]
    assert "Brown rice" not in [i["name"] for i in public]
    body, written = ok(box, staff, "POST", active, active_template, json={"active": True})
    assert (body["active"], written) == (True, 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "category": "dry", "unit": "kg"}, "name"),
        ({"name": "Pasta", "category": "dry", "unit": "packs"}, "name"),  # another's twin
        ({"name": "Oats", "category": "cereal", "unit": "kg"}, "category"),
        ({"name": "Oats", "category": "dry", "unit": "sacks"}, "unit"),
        ({"name": 7, "category": "dry", "unit": "kg"}, "name"),
    ],
)
def test_a_bad_item_change_is_refused_by_field(box, staff, rice, pasta, body, field):
    path, template = f"/api/v1/setup/items/{rice}", "/api/v1/setup/items/{item_id}"
    refusal = unchanged(box, staff, "POST", path, template, 400, json=body)
    assert field in refusal["fields"]
    assert Item.get_by_id(rice).name == "Rice"


def test_bad_active_flags_and_unknown_items_are_refused(box, staff, rice):
    template = "/api/v1/setup/items/{item_id}/active"
    path = f"/api/v1/setup/items/{rice}/active"
    for body in ({}, {"active": "no"}, {"active": 0}):
        refusal = unchanged(box, staff, "POST", path, template, 400, json=body)
        assert list(refusal["fields"]) == ["active"]
    unchanged(box, staff, "POST", path, template, 415, data="active=0")
    missing = unchanged(box, staff, "POST", "/api/v1/setup/items/nope/active", template, 404)
    assert "no such item" in missing["error"]
    change = {"name": "Oats", "category": "dry", "unit": "kg"}
    unchanged(
        box,
        staff,
        "POST",
        "/api/v1/setup/items/nope",
        "/api/v1/setup/items/{item_id}",
        404,
        json=change,
    )


# --- organisations --------------------------------------------------------------------------


def test_staff_change_and_retire_an_organisation(box, staff, bank, shop):
    path, template = f"/api/v1/setup/orgs/{bank}", "/api/v1/setup/orgs/{org_id}"
    change = {"name": "Millbrook Pantry", "type": "group", "place": "Crypt"}
    body, written = ok(box, staff, "POST", path, template, json=change)
    assert (body["name"], body["type_label"], body["place"], written) == (
        "Millbrook Pantry",
        "Community group",
        "Crypt",
        1,
    )
    assert (body["active"], body["own"], body["people"]) == (True, True, [])

    for bad, field in [
        ({**change, "name": ""}, "name"),
        ({**change, "name": "corner shop"}, "name"),  # this centre has one of that name
        ({**change, "type": "cafe"}, "type"),
        ({**change, "place": ""}, "place"),
        ({**change, "place": 7}, "place"),
    ]:
        assert field in unchanged(box, staff, "POST", path, template, 400, json=bad)["fields"]
    assert orgs.get_org(bank).name == "Millbrook Pantry"

    active = (path + "/active", template + "/active")
    body, written = ok(box, staff, "POST", *active, json={"active": False})
    assert (body["active"], body["name"], written) == (False, "Millbrook Pantry", 1)
    assert orgs.get_org(bank).active is False
    body, written = ok(box, staff, "POST", *active, json={"active": True})
    assert (body["active"], written) == (True, 1)
    assert "active" in unchanged(box, staff, "POST", *active, 400, json={"active": "1"})["fields"]
    unchanged(box, staff, "POST", "/api/v1/setup/orgs/nope", template, 404, json=change)
    unchanged(box, staff, "POST", "/api/v1/setup/orgs/nope/active", template + "/active", 404)


def test_staff_choose_an_organisations_people(box, staff, alice, bank):
    alice_id = member_id("Alice")
    path, template = f"/api/v1/setup/orgs/{bank}/people", "/api/v1/setup/orgs/{org_id}/people"
    body, written = ok(
        box, staff, "POST", path, template, json={"member": alice_id, "role": "organiser"}
    )
    assert body["people"] == [{"id": alice_id, "name": "Alice", "role": "organiser"}]
    assert written == 1 and orgs.is_organiser(actor(box, "Alice"), bank)
    body, written = ok(
        box, staff, "POST", path, template, json={"member": alice_id, "role": "member"}
    )
    assert [p["role"] for p in body["people"]] == ["member"]

    same = unchanged(
        box, staff, "POST", path, template, 409, json={"member": alice_id, "role": "member"}
    )
    assert "Alice already has that place" in same["error"]
    for bad in (
        {"member": alice_id, "role": "boss"},
        {"member": alice_id},
        {"member": alice_id, "role": ""},
    ):
        assert list(unchanged(box, staff, "POST", path, template, 400, json=bad)["fields"]) == [
            "role"
        ]
    nobody = {"member": "nope", "role": "member"}
    assert (
        "no such member" in unchanged(box, staff, "POST", path, template, 404, json=nobody)["error"]
    )

    remove = f"{path}/{alice_id}/remove"
    remove_template = template + "/{member_id}/remove"
    body, written = ok(box, staff, "POST", remove, remove_template)
    assert (body["people"], written) == ([], 1)
    unchanged(box, staff, "POST", remove, remove_template, 409)
    unchanged(box, staff, "POST", f"{path}/nope/remove", remove_template, 404)
    unchanged(
        box,
        staff,
        "POST",
        f"/api/v1/setup/orgs/nope/people/{alice_id}/remove",
        remove_template,
        404,
    )


# --- drivers --------------------------------------------------------------------------------


def test_staff_authorise_list_and_withdraw_a_driver(box, staff, alice, bob):
    alice_id = member_id("Alice")
    listed = assert_documented(staff.get("/api/v1/setup/drivers"), "GET", "/api/v1/setup/drivers")
    assert listed == {"attention": [], "valid": []}
    one, template = f"/api/v1/setup/drivers/{alice_id}", "/api/v1/setup/drivers/{member_id}"
    before = assert_documented(staff.get(one), "GET", template)
    assert (before["name"], before["status"], before["own"], before["authorisation"]) == (
        "Alice",
        None,
        None,
        None,
    )
    assert [c["slug"] for c in before["checks"]] == ["licence", "insurance", "dbs"]

    body, written = ok(box, staff, "POST", one, template, json=VOUCH)
    assert (body["status"], written) == ("valid", 1)
    assert body["own"]["vehicle"] == VEHICLE and body["own"]["valid_to"] == "2028-02-28"
    assert [c["check"] for c in body["own"]["checks"]] == ["licence", "insurance", "dbs"]
    assert drivers.is_authorised(box, actor(box, "Alice"))

    listed = assert_documented(staff.get("/api/v1/setup/drivers"), "GET", "/api/v1/setup/drivers")
    assert [(d["name"], d["status"]) for d in listed["valid"]] == [("Alice", "valid")]
    assert listed["attention"] == []

    withdraw = (one + "/withdraw", template + "/withdraw")
    for bad in ({}, {"reason": " "}, {"reason": "x" * 501}, {"reason": 5}):
        assert list(unchanged(box, staff, "POST", *withdraw, 400, json=bad)["fields"]) == ["reason"]
    body, written = ok(box, staff, "POST", *withdraw, json={"reason": "Moved away"})
    assert written == 1 and body["own"] is None and body["status"] is None
    assert not drivers.is_authorised(box, actor(box, "Alice"))
    again = unchanged(box, staff, "POST", *withdraw, 409, json={"reason": "Moved away"})
    assert "not a driver checked by this centre" in again["error"]
    unchanged(
        box,
        staff,
        "POST",
        f"/api/v1/setup/drivers/{member_id('Bob')}/withdraw",
        withdraw[1],
        409,
        json={"reason": "Never was"},
    )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"checks": {"licence": CHECKS["licence"]}, "vehicle": VEHICLE},
            {"seen-insurance", "expires-insurance", "seen-dbs", "expires-dbs"},
        ),
        (
            {
                "checks": {**CHECKS, "dbs": {"seen": "2026-05-01", "expires": "2027-03-01"}},
                "vehicle": VEHICLE,
            },
            {"expires-dbs"},
        ),
        (
            {
                "checks": {**CHECKS, "dbs": {"seen": "2027-04-01", "expires": "2029-05-01"}},
                "vehicle": VEHICLE,
            },
            {"seen-dbs"},
        ),
        (
            {
                "checks": {**CHECKS, "dbs": {"seen": "1 May", "expires": "2029-05-01"}},
                "vehicle": VEHICLE,
            },
            {"seen-dbs"},
        ),
        ({"checks": {**CHECKS, "pilot": CHECKS["dbs"]}, "vehicle": VEHICLE}, {"checks"}),
        ({"checks": CHECKS, "vehicle": {**VEHICLE, "seats": 9}}, {"seats"}),
        ({"checks": CHECKS, "vehicle": {**VEHICLE, "seats": "4"}}, {"seats"}),
        ({"checks": CHECKS, "vehicle": {**VEHICLE, "dogs": "yes"}}, {"dogs"}),
        ({"checks": CHECKS, "vehicle": 4}, {"vehicle"}),
        ({"checks": ["licence"], "vehicle": VEHICLE}, {"checks"}),
        ({"checks": {"licence": {"seen": 20270110}}, "vehicle": VEHICLE}, {"checks"}),
    ],
)
def test_a_bad_vouch_is_refused_by_field(box, staff, alice, body, fields):
    path = f"/api/v1/setup/drivers/{member_id('Alice')}"
    refusal = unchanged(
        box, staff, "POST", path, "/api/v1/setup/drivers/{member_id}", 400, json=body
    )
    assert set(refusal["fields"]) == fields
    assert not drivers.is_authorised(box, actor(box, "Alice"))


def test_unknown_members_are_not_found(box, staff):
    template = "/api/v1/setup/drivers/{member_id}"
    unchanged(box, staff, "GET", "/api/v1/setup/drivers/nope", template, 404)
    unchanged(box, staff, "POST", "/api/v1/setup/drivers/nope", template, 404, json=VOUCH)
    unchanged(
        box,
        staff,
        "POST",
        "/api/v1/setup/drivers/nope/withdraw",
        template + "/withdraw",
        404,
        json={"reason": "Gone"},
    )


# --- the travel lists -----------------------------------------------------------------------


def test_staff_keep_the_travel_lists(box, staff):
    lists = assert_documented(staff.get("/api/v1/setup/travel"), "GET", "/api/v1/setup/travel")
    assert (len(lists["needs"]), len(lists["checks"]), lists["providers"]) == (7, 3, [])
    assert set(lists["features"]) == {"wheelchair", "folded_chair", "dogs"}

    path = "/api/v1/setup/travel/providers"
    response = staff.post(path, json={"name": "Town Taxis"})
    body = assert_documented(response, "POST", path)
    assert response.status_code == 201 and response.headers["Location"] == "/api/v1/setup/travel"
    assert body["slug"] == "town-taxis"
    assert [(p["name"], p["active"]) for p in body["providers"]] == [("Town Taxis", True)]
    body, written = ok(
        box, staff, "POST", path, path, json={"slug": "town-taxis", "name": "Town Cabs"}
    )
    assert [p["name"] for p in body["providers"]] == ["Town Cabs"] and written == 1
    body, written = ok(box, staff, "POST", path, path, json={"slug": "town-taxis", "active": False})
    assert [(p["name"], p["active"]) for p in body["providers"]] == [("Town Cabs", False)]

    path = "/api/v1/setup/travel/needs"
    body, written = ok(
        box,
        staff,
        "POST",
        path,
        path,
        201,
        json={"label": "Mobility scooter", "requires": "wheelchair"},
    )
    assert {
        "slug": "mobility-scooter",
        "label": "Mobility scooter",
        "requires": "wheelchair",
        "active": True,
    } in body["needs"]
    body, written = ok(
        box, staff, "POST", path, path, json={"slug": "mobility-scooter", "requires": ""}
    )
    scooter = next(n for n in body["needs"] if n["slug"] == "mobility-scooter")
    assert (scooter["requires"], scooter["label"]) == (None, "Mobility scooter")

    path = "/api/v1/setup/travel/checks"
    body, written = ok(box, staff, "POST", path, path, 201, json={"label": "First aid course"})
    assert body["slug"] == "first-aid-course" and len(body["checks"]) == 4
    # The vouch form now asks for the new check too.
    lists = staff.get("/api/v1/setup/travel").get_json()
    assert "first-aid-course" in [c["slug"] for c in lists["checks"] if c["active"]]


@pytest.mark.parametrize(
    ("list_", "body", "field", "status"),
    [
        ("providers", {"name": ""}, "name", 400),
        ("providers", {}, "name", 400),
        ("providers", {"name": "x" * 101}, "name", 400),
        ("needs", {"label": "Assistance dog"}, "label", 400),  # a default of that name
        ("needs", {"label": "Scooter", "requires": "jetpack"}, "requires", 400),
        ("needs", {"label": "Scooter", "active": "yes"}, "active", 400),
        ("needs", {"label": "!!!"}, "label", 400),
        ("checks", {"label": "x" * 61}, "label", 400),
        ("checks", {"label": ["Licence"]}, "label", 400),
        ("checks", {"slug": "licence", "label": "Insurance seen"}, "label", 400),
        ("checks", {"slug": "pilot", "label": "Pilot"}, None, 404),
        ("needs", {"slug": "nope", "active": False}, None, 404),
    ],
)
def test_bad_list_entries_are_refused(box, staff, list_, body, field, status):
    path = f"/api/v1/setup/travel/{list_}"
    refusal = unchanged(box, staff, "POST", path, path, status, json=body)
    if field:
        assert list(refusal["fields"]) == [field]


def test_drivers_keep_at_least_one_check(box, staff):
    path = "/api/v1/setup/travel/checks"
    for slug in ("licence", "insurance"):
        ok(box, staff, "POST", path, path, json={"slug": slug, "active": False})
    refusal = unchanged(box, staff, "POST", path, path, 400, json={"slug": "dbs", "active": False})
    assert "at least one check" in refusal["fields"]["label"]


# --- who may: staff, signed in on the box ---------------------------------------------------


@pytest.fixture
def every_operation(box, alice, rice, bank) -> list[tuple[str, str, str, dict | None]]:
    """(method, path, template, body) of every operation, on real things, with good bodies."""
    alice_id = member_id("Alice")
    item = f"/api/v1/setup/items/{rice}"
    org = f"/api/v1/setup/orgs/{bank}"
    driver = f"/api/v1/setup/drivers/{alice_id}"
    orgs.set_org_role(box, actor(box, ADMIN), bank, alice_id, "member")
    return [
        ("POST", "/api/v1/setup/items/starter", "/api/v1/setup/items/starter", None),
        (
            "POST",
            item,
            "/api/v1/setup/items/{item_id}",
            {"name": "Oats", "category": "dry", "unit": "kg"},
        ),
        ("POST", item + "/active", "/api/v1/setup/items/{item_id}/active", {"active": False}),
        (
            "POST",
            org,
            "/api/v1/setup/orgs/{org_id}",
            {"name": "Pantry", "type": "group", "place": "Crypt"},
        ),
        ("POST", org + "/active", "/api/v1/setup/orgs/{org_id}/active", {"active": False}),
        (
            "POST",
            org + "/people",
            "/api/v1/setup/orgs/{org_id}/people",
            {"member": alice_id, "role": "organiser"},
        ),
        (
            "POST",
            f"{org}/people/{alice_id}/remove",
            "/api/v1/setup/orgs/{org_id}/people/{member_id}/remove",
            None,
        ),
        ("GET", "/api/v1/setup/drivers", "/api/v1/setup/drivers", None),
        ("GET", driver, "/api/v1/setup/drivers/{member_id}", None),
        ("POST", driver, "/api/v1/setup/drivers/{member_id}", VOUCH),
        (
            "POST",
            driver + "/withdraw",
            "/api/v1/setup/drivers/{member_id}/withdraw",
            {"reason": "Gone"},
        ),
        ("GET", "/api/v1/setup/travel", "/api/v1/setup/travel", None),
        ("POST", "/api/v1/setup/travel/needs", "/api/v1/setup/travel/needs", {"label": "Scooter"}),
        (
            "POST",
            "/api/v1/setup/travel/checks",
            "/api/v1/setup/travel/checks",
            {"label": "First aid"},
        ),
        (
            "POST",
            "/api/v1/setup/travel/providers",
            "/api/v1/setup/travel/providers",
            {"name": "Cabs"},
        ),
    ]


def test_every_operation_is_staff_work_on_the_box(
    box, app, browser, alice, admin_client, every_operation
):
    # A driver's details, to be sure no refusal carries them.
    drivers.vouch(
        box,
        actor(box, ADMIN),
        member_id("Alice"),
        {slug: (d["seen"], d["expires"]) for slug, d in CHECKS.items()},
        {"seats": "6"},
    )
    callers = {
        "visitor": (
            ApiClient(browser.client, csrf=browser.token("/signup")),
            401,
            "log in or sign up",
        ),
        "member": (session_api(alice), 403, "Only the centre's staff"),
        "member's token": (
            ApiClient(app.test_client(), token_for(box, "Alice")),
            403,
            "personal token",
        ),
        "staff's token": (
            ApiClient(app.test_client(), token_for(box, ADMIN)),
            403,
            "personal token cannot be used for staff work",
        ),
    }
    for method, path, template, body in every_operation:
        kw = {"json": body} if body is not None else {}
        for who, (api, status, words) in callers.items():
            refusal = unchanged(box, api, method, path, template, status, **kw)
            assert words.lower() in refusal["error"].lower(), (who, path, refusal)
            assert "Alice" not in str(refusal) and "2030-01-01" not in str(refusal), (who, path)
    # A session POST without its CSRF token is refused too.
    no_csrf = ApiClient(admin_client.client)
    for method, path, template, body in every_operation:
        if method == "POST":
            kw = {"json": body} if body is not None else {}
            unchanged(box, no_csrf, method, path, template, 400, **kw)


def test_the_staff_pass_where_the_others_are_refused(box, staff_client, every_operation):
    """The same operations succeed for staff who is not the admin (each writes at most one
    record, reads none)."""
    staff = session_api(staff_client)
    for method, path, template, body in every_operation:
        kw = {"json": body} if body is not None else {}
        status = 201 if path.startswith("/api/v1/setup/travel/") else 200
        answer, written = ok(box, staff, method, path, template, status, **kw)
        expected = 0 if method == "GET" else 1
        if "starter" in path:
            expected = len(catalogue.STARTER_ITEMS) - 1  # Rice was there already
        assert written == expected, (path, written)
