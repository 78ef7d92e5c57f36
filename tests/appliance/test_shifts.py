"""Volunteer shifts: planning (organisers only), signing up, withdrawing, cancelling,
who may see the volunteers, and boxes that filled the last place while apart."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
import time

import pytest
from boxes import (
    START_MS,
    activate,
    member,
    new_box,
    record_count,
    trust,
    trust_each_other,
    with_role,
)
from kithtest import Clock
from peewee import AutoField
from recordmaker import Origin

from appliance.db import database
from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Shift, ShiftVolunteer
from appliance.services import calendar_feeds, orgs, shifts

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def utc_ms(*args) -> int:
    return int(datetime.datetime(*args, tzinfo=datetime.UTC).timestamp() * 1000)


def make_org(box, staff, name="Millbrook Food Bank", place="Church Hall, Mill Lane") -> str:
    return orgs.create_org(box, staff, {"name": name, "type": "foodbank", "place": place})


@pytest.fixture
def org(box, staff) -> str:
    return make_org(box, staff)


@pytest.fixture
def organiser(box, staff, org):
    person = member(box, "Olu Organiser")
    orgs.set_org_role(box, staff, org, person.id, "organiser")
    return person


def shift_data(org: str, **change) -> dict:
    # The box's clock stands at 2026-01-01 12:00 UTC (noon in London, GMT).
    data = {
        "org": org,
        "title": "Sorting the Saturday delivery",
        "date": "2026-01-03",
        "start": "09:30",
        "end": "12:00",
        "place": "",
        "people": "2",
        "bring": "Gloves",
    }
    return {**data, **change}


@pytest.fixture
def shift(box, organiser, org) -> str:
    return shifts.create_shift(box, organiser, shift_data(org))


# --- planning --------------------------------------------------------------------------


def test_an_organiser_plans_a_shift_in_the_centres_time(box, organiser, org):
    shift_id = shifts.create_shift(box, organiser, shift_data(org))
    row = Shift.get_by_id(shift_id)
    assert (row.org, row.title, row.people, row.bring) == (
        org,
        "Sorting the Saturday delivery",
        2,
        "Gloves",
    )
    assert row.place == "Church Hall, Mill Lane"  # the organisation's place by default
    assert (row.start_ms, row.end_ms) == (utc_ms(2026, 1, 3, 9, 30), utc_ms(2026, 1, 3, 12))
    assert row.created_by == organiser.id and not row.cancelled
    # Summer time: 09:30 in London is 08:30 UTC.
    summer = shifts.create_shift(box, organiser, shift_data(org, date="2026-07-04", place="Yard"))
    assert Shift.get_by_id(summer).start_ms == utc_ms(2026, 7, 4, 8, 30)
    assert Shift.get_by_id(summer).place == "Yard"


def test_times_are_read_in_the_boxs_time_zone(box, organiser, org):
    box.settings["timezone"] = "America/New_York"
    shift_id = shifts.create_shift(box, organiser, shift_data(org))
    assert Shift.get_by_id(shift_id).start_ms == utc_ms(2026, 1, 3, 14, 30)
    [listed] = shifts.upcoming(box, organiser)
    assert (listed["day"], listed["start"], listed["end"]) == ("2026-01-03", "09:30", "12:00")


def test_a_night_shift_ends_the_next_morning(box, organiser, org):
    shift_id = shifts.create_shift(box, organiser, shift_data(org, start="22:00", end="02:00"))
    row = Shift.get_by_id(shift_id)
    assert row.end_ms - row.start_ms == 4 * HOUR_MS
    detail = shifts.shift_detail(box, organiser, shift_id)
    assert (detail["start"], detail["end"], detail["ends_next_day"]) == ("22:00", "02:00", True)


def test_only_an_organiser_of_the_organisation_plans_its_shifts(box, staff, alice, org):
    other_org = make_org(box, staff, "Eastside Pantry", "East Street")
    other_organiser = member(box, "Erin")
    orgs.set_org_role(box, staff, other_org, other_organiser.id, "organiser")
    orgs.set_org_role(box, staff, org, alice.id, "member")  # a member, not an organiser
    before = record_count()
    with pytest.raises(NotSignedIn):
        shifts.create_shift(box, None, shift_data(org))
    for who in (alice, staff, other_organiser):
        with pytest.raises(NotAllowed, match="Only an organiser of Millbrook Food Bank"):
            shifts.create_shift(box, who, shift_data(org))
    with pytest.raises(InvalidInput) as exc:
        shifts.create_shift(box, other_organiser, shift_data(""))
    assert set(exc.value.fields) == {"org"}
    with pytest.raises(NotFound):
        shifts.create_shift(box, other_organiser, shift_data("f" * 64))
    assert record_count() == before
    with pytest.raises(NotAllowed):
        shifts.new_shift_orgs(alice)
    assert [o.id for o in shifts.new_shift_orgs(other_organiser)] == [other_org]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"date": ""}, "date"),
        ({"date": "03/01/2026"}, "date"),
        ({"date": "2026-02-30"}, "date"),
        ({"date": "2025-12-31"}, "date"),  # yesterday
        ({"date": "2026-01-01", "start": "11:00", "end": "13:00"}, "start"),  # an hour ago
        ({"date": "2027-02-01"}, "date"),  # more than a year ahead
        ({"start": "9.30"}, "start"),
        ({"start": "24:00"}, "start"),
        ({"end": ""}, "end"),
        ({"end": "12:60"}, "end"),
        ({"start": "10:00", "end": "10:00"}, "end"),
        ({"start": "10:00", "end": "09:00"}, "end"),  # 23 hours "overnight": a typo
        ({"people": ""}, "people"),
        ({"people": "0"}, "people"),
        ({"people": "501"}, "people"),
        ({"people": "-1"}, "people"),
        ({"people": "2.5"}, "people"),
        ({"people": "two"}, "people"),
        ({"place": "x" * 81}, "place"),
        ({"bring": "x" * 501}, "bring"),
    ],
)
def test_bad_shift_input_is_refused_with_a_message_for_the_field(
    box, organiser, org, change, field
):
    before = record_count()
    with pytest.raises(InvalidInput) as exc:
        shifts.create_shift(box, organiser, shift_data(org, **change))
    assert set(exc.value.fields) == {field}
    assert exc.value.fields[field]
    assert record_count() == before
    assert Shift.select().count() == 0


def test_several_bad_fields_are_all_named(box, organiser, org):
    with pytest.raises(InvalidInput) as exc:
        shifts.create_shift(box, organiser, shift_data(org, title="", people="0", start="x"))
    assert set(exc.value.fields) == {"title", "people", "start"}


# --- signing up and withdrawing ----------------------------------------------------------


def test_volunteers_sign_up_until_the_shift_is_full(box, shift, alice, bob):
    shifts.join(box, alice, shift)
    assert (Shift.get_by_id(shift).coming, shifts.upcoming(box, None)[0]["places_left"]) == (1, 1)
    before = record_count()
    with pytest.raises(Conflict, match="already signed up"):
        shifts.join(box, alice, shift)
    assert record_count() == before
    shifts.join(box, bob, shift)
    carol = member(box, "Carol")
    before = record_count()
    with pytest.raises(Conflict, match="full: all 2 places are taken"):
        shifts.join(box, carol, shift)
    with pytest.raises(NotSignedIn):
        shifts.join(box, None, shift)
    with pytest.raises(NotFound):
        shifts.join(box, carol, "0" * 64)
    assert record_count() == before
    row = Shift.get_by_id(shift)
    assert (row.coming, row.waiting) == (2, 0)
    assert shifts.upcoming(box, carol)[0]["places_left"] == 0


def test_two_sign_ups_for_the_last_place_on_one_box_do_not_both_pass(
    box, organiser, org, alice, bob, monkeypatch
):
    """The second waits for the first to finish, then is told the shift is full.

    The first sign-up pauses just after reading the shift; the second starts in that
    pause. Were the check outside the write transaction, both would see a place left.
    """
    last = shifts.create_shift(box, organiser, shift_data(org, people="1"))
    paused = threading.Event()
    read_shift = shifts.get_shift

    def get_shift(shift_id):
        shift = read_shift(shift_id)
        if threading.current_thread().name == "first":
            paused.set()
            time.sleep(0.5)  # time enough for the second to read "one place left"
        return shift

    monkeypatch.setattr(shifts, "get_shift", get_shift)
    outcome: dict[str, str] = {}

    def sign_up(who) -> None:
        try:
            shifts.join(box, who, last)
            outcome[threading.current_thread().name] = "joined"
        except Conflict as exc:
            outcome[threading.current_thread().name] = str(exc)
        finally:
            database.close()  # this thread's own connection

    first = threading.Thread(target=sign_up, args=(alice,), name="first")
    second = threading.Thread(target=sign_up, args=(bob,), name="second")
    before = record_count()
    first.start()
    assert paused.wait(10)
    second.start()
    first.join(20)
    second.join(20)
    assert outcome == {
        "first": "joined",
        "second": "Sorry, this shift is full: all 1 places are taken.",
    }
    assert record_count() == before + 1
    assert (Shift.get_by_id(last).coming, Shift.get_by_id(last).waiting) == (1, 0)


def test_a_volunteer_withdraws_and_the_place_opens_again(box, shift, alice, bob):
    before = record_count()
    with pytest.raises(Conflict, match="not signed up"):
        shifts.leave(box, alice, shift)
    assert record_count() == before
    shifts.join(box, alice, shift)
    shifts.join(box, bob, shift)
    shifts.leave(box, alice, shift)
    assert Shift.get_by_id(shift).coming == 1
    assert shifts.shift_detail(box, alice, shift)["mine"] is None
    carol = member(box, "Carol")
    shifts.join(box, carol, shift)
    with pytest.raises(Conflict, match="full"):
        shifts.join(box, alice, shift)


def test_nobody_joins_or_leaves_a_shift_that_has_started(box, clock, shift, alice, bob):
    shifts.join(box, alice, shift)
    clock.ms = utc_ms(2026, 1, 3, 9, 30)  # the shift starts now
    before = record_count()
    with pytest.raises(Conflict, match="already started"):
        shifts.join(box, bob, shift)
    with pytest.raises(Conflict, match="already started"):
        shifts.leave(box, alice, shift)
    assert record_count() == before
    assert shifts.shift_detail(box, alice, shift)["can"] == {
        "join": False,
        "leave": False,
        "cancel": False,
        "see_volunteers": False,
    }


def test_cancelling_needs_an_organiser_or_staff_and_a_reason(
    box, shift, organiser, staff, alice, bob
):
    shifts.join(box, alice, shift)
    before = record_count()
    with pytest.raises(NotAllowed, match="Only the organisers"):
        shifts.cancel_shift(box, alice, shift, "I can't come")
    with pytest.raises(NotSignedIn):
        shifts.cancel_shift(box, None, shift, "No")
    with pytest.raises(InvalidInput) as exc:
        shifts.cancel_shift(box, organiser, shift, "   ")
    assert set(exc.value.fields) == {"reason"}
    with pytest.raises(InvalidInput):
        shifts.cancel_shift(box, organiser, shift, "x" * 501)
    assert record_count() == before
    shifts.cancel_shift(box, organiser, shift, "The delivery moved to Monday.")
    row = Shift.get_by_id(shift)
    assert (row.cancelled, row.cancel_reason) == (True, "The delivery moved to Monday.")
    before = record_count()
    with pytest.raises(Conflict, match="already cancelled"):
        shifts.cancel_shift(box, staff, shift, "Again")
    with pytest.raises(Conflict, match="cancelled"):
        shifts.join(box, bob, shift)
    assert record_count() == before
    # Staff of the organisation's centre may cancel too.
    other = shifts.create_shift(box, organiser, shift_data(Shift.get_by_id(shift).org))
    shifts.cancel_shift(box, staff, other, "The hall is closed.")
    assert Shift.get_by_id(other).cancelled


def test_a_started_shift_cannot_be_cancelled(box, clock, shift, organiser):
    clock.ms = utc_ms(2026, 1, 3, 10)
    with pytest.raises(Conflict, match="already started"):
        shifts.cancel_shift(box, organiser, shift, "Too late")


# --- reading -------------------------------------------------------------------------------


def test_only_organisers_and_staff_see_who_is_coming(box, shift, organiser, staff, alice, bob):
    shifts.join(box, alice, shift)
    for viewer in (organiser, staff):
        detail = shifts.shift_detail(box, viewer, shift)
        assert [v["name"] for v in detail["volunteers"]] == ["Alice"]
        assert detail["waiting_list"] == []
        assert detail["can"]["see_volunteers"] and detail["can"]["cancel"]
    mine = shifts.shift_detail(box, alice, shift)
    assert mine["mine"] == "confirmed" and mine["can"]["leave"] and not mine["can"]["join"]
    for viewer in (alice, bob, None):
        detail = shifts.shift_detail(box, viewer, shift)
        assert "volunteers" not in detail and "waiting_list" not in detail
        assert "Alice" not in repr(detail)
        assert not detail["can"]["cancel"]
    assert shifts.shift_detail(box, bob, shift)["can"]["join"]
    assert not shifts.shift_detail(box, None, shift)["can"]["join"]


def test_upcoming_lists_shifts_by_day_and_organisation(box, clock, staff, organiser, org, alice):
    other_org = make_org(box, staff, "Eastside Pantry", "East Street")
    orgs.set_org_role(box, staff, other_org, organiser.id, "organiser")
    later = shifts.create_shift(box, organiser, shift_data(org, date="2026-01-05", title="Later"))
    first = shifts.create_shift(box, organiser, shift_data(org, title="First"))
    east = shifts.create_shift(
        box, organiser, shift_data(other_org, title="East", start="10:00", end="10:30")
    )
    far = shifts.create_shift(box, organiser, shift_data(org, date="2026-03-01", title="Far"))
    shifts.join(box, alice, east)
    listing = shifts.upcoming(box, alice)
    assert [s["id"] for s in listing] == [first, east, later]  # four weeks ahead by default
    assert [s["mine"] for s in listing] == [None, "confirmed", None]
    assert [day for day, _ in shifts.by_day(listing)] == ["2026-01-03", "2026-01-05"]
    assert [s["id"] for s in shifts.upcoming(box, None, org=other_org)] == [east]
    assert far in [s["id"] for s in shifts.upcoming(box, None, days=90)]
    with pytest.raises(NotFound):
        shifts.upcoming(box, None, org="a" * 64)
    with pytest.raises(InvalidInput):
        shifts.upcoming(box, None, days=0)
    assert [s["id"] for s in shifts.my_shifts(box, alice)] == [east]
    clock.ms = utc_ms(2026, 1, 3, 11)  # East is over, First still under way
    assert [s["id"] for s in shifts.upcoming(box, None)] == [first, later]
    assert shifts.upcoming(box, None)[0]["started"]
    assert shifts.my_shifts(box, alice) == []


# --- boxes apart ----------------------------------------------------------------------------


def test_a_peer_join_earlier_in_record_order_takes_the_last_place(box, clock, shift, alice, bob):
    north = Origin("north", start_ms=START_MS - DAY_MS)
    trust(box, north)
    shifts.join(box, alice, shift)
    clock.advance(10 * MINUTE_MS)
    shifts.join(box, bob, shift)  # the last place, as far as this box knows
    nora = north.make("member.joined", {"name": "Nora"})
    # Nora took the last place at North five minutes before Bob did here.
    north_join = north.make(
        "shift.joined", {}, subject=shift, author=nora.id, hlc=[START_MS + 5 * MINUTE_MS, 0]
    )
    assert box.log.ingest([nora.line, north_join.line]).ok
    rows = ShiftVolunteer.select().where(ShiftVolunteer.shift == shift)
    assert {r.member: r.confirmed for r in rows} == {alice.id: True, nora.id: True, bob.id: False}
    row = Shift.get_by_id(shift)
    assert (row.coming, row.waiting) == (2, 1)
    waiting = shifts.shift_detail(box, bob, shift)
    assert (waiting["mine"], waiting["waiting_place"]) == ("waiting", 1)
    assert shifts.my_shifts(box, bob)[0]["mine"] == "waiting"
    # Alice withdraws: Bob moves up from the waiting list by himself.
    shifts.leave(box, alice, shift)
    assert shifts.shift_detail(box, bob, shift)["mine"] == "confirmed"


def _volunteers() -> list[tuple]:
    fields = [f for f in ShiftVolunteer._meta.sorted_fields if not isinstance(f, AutoField)]
    return sorted(ShiftVolunteer.select(*fields).tuples())


def _sync(source, target) -> None:
    """Carry every federation record the source box wrote to the target box."""
    activate(source)
    page, _ = source.log.records_after(source.origin, 0, 10**9, 10**6, 10**9)
    activate(target)
    result = target.log.ingest(page)
    assert result.ok, result.rejected


def test_two_boxes_that_took_the_last_place_apart_agree_after_sync(tmp_path):
    clock_a, clock_b = Clock(START_MS), Clock(START_MS)
    a = new_box(tmp_path / "a", clock_a, centre_name="Centre A")
    b = new_box(tmp_path / "b", clock_b, centre_name="Centre B")
    trust_each_other(a, b)
    activate(a)
    staff = with_role(a, "Sam Staff", "staff")
    org = make_org(a, staff)
    organiser = member(a, "Olu Organiser")
    orgs.set_org_role(a, staff, org, organiser.id, "organiser")
    shift = shifts.create_shift(a, organiser, shift_data(org))
    shifts.join(a, organiser, shift)
    _sync(a, b)
    # Apart: one place left, and each box gives it to one of its own members.
    bob = member(b, "Bob")
    clock_b.advance(MINUTE_MS)
    shifts.join(b, bob, shift)
    assert Shift.get_by_id(shift).coming == 2
    activate(a)
    carol = member(a, "Carol")
    clock_a.advance(2 * MINUTE_MS)
    shifts.join(a, carol, shift)
    assert Shift.get_by_id(shift).coming == 2
    _sync(a, b)
    _sync(b, a)
    on_a = (_volunteers(), Shift.get_by_id(shift).waiting)
    activate(b)
    on_b = (_volunteers(), Shift.get_by_id(shift).waiting)
    assert on_a == on_b
    confirmed = {member_id: ok for _, member_id, _, ok in on_a[0]}
    # Bob joined a minute earlier (in the agreed order), so Carol waits on both boxes.
    assert confirmed == {organiser.id: True, bob.id: True, carol.id: False}
    assert on_b[1] == 1
    activate(a)
    assert shifts.shift_detail(a, carol, shift)["mine"] == "waiting"
    with pytest.raises(Conflict, match="already signed up"):
        shifts.join(a, carol, shift)


# --- calendar feeds (the pages test the iCalendar text itself) -------------------------------


def test_a_feed_token_is_an_hmac_of_the_member_id_only_this_box_can_make(box, alice, bob):
    token = calendar_feeds.calendar_token(box, alice.id)
    expected = hmac.new(
        box.secret_key, b"kith/calendar/v1\n" + alice.id.encode(), hashlib.sha256
    ).hexdigest()
    assert token == expected and token != calendar_feeds.calendar_token(box, bob.id)
    assert calendar_feeds.member_for_token(box, alice.id, token).name == "Alice"
    for member_id, wrong in [
        (bob.id, token),
        (alice.id, token.upper()),
        (alice.id, token[:-1]),
        (alice.id, ""),
        ("f" * 64, calendar_feeds.calendar_token(box, "f" * 64)),  # no such member
    ]:
        with pytest.raises(NotFound):
            calendar_feeds.member_for_token(box, member_id, wrong)


def test_feeds_keep_shifts_for_thirty_days_after_they_start(box, clock, shift, organiser, alice):
    shifts.join(box, alice, shift)
    org = Shift.get_by_id(shift).org
    clock.ms = utc_ms(2026, 1, 3, 9, 30) + 30 * DAY_MS
    assert f"UID:{shift}@kith".encode() in calendar_feeds.org_feed(box, org)
    assert f"UID:{shift}@kith".encode() in calendar_feeds.volunteer_feed(box, alice.id)
    clock.advance(1)
    assert b"BEGIN:VEVENT" not in calendar_feeds.org_feed(box, org)
    assert b"BEGIN:VEVENT" not in calendar_feeds.volunteer_feed(box, alice.id)
    with pytest.raises(NotFound):
        calendar_feeds.org_feed(box, "e" * 64)
