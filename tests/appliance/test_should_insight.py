"""The "somebody should" insight and the overview, checked against a hand-computed
fixture: posts, offers of help and resolutions at known times on the box's clock, and
another centre's posts arriving as its signed records.

The fixture (the box's clock starts Thursday 2026-01-01 12:00 UTC; London is on GMT, so
local days are UTC days; hours below are from then):

| post | category  | place     | created      | first helper | resolved       |
| P1   | local-fix | Mill Lane | 0 h (Thu 1)  | +2 h         | +10 h          |
| P2   | local-fix | Mill Lane | 24 h (Fri 2) | +4 h         | +30 h          |
| P3   | local-fix | Mill Lane | 120 h (Tue 6)| +6 h         | +50 h          |
| P4   | local-fix | Park Road | 168 h (Thu 8)| +8 h         | open           |
| P5   | household | Park Road | 192 h (Fri 9)| none         | open           |
| P6   | household | Park Road | 288 h (Tue13)| +1 h (withdrawn, helped again +12 h) | +20 h |
| P7   | travel    | Station   | 312 h (Wed14)| none         | open           |
and, not counted: a hidden "should" at Mill Lane and a need (not a "should").
Centre B (another box): E1 local-fix Elm Street +2 h resolved +12 h later, E2 local-fix
Elm Street +3 h open, E3 travel Elm Street +4 h open. The page is read at 480 h
(Wednesday 21 January); the default window starts Monday 3 November 2025.
"""

from __future__ import annotations

import pytest
from boxes import START_MS, member, record_count, trust
from recordmaker import DAY_MS, Origin, post_body
from test_food_balance import add_item, add_org, need, pledge

from appliance.errors import InvalidInput, NotFound
from appliance.services import board, insight_overview, moderation, should_insight
from appliance.services.food_balance import PLAIN

HOUR_MS = 3_600_000
NOW = START_MS + 480 * HOUR_MS


def at(clock, hours: float) -> None:
    """Set the box's clock to `hours` after the start (it only goes forward)."""
    when = START_MS + int(hours * HOUR_MS)
    assert when >= clock.ms
    clock.ms = when


def should(box, who, title, category, place) -> str:
    data = {"type": "should", "title": title, "details": "", "category": category}
    return board.create_post(box, who, {**data, "place": place, "needed_by": ""})


@pytest.fixture
def world(box, clock, alice, bob, staff):
    """Build the fixture above; return the post ids by name."""
    carol = member(box, "Carol")
    ids = {}
    events = [
        (0, lambda: ids.__setitem__("P1", should(box, alice, "Pothole", "local-fix", "Mill Lane"))),
        (2, lambda: board.offer_help(box, bob, ids["P1"], "on_it")),
        (10, lambda: board.resolve(box, alice, ids["P1"])),
        (24, lambda: ids.__setitem__("P2", should(box, alice, "Drain", "local-fix", "Mill Lane"))),
        (28, lambda: board.offer_help(box, bob, ids["P2"], "can_help")),
        (54, lambda: board.resolve(box, alice, ids["P2"])),
        (120, lambda: ids.__setitem__("P3", should(box, alice, "Bins", "local-fix", "mill  lane"))),
        (126, lambda: board.offer_help(box, carol, ids["P3"], "on_it")),
        (
            130,
            lambda: ids.__setitem__("hidden", should(box, bob, "Rude", "local-fix", "Mill Lane")),
        ),
        (131, lambda: moderation.set_post_hidden(box, staff, ids["hidden"], True, "Rude")),
        (140, lambda: board.create_post(box, alice, {**_need(), "place": "Mill Lane"})),
        (
            168,
            lambda: ids.__setitem__("P4", should(box, alice, "Lamp out", "local-fix", "Park Road")),
        ),
        (170, lambda: board.resolve(box, alice, ids["P3"])),
        (176, lambda: board.offer_help(box, bob, ids["P4"], "can_help")),
        (
            192,
            lambda: ids.__setitem__(
                "P5", should(box, alice, "Sofa dumped", "household", "Park Road")
            ),
        ),
        (
            288,
            lambda: ids.__setitem__(
                "P6", should(box, alice, "Old fridge", "household", "Park Road")
            ),
        ),
        (289, lambda: board.offer_help(box, bob, ids["P6"], "can_help")),
        (290, lambda: board.withdraw_help(box, bob, ids["P6"])),
        (300, lambda: board.offer_help(box, carol, ids["P6"], "on_it")),
        (308, lambda: board.resolve(box, alice, ids["P6"])),
        (
            312,
            lambda: ids.__setitem__("P7", should(box, alice, "Bus shelter", "travel", "Station")),
        ),
    ]
    for hours, act in events:
        at(clock, hours)
        act()
    # P3 resolved at 170 h: 50 h after it was posted at 120 h.
    east = Origin("east", start_ms=START_MS - DAY_MS)
    trust(box, east.origin)
    made = [east.make("centre.created", {"name": "Centre B", "timezone": "Europe/London"})]
    joined = east.make("member.joined", {"name": "Eve"})
    made.append(joined)

    def east_post(hours, title, category):
        body = post_body("should", title, category=category, place="Elm Street")
        return east.make("post.created", body, author=joined.id, hlc=_hlc(hours))

    e1 = east_post(2, "Graffiti", "local-fix")
    made += [e1, east_post(3, "Broken bench", "local-fix"), east_post(4, "No bus", "travel")]
    made.append(
        east.make("post.resolved", {"note": ""}, subject=e1.id, author=joined.id, hlc=_hlc(14))
    )
    at(clock, 400)
    assert box.log.ingest([m.line for m in made]).ok
    ids["E1"] = e1.id
    return ids


