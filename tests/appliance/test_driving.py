"""Volunteer drivers at work: what they see, taking and handing back journeys, setting
off, done, lost notices from boxes that were apart, and their calendar feed.

The clock starts on Thursday 2026-01-01 at 12:00 UTC (noon in London); most rides are
on Mondays at 10:00, the first on 2026-01-05, four days ahead.
"""

from __future__ import annotations

import datetime

import pytest
from boxes import member, record_count, trust
from recordmaker import BASE_MS, Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Journey, Ride
from appliance.services import (
    accounts,
    calendar_feeds,
    drivers,
    driving,
    ride_calendar,
    rides,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
TODAY = datetime.date(2026, 1, 1)
FOUR_WEEKS = TODAY + datetime.timedelta(days=28)
CHECKS = ("licence", "insurance", "dbs")
RIDE = {
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "from_address": "4 Mill Lane, Millbrook",
    "to_address": "City Hospital, Ward 7",
    "notes": "Ring twice, the bell is quiet",
    "date": "2026-01-05",
    "time": "10:00",
    "time_is": "pickup",
    "window": "15",
    "passengers": "1",
}


def vouched(box, staff, name, *, expires="2026-12-31", seats=4, **features):
    """Sign up a member and vouch for them as a driver; return them as an Actor."""
    person = member(box, name)
    vehicle = {"seats": str(seats), "wheelchair": False, "folded_chair": False, "dogs": False}
    vehicle.update(features)
    drivers.vouch(box, staff, person.id, {c: ("2025-12-01", expires) for c in CHECKS}, vehicle)
    return accounts.actor_for(box, person.id)


def ask(box, rider, **fields) -> str:
    """Request a ride as the rider (a weekly one with repeat="weekly"); return its id."""
    return rides.request_ride(box, rider, {**RIDE, **fields})


def view(box, driver, start=TODAY, end=FOUR_WEEKS) -> dict:
    return driving.rides_for_driver(box, driver, start, end)


def open_dates(box, driver, ride_id) -> list[str]:
    return [j["date"] for j in view(box, driver)["open"] if j["ride"] == ride_id]


def state(ride_id, date):
    ride = Ride.get_by_id(ride_id)
    return driving.journey_state(ride, date)


@pytest.fixture
def dan(box, staff):
    """A driver with a car: four seats, no wheelchair space, no dogs."""
    return vouched(box, staff, "Dan Driver")


@pytest.fixture
def eve(box, staff):
    """A second driver with a car like Dan's."""
    return vouched(box, staff, "Eve Driver")


# --- who may see ---------------------------------------------------------------------------


def test_only_an_authorised_driver_sees_rides(box, alice, bob, staff, dan):
    ride = ask(box, alice)
    before = record_count()
    with pytest.raises(NotSignedIn):
        view(box, None)
    for nobody in (bob, staff):  # a member, and staff who are not drivers
        with pytest.raises(NotAllowed) as refused:
            view(box, nobody)
        assert "Only volunteer drivers" in str(refused.value)
        with pytest.raises(NotAllowed):
            driving.take(box, nobody, ride, "2026-01-05")
    assert record_count() == before
    assert open_dates(box, dan, ride) == ["2026-01-05"]


def test_a_lapsed_driver_is_told_when_their_checks_ran_out(box, staff, alice, clock):
    lapsing = vouched(box, staff, "Lou Lapsing", expires="2026-01-10")
    ride = ask(box, alice, date="2026-01-19", repeat="weekly")
    # Within driver_warn_days of the end, the driver still drives and is told ahead.
    assert view(box, lapsing)["authorisation"]["lapsing_soon"] is True
    clock.advance(10 * DAY_MS)  # 2026-01-11: the day after the checks ran out
    before = record_count()
    message = "Your driver checks ran out on 10 January 2026: see the centre's staff."
    with pytest.raises(NotAllowed) as refused:
        view(box, lapsing)
    assert str(refused.value) == message
    with pytest.raises(NotAllowed) as refused:
        driving.take(box, lapsing, ride, "2026-01-19")
    assert str(refused.value) == message
    with pytest.raises(NotAllowed):
        driving.take(box, lapsing, ride, None)
    assert record_count() == before


def test_open_journeys_show_area_time_and_passengers_only(box, alice, dan):
    ride = ask(box, alice, needs=["hard-of-hearing"], passengers="2", return_at="14:00")
    [journey] = view(box, dan)["open"]
    assert journey["ride"] == ride
    assert (journey["from_area"], journey["to_area"]) == ("Millbrook", "City Hospital")
    assert (journey["date"], journey["time"], journey["passengers"]) == ("2026-01-05", "10:00", 2)
    assert journey["stage"] == "drivers"
    assert not {"addresses", "needs", "rider"} & set(journey)
    text = repr(view(box, dan))
    for secret in ("Mill Lane", "Ward 7", "Ring twice", "hard-of-hearing", "Alice"):
        assert secret not in text


def test_a_vehicle_that_cannot_serve_sees_nothing_and_cannot_take(box, staff, alice, dan):
    chair = ask(box, alice, needs=["wheelchair-stays"])
    crowd = ask(box, alice, passengers="5", date="2026-01-06")
    van = vouched(box, staff, "Vic Van", seats=6, wheelchair=True)
    assert view(box, dan)["open"] == []
    before = record_count()
    for ride, date in ((chair, "2026-01-05"), (crowd, "2026-01-06")):
        # As for a ride that does not exist: a refusal would say the ride is there.
        for day in (date, "2026-02-30", None):
            with pytest.raises(NotFound, match="There is nothing at this address"):
                driving.take(box, dan, ride, day)
    assert record_count() == before
    assert [j["ride"] for j in view(box, van)["open"]] == [chair, crowd]
    driving.take(box, van, chair, "2026-01-05")
    assert state(chair, "2026-01-05") == (van.id, "driver_found")


def test_taking_a_journey_shows_its_addresses_and_needs(box, alice, dan):
    ride = ask(box, alice, repeat="weekly", needs=["hard-of-hearing", "door-to-door"])
    before = record_count()
    assert driving.take(box, dan, ride, "2026-01-12") == "2026-01-12"
    assert record_count() == before + 1
    seen = view(box, dan)
    [mine] = seen["mine"]
    assert mine["date"] == "2026-01-12" and mine["rider"] == "Alice"
    assert mine["addresses"] == {
        "from_address": "4 Mill Lane, Millbrook",
        "to_address": "City Hospital, Ward 7",
        "notes": "Ring twice, the bell is quiet",
    }
    assert [n["label"] for n in mine["needs"]] == ["Hard of hearing", "Needs help to the door"]
    assert mine["can"] == {
        "hand_back": True,
        "hand_back_series": False,
        "start": False,
        "done": False,
    }
    # The other journeys of the series are still open to take; the taken one is not.
    assert open_dates(box, dan, ride) == ["2026-01-05", "2026-01-19", "2026-01-26"]


def test_a_taken_journey_cannot_be_taken_again(box, alice, dan, eve):
    ride = ask(box, alice)
    driving.take(box, dan, ride, "2026-01-05")
    before = record_count()
    with pytest.raises(Conflict, match="Another driver has already taken this journey"):
        driving.take(box, eve, ride, "2026-01-05")
    with pytest.raises(Conflict, match="already yours"):
        driving.take(box, dan, ride, "2026-01-05")
    assert record_count() == before
    assert view(box, eve)["open"] == []


def test_taking_every_journey_of_a_series(box, alice, dan, eve):
    ride = ask(box, alice, repeat="weekly")
    [first, *rest] = view(box, dan)["open"]
    assert first["take_series"] is True and not any(j["take_series"] for j in rest)
    assert driving.take(box, dan, ride, None) is None
    assert Ride.get_by_id(ride).series_driver == dan.id
    mine = view(box, dan)["mine"]
    assert [j["date"] for j in mine] == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    assert all(j["series"] and j["can"]["hand_back_series"] for j in mine)
    before = record_count()
    with pytest.raises(Conflict, match="Another driver has already taken this journey"):
        driving.take(box, eve, ride, "2026-01-19")
    with pytest.raises(Conflict, match="already taken every journey"):
        driving.take(box, eve, ride, None)
    with pytest.raises(Conflict, match="already yours"):
        driving.take(box, dan, ride, None)
    assert record_count() == before


def test_a_series_with_a_journey_taken_by_another_cannot_be_taken_whole(box, alice, dan, eve):
    ride = ask(box, alice, repeat="weekly")
    driving.take(box, eve, ride, "2026-01-12")
    assert not any(j["take_series"] for j in view(box, dan)["open"])
    before = record_count()
    with pytest.raises(Conflict, match="take the open ones one by one"):
        driving.take(box, dan, ride, None)
    assert record_count() == before
    driving.take(box, dan, ride, "2026-01-05")  # one by one is fine
    # Eve, who holds one journey herself, may take every other one with it.
    other = ask(box, alice, repeat="weekly", date="2026-01-06")
    driving.take(box, eve, other, "2026-01-13")
    driving.take(box, eve, other, None)
    assert Ride.get_by_id(other).series_driver == eve.id


def test_every_journey_of_a_one_off_ride_is_its_one_journey(box, alice, dan):
    ride = ask(box, alice)
    assert driving.take(box, dan, ride, None) == "2026-01-05"
    assert Ride.get_by_id(ride).series_driver is None
    assert state(ride, "2026-01-05") == (dan.id, "driver_found")


# --- escalation ----------------------------------------------------------------------------


def test_the_regular_driver_has_the_ride_first(box, alice, dan, eve, clock):
    ride = ask(box, alice, repeat="weekly", regular_driver=eve.id)
    assert view(box, dan)["open"] == []
    assert {j["stage"] for j in view(box, eve)["open"]} == {"regular"}
    before = record_count()
    # Dan cannot see it yet, so taking it is refused as for no ride at all (a refusal
    # naming the regular driver's time would tell him when it was asked for).
    for day in ("2026-01-12", "2026-01-13", None):
        with pytest.raises(NotFound, match="There is nothing at this address"):
            driving.take(box, dan, ride, day)
    assert record_count() == before
    clock.advance(25 * HOUR_MS)  # ride_regular_hours (24) are over: every driver sees it
    assert open_dates(box, dan, ride) == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    assert {j["stage"] for j in view(box, dan)["open"]} == {"drivers"}
    driving.take(box, dan, ride, "2026-01-12")


def test_the_regular_driver_takes_it_in_their_time(box, alice, dan, eve):
    ride = ask(box, alice, repeat="weekly", regular_driver=eve.id)
    driving.take(box, eve, ride, None)
    assert Ride.get_by_id(ride).series_driver == eve.id


def test_a_journey_due_soon_alerts_and_is_open_to_every_driver(box, alice, dan, eve):
    # Due in 30 hours (2026-01-02 18:00), inside ride_alert_hours (48): the regular
    # driver's head start must not make it miss its time.
    ride = ask(box, alice, date="2026-01-02", time="18:00", regular_driver=eve.id)
    [journey] = view(box, dan)["open"]
    assert (journey["ride"], journey["stage"]) == (ride, "alert")
    driving.take(box, dan, ride, "2026-01-02")


# --- refusals ------------------------------------------------------------------------------


def test_past_and_cancelled_journeys_cannot_be_taken(box, alice, dan, clock):
    ride = ask(box, alice, repeat="weekly")
    rides.cancel(box, alice, ride, "2026-01-12", "In hospital that week")
    clock.advance(4 * DAY_MS - HOUR_MS)  # 2026-01-05 11:00: the first journey has gone
    before = record_count()
    with pytest.raises(Conflict, match="time has passed"):
        driving.take(box, dan, ride, "2026-01-05")
    with pytest.raises(Conflict, match="cancelled"):
        driving.take(box, dan, ride, "2026-01-12")
    assert record_count() == before
    rides.cancel(box, alice, ride, None, "Moved away")
    before = record_count()
    with pytest.raises(Conflict, match="This ride has been cancelled"):
        driving.take(box, dan, ride, None)
    with pytest.raises(Conflict, match="cancelled"):
        driving.take(box, dan, ride, "2026-01-19")
    assert record_count() == before
    assert view(box, dan, TODAY, FOUR_WEEKS)["open"] == []


def test_a_series_with_no_journeys_left_cannot_be_taken(box, alice, dan, clock):
    ride = ask(box, alice, repeat="weekly", count="2")
    clock.advance(12 * DAY_MS)  # 2026-01-13: both journeys are over
    before = record_count()
    with pytest.raises(Conflict, match="no journeys left"):
        driving.take(box, dan, ride, None)
    assert record_count() == before


@pytest.mark.parametrize("date", ["2026-01-06", "05/01/2026", "2026-1-5", "", "2026-02-30"])
def test_a_date_without_a_journey_is_not_found(box, alice, dan, date):
    ride = ask(box, alice, repeat="weekly")
    before = record_count()
    with pytest.raises(NotFound, match="no journey on that date"):
        driving.take(box, dan, ride, date)
    assert record_count() == before


def test_an_unknown_ride_is_not_found(box, dan):
    before = record_count()
    for ride in ("0" * 64, "nonsense", ""):
        with pytest.raises(NotFound, match="There is nothing at this address"):
            driving.take(box, dan, ride, "2026-01-05")
    assert record_count() == before


def test_a_driver_cannot_take_their_own_ride(box, dan):
    ride = ask(box, dan)
    before = record_count()
    with pytest.raises(NotAllowed, match="your own ride"):
        driving.take(box, dan, ride, "2026-01-05")
    assert record_count() == before
    assert view(box, dan)["open"] == []


# --- handing back, setting off, done -------------------------------------------------------


def test_handing_a_journey_back_opens_it_again(box, alice, bob, staff, dan, eve):
    ride = ask(box, alice)
    driving.take(box, dan, ride, "2026-01-05")
    before = record_count()
    with pytest.raises(NotFound):  # another driver cannot even see a taken journey
        driving.hand_back(box, eve, ride, "2026-01-05")
    with pytest.raises(NotFound):
        driving.hand_back(box, bob, ride, "2026-01-05")
    with pytest.raises(NotAllowed, match="Only the driver who took this journey"):
        driving.hand_back(box, staff, ride, "2026-01-05")
    with pytest.raises(NotSignedIn):
        driving.hand_back(box, None, ride, "2026-01-05")
    assert record_count() == before
    driving.hand_back(box, dan, ride, "2026-01-05")
    assert record_count() == before + 1
    assert state(ride, "2026-01-05") == (None, "open")
    assert open_dates(box, eve, ride) == ["2026-01-05"]
    with pytest.raises(NotAllowed, match="Only the driver who took"):  # open, not Dan's
        driving.hand_back(box, dan, ride, "2026-01-05")


def test_a_journey_cannot_be_handed_back_once_started(box, alice, dan, clock):
    ride = ask(box, alice)
    driving.take(box, dan, ride, "2026-01-05")
    clock.advance(4 * DAY_MS - HOUR_MS)  # 2026-01-05 11:00
    before = record_count()
    with pytest.raises(Conflict, match="already started"):
        driving.hand_back(box, dan, ride, "2026-01-05")
    assert record_count() == before


def test_handing_back_every_journey_of_a_series(box, alice, dan, eve):
    ride = ask(box, alice, repeat="weekly")
    driving.take(box, dan, ride, None)
    before = record_count()
    with pytest.raises(NotFound):
        driving.hand_back(box, eve, ride, None)
    assert record_count() == before
    # One journey back first: the series driver keeps the rest.
    driving.hand_back(box, dan, ride, "2026-01-12")
    assert state(ride, "2026-01-12") == (None, "open")
    assert state(ride, "2026-01-19") == (dan.id, "driver_found")
    driving.hand_back(box, dan, ride, None)
    assert Ride.get_by_id(ride).series_driver is None
    assert open_dates(box, eve, ride) == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]


