"""The demo's community travel shows a newcomer the whole flow (the issue's "done when").

A box made as `kith demo` makes it (init_box on the demo's history clock, the demo
people) gets appliance/demo_travel.py's history while the clock is weeks back and its
current picture a day before now; then the clock is the real one again, as after
demo.fill, and the tests look through the services a coordinator, a driver or a rider
uses: riders, authorised and lapsed drivers, regular and one-off journeys, a rider with
a regular driver, a wheelchair ride, an unmet request due soon and paid allocations.
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from boxes import activate

from appliance import demo, demo_travel
from appliance.commands.core import init_box
from appliance.democlock import DAY_MS, MINUTE_MS, DemoClock
from appliance.errors import Conflict, NotAllowed
from appliance.log import wall_clock_ms
from appliance.models import Driver, Journey, Ride
from appliance.services import (
    accounts,
    coordinating,
    drivers,
    driving,
    members,
    ride_access,
    rides,
)

CENTRE = "Millbrook Community Centre"


def demo_people(box) -> tuple[dict, accounts.Actor]:
    """Sign up demo.PEOPLE as demo.fill does (Priya is staff); return (people, the admin)."""
    staff = accounts.actor_for(box, next(demo.box_members_with_role(box, "admin")))
    people = {}
    for name, verified, contact in demo.PEOPLE:
        member_id = accounts.sign_up(box, name, demo.DEMO_PASSWORD, contact)
        if verified:
            members.set_verified(box, staff, member_id, True)
        people[name] = accounts.actor_for(box, member_id)
    members.grant_role(box, staff, people["Priya Shah"].id, "staff")
    people["Priya Shah"] = accounts.actor_for(box, people["Priya Shah"].id)
    return people, staff


def fill(path, clock: DemoClock) -> SimpleNamespace:
    """Make a box on the clock and run the travel demo's history, then its current picture
    a day before now (as demo.fill does); leave the box on the real clock."""
    box = init_box(path, CENTRE, "Sam Patel", demo.DEMO_PASSWORD, now_ms=clock)
    people, staff = demo_people(box)
    clock.step = 10 * MINUTE_MS
    made = demo_travel.history(box, people, staff, clock)
    clock.jump(clock.real() - DAY_MS)
    made += demo_travel.current(box, people, staff, clock)
    box.log.now_ms = wall_clock_ms
    return SimpleNamespace(box=box, people=people, staff=staff, made=made)


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> SimpleNamespace:
    return fill(tmp_path_factory.mktemp("demo-travel") / "box", demo.history_clock())


@pytest.fixture
def travel(filled) -> SimpleNamespace:
    """The demo box, with the shared database handle pointed at it again."""
    activate(filled.box)
    return filled


def who(travel, name: str) -> accounts.Actor:
    return accounts.actor_for(travel.box, travel.people[name].id)


def today(box) -> datetime.date:
    return drivers.today(box)


def the_ride(travel, rider: str, to_area: str) -> Ride:
    return Ride.get((Ride.rider == travel.people[rider].id) & (Ride.to_area == to_area))


def test_new_people_sign_in_and_maria_coordinates(travel):
    for name, _ in demo_travel.NEW_PEOPLE:
        member_id = accounts.log_in(travel.box, name, demo.DEMO_PASSWORD)
        assert travel.people[name].id == member_id
    maria = who(travel, demo_travel.COORDINATOR)
    assert "coordinator" in maria.roles and not maria.is_staff
    assert ride_access.is_coordinator(maria)
    assert travel.made == Ride.select().count() >= 10


def test_the_coordinator_is_alerted_to_a_journey_due_soon_that_nobody_took(travel):
    box = travel.box
    unmet = coordinating.unmet(box, who(travel, demo_travel.COORDINATOR))
    alerts = [j for j in unmet if j["alert"]]
    assert [(j["rider"], j["to_area"]) for j in alerts] == [("Tom Okafor", "City Hospital")]
    hours = box.settings["ride_alert_hours"]
    assert 0 < alerts[0]["due_ms"] - wall_clock_ms() <= hours * 3_600_000
    assert alerts[0]["waited"]["ms"] >= 12 * 3_600_000  # asked for yesterday
    # A ride asked for half an hour ago is still with the rider's regular driver.
    regular = [j for j in unmet if j["stage"] == "regular"]
    assert [(j["rider"], j["regular_driver"]) for j in regular] == [("Arthur Bell", "Joe Brennan")]
    # Every journey on the list is still to come and nobody covers it.
    for j in unmet:
        ride = Ride.get_by_id(j["ride"])
        assert driving.journey_state(ride, j["date"]) == (None, "open")


def test_paid_services_covered_the_week_the_minibus_driver_was_away_and_one_ahead(travel):
    box = travel.box
    paid = list(Journey.select().where(Journey.state == "paid").order_by(Journey.date))
    now = today(box).isoformat()
    past = [j for j in paid if j.date < now]
    ahead = [j for j in paid if j.date > now]
    assert len(past) >= 3 and len(ahead) == 1
    assert {j.provider_name for j in paid} == set(demo_travel.PROVIDERS)
    assert all(j.cost > 0 and j.reference and j.driver is None for j in paid)
    riders = {Ride.get_by_id(j.ride).rider for j in past}
    assert len(riders) >= 3  # enough riders behind them for the insight to show the count
    edna = travel.people["Edna Hughes"].id
    assert (Ride.get_by_id(ahead[0].ride).rider, ahead[0].cost) == (edna, 3400)
    totals = coordinating.paid_totals(box, who(travel, demo_travel.COORDINATOR), months=12)
    assert sum(m["paid"] for m in totals) >= len(past)
    assert sum(m["volunteer"] for m in totals) > 40
    # The coordinator cannot book the journey ahead a second time.
    before = Journey.select().where(Journey.state == "paid").count()
    with pytest.raises(Conflict):
        coordinating.allocate_paid(
            box, who(travel, "Maria Costa"), ahead[0].ride, ahead[0].date, "x", "1.00"
        )
    assert Journey.select().where(Journey.state == "paid").count() == before


def test_authorised_lapsing_and_lapsed_drivers(travel):
    box = travel.box
    kwame = drivers.authorisation(box, travel.people["Kwame Asante"].id)
    assert kwame["vehicle"]["wheelchair"] and kwame["lapsing_soon"]
    for name in ("Joe Brennan", "Grace Liu"):
        auth = drivers.authorisation(box, travel.people[name].id)
        assert auth is not None and not auth["lapsing_soon"]
    dev = travel.people["Dev Mistry"].id
    assert Driver.get_or_none(Driver.member == dev) is not None  # vouched for, once
    assert drivers.authorisation(box, dev) is None
    assert drivers.lapsed_on(box, dev) < today(box).isoformat()
    statuses = {p["name"]: p["status"] for p in drivers.lapsing(box)}
    assert statuses == {"Dev Mistry": "lapsed", "Kwame Asante": "lapsing"}
    with pytest.raises(NotAllowed) as refused:
        driving.rides_for_driver(box, who(travel, "Dev Mistry"), today(box), today(box))
    assert "ran out" in str(refused.value.message)
    # Before his check ran out he drove Tom to the hospital.
    drove = Journey.select().where((Journey.driver == dev) & (Journey.state == "done"))
    assert drove.count() >= 1


def test_a_weekly_ride_with_its_regular_driver_expands_to_its_tuesdays(travel):
    box = travel.box
    ride = the_ride(travel, "Arthur Bell", "Riverside Day Centre")
    joe = travel.people["Joe Brennan"].id
    assert (ride.rrule, ride.regular_driver, ride.series_driver) == (
        "FREQ=WEEKLY;BYDAY=TU",
        joe,
        joe,
    )
    dates = rides.occurrences(ride, rides.first_date(ride), today(box))
    assert len(dates) >= 8
    assert {d.weekday() for d in dates} == {1}
    assert all((b - a).days == 7 for a, b in zip(dates, dates[1:], strict=False))
    states = [driving.journey_state(ride, d.isoformat())[1] for d in dates[:-1]]
    assert states.count("cancelled") == 1 and states.count("done") == len(states) - 1
    tomorrow = today(box) + datetime.timedelta(days=1)
    ahead = rides.occurrences(ride, tomorrow, tomorrow + datetime.timedelta(days=27))
    assert [driving.journey_state(ride, d.isoformat()) for d in ahead] == [
        (joe, "driver_found")
    ] * 4
    # Done journeys carry the miles, from at least three drivers and three riders.
    done = list(Journey.select().where(Journey.state == "done"))
    assert all(j.miles and j.miles > 0 for j in done)
    assert len({j.driver for j in done}) >= 3
    assert len({Ride.get_by_id(j.ride).rider for j in done}) >= 3
    # And one-off journeys beside the regular ones.
    one_offs = Ride.select().where(Ride.rrule.is_null())
    assert one_offs.count() >= 5


def test_a_wheelchair_ride_only_the_accessible_minibus_can_serve(travel):
    box = travel.box
    ride = the_ride(travel, "Edna Hughes", "Millbrook Road")
    assert ride.rrule is None and "wheelchair-stays" in ride.needs
    for name in ("Joe Brennan", "Grace Liu", "Kwame Asante"):
        driver = who(travel, name)
        vehicle = drivers.authorisation(box, driver.id)["vehicle"]
        serves = name == "Kwame Asante"
        assert drivers.can_serve(box, vehicle, ride) is serves
        page = driving.rides_for_driver(
            box, driver, today(box), today(box) + datetime.timedelta(days=14)
        )
        offered = [j for j in page["open"] if j["ride"] == ride.id]
        assert len(offered) == (1 if serves else 0)
        assert ride_access.level(box, driver, ride) == ("area" if serves else None)
        assert ride_access.addresses(box, driver, ride) is None
    assert "addresses" not in offered[0] and "needs" not in offered[0]


def test_on_an_existing_box_nothing_is_backdated(tmp_path):
    """`kith demo` on a box already in use: its clock cannot go back, so no journeys in
    the past and no lapsed driver, but today's picture is all there."""
    travel = fill(tmp_path / "box", DemoClock(wall_clock_ms()))
    box = travel.box
    assert Journey.select().where(Journey.state == "done").count() == 0
    assert Driver.get_or_none(Driver.member == travel.people["Dev Mistry"].id) is None
    assert [p["name"] for p in drivers.lapsing(box)] == ["Kwame Asante"]
    unmet = coordinating.unmet(box, who(travel, demo_travel.COORDINATOR))
    assert [j["rider"] for j in unmet if j["alert"]] == ["Tom Okafor"]
    assert Journey.select().where(Journey.state == "paid").count() == 1
    # The regular rides start now, every journey with its driver.
    regular = Ride.select().where(Ride.series_driver.is_null(False))
    assert regular.count() == len(demo_travel.REGULAR)
    assert min(r.start_ms for r in regular) > wall_clock_ms() - DAY_MS
    assert travel.made == Ride.select().count() == len(demo_travel.REGULAR) + 3
