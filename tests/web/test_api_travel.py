"""The travel JSON API (/api/v1/rides, /driving, /coordinate): the pages' rules, as JSON.

Rosa asks for a weekly wheelchair ride from Quillford to Zanthorpe Clinic (addresses
"12 Secret Lane" and "99 Hidden Road", notes "door code 4321"). Vera's van can take
it; Carl's car cannot; Lou's checks ran out. Every answer is checked against the OpenAPI
document (web/openapi/travel.yaml). Who may see what is appliance/services/ride_access.py:
a ride someone may not see answers exactly as an id that does not exist.

The box's clock: Wednesday 2027-03-17 12:00 UTC (noon in London, GMT until 28 March).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from apitools import ApiClient, assert_documented, session_api, token_for
from pagetools import ADMIN, DAY_MS, PASSWORD, actor, member_id, record_count

from appliance.models import Journey, Ride
from appliance.services import accounts, members, rides, travel_lists

HOUR_MS = 3_600_000
RIDE = {
    "from_address": "12 Secret Lane",
    "to_address": "99 Hidden Road",
    "from_area": "Quillford",
    "to_area": "Zanthorpe Clinic",
    "date": "2027-03-23",  # next Tuesday
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "weekly",
    "return_at": "12:00",
    "passengers": "1",
    "needs": ["wheelchair-stays"],
    "notes": "door code 4321",
}
FIRST_DATE = "2027-03-23"
RIDER = "Rosa Rider"
SECRETS = ("12 Secret Lane", "99 Hidden Road", "door code 4321")
UNKNOWN = "f" * 64
CAR = {"seats": 3, "wheelchair": False, "folded_chair": True, "dogs": False}
VAN = {"seats": 6, "wheelchair": True, "folded_chair": True, "dogs": True}
PEOPLE = (RIDER, "Mo Member", "Otto Other", "Carl Car", "Lou Lapsed", "Vera Van", "Cora Coord")
# Whoever sees nothing of Rosa's ride: no answer may even say that it exists.
NOBODY = ("visitor", "Mo Member", "Otto Other", "Carl Car", "Lou Lapsed")
NOT_COORDINATOR = "Only the centre's ride coordinators and staff can see this."


@dataclass
class World:
    box: object
    ride: str
    api: dict  # name (or "visitor", "staff") -> ApiClient


def vouch(box, name: str, vehicle: dict, expires: str) -> None:
    """Record the admin's vouch for a driver, as the staff pages do (driver.vouched)."""
    check = {"check": "licence", "label": "Driving licence seen", "seen": "2026-06-01"}
    body = {"checks": [{**check, "expires": expires}], "vehicle": vehicle}
    box.log.append("driver.vouched", body, subject=member_id(name), author=member_id(ADMIN))


@pytest.fixture
def world(box, app, staff_client, new_browser) -> World:
    for name in PEOPLE:
        accounts.sign_up(box, name, PASSWORD)
    members.grant_role(box, actor(box, ADMIN), member_id("Cora Coord"), "coordinator")
    vouch(box, "Vera Van", VAN, "2028-01-31")
    vouch(box, "Carl Car", CAR, "2028-01-31")
    vouch(box, "Lou Lapsed", VAN, "2027-03-01")  # ran out a fortnight ago
    ride = rides.request_ride(box, actor(box, RIDER), RIDE)
    api = {name: ApiClient(app.test_client(), token_for(box, name)) for name in PEOPLE}
    api["visitor"] = ApiClient(app.test_client())
    api["staff"] = session_api(staff_client)  # staff work needs the login, not a token
    # So does a coordinator's (every rider's addresses, paid bookings): tokens leave it out.
    coordinator = new_browser()
    assert coordinator.login("Cora Coord").status_code == 302
    api["Cora Coord"] = session_api(coordinator)
    return World(box, ride, api)


def call(api: ApiClient, method: str, url: str, status: int, **kw):
    """Send a request, check its status and that the answer is as documented; return it."""
    response = api.request(method, url, **kw)
    assert response.status_code == status, (method, url, response.get_data(as_text=True)[:800])
    assert response.headers["Cache-Control"] == "no-store"
    assert_documented(response)
    return response


def body(api: ApiClient, method: str, url: str, status: int = 200, **kw):
    return call(api, method, url, status, **kw).get_json()


def refused(api: ApiClient, method: str, url: str, status: int, box, **kw) -> dict:
    """Send a request that must be refused; check it changed nothing; return the error."""
    before = record_count(box), Ride.select().count(), Journey.select().count()
    found = body(api, method, url, status, **kw)
    assert (record_count(box), Ride.select().count(), Journey.select().count()) == before
    assert found["error"]
    return found


