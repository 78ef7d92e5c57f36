"""Coordinators: journeys nobody covers, paid services as the last resort, monthly totals.

The clock starts on Thursday 2026-01-01 at 12:00 UTC (noon in London).
"""

from __future__ import annotations

import pytest
from boxes import member, record_count, trust, with_role
from recordmaker import Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Journey
from appliance.services import accounts, coordinating, drivers, driving, rides, travel_lists

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
CHECKS = ("licence", "insurance", "dbs")
RIDE = {
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "from_address": "4 Mill Lane, Millbrook",
    "to_address": "City Hospital, Ward 7",
    "date": "2026-01-05",
    "time": "10:00",
    "passengers": "1",
}


def vouched(box, staff, name, *, expires="2026-12-31"):
    """Sign up a member and vouch for them as a driver with a four-seat car."""
    person = member(box, name)
    vehicle = {"seats": "4", "wheelchair": False, "folded_chair": False, "dogs": False}
    drivers.vouch(box, staff, person.id, {c: ("2025-12-01", expires) for c in CHECKS}, vehicle)
    return accounts.actor_for(box, person.id)


def ask(box, rider, **fields) -> str:
    return rides.request_ride(box, rider, {**RIDE, **fields})


def unmet_keys(box, who, **kw) -> list[tuple[str, str]]:
    return [(j["ride"], j["date"]) for j in coordinating.unmet(box, who, **kw)]


@pytest.fixture
def cora(box):
    """A coordinator: a member this box's staff gave the coordinator role."""
    return with_role(box, "Cora Coordinator", "coordinator")


@pytest.fixture
def dan(box, staff):
    return vouched(box, staff, "Dan Driver")


@pytest.fixture
def taxis(box, staff) -> str:
    """The centre's paid service: Millbrook Taxis."""
    return travel_lists.set_provider(box, staff, {"name": "Millbrook Taxis"})


def pay(box, who, ride, date="2026-01-05", provider="millbrook-taxis", cost="12.50", ref="T-17"):
    return coordinating.allocate_paid(box, who, ride, date, provider, cost, ref)


def journey(ride, date="2026-01-05") -> Journey:
    return Journey.get((Journey.ride == ride) & (Journey.date == date))


# --- who may coordinate --------------------------------------------------------------------


def test_only_coordinators_and_staff_see_the_unmet_list(box, alice, staff, cora, dan, taxis):
    ride = ask(box, alice)
    assert unmet_keys(box, cora) == [(ride, "2026-01-05")]
    assert unmet_keys(box, staff) == [(ride, "2026-01-05")]
    before = record_count()
    with pytest.raises(NotSignedIn):
        coordinating.unmet(box, None)
    for nobody in (alice, dan):  # the rider herself, and a driver
        with pytest.raises(NotAllowed, match="coordinators and staff"):
            coordinating.unmet(box, nobody)
        with pytest.raises(NotAllowed, match="coordinators and staff"):
            coordinating.paid_totals(box, nobody)
        with pytest.raises(NotAllowed, match="coordinators and staff"):
            pay(box, nobody, ride)
    assert record_count() == before


def test_a_coordinator_role_that_expired_no_longer_counts(box, alice, clock):
    person = member(box, "Cody")
    expires = clock() + DAY_MS
    box.log.append("role.granted", {"role": "coordinator", "expires": expires}, subject=person.id)
    assert coordinating.unmet(box, accounts.actor_for(box, person.id)) == []
    clock.advance(2 * DAY_MS)
    with pytest.raises(NotAllowed):
        coordinating.unmet(box, accounts.actor_for(box, person.id))


# --- the unmet list --------------------------------------------------------------------------


