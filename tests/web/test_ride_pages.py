"""Riders' pages: my rides, asking for a ride (for yourself, or as staff for someone at
the desk), a ride's page at each viewer's level, and cancelling journeys."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from pagetools import (
    ADMIN,
    START_MS,
    Browser,
    Page,
    actor,
    flash_of,
    form_values,
    member_id,
    record_count,
    recordmaker,
)

from appliance.models import Ride
from appliance.sealing import seal_for
from appliance.services import members

# The box's clock: Wednesday 2027-03-17 12:00 UTC (noon in London, GMT until 28 March).
RIDE = {
    "from_address": "12 Mill Lane, Millbrook MB1 2AB",
    "to_address": "City Hospital, Outpatients, Station Road",
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "date": "2027-03-23",  # a Tuesday
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "none",
    "return_at": "12:00",
    "passengers": "1",
    "notes": "Ring the bell twice",
}
SECRETS = ("Mill Lane", "Outpatients", "Ring the bell")
CAR = {"seats": 3, "wheelchair": False, "folded_chair": True, "dogs": False}
VAN = {"seats": 6, "wheelchair": True, "folded_chair": True, "dogs": True}
NOT_HERE = "There is nothing at this address."


def send(browser: Browser, page: Page, fields: dict):
    """Submit the page's main form with fields changed; a list value ticks several boxes."""
    form = page.form()
    body: dict[str, list[str]] = {}
    for name, value in form_values(form):
        if name not in fields:
            body.setdefault(name, []).append(value)
    for name, value in fields.items():
        body[name] = value if isinstance(value, list) else [value]
    return browser.client.post(form.attrs["action"], data=body, headers=browser.headers)


def ask(browser: Browser, status: int = 302, **changes) -> str | Page:
    """Ask for a ride through the form; return its id (or the page, when refused)."""
    page = browser.get("/rides/new")
    response = send(browser, page, {**RIDE, **changes})
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    if status != 302:
        return Page(response)
    match = re.fullmatch(r"/rides/([0-9a-f]{64})", urlsplit(response.headers["Location"]).path)
    assert match, response.headers["Location"]
    return match.group(1)


def vouch(box, name: str, vehicle=CAR, expires="2028-01-31") -> None:
    """Record the admin's vouch for a driver, as the staff pages do (driver.vouched)."""
    check = {"check": "licence", "label": "Driving licence seen", "seen": "2026-06-01"}
    body = {"checks": [{**check, "expires": expires}], "vehicle": vehicle}
    box.log.append("driver.vouched", body, subject=member_id(name), author=member_id(ADMIN))


def facts(page: Page) -> dict[str, str]:
    """Return the ride's facts list as {term: description}."""
    found, term = {}, None
    for node in page.one("dl", class_="facts").children:
        if getattr(node, "tag", None) == "dt":
            term = node.text()
        elif getattr(node, "tag", None) == "dd":
            found[term] = node.text()
    return found


def nav_links(page: Page) -> list[str]:
    return [a.text() for a in page.one("nav", aria_label="Main").find_all("a")]


# --- the nav and signing in ----------------------------------------------------------------


def test_rides_are_in_the_nav_only_for_members(browser, alice):
    assert "Rides" not in nav_links(browser.get("/"))
    assert "Rides" in nav_links(alice.get("/"))
    for url in ("/rides", "/rides/new"):
        response = browser.client.get(url)
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"


# --- asking for a ride ---------------------------------------------------------------------


def test_a_member_asks_for_a_ride_and_follows_it(alice, box):
    page = alice.get("/rides/new")
    assert page.one("h1").text() == "Ask for a ride"
    assert page.controls("rider") == []  # only staff ask for someone else
    needs = [n.attrs["value"] for n in page.find_all("input", name="needs")]
    assert needs[:3] == ["wheelchair-stays", "wheelchair-transfers", "assistance-dog"]
    before = record_count(box)
    ride_id = ask(alice, needs=["hard-of-hearing", "door-to-door"])
    assert record_count(box) == before + 2
    page = alice.get(f"/rides/{ride_id}")
    assert flash_of(page) == "Your ride is asked for. You can follow each journey here."
    text = page.text()
    assert page.one("h1").text() == "From Millbrook to City Hospital"
    for shown in (*SECRETS, "Hard of hearing, Needs help to the door", "Back at 12:00"):
        assert shown in text
    assert "Tue 23 Mar at 09:30 (the pickup time)" in text
    journey = page.one("ul", class_="journeys").one("li")
    assert "Asked for: looking for a driver" in journey.text()
    listing = alice.get("/rides")
    card = listing.one("section", id=f"ride-{ride_id}")
    assert "From Millbrook to City Hospital" in card.text()
    assert "Tue 23 Mar" in card.one("ul", class_="journeys").text()