# --- riders ----------------------------------------------------------------------------


def test_a_rider_asks_for_a_ride_and_sees_all_of_it(world):
    otto = world.api["Otto Other"]
    before = record_count(world.box)
    sent = {**RIDE, "passengers": 2, "window": 0, "needs": [], "days": ["TU", "TH"]}
    made = body(otto, "POST", "/api/v1/rides", 201, json=sent)
    assert record_count(world.box) == before + 2  # the request and its sealed addresses
    assert made["level"] == "full" and made["rider"] == "Otto Other"
    assert made["addresses"] == {
        "from_address": "12 Secret Lane",
        "to_address": "99 Hidden Road",
        "notes": "door code 4321",
    }
    assert made["repeat"] == {
        "kind": "weekly",
        "interval": 1,
        "days": ["TU", "TH"],
        "until": None,
        "count": None,
    }
    assert made["passengers"] == 2
    assert [j["date"] for j in made["journeys"][:3]] == ["2027-03-23", "2027-03-25", "2027-03-30"]
    assert made["journeys"][0]["state"] == "requested"
    mine = body(otto, "GET", "/api/v1/rides")["rides"]
    assert [r["id"] for r in mine] == [made["id"]]
    assert mine[0]["for_someone"] is False
    assert body(otto, "GET", f"/api/v1/rides/{made['id']}") == {
        k: v for k, v in made.items() if k != "for_someone"
    }


@pytest.mark.parametrize(
    "sent, fields",
    [
        ({}, {"from_address", "to_address", "from_area", "to_area", "date", "time"}),
        ({**RIDE, "date": "2027-02-30"}, {"date"}),
        ({**RIDE, "date": "2027-03-01"}, {"date"}),  # already past
        ({**RIDE, "time": "25:00"}, {"time"}),
        ({**RIDE, "needs": ["rocket"]}, {"needs"}),
        ({**RIDE, "needs": {"wheelchair-stays": True}}, {"needs"}),
        ({**RIDE, "days": [["TU"]]}, {"days"}),
        ({**RIDE, "passengers": 99}, {"passengers"}),
        ({**RIDE, "repeat": "daily"}, {"repeat"}),
        ({**RIDE, "from_address": {"street": "Secret Lane"}}, {"from_address"}),
        ({**RIDE, "notes": "x" * 501}, {"notes"}),
        ({**RIDE, "return_at": "08:00"}, {"return_at"}),
    ],
)
def test_a_bad_ride_request_says_what_is_wrong_and_changes_nothing(world, sent, fields):
    found = refused(world.api["Otto Other"], "POST", "/api/v1/rides", 400, world.box, json=sent)
    assert fields <= set(found["fields"]), found
    assert all(found["fields"][f] for f in fields)


def test_a_body_that_is_not_a_json_object_is_refused(world):
    otto = world.api["Otto Other"]
    box = world.box
    found = refused(otto, "POST", "/api/v1/rides", 415, box, data="from_area=Quillford")
    assert "JSON" in found["error"]
    found = refused(otto, "POST", "/api/v1/rides", 400, box, json=[RIDE])
    assert set(found["fields"]) == {"body"}
    found = refused(
        otto, "POST", "/api/v1/rides", 400, box, data="{not json", content_type="application/json"
    )
    assert set(found["fields"]) == {"body"}


def test_only_coordinators_and_staff_on_the_box_ask_for_someone_else(world, app, box):
    rosa = member_id(RIDER)
    sent = {**RIDE, "rider": rosa}
    found = refused(world.api["Mo Member"], "POST", "/api/v1/rides", 403, box, json=sent)
    assert found["error"] == "Only the centre's staff can ask for a ride for someone else."
    # A staff member's token carries no staff role; the login does.
    staff_token = ApiClient(app.test_client(), token_for(box, "Sam Staff"))
    refused(staff_token, "POST", "/api/v1/rides", 403, box, json=sent)
    made = body(world.api["staff"], "POST", "/api/v1/rides", 201, json=sent)
    assert made["rider"] == RIDER and made["asked_by"] == "Sam Staff"
    mine = body(world.api["staff"], "GET", "/api/v1/rides")["rides"]
    assert [(r["id"], r["for_someone"]) for r in mine] == [(made["id"], True)]


def test_a_cookie_signed_post_needs_the_csrf_header(world, staff_client, box):
    no_header = ApiClient(staff_client.client)
    found = refused(no_header, "POST", "/api/v1/rides", 400, box, json=RIDE)
    assert "form had expired" in found["error"]


