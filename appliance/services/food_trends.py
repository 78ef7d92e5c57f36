"""Trends of food need, supply and volunteer labour, and the early warnings they give.

- Demand and supply by week: the quantities on the item lines of food needs and
  supplies posted in each of the last WEEKS ISO weeks (Monday to Sunday in the
  centre's time zone; the current week is the last, still going). Hidden posts never
  count; met or closed ones do (they were asked for). Quantities of all units add up:
  the trend is the shape, the balance view has the exact figures.
- Labour by weekday: places asked for on the shifts of the last and next LABOUR_DAYS
  days, against the volunteers confirmed on them (cancelled shifts left out).
- Early warnings: a category whose demand in the last 2 weeks is at least RISING_FACTOR
  times the weekly average of the 6 weeks before (and at least RISING_FLOOR a week);
  a coming week whose shifts have fewer than FILLED_SHARE of their places filled.

Small counts are suppressed so that no household or volunteer can be singled out: a
figure built from fewer than MIN_COUNT posts (or MIN_COUNT volunteers) is given as
{"value": None, "suppressed": True} and shown as "fewer than 3", never as its number.
A zero (nothing at all) is shown: it singles nobody out. What this protects is the
aggregate: a week's demand that is really one family's need, or a weekday's turnout
that is one or two named regulars, cannot be read off a chart, a table or an export of
these figures.

What it does not hide, by design: the figures an organisation publishes itself. A need's
or supply's quantities (asked for, pledged, still missing, left) and a shift's places
(wanted, coming, left) are that organisation's public notice, shown on the post, the
shift, the balance, the kiosk and in the exports however small they are, because people
act on them ("2 places left"). They name no household and no volunteer; pledgers' and
volunteers' names reach only the organisers and staff (food_queries, shifts).

Every function takes `now_ms` (default: the box's clock), so results are repeatable.
"""

from __future__ import annotations

import datetime
from fractions import Fraction

from appliance.box import Box
from appliance.dates import DAY_MS, day_start_ms, local_day
from appliance.errors import N_, InvalidInput
from appliance.kinds import ITEM_CATEGORIES
from appliance.models import Item, Org, Post, PostLine, Shift, ShiftVolunteer
from appliance.services.catalogue import CATEGORY_LABELS

WEEKS = 12
MIN_COUNT = 3
RECENT_WEEKS = 2  # the weeks whose demand may be rising...
BEFORE_WEEKS = 6  # ...against the weekly average of these weeks before them
RISING_FACTOR = Fraction(3, 2)
RISING_FLOOR = 10  # a week, on average over the recent weeks: below it, no alarm
LABOUR_DAYS = 28
FILLED_SHARE = Fraction(3, 4)
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
ALL = "all"


def figure(value: int, count: int) -> dict:
    """Return a figure to show, suppressed if built from 1 or 2 posts or volunteers."""
    if 0 < count < MIN_COUNT:
        return {"value": None, "suppressed": True}
    return {"value": value, "suppressed": False}


def _now(box: Box, now_ms: int | None) -> int:
    return box.log.now_ms() if now_ms is None else now_ms


def weeks(box: Box, now_ms: int | None = None, count: int = WEEKS) -> list[dict]:
    """Return the last `count` ISO weeks, oldest first, the current week last."""
    today = local_day(box, _now(box, now_ms))
    monday = today - datetime.timedelta(days=today.weekday())
    result = []
    for back in range(count - 1, -1, -1):
        start = monday - datetime.timedelta(weeks=back)
        year, week, _ = start.isocalendar()
        result.append(
            {
                "key": f"{year}-W{week:02d}",
                "start": start.isoformat(),
                "start_ms": day_start_ms(box, start),
                "end_ms": day_start_ms(box, start + datetime.timedelta(weeks=1)),
            }
        )
    return result


def check_category(category: str | None) -> str:
    """Return a category slug, or "all" for none; raise InvalidInput for an unknown one."""
    category = (category or "").strip() or ALL
    if category != ALL and category not in ITEM_CATEGORIES:
        raise InvalidInput({"category": N_("There is no such category.")})
    return category


