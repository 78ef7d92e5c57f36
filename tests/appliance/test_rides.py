"""Riders' side of community travel: asking for rides, their repeats, journeys and
cancelling, and the visibility rules (appliance/services/ride_access.py).

The box's clock starts at 2026-01-01 12:00 UTC, noon in London (a Thursday).
"""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest
from boxes import member, record_count, trust, with_role
from recordmaker import Origin, ride_body

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Ride, StoredRecord
from appliance.sealing import seal_for
from appliance.services import ride_access, ride_recurrence, rides
from appliance.services.accounts import actor_for

HOUR = 3_600_000
DAY = 24 * HOUR
LONDON = "Europe/London"

RIDE = {
    "from_address": "12 Mill Lane, Millbrook MB1 2AB",
    "to_address": "City Hospital, Outpatients, Station Road",
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "date": "2026-01-06",  # a Tuesday
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "none",
    "return_at": "12:00",
    "passengers": "1",
    "notes": "Ring the bell twice",
}
CAR = {"seats": 3, "wheelchair": False, "folded_chair": True, "dogs": False}
VAN = {"seats": 6, "wheelchair": True, "folded_chair": True, "dogs": True}


def d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def vouch(box, staff, who, vehicle=CAR, expires="2027-06-30"):
    """Record staff's vouch for a driver, as the staff pages will (driver.vouched)."""
    check = {"check": "licence", "label": "Driving licence seen", "seen": "2025-06-01"}
    body = {"checks": [{**check, "expires": expires}], "vehicle": vehicle}
    box.log.append("driver.vouched", body, subject=who.id, author=staff.id)
    return who


def ask(box, actor, **changes) -> Ride:
    ride_id = rides.request_ride(box, actor, {**RIDE, **changes})
    return Ride.get_by_id(ride_id)


def act(box, kind, ride, who, **body):
    box.log.append(kind, body, subject=ride.id, author=who.id)
    return Ride.get_by_id(ride.id)


def states(box, viewer, ride, start, end):
    return [(j["date"], j["state"]) for j in rides.journeys(box, viewer, ride, d(start), d(end))]


@pytest.fixture
def cora(box):
    """A coordinator (not staff)."""
    return with_role(box, "Cora Coordinator", "coordinator")


@pytest.fixture
def dan(box, staff):
    """An authorised driver with a car: three seats, room for a folded chair."""
    return vouch(box, staff, member(box, "Dan Driver"))


@pytest.fixture
def vera(box, staff):
    """An authorised driver with a wheelchair-accessible van."""
    return vouch(box, staff, member(box, "Vera Van"), VAN)


# --- asking for a ride -------------------------------------------------------------------


def test_a_member_asks_for_a_ride_and_the_addresses_are_sealed(box, alice):
    before = record_count()
    ride = ask(box, alice, needs=["hard-of-hearing"])
    assert record_count() == before + 2
    assert (ride.rider, ride.author, ride.origin) == (alice.id, alice.id, box.origin)
    assert (ride.from_area, ride.to_area) == ("Millbrook", "City Hospital")
    assert (ride.start, ride.tz, ride.time_is, ride.window) == (
        "2026-01-06T09:30",
        LONDON,
        "pickup",
        15,
    )
    assert (ride.rrule, ride.return_at, ride.passengers) == (None, "12:00", 1)
    assert json.loads(ride.needs) == ["hard-of-hearing"]
    kinds = [r.kind for r in StoredRecord.select().order_by(StoredRecord.seq)][-2:]
    assert kinds == ["ride.requested", "ride.addresses"]
    # The exact addresses and the notes never appear in the clear in any record.
    raw = b"".join(r.raw for r in StoredRecord.select())
    for secret in ("Mill Lane", "Outpatients", "Ring the bell"):
        assert secret.encode() not in raw
    assert ride_access.addresses(box, alice, ride) == {
        "from_address": RIDE["from_address"],
        "to_address": RIDE["to_address"],
        "notes": RIDE["notes"],
    }


def test_optional_fields_take_their_defaults(box, alice):
    ride = ask(box, alice, window="", passengers="", return_at="", notes="", time="9:05")
    assert (ride.window, ride.passengers, ride.return_at, ride.start[11:]) == (0, 1, None, "09:05")
    assert ride_access.addresses(box, alice, ride)["notes"] == ""


def test_a_visitor_cannot_ask(box):
    before = record_count()
    with pytest.raises(NotSignedIn):
        rides.request_ride(box, None, RIDE)
    assert record_count() == before


BAD = [
    ({"date": "2025-12-31"}, "date"),  # a pickup in the past
    ({"date": "2026-01-01", "time": "11:00"}, "date"),  # earlier today
    ({"date": "2027-03-01"}, "date"),  # more than a year ahead
    ({"date": "6/1/2026"}, "date"),
    ({"date": "2026-02-30"}, "date"),
    ({"time": "25:00"}, "time"),
    ({"time": ""}, "time"),
    ({"return_at": "09:00"}, "return_at"),  # a return before the outbound
    ({"return_at": "09:30"}, "return_at"),
    ({"return_at": "noon"}, "return_at"),
    ({"needs": ["jetpack"]}, "needs"),  # an unknown access need
    ({"needs": ["hard-of-hearing", "Escort"]}, "needs"),
    ({"repeat": "daily"}, "repeat"),
    ({"repeat": "weeks", "weeks": "0"}, "weeks"),
    ({"repeat": "weeks", "weeks": "13"}, "weeks"),
    ({"repeat": "weeks", "weeks": ""}, "weeks"),
    ({"repeat": "weekly", "days": ["TU", "XX"]}, "days"),
    ({"repeat": "weekly", "until": "2026-01-05"}, "until"),  # before the first journey
    ({"repeat": "weekly", "until": "next year"}, "until"),
    ({"repeat": "weekly", "count": "0"}, "count"),
    ({"repeat": "weekly", "count": "521"}, "count"),
    ({"repeat": "weekly", "count": "3", "until": "2026-02-01"}, "count"),
    ({"passengers": "0"}, "passengers"),
    ({"passengers": "9"}, "passengers"),
    ({"passengers": "two"}, "passengers"),
    ({"window": "-1"}, "window"),
    ({"window": "241"}, "window"),  # an absurd window
    ({"window": "a while"}, "window"),
    ({"time_is": "dropoff"}, "time_is"),
    ({"from_address": ""}, "from_address"),
    ({"to_address": "x" * 201}, "to_address"),
    ({"from_area": "  "}, "from_area"),
    ({"to_area": "y" * 81}, "to_area"),
    ({"notes": "z" * 501}, "notes"),
]


