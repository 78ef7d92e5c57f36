"""Insight into the "somebody should" board: what is reported where and when, how fast
someone offers to help and the job gets done, what stays open longest, what keeps
coming back in the same place, and this centre against every centre the box knows.

What counts: the "should" posts created in the chosen days (from and to, inclusive, in
the centre's time zone; by default the last WEEKS ISO weeks, the current week last) of
this centre (scope "here", its own posts) or of every centre whose records the box holds
(scope "all"), narrowed to one category or one place if chosen. Hidden posts never
count. Weeks are ISO weeks (Monday to Sunday) in the centre's zone; the first and last
may be only partly in the chosen days.

- Time to first helper: from the post to the first help.offered record about it (its
  hlc, from the stored records, so a helper who later withdrew still counts).
- Time to resolution: from the post to its resolution, for the posts resolved now (a
  post reopened since is open).
- Median and 75th percentile: the 75th is interpolated between the two nearest values
  (position 0.75 × (n − 1) of the sorted durations), the median is the middle value or
  the mean of the two middle ones.
- Comparison: this centre's figures beside all centres' (this one included), the counts
  given per centre (the total divided by the number of centres the box knows), over the
  same days, category and place.

Small counts are suppressed on the public page as on the food trends (food_trends.figure,
MIN_COUNT = 3): a count, a share, a median or a percentile built from 1 or 2 posts is
{"value": None, "suppressed": True}, shown as "fewer than 3". Staff see exact figures.
The posts listed as still open are public notices (their titles are on the board): they
show their title, place, category and age, never who posted them. Nothing here names a
member. Charts are pygal SVG with food_charts' helpers: no script, nothing from outside.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
from dataclasses import dataclass

import pygal
from peewee import fn

from appliance.box import Box
from appliance.dates import check_range, day_start_ms, local_day, local_time, parse_day
from appliance.errors import N_, InvalidInput, NotFound
from appliance.models import Centre, Place, Post, StoredRecord
from appliance.services import food_charts
from appliance.services.accounts import Actor
from appliance.services.centre import categories, category_labels
from appliance.services.food_balance import PLAIN, Words
from appliance.services.food_trends import MIN_COUNT, WEEKDAYS, figure
from appliance.services.food_trends import weeks as iso_weeks

WEEKS = 12
MAX_DAYS = 731  # two years, a leap day included
UNRESOLVED_MAX = 20
HOUR_MS = 3_600_000
SCOPES = ("here", "all")
FILTER_NAMES = ("place", "category", "from", "to", "scope")
STAR = food_charts.STAR
REPORTED = food_charts.OFFER
RESOLVED = food_charts.PLACES
HELPER = food_charts.NEED
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these


@dataclass(frozen=True)
class Filters:
    start: datetime.date
    end: datetime.date  # inclusive
    category: str = ""
    place: str = ""
    scope: str = "here"

    def as_args(self) -> dict:
        """Return the filters as URL query arguments (empty ones left out)."""
        args = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "category": self.category,
            "place": self.place,
            "scope": self.scope,
        }
        return {k: v for k, v in args.items() if v}


def _now(box: Box, now_ms: int | None) -> int:
    return box.log.now_ms() if now_ms is None else now_ms


def place_key(place: str) -> str:
    """Return a place as compared: spaces collapsed, case folded."""
    return " ".join(place.split()).casefold()


def place_choices(box: Box) -> list[str]:
    """Return the places to filter by: the centres' named places and those posted at."""
    found: dict[str, str] = {}
    for (name,) in Place.select(Place.name).where(Place.active == True).tuples():  # noqa: E712
        found.setdefault(place_key(name), " ".join(name.split()))
    shoulds = Post.select(Post.place).where((Post.type == "should") & (Post.hidden == False))  # noqa: E712
    for (name,) in shoulds.distinct().tuples():
        found.setdefault(place_key(name), " ".join(name.split()))
    return sorted(found.values(), key=str.casefold)


def default_filters(box: Box, now_ms: int | None = None) -> Filters:
    """Return the default filters: this centre, the last WEEKS ISO weeks up to today."""
    now = _now(box, now_ms)
    start = datetime.date.fromisoformat(iso_weeks(box, now, WEEKS)[0]["start"])
    return Filters(start=start, end=local_day(box, now))


