"""Travel insight for coordinators and staff: when rides are wanted, how many the
volunteers could not cover, which access needs were served, what the volunteers drove
and what paid services cost.

What counts: the journeys of the rides asked for at this centre (Ride.origin is this
box) whose time fell in the window (the last `weeks` ISO weeks, Monday to Sunday, the
current week last and still going) and has passed. A journey is one occurrence of a
ride (appliance/services/rides.py expands the repeats); a cancelled journey is left out
(nobody needed it). Each journey that happened has one outcome:
- "volunteer": a volunteer driver had it (driver found, on the way or done),
- "paid": a coordinator passed it to a paid service,
- "unmet": nobody covered it.
Volunteer journeys and miles count only the journeys their driver marked done.

Small counts are suppressed as on the food bank's trends (food_trends.figure, MIN_COUNT
= 3), and more strictly: a figure is counted by the PEOPLE behind it, not the journeys,
because one rider's weekly ride makes many journeys and would show their routine. A
figure built from fewer than 3 riders (and, for what volunteers drove, fewer than 3
drivers) is {"value": None, "suppressed": True}, shown as "fewer than 3"; as riders are
never more than journeys, no figure ever comes from fewer than 3 journeys either. A zero
is shown. A share (the part left unmet or paid) is suppressed when its whole or its
part is. Nothing here names a rider or a driver: the figures are counts, miles and
pence. Differences between shown figures are not protected (the page is for the
coordinators and staff, who see every ride anyway): suppression keeps a chart or a
printed table from singling anyone out.

Charts are pygal SVG drawn with food_charts' helpers (no script, nothing from outside
the box), each beside a table of the same figures on the page.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable

import pygal

from appliance.box import Box
from appliance.dates import DAY_MS, local_day
from appliance.errors import N_, InvalidInput, NotAllowed, NotFound
from appliance.models import Journey, Ride
from appliance.services import food_charts, ride_access, rides, travel_lists
from appliance.services.accounts import Actor, require_member
from appliance.services.coordinating import pounds
from appliance.services.food_balance import PLAIN, Words
from appliance.services.food_trends import MIN_COUNT, WEEKDAYS, figure
from appliance.services.food_trends import weeks as iso_weeks

WEEKS = 12
WEEK_CHOICES = (4, 8, 12, 26, 52)
HOURS = (7, 19)  # the hours the demand table always shows (more if journeys fall outside)
NEED_LABEL_CHARS = 22  # of an access need's label beside its bars
LEVELS = 4  # shades of the demand table, besides none
OUTCOMES = ("volunteer", "paid", "unmet")
VOLUNTEER_STATES = ("driver_found", "on_the_way", "done")
NO_NEEDS = "none"
STAR = food_charts.STAR
UNMET = food_charts.NEED
PAID = food_charts.PLACES
VOLUNTEER = food_charts.OFFER


def require_insight(actor: Actor | None) -> Actor:
    """Return the actor if they may see travel insight (coordinators, staff), else raise."""
    require_member(actor)
    if not ride_access.is_coordinator(actor):
        raise NotAllowed(N_("Only the centre's ride coordinators and staff can see this."))
    return actor


def check_weeks(weeks) -> int:
    """Return the window's length in weeks (default 12); InvalidInput for any other choice."""
    if weeks is None or (isinstance(weeks, str) and not weeks.strip()):
        return WEEKS
    try:
        value = int(str(weeks).strip())
    except ValueError:
        value = None
    if value not in WEEK_CHOICES:
        raise InvalidInput({"weeks": N_("Please choose 4, 8, 12, 26 or 52 weeks.")})
    return value


def _now(box: Box, now_ms: int | None) -> int:
    return box.log.now_ms() if now_ms is None else now_ms


# --- the journeys of the window ------------------------------------------------------------


def _outcome(state: str) -> str | None:
    if state in VOLUNTEER_STATES:
        return "volunteer"
    if state == "paid":
        return "paid"
    if state == "open":
        return "unmet"
    return None  # cancelled


