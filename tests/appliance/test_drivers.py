"""Drivers and the centre's travel lists: vouching, lapsing by itself, trust, can_serve."""

from __future__ import annotations

import datetime
import json
from zoneinfo import ZoneInfo

import pytest
from boxes import START_MS, member, record_count, trust
from recordmaker import DAY_MS, Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import Driver, Ride, StoredRecord
from appliance.services import drivers, travel_lists

# The box's clock starts at 2026-01-01 12:00 UTC: "today" is 2026-01-01 in London.
TODAY = "2026-01-01"
CHECKS = {
    "licence": ("2025-06-01", "2030-01-01"),
    "insurance": ("2025-12-01", "2026-11-30"),
    "dbs": ("2025-03-01", "2028-03-01"),
}
CAR = {"seats": "3", "wheelchair": None, "folded_chair": "1", "dogs": "on"}
EVERYTHING = {"seats": 8, "wheelchair": True, "folded_chair": True, "dogs": True}


def vouch(box, staff, who, checks=None, vehicle=None):
    return drivers.vouch(box, staff, who.id, CHECKS if checks is None else checks, vehicle or CAR)


def ride(box, author, needs=(), passengers=1):
    """Request a ride as a record (the fold makes the Ride row); return the row."""
    body = {
        "rider": author.id,
        "from_area": "Millbrook",
        "to_area": "City Hospital",
        "start": "2026-01-06T10:00",
        "tz": "Europe/London",
        "time_is": "pickup",
        "window": 15,
        "rrule": None,
        "return_at": None,
        "passengers": passengers,
        "needs": list(needs),
        "regular_driver": None,
    }
    return Ride.get_by_id(box.log.append("ride.requested", body, author=author.id).id)


def slugs(rows) -> list[str]:
    return [row["slug"] for row in rows]


class East:
    """Another centre's box as its signed records arrive here: East Centre."""

    def __init__(self, box, name="east", centre="East Centre", trusted=True):
        self.box = box
        self.o = Origin(name, start_ms=START_MS - DAY_MS)
        self.grant = trust(box, self.o.origin)[0] if trusted else None
        self.centre = self.o.make("centre.created", {"name": centre, "timezone": "Europe/London"})
        self.staff = "e" * 64

    def send(self, *made):
        return self.box.log.ingest([m.line for m in made])

    def make(self, kind, body, subject=None):
        self.o.tick(1)
        return self.o.make(kind, body, subject=subject, author=self.staff)

    def vouch(self, member_id, expires="2026-06-30", seats=4, **features):
        vehicle = {"seats": seats, "wheelchair": False, "folded_chair": False, "dogs": False}
        checks = [
            {"check": "licence", "label": "Licence", "seen": "2025-12-01", "expires": expires}
        ]
        body = {"checks": checks, "vehicle": {**vehicle, **features}}
        return self.make("driver.vouched", body, subject=member_id)


# --- the lists: defaults -------------------------------------------------------------------


def test_a_new_box_has_the_default_lists(box):
    needs = travel_lists.access_needs(box)
    assert slugs(needs) == [
        "wheelchair-stays",
        "wheelchair-transfers",
        "assistance-dog",
        "hard-of-hearing",
        "visually-impaired",
        "door-to-door",
        "escort",
    ]
    requires = {n["slug"]: n["requires"] for n in needs}
    assert requires["wheelchair-stays"] == "wheelchair"
    assert requires["wheelchair-transfers"] == "folded_chair"
    assert requires["assistance-dog"] == "dogs"
    assert requires["hard-of-hearing"] is None
    assert all(n["active"] for n in needs)
    assert travel_lists.need_label(box, None, "door-to-door") == "Needs help to the door"
    assert travel_lists.need_label(box, None, "escort") == "Escort travelling"
    assert travel_lists.need_label(box, None, "no-such-need") == "no-such-need"
    checks = travel_lists.driver_checks(box)
    assert [(c["slug"], c["label"]) for c in checks] == [
        ("licence", "Driving licence seen"),
        ("insurance", "Insurance seen"),
        ("dbs", "Criminal records check (DBS)"),
    ]
    assert travel_lists.providers(box) == []


