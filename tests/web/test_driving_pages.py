"""The driver's page (/driving), the driver's calendar feed and the coordinator's page
(/coordinate): who gets which page, the forms, their errors beside the field, refusals.

The box's clock: Wednesday 2027-03-17 12:00 UTC (noon in London, GMT until 28 March).
"""

from __future__ import annotations

import pytest
from pagetools import ADMIN, DAY_MS, Browser, Page, actor, flash_of, member_id, record_count

from appliance.models import Journey, Ride
from appliance.services import drivers, members, ride_calendar, rides, travel_lists

HOUR_MS = 3_600_000
CHECKS = ("licence", "insurance", "dbs")
RIDE = {
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "from_address": "12 Mill Lane, Millbrook MB1 2AB",
    "to_address": "City Hospital, Outpatients",
    "notes": "Ring the bell twice",
    "date": "2027-03-22",  # a Monday, five days ahead
    "time": "10:00",
    "passengers": "1",
}
SECRETS = ("Mill Lane", "Outpatients", "Ring the bell")
NOT_A_DRIVER = "Only volunteer drivers whose checks the centre's staff have seen"


def vouch(box, name: str, expires: str = "2028-01-31", **vehicle) -> None:
    """Vouch for a member as the admin does on the staff pages."""
    car = {"seats": "4", "wheelchair": False, "folded_chair": False, "dogs": False, **vehicle}
    checks = {c: ("2027-01-04", expires) for c in CHECKS}
    drivers.vouch(box, actor(box, ADMIN), member_id(name), checks, car)


def ask(box, name: str, **fields) -> str:
    """Ask for a ride as a member (through the service: the rider's pages are T1's)."""
    return rides.request_ride(box, actor(box, name), {**RIDE, **fields})


def card(page: Page, prefix: str, ride: str, date: str):
    """Return a journey's card on a page: "open-" (to take), "journey-" (yours, unmet)."""
    return page.one("li", id=f"{prefix}{ride[:16]}-{date}")


def form_in(node, button: str):
    """Return the form inside a card holding a button with this text."""
    [form] = [
        f for f in node.find_all("form") if any(b.text() == button for b in f.find_all("button"))
    ]
    return form


def state(ride: str, date: str):
    row = Journey.get_or_none((Journey.ride == ride) & (Journey.date == date))
    return (row.driver, row.state) if row else None


@pytest.fixture
def dan(box, new_browser) -> Browser:
    """A driver with a four-seat car, signed in."""
    b = new_browser("Dan")
    vouch(box, "Dan")
    return b


@pytest.fixture
def eve(box, new_browser) -> Browser:
    b = new_browser("Eve")
    vouch(box, "Eve")
    return b


@pytest.fixture
def cora(box, new_browser) -> Browser:
    """A coordinator: the admin gave her the role."""
    b = new_browser("Cora")
    members.grant_role(box, actor(box, ADMIN), member_id("Cora"), "coordinator")
    return b


@pytest.fixture
def taxis(box) -> str:
    return travel_lists.set_provider(box, actor(box, ADMIN), {"name": "Millbrook Taxis"})


# --- the driver's page -------------------------------------------------------------------------


def test_only_authorised_drivers_get_the_driving_page(box, browser, alice, admin_client, dan):
    ask(box, "Alice")
    response = browser.client.get("/driving")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for who in (alice, admin_client):  # a member (the rider), and staff who do not drive
        page = who.get("/driving", status=403)
        assert NOT_A_DRIVER in page.text()
        assert "Millbrook" not in page.one("main").text()
    page = dan.get("/driving")
    assert page.one("h1").text() == "Driving"
    assert "Millbrook to City Hospital" in page.text()


def test_a_lapsed_driver_is_told_when_their_checks_ran_out(box, clock, new_browser):
    lou = new_browser("Lou")
    vouch(box, "Lou", expires="2027-04-01")
    page = lou.get("/driving")
    notice = page.one("main").find(class_="problem")
    assert "Your driver checks run out on" in notice.text()
    assert "1 April 2027" in notice.text()
    clock.advance(16 * DAY_MS)  # 2027-04-02
    page = lou.get("/driving", status=403)
    assert "Your driver checks ran out on 1 April 2027: see the centre's staff." in page.text()