def test_setting_off_and_done_on_the_day(box, alice, dan, eve, clock):
    ride = ask(box, alice)
    driving.take(box, dan, ride, "2026-01-05")
    before = record_count()
    with pytest.raises(Conflict, match="only on the day of the journey"):
        driving.start_journey(box, dan, ride, "2026-01-05")
    with pytest.raises(Conflict, match="mark it done from that day"):
        driving.done(box, dan, ride, "2026-01-05", "")
    assert record_count() == before
    clock.advance(3 * DAY_MS + 20 * HOUR_MS)  # 2026-01-05 08:00
    assert view(box, dan)["mine"][0]["can"]["start"] is True
    with pytest.raises(NotFound):
        driving.start_journey(box, eve, ride, "2026-01-05")
    driving.start_journey(box, dan, ride, "2026-01-05")
    assert state(ride, "2026-01-05") == (dan.id, "on_the_way")
    before = record_count()
    with pytest.raises(Conflict, match="already on the way"):
        driving.start_journey(box, dan, ride, "2026-01-05")
    with pytest.raises(Conflict, match="already started"):
        driving.hand_back(box, dan, ride, "2026-01-05")
    for bad in ("abc", "-1", "2001", "1.5", "12 miles", "99999"):
        with pytest.raises(InvalidInput) as refused:
            driving.done(box, dan, ride, "2026-01-05", bad)
        assert set(refused.value.fields) == {"miles"}
    assert record_count() == before
    driving.done(box, dan, ride, "2026-01-05", " 12 ")
    row = Journey.get((Journey.ride == ride) & (Journey.date == "2026-01-05"))
    assert (row.state, row.driver, row.miles) == ("done", dan.id, 12)
    before = record_count()
    with pytest.raises(Conflict, match="already done"):
        driving.done(box, dan, ride, "2026-01-05", "3")
    assert record_count() == before