# --- the lists: staff edits ----------------------------------------------------------------


def test_staff_add_an_access_need_after_the_defaults(box, staff):
    before = record_count()
    slug = travel_lists.set_access_need(
        box, staff, {"label": "  Needs a  booster seat ", "requires": ""}
    )
    assert slug == "needs-a-booster-seat"
    assert record_count() == before + 1
    added = travel_lists.access_needs(box)[-1]
    assert added == {
        "slug": "needs-a-booster-seat",
        "label": "Needs a booster seat",
        "requires": None,
        "active": True,
    }
    travel_lists.set_access_need(box, staff, {"label": "Stretcher", "requires": "wheelchair"})
    assert travel_lists.need_map(box)["stretcher"]["requires"] == "wheelchair"
    # Additions come after the defaults, in name order.
    assert slugs(travel_lists.access_needs(box))[-2:] == ["needs-a-booster-seat", "stretcher"]


def test_staff_rename_a_default_need_and_its_record_wins(box, staff):
    travel_lists.set_access_need(box, staff, {"slug": "escort", "label": "Carer travelling"})
    needs = travel_lists.access_needs(box)
    assert slugs(needs)[-1] == "escort"  # still in its place among the defaults
    assert needs[-1] == {
        "slug": "escort",
        "label": "Carer travelling",
        "requires": None,
        "active": True,
    }
    travel_lists.set_access_need(
        box,
        staff,
        {"slug": "hard-of-hearing", "label": "Deaf or hard of hearing", "requires": "dogs"},
    )
    assert travel_lists.need_map(box)["hard-of-hearing"]["requires"] == "dogs"


def test_staff_retire_and_bring_back_a_need_keeping_its_name(box, staff):
    travel_lists.set_access_need(box, staff, {"slug": "assistance-dog", "active": "0"})
    assert "assistance-dog" not in slugs(travel_lists.access_needs(box))
    retired = travel_lists.need_map(box)["assistance-dog"]
    assert retired == {
        "slug": "assistance-dog",
        "label": "Assistance dog",
        "requires": "dogs",
        "active": False,
    }
    travel_lists.set_access_need(box, staff, {"slug": "assistance-dog", "active": "1"})
    assert "assistance-dog" in slugs(travel_lists.access_needs(box))


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"label": ""}, "label", "Please name the access need (60 characters at most)."),
        ({"label": "x" * 61}, "label", "Please name the access need (60 characters at most)."),
        ({"label": "!!!"}, "label", "Please use some letters or numbers in the name."),
        (
            {"label": "assistance DOG"},
            "label",
            "The list already has an access need of that name.",
        ),
        ({"label": "Escort!"}, "label", "The list already has an access need of that name."),
        (
            {"label": "Oxygen", "requires": "jetpack"},
            "requires",
            "Please choose what the vehicle needs, or nothing.",
        ),
        (
            {"slug": "escort", "label": "Hard of hearing"},
            "label",
            "The list already has an access need of that name.",
        ),
    ],
)
def test_bad_access_needs_are_refused_and_change_nothing(box, staff, data, field, message):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        travel_lists.set_access_need(box, staff, data)
    assert caught.value.fields == {field: message}
    assert record_count() == before


def test_a_retired_name_is_not_added_twice(box, staff):
    travel_lists.set_access_need(box, staff, {"slug": "escort", "active": False})
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        travel_lists.set_access_need(box, staff, {"label": "Escort travelling"})
    assert caught.value.fields == {
        "label": "A retired access need has that name: bring it back instead."
    }
    assert record_count() == before


def test_changing_an_unknown_entry_is_not_found(box, staff):
    for change in (
        travel_lists.set_access_need,
        travel_lists.set_driver_check,
        travel_lists.set_provider,
    ):
        with pytest.raises(NotFound):
            change(box, staff, {"slug": "no-such-thing", "active": "0"})


@pytest.mark.parametrize(
    "change",
    [travel_lists.set_access_need, travel_lists.set_driver_check, travel_lists.set_provider],
)
def test_only_staff_change_the_lists(box, alice, change):
    before = record_count()
    with pytest.raises(NotAllowed):
        change(box, alice, {"label": "Something", "name": "Something"})
    with pytest.raises(NotSignedIn):
        change(box, None, {"label": "Something", "name": "Something"})
    assert record_count() == before


