"""Trends with a fixed clock: weekly buckets in the centre's time zone, small counts
suppressed, labour by weekday, and the early warnings firing on rises and short weeks
but staying quiet on flat data."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from boxes import START_MS, member, record_count
from test_food_balance import add_item, add_org, need, supply

from appliance.errors import InvalidInput
from appliance.services import board, food_trends, moderation

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
LONDON = ZoneInfo("Europe/London")


def ms(day: str, hour: float = 12, zone=LONDON) -> int:
    """Return the time of a day and hour in a zone, in ms."""
    moment = datetime.datetime.fromisoformat(day).replace(tzinfo=zone)
    return int(moment.timestamp() * 1000 + hour * HOUR_MS)


# Thursday 26 March 2026, noon: the current week began on Monday 23 March (still GMT).
NOW = ms("2026-03-26")
FIRST_MONDAY = "2026-01-05"  # twelve weeks: 5 January to the week of 23 March


def at(clock, when: int) -> None:
    """Set the box's clock to a later time (a record's time is the clock's)."""
    assert when >= clock.ms, "the clock only goes forward"
    clock.advance(when - clock.ms)


def monday(weeks_back: int) -> str:
    """The Monday `weeks_back` weeks before the current week's (23 March 2026)."""
    return (datetime.date(2026, 3, 23) - datetime.timedelta(weeks=weeks_back)).isoformat()


@pytest.fixture
def organiser(box):
    return member(box, "Olu")


@pytest.fixture
def bank(box, staff):
    return add_org(box, staff, "Hilltop Food Bank")


@pytest.fixture
def items(box, staff):
    return {
        "beans": add_item(box, staff, "Baked beans"),
        "nappies": add_item(box, staff, "Nappies", "baby", "packs"),
        "rice": add_item(box, staff, "Rice", "dry", "kg"),
    }


def values(rows, side="demand") -> list:
    return [r[side]["value"] if not r[side]["suppressed"] else "suppressed" for r in rows]


# --- demand and supply by week --------------------------------------------------------------


def test_weeks_are_the_last_twelve_iso_weeks_in_the_centres_zone(box):
    weeks = food_trends.weeks(box, NOW)
    assert len(weeks) == 12
    assert weeks[0]["start"] == FIRST_MONDAY and weeks[0]["key"] == "2026-W02"
    assert weeks[-1]["start"] == "2026-03-23" and weeks[-1]["key"] == "2026-W13"
    # Summer time starts on 29 March: the week ends at midnight in London, 23:00 UTC.
    end = datetime.datetime(2026, 3, 29, 23, tzinfo=datetime.UTC)
    assert weeks[-1]["end_ms"] == int(end.timestamp() * 1000)


def test_demand_and_supply_fall_in_the_week_they_were_posted(box, clock, organiser, bank, items):
    beans, rice = items["beans"], items["rice"]
    need(box, organiser, bank, [(beans, 99)])  # 1 January: before the twelve weeks
    at(clock, ms(FIRST_MONDAY, 0))  # Monday 00:00, the first moment of the first week
    need(box, organiser, bank, [(beans, 5), (rice, 2)])
    at(clock, ms("2026-01-07"))
    need(box, organiser, bank, [(beans, 6)])
    at(clock, ms("2026-01-11", 23.99))  # Sunday, just before midnight
    need(box, organiser, bank, [(beans, 7)])
    supply(box, organiser, bank, [(beans, 50)])
    at(clock, ms("2026-01-12", 0))  # the next Monday
    for qty in (1, 2, 3):
        supply(box, organiser, bank, [(beans, qty)])
    at(clock, NOW)
    need(box, organiser, bank, [(rice, 4)])  # this week, one post: suppressed
    at(clock, NOW + HOUR_MS)
    need(box, organiser, bank, [(beans, 1000)])  # after the moment asked about

    rows = food_trends.weekly(box, "tins", NOW)
    assert [r["start"] for r in rows][:2] == [FIRST_MONDAY, "2026-01-12"]
    assert values(rows) == [18] + [0] * 11
    assert values(rows, "supply") == ["suppressed", 6] + [0] * 10
    all_rows = food_trends.weekly(box, None, NOW)
    assert values(all_rows) == [20] + [0] * 10 + ["suppressed"]
    dry = food_trends.weekly(box, "dry", NOW)
    assert values(dry) == ["suppressed"] + [0] * 10 + ["suppressed"]