def test_done_without_miles_and_without_setting_off(box, alice, dan, clock):
    ride = ask(box, alice)
    driving.take(box, dan, ride, "2026-01-05")
    clock.advance(5 * DAY_MS)  # two days later, the driver remembers to say so
    assert view(box, dan)["mine"][0]["can"]["done"] is True
    driving.done(box, dan, ride, "2026-01-05", "")
    row = Journey.get((Journey.ride == ride) & (Journey.date == "2026-01-05"))
    assert (row.state, row.miles) == ("done", None)


def test_a_lapsed_driver_cannot_set_off_but_can_hand_back(box, staff, alice, clock):
    lou = vouched(box, staff, "Lou Lapsing", expires="2026-01-10")
    ride = ask(box, alice, date="2026-01-12")
    driving.take(box, lou, ride, "2026-01-12")
    clock.advance(10 * DAY_MS + 20 * HOUR_MS)  # 2026-01-12 08:00, checks ran out on the 10th
    before = record_count()
    with pytest.raises(NotAllowed, match="ran out on 10 January 2026"):
        driving.start_journey(box, lou, ride, "2026-01-12")
    assert record_count() == before
    driving.hand_back(box, lou, ride, "2026-01-12")  # so someone else can go
    assert state(ride, "2026-01-12") == (None, "open")