def _posted(box: Box, post_type: str, buckets: list[dict], now_ms: int) -> list[tuple]:
    """Return (week index, category, post id, qty) for food post lines in the weeks."""
    rows = (
        PostLine.select(PostLine.post, PostLine.qty, Post.created_ms, Item.category)
        .join(Post, on=(PostLine.post == Post.id))
        .join(Item, on=(PostLine.item == Item.id))
        .where(
            (Post.type == post_type)
            & Post.org.is_null(False)
            & (Post.hidden == False)  # noqa: E712 (peewee expression)
            & (Post.created_ms >= buckets[0]["start_ms"])
            & (Post.created_ms <= now_ms)
        )
        .tuples()
    )
    out = []
    for post, qty, created_ms, category in rows:
        index = next(i for i, w in enumerate(buckets) if created_ms < w["end_ms"])
        out.append((index, category, post, qty))
    return out


def _sums(lines: list[tuple], count: int) -> dict[str, list[tuple[int, set]]]:
    """Per category (and "all"): per week, the quantity and the set of posts behind it."""
    sums = {c: [(0, set()) for _ in range(count)] for c in (*ITEM_CATEGORIES, ALL)}
    for index, category, post, qty in lines:
        for key in (category, ALL):
            if key in sums:
                total, posts = sums[key][index]
                sums[key][index] = (total + qty, posts | {post})
    return sums


def weekly(box: Box, category: str | None = None, now_ms: int | None = None) -> list[dict]:
    """Return demand and supply per week for one category (or all), oldest week first."""
    category = check_category(category)
    now = _now(box, now_ms)
    buckets = weeks(box, now)
    demand = _sums(_posted(box, "need", buckets, now), len(buckets))[category]
    supply = _sums(_posted(box, "offer", buckets, now), len(buckets))[category]
    return [
        {
            "key": w["key"],
            "start": w["start"],
            "demand": figure(demand[i][0], len(demand[i][1])),
            "supply": figure(supply[i][0], len(supply[i][1])),
        }
        for i, w in enumerate(buckets)
    ]


def labour(box: Box, now_ms: int | None = None) -> list[dict]:
    """Return, per weekday, places asked for and volunteers confirmed on recent shifts."""
    now = _now(box, now_ms)
    shifts = list(
        Shift.select().where(
            (Shift.cancelled == False)  # noqa: E712 (peewee expression)
            & (Shift.start_ms >= now - LABOUR_DAYS * DAY_MS)
            & (Shift.start_ms < now + LABOUR_DAYS * DAY_MS)
        )
    )
    confirmed = _confirmed([s.id for s in shifts])
    days = [{"shifts": 0, "needed": 0, "coming": 0, "people": set()} for _ in WEEKDAYS]
    for s in shifts:
        d = days[local_day(box, s.start_ms).weekday()]
        d["shifts"] += 1
        d["needed"] += s.people
        d["coming"] += len(confirmed.get(s.id, ()))
        d["people"] |= confirmed.get(s.id, set())
    return [
        {
            "weekday": n,
            "label": WEEKDAYS[n],
            "shifts": d["shifts"],
            "needed": d["needed"],
            "coming": figure(d["coming"], len(d["people"])),
        }
        for n, d in enumerate(days)
    ]