def journeys(box: Box, weeks: int = WEEKS, now_ms: int | None = None) -> tuple[list, list]:
    """Return (the window's ISO weeks, its journeys that happened), oldest first.

    Each journey: {ride, rider, date, week (index), weekday, hour, outcome, done, driver,
    miles, cost, needs}. For the functions below; it names people, so no page shows it.
    """
    now = _now(box, now_ms)
    buckets = iso_weeks(box, now, weeks)
    first = datetime.date.fromisoformat(buckets[0]["start"])
    last = local_day(box, now) + datetime.timedelta(days=1)  # a ride's zone may be ahead
    since = buckets[0]["start_ms"] - DAY_MS
    candidates = list(
        Ride.select()
        .where(
            (Ride.origin == box.origin)
            & (Ride.start_ms <= now)
            & (Ride.rrule.is_null(False) | (Ride.start_ms >= since))
        )
        .order_by(Ride.start_ms, Ride.id)
    )
    rows = {}
    if candidates:
        found = Journey.select().where(
            Journey.ride.in_([r.id for r in candidates])
            & (Journey.date >= first.isoformat())
            & (Journey.date <= last.isoformat())
        )
        rows = {(j.ride, j.date): j for j in found}
    out = []
    for ride in candidates:
        needs = json.loads(ride.needs or "[]")
        for date in rides.occurrences(ride, first, last):
            at = rides.journey_time(ride, date)
            if at.timestamp() * 1000 > now:
                continue
            week = (date - first).days // 7
            if not 0 <= week < len(buckets):
                continue
            row = rows.get((ride.id, date.isoformat()))
            state, driver = ride_access.state_of(ride, date, row)
            outcome = _outcome(state)
            if outcome is None:
                continue
            out.append(
                {
                    "ride": ride.id,
                    "rider": ride.rider,
                    "date": date.isoformat(),
                    "week": week,
                    "weekday": at.weekday(),
                    "hour": at.hour,
                    "outcome": outcome,
                    "done": state == "done",
                    "driver": driver if outcome == "volunteer" else None,
                    "miles": row.miles if row is not None and state == "done" else None,
                    "cost": (row.cost or 0) if row is not None and state == "paid" else 0,
                    "needs": needs,
                }
            )
    return buckets, out


def _riders(found: list[dict]) -> int:
    return len({j["rider"] for j in found})


def count(found: list[dict]) -> dict:
    """Return how many journeys, as a figure counted by the riders behind them."""
    return figure(len(found), _riders(found))


def _driven(found: list[dict], value: int) -> dict:
    """Return a figure of what volunteers drove: counted by riders and by drivers."""
    people = min(_riders(found), len({j["driver"] for j in found}))
    return figure(value, people)


def share(part: list[dict], whole: list[dict]) -> dict:
    """Return the part as a whole percentage of the whole; None (no figure) for no whole."""
    if not whole:
        return {"value": None, "suppressed": False}
    if count(part)["suppressed"] or count(whole)["suppressed"]:
        return {"value": None, "suppressed": True}
    return {"value": round(100 * len(part) / len(whole)), "suppressed": False}


# --- the figures ---------------------------------------------------------------------------