def test_a_visitor_must_sign_in_and_learns_nothing_of_a_ride(world):
    visitor = world.api["visitor"]
    box = world.box
    for url in ("/api/v1/rides", "/api/v1/driving", "/api/v1/coordinate"):
        assert body(visitor, "GET", url, 401)["error"]
    # Refused before any service runs: CSRF (no cookie, no token) or "please sign in".
    before = record_count(box)
    response = visitor.post("/api/v1/rides", json=RIDE)
    assert response.status_code in (400, 401) and response.get_json()["error"]
    assert record_count(box) == before
    assert body(visitor, "GET", f"/api/v1/rides/{world.ride}", 404) == body(
        visitor, "GET", f"/api/v1/rides/{UNKNOWN}", 404
    )


def test_a_revoked_token_is_told_so(world, app, box):
    from appliance.services import api_tokens

    made = api_tokens.create_token(box, actor(box, "Mo Member"), "old tool", 30)
    api_tokens.revoke_token(box, actor(box, "Mo Member"), made["id"])
    old = ApiClient(app.test_client(), made["token"])
    found = refused(old, "POST", "/api/v1/rides", 401, box, json=RIDE)
    assert "revoked" in found["error"]


def test_the_rider_cancels_a_journey_then_the_whole_ride(world):
    rosa, box, url = world.api[RIDER], world.box, f"/api/v1/rides/{world.ride}/cancel"
    found = refused(rosa, "POST", url, 400, box, json={"date": "2027-03-24", "reason": "x"})
    assert found["fields"] == {"date": "The ride has no journey on that day."}
    found = refused(rosa, "POST", url, 400, box, json={"date": FIRST_DATE, "reason": "x" * 501})
    assert set(found["fields"]) == {"reason"}
    before = record_count(box)
    ride = body(rosa, "POST", url, json={"date": FIRST_DATE, "reason": "In hospital"})
    assert record_count(box) == before + 1
    assert ride["journeys"][0]["state"] == "cancelled" and not ride["cancelled"]
    refused(rosa, "POST", url, 409, box, json={"date": FIRST_DATE})
    ride = body(rosa, "POST", url, json={"reason": "Moving away"})
    assert ride["cancelled"] is True and ride["cancel_reason"] == "Moving away"
    found = refused(rosa, "POST", url, 409, box, json={})
    assert found["error"] == "This ride is already cancelled."


# --- who may see the ride --------------------------------------------------------------

# Every route that names a ride, with a body that would make sense for it.
ROUTES = (
    ("GET", "/api/v1/rides/{ride}", None),
    ("POST", "/api/v1/rides/{ride}/cancel", {"date": FIRST_DATE, "reason": "No longer needed"}),
    ("POST", "/api/v1/rides/{ride}/cancel", {}),
    ("POST", "/api/v1/driving/{ride}/take", {"date": FIRST_DATE}),
    ("POST", "/api/v1/driving/{ride}/take", {"every": True}),
    ("POST", "/api/v1/driving/{ride}/take", {"date": "2027-03-24"}),  # not one of its days
    ("POST", "/api/v1/driving/{ride}/hand-back", {"date": FIRST_DATE}),
    ("POST", "/api/v1/driving/{ride}/hand-back", {"every": True}),
    ("POST", "/api/v1/driving/{ride}/start", {"date": FIRST_DATE}),
    ("POST", "/api/v1/driving/{ride}/done", {"date": FIRST_DATE, "miles": 12}),
    ("POST", "/api/v1/coordinate/{ride}/paid", {"date": FIRST_DATE, "provider": "x", "cost": 9}),
)


def _same_answers_for_the_ride_and_no_ride(w: World) -> None:
    for who in NOBODY:
        api = w.api[who]
        for method, template, sent in ROUTES:
            kw = {} if sent is None else {"json": sent}
            before = record_count(w.box)
            real = api.request(method, template.format(ride=w.ride), **kw)
            made_up = api.request(method, template.format(ride=UNKNOWN), **kw)
            assert record_count(w.box) == before, (who, template)
            assert real.status_code >= 400, (who, template, real.status_code)
            assert (real.status_code, real.get_json()) == (
                made_up.status_code,
                made_up.get_json(),
            ), (who, template, sent)
            assert_documented(real)
            text = real.get_data(as_text=True)
            for secret in (*SECRETS, "Quillford", "Zanthorpe", RIDER):
                assert secret not in text, (who, template, secret)