def test_weeks_follow_the_centres_time_zone(box, clock, organiser, bank, items):
    # Monday 12 January 03:00 in London is still Sunday evening in New York.
    at(clock, ms("2026-01-12", 3))
    for qty in (1, 2, 3):
        need(box, organiser, bank, [(items["beans"], qty)])
    at(clock, NOW)
    assert values(food_trends.weekly(box, "tins", NOW))[:2] == [0, 6]
    box.settings["timezone"] = "America/New_York"
    now_there = ms("2026-03-26", zone=ZoneInfo("America/New_York"))
    assert values(food_trends.weekly(box, "tins", now_there))[:2] == [6, 0]


def test_hidden_posts_never_count_but_met_ones_do(box, clock, staff, organiser, bank, items):
    at(clock, ms(monday(1)))
    posts = [need(box, organiser, bank, [(items["beans"], 10)]) for _ in range(4)]
    moderation.set_post_hidden(box, staff, posts[0], True, "Posted twice")
    board.resolve(box, staff, posts[1], "Done")
    at(clock, NOW)
    assert values(food_trends.weekly(box, "tins", NOW))[-2] == 30


def test_an_unknown_category_is_refused(box):
    with pytest.raises(InvalidInput) as caught:
        food_trends.weekly(box, "caviar", NOW)
    assert caught.value.fields == {"category": "There is no such category."}
    assert food_trends.check_category("") == "all"


# --- rising demand --------------------------------------------------------------------------


def demand_history(box, clock, organiser, bank, item, per_week: dict[int, list[int]]):
    """Post needs: per_week maps weeks back (7..0) to the quantities posted that week."""
    for back in sorted(per_week, reverse=True):
        at(clock, ms(monday(back), 10))
        for qty in per_week[back]:
            clock.advance(HOUR_MS)
            need(box, organiser, bank, [(item, qty)])


def test_flat_demand_gives_no_warning(box, clock, organiser, bank, items):
    demand_history(box, clock, organiser, bank, items["beans"], {b: [10, 10, 10] for b in range(8)})
    at(clock, NOW)
    assert food_trends.rising(box, NOW) == []
    assert food_trends.warnings(box, NOW) == []


def test_rising_demand_warns(box, clock, organiser, bank, items):
    weeks = {b: [10, 10, 10] for b in range(2, 8)}  # 30 a week before
    weeks |= {1: [15, 15, 15], 0: [15, 15, 15]}  # 45 a week: 1.5 times as much
    demand_history(box, clock, organiser, bank, items["beans"], weeks)
    at(clock, NOW)
    [warning] = food_trends.rising(box, NOW)
    assert warning["kind"] == "rising"
    assert (warning["category"], warning["label"]) == ("tins", "Tins and jars")
    assert warning["recent_weekly"] == {"value": 45, "suppressed": False}
    assert warning["before_weekly"] == {"value": 30, "suppressed": False}
    assert warning["ratio"] == 1.5
    assert food_trends.trends(box, "tins", NOW)["warnings"] == [warning]


def test_just_below_the_rise_gives_no_warning(box, clock, organiser, bank, items):
    weeks = {b: [10, 10, 10] for b in range(2, 8)}
    weeks |= {1: [15, 15, 15], 0: [15, 15, 14]}  # 44.5 a week: not quite 1.5 times
    demand_history(box, clock, organiser, bank, items["beans"], weeks)
    at(clock, NOW)
    assert food_trends.rising(box, NOW) == []


def test_a_rise_from_nothing_warns_above_the_floor_only(box, clock, organiser, bank, items):
    demand_history(box, clock, organiser, bank, items["nappies"], {1: [3, 3], 0: [3, 3]})
    assert food_trends.rising(box, clock.ms) == []  # 6 a week: under the floor of 10
    clock.advance(HOUR_MS)
    need(box, organiser, bank, [(items["rice"], 30)])
    assert food_trends.rising(box, clock.ms) == []  # one post is too few to show
    need(box, organiser, bank, [(items["rice"], 1)])
    need(box, organiser, bank, [(items["rice"], 1)])
    at(clock, NOW)
    [warning] = food_trends.rising(box, NOW)
    assert warning["category"] == "dry"
    assert warning["recent_weekly"] == {"value": 16, "suppressed": False}
    assert warning["before_weekly"] == {"value": 0, "suppressed": False}
    assert warning["ratio"] is None


def test_a_baseline_from_too_few_posts_is_suppressed(box, clock, organiser, bank, items):
    demand_history(box, clock, organiser, bank, items["beans"], {5: [6], 0: [20, 20, 20]})
    at(clock, NOW)
    [warning] = food_trends.rising(box, NOW)
    assert warning["before_weekly"] == {"value": None, "suppressed": True}
    assert warning["recent_weekly"] == {"value": 30, "suppressed": False}