def test_unmet_journeys_soonest_first_with_how_long_they_waited(box, alice, bob, cora, clock):
    weekly = ask(box, alice, repeat="weekly", needs=["wheelchair-transfers"], passengers="2")
    clock.advance(26 * HOUR_MS)  # Friday 2 January, 14:00
    soon = ask(box, bob, date="2026-01-03", time="09:30", time_is="appointment")
    clock.advance(3 * HOUR_MS)  # 17:00
    found = coordinating.unmet(box, cora)
    assert [(j["ride"], j["date"]) for j in found] == [
        (soon, "2026-01-03"),
        (weekly, "2026-01-05"),
        (weekly, "2026-01-12"),
    ]  # 14 days ahead: 2026-01-16 is the last day shown, so not the 19th
    first, second = found[0], found[1]
    assert first["waited"] == {"ms": 3 * HOUR_MS, "days": 0, "hours": 3}
    assert second["waited"] == {"ms": 29 * HOUR_MS, "days": 1, "hours": 5}
    assert (first["time"], first["time_is"], first["rider"]) == ("09:30", "appointment", "Bob")
    assert (first["stage"], first["alert"]) == ("alert", True)  # due in 16.5 hours
    assert (second["stage"], second["alert"]) == ("drivers", False)
    assert second["needs"] == [
        {"slug": "wheelchair-transfers", "label": "Wheelchair user, can move to a seat"}
    ]
    assert second["passengers"] == 2 and second["recurring"] is True
    assert [j["date"] for j in coordinating.unmet(box, cora, days=30) if j["ride"] == weekly] == [
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
        "2026-01-26",
    ]


def test_covered_cancelled_and_past_journeys_are_not_unmet(box, alice, cora, dan, taxis, clock):
    ride = ask(box, alice, repeat="weekly", count="4")  # 5, 12, 19 and 26 January
    driving.take(box, dan, ride, "2026-01-05")
    pay(box, cora, ride, "2026-01-12")
    rides.cancel(box, alice, ride, "2026-01-19", "Away")
    assert unmet_keys(box, cora, days=30) == [(ride, "2026-01-26")]
    clock.advance(25 * DAY_MS)  # 2026-01-26 12:00: the last one has gone by
    assert unmet_keys(box, cora, days=3) == []
    other = ask(box, alice, date="2026-01-28")
    rides.cancel(box, alice, other, None, "")
    assert unmet_keys(box, cora) == []


def test_the_stage_shows_the_regular_driver_and_their_time(box, staff, alice, cora):
    eve = vouched(box, staff, "Eve Driver")
    ride = ask(box, alice, date="2026-01-06", regular_driver=eve.id)
    [found] = coordinating.unmet(box, cora)
    assert (found["ride"], found["stage"], found["regular_driver"]) == (
        ride,
        "regular",
        "Eve Driver",
    )
    assert found["regular_until"] == {"date": "2026-01-02", "time": "12:00"}


def test_a_journey_held_by_a_driver_whose_checks_ran_out_is_unmet(
    box, staff, alice, cora, taxis, clock
):
    lou = vouched(box, staff, "Lou Lapsing", expires="2026-01-10")
    ride = ask(box, alice, date="2026-01-12")
    driving.take(box, lou, ride, "2026-01-12")
    assert unmet_keys(box, cora) == []
    clock.advance(10 * DAY_MS)  # 2026-01-11: Lou's checks ran out yesterday
    [found] = coordinating.unmet(box, cora)
    assert (found["ride"], found["lapsed_driver"]) == (ride, "Lou Lapsing")
    before = record_count()
    with pytest.raises(Conflict, match="can no longer drive"):
        pay(box, cora, ride, "2026-01-12")
    assert record_count() == before


@pytest.mark.parametrize("days", [0, -1, 367, "14", True, None])
def test_unmet_refuses_a_silly_number_of_days(box, cora, days):
    with pytest.raises(InvalidInput) as refused:
        coordinating.unmet(box, cora, days=days)
    assert set(refused.value.fields) == {"days"}


# --- paid services -----------------------------------------------------------------------------