@pytest.mark.parametrize(("changes", "field"), BAD)
def test_bad_input_names_the_field_and_writes_nothing(box, alice, changes, field):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        rides.request_ride(box, alice, {**RIDE, **changes})
    assert set(caught.value.fields) == {field}
    assert record_count() == before
    assert Ride.select().count() == 0


def test_every_wrong_field_is_named_at_once(box, alice):
    before = record_count()
    bad = {"from_area": "", "passengers": "0", "return_at": "08:00", "needs": ["nope"]}
    with pytest.raises(InvalidInput) as caught:
        rides.request_ride(box, alice, {**RIDE, **bad})
    assert set(caught.value.fields) == {"from_area", "passengers", "return_at", "needs"}
    assert record_count() == before


def test_addresses_too_long_to_seal_are_refused_with_a_message(box, alice):
    before = record_count()
    # Four bytes a character: within each field's limit, too big together to seal.
    bus = {"from_address": "🚌" * 200, "to_address": "🚌" * 200, "notes": "🚌" * 500}
    with pytest.raises(InvalidInput) as caught:
        rides.request_ride(box, alice, {**RIDE, **bus})
    assert set(caught.value.fields) == {"notes"}
    assert record_count() == before


def test_access_needs_come_from_the_centres_list(box, alice, staff):
    box.log.append(
        "access_need.set",
        {"slug": "escort", "label": "Escort travelling", "requires": None, "active": False},
        subject=box.centre.id,
        author=staff.id,
    )
    box.log.append(
        "access_need.set",
        {"slug": "oxygen", "label": "Travels with oxygen", "requires": None, "active": True},
        subject=box.centre.id,
        author=staff.id,
    )
    before = record_count()
    with pytest.raises(InvalidInput) as caught:  # retired
        rides.request_ride(box, alice, {**RIDE, "needs": ["escort"]})
    assert set(caught.value.fields) == {"needs"}
    assert record_count() == before
    ride = ask(box, alice, needs=["oxygen", "door-to-door"])
    assert json.loads(ride.needs) == ["oxygen", "door-to-door"]


def test_staff_and_coordinators_ask_for_a_rider(box, alice, staff, cora):
    for asker in (staff, cora):
        ride = ask(box, asker, rider=alice.id)
        assert (ride.rider, ride.author) == (alice.id, asker.id)
        assert ride_access.level(box, alice, ride) == "full"
    mine = rides.my_rides(box, staff)
    assert [(r["for_someone"], r["rider"]) for r in mine] == [(True, "Alice")]


def test_only_staff_may_name_another_rider(box, alice, bob, dan):
    before = record_count()
    for asker in (bob, dan):  # a member; a driver
        with pytest.raises(NotAllowed):
            rides.request_ride(box, asker, {**RIDE, "rider": alice.id})
    assert record_count() == before
    ride = ask(box, bob, rider=bob.id)  # naming yourself is fine
    assert ride.rider == bob.id


def test_staff_must_name_a_real_member(box, staff):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        rides.request_ride(box, staff, {**RIDE, "rider": "f" * 64})
    assert set(caught.value.fields) == {"rider"}
    assert record_count() == before


def test_a_regular_driver_must_be_authorised_and_able_to_serve(box, staff, alice, bob, dan):
    lapsed = vouch(box, staff, member(box, "Lapsed Lou"), expires="2025-12-31")
    cases = [
        ({"regular_driver": bob.id}, "regular_driver"),  # never checked
        ({"regular_driver": lapsed.id}, "regular_driver"),
        ({"regular_driver": "0" * 64}, "regular_driver"),
        ({"regular_driver": alice.id}, "regular_driver"),  # the rider herself
        ({"regular_driver": dan.id, "needs": ["wheelchair-stays"]}, "regular_driver"),
        ({"regular_driver": dan.id, "passengers": "4"}, "regular_driver"),
    ]
    before = record_count()
    for changes, field in cases:
        with pytest.raises(InvalidInput) as caught:
            rides.request_ride(box, alice, {**RIDE, **changes})
        assert set(caught.value.fields) == {field}, changes
    assert record_count() == before
    ride = ask(box, alice, regular_driver=dan.id, needs=["wheelchair-transfers"])
    assert ride.regular_driver == dan.id
    choices = rides.form_choices(box, alice)
    assert [c["name"] for c in choices["drivers"]] == ["Dan Driver"]
    assert choices["riders"] is None
    assert [c["name"] for c in rides.form_choices(box, staff)["riders"]][:2] == ["Alice", "Bob"]


# --- repeats -------------------------------------------------------------------------------


def test_weekly_on_tuesdays_across_a_month_end(box, alice):
    ride = ask(box, alice, date="2026-01-27", repeat="weekly", days=["TU"])
    assert ride.rrule == "FREQ=WEEKLY;BYDAY=TU"
    assert rides.occurrences(ride, d("2026-01-20"), d("2026-02-17")) == [
        d("2026-01-27"),
        d("2026-02-03"),
        d("2026-02-10"),
        d("2026-02-17"),
    ]
    assert rides.occurrences(ride, d("2026-02-18"), d("2026-02-23")) == []
    assert rides.repeat_of(ride) == {
        "kind": "weekly",
        "interval": 1,
        "days": ["TU"],
        "until": None,
        "count": None,
    }