def _hlc(hours: float) -> list[int]:
    return [START_MS + int(hours * HOUR_MS), 0]


def _need() -> dict:
    return {"type": "need", "title": "Lift", "details": "", "category": "travel", "needed_by": ""}


def exact(value) -> dict:
    return {"value": value, "suppressed": False}


HIDDEN = {"value": None, "suppressed": True}
NONE = {"value": None, "suppressed": False}


def by(rows, key, value) -> dict:
    return next(r for r in rows if r[key] == value)


# --- the figures, as staff see them (exact) ------------------------------------------------


def test_counts_times_and_shares_for_staff_are_exact(box, world, staff):
    data = should_insight.insight(box, staff, {}, NOW)
    assert (data["from"], data["to"], data["scope"]) == ("2025-11-03", "2026-01-21", "here")
    totals = data["totals"]
    assert totals["reported"] == exact(7)
    assert totals["resolved"] == exact(4)
    assert totals["resolved_share"] == exact(57)  # 4 of 7
    # First helpers after 2, 4, 6, 8 and 1 hours: sorted 1 2 4 6 8.
    assert totals["helper"] == {"n": exact(5), "median": exact(4.0), "p75": exact(6.0)}
    # Resolved after 10, 30, 50 and 20 hours: sorted 10 20 30 50; 75th at 2.25: 30 + 5.
    assert totals["resolution"] == {"n": exact(4), "median": exact(25.0), "p75": exact(35.0)}

    fix = by(data["categories"], "slug", "local-fix")
    assert (fix["reported"], fix["resolved"], fix["resolved_share"]) == (
        exact(4),
        exact(3),
        exact(75),
    )
    assert fix["helper"] == {"n": exact(4), "median": exact(5.0), "p75": exact(6.5)}
    assert fix["resolution"] == {"n": exact(3), "median": exact(30.0), "p75": exact(40.0)}
    house = by(data["categories"], "slug", "household")
    assert (house["reported"], house["resolved"]) == (exact(2), exact(1))
    # P6's first offer (withdrawn an hour later) is its first helper: 1 hour.
    assert house["helper"] == {"n": exact(1), "median": exact(1.0), "p75": exact(1.0)}
    assert house["resolution"]["median"] == exact(20.0)
    travel = by(data["categories"], "slug", "travel")
    assert travel["reported"] == exact(1) and travel["helper"]["median"] == NONE
    assert by(data["categories"], "slug", "food")["reported"] == exact(0)
    # The most reported first; the centre's categories with nothing reported last.
    assert [r["slug"] for r in data["categories"]][:3] == ["local-fix", "household", "travel"]

    assert [(r["place"], r["reported"], r["resolved"]) for r in data["places"]] == [
        ("Mill Lane", exact(3), exact(3)),  # "mill  lane" is the same place
        ("Park Road", exact(3), exact(1)),
        ("Station", exact(1), exact(0)),
    ]
    weeks = {r["start"]: r["reported"] for r in data["weeks"]}
    assert len(data["weeks"]) == 12 and data["weeks"][0]["key"] == "2025-W45"
    assert weeks["2025-12-29"] == exact(2)
    assert weeks["2026-01-05"] == exact(3)
    assert weeks["2026-01-12"] == exact(2)
    assert weeks["2026-01-19"] == exact(0)
    assert sum(w["reported"]["value"] for w in data["weeks"]) == 7
    assert [d["reported"]["value"] for d in data["weekdays"]] == [0, 2, 1, 2, 2, 0, 0]