def read_filters(box: Box, args, now_ms: int | None = None) -> Filters:
    """Read the filters from query arguments; raise InvalidInput naming each bad one."""
    values = {name: (args.get(name) or "").strip() for name in FILTER_NAMES}
    errors: dict[str, str] = {}
    if values["category"] and values["category"] not in category_labels(box):
        errors["category"] = N_("There is no such category.")
    if values["place"]:
        known = {place_key(p): p for p in place_choices(box)}
        if place_key(values["place"]) not in known:
            errors["place"] = N_("No “somebody should” was ever posted at that place.")
        else:
            values["place"] = known[place_key(values["place"])]
    if values["scope"] and values["scope"] not in SCOPES:
        errors["scope"] = N_("Please choose this centre or all centres.")
    check_range(values, errors, N_("Please give the date as YYYY-MM-DD."))
    default = default_filters(box, now_ms)
    start = parse_day(values["from"]) if values["from"] and "from" not in errors else default.start
    end = parse_day(values["to"]) if values["to"] and "to" not in errors else default.end
    if not errors.keys() & {"from", "to"}:
        field = "to" if values["to"] else "from"
        if start > end:
            errors[field] = N_("The start date is after the end date.")
        elif (end - start).days > MAX_DAYS:
            errors[field] = N_("Please choose dates at most 2 years apart.")
    if errors:
        raise InvalidInput(errors, N_("Some filters were not understood."))
    return Filters(start, end, values["category"], values["place"], values["scope"] or "here")


# --- the posts and their figures ---------------------------------------------------------


def posts(box: Box, f: Filters) -> list[dict]:
    """Return the "should" posts the filters choose at every centre (scope aside), oldest
    first: {id, origin, title, category, place, created_ms, resolved_ms, helped_ms, open}."""
    start_ms = day_start_ms(box, f.start)
    end_ms = day_start_ms(box, f.end + datetime.timedelta(days=1))
    query = Post.select().where(
        (Post.type == "should")
        & (Post.hidden == False)  # noqa: E712 (peewee expression)
        & (Post.created_ms >= start_ms)
        & (Post.created_ms < end_ms)
    )
    if f.category:
        query = query.where(Post.category == f.category)
    rows = [p for p in query.order_by(Post.created_ms, Post.id)]
    if f.place:
        rows = [p for p in rows if place_key(p.place) == place_key(f.place)]
    first_help = (
        StoredRecord.select(StoredRecord.aggregate, fn.MIN(StoredRecord.hlc_ms))
        .join(Post, on=(StoredRecord.aggregate == Post.id))
        .where(
            (StoredRecord.kind == "help.offered")
            & StoredRecord.aggregate.in_(query.select(Post.id))
            & (StoredRecord.hlc_ms >= Post.created_ms)  # a skewed clock's offer "before" it
        )
        .group_by(StoredRecord.aggregate)
        .tuples()
    )
    helped = dict(first_help)
    return [
        {
            "id": p.id,
            "origin": p.origin,
            "title": p.title,
            "category": p.category,
            "place": " ".join(p.place.split()),
            "created_ms": p.created_ms,
            "resolved_ms": p.resolved_ms if p.status == "resolved" else None,
            "helped_ms": helped.get(p.id),
            "open": p.status != "resolved",
        }
        for p in rows
    ]


def fig(value, n: int, exact: bool) -> dict:
    """Return a figure: exact for staff, else suppressed if built from 1 or 2 posts."""
    return {"value": value, "suppressed": False} if exact else figure(value, n)