def test_every_other_friday_keeps_its_local_time_across_both_clock_changes(box, alice):
    ride = ask(box, alice, date="2026-03-20", repeat="fortnightly", days=["FR"], return_at="")
    assert ride.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"
    spring = rides.occurrences(ride, d("2026-03-01"), d("2026-04-30"))
    assert spring == [d("2026-03-20"), d("2026-04-03"), d("2026-04-17")]
    autumn = rides.occurrences(ride, d("2026-10-01"), d("2026-11-30"))
    assert autumn == [
        d("2026-10-02"),
        d("2026-10-16"),
        d("2026-10-30"),
        d("2026-11-13"),
        d("2026-11-27"),
    ]
    utc = {}
    for day in spring + autumn:
        at = rides.journey_time(ride, day)
        assert (at.date(), at.strftime("%H:%M")) == (day, "09:30")
        utc[day] = at.astimezone(datetime.UTC).strftime("%H:%M")
    # Clocks go forward on 29 March and back on 25 October 2026 in London.
    assert [utc[x] for x in spring] == ["09:30", "08:30", "08:30"]
    assert [utc[x] for x in autumn] == ["08:30", "08:30", "09:30", "09:30", "09:30"]
    journeys = rides.journeys(box, alice, ride, d("2026-03-20"), d("2026-04-03"))
    assert [(j["date"], j["time"]) for j in journeys] == [
        ("2026-03-20", "09:30"),
        ("2026-04-03", "09:30"),
    ]


def test_every_n_weeks_on_several_days(box, alice):
    ride = ask(box, alice, date="2026-01-05", repeat="weeks", weeks="3", days=["TH", "MO"])
    assert ride.rrule == "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH"
    assert rides.occurrences(ride, d("2026-01-01"), d("2026-02-12")) == [
        d("2026-01-05"),
        d("2026-01-08"),
        d("2026-01-26"),
        d("2026-01-29"),
    ]


def test_a_repeat_starts_on_the_first_chosen_day_on_or_after_the_date(box, alice):
    # 8 January is a Thursday: the first Tuesday is the 13th.
    ride = ask(box, alice, date="2026-01-08", repeat="weekly", days=["TU"])
    assert ride.start == "2026-01-13T09:30"
    assert rides.occurrences(ride, d("2026-01-01"), d("2026-01-20")) == [
        d("2026-01-13"),
        d("2026-01-20"),
    ]
    # No day chosen: the date's own weekday.
    ride = ask(box, alice, date="2026-01-08", repeat="weekly")
    assert (ride.start[:10], ride.rrule) == ("2026-01-08", "FREQ=WEEKLY;BYDAY=TH")


def test_until_is_written_in_utc_and_includes_the_last_day(box, alice):
    ride = ask(box, alice, date="2026-06-05", time="23:30", return_at="", repeat="weekly",
               days=["FR"], until="2026-06-26")  # fmt: skip
    # The end of 26 June in London (summer time) is 22:59:59 UTC.
    assert ride.rrule == "FREQ=WEEKLY;BYDAY=FR;UNTIL=20260626T225959Z"
    assert rides.occurrences(ride, d("2026-06-01"), d("2026-12-31")) == [
        d("2026-06-05"),
        d("2026-06-12"),
        d("2026-06-19"),
        d("2026-06-26"),
    ]
    assert rides.repeat_of(ride)["until"] == "2026-06-26"


def test_count_limits_the_journeys(box, alice):
    ride = ask(box, alice, repeat="weekly", days=["TU"], count="3")
    assert ride.rrule == "FREQ=WEEKLY;BYDAY=TU;COUNT=3"
    assert rides.occurrences(ride, d("2026-01-01"), d("2026-12-31")) == [
        d("2026-01-06"),
        d("2026-01-13"),
        d("2026-01-20"),
    ]
    assert rides.repeat_of(ride)["count"] == 3


def test_february_the_29th(box, alice, clock):
    weekly = SimpleNamespace(start="2028-02-15T10:00", tz=LONDON, rrule="FREQ=WEEKLY;BYDAY=TU")
    assert rides.occurrences(weekly, d("2028-02-20"), d("2028-03-08")) == [
        d("2028-02-22"),
        d("2028-02-29"),
        d("2028-03-07"),
    ]
    yearly = SimpleNamespace(start="2028-02-29T10:00", tz=LONDON, rrule="FREQ=YEARLY")
    assert rides.occurrences(yearly, d("2028-01-01"), d("2036-12-31")) == [
        d("2028-02-29"),
        d("2032-02-29"),
        d("2036-02-29"),
    ]
    clock.ms = int(datetime.datetime(2028, 2, 1, 12, tzinfo=datetime.UTC).timestamp() * 1000)
    ride = ask(box, alice, date="2028-02-29")
    assert rides.occurrences(ride, d("2028-02-28"), d("2028-03-01")) == [d("2028-02-29")]
    with pytest.raises(InvalidInput) as caught:
        rides.request_ride(box, alice, {**RIDE, "date": "2027-02-29"})
    assert set(caught.value.fields) == {"date"}


def test_a_one_off_ride_has_one_journey(box, alice):
    ride = ask(box, alice)
    assert rides.occurrences(ride, d("2026-01-01"), d("2026-12-31")) == [d("2026-01-06")]
    assert rides.occurrences(ride, d("2026-01-07"), d("2026-12-31")) == []
    assert rides.is_occurrence(ride, d("2026-01-06"))
    assert not rides.is_occurrence(ride, d("2026-01-13"))
    assert rides.repeat_of(ride) == {"kind": "none"}