def test_unresolved_oldest_first_and_recurring_pairs(box, world, staff):
    data = should_insight.insight(box, staff, {}, NOW)
    assert [(r["title"], r["place"], r["created"], r["days_open"]) for r in data["unresolved"]] == [
        ("Lamp out", "Park Road", "2026-01-08", 13),
        ("Sofa dumped", "Park Road", "2026-01-09", 12),
        ("Bus shelter", "Station", "2026-01-14", 7),
    ]
    assert data["unresolved"][0]["id"] == world["P4"]
    assert data["open_total"] == 3
    assert [(r["category"], r["place"], r["reported"], r["latest"]) for r in data["recurring"]] == [
        ("local-fix", "Mill Lane", exact(3), "2026-01-06"),
        ("household", "Park Road", exact(2), "2026-01-13"),
    ]


def test_comparison_with_a_synced_centre(box, world, staff):
    data = should_insight.insight(box, staff, {}, NOW)
    comparison = data["comparison"]
    assert comparison["centres"] == 2
    fix = by(comparison["rows"], "slug", "local-fix")
    assert fix["here"] == {
        "reported": exact(4),
        "resolved_share": exact(75),
        "resolution": exact(30.0),
    }
    # 6 posts over 2 centres; 4 of 6 resolved; resolved after 10, 12, 30, 50 hours.
    assert fix["all"] == {
        "reported": exact(3.0),
        "resolved_share": exact(67),
        "resolution": exact(21.0),
    }
    travel = by(comparison["rows"], "slug", "travel")
    assert travel["all"] == {"reported": exact(1.0), "resolved_share": exact(0), "resolution": NONE}
    total = comparison["rows"][-1]
    assert total["slug"] is None
    assert total["here"] == {
        "reported": exact(7),
        "resolved_share": exact(57),
        "resolution": exact(25.0),
    }
    assert total["all"] == {
        "reported": exact(5.0),
        "resolved_share": exact(50),
        "resolution": exact(20.0),
    }


def test_scope_all_counts_every_centre_and_names_it(box, world, staff):
    data = should_insight.insight(box, staff, {"scope": "all"}, NOW)
    assert data["totals"]["reported"] == exact(10)
    assert by(data["places"], "place", "Elm Street")["reported"] == exact(3)
    east = [r for r in data["unresolved"] if r["centre"]]
    assert [(r["title"], r["centre"]) for r in east] == [
        ("Broken bench", "Centre B"),
        ("No bus", "Centre B"),
    ]
    # Centre B's post was answered by no one here: no first helper.
    assert by(data["categories"], "slug", "local-fix")["helper"]["n"] == exact(4)


