"""A ride's repeats: its zone, its journeys' local dates and times, and the words for them.

A ride's `rrule` is an RFC 5545 RRULE value (appliance/kinds.py limits which parts a
record may carry), expanded here with dateutil in the ride's own zone. A rule this box
cannot read, from this box or another, never breaks a page: the ride then has just its
first journey, and its repeat is described without detail.
"""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # RFC 5545 BYDAY, date.weekday() order
_WEEKLY_PARTS = {"FREQ", "INTERVAL", "BYDAY", "UNTIL", "COUNT"}  # what this box's form writes
_DATE_UNTIL = re.compile(r"(?<=UNTIL=)(\d{8})(?=;|$)")
_NO_INTERVAL = re.compile(r"(^|;)INTERVAL=0*(;|$)")  # dateutil would never stop


def zone_of(ride) -> datetime.tzinfo:
    """Return the ride's time zone (UTC if this box does not know the zone's name)."""
    try:
        return ZoneInfo(ride.tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return datetime.UTC


def first_date(ride) -> datetime.date:
    """Return the local date of the ride's first journey."""
    return datetime.date.fromisoformat(ride.start[:10])


def _expand(ride, start: datetime.date, end: datetime.date) -> list[datetime.date] | None:
    """Return the rule's dates in [start, end], each once, or None if this box cannot read
    the rule.

    The rule runs from the local start with its zone attached, so dateutil keeps the wall
    time (09:30 stays 09:30 across clock changes) and compares UNTIL (UTC) correctly. A
    rule from another implementation with a local UNTIL is read in wall time instead, and
    a date-only UNTIL includes that whole day (as repeat_of describes it).
    """
    if _NO_INTERVAL.search(ride.rrule):
        return None
    local = datetime.datetime.fromisoformat(ride.start)
    text = _DATE_UNTIL.sub(r"\1T235959", ride.rrule)
    for zone in (zone_of(ride), None):
        try:
            rule = rrulestr(text, dtstart=local.replace(tzinfo=zone))
            low = datetime.datetime.combine(start, datetime.time.min, zone)
            high = datetime.datetime.combine(end, datetime.time.max, zone)
            moments = rule.between(low, high, inc=True)
        except Exception:  # noqa: BLE001 - any rule dateutil cannot read falls back
            continue
        return sorted({moment.date() for moment in moments})
    return None


def occurrences(ride, start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """Return the local dates of the ride's journeys in [start, end], in order, each once.

    A one-off ride (or one whose rule this box cannot read) has just its first date.
    """
    if end < start:
        return []
    expanded = _expand(ride, start, end) if ride.rrule else None
    if expanded is not None:
        return expanded
    first = first_date(ride)
    return [first] if start <= first <= end else []


def is_occurrence(ride, date: datetime.date) -> bool:
    """Return True if the ride has a journey on this local date."""
    return date in occurrences(ride, date, date)


def journey_time(ride, date: datetime.date) -> datetime.datetime:
    """Return when a journey is (pickup or appointment), aware, in the ride's zone.

    At a clock change a wall time can be missing or happen twice: a time that does not
    exist that day (01:30 when clocks go forward at 01:00) moves forward by the gap
    (02:30 summer time), and a time that happens twice is the first of the two (summer
    time), the earlier moment, so a driver is never an hour late.
    """
    zone = zone_of(ride)
    wall = datetime.time.fromisoformat(ride.start[11:16])
    moment = datetime.datetime.combine(date, wall, zone)  # fold=0: see above
    return moment.astimezone(datetime.UTC).astimezone(zone)


def first_journey(rule: str | None, local: datetime.datetime):
    """Return the first journey's local start: the first the rule gives on or after
    `local` (None if it gives none). Raises ValueError for a rule dateutil cannot read."""
    if rule is None:
        return local
    try:
        return next(iter(rrulestr(rule, dtstart=local)), None)
    except Exception as exc:  # noqa: BLE001 - dateutil raises more than ValueError
        raise ValueError(str(exc)) from exc


def _until_date(until: str, ride) -> str:
    """Return an RRULE UNTIL (a date, a local or a UTC date-time) as a local ISO date."""
    if len(until) == 8:
        return datetime.datetime.strptime(until, "%Y%m%d").date().isoformat()
    moment = datetime.datetime.strptime(until[:15], "%Y%m%dT%H%M%S")
    if until.endswith("Z"):
        moment = moment.replace(tzinfo=datetime.UTC).astimezone(zone_of(ride))
    return moment.date().isoformat()


def repeat_of(ride) -> dict:
    """Describe the ride's repeat for people: {kind: none|weekly|other, interval, days,
    until (local ISO date), count}; "other" (with the rule) for anything else, even a
    rule whose parts this box cannot make sense of."""
    if not ride.rrule:
        return {"kind": "none"}
    other = {"kind": "other", "rule": ride.rrule}
    try:
        parts = dict(p.split("=", 1) for p in ride.rrule.split(";") if "=" in p)
        if parts.get("FREQ") != "WEEKLY" or set(parts) - _WEEKLY_PARTS:
            return other
        days = [d for d in parts.get("BYDAY", "").split(",") if d]
        if any(d not in WEEKDAYS for d in days):
            return other  # "the first Monday" and the like: not this box's weekly words
        until = _until_date(parts["UNTIL"], ride) if parts.get("UNTIL") else None
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except (ValueError, TypeError):
        return other
    if interval < 1 or (count is not None and count < 1):
        return other
    return {
        "kind": "weekly",
        "interval": interval,
        "days": days or [WEEKDAYS[first_date(ride).weekday()]],
        "until": until,
        "count": count,
    }