def test_booking_a_paid_service(box, alice, cora, dan, taxis):
    ride = ask(box, alice)
    before = record_count()
    pay(box, cora, ride, cost="12.50", ref="  T-17  ")
    assert record_count() == before + 1
    row = journey(ride)
    assert (row.state, row.driver, row.provider, row.provider_name) == (
        "paid",
        None,
        "millbrook-taxis",
        "Millbrook Taxis",
    )
    assert (row.cost, row.reference) == (1250, "T-17")
    assert unmet_keys(box, cora) == []
    before = record_count()
    with pytest.raises(Conflict, match="booked with a paid service"):
        driving.take(box, dan, ride, "2026-01-05")
    with pytest.raises(Conflict, match="already booked with a paid service"):
        pay(box, cora, ride)
    assert record_count() == before


@pytest.mark.parametrize(
    ("text", "pence"),
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("12", 1200),
        ("£7.05", 705),
        (" 3.10 ", 310),
        ("0", 0),
        ("1000", 100000),
        ("0.99", 99),
    ],
)
def test_costs_in_pounds_and_pence(box, alice, cora, taxis, text, pence):
    ride = ask(box, alice)
    pay(box, cora, ride, cost=text)
    assert journey(ride).cost == pence


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Please give the cost"),
        ("-5", "less than nothing"),
        ("-0.50", "less than nothing"),
        ("12.505", "for example 12.50"),
        ("abc", "for example 12.50"),
        ("1,250", "for example 12.50"),
        ("1e3", "for example 12.50"),
        ("NaN", "for example 12.50"),
        ("12.5.0", "for example 12.50"),
        ("£", "for example 12.50"),
        ("1000.01", "check the cost"),
        ("99999999", "for example 12.50"),
    ],
)
def test_a_bad_cost_is_refused_and_changes_nothing(box, alice, cora, taxis, text, words):
    ride = ask(box, alice)
    before = record_count()
    with pytest.raises(InvalidInput) as refused:
        pay(box, cora, ride, cost=text)
    assert set(refused.value.fields) == {"cost"}
    assert words in refused.value.fields["cost"]
    assert record_count() == before
    assert unmet_keys(box, cora) == [(ride, "2026-01-05")]


def test_a_bad_provider_or_reference_is_refused(box, staff, alice, cora):
    ride = ask(box, alice)
    before = record_count()
    with pytest.raises(InvalidInput) as refused:
        pay(box, cora, ride, provider="millbrook-taxis")
    assert "not listed any paid services" in refused.value.fields["provider"]
    travel_lists.set_provider(box, staff, {"name": "Millbrook Taxis"})
    retired = travel_lists.set_provider(box, staff, {"name": "Old Cabs"})
    travel_lists.set_provider(box, staff, {"slug": retired, "active": "0"})
    before = record_count()
    for slug in ("nobody", retired, ""):
        with pytest.raises(InvalidInput) as refused:
            pay(box, cora, ride, provider=slug)
        assert refused.value.fields == {
            "provider": "Please choose one of the centre's paid services."
        }
    with pytest.raises(InvalidInput) as refused:
        pay(box, cora, ride, ref="R" * 61, cost="x")
    assert set(refused.value.fields) == {"reference", "cost"}
    assert record_count() == before


def test_a_covered_or_gone_journey_cannot_be_booked(box, alice, cora, dan, taxis, clock):
    ride = ask(box, alice, repeat="weekly")
    driving.take(box, dan, ride, "2026-01-05")
    rides.cancel(box, alice, ride, "2026-01-12", "")
    before = record_count()
    with pytest.raises(Conflict, match="already has a volunteer driver"):
        pay(box, cora, ride, "2026-01-05")
    with pytest.raises(Conflict, match="cancelled"):
        pay(box, cora, ride, "2026-01-12")
    assert record_count() == before
    clock.advance(4 * DAY_MS)  # 2026-01-05 12:00
    driving.done(box, dan, ride, "2026-01-05", "8")
    late = ask(box, alice, date="2026-01-12", time="11:00")
    clock.advance(7 * DAY_MS)  # 2026-01-12 12:00: the 19th is still to come
    before = record_count()
    with pytest.raises(Conflict, match="already done"):
        pay(box, cora, ride, "2026-01-05")
    with pytest.raises(Conflict, match="time has passed"):
        pay(box, cora, late, "2026-01-12")
    for bad in ("2026-01-13", "soon", ""):
        with pytest.raises(NotFound, match="no journey on that date"):
            pay(box, cora, ride, bad)
    with pytest.raises(NotFound, match="nothing at this address"):
        pay(box, cora, "0" * 64)
    assert record_count() == before