def test_staff_keep_the_checks_drivers_need(box, staff):
    assert travel_lists.set_driver_check(box, staff, {"label": "First aid course"}) == (
        "first-aid-course"
    )
    travel_lists.set_driver_check(box, staff, {"slug": "dbs", "label": "Enhanced DBS"})
    travel_lists.set_driver_check(box, staff, {"slug": "insurance", "active": "0"})
    assert [(c["slug"], c["label"]) for c in travel_lists.driver_checks(box)] == [
        ("licence", "Driving licence seen"),
        ("dbs", "Enhanced DBS"),
        ("first-aid-course", "First aid course"),
    ]
    with pytest.raises(InvalidInput) as caught:
        travel_lists.set_driver_check(box, staff, {"label": "driving LICENCE seen"})
    assert caught.value.fields == {"label": "The list already has a check of that name."}


def test_the_last_check_cannot_be_retired_and_twelve_is_the_most(box, staff):
    travel_lists.set_driver_check(box, staff, {"slug": "insurance", "active": "0"})
    travel_lists.set_driver_check(box, staff, {"slug": "dbs", "active": "0"})
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        travel_lists.set_driver_check(box, staff, {"slug": "licence", "active": "0"})
    assert caught.value.fields == {
        "label": "Drivers need at least one check: add another before retiring this."
    }
    assert record_count() == before
    for n in range(11):
        travel_lists.set_driver_check(box, staff, {"label": f"Check {n}"})
    assert len(travel_lists.driver_checks(box)) == 12
    before = record_count()
    for attempt in ({"label": "One too many"}, {"slug": "dbs", "active": "1"}):
        with pytest.raises(InvalidInput) as caught:
            travel_lists.set_driver_check(box, staff, attempt)
        assert caught.value.fields == {
            "label": "A centre can ask for 12 checks at most: retire one first."
        }
    assert record_count() == before


def test_staff_keep_the_paid_providers(box, staff):
    assert travel_lists.set_provider(box, staff, {"name": "Millbrook Taxis"}) == "millbrook-taxis"
    travel_lists.set_provider(box, staff, {"name": "Dial-a-Ride"})
    travel_lists.set_provider(box, staff, {"slug": "millbrook-taxis", "name": "Millbrook Cars"})
    assert [(p["slug"], p["name"]) for p in travel_lists.providers(box)] == [
        ("dial-a-ride", "Dial-a-Ride"),
        ("millbrook-taxis", "Millbrook Cars"),
    ]
    travel_lists.set_provider(box, staff, {"slug": "dial-a-ride", "active": "0"})
    assert slugs(travel_lists.providers(box)) == ["millbrook-taxis"]
    assert slugs(travel_lists.providers(box, include_inactive=True)) == [
        "dial-a-ride",
        "millbrook-taxis",
    ]
    before = record_count()
    for data, message in (
        ({"name": ""}, "Please give the provider's name (100 characters at most)."),
        ({"name": "millbrook cars"}, "The list already has a provider of that name."),
        ({"name": "Dial a ride"}, "A retired provider has that name: bring it back instead."),
    ):
        with pytest.raises(InvalidInput) as caught:
            travel_lists.set_provider(box, staff, data)
        assert caught.value.fields == {"name": message}
    assert record_count() == before