def test_filters_narrow_by_category_place_and_days(box, world, staff):
    def reported(args):
        return should_insight.insight(box, staff, args, NOW)["totals"]["reported"]["value"]

    assert reported({"category": "household"}) == 2
    assert reported({"place": "park ROAD"}) == 3  # any case, the place as posted
    data = should_insight.insight(box, staff, {"place": "park ROAD"}, NOW)
    assert data["place"] == "Park Road"
    assert reported({"from": "2026-01-02", "to": "2026-01-06"}) == 2  # P2 and P3, "to" inclusive
    assert reported({"category": "local-fix", "place": "Mill Lane", "to": "2026-01-05"}) == 2
    weeks = should_insight.insight(box, staff, {"from": "2026-01-02", "to": "2026-01-13"}, NOW)
    assert [w["start"] for w in weeks["weeks"]] == ["2025-12-29", "2026-01-05", "2026-01-12"]


# --- small counts: suppressed for everyone but staff ----------------------------------------


def test_public_figures_below_three_posts_are_suppressed(box, world, alice):
    for viewer in (None, alice):
        data = should_insight.insight(box, viewer, {}, NOW)
        assert data["exact"] is False
        fix = by(data["categories"], "slug", "local-fix")
        assert fix["reported"] == exact(4) and fix["resolved"] == exact(3)
        assert fix["helper"] == {"n": exact(4), "median": exact(5.0), "p75": exact(6.5)}
        assert fix["resolution"] == {"n": exact(3), "median": exact(30.0), "p75": exact(40.0)}
        house = by(data["categories"], "slug", "household")
        assert house["reported"] == HIDDEN and house["resolved"] == HIDDEN
        assert house["helper"] == {"n": HIDDEN, "median": HIDDEN, "p75": HIDDEN}
        assert house["resolution"]["median"] == HIDDEN
        assert by(data["categories"], "slug", "food")["reported"] == exact(0)  # zero is shown
        assert by(data["places"], "place", "Station")["reported"] == HIDDEN
        assert by(data["places"], "place", "Park Road")["resolved"] == HIDDEN
        weeks = {r["start"]: r["reported"] for r in data["weeks"]}
        assert weeks["2025-12-29"] == HIDDEN and weeks["2026-01-05"] == exact(3)
        assert all(d["reported"] in (HIDDEN, exact(0)) for d in data["weekdays"])
        # Reported twice: staff see it recur; the public list starts at 3 (no "fewer
        # than 3" that could only mean 2).
        assert "Park Road" not in {r["place"] for r in data["recurring"]}
        travel = by(data["comparison"]["rows"], "slug", "travel")
        # 2 posts across the centres, 1 here: both suppressed; a share of 0 of 1 too.
        assert travel["here"]["reported"] == HIDDEN and travel["all"]["reported"] == HIDDEN
        assert travel["here"]["resolved_share"] == HIDDEN


def test_the_same_posts_in_the_tables_and_csv(box, world):
    data = should_insight.insight(box, None, {}, NOW)
    tab = should_insight.table(data, "categories", PLAIN)
    assert tab["columns"][0] == "Category"
    assert tab["rows"][0]["cells"] == [
        "Local fixes", "4", "3", "4", "5 hours", "6 hours", "30 hours", "40 hours",
    ]  # fmt: skip
    assert tab["rows"][1]["cells"][1:4] == ["fewer than 3"] * 3
    csv_text = should_insight.as_csv(tab)
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Category,Reported,Resolved")
    assert lines[1] == "Local fixes,4,3,4,5 hours,6 hours,30 hours,40 hours"
    unresolved = should_insight.table(data, "unresolved", PLAIN)
    assert unresolved["rows"][0]["post"] == world["P4"]
    assert unresolved["rows"][0]["cells"] == [
        "Lamp out", "Park Road", "Local fixes", "This centre", "2026-01-08", "13",
    ]  # fmt: skip
    with pytest.raises(NotFound):
        should_insight.table(data, "members", PLAIN)


def test_a_title_a_spreadsheet_would_run_is_quoted_in_the_csv(box, clock, alice):
    should(box, alice, "=HYPERLINK(1)", "local-fix", "Mill Lane")
    data = should_insight.insight(box, alice, {})
    csv_text = should_insight.as_csv(should_insight.table(data, "unresolved", PLAIN))
    assert "'=HYPERLINK(1)" in csv_text


