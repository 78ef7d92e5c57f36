"""A wheelchair journey from request to driver, and a paid service as the last resort, in
Chromium: a rider asks for a ride on a small phone, a driver whose car cannot take a
wheelchair never sees it, the driver of the accessible minibus sees only the areas and
the time, takes it and then sees the addresses, and a coordinator covers another rider's
journey nobody took with a paid service (one typing slip on the way), which the rider
then sees on their rides page.

The box is this module's own: staff's part (vouching for the drivers, the paid services
list, the coordinator's role) and the other rider's request are made through the
services before `kith serve` starts. Every field is found by its label and every button
by its name, so the test also proves the forms are labelled for a screen reader.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from kithtest import serving
from playwright.sync_api import expect
from test_posting_flow import assert_no_sideways_scroll

pytestmark = pytest.mark.browser

DEMO_PASSWORD = "kith-demo"  # what the browser fixtures sign in with (tests/browser/conftest.py)
SMALL_PHONE = {"viewport": {"width": 360, "height": 740}}
RIDER = "Edna Hughes"  # asks for the wheelchair journey in the browser
OTHER_RIDER = "Tom Okafor"  # his journey waits for a driver until the coordinator books one
MINIBUS = "Kwame Asante"  # wheelchair accessible
CAR = "Joe Brennan"  # boot space for a folded chair, no wheelchair access
COORDINATOR = "Maria Costa"
PROVIDERS = ["Millbrook Accessible Taxis", "Valley Community Transport"]

PICKUP = "Flat 3, Heron House, Riverside estate RV2 8LP"
HOSPITAL = "City Hospital, Renal Unit, Level 2, Infirmary Road"
NOTES = "The lift is at the back of Heron House."
FROM_AREA, TO_AREA = "Riverside estate", "City Hospital"
OTHER_FROM, OTHER_TO = "Hilltop", "Northgate Clinic"


@pytest.fixture(scope="module")
def ride_box(tmp_path_factory) -> SimpleNamespace:
    """A new box with two drivers, a coordinator, paid services and one journey waiting."""
    from appliance.commands.core import init_box
    from appliance.db import database
    from appliance.services import accounts, drivers, members, rides, travel_lists

    path = tmp_path_factory.mktemp("kith-rides") / "box"
    box = init_box(path, "Millbrook Community Centre", "Sam Patel", DEMO_PASSWORD)
    try:
        admin = accounts.log_in(box, "Sam Patel", DEMO_PASSWORD)
        staff = accounts.actor_for(box, admin)
        people = {
            name: accounts.actor_for(box, accounts.sign_up(box, name, DEMO_PASSWORD))
            for name in (RIDER, OTHER_RIDER, MINIBUS, CAR, COORDINATOR)
        }
        today = drivers.today(box)
        seen = (today - datetime.timedelta(days=10)).isoformat()
        runs_out = (today + datetime.timedelta(days=365)).isoformat()
        checks = {c["slug"]: (seen, runs_out) for c in travel_lists.driver_checks(box)}
        for name, vehicle in (
            (MINIBUS, {"seats": "6", "wheelchair": True, "folded_chair": True, "dogs": True}),
            (CAR, {"seats": "3", "wheelchair": False, "folded_chair": True, "dogs": False}),
        ):
            drivers.vouch(box, staff, people[name].id, checks, vehicle)
        for name in PROVIDERS:
            travel_lists.set_provider(box, staff, {"slug": "", "name": name})
        members.grant_role(box, staff, people[COORDINATOR].id, "coordinator")
        other_day = today + datetime.timedelta(days=2)
        rides.request_ride(
            box,
            people[OTHER_RIDER],
            {
                "from_area": OTHER_FROM,
                "from_address": "8 Beacon Rise, Hilltop HT2 6BN",
                "to_area": OTHER_TO,
                "to_address": "Northgate Clinic, 5 Market Street NG1 2MS",
                "date": other_day.isoformat(),
                "time": "11:00",
                "time_is": "appointment",
            },
        )
    finally:
        database.close()
    return SimpleNamespace(path=path, today=today, other_day=other_day)


@pytest.fixture(scope="module")
def server_url(ride_box) -> Iterator[str]:
    """This module's box served by `kith serve` (in place of the shared demo box)."""
    with serving("--data", str(ride_box.path), log=ride_box.path.parent / "serve.log") as (
        _,
        url,
    ):
        yield url


def ask_for_wheelchair_ride(phone, day: datetime.date) -> str:
    """As the rider, ask for a one-off wheelchair journey; return the ride's path."""
    phone.goto("/rides/new")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Ask for a ride")
    phone.get_by_label("Pickup address").fill(PICKUP)
    phone.get_by_label("Pickup area").fill(FROM_AREA)
    phone.get_by_label("Destination address").fill(HOSPITAL)
    phone.get_by_label("Destination area").fill(TO_AREA)
    phone.get_by_label("Date", exact=True).fill(day.isoformat())
    phone.get_by_label("Time", exact=True).fill("10:30")
    phone.get_by_label("The appointment time: the driver gets me there before it").check()
    phone.get_by_label("Return journey at").fill("13:00")
    phone.get_by_label("No, just once").check()
    phone.get_by_label("Wheelchair user, stays in the chair").check()
    phone.get_by_label("Notes for the driver").fill(NOTES)
    assert_no_sideways_scroll(phone)
    phone.get_by_role("button", name="Ask for the ride").tap()
    phone.wait_for_url(re.compile(r"/rides/[0-9a-f]+$"))
    expect(phone.locator(".flash")).to_contain_text("Your ride is asked for.")
    expect(phone.get_by_role("heading", level=1)).to_have_text(f"From {FROM_AREA} to {TO_AREA}")
    journeys = phone.get_by_role("region", name="Journeys").get_by_role("listitem")
    expect(journeys).to_have_count(1)
    expect(journeys).to_contain_text("Asked for: looking for a driver")
    assert_no_sideways_scroll(phone)
    return urlsplit(phone.url).path


