"""Rides from the rider's side: asking for one, its repeats, its journeys, cancelling.

A ride is one request (`ride.requested`): where from and to (a coarse area drivers see
before they take it, and the exact addresses, sealed in `ride.addresses`), when (a local
time in the centre's zone), and how often (an RFC 5545 RRULE, expanded here). A journey
is one occurrence, named by its local date; the repeats are expanded in
appliance/services/ride_recurrence.py (its names are available here too). Who may see
what is decided in appliance/services/ride_access.py.
"""

from __future__ import annotations

import datetime
import json
import re
from zoneinfo import ZoneInfo

from appliance.box import Box
from appliance.dates import parse_day
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed
from appliance.kinds import AREA_MAX, NEEDS_MAX, REASON_MAX, SEATS_MAX, TIME_IS, WINDOW_MAX
from appliance.models import Driver, Member, Ride
from appliance.sealing import seal_for
from appliance.services import conduct, ride_access
from appliance.services.accounts import Actor, require_member
from appliance.services.drivers import authorisation, can_serve, today
from appliance.services.ride_recurrence import (  # noqa: F401 - rides.* for other modules
    WEEKDAYS,
    first_date,
    first_journey,
    is_occurrence,
    journey_time,
    occurrences,
    repeat_of,
    zone_of,
)
from appliance.services.travel_lists import access_needs, need_label

ADDRESS_MAX = 200
NOTES_MAX = 500
REPEATS = ("none", "weekly", "fortnightly", "weeks")  # "weeks": every `weeks` weeks
EVERY_MAX = 12  # weeks between journeys
COUNT_MAX = 520  # journeys in one series: ten years of weekly rides
AHEAD_DAYS = 366  # the first journey at most a year ahead
WEEKS_SHOWN = 4  # journeys the rider's pages list ahead
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


# --- asking for a ride ---------------------------------------------------------------------


def _text(data, name: str) -> str:
    return " ".join(str(data.get(name) or "").split())


def _list(data, name: str) -> list[str]:
    """Return a form's repeated field (checkboxes) or a list value, cleaned."""
    if hasattr(data, "getlist"):
        values = data.getlist(name)
    else:
        values = data.get(name) or []
        values = values.split(",") if isinstance(values, str) else list(values)
    return [str(v).strip() for v in values if str(v).strip()]


def _whole(data, name: str, low: int, high: int, default: int | None = None) -> int | None:
    raw = str(data.get(name) if data.get(name) is not None else "").strip()
    if not raw and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def _hh_mm(text: str) -> str | None:
    match = _TIME.match(text)
    return f"{int(match.group(1)):02d}:{match.group(2)}" if match else None


def _rider(actor: Actor, data) -> tuple[str | None, dict]:
    """Return the rider's member id: the actor, or for staff the member they ask for."""
    wanted = str(data.get("rider") or "").strip()
    if not wanted or wanted == actor.id:
        return actor.id, {}
    if not ride_access.is_coordinator(actor):
        raise NotAllowed(N_("Only the centre's staff can ask for a ride for someone else."))
    if Member.get_or_none(Member.id == wanted) is None:
        return None, {"rider": N_("Please choose the person the ride is for.")}
    return wanted, {}