def test_times_missing_or_twice_at_a_clock_change():
    sundays = SimpleNamespace(start="2026-03-22T01:30", tz=LONDON, rrule="FREQ=WEEKLY;BYDAY=SU")
    # 29 March 2026: 01:30 does not exist in London; it moves forward to 02:30 summer time.
    gap = rides.journey_time(sundays, d("2026-03-29"))
    assert (gap.strftime("%H:%M"), gap.utcoffset()) == ("02:30", datetime.timedelta(hours=1))
    assert gap.astimezone(datetime.UTC).strftime("%H:%M") == "01:30"
    # 25 October 2026: 01:30 happens twice; the first (summer time) is meant.
    twice = rides.journey_time(sundays, d("2026-10-25"))
    assert (twice.strftime("%H:%M"), twice.utcoffset()) == ("01:30", datetime.timedelta(hours=1))
    assert d("2026-03-29") in rides.occurrences(sundays, d("2026-03-29"), d("2026-03-29"))


def test_rules_from_elsewhere_are_read_or_fall_back_to_the_first_journey():
    # Another implementation may write a local UNTIL: read in wall time.
    local_until = SimpleNamespace(
        start="2026-01-06T09:30", tz=LONDON, rrule="FREQ=WEEKLY;BYDAY=TU;UNTIL=20260120T093000"
    )
    assert rides.occurrences(local_until, d("2026-01-01"), d("2026-03-01")) == [
        d("2026-01-06"),
        d("2026-01-13"),
        d("2026-01-20"),
    ]
    assert rides.repeat_of(local_until)["until"] == "2026-01-20"
    unreadable = SimpleNamespace(start="2026-01-06T09:30", tz=LONDON, rrule="FREQ=SOMETIMES")
    assert rides.occurrences(unreadable, d("2026-01-01"), d("2026-03-01")) == [d("2026-01-06")]
    assert rides.repeat_of(unreadable)["kind"] == "other"
    unknown_zone = SimpleNamespace(start="2026-01-06T09:30", tz="Mars/Olympus", rrule=None)
    assert rides.journey_time(unknown_zone, d("2026-01-06")).utcoffset() == datetime.timedelta(0)


# --- escalation ----------------------------------------------------------------------------


def test_a_regular_driver_has_the_ride_first_then_every_driver_then_an_alert(
    box, clock, alice, dan, vera, cora
):
    start = clock.ms
    ride = ask(box, alice, date="2026-01-10", regular_driver=dan.id)  # Saturday 09:30
    day = d("2026-01-10")
    assert ride_access.stage(box, ride) == "regular"
    assert ride_access.stage(box, ride, day) == "regular"
    assert states(box, alice, ride, "2026-01-10", "2026-01-10") == [
        ("2026-01-10", "offered_regular")
    ]
    assert ride_access.level(box, dan, ride) == "area"
    assert ride_access.level(box, vera, ride) is None
    assert ride_access.level(box, cora, ride) == "full"

    clock.ms = start + 24 * HOUR - 1
    assert ride_access.stage(box, ride, day) == "regular"
    assert ride_access.level(box, vera, ride, day) is None

    clock.ms = start + 24 * HOUR
    assert ride_access.stage(box, ride, day) == "drivers"
    assert states(box, alice, ride, "2026-01-10", "2026-01-10") == [("2026-01-10", "requested")]
    assert ride_access.level(box, vera, ride, day) == "area"
    assert ride_access.level(box, dan, ride, day) == "area"

    due = int(rides.journey_time(ride, day).timestamp() * 1000)
    clock.ms = due - 48 * HOUR - 1
    assert ride_access.stage(box, ride, day) == "drivers"
    clock.ms = due - 48 * HOUR
    assert ride_access.stage(box, ride, day) == "alert"
    assert ride_access.stage(box, ride) == "alert"
    # Once a driver has the journey it is no longer unmet.
    act(box, "ride.taken", ride, vera, date="2026-01-10")
    assert ride_access.stage(box, ride, day) == "drivers"


def test_the_stage_can_be_asked_for_any_moment(box, clock, alice, dan):
    ride = ask(box, alice, date="2026-01-10", regular_driver=dan.id)
    assert ride_access.stage(box, ride, d("2026-01-10"), now_ms=clock.ms + 30 * HOUR) == "drivers"
    assert ride_access.stage(box, ride, d("2026-01-10"), now_ms=clock.ms + 1 * HOUR) == "regular"


def test_an_urgent_ride_alerts_at_once_even_with_a_regular_driver(box, alice, dan, vera):
    ride = ask(box, alice, date="2026-01-02", regular_driver=dan.id)  # tomorrow
    assert ride_access.stage(box, ride) == "alert"
    assert ride_access.level(box, vera, ride) == "area"
    assert states(box, alice, ride, "2026-01-02", "2026-01-02") == [("2026-01-02", "requested")]


def test_without_a_regular_driver_every_driver_sees_it_at_once(box, alice, dan, vera):
    ride = ask(box, alice, date="2026-01-10")
    assert ride_access.stage(box, ride) == "drivers"
    assert ride_access.level(box, dan, ride) == ride_access.level(box, vera, ride) == "area"


def test_a_regular_driver_who_lapses_loses_the_head_start(box, clock, staff, alice, vera):
    lou = vouch(box, staff, member(box, "Lou"), expires="2026-01-01")  # valid today only
    ride = ask(box, alice, date="2026-01-10", regular_driver=lou.id)
    assert ride_access.stage(box, ride) == "regular"
    assert ride_access.level(box, vera, ride) is None
    clock.ms += 13 * HOUR  # 01:00 on 2 January: Lou's checks ran out last night
    assert ride_access.stage(box, ride) == "drivers"
    assert ride_access.level(box, lou, ride) is None
    assert ride_access.level(box, vera, ride) == "area"


# --- visibility ----------------------------------------------------------------------------