# --- two boxes apart: the one who came second is told -----------------------------------------


def test_a_driver_who_took_a_journey_second_on_another_box_is_told(box, alice, dan):
    ride = ask(box, alice, repeat="weekly")
    driving.take(box, dan, ride, "2026-01-12")
    # Meanwhile, on a neighbour's box that could not reach this one, Fay took it at 01:00.
    neighbour = Origin("Neighbour Centre")
    trust(box, neighbour)
    fay = "f" * 64
    neighbour.tick(HOUR_MS)
    took = neighbour.make("ride.taken", {"date": "2026-01-12"}, subject=ride, author=fay)
    assert box.log.ingest([took.line]).ok
    assert took.fields["hlc"][0] == BASE_MS + HOUR_MS  # before Dan's take at 12:00
    seen = view(box, dan)
    assert seen["mine"] == []
    [lost] = seen["lost"]
    assert (lost["ride"], lost["date"], lost["series"]) == (ride, "2026-01-12", False)
    assert state(ride, "2026-01-12") == (fay, "driver_found")


def test_a_driver_who_took_a_series_second_is_told(box, alice, dan, eve):
    ride = ask(box, alice, repeat="weekly")
    # As if two boxes were apart: Eve's take of the series is first in the agreed order.
    box.log.append("ride.taken", {"date": None}, subject=ride, author=eve.id)
    box.log.append("ride.taken", {"date": None}, subject=ride, author=dan.id)
    seen = view(box, dan)
    assert seen["mine"] == [] and seen["open"] == []
    [lost] = seen["lost"]
    assert (lost["ride"], lost["series"]) == (ride, True)
    assert view(box, eve)["lost"] == []
    # If Eve hands the series back, Dan's take stands and every journey is his.
    driving.hand_back(box, eve, ride, None)
    assert Ride.get_by_id(ride).series_driver == dan.id
    assert view(box, dan)["lost"] == []
    assert len(view(box, dan)["mine"]) == 4