def test_another_centres_list_is_used_for_its_rides(box, staff, alice):
    east = East(box)
    east_centre = east.centre.id
    made = [
        east.centre,
        east.make(
            "access_need.set",
            {
                "slug": "stretcher",
                "label": "Lies on a stretcher",
                "requires": "wheelchair",
                "active": True,
            },
            subject=east_centre,
        ),
        east.make(
            "access_need.set",
            {
                "slug": "escort",
                "label": "Escort (needs a back seat)",
                "requires": "folded_chair",
                "active": True,
            },
            subject=east_centre,
        ),
        # East's records cannot change this centre's list.
        east.make(
            "access_need.set",
            {"slug": "hard-of-hearing", "label": "Hijacked", "requires": "dogs", "active": True},
            subject=box.centre.id,
        ),
    ]
    assert east.send(*made).ok
    assert "stretcher" in slugs(travel_lists.access_needs(box, east.o.origin))
    assert "stretcher" not in slugs(travel_lists.access_needs(box))
    assert travel_lists.need_label(box, east.o.origin, "stretcher") == "Lies on a stretcher"
    assert travel_lists.need_label(box, east.o.origin, "door-to-door") == "Needs help to the door"
    assert travel_lists.need_map(box)["hard-of-hearing"]["label"] == "Hard of hearing"
    assert travel_lists.need_map(box)["hard-of-hearing"]["requires"] is None

    car = {"seats": 4, "wheelchair": False, "folded_chair": False, "dogs": False}
    # The same slug means what the ride's own centre says it means.
    here = ride(box, alice, needs=["escort"])
    there = {"origin": east.o.origin, "passengers": 1, "needs": ["escort"]}
    assert drivers.can_serve(box, car, here)
    assert not drivers.can_serve(box, car, there)
    assert drivers.can_serve(box, {**car, "folded_chair": True}, there)
    assert not drivers.can_serve(box, car, {**there, "needs": ["stretcher"]})


# --- vouching --------------------------------------------------------------------------


def test_staff_vouch_for_a_driver(box, staff, alice):
    before = record_count()
    body = vouch(box, staff, alice)
    assert record_count() == before + 1
    stored = StoredRecord.select().order_by(StoredRecord.seq.desc()).first()
    assert stored.kind == "driver.vouched"
    record = json.loads(stored.raw)
    assert record["subject"] == alice.id and record["author"] == staff.id
    assert (
        record["body"]
        == body
        == {
            "checks": [
                {
                    "check": "licence",
                    "label": "Driving licence seen",
                    "seen": "2025-06-01",
                    "expires": "2030-01-01",
                },
                {
                    "check": "insurance",
                    "label": "Insurance seen",
                    "seen": "2025-12-01",
                    "expires": "2026-11-30",
                },
                {
                    "check": "dbs",
                    "label": "Criminal records check (DBS)",
                    "seen": "2025-03-01",
                    "expires": "2028-03-01",
                },
            ],
            "vehicle": {"seats": 3, "wheelchair": False, "folded_chair": True, "dogs": True},
        }
    )
    auth = drivers.authorisation(box, alice.id)
    assert auth["valid_to"] == "2026-11-30"  # the earliest expiry
    assert auth["vehicle"] == {"seats": 3, "wheelchair": False, "folded_chair": True, "dogs": True}
    assert auth["centres"] == [{"name": "Test Centre", "valid_to": "2026-11-30"}]
    assert [c["check"] for c in auth["checks"]] == ["licence", "insurance", "dbs"]
    assert auth["lapsing_soon"] is False
    assert auth["here"] is True
    assert drivers.is_authorised(box, alice)
    assert not drivers.is_authorised(box, None)
    assert drivers.authorisation(box, staff.id) is None


def test_only_staff_vouch(box, alice, bob):
    before = record_count()
    with pytest.raises(NotAllowed):
        vouch(box, alice, bob)
    with pytest.raises(NotSignedIn):
        vouch(box, None, bob)
    assert record_count() == before
    assert drivers.authorisation(box, bob.id) is None


def test_vouching_an_unknown_member_is_not_found(box, staff):
    before = record_count()
    with pytest.raises(NotFound):
        drivers.vouch(box, staff, "f" * 64, CHECKS, CAR)
    assert record_count() == before


def test_every_required_check_is_needed(box, staff, alice):
    before = record_count()
    missing = {k: v for k, v in CHECKS.items() if k != "dbs"}
    with pytest.raises(InvalidInput) as caught:
        vouch(box, staff, alice, missing)
    assert caught.value.fields == {
        "seen-dbs": "Please give the date you saw this.",
        "expires-dbs": "Please give the date this runs out.",
    }
    assert "seen-dbs" in str(caught.value)
    assert record_count() == before
    assert drivers.authorisation(box, alice.id) is None