def test_who_sees_what_of_a_ride(box, staff, alice, bob, cora, dan, vera):
    ride = ask(box, alice, date="2026-01-10", needs=["wheelchair-stays"], passengers="2")
    lapsed = vouch(box, staff, member(box, "Lapsed Lou"), VAN, expires="2025-12-31")
    withdrawn = vouch(box, staff, member(box, "Wendy"), VAN)
    box.log.append(
        "driver.withdrawn", {"reason": "moved away"}, subject=withdrawn.id, author=staff.id
    )
    small = vouch(box, staff, member(box, "Sid Small"), {**VAN, "seats": 1})
    other_rider = member(box, "Olive")
    ask(box, other_rider, date="2026-01-10")
    expected = {
        "rider": (alice, "full"),
        "staff": (staff, "full"),
        "coordinator": (cora, "full"),
        "suitable driver": (vera, "area"),
        "unsuitable vehicle": (dan, None),  # no room for a wheelchair user in the chair
        "too few seats": (small, None),
        "lapsed driver": (lapsed, None),
        "withdrawn driver": (withdrawn, None),
        "member": (bob, None),
        "other rider": (other_rider, None),
        "visitor": (None, None),
    }
    for who, (viewer, want) in expected.items():
        assert ride_access.level(box, viewer, ride) == want, who
        assert ride_access.level(box, viewer, ride, d("2026-01-10")) == want, who
        opened = ride_access.addresses(box, viewer, ride)
        assert (opened is not None) == (want == "full"), who
        if want is None:
            with pytest.raises(NotFound) as caught:
                ride_access.require_level(box, viewer, ride.id)
            assert caught.value.message == "There is nothing at this address."
            with pytest.raises(NotFound):
                rides.ride_detail(box, viewer, ride.id)
            with pytest.raises(NotFound):
                rides.journeys(box, viewer, ride, d("2026-01-01"), d("2026-02-01"))
        else:
            assert ride_access.require_level(box, viewer, ride.id) == (ride, want)
    # An unknown ride looks exactly like one you may not see.
    with pytest.raises(NotFound) as caught:
        ride_access.require_level(box, alice, "0" * 64)
    assert caught.value.message == "There is nothing at this address."


def test_a_driver_sees_area_time_and_passengers_until_they_take_it(box, alice, dan, vera):
    ride = ask(box, alice, date="2026-01-10", needs=["door-to-door"], passengers="2")
    seen = rides.ride_detail(box, dan, ride.id)
    assert seen["level"] == "area"
    assert (seen["from_area"], seen["to_area"], seen["time"], seen["passengers"]) == (
        "Millbrook",
        "City Hospital",
        "09:30",
        2,
    )
    for private in ("addresses", "needs", "rider", "regular_driver", "cancel_reason"):
        assert private not in seen
    assert "Mill Lane" not in json.dumps(seen)

    ride = act(box, "ride.taken", ride, dan, date="2026-01-10")
    mine = rides.ride_detail(box, dan, ride.id)
    assert mine["level"] == "full"
    assert mine["addresses"]["from_address"] == RIDE["from_address"]
    assert mine["needs"] == ["Needs help to the door"]
    assert [j["driver"] for j in mine["journeys"]] == ["Dan Driver"]
    # Taken: other drivers no longer see it at all.
    assert ride_access.level(box, vera, ride) is None
    assert ride_access.level(box, vera, ride, d("2026-01-10")) is None
    # Handed back: open again for every suitable driver, and Dan is back to the area.
    ride = act(box, "ride.handed_back", ride, dan, date="2026-01-10")
    assert ride_access.level(box, vera, ride) == "area"
    assert ride_access.level(box, dan, ride, d("2026-01-10")) == "area"


def test_the_driver_of_one_journey_sees_that_journey_only(box, alice, dan, vera):
    ride = ask(box, alice, repeat="weekly", days=["TU"])
    ride = act(box, "ride.taken", ride, dan, date="2026-01-13")
    assert ride_access.level(box, dan, ride, d("2026-01-13")) == "full"
    assert ride_access.level(box, dan, ride, d("2026-01-20")) == "area"
    assert ride_access.level(box, dan, ride, d("2026-01-14")) is None  # not a journey
    assert ride_access.level(box, vera, ride, d("2026-01-13")) is None
    assert ride_access.level(box, vera, ride, d("2026-01-20")) == "area"
    seen = rides.journeys(box, vera, ride, d("2026-01-06"), d("2026-01-20"))
    assert [(j["date"], j["driver"]) for j in seen] == [("2026-01-06", None), ("2026-01-20", None)]
    held = rides.journeys(box, dan, ride, d("2026-01-06"), d("2026-01-20"))
    assert [(j["date"], j["driver"]) for j in held] == [
        ("2026-01-06", None),
        ("2026-01-13", "Dan Driver"),
        ("2026-01-20", None),
    ]


def test_the_series_driver_sees_everything_and_others_nothing(box, alice, dan, vera):
    ride = ask(box, alice, repeat="weekly", days=["TU"])
    ride = act(box, "ride.taken", ride, dan, date=None)
    assert ride_access.level(box, dan, ride) == "full"
    assert ride_access.level(box, dan, ride, d("2026-02-03")) == "full"
    assert ride_access.level(box, vera, ride) is None
    assert ride_access.level(box, vera, ride, d("2026-02-03")) is None


def test_a_driver_who_lapses_loses_even_their_own_journey(box, clock, staff, alice):
    lou = vouch(box, staff, member(box, "Lou"), expires="2026-01-05")
    ride = ask(box, alice, date="2026-01-10")
    ride = act(box, "ride.taken", ride, lou, date="2026-01-10")
    assert ride_access.level(box, lou, ride) == "full"
    clock.ms += 5 * DAY
    assert ride_access.level(box, lou, ride) is None
    assert ride_access.addresses(box, lou, ride) is None