def _confirmed(shift_ids: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    if not shift_ids:
        return found
    rows = ShiftVolunteer.select(ShiftVolunteer.shift, ShiftVolunteer.member).where(
        ShiftVolunteer.shift.in_(shift_ids) & (ShiftVolunteer.confirmed == True)  # noqa: E712
    )
    for shift, member in rows.tuples():
        found.setdefault(shift, set()).add(member)
    return found


# --- early warnings -----------------------------------------------------------------------


def rising(box: Box, now_ms: int | None = None) -> list[dict]:
    """Return the categories whose demand is rising, the steepest first."""
    now = _now(box, now_ms)
    buckets = weeks(box, now, RECENT_WEEKS + BEFORE_WEEKS)
    sums = _sums(_posted(box, "need", buckets, now), len(buckets))
    found = []
    for category in ITEM_CATEGORIES:
        weeks_of = sums[category]
        recent, before = weeks_of[BEFORE_WEEKS:], weeks_of[:BEFORE_WEEKS]
        recent_qty = sum(q for q, _ in recent)
        before_qty = sum(q for q, _ in before)
        recent_posts = set().union(*(p for _, p in recent))
        before_posts = set().union(*(p for _, p in before))
        recent_avg = Fraction(recent_qty, RECENT_WEEKS)
        before_avg = Fraction(before_qty, BEFORE_WEEKS)
        # A warning names a figure, so it needs enough posts behind it to be shown.
        if len(recent_posts) < MIN_COUNT or recent_avg < RISING_FLOOR:
            continue
        if recent_avg < RISING_FACTOR * before_avg:
            continue
        found.append(
            {
                "kind": "rising",
                "category": category,
                "label": CATEGORY_LABELS[category],
                "recent_weekly": figure(round(recent_avg), len(recent_posts)),
                "before_weekly": figure(round(before_avg), len(before_posts)),
                "ratio": None if not before_avg else float(recent_avg / before_avg),
            }
        )
    found.sort(key=lambda w: (-(w["ratio"] or float("inf")), w["category"]))
    return found


def short_weeks(box: Box, now_ms: int | None = None) -> list[dict]:
    """Return the coming weeks whose shifts have too few of their places filled."""
    now = _now(box, now_ms)
    shifts = list(
        Shift.select()
        .where(
            (Shift.cancelled == False)  # noqa: E712 (peewee expression)
            & (Shift.start_ms >= now)
            & (Shift.start_ms < now + LABOUR_DAYS * DAY_MS)
        )
        .order_by(Shift.start_ms, Shift.id)
    )
    confirmed = _confirmed([s.id for s in shifts])
    names = {o.id: o.name for o in Org.select(Org.id, Org.name)}
    by_week: dict[datetime.date, list[Shift]] = {}
    for s in shifts:
        start = local_day(box, s.start_ms)
        by_week.setdefault(start - datetime.timedelta(days=start.weekday()), []).append(s)
    found = []
    for monday, week_shifts in by_week.items():
        places = sum(s.people for s in week_shifts)
        coming = sum(len(confirmed.get(s.id, ())) for s in week_shifts)
        if coming >= FILLED_SHARE * places:
            continue
        people = set().union(*(confirmed.get(s.id, set()) for s in week_shifts))
        found.append(
            {
                "kind": "short_week",
                "week": monday.isoformat(),
                "places": places,
                "filled": figure(coming, len(people)),
                "shifts": [
                    {
                        "id": s.id,
                        "title": s.title,
                        "org": names.get(s.org, ""),
                        "start_ms": s.start_ms,
                        "place": s.place,
                        "people": s.people,
                        "coming": figure(
                            len(confirmed.get(s.id, ())), len(confirmed.get(s.id, ()))
                        ),
                    }
                    for s in week_shifts
                    if len(confirmed.get(s.id, ())) < s.people
                ],
            }
        )
    return found


def warnings(box: Box, now_ms: int | None = None) -> list[dict]:
    """Return every early warning: rising demand first, then short weeks."""
    now = _now(box, now_ms)
    return rising(box, now) + short_weeks(box, now)


def trends(box: Box, category: str | None = None, now_ms: int | None = None) -> dict:
    """Return everything the trends page shows, for one category (or all)."""
    category = check_category(category)
    now = _now(box, now_ms)
    return {
        "category": category,
        "label": CATEGORY_LABELS.get(category, N_("All categories")),
        "weeks": weekly(box, category, now),
        "labour": labour(box, now),
        "warnings": warnings(box, now),
        "min_count": MIN_COUNT,
    }
