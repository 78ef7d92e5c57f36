"""Travel insight (appliance/services/travel_insight.py): demand by weekday and hour, the
share volunteers could not cover, access needs served, volunteers' journeys and miles,
paid services by month, the charts, small counts suppressed, coordinators only.

The rides are asked for at the box's clock, 2026-01-01 12:00 UTC (a Thursday), through
the riders' services, and looked at four weeks later, Thursday 2026-01-29 noon:
- Alice (wheelchair, stays in the chair), Bob and Carol (hard of hearing) ride every
  Tuesday at 09:30 with volunteers who took the series: Vera (van), Dan and Walt (cars).
  Vera marked 6 and 13 January done (10 and 12 miles), Dan 6 January (5), Walt 6
  January (7 miles).
- Dave, Erin and Fay (hard of hearing) ride every Tuesday at 09:30 too, and nobody took
  them; Erin's 13 January journey went to a paid taxi (£25.00).
- Gil's one journey, Friday 9 January at 14:00, was never covered.
- Hal asked for Thursday 8 January at 10:00, then cancelled: it never counts.
"""

from __future__ import annotations

import datetime
import re

import pytest
from boxes import member, record_count, trust, with_role
from recordmaker import Origin, lines, ride_body

from appliance.errors import InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.services import coordinating, driving, rides, travel_insight, travel_lists

HOUR = 3_600_000
DAY = 24 * HOUR
CAR = {"seats": 3, "wheelchair": False, "folded_chair": True, "dogs": False}
VAN = {"seats": 6, "wheelchair": True, "folded_chair": True, "dogs": True}
TUESDAYS = ("2026-01-06", "2026-01-13", "2026-01-20", "2026-01-27")
RIDE = {
    "from_address": "12 Secret Lane, Millbrook",
    "to_address": "City Hospital, Outpatients",
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "date": "2026-01-06",
    "time": "09:30",
    "time_is": "appointment",
    "window": "15",
    "repeat": "weekly",
    "passengers": "1",
    "notes": "door code 4321",
}


def fig(value):
    return {"value": value, "suppressed": False}


HIDDEN = {"value": None, "suppressed": True}


def vouch(box, staff, who, vehicle):
    check = {"check": "licence", "label": "Driving licence seen", "seen": "2025-06-01"}
    body = {"checks": [{**check, "expires": "2027-06-30"}], "vehicle": vehicle}
    box.log.append("driver.vouched", body, subject=who.id, author=staff.id)
    return who


@pytest.fixture
def cora(box):
    return with_role(box, "Cora Coordinator", "coordinator")


@pytest.fixture
def world(box, clock, staff):
    """The rides above, with their journeys done, paid and cancelled; the clock at the end."""
    vera = vouch(box, staff, member(box, "Vera Van"), VAN)
    dan = vouch(box, staff, member(box, "Dan Driver"), CAR)
    walt = vouch(box, staff, member(box, "Walt Wheels"), CAR)
    riders = {n: member(box, n) for n in ("Alice", "Bob", "Carol", "Dave", "Erin", "Fay")}
    riders.update(Gil=member(box, "Gil"), Hal=member(box, "Hal"))
    needs = {"Alice": ["wheelchair-stays"], "Bob": ["hard-of-hearing"]}
    needs.update({n: ["hard-of-hearing"] for n in ("Carol", "Dave", "Erin", "Fay")})
    ids = {}
    for name in ("Alice", "Bob", "Carol", "Dave", "Erin", "Fay"):
        ids[name] = rides.request_ride(box, riders[name], {**RIDE, "needs": needs[name]})
    once = {**RIDE, "repeat": "none"}
    ids["Gil"] = rides.request_ride(
        box, riders["Gil"], {**once, "date": "2026-01-09", "time": "14:00"}
    )
    ids["Hal"] = rides.request_ride(
        box, riders["Hal"], {**once, "date": "2026-01-08", "time": "10:00"}
    )
    rides.cancel(box, riders["Hal"], ids["Hal"], None, "Feeling better")
    for driver, rider in ((vera, "Alice"), (dan, "Bob"), (walt, "Carol")):
        driving.take(box, driver, ids[rider], None)
    taxi = travel_lists.set_provider(box, staff, {"name": "Millbrook Taxis"})
    coordinating.allocate_paid(box, staff, ids["Erin"], TUESDAYS[1], taxi, "25.00", "T-1")
    clock.ms += 6 * DAY  # Wednesday 7 January
    driving.done(box, vera, ids["Alice"], TUESDAYS[0], "10")
    driving.done(box, dan, ids["Bob"], TUESDAYS[0], "5")
    driving.done(box, walt, ids["Carol"], TUESDAYS[0], "7")
    clock.ms += 7 * DAY
    driving.done(box, vera, ids["Alice"], TUESDAYS[1], "12")
    clock.ms = clock.ms - 13 * DAY + 28 * DAY  # Thursday 29 January, noon
    return ids