def test_past_and_cancelled_journeys_are_not_shown_to_drivers_looking_for_work(
    box, clock, alice, dan
):
    ride = ask(box, alice, date="2026-01-06")
    clock.ms = int(rides.journey_time(ride, d("2026-01-06")).timestamp() * 1000) + 1
    assert ride_access.level(box, dan, ride) is None
    assert ride_access.level(box, alice, ride) == "full"
    clock.ms = ride.created_ms
    other = ask(box, alice, date="2026-01-08")
    other = act(box, "ride.cancelled", other, alice, date=None, reason="")
    assert ride_access.level(box, dan, other) is None


# --- journeys' states ----------------------------------------------------------------------


def test_the_rider_sees_each_journeys_state(box, staff, alice, dan, cora):
    ride = ask(box, alice, repeat="weekly", days=["TU"])
    act(box, "ride.taken", ride, dan, date="2026-01-13")
    act(box, "ride.taken", ride, dan, date="2026-01-20")
    act(box, "ride.started", ride, dan, date="2026-01-20")
    act(box, "ride.taken", ride, dan, date="2026-01-27")
    act(box, "ride.done", ride, dan, date="2026-01-27", miles=12)
    act(box, "ride.cancelled", ride, alice, date="2026-02-03", reason="")
    paid = {
        "provider": "town-taxis",
        "provider_name": "Town Taxis",
        "cost": 1850,
        "reference": "T1",
    }
    ride = act(box, "ride.paid", ride, cora, date="2026-02-10", **paid)
    seen = rides.journeys(box, alice, ride, d("2026-01-06"), d("2026-02-17"))
    assert [(j["date"], j["state"], j["driver"], j["provider"]) for j in seen] == [
        ("2026-01-06", "requested", None, None),
        ("2026-01-13", "driver_found", "Dan Driver", None),
        ("2026-01-20", "on_the_way", "Dan Driver", None),
        ("2026-01-27", "done", "Dan Driver", None),
        ("2026-02-03", "cancelled", None, None),
        ("2026-02-10", "paid", None, "Town Taxis"),
        ("2026-02-17", "requested", None, None),
    ]
    assert [j["can_cancel"] for j in seen] == [True, True, True, False, False, True, True]
    assert {(j["time"], j["return_at"]) for j in seen} == {("09:30", "12:00")}
    # The whole series taken: every other journey has its driver.
    ride = act(box, "ride.taken", ride, dan, date=None)
    series = rides.journeys(box, staff, ride, d("2026-02-17"), d("2026-02-24"))
    assert [(j["state"], j["driver"]) for j in series] == [("driver_found", "Dan Driver")] * 2


# --- cancelling ----------------------------------------------------------------------------


def test_the_rider_cancels_one_journey_then_the_rest(box, alice):
    ride = ask(box, alice, repeat="weekly", days=["TU"])
    before = record_count()
    rides.cancel(box, alice, ride.id, "2026-01-13", "Hospital moved my appointment")
    assert record_count() == before + 1
    assert states(box, alice, ride, "2026-01-06", "2026-01-20") == [
        ("2026-01-06", "requested"),
        ("2026-01-13", "cancelled"),
        ("2026-01-20", "requested"),
    ]
    with pytest.raises(Conflict):
        rides.cancel(box, alice, ride.id, "2026-01-13", "")
    rides.cancel(box, alice, ride.id, None, "Feeling better")
    ride = Ride.get_by_id(ride.id)
    assert (ride.cancelled, ride.cancel_reason) == (True, "Feeling better")
    assert {s for _, s in states(box, alice, ride, "2026-01-06", "2026-03-31")} == {"cancelled"}
    before = record_count()
    with pytest.raises(Conflict):
        rides.cancel(box, alice, ride.id, None, "")
    with pytest.raises(Conflict):
        rides.cancel(box, alice, ride.id, "2026-01-20", "")
    assert record_count() == before


def test_staff_and_coordinators_cancel_for_the_rider(box, alice, staff, cora):
    ride = ask(box, alice, repeat="weekly", days=["TU"])
    rides.cancel(box, staff, ride.id, "2026-01-06", "Rider phoned the desk")
    rides.cancel(box, cora, ride.id, None, "")
    assert Ride.get_by_id(ride.id).cancelled


def test_past_and_done_journeys_cannot_be_cancelled(box, clock, alice, dan):
    ride = ask(box, alice, repeat="weekly", days=["TU"])
    act(box, "ride.taken", ride, dan, date="2026-01-13")
    act(box, "ride.done", ride, dan, date="2026-01-13", miles=None)
    clock.ms = int(rides.journey_time(ride, d("2026-01-06")).timestamp() * 1000)
    before = record_count()
    for date in ("2026-01-06", "2026-01-13"):
        with pytest.raises(Conflict):
            rides.cancel(box, alice, ride.id, date, "")
    assert record_count() == before
    one_off = ask(box, alice, date="2026-01-07")
    assert rides.ride_detail(box, alice, one_off.id)["can_cancel"]
    clock.ms = int(rides.journey_time(one_off, d("2026-01-07")).timestamp() * 1000) + 1
    assert not rides.ride_detail(box, alice, one_off.id)["can_cancel"]
    with pytest.raises(Conflict):
        rides.cancel(box, alice, one_off.id, None, "")
    assert record_count() == before + 2  # only the second request's two records


def test_bad_cancellations_change_nothing(box, alice, bob, dan):
    ride = ask(box, alice, date="2026-01-10")
    before = record_count()
    with pytest.raises(NotFound):  # a member: not even told the ride exists
        rides.cancel(box, bob, ride.id, None, "")
    with pytest.raises(NotSignedIn):
        rides.cancel(box, None, ride.id, None, "")
    with pytest.raises(NotAllowed):  # a driver who can see it hands back, never cancels
        rides.cancel(box, dan, ride.id, None, "")
    for date, field in (("10/01/2026", "date"), ("2026-01-11", "date")):
        with pytest.raises(InvalidInput) as caught:
            rides.cancel(box, alice, ride.id, date, "")
        assert set(caught.value.fields) == {field}
    with pytest.raises(InvalidInput) as caught:
        rides.cancel(box, alice, ride.id, None, "x" * 501)
    assert set(caught.value.fields) == {"reason"}
    with pytest.raises(NotFound):
        rides.cancel(box, alice, "0" * 64, None, "")
    assert record_count() == before