def test_before_anyone_takes_it_nobody_else_can_tell_the_ride_exists(world):
    _same_answers_for_the_ride_and_no_ride(world)


def test_after_a_driver_takes_it_nobody_else_can_tell_the_ride_exists(world):
    body(world.api["Vera Van"], "POST", f"/api/v1/driving/{world.ride}/take", json={"every": True})
    _same_answers_for_the_ride_and_no_ride(world)


def test_the_drivers_who_cannot_take_it_are_told_why_without_the_ride(world):
    carl = body(world.api["Carl Car"], "GET", "/api/v1/driving")
    assert world.ride not in {j["ride"] for j in carl["open"]}  # a car without wheelchair room
    lou = body(world.api["Lou Lapsed"], "GET", "/api/v1/driving", 403)
    assert lou["error"] == "Your driver checks ran out on 1 March 2027: see the centre's staff."
    mo = body(world.api["Mo Member"], "GET", "/api/v1/driving", 403)
    assert mo["error"].startswith("Only volunteer drivers whose checks the centre's staff")


GETS = ("/api/v1/rides", "/api/v1/rides/{ride}", "/api/v1/driving", "/api/v1/coordinate")


def _who_reads_the_addresses(w: World) -> set[str]:
    """Return everyone who finds the addresses or notes in some travel GET answer."""
    readers = set()
    for who, api in w.api.items():
        for template in GETS:
            text = api.get(template.format(ride=w.ride)).get_data(as_text=True)
            if any(secret in text for secret in SECRETS):
                readers.add(who)
            elif who in (RIDER, "staff", "Cora Coord") and template == "/api/v1/rides/{ride}":
                raise AssertionError(f"{who} should see the addresses")
    return readers


def test_addresses_reach_only_the_rider_staff_coordinators_and_the_driver(world):
    assert _who_reads_the_addresses(world) == {RIDER, "staff", "Cora Coord"}
    body(world.api["Vera Van"], "POST", f"/api/v1/driving/{world.ride}/take", json={"every": True})
    assert _who_reads_the_addresses(world) == {RIDER, "staff", "Cora Coord", "Vera Van"}


# --- drivers ---------------------------------------------------------------------------


def test_a_suitable_driver_sees_the_area_takes_a_journey_and_hands_it_back(world):
    vera, box, ride = world.api["Vera Van"], world.box, world.ride
    seen = body(vera, "GET", f"/api/v1/rides/{ride}")
    assert seen["level"] == "area" and (seen["from_area"], seen["time"]) == ("Quillford", "09:30")
    assert not {"addresses", "rider", "needs", "regular_driver"} & set(seen)
    page = body(vera, "GET", "/api/v1/driving")
    offered = [j for j in page["open"] if j["ride"] == ride]
    assert offered[0]["date"] == FIRST_DATE and offered[0]["take_series"] is True
    assert "addresses" not in offered[0] and page["mine"] == []
    before = record_count(box)
    taken = body(vera, "POST", f"/api/v1/driving/{ride}/take", json={"date": FIRST_DATE})
    assert taken == {"ride": ride, "date": FIRST_DATE}
    assert record_count(box) == before + 1
    found = refused(
        vera, "POST", f"/api/v1/driving/{ride}/take", 409, box, json={"date": FIRST_DATE}
    )
    assert found["error"] == "This journey is already yours."
    [mine] = body(vera, "GET", "/api/v1/driving")["mine"]
    assert mine["addresses"]["from_address"] == "12 Secret Lane" and mine["rider"] == RIDER
    assert mine["needs"][0]["slug"] == "wheelchair-stays"
    assert mine["can"]["hand_back"] is True and mine["can"]["start"] is False
    assert body(vera, "GET", f"/api/v1/rides/{ride}")["level"] == "full"
    # Rosa sees who is coming.
    journey = body(world.api[RIDER], "GET", f"/api/v1/rides/{ride}")["journeys"][0]
    assert (journey["state"], journey["driver"]) == ("driver_found", "Vera Van")
    back = body(vera, "POST", f"/api/v1/driving/{ride}/hand-back", json={"date": FIRST_DATE})
    assert back == {"ride": ride, "date": FIRST_DATE}
    assert body(vera, "GET", f"/api/v1/rides/{ride}")["level"] == "area"
    found = refused(
        vera, "POST", f"/api/v1/driving/{ride}/hand-back", 403, box, json={"date": FIRST_DATE}
    )
    assert found["error"] == "Only the driver who took this journey can do that."