def quantile(values: list[int], q: float) -> float:
    """Return the q-quantile of values, interpolated between the two nearest ranks."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def times(durations_ms: list[int], exact: bool) -> dict:
    """Return {n, median, p75} of durations, in hours (None when there are none)."""
    n = len(durations_ms)
    if not n:
        none = {"value": None, "suppressed": False}
        return {"n": fig(0, 0, exact), "median": none, "p75": none}
    return {
        "n": fig(n, n, exact),
        "median": fig(quantile(durations_ms, 0.5) / HOUR_MS, n, exact),
        "p75": fig(quantile(durations_ms, 0.75) / HOUR_MS, n, exact),
    }


def share(part: int, whole: int, exact: bool) -> dict:
    """Return part of whole as a whole percentage; suppressed if either is 1 or 2 posts."""
    if not whole:
        return {"value": None, "suppressed": False}
    if not exact and (0 < part < MIN_COUNT or whole < MIN_COUNT):
        return {"value": None, "suppressed": True}
    return {"value": round(100 * part / whole), "suppressed": False}


def _helper_ms(found: list[dict]) -> list[int]:
    return [p["helped_ms"] - p["created_ms"] for p in found if p["helped_ms"] is not None]


def _resolution_ms(found: list[dict]) -> list[int]:
    return [p["resolved_ms"] - p["created_ms"] for p in found if p["resolved_ms"] is not None]


def _rank(f: dict) -> float:
    """Order figures largest first without telling 1 from 2: suppressed sits at 1.5."""
    return 1.5 if f["suppressed"] else (f["value"] or 0)


def _counted(found: list[dict], exact: bool) -> dict:
    resolved = [p for p in found if p["resolved_ms"] is not None]
    return {
        "reported": fig(len(found), len(found), exact),
        "resolved": fig(len(resolved), len(resolved), exact),
        "resolved_share": share(len(resolved), len(found), exact),
    }


def by_category(box: Box, f: Filters, found: list[dict], exact: bool) -> list[dict]:
    """Return per category: reported, resolved, times to first helper and to resolution."""
    labels = category_labels(box)
    slugs = [f.category] if f.category else [c.slug for c in categories(box)]
    slugs = list(dict.fromkeys([*slugs, *(p["category"] for p in found)]))
    rows = []
    for slug in slugs:
        mine = [p for p in found if p["category"] == slug]
        rows.append(
            {
                "slug": slug,
                "label": labels.get(slug, slug),
                **_counted(mine, exact),
                "helper": times(_helper_ms(mine), exact),
                "resolution": times(_resolution_ms(mine), exact),
            }
        )
    rows.sort(key=lambda r: (-_rank(r["reported"]), r["label"].casefold()))
    return rows


def by_place(found: list[dict], exact: bool) -> list[dict]:
    """Return per place posted at: reported and resolved, the most reported first."""
    groups: dict[str, list[dict]] = {}
    for p in found:
        groups.setdefault(place_key(p["place"]), []).append(p)
    rows = [{"place": g[0]["place"], **_counted(g, exact)} for g in groups.values()]
    rows.sort(key=lambda r: (-_rank(r["reported"]), r["place"].casefold()))
    return rows


def by_week(box: Box, f: Filters, found: list[dict], exact: bool) -> list[dict]:
    """Return per ISO week the days touch: posts reported, oldest week first."""
    monday = f.start - datetime.timedelta(days=f.start.weekday())
    counts: dict[datetime.date, int] = {}
    for p in found:
        day = local_day(box, p["created_ms"])
        start = day - datetime.timedelta(days=day.weekday())
        counts[start] = counts.get(start, 0) + 1
    rows = []
    while monday <= f.end:
        year, week, _ = monday.isocalendar()
        n = counts.get(monday, 0)
        rows.append(
            {
                "key": f"{year}-W{week:02d}",
                "start": monday.isoformat(),
                "reported": fig(n, n, exact),
            }
        )
        monday += datetime.timedelta(weeks=1)
    return rows


def by_weekday(box: Box, found: list[dict], exact: bool) -> list[dict]:
    """Return per weekday (Monday first) the posts reported on it."""
    counts = [0] * 7
    for p in found:
        counts[local_time(box, p["created_ms"]).weekday()] += 1
    return [
        {"weekday": n, "label": WEEKDAYS[n], "reported": fig(c, c, exact)}
        for n, c in enumerate(counts)
    ]


def unresolved(box: Box, found: list[dict], now: int, centres: dict) -> list[dict]:
    """Return the posts still open, the oldest first: public notices, naming nobody."""
    labels = category_labels(box)
    today = local_day(box, now)
    rows = []
    for p in [p for p in found if p["open"]][:UNRESOLVED_MAX]:
        created = local_day(box, p["created_ms"])
        rows.append(
            {
                "id": p["id"],
                "title": p["title"],
                "place": p["place"],
                "category": p["category"],
                "label": labels.get(p["category"], p["category"]),
                "centre": None if p["origin"] == box.origin else centres.get(p["origin"]),
                "created": created.isoformat(),
                "days_open": (today - created).days,
            }
        )
    return rows


def recurring(box: Box, found: list[dict], exact: bool) -> list[dict]:
    """Return (category, place) pairs reported twice or more (staff), or MIN_COUNT times
    or more (everyone else: a public "fewer than 3" here would always mean 2), the most
    reported first."""
    labels = category_labels(box)
    groups: dict[tuple[str, str], list[dict]] = {}
    for p in found:
        groups.setdefault((p["category"], place_key(p["place"])), []).append(p)
    rows = []
    for (slug, _), group in groups.items():
        if len(group) < (2 if exact else MIN_COUNT):
            continue
        latest = max(p["created_ms"] for p in group)
        rows.append(
            {
                "category": slug,
                "label": labels.get(slug, slug),
                "place": group[0]["place"],
                "reported": fig(len(group), len(group), exact),
                "latest": local_day(box, latest).isoformat(),
                "_n": len(group),
            }
        )
    rows.sort(key=lambda r: (r["label"].casefold(), r["place"].casefold()))
    rows.sort(key=lambda r: r["latest"], reverse=True)
    rows.sort(key=lambda r: r["_n"], reverse=True)
    for r in rows:
        del r["_n"]
    return rows


def _side(found: list[dict], centres: int, exact: bool) -> dict:
    n = len(found)
    resolved = _resolution_ms(found)
    return {
        "reported": fig(n if centres == 1 else round(n / centres, 1), n, exact),
        "resolved_share": share(len(resolved), n, exact),
        "resolution": times(resolved, exact)["median"],
    }


def comparison(box: Box, every: list[dict], labels_of: list[dict], exact: bool) -> dict:
    """Return this centre against all centres (per centre), per category and in all."""
    centres = max(1, Centre.select().count())
    here = [p for p in every if p["origin"] == box.origin]
    rows = []
    for row in labels_of:
        slug = row["slug"]
        rows.append(
            {
                "slug": slug,
                "label": row["label"],
                "here": _side([p for p in here if p["category"] == slug], 1, exact),
                "all": _side([p for p in every if p["category"] == slug], centres, exact),
            }
        )
    rows.append(
        {
            "slug": None,
            "label": N_("All categories"),
            "here": _side(here, 1, exact),
            "all": _side(every, centres, exact),
        }
    )
    return {"centres": centres, "rows": rows}


def insight(
    box: Box, actor: Actor | None, args=None, now_ms: int | None = None
) -> dict[str, object]:
    """Return everything the "somebody should" insight page shows for these filters."""
    now = _now(box, now_ms)
    f = read_filters(box, args or {}, now)
    exact = bool(actor and actor.is_staff)
    every = posts(box, f)
    found = every if f.scope == "all" else [p for p in every if p["origin"] == box.origin]
    centres = {c.origin: c.name for c in Centre.select()}
    cats = by_category(box, f, found, exact)
    compared = by_category(box, f, every, exact)
    return {
        "filters": f.as_args(),
        "from": f.start.isoformat(),
        "to": f.end.isoformat(),
        "category": f.category,
        "place": f.place,
        "scope": f.scope,
        "exact": exact,
        "min_count": MIN_COUNT,
        "totals": {
            **_counted(found, exact),
            "helper": times(_helper_ms(found), exact),
            "resolution": times(_resolution_ms(found), exact),
        },
        "categories": cats,
        "places": by_place(found, exact),
        "weeks": by_week(box, f, found, exact),
        "weekdays": by_weekday(box, found, exact),
        "unresolved": unresolved(box, found, now, centres),
        "open_total": sum(1 for p in found if p["open"]),
        "recurring": recurring(box, found, exact),
        "comparison": comparison(box, every, compared, exact),
    }


# --- tables: the figures as text, the same on the page and in the CSV ------------------------

TABLES = ("categories", "places", "weeks", "weekdays", "unresolved", "recurring", "comparison")


def figure_text(f: dict, words: Words = PLAIN, suffix: str = "") -> str:
    """Return a figure as text: its value, "fewer than 3", or a dash for none."""
    if f["suppressed"]:
        return words.gettext("fewer than 3")
    if f["value"] is None:
        return "–"
    return f"{f['value']}{suffix}"


def duration_text(f: dict, words: Words = PLAIN) -> str:
    """Return a figure in hours as plain words: minutes, hours, or days past 2 days."""
    if f["suppressed"] or f["value"] is None:
        return figure_text(f, words)
    hours = f["value"]
    if hours < 1:
        minutes = round(hours * 60)
        return words.ngettext("%(num)d minute", "%(num)d minutes", minutes)
    if hours < 48:
        return words.ngettext("%(num)d hour", "%(num)d hours", round(hours))
    return words.gettext("%(num)s days", num=f"{hours / 24:.1f}")


def _row(cells: list[str], post: str | None = None) -> dict:
    return {"cells": cells, "post": post}


def table(data: dict, name: str, words: Words = PLAIN) -> dict:
    """Return one of the page's tables: {name, columns, rows: [{cells, post}]}, cells text."""
    # Named gettext so that pybabel finds the strings (web/babel.cfg).
    gettext, t, d = (
        words.gettext,
        lambda f: figure_text(f, words),
        lambda f: duration_text(f, words),
    )
    if name == "categories":
        columns = [
            gettext("Category"),
            gettext("Reported"),
            gettext("Resolved"),
            gettext("Got a helper"),
        ]
        columns += [gettext("Median time to first helper"), gettext("3 in 4 got a helper within")]
        columns += [gettext("Median time to resolution"), gettext("3 in 4 resolved within")]
        rows = [
            _row(
                [gettext(r["label"]), t(r["reported"]), t(r["resolved"]), t(r["helper"]["n"])]
                + [d(r["helper"]["median"]), d(r["helper"]["p75"])]
                + [d(r["resolution"]["median"]), d(r["resolution"]["p75"])]
            )
            for r in data["categories"]
        ]
    elif name == "places":
        columns = [gettext("Place"), gettext("Reported"), gettext("Resolved")]
        rows = [_row([r["place"], t(r["reported"]), t(r["resolved"])]) for r in data["places"]]
    elif name == "weeks":
        columns = [gettext("Week starting"), gettext("Reported")]
        rows = [_row([r["start"], t(r["reported"])]) for r in data["weeks"]]
    elif name == "weekdays":
        columns = [gettext("Weekday"), gettext("Reported")]
        rows = [_row([gettext(r["label"]), t(r["reported"])]) for r in data["weekdays"]]
    elif name == "unresolved":
        columns = [
            gettext("Post"),
            gettext("Place"),
            gettext("Category"),
            gettext("Centre"),
            gettext("Posted on"),
        ]
        columns.append(gettext("Days open"))
        rows = [
            _row(
                [r["title"], r["place"], gettext(r["label"]), r["centre"] or gettext("This centre")]
                + [r["created"], str(r["days_open"])],
                r["id"],
            )
            for r in data["unresolved"]
        ]
    elif name == "recurring":
        columns = [
            gettext("Category"),
            gettext("Place"),
            gettext("Reports"),
            gettext("Latest report"),
        ]
        rows = [
            _row([gettext(r["label"]), r["place"], t(r["reported"]), r["latest"]])
            for r in data["recurring"]
        ]
    elif name == "comparison":
        n = data["comparison"]["centres"]
        columns = [gettext("Category"), gettext("Reported here")]
        columns.append(
            words.ngettext(
                "Reported per centre (%(num)d centre)", "Reported per centre (%(num)d centres)", n
            )
        )
        columns += [gettext("Resolved here"), gettext("Resolved, all centres")]
        columns += [gettext("Median time to resolution here"), gettext("Median time, all centres")]
        rows = [
            _row(
                [gettext(r["label"]), t(r["here"]["reported"]), t(r["all"]["reported"])]
                + [figure_text(r[side]["resolved_share"], words, "%") for side in ("here", "all")]
                + [d(r["here"]["resolution"]), d(r["all"]["resolution"])]
            )
            for r in data["comparison"]["rows"]
        ]
    else:
        raise NotFound(N_("There is no such table."))
    return {"name": name, "columns": columns, "rows": rows}