def test_a_check_the_centre_does_not_ask_for_is_refused(box, staff, alice):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        vouch(box, staff, alice, {**CHECKS, "eyesight": ("2025-12-01", "2027-01-01")})
    assert caught.value.fields == {
        "checks": "Only the checks this centre asks for can be recorded."
    }
    assert record_count() == before


def test_the_centres_list_decides_which_checks_are_required(box, staff, alice, bob):
    travel_lists.set_driver_check(box, staff, {"slug": "dbs", "active": "0"})
    travel_lists.set_driver_check(box, staff, {"label": "Eyesight test"})
    with pytest.raises(InvalidInput) as caught:
        vouch(box, staff, alice, {k: v for k, v in CHECKS.items() if k != "dbs"})
    assert set(caught.value.fields) == {"seen-eyesight-test", "expires-eyesight-test"}
    checks = {
        "licence": CHECKS["licence"],
        "insurance": CHECKS["insurance"],
        "eyesight-test": ("2025-12-20", "2026-12-20"),
    }
    body = vouch(box, staff, bob, checks)
    assert [c["label"] for c in body["checks"]] == [
        "Driving licence seen",
        "Insurance seen",
        "Eyesight test",
    ]


@pytest.mark.parametrize(
    "dates, field, message",
    [
        (
            ("2026-01-02", "2027-01-01"),
            "seen-dbs",
            "That date is in the future: give the day you saw it.",
        ),
        (
            ("2025-12-01", "2025-11-30"),
            "expires-dbs",
            "The expiry date is before the date it was seen.",
        ),
        (
            ("2024-01-01", "2025-12-31"),
            "expires-dbs",
            "This has already run out: it cannot authorise a driver.",
        ),
        (("01/12/2025", "2027-01-01"), "seen-dbs", "Please give the date as YYYY-MM-DD."),
        (("2025-12-01", "2027-02-30"), "expires-dbs", "Please give the date as YYYY-MM-DD."),
        (("", "2027-01-01"), "seen-dbs", "Please give the date you saw this."),
        (("2025-12-01", ""), "expires-dbs", "Please give the date this runs out."),
    ],
)
def test_bad_dates_are_refused_beside_their_check(box, staff, alice, dates, field, message):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        vouch(box, staff, alice, {**CHECKS, "dbs": dates})
    assert caught.value.fields == {field: message}
    assert record_count() == before
    assert Driver.select().count() == 0


def test_a_check_seen_today_and_running_out_today_still_counts_today(box, staff, alice):
    vouch(box, staff, alice, {**CHECKS, "dbs": (TODAY, TODAY)})
    assert drivers.authorisation(box, alice.id)["valid_to"] == TODAY


@pytest.mark.parametrize("seats", ["0", "9", "two", "", None, "2.5"])
def test_the_vehicle_needs_one_to_eight_seats(box, staff, alice, seats):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        vouch(box, staff, alice, vehicle={**CAR, "seats": seats})
    assert caught.value.fields == {
        "seats": "Please give the passenger seats, a number from 1 to 8."
    }
    assert record_count() == before


def test_dates_and_seats_are_reported_together(box, staff, alice):
    with pytest.raises(InvalidInput) as caught:
        vouch(box, staff, alice, {**CHECKS, "licence": ("", "")}, {"seats": "0"})
    assert set(caught.value.fields) == {"seen-licence", "expires-licence", "seats"}


def test_a_new_vouch_replaces_the_centres_last_one(box, staff, alice):
    vouch(box, staff, alice)
    vouch(box, staff, alice, {**CHECKS, "insurance": ("2025-12-20", "2027-12-20")}, {"seats": "6"})
    assert Driver.select().count() == 1
    auth = drivers.authorisation(box, alice.id)
    assert auth["valid_to"] == "2027-12-20"
    assert auth["vehicle"] == {
        "seats": 6,
        "wheelchair": False,
        "folded_chair": False,
        "dogs": False,
    }


# --- lapsing by itself -----------------------------------------------------------------