def test_open_rides_show_area_and_time_and_no_addresses(box, alice, dan):
    ride = ask(box, "Alice", needs=["hard-of-hearing"], passengers="2")
    page = dan.get("/driving")
    open_card = card(page, "open-", ride, "2027-03-22")
    assert "Mon 22 Mar, pickup at 10:00" in open_card.text()
    assert "2 passengers" in open_card.text()
    for secret in (*SECRETS, "Hard of hearing", "Alice"):
        assert secret not in page.html
    assert page.find("li", id=f"journey-{ride[:16]}-2027-03-22") is None


def test_taking_a_journey_through_the_page(box, alice, dan):
    ride = ask(box, "Alice", needs=["hard-of-hearing"])
    page = dan.get("/driving")
    before = record_count(box)
    form = form_in(card(page, "open-", ride, "2027-03-22"), "Take this journey")
    page = dan.follow(dan.submit(page, form=form))
    assert record_count(box) == before + 1
    assert "The journey is yours" in flash_of(page)
    mine = card(page, "journey-", ride, "2027-03-22")
    for secret in (*SECRETS, "Hard of hearing", "Alice"):
        assert secret in mine.text()
    assert page.find("li", id=f"open-{ride[:16]}-2027-03-22") is None
    assert state(ride, "2027-03-22") == (member_id("Dan"), "driver_found")


def test_taking_every_journey_of_a_weekly_ride(box, alice, dan):
    ride = ask(box, "Alice", repeat="weekly", count="3")
    page = dan.get("/driving")
    form = form_in(card(page, "open-", ride, "2027-03-22"), "Take every journey")
    page = dan.follow(dan.submit(page, form=form))
    assert "Every journey of this ride is yours" in flash_of(page)
    assert Ride.get_by_id(ride).series_driver == member_id("Dan")
    for date in ("2027-03-22", "2027-03-29", "2027-04-05"):
        card(page, "journey-", ride, date)
    form = form_in(card(page, "journey-", ride, "2027-03-29"), "Hand back every journey")
    page = dan.follow(dan.submit(page, form=form))
    assert Ride.get_by_id(ride).series_driver is None
    assert "Other drivers can take it now" in flash_of(page)


def test_a_journey_another_driver_took_first_is_refused_with_the_reason(box, alice, dan, eve):
    ride = ask(box, "Alice")
    page = eve.get("/driving")  # Eve reads the page; Dan takes the journey meanwhile
    dan_page = dan.get("/driving")
    dan.submit(
        dan_page, form=form_in(card(dan_page, "open-", ride, "2027-03-22"), "Take this journey")
    )
    before = record_count(box)
    response = eve.submit(
        page, form=form_in(card(page, "open-", ride, "2027-03-22"), "Take this journey")
    )
    assert response.status_code == 409
    problem = Page(response).one(role="alert")
    assert problem.text() == "Another driver has already taken this journey."
    assert record_count(box) == before


def test_members_and_visitors_cannot_post_driving_actions(box, browser, alice, dan):
    ride = ask(box, "Alice")
    before = record_count(box)
    for action in ("take", "hand-back", "start", "done"):
        response = alice.post(f"/driving/{ride}/{action}", {"date": "2027-03-22"}, via="/me")
        assert response.status_code == 403, action
        assert NOT_A_DRIVER in Page(response).text()
        response = browser.post(f"/driving/{ride}/{action}", {"date": "2027-03-22"})
        assert response.status_code == 401, action
    response = dan.post(f"/driving/{'0' * 64}/take", {"date": "2027-03-22"}, via="/me")
    assert response.status_code == 404
    response = dan.post(f"/driving/{ride}/take", {"date": "2027-03-23"}, via="/me")
    assert response.status_code == 404
    assert record_count(box) == before