# --- labour and short weeks -----------------------------------------------------------------


def shift(box, who, org, start: int, people: int, title="Sorting") -> str:
    body = {
        "org": org,
        "title": title,
        "start": start,
        "end": start + 3 * HOUR_MS,
        "place": "Hill Road",
        "people": people,
        "bring": "",
    }
    return box.log.append("shift.created", body, author=who.id).id


def join(box, shift_id: str, volunteers) -> None:
    for v in volunteers:
        box.log.append("shift.joined", {}, subject=shift_id, author=v.id)


@pytest.fixture
def volunteers(box):
    return [member(box, f"Volunteer {n}") for n in range(8)]


def test_labour_by_weekday_with_small_counts_suppressed(box, clock, organiser, bank, volunteers):
    at(clock, NOW - 10 * DAY_MS)
    saturday_past = shift(box, organiser, bank, ms("2026-03-21", 9), 4)  # a Saturday
    join(box, saturday_past, volunteers[:4])
    saturday_next = shift(box, organiser, bank, ms("2026-03-28", 9), 6)
    join(box, saturday_next, volunteers[:1])
    tuesday = shift(box, organiser, bank, ms("2026-03-31", 18), 3)  # BST by then
    join(box, tuesday, volunteers[:2])
    old = shift(box, organiser, bank, ms("2026-02-20", 9), 5)  # 34 days before NOW
    join(box, old, volunteers)
    far = shift(box, organiser, bank, ms("2026-04-25", 9), 5)  # 30 days after NOW
    join(box, far, volunteers[:5])
    cancelled = shift(box, organiser, bank, ms("2026-03-27", 9), 5)
    box.log.append("shift.cancelled", {"reason": ""}, subject=cancelled, author=organiser.id)
    at(clock, NOW)

    rows = {r["label"]: r for r in food_trends.labour(box, NOW)}
    assert list(rows) == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    assert (rows["Saturday"]["shifts"], rows["Saturday"]["needed"]) == (2, 10)
    # Four different people on Saturdays (the one next week is one of them): shown.
    assert rows["Saturday"]["coming"] == {"value": 5, "suppressed": False}
    assert (rows["Tuesday"]["needed"], rows["Tuesday"]["coming"]) == (
        3,
        {"value": None, "suppressed": True},
    )
    assert rows["Friday"] == {
        "weekday": 4,
        "label": "Friday",
        "shifts": 0,
        "needed": 0,
        "coming": {"value": 0, "suppressed": False},
    }


def test_a_short_week_warns_and_lists_its_shifts(box, clock, organiser, bank, volunteers):
    at(clock, NOW - DAY_MS)
    sat = shift(box, organiser, bank, ms("2026-03-28", 9), 4, "Saturday sort")
    sun = shift(box, organiser, bank, ms("2026-03-29", 9), 4, "Sunday sort")
    past = shift(box, organiser, bank, ms("2026-03-25", 9), 10, "Yesterday")  # before NOW
    join(box, sat, volunteers[:4])
    join(box, sun, volunteers[4:5])  # 5 of 8 places filled: under 75 %
    # The week after: 3 of 4 places, exactly 75 %: no warning.
    full_enough = shift(box, organiser, bank, ms("2026-04-04", 9), 4, "Next Saturday")
    join(box, full_enough, volunteers[:3])
    at(clock, NOW)

    [warning] = food_trends.short_weeks(box, NOW)
    assert warning["kind"] == "short_week"
    assert (warning["week"], warning["places"]) == ("2026-03-23", 8)
    assert warning["filled"] == {"value": 5, "suppressed": False}
    [listed] = warning["shifts"]
    assert (listed["id"], listed["title"], listed["org"]) == (
        sun,
        "Sunday sort",
        "Hilltop Food Bank",
    )
    assert listed["people"] == 4
    assert listed["coming"] == {"value": None, "suppressed": True}  # one volunteer
    assert past not in repr(warning)
    assert food_trends.warnings(box, NOW) == [warning]


def test_well_filled_weeks_give_no_warning(box, clock, organiser, bank, volunteers):
    at(clock, NOW - DAY_MS)
    for day in ("2026-03-28", "2026-04-04", "2026-04-11"):
        join(box, shift(box, organiser, bank, ms(day, 9), 4), volunteers[:4])
    at(clock, NOW)
    assert food_trends.short_weeks(box, NOW) == []


def test_reading_trends_writes_nothing(box, clock, organiser, bank, items):
    before = record_count()
    food_trends.trends(box, "tins", START_MS)
    food_trends.trends(box, None)
    assert record_count() == before