def test_durations_in_plain_words():
    text = should_insight.duration_text
    assert text(exact(0.5)) == "30 minutes"
    assert text(exact(1.0)) == "1 hour"
    assert text(exact(30.0)) == "30 hours"
    assert text(exact(50.0)) == "2.1 days"
    assert text(HIDDEN) == "fewer than 3"
    assert text(NONE) == "–"
    assert should_insight.quantile([8, 1, 4, 6, 2], 0.75) == 6
    assert should_insight.quantile([10, 30, 50], 0.75) == 40


# --- bad filters: a clear message each, nothing changes -------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"category": "nope"}, "category", "There is no such category."),
        ({"place": "Atlantis"}, "place", "No “somebody should” was ever posted at that place."),
        ({"scope": "world"}, "scope", "Please choose this centre or all centres."),
        ({"from": "2026-1-5"}, "from", "Please give the date as YYYY-MM-DD."),
        ({"to": "yesterday"}, "to", "Please give the date as YYYY-MM-DD."),
        (
            {"from": "2026-01-10", "to": "2026-01-01"},
            "to",
            "The end date is before the start date.",
        ),
        ({"from": "2026-02-01"}, "from", "The start date is after the end date."),
        (
            {"from": "2023-12-01", "to": "2026-01-01"},
            "to",
            "Please choose dates at most 2 years apart.",
        ),
        ({"from": "2024-01-01"}, "from", "Please choose dates at most 2 years apart."),
    ],
)
def test_bad_filters_are_refused_with_a_message_and_change_nothing(
    box, world, staff, args, field, message
):
    before = record_count()
    with pytest.raises(InvalidInput) as refused:
        should_insight.insight(box, staff, args, NOW)
    assert refused.value.fields == {field: message}
    assert record_count() == before


def test_two_years_apart_is_allowed(box, world, staff):
    data = should_insight.insight(box, staff, {"from": "2024-01-21", "to": "2026-01-21"}, NOW)
    assert data["totals"]["reported"] == exact(7)
    assert len(data["weeks"]) == 106


# --- charts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", should_insight.CHARTS)
def test_charts_are_pictures_only_and_star_what_is_suppressed(box, world, name):
    svg = should_insight.chart_svg(box, None, name, {}, PLAIN, NOW)
    assert svg.startswith("<svg") and "<script" not in svg and "<!--" not in svg
    assert f'id="chart-{name}"' in svg
    if name in ("categories", "places", "weekdays", "comparison", "weeks"):
        assert "* fewer than 3 posts" in svg  # the note under a chart with a starred label


def test_an_unknown_chart_is_not_found(box):
    with pytest.raises(NotFound):
        should_insight.chart_svg(box, None, "members", {}, PLAIN)


# --- the overview ---------------------------------------------------------------------------


def test_overview_headlines_for_public_and_staff(box, clock, world, staff, alice, bob):
    bank = add_org(box, staff, "Hill Bank")
    beans = add_item(box, staff, "Beans")
    for n in range(3):
        need(box, staff, bank, [(beans, 10 + n)])
    covered = need(box, staff, bank, [(beans, 5)])
    at(clock, 450)
    pledge(box, bob, covered, beans, 5)  # covers it: closed this month
    before = record_count()

    public = insight_overview.overview(box, None, NOW)
    assert public["should"]["reported"] == exact(7)
    assert public["should"]["resolved"] == exact(4)
    assert public["should"]["resolution"] == exact(25.0)
    assert public["food"]["open_needs"] == exact(3)
    assert public["food"]["covered_month"] == HIDDEN  # 1 need
    assert public["travel"] is None
    assert insight_overview.overview(box, alice, NOW)["travel"] is None

    mine = insight_overview.overview(box, staff, NOW)
    assert mine["exact"] is True and mine["food"]["covered_month"] == exact(1)
    assert mine["travel"] == {"month": "2026-01", "journeys": exact(0), "not_covered": NONE}
    assert record_count() == before