def test_hand_back_set_off_and_done_with_miles(box, clock, alice, dan):
    ride = ask(box, "Alice")
    page = dan.get("/driving")
    page = dan.follow(
        dan.submit(page, form=form_in(card(page, "open-", ride, "2027-03-22"), "Take this journey"))
    )
    mine = card(page, "journey-", ride, "2027-03-22")
    assert not [b for b in mine.find_all("button") if b.text() == "I am on my way"]
    page = dan.follow(dan.submit(page, form=form_in(mine, "Hand back this journey")))
    assert state(ride, "2027-03-22") == (None, "open")
    page = dan.follow(
        dan.submit(page, form=form_in(card(page, "open-", ride, "2027-03-22"), "Take this journey"))
    )
    clock.advance(4 * DAY_MS + 20 * HOUR_MS)  # Monday 22 March, 08:00
    page = dan.get("/driving")
    mine = card(page, "journey-", ride, "2027-03-22")
    page = dan.follow(dan.submit(page, form=form_in(mine, "I am on my way")))
    assert "on the way" in flash_of(page)
    assert state(ride, "2027-03-22") == (member_id("Dan"), "on_the_way")
    mine = card(page, "journey-", ride, "2027-03-22")
    before = record_count(box)
    response = dan.submit(page, form=form_in(mine, "The journey is done"), data={"miles": "lots"})
    assert response.status_code == 400
    answer = Page(response)
    miles = card(answer, "journey-", ride, "2027-03-22").one("input", name="miles")
    error = miles.closest("div", class_="field").one(class_="error")
    assert (
        error.text() == "Please give the miles as a whole number from 0 to 2000, or leave it empty."
    )
    assert error.attrs["id"] in miles.attrs["aria-describedby"]
    assert miles.attrs["value"] == "lots"
    assert record_count(box) == before
    form = form_in(card(answer, "journey-", ride, "2027-03-22"), "The journey is done")
    page = dan.follow(dan.submit(answer, form=form, data={"miles": "14"}))
    assert "Thank you for driving" in flash_of(page)
    row = Journey.get((Journey.ride == ride) & (Journey.date == "2027-03-22"))
    assert (row.state, row.miles) == ("done", 14)


def test_a_lost_journey_is_shown_on_the_page(box, alice, dan, eve):
    ride = ask(box, "Alice")
    # As two boxes apart would: Eve's take comes first in the agreed order, then Dan's.
    box.log.append("ride.taken", {"date": "2027-03-22"}, subject=ride, author=member_id("Eve"))
    box.log.append("ride.taken", {"date": "2027-03-22"}, subject=ride, author=member_id("Dan"))
    page = dan.get("/driving")
    section = page.one("section", aria_labelledby="lost-h")
    assert "Another driver took the journey on Mon 22 Mar first" in section.text()
    assert page.find("li", id=f"journey-{ride[:16]}-2027-03-22") is None
    assert eve.get("/driving").find("section", aria_labelledby="lost-h") is None


# --- the calendar feed -------------------------------------------------------------------------


def test_the_drivers_calendar_feed(box, clock, alice, dan, eve, browser):
    ride = ask(box, "Alice")
    page = dan.get("/driving")
    dan.submit(page, form=form_in(card(page, "open-", ride, "2027-03-22"), "Take this journey"))
    dan_id, eve_id = member_id("Dan"), member_id("Eve")
    path = f"/driving/calendar/{dan_id}/{ride_calendar.calendar_token(box, dan_id)}.ics"
    assert path in dan.get("/driving").links()
    response = browser.client.get(path)  # calendar apps fetch it without logging in
    assert response.status_code == 200
    assert response.content_type == "text/calendar; charset=utf-8"
    feed = response.get_data(as_text=True).replace("\r\n ", "")
    assert "LOCATION:12 Mill Lane\\, Millbrook MB1 2AB" in feed
    assert "SUMMARY:Drive: Millbrook to City Hospital" in feed
    eve_feed = browser.client.get(
        f"/driving/calendar/{eve_id}/{ride_calendar.calendar_token(box, eve_id)}.ics"
    )
    assert eve_feed.status_code == 200 and "VEVENT" not in eve_feed.get_data(as_text=True)
    for bad in (
        f"/driving/calendar/{dan_id}/{'0' * 64}.ics",
        f"/driving/calendar/{eve_id}/{ride_calendar.calendar_token(box, dan_id)}.ics",
        f"/driving/calendar/nobody/{ride_calendar.calendar_token(box, 'nobody')}.ics",
    ):
        assert browser.client.get(bad).status_code == 404
    members_token = ride_calendar.calendar_token(box, member_id("Alice"))
    assert (
        browser.client.get(
            f"/driving/calendar/{member_id('Alice')}/{members_token}.ics"
        ).status_code
        == 404
    )
    clock.advance(330 * DAY_MS)  # 2028-02-10: Dan's checks ran out on 31 January
    assert browser.client.get(path).status_code == 404


# --- the coordinator's page ------------------------------------------------------------------