# --- the rider's page ------------------------------------------------------------------


def test_my_rides_lists_what_is_coming_and_the_last_week(box, clock, alice, bob):
    weekly = ask(box, alice, repeat="weekly", days=["TU"], from_area="Home")
    one_off = ask(box, alice, date="2026-01-08", to_area="Library")
    later = ask(box, alice, date="2026-09-01", to_area="Seaside")
    mine = rides.my_rides(box, alice)
    assert [r["id"] for r in mine] == [weekly.id, one_off.id, later.id]
    assert [j["date"] for j in mine[0]["journeys"]] == [
        "2026-01-06",
        "2026-01-13",
        "2026-01-20",
        "2026-01-27",
    ]
    assert mine[2]["journeys"] == []  # beyond the next four weeks, still listed
    assert rides.my_rides(box, bob) == []
    clock.ms += 14 * DAY  # 15 January: the one-off was a week ago, still shown
    assert [r["id"] for r in rides.my_rides(box, alice)] == [weekly.id, one_off.id, later.id]
    clock.ms += 2 * DAY  # 17 January: more than a week ago, dropped
    assert [r["id"] for r in rides.my_rides(box, alice)] == [weekly.id, later.id]
    with pytest.raises(NotSignedIn):
        rides.my_rides(box, None)


def test_staff_who_are_staff_no_more_lose_the_rides_they_asked_for(box, alice, admin):
    sam = with_role(box, "Sam", "staff")
    ask(box, sam, rider=alice.id)
    assert len(rides.my_rides(box, sam)) == 1
    box.log.append("role.revoked", {"role": "staff"}, subject=sam.id, author=admin.id)
    assert rides.my_rides(box, actor_for(box, sam.id)) == []


# --- another centre's rides, late series takes, rules from elsewhere ----------------------


def neighbour_ride(box, rider="a" * 64, **changes) -> Ride:
    """Ingest a ride asked for at a trusted neighbouring centre, its addresses sealed to
    this box too (as they are for a box the neighbour pairs with directly)."""
    neighbour = Origin("Neighbour Centre")
    trust(box, neighbour)
    neighbour.tick(HOUR)
    private = {"from_address": "9 Elm Row", "to_address": "Oak Surgery", "notes": "Key safe 1234"}
    body = ride_body(rider, needs=["hard-of-hearing"], **changes)
    asked = neighbour.make("ride.requested", body, author=rider)
    sealed = neighbour.make(
        "ride.addresses", {"sealed": seal_for(box, private)}, subject=asked.id, author=rider
    )
    assert box.log.ingest([asked.line, sealed.line]).ok
    return Ride.get_by_id(asked.id)


def test_another_centres_staff_see_the_area_and_time_only(box, staff, cora, dan):
    ride = neighbour_ride(box)
    assert ride.origin != box.origin
    for viewer in (staff, cora):
        assert ride_access.level(box, viewer, ride) == "area"
        assert ride_access.addresses(box, viewer, ride) is None
        seen = rides.ride_detail(box, viewer, ride.id)
        assert (seen["level"], seen["other_centre"], seen["can_cancel"]) == ("area", True, False)
        assert (seen["from_area"], seen["to_area"], seen["passengers"]) == (
            "Millbrook",
            "City Hospital",
            1,
        )
        assert not {"addresses", "needs", "rider", "cancel_reason", "asked_by"} & set(seen)
        assert [(j["date"], j["can_cancel"]) for j in seen["journeys"]] == [("2026-01-13", False)]
        text = repr(seen)
        for secret in ("Elm Row", "Oak Surgery", "Key safe", "hard-of-hearing", "a" * 64):
            assert secret not in text
        before = record_count()
        for date in (None, "2026-01-13"):
            with pytest.raises(NotAllowed):
                rides.cancel(box, viewer, ride.id, date, "not ours")
        assert record_count() == before
        assert Ride.get_by_id(ride.id).cancelled is False
    # Once Dan (of this box) takes it, he sees everything; this box's staff still do not,
    # not even the driver's name.
    ride = act(box, "ride.taken", ride, dan, date="2026-01-13")
    assert ride_access.addresses(box, dan, ride)["notes"] == "Key safe 1234"
    assert ride_access.addresses(box, staff, ride) is None
    [journey] = rides.ride_detail(box, staff, ride.id)["journeys"]
    assert (journey["state"], journey["driver"]) == ("driver_found", None)


def test_the_rider_of_another_centres_ride_sees_it_all_here(box, alice, staff):
    ride = neighbour_ride(box, rider=alice.id)
    seen = rides.ride_detail(box, alice, ride.id)
    assert seen["level"] == "full" and seen["can_cancel"]
    assert seen["addresses"]["from_address"] == "9 Elm Row"
    assert not rides.ride_detail(box, staff, ride.id)["can_cancel"]


def test_this_centres_staff_still_see_and_cancel_its_own_rides(box, alice, staff, cora):
    ride = ask(box, alice)
    for viewer in (staff, cora):
        seen = rides.ride_detail(box, viewer, ride.id)
        assert (seen["level"], seen["other_centre"], seen["can_cancel"]) == ("full", False, True)
        assert seen["addresses"]["from_address"] == RIDE["from_address"]
    rides.cancel(box, cora, ride.id, None, "Rider phoned")
    assert Ride.get_by_id(ride.id).cancelled is True