def demand(found: list[dict]) -> dict:
    """Return journeys by weekday and hour: {hours, rows: per hour {hour, cells: per
    weekday {figure, level}}, days: per weekday {label, figure}, total}.

    `level` shades a cell, 0 (none) to LEVELS (the busiest shown); "s": suppressed.
    """
    cells = {}
    for j in found:
        cells.setdefault((j["weekday"], j["hour"]), []).append(j)
    used = [h for _, h in cells]
    low, high = min([HOURS[0], *used]), max([HOURS[1], *used])
    figures = {key: count(group) for key, group in cells.items()}
    shown = [f["value"] for f in figures.values() if not f["suppressed"]]
    top = max(shown, default=0)
    rows = []
    for hour in range(low, high + 1):
        row = []
        for day in range(7):
            f = figures.get((day, hour), figure(0, 0))
            if f["suppressed"]:
                level = "s"
            else:
                level = -(-f["value"] * LEVELS // top) if f["value"] else 0  # ceiling
            row.append({"figure": f, "level": level})
        rows.append({"hour": hour, "label": f"{hour:02d}:00", "cells": row})
    days = [
        {"label": WEEKDAYS[n], "figure": count([j for j in found if j["weekday"] == n])}
        for n in range(7)
    ]
    return {"rows": rows, "days": days, "total": count(found)}


def weekly(buckets: list[dict], found: list[dict]) -> list[dict]:
    """Return per week: journeys, left unmet, passed to a paid service, the share of
    both, and what volunteers drove (journeys done, miles), oldest week first."""
    out = []
    for i, w in enumerate(buckets):
        week = [j for j in found if j["week"] == i]
        unmet = [j for j in week if j["outcome"] == "unmet"]
        paid = [j for j in week if j["outcome"] == "paid"]
        done = [j for j in week if j["done"]]
        with_miles = [j for j in done if j["miles"] is not None]
        out.append(
            {
                "key": w["key"],
                "start": w["start"],
                "journeys": count(week),
                "unmet": count(unmet),
                "paid": count(paid),
                "unmet_share": share(unmet, week),
                "paid_share": share(paid, week),
                "not_volunteer": share(unmet + paid, week),
                "done": _driven(done, len(done)),
                "miles": _driven(with_miles, sum(j["miles"] for j in with_miles)),
            }
        )
    return out


def needs(box: Box, found: list[dict]) -> list[dict]:
    """Return per access need (this centre's list, then "none stated"): journeys asked
    with it and journeys served (by a volunteer or a paid service), the most asked first."""
    listed = travel_lists.need_map(box)
    slugs = {n["slug"] for n in travel_lists.access_needs(box)}
    for j in found:
        slugs.update(j["needs"])
    out = []
    for slug in slugs:
        asked = [j for j in found if slug in j["needs"]]
        served = [j for j in asked if j["outcome"] != "unmet"]
        out.append(
            {
                "slug": slug,
                "label": listed[slug]["label"] if slug in listed else slug,
                "asked": count(asked),
                "served": count(served),
                "share": share(served, asked),
                "_n": len(asked),
            }
        )
    asked = [j for j in found if not j["needs"]]
    served = [j for j in asked if j["outcome"] != "unmet"]
    order = {n["slug"]: i for i, n in enumerate(travel_lists.access_needs(box, None, True))}
    out.sort(key=lambda n: (-n["_n"], order.get(n["slug"], len(order)), n["label"]))
    out.append(
        {
            "slug": NO_NEEDS,
            "label": N_("No access needs stated"),
            "asked": count(asked),
            "served": count(served),
            "share": share(served, asked),
            "_n": len(asked),
        }
    )
    for n in out:
        del n["_n"]
    return out


def _month(day: datetime.date, back: int) -> str:
    index = day.year * 12 + day.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def monthly(buckets: list[dict], found: list[dict], today: datetime.date) -> list[dict]:
    """Return per calendar month the window touches: journeys passed to a paid service
    and what they cost (pence, and as pounds), oldest month first."""
    first = datetime.date.fromisoformat(buckets[0]["start"])
    months = []
    back = (today.year - first.year) * 12 + today.month - first.month
    for n in range(back, -1, -1):
        key = _month(today, n)
        paid = [j for j in found if j["outcome"] == "paid" and j["date"][:7] == key]
        cost = figure(sum(j["cost"] for j in paid), _riders(paid))
        months.append(
            {
                "month": key,
                "paid": count(paid),
                "cost": cost,
                "cost_text": None if cost["suppressed"] else pounds(cost["value"]),
            }
        )
    return months


def insight(
    box: Box, actor: Actor | None, weeks=None, now_ms: int | None = None
) -> dict[str, object]:
    """Return everything the travel insight page shows, over the last `weeks` weeks."""
    require_insight(actor)
    weeks = check_weeks(weeks)
    now = _now(box, now_ms)
    buckets, found = journeys(box, weeks, now)
    volunteer = [j for j in found if j["outcome"] == "volunteer"]
    unmet = [j for j in found if j["outcome"] == "unmet"]
    paid = [j for j in found if j["outcome"] == "paid"]
    done = [j for j in found if j["done"]]
    with_miles = [j for j in done if j["miles"] is not None]
    cost = sum(j["cost"] for j in paid)
    return {
        "weeks": weeks,
        "choices": WEEK_CHOICES,
        "from": buckets[0]["start"],
        "min_count": MIN_COUNT,
        "totals": {
            "journeys": count(found),
            "volunteer": count(volunteer),
            "unmet": count(unmet),
            "paid": count(paid),
            "not_volunteer": share(unmet + paid, found),
            "done": _driven(done, len(done)),
            "miles": _driven(with_miles, sum(j["miles"] for j in with_miles)),
            "cost": figure(cost, _riders(paid)),
            "cost_text": pounds(cost) if not count(paid)["suppressed"] else None,
        },
        "demand": demand(found),
        "weekly": weekly(buckets, found),
        "needs": needs(box, found),
        "monthly": monthly(buckets, found, local_day(box, now)),
    }


# --- charts --------------------------------------------------------------------------------


def _value(f: dict) -> int | None:
    return None if f["suppressed"] else f["value"]


def _starred(label: str, *figures: dict) -> str:
    return label + (STAR if any(f["suppressed"] for f in figures) else "")


def _short(label: str) -> str:
    """Cut a long label for the side of a chart: "Wheelchair user, st…"."""
    if len(label) <= NEED_LABEL_CHARS:
        return label
    return label[: NEED_LABEL_CHARS - 1].rstrip(" ,") + "…"


def _note(words: Words, starred: bool) -> str | None:
    if not starred:
        return None
    return words.gettext("%(star)s fewer than 3 people behind it: not drawn", star=STAR)


def _draw(
    kind, words: Words, title: str, starred: bool, colors, name: str, labels, series, **config
):
    chart = food_charts.chart(kind, words, title, _note(words, starred), colors)
    # One series needs no legend: the title says what the bars are.
    config = {"show_legend": len(series) > 1, **config}
    for key, value in config.items():
        setattr(chart, key, value)  # what this chart needs unlike the food bank's
    chart.x_labels = labels
    for label, values in series:
        chart.add(label, values)
    return food_charts.clean_svg(chart.render(is_unicode=True), name)


def demand_svg(data: dict, words: Words = PLAIN, name: str = "demand") -> str:
    """Draw journeys by weekday (the page's table has them by hour too)."""
    days = data["demand"]["days"]
    return _draw(
        pygal.Bar,
        words,
        words.gettext("Journeys by weekday"),
        any(d["figure"]["suppressed"] for d in days),
        (VOLUNTEER,),
        name,
        [_starred(words.gettext(d["label"])[:3], d["figure"]) for d in days],
        [(words.gettext("Journeys"), [_value(d["figure"]) for d in days])],
    )


def unmet_svg(data: dict, words: Words = PLAIN, name: str = "unmet") -> str:
    """Draw, per week, the percentage of journeys left unmet and passed to a paid service."""
    rows = data["weekly"]
    return _draw(
        pygal.StackedBar,
        words,
        words.gettext("Journeys volunteers could not cover, % each week"),
        any(r["unmet_share"]["suppressed"] or r["paid_share"]["suppressed"] for r in rows),
        (UNMET, PAID),
        name,
        [_starred(words.short_day(r["start"]), r["unmet_share"], r["paid_share"]) for r in rows],
        [
            (words.gettext("Left unmet"), [_value(r["unmet_share"]) for r in rows]),
            (words.gettext("Paid service"), [_value(r["paid_share"]) for r in rows]),
        ],
    )


def needs_svg(data: dict, words: Words = PLAIN, name: str = "needs") -> str:
    """Draw, per access need, the journeys asked with it and those served."""
    rows = data["needs"]
    return _draw(
        pygal.HorizontalBar,
        words,
        words.gettext("Access needs: journeys asked for and served"),
        any(r["asked"]["suppressed"] or r["served"]["suppressed"] for r in rows),
        (UNMET, VOLUNTEER),
        name,
        [_starred(_short(words.gettext(r["label"])), r["asked"], r["served"]) for r in rows],
        [
            (words.gettext("Asked for"), [_value(r["asked"]) for r in rows]),
            (words.gettext("Served"), [_value(r["served"]) for r in rows]),
        ],
        # Labels down the side, cut short (the table has them whole), a row each.
        x_label_rotation=0,
        height=max(food_charts.HEIGHT, 140 + 48 * len(rows)),
    )


def volunteers_svg(data: dict, words: Words = PLAIN, name: str = "volunteers") -> str:
    """Draw the journeys volunteers drove (marked done) each week."""
    rows = data["weekly"]
    return _draw(
        pygal.Bar,
        words,
        words.gettext("Journeys volunteers drove each week"),
        any(r["done"]["suppressed"] for r in rows),
        (VOLUNTEER,),
        name,
        [_starred(words.short_day(r["start"]), r["done"]) for r in rows],
        [(words.gettext("Journeys done"), [_value(r["done"]) for r in rows])],
    )


def miles_svg(data: dict, words: Words = PLAIN, name: str = "miles") -> str:
    """Draw the miles volunteers said they drove each week."""
    rows = data["weekly"]
    return _draw(
        pygal.Bar,
        words,
        words.gettext("Miles volunteers drove each week"),
        any(r["miles"]["suppressed"] for r in rows),
        (PAID,),
        name,
        [_starred(words.short_day(r["start"]), r["miles"]) for r in rows],
        [(words.gettext("Miles"), [_value(r["miles"]) for r in rows])],
    )


def paid_svg(
    data: dict, words: Words = PLAIN, name: str = "paid", month: Callable[[str], str] = str
) -> str:
    """Draw the journeys passed to a paid service each month."""
    rows = data["monthly"]
    return _draw(
        pygal.Bar,
        words,
        words.gettext("Journeys passed to a paid service each month"),
        any(r["paid"]["suppressed"] for r in rows),
        (UNMET,),
        name,
        [_starred(month(r["month"]), r["paid"]) for r in rows],
        [(words.gettext("Paid journeys"), [_value(r["paid"]) for r in rows])],
    )


CHARTS = {
    "demand": demand_svg,
    "unmet": unmet_svg,
    "needs": needs_svg,
    "volunteers": volunteers_svg,
    "miles": miles_svg,
    "paid": paid_svg,
}


def chart_names() -> list[str]:
    """Return the names of the travel charts the box draws."""
    return list(CHARTS)


def chart_svg(
    box: Box,
    actor: Actor | None,
    name: str,
    weeks=None,
    words: Words = PLAIN,
    month: Callable[[str], str] = str,
    now_ms: int | None = None,
) -> str:
    """Draw a travel chart by name, for coordinators and staff only."""
    data = insight(box, actor, weeks, now_ms)  # checks who is asking first
    if name not in CHARTS:
        raise NotFound(N_("There is no such chart."))
    if name == "paid":
        return paid_svg(data, words, name, month)
    return CHARTS[name](data, words, name)