def test_only_coordinators_and_staff_get_the_coordinate_page(
    box, browser, alice, dan, cora, staff_client
):
    ride = ask(box, "Alice")
    response = browser.client.get("/coordinate")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for who in (alice, dan):
        page = who.get("/coordinate", status=403)
        assert "Only the centre's ride coordinators and staff can see this." in page.text()
    for who in (cora, staff_client):
        page = who.get("/coordinate")
        assert page.one("h1").text() == "Rides to cover"
        card(page, "journey-", ride, "2027-03-22")


def test_the_coordinate_page_highlights_journeys_due_soon(box, clock, alice, bob, cora):
    later = ask(box, "Alice")
    clock.advance(27 * HOUR_MS)  # Thursday 18 March, 15:00
    soon = ask(box, "Bob", date="2027-03-19", time="09:30", needs=["assistance-dog"])
    page = cora.get("/coordinate")
    cards = page.one("section", aria_labelledby="unmet-h").find_all("li", class_="card")
    assert [c.attrs["id"] for c in cards] == [
        f"journey-{soon[:16]}-2027-03-19",
        f"journey-{later[:16]}-2027-03-22",
    ]
    assert "alert" in cards[0].classes and "alert" not in cards[1].classes
    assert "Due soon and nobody covers it" in cards[0].text()
    assert "Assistance dog" in cards[0].text() and "Bob" in cards[0].text()
    assert "Asked for less than an hour ago" in cards[0].text()
    assert "1 day 3 hours since it was asked for" in cards[1].text()
    assert "Every driver whose vehicle suits it can see it" in cards[1].text()


def test_booking_a_paid_service_through_the_page(box, alice, cora, taxis):
    ride = ask(box, "Alice")
    page = cora.get("/coordinate")
    form = form_in(card(page, "journey-", ride, "2027-03-22"), "Book it")
    before = record_count(box)
    response = cora.submit(page, form=form, data={"cost": "twelve", "reference": "T-1"})
    assert response.status_code == 400
    answer = Page(response)
    mine = card(answer, "journey-", ride, "2027-03-22")
    assert "open" in mine.one("details").attrs
    cost = mine.one("input", name="cost")
    error = cost.closest("div", class_="field").one(class_="error")
    assert error.text() == "Please give the cost in pounds and pence, for example 12.50."
    assert cost.attrs["aria-describedby"] == error.attrs["id"]
    assert (cost.attrs["value"], mine.one("input", name="reference").attrs["value"]) == (
        "twelve",
        "T-1",
    )
    assert record_count(box) == before
    form = form_in(mine, "Book it")
    page = cora.follow(cora.submit(answer, form=form, data={"cost": "12.50"}))
    assert "The paid service is booked" in flash_of(page)
    assert record_count(box) == before + 1
    assert page.find("li", id=f"journey-{ride[:16]}-2027-03-22") is None
    row = Journey.get((Journey.ride == ride) & (Journey.date == "2027-03-22"))
    assert (row.state, row.provider_name, row.cost, row.reference) == (
        "paid",
        "Millbrook Taxis",
        1250,
        "T-1",
    )
    totals = page.one("table", class_="totals")
    assert "March 2027" in totals.text() and "£12.50" in totals.text()


def test_booking_a_journey_a_driver_took_meanwhile_is_refused(box, alice, cora, dan, taxis):
    ride = ask(box, "Alice")
    page = cora.get("/coordinate")
    dan_page = dan.get("/driving")
    dan.submit(
        dan_page, form=form_in(card(dan_page, "open-", ride, "2027-03-22"), "Take this journey")
    )
    before = record_count(box)
    response = cora.submit(
        page,
        form=form_in(card(page, "journey-", ride, "2027-03-22"), "Book it"),
        data={"cost": "9"},
    )
    assert response.status_code == 409
    assert Page(response).one(role="alert").text() == "This journey already has a volunteer driver."
    assert record_count(box) == before


def test_without_providers_the_page_says_how_to_add_them(box, alice, cora):
    ride = ask(box, "Alice")
    mine = card(cora.get("/coordinate"), "journey-", ride, "2027-03-22")
    assert mine.find("form") is None
    assert "staff add them under Staff, Travel" in mine.text()
    before = record_count(box)
    response = cora.post(
        f"/coordinate/{ride}/paid", {"date": "2027-03-22", "provider": "x", "cost": "1"}, via="/me"
    )
    assert response.status_code == 400
    assert record_count(box) == before