def as_csv(tab: dict) -> str:
    """Render a table as CSV (RFC 4180, UTF-8 with a byte order mark for spreadsheets);
    a cell a spreadsheet would run as a formula starts with an apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(tab["columns"])
    for row in tab["rows"]:
        writer.writerow(["'" + c if c.startswith(_FORMULA_START) else c for c in row["cells"]])
    return out.getvalue()


# --- charts ------------------------------------------------------------------------------------


def _value(f: dict):
    return None if f["suppressed"] else f["value"]


def _starred(label: str, *figures: dict) -> str:
    return label + (STAR if any(f["suppressed"] for f in figures) else "")


def _draw(kind, words: Words, title: str, colors, name: str, labels, series, **config) -> str:
    starred = any(label.endswith(STAR) for label in labels)
    note = words.gettext("%(star)s fewer than 3 posts: not drawn", star=STAR) if starred else None
    chart = food_charts.chart(kind, words, title, note, colors)
    config = {"show_legend": len(series) > 1, **config}
    for key, value in config.items():
        setattr(chart, key, value)
    chart.x_labels = labels
    for label, values in series:
        chart.add(label, values)
    return food_charts.clean_svg(chart.render(is_unicode=True), name)


def _side_bars(rows: list) -> dict:
    """Labels down the side, a row each: for charts of categories and places."""
    return {"x_label_rotation": 0, "height": max(food_charts.HEIGHT, 140 + 48 * len(rows))}


def _short(label: str, size: int = 22) -> str:
    return label if len(label) <= size else label[: size - 1].rstrip(" ,") + "…"


def chart_svg(
    box: Box,
    actor: Actor | None,
    name: str,
    args=None,
    words: Words = PLAIN,
    now_ms: int | None = None,
) -> str:
    """Draw one of the page's charts by name, for the same filters (and viewer) as it."""
    if name not in CHARTS:
        raise NotFound(N_("There is no such chart."))
    data = insight(box, actor, args, now_ms)
    gettext = words.gettext  # named so that pybabel finds the strings
    if name == "categories":
        rows = data["categories"]
        labels = [_starred(_short(gettext(r["label"])), r["reported"], r["resolved"]) for r in rows]
        series = [
            (gettext("Reported"), [_value(r["reported"]) for r in rows]),
            (gettext("Resolved"), [_value(r["resolved"]) for r in rows]),
        ]
        return _draw(
            pygal.HorizontalBar, words, gettext("Reported and resolved by category"),
            (REPORTED, RESOLVED), name, labels, series, **_side_bars(rows),
        )  # fmt: skip
    if name == "places":
        rows = data["places"][:15]
        labels = [_starred(_short(r["place"]), r["reported"]) for r in rows]
        series = [(gettext("Reported"), [_value(r["reported"]) for r in rows])]
        return _draw(
            pygal.HorizontalBar, words, gettext("Reported by place (the 15 most)"),
            (REPORTED,), name, labels, series, **_side_bars(rows),
        )  # fmt: skip
    if name == "weeks":
        rows = data["weeks"]
        labels = [_starred(words.short_day(r["start"]), r["reported"]) for r in rows]
        series = [(gettext("Reported"), [_value(r["reported"]) for r in rows])]
        every = max(1, math.ceil(len(rows) / 13))  # about 13 labels, however long the span
        return _draw(
            pygal.Bar, words, gettext("Reported each week"), (REPORTED,), name, labels, series,
            show_minor_x_labels=every == 1, x_labels_major_every=every,
        )  # fmt: skip
    if name == "weekdays":
        rows = data["weekdays"]
        labels = [_starred(gettext(r["label"])[:3], r["reported"]) for r in rows]
        series = [(gettext("Reported"), [_value(r["reported"]) for r in rows])]
        return _draw(
            pygal.Bar, words, gettext("Reported by weekday"), (REPORTED,), name, labels, series
        )
    if name == "times":
        rows = data["categories"]
        labels = [
            _starred(_short(gettext(r["label"])), r["helper"]["median"], r["resolution"]["median"])
            for r in rows
        ]
        series = [
            (gettext("Hours to first helper"), [_value(r["helper"]["median"]) for r in rows]),
            (gettext("Hours to resolution"), [_value(r["resolution"]["median"]) for r in rows]),
        ]
        return _draw(
            pygal.HorizontalBar, words, gettext("Median hours to a helper and to resolution"),
            (HELPER, RESOLVED), name, labels, series, **_side_bars(rows),
        )  # fmt: skip
    rows = data["comparison"]["rows"]
    labels = [
        _starred(_short(gettext(r["label"])), r["here"]["reported"], r["all"]["reported"])
        for r in rows
    ]
    series = [
        (gettext("This centre"), [_value(r["here"]["reported"]) for r in rows]),
        (gettext("Per centre, all centres"), [_value(r["all"]["reported"]) for r in rows]),
    ]
    return _draw(
        pygal.HorizontalBar, words, gettext("This centre against all centres"),
        (REPORTED, RESOLVED), name, labels, series, **_side_bars(rows),
    )  # fmt: skip


CHARTS = ("categories", "places", "weeks", "weekdays", "times", "comparison")