# --- the calendar feed ---------------------------------------------------------------------


def test_the_calendar_token_is_the_drivers_own(box, dan, eve):
    token = ride_calendar.calendar_token(box, dan.id)
    assert len(token) == 64 and token == ride_calendar.calendar_token(box, dan.id)
    assert token != ride_calendar.calendar_token(box, eve.id)
    assert token != calendar_feeds.calendar_token(box, dan.id)  # never a shift feed's token
    assert ride_calendar.driver_for_token(box, dan.id, token).id == dan.id
    for member_id, bad in ((dan.id, "0" * 64), (eve.id, token), (dan.id, ""), ("x", token)):
        with pytest.raises(NotFound):
            ride_calendar.driver_for_token(box, member_id, bad)


def test_the_feed_lists_the_drivers_journeys_with_pickup_addresses(box, alice, bob, dan, eve):
    dog = ask(box, alice, repeat="weekly", needs=["assistance-dog"])  # Dan's car: no dogs
    theirs = ask(box, bob, date="2026-01-06")
    ride = ask(box, bob, date="2026-01-07", time="09:15")
    driving.take(box, dan, ride, None)
    driving.take(box, eve, theirs, "2026-01-06")
    feed = unfold(ride_calendar.driver_feed(box, dan))
    assert feed.count("BEGIN:VEVENT") == 1
    assert "DTSTART:20260107T091500Z" in feed
    assert f"UID:{ride}-2026-01-07@kith" in feed
    assert "LOCATION:4 Mill Lane\\, Millbrook" in feed
    assert "To: City Hospital\\, Ward 7" in feed and "Rider: Bob" in feed
    assert "Pick up at 09:15" in feed
    assert theirs not in feed and dog not in feed