def test_a_regular_ride_with_days_and_a_last_day(alice, box):
    ride_id = ask(alice, repeat="fortnightly", days=["TU", "TH"], until="2027-04-30")
    ride = Ride.get_by_id(ride_id)
    assert ride.rrule.startswith("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20270430T")
    page = alice.get(f"/rides/{ride_id}")
    assert "Every 2 weeks on Tuesday, Thursday at 09:30, from Tue 23 Mar, until Fri 30 Apr" in (
        page.text()
    )
    dates = [li.one("strong").text() for li in page.one("ul", class_="journeys").find_all("li")]
    assert dates == ["Tue 23 Mar", "Thu 25 Mar", "Tue 6 Apr", "Thu 8 Apr"]


def test_bad_input_is_shown_beside_each_field_and_kept(alice, box):
    before = record_count(box)
    page = ask(
        alice,
        status=400,
        date="2027-03-16",
        return_at="08:00",
        passengers="0",
        window="999",
        needs=["hard-of-hearing", "jetpack"],
        repeat="weeks",
        weeks="",
        from_area="",
        notes="n" * 501,
    )
    assert record_count(box) == before
    assert page.one(role="alert").text() == "Please check the highlighted answers below."
    assert page.error_for("date") == "That time has already passed: please choose a later one."
    assert page.error_for("return_at") == (
        "The return must be after the outbound time, on the same day."
    )
    assert page.error_for("passengers") == (
        "Please give the number of people travelling, from 1 to 8."
    )
    assert page.error_for("window") == "Please give a number of minutes from 0 to 240."
    assert page.error_for("needs") == "Please choose access needs from the centre's list."
    assert page.error_for("weeks") == "Please give a number of weeks from 1 to 12."
    assert page.error_for("from_area").startswith("Please name the area")
    assert page.error_for("notes") == "Please keep the notes under 500 characters."
    assert page.error_for("to_area") is None
    # The error is tied to its control for screen readers, and what was typed stays.
    date = page.field("date")
    assert "e-date" in date.attrs["aria-describedby"].split()
    assert date.attrs["aria-invalid"] == "true"
    assert page.field("from_address").attrs["value"] == RIDE["from_address"]
    assert page.field("return_at").attrs["value"] == "08:00"
    assert page.one("input", name="repeat", value="weeks").attrs.get("checked") is not None
    group = page.one("input", name="needs", value="hard-of-hearing").closest("fieldset")
    assert group.one("legend").text() == "Anything the driver should know?"
    assert "e-needs" in group.attrs["aria-describedby"].split()
    ticked = [n.attrs["value"] for n in group.find_all("input", checked=True)]
    assert ticked == ["hard-of-hearing"]


def test_every_control_on_the_form_has_a_label(staff_client, box):
    vouch(box, "Sam Staff")  # so the regular driver list shows too
    page = staff_client.get("/rides/new")
    labelled = {label.attrs.get("for") for label in page.find_all("label")}
    for control in page.one("main").find_all():
        if control.tag not in ("input", "select", "textarea"):
            continue
        if control.attrs.get("type") in ("hidden",):
            continue
        wrapped = control.closest("label") is not None
        assert wrapped or control.attrs.get("id") in labelled, control
    assert page.find("select", name="regular_driver") is not None


def test_staff_ask_for_someone_at_the_desk(staff_client, alice, box):
    alice_id = member_id("Alice")
    page = staff_client.get(f"/rides/new?for={alice_id}")
    picker = page.field("rider")
    assert picker.value() == alice_id
    assert "Alice" in [o.text() for o in picker.find_all("option")]
    ride_id = ask(staff_client, rider=alice_id)
    ride = Ride.get_by_id(ride_id)
    assert (ride.rider, ride.author) == (alice_id, member_id("Sam Staff"))
    card = alice.get("/rides").one("section", id=f"ride-{ride_id}")
    assert "For " not in card.text()
    page = alice.get(f"/rides/{ride_id}")
    assert "Alice (asked for by Sam Staff)" in page.text()
    staff_card = staff_client.get("/rides").one("section", id=f"ride-{ride_id}")
    assert "For Alice" in staff_card.text()


def test_a_member_cannot_ask_for_someone_else(alice, bob, box):
    before = record_count(box)
    page = ask(alice, status=403, rider=member_id("Bob"))
    assert page.one(role="alert").text() == (
        "Only the centre's staff can ask for a ride for someone else."
    )
    assert record_count(box) == before