def could_take(page, area: str):
    """The cards on /driving under "Rides you could take" that go from an area."""
    region = page.get_by_role("region", name="Rides you could take")
    return region.get_by_role("listitem").filter(has_text=f"{area} to ")


def unmet(page, area: str):
    """The cards on /coordinate under "Without a driver" that go from an area."""
    region = page.get_by_role("region", name="Without a driver")
    return region.get_by_role("listitem").filter(has_text=f"{area} to ")


def test_a_wheelchair_journey_reaches_only_a_driver_who_can_take_it(
    ride_box, new_page, signed_in, log_in, shots_dir
):
    day = ride_box.today + datetime.timedelta(days=3)
    phone = new_page("phone", **SMALL_PHONE)
    log_in(phone, RIDER)
    path = ask_for_wheelchair_ride(phone, day)
    phone.screenshot(path=str(shots_dir / "ride-asked-phone.png"), full_page=True)

    # A driver whose car cannot take a wheelchair: the other journey, never this one.
    car = new_page("phone", **SMALL_PHONE, storage_state=signed_in(CAR))
    car.goto("/driving")
    expect(car.get_by_role("heading", level=1)).to_have_text("Driving")
    expect(could_take(car, OTHER_FROM)).to_have_count(1)
    expect(could_take(car, FROM_AREA)).to_have_count(0)
    expect(car.locator("main")).not_to_contain_text(TO_AREA)
    assert car.goto(path).status == 404  # nor by its address

    # The minibus driver: the areas, the time and the passengers, nothing more.
    bus = new_page("phone", **SMALL_PHONE, storage_state=signed_in(MINIBUS))
    bus.goto("/driving")
    card = could_take(bus, FROM_AREA)
    expect(card).to_have_count(1)
    expect(card).to_contain_text(f"{FROM_AREA} to {TO_AREA}")
    expect(card).to_contain_text("appointment at 10:30")
    expect(card).to_contain_text("1 passenger")
    main = bus.locator("main")
    for secret in (PICKUP, HOSPITAL, NOTES, "Wheelchair user"):
        expect(main).not_to_contain_text(secret)
    assert_no_sideways_scroll(bus)
    bus.screenshot(path=str(shots_dir / "ride-to-take-phone.png"), full_page=True)

    with bus.expect_navigation():
        card.get_by_role("button", name="Take this journey").tap()
    expect(bus.locator(".flash")).to_have_text(
        "Thank you! The journey is yours: the addresses are below."
    )
    mine = bus.get_by_role("region", name="Your journeys").get_by_role("listitem")
    expect(mine).to_have_count(1)
    for detail in (PICKUP, HOSPITAL, NOTES, "Wheelchair user, stays in the chair", RIDER):
        expect(mine).to_contain_text(detail)
    expect(could_take(bus, FROM_AREA)).to_have_count(0)
    assert_no_sideways_scroll(bus)
    bus.screenshot(path=str(shots_dir / "ride-taken-phone.png"), full_page=True)

    # The rider sees who is coming.
    phone.goto("/rides")
    ride = phone.locator(f"#ride-{path.rsplit('/', 1)[1]}")
    expect(ride).to_contain_text("Driver found")
    expect(ride).to_contain_text(f"Driver: {MINIBUS}")
    assert_no_sideways_scroll(phone)


def test_a_coordinator_covers_a_journey_nobody_took_with_a_paid_service(
    ride_box, new_page, signed_in, shots_dir
):
    desk = new_page("desktop", storage_state=signed_in(COORDINATOR))
    desk.goto("/coordinate")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Rides to cover")
    card = unmet(desk, OTHER_FROM)
    expect(card).to_have_count(1)
    expect(card).to_contain_text(OTHER_RIDER)
    expect(card).to_contain_text("appointment at 11:00")
    card.get_by_text("Book a paid service").click()
    card.get_by_label("Paid service").select_option(label=PROVIDERS[0])
    cost = card.get_by_label("Cost in pounds and pence")
    cost.fill("18,50")
    card.get_by_label("Their booking reference").fill("MAT-4471")
    card.get_by_role("button", name="Book it").click()

    # A typing slip: the reason beside the cost, and nothing booked.
    card = unmet(desk, OTHER_FROM)
    cost = card.get_by_label("Cost in pounds and pence")
    expect(cost).to_have_attribute("aria-invalid", "true")
    error_id = cost.get_attribute("aria-describedby")
    expect(desk.locator(f"#{error_id}")).to_have_text(
        "Please give the cost in pounds and pence, for example 12.50."
    )
    expect(cost).to_have_value("18,50")
    expect(card.get_by_label("Their booking reference")).to_have_value("MAT-4471")
    expect(desk.locator(".flash")).to_have_count(0)
    desk.screenshot(path=str(shots_dir / "ride-paid-error-desktop.png"), full_page=True)

    cost.fill("18.50")
    with desk.expect_navigation():
        card.get_by_role("button", name="Book it").click()
    expect(desk.locator(".flash")).to_have_text(
        "The paid service is booked for that journey. The rider can see it."
    )
    expect(unmet(desk, OTHER_FROM)).to_have_count(0)

    rider = new_page("phone", **SMALL_PHONE, storage_state=signed_in(OTHER_RIDER))
    rider.goto("/rides")
    journey = rider.locator(".journeys li").filter(has_text="Booked with a paid service")
    expect(journey).to_have_count(1)
    expect(journey).to_contain_text(PROVIDERS[0])
    assert_no_sideways_scroll(rider)