def _at_london(clock, text: str) -> None:
    """Set the clock to a London wall-clock time "YYYY-MM-DD HH:MM"."""
    moment = datetime.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/London"))
    clock.ms = int(moment.timestamp() * 1000)


def test_authorisation_lapses_by_itself_at_the_end_of_the_expiry_day(box, clock, staff, alice):
    vouch(box, staff, alice, {**CHECKS, "insurance": ("2025-12-01", "2026-06-30")})
    before = record_count()
    _at_london(clock, "2026-06-30 23:59")
    assert drivers.is_authorised(box, alice)
    assert drivers.lapsed_on(box, alice.id) is None
    # Midnight in London is 23:00 UTC in summer: the zone decides, not UTC.
    clock.ms = int(datetime.datetime(2026, 6, 30, 23, 0, tzinfo=datetime.UTC).timestamp() * 1000)
    assert not drivers.is_authorised(box, alice)
    assert drivers.authorisation(box, alice.id) is None
    assert drivers.lapsed_on(box, alice.id) == "2026-06-30"
    assert record_count() == before  # nothing was written: it lapsed by itself
    # now_ms asks about another moment without moving the clock.
    _at_london(clock, "2026-06-01 09:00")
    later = int(datetime.datetime(2026, 7, 2, tzinfo=datetime.UTC).timestamp() * 1000)
    assert drivers.authorisation(box, alice.id, now_ms=later) is None
    assert drivers.authorisation(box, alice.id) is not None


def test_renewed_checks_authorise_again(box, clock, staff, alice):
    vouch(box, staff, alice, {**CHECKS, "insurance": ("2025-12-01", "2026-02-01")})
    clock.advance(40 * DAY_MS)  # 2026-02-10
    assert not drivers.is_authorised(box, alice)
    vouch(box, staff, alice, {**CHECKS, "insurance": ("2026-02-10", "2027-02-10")})
    assert drivers.authorisation(box, alice.id)["valid_to"] == "2027-02-10"


def test_lapsing_soon_is_within_the_warning_days(box, clock, staff, alice):
    assert box.settings["driver_warn_days"] == 30
    vouch(box, staff, alice, {**CHECKS, "insurance": ("2025-12-01", "2026-02-01")})  # 31 days
    auth = drivers.authorisation(box, alice.id)
    assert (auth["days_left"], auth["lapsing_soon"]) == (31, False)
    clock.advance(DAY_MS)
    auth = drivers.authorisation(box, alice.id)
    assert (auth["days_left"], auth["lapsing_soon"]) == (30, True)
    clock.advance(30 * DAY_MS)  # 2026-02-01: the last day
    auth = drivers.authorisation(box, alice.id)
    assert (auth["days_left"], auth["lapsing_soon"]) == (0, True)
    box.settings["driver_warn_days"] = 0
    assert drivers.authorisation(box, alice.id)["lapsing_soon"] is True
    clock.advance(-DAY_MS)
    assert drivers.authorisation(box, alice.id)["lapsing_soon"] is False


def test_lapsing_lists_lapsed_and_lapsing_drivers_for_staff(box, clock, staff, alice, bob):
    carol = member(box, "Carol")
    vouch(box, staff, alice, {**CHECKS, "insurance": ("2025-12-01", "2026-01-10")})
    vouch(box, staff, bob, {**CHECKS, "insurance": ("2025-12-01", "2026-01-20")})
    vouch(box, staff, carol)  # valid to 2026-11-30
    clock.advance(12 * DAY_MS)  # 2026-01-13: Alice lapsed, Bob lapses in 7 days
    found = drivers.lapsing(box)
    assert [(p["name"], p["status"], p["valid_to"]) for p in found] == [
        ("Alice", "lapsed", "2026-01-10"),
        ("Bob", "lapsing", "2026-01-20"),
    ]
    assert found[1]["days_left"] == 7
    assert [p["name"] for p in drivers.lapsing(box, days=5)] == ["Alice"]
    listing = drivers.drivers_for_staff(box, staff)
    assert [p["name"] for p in listing["attention"]] == ["Alice", "Bob"]
    assert [p["name"] for p in listing["valid"]] == ["Carol"]
    with pytest.raises(NotAllowed):
        drivers.drivers_for_staff(box, alice)
    with pytest.raises(NotAllowed):
        drivers.driver_for_staff(box, alice, bob.id)