def test_members_cannot_book_paid_services(box, browser, alice, dan, taxis):
    ride = ask(box, "Alice")
    before = record_count(box)
    data = {"date": "2027-03-22", "provider": "millbrook-taxis", "cost": "5"}
    for who in (alice, dan):
        assert who.post(f"/coordinate/{ride}/paid", data, via="/me").status_code == 403
    assert browser.post(f"/coordinate/{ride}/paid", data).status_code == 401
    assert record_count(box) == before


# --- after review: lapsed drivers, caches, the feed's address --------------------------------


def test_a_lapsed_driver_can_still_hand_back_the_journeys_they_hold(
    box, clock, alice, bob, new_browser
):
    lou = new_browser("Lou")
    vouch(box, "Lou", expires="2027-03-31")
    soon = ask(box, "Alice", date="2027-03-22")
    later = ask(box, "Bob", date="2027-04-05", from_area="Eastfield")
    page = lou.get("/driving")
    for ride, date in ((soon, "2027-03-22"), (later, "2027-04-05")):
        lou.submit(page, form=form_in(card(page, "open-", ride, date), "Take this journey"))
        page = lou.get("/driving")
    clock.advance(15 * DAY_MS)  # 2027-04-01: the checks ran out; 22 March has passed
    page = lou.get("/driving")
    assert "/driving" in page.links()  # the Driving link stays while she holds one
    notice = page.one("main").find(class_="problem")
    assert "Your driver checks ran out on 31 March 2027." in notice.text()
    held = page.one("li", id=f"held-{later[:16]}-2027-04-05")
    assert "Eastfield to City Hospital" in held.text()
    main = page.one("main").text()
    # Only the journeys still ahead, and only their area and time.
    assert "Millbrook to" not in main and "Bob" not in main
    for secret in (*SECRETS, "Rides you could take", "calendar"):
        assert secret not in main, secret
    response = lou.submit(page, form=form_in(held, "Hand back this journey"))
    assert response.status_code == 302
    assert state(later, "2027-04-05") == (None, "open")
    # Nothing left to hand back: no page, no link, the reason why.
    assert "/driving" not in lou.get("/").links()
    refused = lou.get("/driving", status=403)
    assert "Your driver checks ran out on 31 March 2027" in refused.text()


def test_a_lapsed_driver_still_cannot_take_rides(box, clock, alice, bob, new_browser):
    lou = new_browser("Lou")
    vouch(box, "Lou", expires="2027-03-31")
    held = ask(box, "Alice", date="2027-04-05")
    other = ask(box, "Bob", date="2027-04-06")
    page = lou.get("/driving")
    lou.submit(page, form=form_in(card(page, "open-", held, "2027-04-05"), "Take this journey"))
    clock.advance(15 * DAY_MS)
    before = record_count(box)
    response = lou.post(f"/driving/{other}/take", {"date": "2027-04-06"}, via="/driving")
    assert response.status_code == 403
    assert "Your driver checks ran out on 31 March 2027" in Page(response).text()
    assert record_count(box) == before


def test_pages_with_addresses_are_never_cached(box, alice, dan, cora, browser):
    ride = ask(box, "Alice")
    page = dan.get("/driving")
    dan.submit(page, form=form_in(card(page, "open-", ride, "2027-03-22"), "Take this journey"))
    dan_id = member_id("Dan")
    feed = f"/driving/calendar/{dan_id}/{ride_calendar.calendar_token(box, dan_id)}.ics"
    for who, url in ((dan, "/driving"), (cora, "/coordinate"), (browser, feed)):
        response = who.client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    # A refused form shows the page again: not cached either.
    response = dan.post(
        f"/driving/{ride}/done", {"date": "2027-03-22", "miles": "many"}, "/driving"
    )
    assert response.status_code == 409 and response.headers["Cache-Control"] == "no-store"


def test_a_new_vouch_gives_the_feed_a_new_address(box, clock, alice, dan, browser):
    dan_id = member_id("Dan")
    old = f"/driving/calendar/{dan_id}/{ride_calendar.calendar_token(box, dan_id)}.ics"
    assert browser.client.get(old).status_code == 200
    clock.advance(DAY_MS)
    vouch(box, "Dan", expires="2028-06-30")  # the staff saw his checks again
    new = f"/driving/calendar/{dan_id}/{ride_calendar.calendar_token(box, dan_id)}.ics"
    assert new != old
    assert browser.client.get(old).status_code == 404
    assert browser.client.get(new).status_code == 200
    assert new in dan.get("/driving").links()