def test_the_journeys_of_the_window_and_their_outcomes(box, world):
    _, found = travel_insight.journeys(box, 4)
    outcome = {(j["ride"], j["date"]): j["outcome"] for j in found}
    assert len(found) == 25  # 6 riders x 4 Tuesdays, and Gil's Friday; Hal's is cancelled
    assert outcome[(world["Erin"], TUESDAYS[1])] == "paid"
    assert outcome[(world["Gil"], "2026-01-09")] == "unmet"
    assert not any(ride == world["Hal"] for ride, _ in outcome)
    assert {outcome[(world["Alice"], d)] for d in TUESDAYS} == {"volunteer"}
    # A journey whose time has not come yet is not counted: Tuesday 3 February.
    assert all(j["date"] <= "2026-01-29" for j in found)


def test_insight_figures_week_by_week(box, world, cora):
    data = travel_insight.insight(box, cora, 4)
    assert (data["weeks"], data["from"]) == (4, "2026-01-05")
    totals = data["totals"]
    assert totals["journeys"] == fig(25)
    assert totals["volunteer"] == fig(12)
    assert totals["unmet"] == fig(12)
    assert totals["paid"] == HIDDEN  # one rider's journey
    assert totals["not_volunteer"] == fig(52)  # 13 of 25, riders Dave, Erin, Fay, Gil
    assert totals["done"] == fig(4)  # 3 riders, 3 drivers
    assert totals["miles"] == fig(34)
    assert totals["cost"] == HIDDEN and totals["cost_text"] is None

    weeks = {w["start"]: w for w in data["weekly"]}
    assert list(weeks) == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    first = weeks["2026-01-05"]
    assert (first["journeys"], first["unmet"], first["paid"]) == (fig(7), fig(4), fig(0))
    assert first["not_volunteer"] == fig(57)  # 4 of 7
    assert (first["done"], first["miles"]) == (fig(3), fig(22))
    second = weeks["2026-01-12"]
    assert second["journeys"] == fig(6)
    # Two unmet (Dave, Fay) and one paid (Erin): each too few people, together three.
    assert (second["unmet"], second["paid"]) == (HIDDEN, HIDDEN)
    assert second["not_volunteer"] == fig(50)
    assert (second["done"], second["miles"]) == (HIDDEN, HIDDEN)  # only Vera drove Alice
    last = weeks["2026-01-26"]
    assert (last["unmet"], last["not_volunteer"], last["done"]) == (fig(3), fig(50), fig(0))


def test_demand_by_weekday_and_hour(box, world, cora):
    demand = travel_insight.insight(box, cora, 4)["demand"]
    rows = {r["hour"]: r["cells"] for r in demand["rows"]}
    assert min(rows) == 7 and max(rows) == 19  # the hours always shown
    assert rows[9][1] == {"figure": fig(24), "level": 4}  # Tuesdays at 09:30
    assert rows[14][4] == {"figure": HIDDEN, "level": "s"}  # Gil's one Friday
    assert rows[10][3] == {"figure": fig(0), "level": 0}  # Hal's cancelled Thursday
    assert [d["figure"] for d in demand["days"]] == [
        fig(0),
        fig(24),
        fig(0),
        fig(0),
        HIDDEN,
        fig(0),
        fig(0),
    ]
    assert demand["total"] == fig(25)


def test_a_journey_out_of_the_usual_hours_widens_the_table(box, clock, cora):
    early = [member(box, n) for n in ("Ann", "Ben", "Cat")]
    for who in early:
        rides.request_ride(box, who, {**RIDE, "repeat": "none", "time": "05:15"})
    clock.ms += 7 * DAY
    demand = travel_insight.insight(box, cora, 4)["demand"]
    assert [r["hour"] for r in demand["rows"]][:3] == [5, 6, 7]
    assert demand["rows"][0]["cells"][1] == {"figure": fig(3), "level": 4}


def test_access_needs_asked_and_served(box, world, cora):
    needs = {n["slug"]: n for n in travel_insight.insight(box, cora, 4)["needs"]}
    hearing = needs["hard-of-hearing"]
    assert hearing["label"] == "Hard of hearing"
    # Bob, Carol, Dave, Erin and Fay: 20 journeys; Bob's and Carol's and Erin's paid one served.
    assert (hearing["asked"], hearing["served"], hearing["share"]) == (fig(20), fig(9), fig(45))
    assert needs["wheelchair-stays"]["asked"] == HIDDEN  # Alice alone
    assert needs["wheelchair-stays"]["share"] == HIDDEN
    assert needs["assistance-dog"]["asked"] == fig(0)
    assert needs["assistance-dog"]["share"] == {"value": None, "suppressed": False}
    order = [n["slug"] for n in travel_insight.insight(box, cora, 4)["needs"]]
    assert order[0] == "hard-of-hearing" and order[-1] == travel_insight.NO_NEEDS
    assert needs[travel_insight.NO_NEEDS]["asked"] == HIDDEN  # Gil


