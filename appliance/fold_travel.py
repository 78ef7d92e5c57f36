"""Folds for community travel: drivers' vouches, ride requests and their journeys.

Pure functions of an entity's records in the agreed order (sync/PROTOCOL.md, section 4),
like every fold in appliance/projection.py, so boxes that took the same journey while
apart agree on who has it and can tell the one who came second.
"""

from __future__ import annotations

import datetime
import json
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.foldsql import delete_where_in, executemany, insert_sql
from appliance.records import Record

DRIVER_COLUMNS = (
    "member",
    "origin",
    "checks",
    "seats",
    "wheelchair",
    "folded_chair",
    "dogs",
    "valid_to",
    "vouched_by",
    "vouched_ms",
)
RIDE_COLUMNS = (
    "id",
    "origin",
    "rider",
    "author",
    "from_area",
    "to_area",
    "start",
    "tz",
    "start_ms",
    "time_is",
    "window",
    "rrule",
    "return_at",
    "passengers",
    "needs",
    "regular_driver",
    "created_ms",
    "cancelled",
    "cancel_reason",
    "series_driver",
    "series_lost",
    "sealed",
    "series_since",
)
JOURNEY_COLUMNS = (
    "ride",
    "date",
    "driver",
    "state",
    "provider",
    "provider_name",
    "cost",
    "reference",
    "miles",
    "lost",
    "updated_ms",
)
_REPLACE_RIDE = insert_sql("ride", RIDE_COLUMNS, "INSERT OR REPLACE")
_INSERT_JOURNEY = insert_sql("journey", JOURNEY_COLUMNS)


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# --- drivers -------------------------------------------------------------------------------


def fold_drivers(root: Record, rest: list[Record]) -> list[tuple]:
    """Return a member's driver rows: one per centre whose last word is a vouch.

    Keyed by the vouching record's origin: `driver.vouched` replaces that origin's vouch,
    `driver.withdrawn` from the same origin removes it. A vouch lasts to the earliest
    expiry among its checks.
    """
    vouches: dict[str, Record] = {}
    for r in rest:
        if r.kind == "driver.vouched":
            vouches[r.origin] = r
        elif r.kind == "driver.withdrawn":
            vouches.pop(r.origin, None)
    rows = []
    for origin, r in vouches.items():
        checks, vehicle = r.body["checks"], r.body["vehicle"]
        rows.append(
            (
                root.id,
                origin,
                _json(checks),
                vehicle["seats"],
                vehicle["wheelchair"],
                vehicle["folded_chair"],
                vehicle["dogs"],
                min(c["expires"] for c in checks),
                r.author,
                r.hlc[0],
            )
        )
    return rows


# --- rides ---------------------------------------------------------------------------------


def ride_zone(tz: str):
    """Return a ride's zone, or UTC if this box does not know it (the record is still
    kept and shown). OSError: a name like "Europe" is a folder of the zone database."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return datetime.UTC


def start_ms(start: str, tz: str) -> int:
    """Return the UTC milliseconds of a local "YYYY-MM-DDTHH:MM" in a zone."""
    moment = datetime.datetime.fromisoformat(start).replace(tzinfo=ride_zone(tz))
    return int(moment.timestamp() * 1000)


def local_date(ms: int, tz: str) -> str:
    """Return the local ISO date of a moment in a ride's zone."""
    return datetime.datetime.fromtimestamp(ms / 1000, ride_zone(tz)).date().isoformat()


class _Takers:
    """Who has taken something, in the agreed order: an add/remove list.

    Taking again after handing back goes to the end, as a new take.
    """

    def __init__(self) -> None:
        self.order: list = []

    def take(self, who) -> None:
        if who not in self.order:
            self.order.append(who)

    def hand_back(self, who) -> None:
        if who in self.order:
            self.order.remove(who)