def test_the_regular_driver_choice_lists_authorised_drivers(alice, new_browser, box):
    new_browser("Dan")
    new_browser("Lou")
    vouch(box, "Dan")
    vouch(box, "Lou", expires="2027-03-01")  # lapsed
    page = alice.get("/rides/new")
    options = [o.text() for o in page.field("regular_driver").find_all("option")]
    assert options == ["Any driver", "Dan"]
    ride_id = ask(alice, regular_driver=member_id("Dan"))
    page = alice.get(f"/rides/{ride_id}")
    assert "Offered to the regular driver first" in page.one("ul", class_="journeys").text()
    before = record_count(box)
    page = ask(alice, status=400, regular_driver=member_id("Lou"))
    assert page.error_for("regular_driver") == "Please choose a driver authorised by the centre."
    assert record_count(box) == before


# --- who sees a ride -----------------------------------------------------------------------


@pytest.fixture
def wheelchair_ride(alice, box) -> str:
    return ask(alice, needs=["wheelchair-stays"], passengers="2")


def test_a_ride_page_at_each_level(wheelchair_ride, alice, bob, browser, new_browser, box):
    admin = actor(box, ADMIN)
    cora = new_browser("Cora")
    members.grant_role(box, admin, member_id("Cora"), "coordinator")
    vera, dan, lou = new_browser("Vera"), new_browser("Dan"), new_browser("Lou")
    vouch(box, "Vera", VAN)
    vouch(box, "Dan", CAR)  # no room for a wheelchair user in the chair
    vouch(box, "Lou", VAN, expires="2027-03-16")  # lapsed yesterday
    staff = new_browser("Sid")
    members.grant_role(box, admin, member_id("Sid"), "staff")
    url = f"/rides/{wheelchair_ride}"

    for who in (alice, cora, staff):
        page = who.get(url)
        assert all(s in page.text() for s in SECRETS), who
        assert facts(page)["Access needs"] == "Wheelchair user, stays in the chair"
        assert facts(page)["Rider"] == "Alice"

    seen = vera.get(url)
    text = seen.text()
    assert "From Millbrook to City Hospital" in text and "09:30" in text
    assert facts(seen)["People travelling"] == "2"
    assert set(facts(seen)) == {"When", "Can wait", "Return", "People travelling"}
    assert not any(s in seen.html for s in SECRETS)
    assert "Wheelchair user" not in text
    assert "Alice" not in text
    assert seen.find("form", action=f"{url}/cancel") is None

    for who in (bob, browser, dan, lou):
        who.get("/")  # shows any flash still waiting from signing up
        page = who.get(url, status=404)
        unknown = who.get("/rides/" + "0" * 64, status=404)
        assert page.one(role="alert").text() == NOT_HERE
        assert page.one("main").text() == unknown.one("main").text()
        assert not any(s in page.html for s in (*SECRETS, "Millbrook"))


def test_a_ride_never_shows_on_the_board(wheelchair_ride, alice, browser):
    for page in (browser.get("/"), alice.get("/"), browser.get("/food")):
        assert "Millbrook" not in page.html
        assert wheelchair_ride not in page.html


# --- cancelling ----------------------------------------------------------------------------


def test_the_rider_cancels_one_journey_from_the_list_then_the_whole_ride(alice, box):
    ride_id = ask(alice, repeat="weekly", days=["TU"])
    listing = alice.get("/rides")
    card = listing.one("section", id=f"ride-{ride_id}")
    forms = card.find_all("form", method="post")
    assert [f.one("input", name="date").attrs["value"] for f in forms] == [
        "2027-03-23",
        "2027-03-30",
        "2027-04-06",
        "2027-04-13",
    ]
    assert forms[1].one("button").text() == "Cancel the journey on Tue 30 Mar"
    before = record_count(box)
    response = alice.submit(listing, form=forms[1])
    assert record_count(box) == before + 1
    assert response.headers["Location"].endswith(f"/rides#ride-{ride_id}")
    page = alice.follow(response)
    assert flash_of(page) == "That journey is cancelled."
    states = [
        li.one("span", class_="status").text()
        for li in page.one("section", id=f"ride-{ride_id}").find_all("li")
    ]
    assert states[:2] == ["Asked for: looking for a driver", "Cancelled"]

    ride_page = alice.get(f"/rides/{ride_id}")
    response = alice.submit(
        ride_page, action=f"/rides/{ride_id}/cancel", data={"reason": "Feeling better"},
        containing="Cancel every journey",
    )  # fmt: skip
    page = alice.follow(response)
    assert flash_of(page) == (
        "The whole ride is cancelled: nobody will come for any of its journeys."
    )
    assert "This ride is cancelled Feeling better" in page.text()
    assert page.find("form", action=f"/rides/{ride_id}/cancel") is None