def unfold(feed: bytes) -> str:
    """Return an iCalendar feed as text with its long lines unfolded (RFC 5545 3.1)."""
    return feed.decode().replace("\r\n ", "")


def test_a_cancelled_journey_stays_in_the_feed_as_cancelled(box, alice, dan):
    ride = ask(box, alice)
    driving.take(box, dan, ride, "2026-01-05")
    rides.cancel(box, alice, ride, "2026-01-05", "Feeling better")
    feed = unfold(ride_calendar.driver_feed(box, dan))
    assert (
        "STATUS:CANCELLED" in feed
        and "SUMMARY:Cancelled: Drive: Millbrook to City Hospital" in feed
    )


def test_the_feed_keeps_two_weeks_back_and_eight_ahead(box, alice, dan, clock):
    ride = ask(box, alice, repeat="weekly")
    driving.take(box, dan, ride, None)
    feed = ride_calendar.driver_feed(box, dan).decode()
    assert feed.count("BEGIN:VEVENT") == 8  # 5 Jan to 23 Feb: the next eight weeks
    clock.advance(21 * DAY_MS)  # 2026-01-22: 5 Jan is more than two weeks back
    feed = ride_calendar.driver_feed(box, dan).decode()
    assert "DTSTART:20260105" not in feed and "DTSTART:20260112" in feed


def test_no_feed_once_the_driver_lapses(box, staff, alice, clock):
    lou = vouched(box, staff, "Lou Lapsing", expires="2026-01-10")
    token = ride_calendar.calendar_token(box, lou.id)
    assert ride_calendar.driver_for_token(box, lou.id, token).id == lou.id
    clock.advance(10 * DAY_MS)
    with pytest.raises(NotFound):
        ride_calendar.driver_for_token(box, lou.id, token)


def test_the_feed_shows_the_area_when_this_box_cannot_open_the_addresses(box, dan):
    neighbour = Origin("Neighbour Centre")
    trust(box, neighbour)
    neighbour.tick(HOUR_MS)
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
    # Sealed only for the neighbour's own box: this box holds no copy it can open.
    sealed = neighbour.make(
        "ride.addresses", {"sealed": {neighbour.origin: "AAAA"}}, subject=asked.id, author=rider
    )
    assert box.log.ingest([asked.line, sealed.line]).ok
    [journey] = view(box, dan)["open"]
    assert journey["centre"] == f"peer {neighbour.origin[:6]}"
    driving.take(box, dan, asked.id, "2026-01-08")
    [mine] = view(box, dan)["mine"]
    assert mine["addresses"] is None
    feed = ride_calendar.driver_feed(box, dan).decode()
    assert "LOCATION:Oakfield" in feed and "Appointment at 11:30" in feed