def test_a_driver_takes_the_series_sets_off_on_the_day_and_says_it_is_done(world, clock):
    vera, box, ride = world.api["Vera Van"], world.box, world.ride
    url = f"/api/v1/driving/{ride}"
    assert body(vera, "POST", f"{url}/take", json={"every": True}) == {"ride": ride, "date": None}
    found = refused(vera, "POST", f"{url}/start", 409, box, json={"date": FIRST_DATE})
    assert found["error"] == "You can set off only on the day of the journey (23 March 2027)."
    clock.advance(5 * DAY_MS + 20 * HOUR_MS)  # Tuesday 08:00 in London
    assert body(vera, "POST", f"{url}/start", json={"date": FIRST_DATE})["date"] == FIRST_DATE
    refused(vera, "POST", f"{url}/start", 409, box, json={"date": FIRST_DATE})
    for miles in ("lots", -3, 2001, 1.5):
        found = refused(
            vera, "POST", f"{url}/done", 400, box, json={"date": FIRST_DATE, "miles": miles}
        )
        assert set(found["fields"]) == {"miles"}, miles
    found = refused(vera, "POST", f"{url}/done", 404, box, json={"date": "2027-03-24"})
    assert found["error"] == "This ride has no journey on that date."
    assert body(vera, "POST", f"{url}/done", json={"date": FIRST_DATE, "miles": 12})
    row = Journey.get((Journey.ride == ride) & (Journey.date == FIRST_DATE))
    assert (row.state, row.miles) == ("done", 12)
    journey = body(world.api[RIDER], "GET", f"/api/v1/rides/{ride}")["journeys"]
    assert [j["state"] for j in journey if j["date"] == FIRST_DATE] == ["done"]


# --- coordinators ----------------------------------------------------------------------


def test_coordinators_and_staff_see_unmet_journeys_and_book_a_paid_service(world):
    cora, box, ride = world.api["Cora Coord"], world.box, world.ride
    unmet = body(cora, "GET", "/api/v1/coordinate")
    first = [j for j in unmet["journeys"] if j["ride"] == ride][0]
    assert (first["date"], first["rider"], first["can_pay"]) == (FIRST_DATE, RIDER, True)
    assert len(unmet["totals"]) == 12 and unmet["providers"] == []
    assert body(world.api["staff"], "GET", "/api/v1/coordinate?days=366")["journeys"]
    for who in ("Mo Member", "Vera Van", RIDER):
        assert body(world.api[who], "GET", "/api/v1/coordinate", 403)["error"] == NOT_COORDINATOR
    app = world.api["visitor"].client.application
    cora_token = ApiClient(app.test_client(), token_for(box, "Cora Coord"))
    assert body(cora_token, "GET", "/api/v1/coordinate", 403)["error"] == NOT_COORDINATOR
    for days in ("0", "367", "soon", "-1"):
        found = body(cora, "GET", f"/api/v1/coordinate?days={days}", 400)
        assert found["fields"] == {"days": "Please choose from 1 to 366 days."}, days
    url = f"/api/v1/coordinate/{ride}/paid"
    paid = {"date": FIRST_DATE, "provider": "millbrook-taxis", "cost": "12.50"}
    found = refused(cora, "POST", url, 400, box, json=paid)
    assert set(found["fields"]) == {"provider"}  # staff have listed no paid service yet
    travel_lists.set_provider(box, actor(box, ADMIN), {"name": "Millbrook Taxis"})
    for cost in ("", "-5", "twelve", "5000", [12]):
        found = refused(cora, "POST", url, 400, box, json={**paid, "cost": cost})
        assert set(found["fields"]) == {"cost"}, cost
    found = refused(cora, "POST", url, 400, box, json={**paid, "reference": "r" * 61})
    assert set(found["fields"]) == {"reference"}
    refused(world.api["Mo Member"], "POST", url, 403, box, json=paid)
    assert body(cora, "POST", url, json=paid) == {"ride": ride, "date": FIRST_DATE}
    row = Journey.get((Journey.ride == ride) & (Journey.date == FIRST_DATE))
    assert (row.state, row.cost, row.provider_name) == ("paid", 1250, "Millbrook Taxis")
    found = refused(cora, "POST", url, 409, box, json=paid)
    assert found["error"] == "This journey is already booked with a paid service."
    journey = body(world.api[RIDER], "GET", f"/api/v1/rides/{ride}")["journeys"][0]
    assert (journey["state"], journey["provider"]) == ("paid", "Millbrook Taxis")
    assert FIRST_DATE not in {
        j["date"] for j in body(cora, "GET", "/api/v1/coordinate")["journeys"]
    }