def test_paid_journeys_by_month(box, world, cora):
    months = travel_insight.insight(box, cora)["monthly"]  # 12 weeks: from 10 November
    assert [m["month"] for m in months] == ["2025-11", "2025-12", "2026-01"]
    assert months[0] == {"month": "2025-11", "paid": fig(0), "cost": fig(0), "cost_text": "0.00"}
    assert months[-1]["paid"] == HIDDEN and months[-1]["cost_text"] is None


def test_three_riders_paid_for_show_their_count_and_cost(box, world, staff, cora, clock):
    clock.ms = clock.ms - 28 * DAY  # back to 1 January, to book ahead
    taxi = travel_lists.providers(box)[0]["slug"]
    coordinating.allocate_paid(box, staff, world["Dave"], TUESDAYS[2], taxi, "12.50", "T-2")
    coordinating.allocate_paid(box, staff, world["Fay"], TUESDAYS[3], taxi, "£30", "T-3")
    clock.ms += 28 * DAY
    data = travel_insight.insight(box, cora, 4)
    assert data["totals"]["paid"] == fig(3)
    assert data["totals"]["cost"] == fig(6750) and data["totals"]["cost_text"] == "67.50"
    assert data["monthly"][-1] == {
        "month": "2026-01",
        "paid": fig(3),
        "cost": fig(6750),
        "cost_text": "67.50",
    }


def test_only_coordinators_and_staff_see_insight(box, world, staff, cora):
    assert travel_insight.insight(box, staff, 4)["totals"]["journeys"] == fig(25)
    with pytest.raises(NotSignedIn):
        travel_insight.insight(box, None)
    rider = member(box, "Rita Rider")
    with pytest.raises(NotAllowed):
        travel_insight.insight(box, rider)
    driver = vouch(box, staff, member(box, "Dora Driver"), VAN)
    for who in (rider, driver):
        with pytest.raises(NotAllowed):
            travel_insight.chart_svg(box, who, "demand")
    with pytest.raises(NotSignedIn):
        travel_insight.chart_svg(box, None, "demand")


@pytest.mark.parametrize("weeks", ["0", "3", "53", "twelve", "-4", "12.5", 7])
def test_a_window_that_is_not_offered_is_refused(box, cora, weeks):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        travel_insight.insight(box, cora, weeks)
    assert caught.value.fields == {"weeks": "Please choose 4, 8, 12, 26 or 52 weeks."}
    assert record_count() == before


def test_an_empty_box_shows_zeros_not_errors(box, cora):
    data = travel_insight.insight(box, cora, "")
    assert data["weeks"] == 12 and len(data["weekly"]) == 12
    assert data["totals"]["journeys"] == fig(0)
    assert data["totals"]["not_volunteer"] == {"value": None, "suppressed": False}
    for name in travel_insight.chart_names():
        assert "<svg" in travel_insight.chart_svg(box, cora, name)


def test_rides_from_other_centres_are_not_this_centres_insight(box, world, cora):
    neighbour = Origin("Neighbour Centre")
    trust(box, neighbour)
    riders = [f"{n}" * 64 for n in "abc"]
    asked = [
        neighbour.make("ride.requested", ride_body(r, start="2026-01-20T11:00"), author=r)
        for r in riders
    ]
    assert box.log.ingest(lines(asked)).ok
    data = travel_insight.insight(box, cora, 4)
    assert data["totals"]["journeys"] == fig(25)
    assert data["totals"]["unmet"] == fig(12)


# --- charts --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", travel_insight.chart_names())
def test_each_chart_is_an_svg_with_nothing_from_outside(box, world, cora, name):
    svg = travel_insight.chart_svg(box, cora, name, 4)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<script" not in svg and "<!--" not in svg
    assert not re.search(r"(?:href|src)=\"https?://", svg)
    assert f'id="chart-{name}"' in svg
    # The same figures give the same bytes (the page's ETag relies on it).
    assert svg == travel_insight.chart_svg(box, cora, name, 4)
    # No rider or driver is named, and no address or note reaches a chart.
    for secret in ("Alice", "Vera", "Erin", "Secret Lane", "4321", "Millbrook"):
        assert secret not in svg