def test_cancelling_twice_or_badly_shows_why(alice, bob, box):
    ride_id = ask(alice)
    url = f"/rides/{ride_id}/cancel"
    page = alice.get(f"/rides/{ride_id}")
    response = alice.submit(
        page, action=url, data={"reason": "r" * 501}, containing="Cancel every journey"
    )
    assert response.status_code == 400
    assert Page(response).error_for("reason") == "Please keep the reason under 500 characters."
    before = record_count(box)
    response = alice.post(url, {"date": "2027-03-24"}, via=f"/rides/{ride_id}")
    assert response.status_code == 400
    assert "The ride has no journey on that day." in Page(response).one(role="alert").text()
    response = bob.post(url, {}, via="/rides")
    assert response.status_code == 404
    assert record_count(box) == before
    assert alice.post(url, {}, via=f"/rides/{ride_id}").status_code == 302
    response = alice.post(url, {}, via=f"/rides/{ride_id}")
    assert response.status_code == 409
    assert Page(response).one(role="alert").text() == "This ride is already cancelled."
    assert record_count(box) == before + 1


# --- caching, another centre's rides, rules from elsewhere --------------------------------


def neighbour_ride(box, rider: str, rrule: str | None = None) -> str:
    """Ingest a ride asked for at a trusted neighbouring centre, sealed to this box too."""
    maker = recordmaker()
    east = maker.Origin("East Centre", start_ms=START_MS)
    box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
    private = {"from_address": "9 Elm Row", "to_address": "Oak Surgery", "notes": "Key safe 1234"}
    body = maker.ride_body(rider, start="2027-03-23T09:30", rrule=rrule, needs=["hard-of-hearing"])
    asked = east.make("ride.requested", body, author=rider)
    sealed = east.make(
        "ride.addresses", {"sealed": seal_for(box, private)}, subject=asked.id, author=rider
    )
    assert box.log.ingest([asked.line, sealed.line]).ok
    return asked.id


def test_ride_pages_are_never_cached(alice, bob, box):
    ride_id = ask(alice)
    for url in ("/rides", "/rides/new", f"/rides/{ride_id}"):
        response = alice.client.get(url, headers=alice.headers)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    response = bob.client.get(f"/rides/{ride_id}", headers=bob.headers)
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"


def test_the_form_says_who_sees_the_addresses(alice):
    page = alice.get("/rides/new")
    hints = (page.one("p", id="h-from_address").text(), page.one("p", id="h-notes").text())
    for hint in hints:
        assert "Only the driver who takes the journey and this centre's staff and" in hint


def test_another_centres_ride_shows_its_staff_the_area_and_time_only(staff_client, box):
    ride_id = neighbour_ride(box, "a" * 64)
    page = staff_client.get(f"/rides/{ride_id}")
    text = page.text()
    assert page.one("h1").text() == "From Millbrook to City Hospital"
    assert "This ride was asked for at another centre." in text
    for secret in ("Elm Row", "Oak Surgery", "Key safe", "Hard of hearing", "Rider"):
        assert secret not in text
    assert page.find("form", action=f"/rides/{ride_id}/cancel") is None
    before = record_count(box)
    response = staff_client.post(f"/rides/{ride_id}/cancel", {}, via=f"/rides/{ride_id}")
    assert response.status_code == 403
    assert "Only the rider or the centre's staff can cancel a ride." in Page(response).text()
    assert record_count(box) == before
    assert f"/rides/{ride_id}" not in staff_client.get("/rides").text()


ODD_RULES = [
    # (rule from another centre, its first journeys the rider's page lists)
    ("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3", ["Wed 31 Mar"]),
    ("FREQ=DAILY;INTERVAL=52", ["Tue 23 Mar"]),
    ("FREQ=WEEKLY;BYDAY=TU;UNTIL=20280101", ["Tue 23 Mar", "Tue 30 Mar", "Tue 6 Apr"]),
    ("FREQ=WEEKLY;BYDAY=TU;UNTIL=20270330", ["Tue 23 Mar", "Tue 30 Mar"]),
    # Ended before it began: no journeys, so not in the list, but its page still works.
    ("FREQ=WEEKLY;BYDAY=TU;UNTIL=20270101", []),
]


@pytest.mark.parametrize(("rule", "dates"), ODD_RULES)
def test_a_neighbours_ride_with_an_odd_rule_still_has_its_pages(
    alice, staff_client, box, rule, dates
):
    ride_id = neighbour_ride(box, member_id("Alice"), rrule=rule)
    card = alice.get("/rides").find("section", id=f"ride-{ride_id}")
    assert (card is not None) == bool(dates)
    page = alice.get(f"/rides/{ride_id}")
    assert page.one("h1").text() == "From Millbrook to City Hospital"
    assert "9 Elm Row" in page.text()
    shown = [li.find("strong") for li in page.one("ul", class_="journeys").find_all("li")]
    assert [s.text() for s in shown if s is not None][:3] == dates
    assert "Elm Row" not in staff_client.get(f"/rides/{ride_id}").text()