def test_a_series_taken_late_covers_only_the_journeys_from_that_day(box, clock, alice, dan, vera):
    ride = ask(box, alice, repeat="weekly", days=["TU"], return_at="")
    clock.advance(13 * DAY)  # Wednesday 2026-01-14: the 6th and the 13th went unmet
    ride = act(box, "ride.taken", ride, dan, date=None)
    assert (ride.series_driver, ride.series_since) == (dan.id, "2026-01-14")
    assert ride_access.journey_state(ride, d("2026-01-13")) == ("open", None, None)
    assert ride_access.journey_state(ride, d("2026-01-20")) == ("driver_found", dan.id, None)
    assert states(box, alice, ride, "2026-01-06", "2026-01-27") == [
        ("2026-01-06", "requested"),
        ("2026-01-13", "requested"),
        ("2026-01-20", "driver_found"),
        ("2026-01-27", "driver_found"),
    ]
    assert ride_access.level(box, dan, ride) == "full"
    assert ride_access.level(box, dan, ride, d("2026-01-13")) is None  # past, never his
    assert ride_access.level(box, dan, ride, d("2026-01-20")) == "full"
    assert ride_access.level(box, vera, ride) is None  # nothing ahead is open
    assert ride_access.next_open(box, ride) is None
    # A series whose take is dated ahead (a box whose clock ran fast) leaves the days
    # before it open.
    ahead = SimpleNamespace(**{**ride.__data__, "series_since": "2026-01-21"})
    assert ride_access.journey_state(ahead, d("2026-01-20"))[:2] == ("open", None)
    assert ride_access.next_open(box, ahead) == d("2026-01-20")


def test_a_regular_driver_whose_vehicle_cannot_serve_gets_no_head_start(
    box, staff, alice, dan, vera
):
    ride = ask(box, alice, passengers="2", regular_driver=dan.id)
    assert ride_access.stage(box, ride) == "regular"
    assert ride_access.level(box, vera, ride) is None
    vouch(box, staff, dan, {**CAR, "seats": 1})  # the centre records a smaller car
    assert ride_access.stage(box, ride) == "drivers"
    assert ride_access.level(box, vera, ride) == "area"
    assert ride_access.level(box, dan, ride) is None


ODD_RULES = [
    # (rule, first journeys from 2026-01-13, repeat kind)
    ("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3", ["2026-01-31", "2026-03-31", "2026-05-31"], "other"),
    ("FREQ=DAILY;INTERVAL=52", ["2026-01-13", "2026-03-06", "2026-04-27"], "other"),
    ("FREQ=WEEKLY;BYDAY=TU;UNTIL=20260127", ["2026-01-13", "2026-01-20", "2026-01-27"], "weekly"),
    # The 13th and the 19th from the end are one day in 31-day months: listed once.
    ("FREQ=MONTHLY;BYMONTHDAY=13,-19", ["2026-01-13", "2026-02-10", "2026-02-13"], "other"),
]


@pytest.mark.parametrize(("rule", "dates", "kind"), ODD_RULES)
def test_odd_but_valid_rules_from_elsewhere_are_read_each_date_once(rule, dates, kind):
    ride = SimpleNamespace(start="2026-01-13T09:30", tz=LONDON, rrule=rule)
    found = rides.occurrences(ride, d("2026-01-01"), d("2026-12-31"))
    assert [x.isoformat() for x in found[:3]] == dates
    assert len(found) == len(set(found))
    assert rides.repeat_of(ride)["kind"] == kind


def test_a_date_only_until_is_described_as_that_day():
    ride = SimpleNamespace(start="2026-01-13T09:30", tz=LONDON, rrule="FREQ=WEEKLY;UNTIL=20270101")
    assert rides.repeat_of(ride) == {
        "kind": "weekly",
        "interval": 1,
        "days": ["TU"],
        "until": "2027-01-01",
        "count": None,
    }
    assert rides.occurrences(ride, d("2026-12-20"), d("2027-02-01")) == [
        d("2026-12-22"),
        d("2026-12-29"),
    ]


def test_any_failure_of_dateutil_falls_back_to_the_first_journey(monkeypatch):
    def broken(*args, **kwargs):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(ride_recurrence, "rrulestr", broken)
    ride = SimpleNamespace(start="2026-01-13T09:30", tz=LONDON, rrule="FREQ=DAILY")
    assert rides.occurrences(ride, d("2026-01-01"), d("2026-02-01")) == [d("2026-01-13")]
    assert rides.is_occurrence(ride, d("2026-01-13"))


@pytest.mark.parametrize(
    "rule", ["FREQ=WEEKLY;BYDAY=XX", "FREQ=WEEKLY;INTERVAL=often", "FREQ=DAILY;INTERVAL=0"]
)
def test_a_rule_this_box_cannot_read_is_shown_without_detail(rule):
    ride = SimpleNamespace(start="2026-01-13T09:30", tz=LONDON, rrule=rule)
    assert rides.repeat_of(ride) == {"kind": "other", "rule": rule}
    assert rides.occurrences(ride, d("2026-01-01"), d("2026-01-31")) == [d("2026-01-13")]


def test_a_weekly_rule_with_odd_numbers_is_shown_without_detail():
    ride = SimpleNamespace(start="2026-01-13T09:30", tz=LONDON, rrule="FREQ=WEEKLY;COUNT=0")
    assert rides.repeat_of(ride) == {"kind": "other", "rule": "FREQ=WEEKLY;COUNT=0"}


@pytest.mark.parametrize("rule", [r for r, _dates, _kind in ODD_RULES])
def test_pages_of_a_neighbours_ride_with_an_odd_rule_still_work(box, alice, staff, rule):
    ride = neighbour_ride(box, rider=alice.id, rrule=rule)
    assert rides.ride_detail(box, alice, ride.id)["id"] == ride.id
    assert rides.ride_detail(box, staff, ride.id)["level"] == "area"
    assert [r["id"] for r in rides.my_rides(box, alice)] == [ride.id]