def test_a_suppressed_figure_is_starred_and_not_drawn(box, world, cora):
    svg = travel_insight.chart_svg(box, cora, "demand", 4)
    assert "Fri*" in svg and "Tue*" not in svg
    assert "fewer than 3 people behind it" in svg  # the note under the chart
    needs = travel_insight.chart_svg(box, cora, "needs", 4)
    # Long labels are cut short beside the bars (the page's table has them whole).
    assert "Wheelchair user, stay…*" in needs and "stays in the chair" not in needs
    assert "Hard of hearing*" not in needs


def test_an_unknown_chart_is_not_found(box, cora):
    with pytest.raises(NotFound):
        travel_insight.chart_svg(box, cora, "riders")


def test_the_window_follows_the_clock(box, world, cora, clock):
    clock.ms += 12 * 7 * DAY  # 23 April: the January journeys fall out of four weeks
    data = travel_insight.insight(box, cora, 4, now_ms=clock.ms)
    # The recurring rides go on: four more Tuesdays each, nobody took Dave's, Erin's, Fay's.
    assert data["weekly"][0]["start"] == "2026-03-30"
    assert data["totals"]["unmet"] == fig(12)
    assert data["totals"]["paid"] == fig(0)
    earlier = travel_insight.insight(box, cora, 4, now_ms=clock.ms - 12 * 7 * DAY)
    assert earlier["totals"]["journeys"] == fig(25)
    assert datetime.date.fromisoformat(earlier["from"]).weekday() == 0


# --- a series taken late -----------------------------------------------------------------------


def test_a_series_taken_late_leaves_the_past_unmet(box, clock, staff, cora):
    """A weekly ride nobody took for two weeks, then Dan takes every journey: the fold
    gives him the journeys from that day on (Ride.series_since), so the two Tuesdays
    nobody drove stay unmet in insight, in the coordinator's totals and on his calendar."""
    from appliance.models import Ride
    from appliance.services import ride_calendar
    from appliance.services.accounts import actor_for

    dan = actor_for(box, vouch(box, staff, member(box, "Dan Driver"), CAR).id)
    ride_id = rides.request_ride(box, member(box, "Rita Rider"), {**RIDE, "needs": []})
    clock.advance(13 * DAY)  # Wednesday 2026-01-14 noon: 6 and 13 January went unmet
    driving.take(box, dan, ride_id, None)
    ride = Ride.get_by_id(ride_id)
    assert (ride.series_driver, ride.series_since) == (dan.id, "2026-01-14")
    for date in TUESDAYS[:2]:
        assert driving.journey_state(ride, date) == (None, "open")
    for date in TUESDAYS[2:]:
        assert driving.journey_state(ride, date) == (dan.id, "driver_found")
    clock.advance(15 * DAY)  # Thursday 2026-01-29: all four Tuesdays have passed
    _weeks, found = travel_insight.journeys(box, 4)
    outcomes = {j["date"]: j["outcome"] for j in found if j["ride"] == ride_id}
    assert outcomes == dict(
        zip(TUESDAYS, ["unmet", "unmet", "volunteer", "volunteer"], strict=True)
    )
    [january] = coordinating.paid_totals(box, cora, months=1)
    assert (january["month"], january["volunteer"], january["paid"]) == ("2026-01", 2, 0)
    feed = ride_calendar.driver_feed(box, dan).decode()
    assert "20260113" not in feed and "20260106" not in feed
    assert "20260120" in feed and "20260127" in feed


def test_a_series_cannot_be_taken_while_another_driver_holds_a_past_journey(box, clock, staff):
    """Walt drove last Tuesday but has not marked it done: a series take now would leave
    two drivers on the ride's past, so it is refused until he does."""
    from appliance.errors import Conflict
    from appliance.models import Ride
    from appliance.services.accounts import actor_for

    dan = actor_for(box, vouch(box, staff, member(box, "Dan Driver"), CAR).id)
    walt = actor_for(box, vouch(box, staff, member(box, "Walt Wheels"), CAR).id)
    ride_id = rides.request_ride(box, member(box, "Rita Rider"), {**RIDE, "needs": []})
    driving.take(box, walt, ride_id, TUESDAYS[0])
    clock.advance(6 * DAY)  # Wednesday 2026-01-07: Walt's journey is past, not done
    before = record_count()
    with pytest.raises(Conflict, match="not marked done"):
        driving.take(box, dan, ride_id, None)
    assert record_count() == before
    driving.done(box, walt, ride_id, TUESDAYS[0], "8")
    driving.take(box, dan, ride_id, None)
    assert Ride.get_by_id(ride_id).series_driver == dan.id
    assert driving.journey_state(Ride.get_by_id(ride_id), TUESDAYS[0]) == (walt.id, "done")