# --- withdrawing -------------------------------------------------------------------------


def test_staff_withdraw_a_vouch_with_a_reason(box, staff, alice):
    vouch(box, staff, alice)
    before = record_count()
    drivers.withdraw(box, staff, alice.id, "  Stopped   volunteering ")
    assert record_count() == before + 1
    stored = StoredRecord.select().order_by(StoredRecord.seq.desc()).first()
    assert stored.kind == "driver.withdrawn"
    assert json.loads(stored.raw)["body"] == {"reason": "Stopped volunteering"}
    assert drivers.authorisation(box, alice.id) is None
    assert drivers.lapsed_on(box, alice.id) is None  # withdrawn, not lapsed
    assert drivers.lapsing(box) == []


def test_withdrawing_needs_staff_a_vouch_and_a_reason(box, staff, alice, bob):
    vouch(box, staff, alice)
    before = record_count()
    with pytest.raises(NotAllowed):
        drivers.withdraw(box, bob, alice.id, "I say so")
    with pytest.raises(InvalidInput) as caught:
        drivers.withdraw(box, staff, alice.id, "   ")
    assert caught.value.fields == {
        "reason": "Please say why, in a few words (500 characters at most)."
    }
    with pytest.raises(InvalidInput):
        drivers.withdraw(box, staff, alice.id, "x" * 501)
    with pytest.raises(Conflict) as conflict:
        drivers.withdraw(box, staff, bob.id, "Never drove")
    assert str(conflict.value) == "Bob is not a driver checked by this centre."
    with pytest.raises(NotFound):
        drivers.withdraw(box, staff, "f" * 64, "Gone")
    assert record_count() == before
    assert drivers.is_authorised(box, alice)


# --- other centres -----------------------------------------------------------------------


def test_a_trusted_centres_vouch_authorises_and_names_its_centre(box, staff, alice):
    east = East(box)
    assert east.send(east.centre, east.vouch(alice.id, seats=5, dogs=True)).ok
    auth = drivers.authorisation(box, alice.id)
    assert auth["centres"] == [{"name": "East Centre", "valid_to": "2026-06-30"}]
    assert auth["here"] is False
    assert auth["vehicle"] == {"seats": 5, "wheelchair": False, "folded_chair": False, "dogs": True}
    # This centre's own vouch joins it; the latest expiry counts, this centre listed first.
    vouch(box, staff, alice)
    auth = drivers.authorisation(box, alice.id)
    assert auth["valid_to"] == "2026-11-30"
    assert auth["centres"] == [
        {"name": "Test Centre", "valid_to": "2026-11-30"},
        {"name": "East Centre", "valid_to": "2026-06-30"},
    ]
    assert auth["vehicle"]["seats"] == 3  # the most recent vouch's vehicle
    # Withdrawing here leaves East's vouch standing.
    drivers.withdraw(box, staff, alice.id, "Moved to East")
    assert drivers.authorisation(box, alice.id)["centres"] == [
        {"name": "East Centre", "valid_to": "2026-06-30"}
    ]
    with pytest.raises(Conflict):
        drivers.withdraw(box, staff, alice.id, "Again")
    staff_view = drivers.driver_for_staff(box, staff, alice.id)
    assert staff_view["own"] is None
    assert [(v["name"], v["here"], v["valid"]) for v in staff_view["vouches"]] == [
        ("East Centre", False, True)
    ]


def test_an_untrusted_centres_vouch_does_not_authorise(box, alice):
    stranger = East(box, "stranger", "Stranger Centre", trusted=False)
    result = stranger.send(stranger.centre, stranger.vouch(alice.id))
    assert not result.ok
    assert drivers.authorisation(box, alice.id) is None


def test_a_revoked_centres_vouch_stops_counting(box, alice):
    east = East(box)
    assert east.send(east.centre, east.vouch(alice.id)).ok
    assert drivers.is_authorised(box, alice)
    box.log.append("trust.revoked", {"last_seq": east.o.seq}, subject=east.grant)
    assert Driver.select().count() == 1  # the record is kept ...
    assert drivers.authorisation(box, alice.id) is None  # ... but no longer trusted
    assert drivers.lapsing(box) == []