def test_another_centres_ride_is_booked_by_its_own_coordinators(box, cora, taxis):
    neighbour = Origin("Neighbour Centre")
    trust(box, neighbour)
    neighbour.tick(3_600_000)
    rider = "a" * 64
    body = {
        "rider": rider,
        "from_area": "Oakfield",
        "to_area": "Riverside Surgery",
        "start": "2026-01-08T11:30",
        "tz": "Europe/London",
        "time_is": "appointment",
        "window": 0,
        "rrule": None,
        "return_at": None,
        "passengers": 1,
        "needs": [],
        "regular_driver": None,
    }
    asked = neighbour.make("ride.requested", body, author=rider)
    assert box.log.ingest([asked.line]).ok
    [found] = coordinating.unmet(box, cora)
    assert (found["ride"], found["can_pay"]) == (asked.id, False)
    assert found["centre"] == f"peer {neighbour.origin[:6]}"
    before = record_count()
    with pytest.raises(NotAllowed, match="its coordinators book paid services"):
        pay(box, cora, asked.id, "2026-01-08")
    assert record_count() == before


def test_a_booking_and_a_drivers_take_on_two_boxes_apart_converge(box, alice, cora, taxis):
    """The first in the agreed order keeps the journey: here the driver on another box."""
    ride = ask(box, alice)
    pay(box, cora, ride)
    neighbour = Origin("Neighbour Centre")
    trust(box, neighbour)
    neighbour.tick(3_600_000)  # 01:00, before the booking at 12:00
    took = neighbour.make("ride.taken", {"date": "2026-01-05"}, subject=ride, author="f" * 64)
    assert box.log.ingest([took.line]).ok
    row = journey(ride)
    assert (row.state, row.driver, row.cost) == ("driver_found", "f" * 64, None)


# --- monthly totals ----------------------------------------------------------------------------


def test_paid_totals_by_month_beside_volunteer_journeys(box, staff, alice, cora, dan, taxis, clock):
    weekly = ask(box, alice, repeat="weekly", date="2026-01-06", count="6")  # to 10 Feb
    driving.take(box, dan, weekly, None)
    driving.hand_back(box, dan, weekly, "2026-01-13")
    pay(box, cora, weekly, "2026-01-13", cost="9.99")
    one = ask(box, alice, date="2026-01-08")
    pay(box, cora, one, "2026-01-08", cost="20")
    clock.advance(32 * DAY_MS)  # 2026-02-02
    later = ask(box, alice, date="2026-02-05")
    pay(box, cora, later, "2026-02-05", cost="15.01")
    totals = coordinating.paid_totals(box, cora, months=3)
    assert totals == [
        {"month": "2025-12", "paid": 0, "cost": 0, "volunteer": 0, "cost_text": "0.00"},
        {"month": "2026-01", "paid": 2, "cost": 2999, "volunteer": 3, "cost_text": "29.99"},
        {"month": "2026-02", "paid": 1, "cost": 1501, "volunteer": 2, "cost_text": "15.01"},
    ]
    assert len(coordinating.paid_totals(box, staff)) == 12


@pytest.mark.parametrize("months", [0, 61, "3", True, 2.5])
def test_paid_totals_refuse_a_silly_number_of_months(box, cora, months):
    with pytest.raises(InvalidInput) as refused:
        coordinating.paid_totals(box, cora, months=months)
    assert set(refused.value.fields) == {"months"}


def test_pounds_are_written_with_pence():
    assert coordinating.pounds(0) == "0.00"
    assert coordinating.pounds(5) == "0.05"
    assert coordinating.pounds(123456) == "1,234.56"