def fold_ride(root: Record, rest: list[Record]) -> tuple[tuple, list[tuple]]:
    """Return a ride's row and its journey rows.

    - The series: `ride.taken` / `ride.handed_back` with date null; the first remaining
      taker has every journey from the local date of their take on (`series_since`),
      later takers have lost the series.
    - A journey (date): the driver who marked it done while holding it, if any; else
      the series driver unless they handed that date back, then the date's own takers
      in order; a `ride.paid` booking joins the date's takers (only
      the first booking counts). The first of them has the journey; the drivers after
      it lost it (their pages say so).
    - State: done if the journey's driver said so (even if a cancellation crossed it:
      it happened), else cancelled (that date, or the whole request), else on the way
      (only by the journey's driver), else driver found, else paid, else open.
    """
    b = root.body
    series = _Takers()
    takers: dict[str, _Takers] = {}
    handed_back: dict[str, set[str]] = {}  # date -> drivers who handed that date back
    booked: dict[str, dict] = {}
    # Per date, every member who said they set off / did it (and their miles): only the
    # journey's driver counts, so a driver who lost the journey cannot undo the winner's.
    started: dict[str, set[str]] = {}
    done: dict[str, dict[str, int | None]] = {}
    cancelled_dates: set[str] = set()
    cancelled, reason, sealed = False, None, None
    touched: dict[str, int] = {}
    # A journey its driver marked done stays theirs whatever comes after (handing the
    # series back later must not undo a journey that happened).
    kept: dict[str, str] = {}
    # A series take covers the journeys from the day it was made (in the ride's zone):
    # taking a series late must not rewrite who drove, or left unmet, the past ones.
    since: dict[str, str] = {}

    def covers(driver, date: str) -> bool:
        return date >= since.get(driver, "") and driver not in handed_back.get(date, set())

    def holder(date: str):
        if series.order and covers(series.order[0], date):
            return series.order[0]
        order = takers[date].order if date in takers else []
        return order[0] if order else None

    for r in rest:
        kind, body, author, ms = r.kind, r.body, r.author, r.hlc[0]
        date = body.get("date")
        if date is not None:
            touched[date] = max(touched.get(date, 0), ms)
        if kind == "ride.addresses" and r.origin == root.origin:
            sealed = _json(body["sealed"])
        elif kind == "ride.taken" and author:
            if date is None and author not in series.order:
                since[author] = local_date(ms, b["tz"])
            (series if date is None else takers.setdefault(date, _Takers())).take(author)
            if date is not None:
                handed_back.get(date, set()).discard(author)
        elif kind == "ride.handed_back" and author:
            if date is None:
                series.hand_back(author)
            else:
                takers.setdefault(date, _Takers()).hand_back(author)
                handed_back.setdefault(date, set()).add(author)
        elif kind == "ride.paid" and date not in booked:
            booked[date] = dict(body, by=author)
            takers.setdefault(date, _Takers()).take(("paid", date))
        elif kind == "ride.started" and author:
            started.setdefault(date, set()).add(author)
        elif kind == "ride.done" and author:
            done.setdefault(date, {})[author] = body["miles"]
            if date not in kept and holder(date) == author:
                kept[date] = author
        elif kind == "ride.cancelled":
            if date is None:
                cancelled, reason = True, body["reason"]
            else:
                cancelled_dates.add(date)

    series_driver = series.order[0] if series.order else None
    journeys = []
    for date in sorted(touched):
        holders = [kept[date]] if date in kept else []
        if series_driver and covers(series_driver, date) and series_driver not in holders:
            holders.append(series_driver)
        for who in takers.get(date, _Takers()).order:
            if who not in holders:
                holders.append(who)
        winner = holders[0] if holders else None
        driver = winner if isinstance(winner, str) else None
        lost = [h for h in holders[1:] if isinstance(h, str)]
        did = driver is not None and driver in done.get(date, {})
        miles = done.get(date, {}).get(driver)
        if did:
            state = "done"  # it happened: a cancellation that crossed it changes nothing
        elif date in cancelled_dates or cancelled:
            state = "cancelled"
        elif driver and driver in started.get(date, set()):
            state = "on_the_way"
        elif driver:
            state = "driver_found"
        elif winner is not None:
            state = "paid"
        else:
            state = "open"
        paid = booked.get(date) if state == "paid" else None
        journeys.append(
            (
                root.id,
                date,
                driver,
                state,
                paid["provider"] if paid else None,
                paid["provider_name"] if paid else None,
                paid["cost"] if paid else None,
                paid["reference"] if paid else None,
                miles if state == "done" else None,
                _json(lost),
                touched[date],
            )
        )
    row = (
        root.id,
        root.origin,
        b["rider"],
        root.author,
        b["from_area"],
        b["to_area"],
        b["start"],
        b["tz"],
        start_ms(b["start"], b["tz"]),
        b["time_is"],
        b["window"],
        b["rrule"],
        b["return_at"],
        b["passengers"],
        _json(b["needs"]),
        b["regular_driver"],
        root.hlc[0],
        cancelled,
        reason,
        series_driver,
        _json(series.order[1:]),
        sealed,
        since.get(series_driver) if series_driver else None,
    )
    return row, journeys


def write_rides(entities: list[tuple[Record, list[Record]]]) -> None:
    rides, journeys = [], []
    for root, rest in entities:
        row, ride_journeys = fold_ride(root, rest)
        rides.append(row)
        journeys.extend(ride_journeys)
    executemany(_REPLACE_RIDE, rides)
    delete_where_in("journey", "ride", [row[0] for row in rides])
    executemany(_INSERT_JOURNEY, journeys)