def test_a_centre_trusted_through_a_paired_hub_counts(box, alice):
    hub = East(box, "hub", "Hub Centre")
    far = Origin("far", start_ms=START_MS - DAY_MS)
    relay = hub.make("trust.granted", {"origin": far.origin, "name": "Far Centre"})
    assert hub.send(hub.centre, relay).ok
    far.tick(1)
    centre = far.make("centre.created", {"name": "Far Centre", "timezone": "Europe/London"})
    vehicle = {"seats": 2, "wheelchair": False, "folded_chair": False, "dogs": False}
    checks = [{"check": "dbs", "label": "DBS", "seen": "2025-12-01", "expires": "2026-12-01"}]
    far.tick(1)
    vouched = far.make(
        "driver.vouched", {"checks": checks, "vehicle": vehicle}, subject=alice.id, author="f" * 64
    )
    assert box.log.ingest([centre.line, vouched.line]).ok
    assert drivers.authorisation(box, alice.id)["centres"] == [
        {"name": "Far Centre", "valid_to": "2026-12-01"}
    ]


# --- can a vehicle serve a ride? -----------------------------------------------------------


@pytest.mark.parametrize(
    "need, feature",
    [
        ("wheelchair-stays", "wheelchair"),
        ("wheelchair-transfers", "folded_chair"),
        ("assistance-dog", "dogs"),
    ],
)
def test_a_need_that_requires_a_feature_needs_that_feature(box, alice, need, feature):
    asked = ride(box, alice, needs=[need, "hard-of-hearing"])
    assert drivers.can_serve(box, EVERYTHING, asked)
    assert not drivers.can_serve(box, {**EVERYTHING, feature: False}, asked)
    others = {f: False for f in ("wheelchair", "folded_chair", "dogs") if f != feature}
    assert drivers.can_serve(box, {**EVERYTHING, **others}, asked)


@pytest.mark.parametrize("need", ["hard-of-hearing", "visually-impaired", "door-to-door", "escort"])
def test_needs_without_a_feature_suit_any_vehicle(box, alice, need):
    bare = {"seats": 1, "wheelchair": False, "folded_chair": False, "dogs": False}
    assert drivers.can_serve(box, bare, ride(box, alice, needs=[need]))


def test_seats_must_cover_the_passengers(box, alice):
    asked = ride(box, alice, passengers=3)
    assert not drivers.can_serve(box, {**EVERYTHING, "seats": 2}, asked)
    assert drivers.can_serve(box, {**EVERYTHING, "seats": 3}, asked)
    assert not drivers.can_serve(box, None, asked)


def test_a_retired_or_renamed_need_still_requires_its_feature(box, staff, alice):
    asked = ride(box, alice, needs=["assistance-dog"])
    travel_lists.set_access_need(box, staff, {"slug": "assistance-dog", "active": "0"})
    no_dogs = {**EVERYTHING, "dogs": False}
    assert not drivers.can_serve(box, no_dogs, asked)
    travel_lists.set_access_need(box, staff, {"label": "Oxygen", "requires": "wheelchair"})
    oxygen = ride(box, alice, needs=["oxygen"])
    assert not drivers.can_serve(box, {**EVERYTHING, "wheelchair": False}, oxygen)
    travel_lists.set_access_need(box, staff, {"slug": "oxygen", "requires": ""})
    assert drivers.can_serve(box, {**EVERYTHING, "wheelchair": False}, oxygen)


def test_an_authorised_drivers_vehicle_is_the_one_to_check(box, staff, alice, bob):
    vouch(box, staff, bob, vehicle={"seats": "4", "wheelchair": "1"})
    wheelchair = ride(box, alice, needs=["wheelchair-stays"])
    dog = ride(box, alice, needs=["assistance-dog"])
    car = drivers.authorisation(box, bob.id)["vehicle"]
    assert drivers.can_serve(box, car, wheelchair)
    assert not drivers.can_serve(box, car, dog)