def _build_rule(data, day: datetime.date, zone, errors: dict) -> str | None:
    """Return the RRULE value the repeat fields ask for (None: one journey), noting errors."""
    repeat = str(data.get("repeat") or "none").strip()
    if repeat not in REPEATS:
        errors["repeat"] = N_("Please choose how often the ride repeats.")
        return None
    if repeat == "none":
        return None
    interval = {"weekly": 1, "fortnightly": 2}.get(repeat)
    if interval is None:
        interval = _whole(data, "weeks", 1, EVERY_MAX)
        if interval is None:
            errors["weeks"] = N_("Please give a number of weeks from 1 to 12.")
    days = _list(data, "days")
    if any(d not in WEEKDAYS for d in days):
        errors["days"] = N_("Please choose days of the week.")
    days = [d for d in WEEKDAYS if d in days] or ([WEEKDAYS[day.weekday()]] if day else [])
    until_text, count_text = _text(data, "until"), _text(data, "count")
    until = count = None
    if until_text:
        try:
            until = parse_day(until_text)
        except ValueError:
            errors["until"] = N_("Please give the date as YYYY-MM-DD.")
    if count_text:
        count = _whole(data, "count", 1, COUNT_MAX)
        if count is None:
            errors["count"] = N_("Please give a number of journeys from 1 to 520.")
    if until and count:
        errors["count"] = N_("Give a last date or a number of journeys, not both.")
    if errors.keys() & {"weeks", "days", "until", "count"} or day is None:
        return None
    parts = ["FREQ=WEEKLY"] + ([f"INTERVAL={interval}"] if interval > 1 else [])
    parts.append("BYDAY=" + ",".join(days))
    if until:
        # RFC 5545: with a zoned start, UNTIL is in UTC; the end of the chosen local day.
        last = datetime.datetime.combine(until, datetime.time(23, 59, 59), zone)
        parts.append("UNTIL=" + last.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ"))
    elif count:
        parts.append(f"COUNT={count}")
    return ";".join(parts)


def _first_journey(rule: str | None, local: datetime.datetime, errors: dict):
    """Return the first journey's local start (the first the rule gives on or after the
    chosen date), or None with an error noted."""
    try:
        first = first_journey(rule, local)
    except ValueError:
        errors["repeat"] = N_("Please choose how often the ride repeats.")
        return None
    if first is None:
        errors["until"] = N_("No journey falls before that last date.")
    return first


def _check_needs(box: Box, data, errors: dict) -> list[str]:
    needs = list(dict.fromkeys(_list(data, "needs")))
    known = {n["slug"] for n in access_needs(box)}
    if any(n not in known for n in needs) or len(needs) > NEEDS_MAX:
        errors["needs"] = N_("Please choose access needs from the centre's list.")
    return needs


def _check_regular(box: Box, data, rider: str | None, probe: dict, errors: dict) -> str | None:
    """Return the regular driver's member id (or None), noting why one cannot be."""
    driver = str(data.get("regular_driver") or "").strip() or None
    if driver is None:
        return None
    if driver == rider:
        errors["regular_driver"] = N_("The rider cannot be their own driver.")
        return None
    auth = authorisation(box, driver) if Member.get_or_none(Member.id == driver) else None
    if auth is None:
        errors["regular_driver"] = N_("Please choose a driver authorised by the centre.")
    elif not errors.keys() & {"passengers", "needs"} and not can_serve(box, auth["vehicle"], probe):
        errors["regular_driver"] = N_(
            "That driver's vehicle cannot take this ride (seats or access needs)."
        )
    return driver


def check_ride(box: Box, data, rider: str | None, errors: dict) -> tuple[dict, dict]:
    """Validate a ride request's fields; return (the record's body, the private details).

    Adds each problem to `errors` under the form field's name.
    """
    now = box.log.now_ms()
    tz = box.settings["timezone"]
    zone = ZoneInfo(tz)
    private = {}
    for name in ("from_address", "to_address"):
        private[name] = _text(data, name)
        if not private[name] or len(private[name]) > ADDRESS_MAX:
            errors[name] = N_("Please give the full address (200 characters at most).")
    body: dict = {}
    for name in ("from_area", "to_area"):
        body[name] = _text(data, name)
        if not body[name] or len(body[name]) > AREA_MAX:
            errors[name] = N_(
                "Please name the area, like a village or a hospital (80 characters at most)."
            )
    day = None
    try:
        day = parse_day(_text(data, "date"))
    except ValueError:
        errors["date"] = N_("Please give the date as YYYY-MM-DD.")
    at = _hh_mm(_text(data, "time"))
    if at is None:
        errors["time"] = N_("Please give the time as HH:MM, for example 09:30.")
    body["time_is"] = _text(data, "time_is") or "pickup"
    if body["time_is"] not in TIME_IS:
        errors["time_is"] = N_("Please say whether this is the pickup or the appointment time.")
    body["window"] = _whole(data, "window", 0, WINDOW_MAX, default=0)
    if body["window"] is None:
        errors["window"] = N_("Please give a number of minutes from 0 to 240.")
    rule = _build_rule(data, day, zone, errors)
    first = None
    if day and at:
        local = datetime.datetime.combine(day, datetime.time.fromisoformat(at), zone)
        first = _first_journey(rule, local, errors)
    if first is not None:
        start_ms = first.timestamp() * 1000
        if start_ms <= now:
            errors["date"] = N_("That time has already passed: please choose a later one.")
        elif first.date() > today(box, now) + datetime.timedelta(days=AHEAD_DAYS):
            errors["date"] = N_("Please choose a date within the next year.")
    back = _text(data, "return_at")
    body["return_at"] = _hh_mm(back) if back else None
    if back and (body["return_at"] is None or (at and body["return_at"] <= at)):
        errors["return_at"] = N_("The return must be after the outbound time, on the same day.")
    body["passengers"] = _whole(data, "passengers", 1, SEATS_MAX, default=1)
    if body["passengers"] is None:
        errors["passengers"] = N_("Please give the number of people travelling, from 1 to 8.")
    body["needs"] = _check_needs(box, data, errors)
    probe = {"passengers": body["passengers"], "needs": body["needs"], "origin": box.origin}
    body["regular_driver"] = _check_regular(box, data, rider, probe, errors)
    private["notes"] = str(data.get("notes") or "").strip().replace("\r\n", "\n")
    if len(private["notes"]) > NOTES_MAX:
        errors["notes"] = N_("Please keep the notes under 500 characters.")
    if first is not None:
        body["start"] = first.strftime("%Y-%m-%dT%H:%M")
    body.update(tz=tz, rrule=rule)
    return body, private


def request_ride(box: Box, actor: Actor | None, data) -> str:
    """Ask for a ride (for yourself, or as staff for a rider); return the ride's id.

    Writes the request and its sealed addresses in one transaction, or nothing.
    """
    require_member(actor)
    conduct.require_accepted(box, actor)
    rider, errors = _rider(actor, data)
    body, private = check_ride(box, data, rider, errors)
    sealed = None
    if not errors:
        try:
            sealed = seal_for(box, private)
        except ValueError:
            errors["notes"] = N_(
                "The addresses and notes are too long together: please shorten them."
            )
    if errors:
        raise InvalidInput(errors)
    with database.atomic():
        rec = box.log.append("ride.requested", {**body, "rider": rider}, author=actor.id)
        box.log.append("ride.addresses", {"sealed": sealed}, subject=rec.id, author=actor.id)
    return rec.id


def form_choices(box: Box, actor: Actor | None) -> dict:
    """Return the request form's lists: the centre's access needs, authorised drivers
    (names only), and for staff and coordinators the members they may ask for."""
    require_member(actor)
    riders = None
    if ride_access.is_coordinator(actor):
        riders = [{"id": m.id, "name": m.name} for m in Member.select().order_by(Member.name)]
    return {
        "needs": access_needs(box),
        "drivers": _authorised_drivers(box),
        "riders": riders,
        "weekdays": WEEKDAYS,
    }


def _authorised_drivers(box: Box) -> list[dict]:
    ids = {d.member for d in Driver.select(Driver.member)}
    found = Member.select().where(Member.id.in_(sorted(ids))).order_by(Member.name)
    return [{"id": m.id, "name": m.name} for m in found if authorisation(box, m.id)]


# --- journeys and their states -------------------------------------------------------------


def _names(ids) -> dict[str, str]:
    ids = sorted({i for i in ids if i})
    return {m.id: m.name for m in Member.select().where(Member.id.in_(ids))} if ids else {}


def _rider_state(box: Box, ride: Ride, date: datetime.date, state: str, now: int) -> str:
    """Return a journey's state as the rider sees it."""
    if state != "open":
        return state
    regular = ride_access.stage(box, ride, date, now) == "regular"
    return "offered_regular" if regular else "requested"


def journeys(
    box: Box, viewer: Actor | None, ride: Ride, start: datetime.date, end: datetime.date
) -> list[dict]:
    """Return the ride's journeys in [start, end] that the viewer may see, each
    {date, time, return_at, state, driver (name, only once it has one), provider (paid),
    past, can_cancel}; raise NotFound if the viewer may see none of the ride."""
    ride, _ = ride_access.require_level(box, viewer, ride.id)
    now = box.log.now_ms()
    # The rider and their centre's staff see every journey; a driver (or another
    # centre's staff) each one on its own.
    full = viewer.id == ride.rider or ride_access.is_rides_centre(box, viewer, ride)
    cancels = can_cancel(box, viewer, ride)
    found = []
    for date in occurrences(ride, start, end):
        seen = "full" if full else ride_access.level(box, viewer, ride, date, now)
        if seen is None:
            continue
        state, driver, row = ride_access.journey_state(ride, date)
        at = journey_time(ride, date)
        past = at.timestamp() * 1000 <= now
        found.append(
            {
                "date": date.isoformat(),
                "time": at.strftime("%H:%M"),
                "return_at": ride.return_at,
                "state": _rider_state(box, ride, date, state, now),
                "driver": driver if seen == "full" else None,
                "provider": row.provider_name if row is not None and state == "paid" else None,
                "past": past,
                "can_cancel": cancels and not past and state not in ("done", "cancelled"),
            }
        )
    names = _names(j["driver"] for j in found)
    for j in found:
        j["driver"] = names.get(j["driver"]) if j["driver"] else None
    return found


def can_cancel(box: Box, actor: Actor | None, ride: Ride) -> bool:
    """Return True if the actor may cancel the ride's journeys: its rider, or the staff
    and coordinators of the centre where it was asked for (ride_access.can_cancel)."""
    return ride_access.can_cancel(box, actor, ride)


def cancel(box: Box, actor: Actor | None, ride_id: str, date: str | None, reason: str = "") -> None:
    """Cancel one journey (by its date) or, with no date, the whole request."""
    require_member(actor)
    reason = " ".join((reason or "").split())
    with database.atomic():  # the checks and the record see the same state
        ride, _ = ride_access.require_level(box, actor, ride_id)
        if not can_cancel(box, actor, ride):
            raise NotAllowed(N_("Only the rider or the centre's staff can cancel a ride."))
        if len(reason) > REASON_MAX:
            raise InvalidInput({"reason": N_("Please keep the reason under 500 characters.")})
        body = _cancellation(box, ride, date, reason)
        box.log.append("ride.cancelled", body, subject=ride.id, author=actor.id)


def _cancellation(box: Box, ride: Ride, date: str | None, reason: str) -> dict:
    """Return the body of a ride.cancelled record for one journey (date) or the whole
    request (None), or raise if it cannot be cancelled."""
    if ride.cancelled:
        raise Conflict(N_("This ride is already cancelled."))
    now = box.log.now_ms()
    if date:
        try:
            day = parse_day(str(date).strip())
        except ValueError:
            raise InvalidInput({"date": N_("Please give the date as YYYY-MM-DD.")}) from None
        if not is_occurrence(ride, day):
            raise InvalidInput({"date": N_("The ride has no journey on that day.")})
        state = ride_access.journey_state(ride, day)[0]
        if state == "cancelled":
            raise Conflict(N_("That journey is already cancelled."))
        if state == "done" or journey_time(ride, day).timestamp() * 1000 <= now:
            raise Conflict(N_("That journey has already happened, so it cannot be cancelled."))
        return {"date": day.isoformat(), "reason": reason}
    if not _any_ahead(box, ride, now):
        raise Conflict(N_("Every journey of this ride has already happened."))
    return {"date": None, "reason": reason}


def _any_ahead(box: Box, ride: Ride, now: int) -> bool:
    """Return True if a journey of the ride is still to come."""
    if not ride.rrule:
        return journey_time(ride, first_date(ride)).timestamp() * 1000 > now
    first = today(box, now)
    ahead = occurrences(ride, first, first + datetime.timedelta(days=AHEAD_DAYS * 2))
    return any(journey_time(ride, d).timestamp() * 1000 > now for d in ahead)


# --- the rider's pages ---------------------------------------------------------------------


def summary(box: Box, viewer: Actor, ride: Ride, level: str, start, end) -> dict:
    """Return what a page shows of a ride at a level ("full" or "area")."""
    full = level == "full"
    now = box.log.now_ms()
    names = _names([ride.rider, ride.regular_driver, ride.author]) if full else {}
    needs = json.loads(ride.needs) if full else []
    info = {
        "id": ride.id,
        "level": level,
        "from_area": ride.from_area,
        "to_area": ride.to_area,
        "start": ride.start,
        "first_date": first_date(ride).isoformat(),
        "time": ride.start[11:16],
        "time_is": ride.time_is,
        "window": ride.window,
        "return_at": ride.return_at,
        "passengers": ride.passengers,
        "repeat": repeat_of(ride),
        "cancelled": ride.cancelled,
        "journeys": journeys(box, viewer, ride, start, end),
        "other_centre": level == "area" and ride_access.is_coordinator(viewer),
        "can_cancel": can_cancel(box, viewer, ride)
        and not ride.cancelled
        and _any_ahead(box, ride, now),
    }
    if full:
        info.update(
            rider=names.get(ride.rider, "?"),
            asked_by=names.get(ride.author) if ride.author != ride.rider else None,
            regular_driver=names.get(ride.regular_driver),
            needs=[need_label(box, ride.origin, slug) for slug in needs],
            cancel_reason=ride.cancel_reason,
            addresses=ride_access.addresses(box, viewer, ride),
        )
    return info


def shown_dates(box: Box) -> tuple[datetime.date, datetime.date]:
    """Return the dates whose journeys the rider's pages list: last week to WEEKS_SHOWN ahead."""
    first = today(box)
    return first - datetime.timedelta(days=7), first + datetime.timedelta(weeks=WEEKS_SHOWN)


def ride_detail(box: Box, viewer: Actor | None, ride_id: str) -> dict:
    """Return a ride for its page, at the viewer's level; NotFound for anyone without one."""
    ride, level = ride_access.require_level(box, viewer, ride_id)
    return summary(box, viewer, ride, level, *shown_dates(box))


def my_rides(box: Box, actor: Actor | None) -> list[dict]:
    """Return the rides the actor asked for (for themselves, or as staff for a rider) with
    journeys ahead or in the last week, soonest first."""
    require_member(actor)
    start, end = shown_dates(box)
    now = box.log.now_ms()
    found = []
    mine = Ride.select().where((Ride.rider == actor.id) | (Ride.author == actor.id))
    for ride in mine.order_by(Ride.start_ms):
        if ride_access.level(box, actor, ride) != "full":
            continue  # staff who asked for someone and are staff no more
        info = summary(box, actor, ride, "full", start, end)
        if not (info["journeys"] or _any_ahead(box, ride, now)):
            continue  # long over
        info["for_someone"] = ride.rider != actor.id
        found.append(info)
    return found
