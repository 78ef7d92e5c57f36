"""Volunteer drivers at work: the rides they may take, taking and handing back journeys,
setting off and saying a journey is done.

Only a driver whom a trusted centre vouched for, with checks still in date, sees ride
requests here, and only those their vehicle can serve in the current escalation stage
(appliance/services/ride_access.py decides who sees what). Until a driver takes a
journey they see its area, time and passengers; once it is theirs, the addresses and
the rider's access needs. Every check and the record it allows happen in one
transaction, so two drivers on this box cannot both take the same journey; two drivers
on boxes that were apart can, and the fold (appliance/fold_travel.py) keeps the first
and leaves the other a "lost" notice that this module lists.
"""

from __future__ import annotations

import datetime
import json
import re
from zoneinfo import ZoneInfo

from appliance.box import Box
from appliance.dates import parse_day
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.kinds import MILES_MAX
from appliance.models import Journey, Member, Ride
from appliance.services import drivers, ride_access, rides, travel_lists
from appliance.services.accounts import Actor, require_member

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
SERIES_AHEAD_DAYS = 366  # how far a series take looks for journeys still to come
# Journey states in which somebody (a driver or a paid service) covers the journey.
COVERED = ("driver_found", "on_the_way", "done", "paid")
_MILES = re.compile(r"^\d{1,4}$")


# --- the clock and a ride's journeys ---------------------------------------------------------


def ride_zone(ride: Ride) -> datetime.tzinfo:
    """Return the ride's own zone (UTC if this box does not know it)."""
    return rides.zone_of(ride)


def ride_today(box: Box, ride: Ride, now_ms: int | None = None) -> datetime.date:
    """Return today's date where the ride happens."""
    ms = box.log.now_ms() if now_ms is None else now_ms
    return datetime.datetime.fromtimestamp(ms / 1000, ride_zone(ride)).date()


def centre_today(box: Box, now_ms: int | None = None) -> datetime.date:
    """Return today's date in the centre's zone."""
    ms = box.log.now_ms() if now_ms is None else now_ms
    return datetime.datetime.fromtimestamp(ms / 1000, ZoneInfo(box.settings["timezone"])).date()


def iso(day) -> str:
    """Return a date (or an ISO date string) as "YYYY-MM-DD"."""
    return day if isinstance(day, str) else day.isoformat()


def due_ms(ride: Ride, date: str) -> int:
    """Return when a journey is due (pickup or appointment time), UTC ms."""
    return int(rides.journey_time(ride, parse_day(date)).timestamp() * 1000)


def dates_between(ride: Ride, start: datetime.date, end: datetime.date) -> list[str]:
    """Return the ISO dates of a ride's journeys from start to end (both included)."""
    if end < start:
        return []
    return [iso(d) for d in rides.occurrences(ride, start, end)]


def journey_rows(ride_ids) -> dict[tuple[str, str], Journey]:
    """Return the Journey rows of some rides, by (ride, date)."""
    ids = list(ride_ids)
    if not ids:
        return {}
    return {(j.ride, j.date): j for j in Journey.select().where(Journey.ride.in_(ids))}


def journey_state(ride: Ride, date: str, rows: dict | None = None) -> tuple[str | None, str]:
    """Return (driver, state) of one journey: its own row, else the series' (travel.md).

    `rows` are the rides' Journey rows from journey_rows(), to save a query per journey.
    """
    if rows is None:
        row = Journey.get_or_none((Journey.ride == ride.id) & (Journey.date == date))
    else:
        row = rows.get((ride.id, date))
    state, driver = ride_access.state_of(ride, date, row)
    return driver, state


def series_holds(ride: Ride, date: str) -> bool:
    """Return True if the ride's series driver has this date (a date with no Journey row).

    A series take covers the journeys from the local date it was made on
    (Ride.series_since, appliance/fold_travel.py): the earlier ones stay as they were.
    """
    return ride_access.series_covers(ride, iso(date))


def holds(ride: Ride, member_id: str) -> bool:
    """Return True if the member drives the series or some journey of the ride."""
    if ride.series_driver == member_id:
        return True
    return (
        Journey.select().where((Journey.ride == ride.id) & (Journey.driver == member_id)).exists()
    )


def journey_stage(box: Box, ride: Ride, date: str, now_ms: int | None = None) -> str:
    """Return a journey's escalation stage: regular, drivers or alert (ride_access's)."""
    return ride_access.stage(box, ride, _day(date), now_ms=now_ms)


def _day(date: str | None) -> datetime.date | None:
    return None if date is None else parse_day(date)


def regular_until_ms(box: Box, ride: Ride) -> int:
    """Return when a ride's time with its regular driver alone ends."""
    return ride.created_ms + box.settings["ride_regular_hours"] * HOUR_MS


def get_ride(ride_id: str) -> Ride:
    """Return a ride by id, or raise NotFound."""
    ride = Ride.get_or_none(Ride.id == str(ride_id or ""))
    if ride is None:
        raise NotFound(ride_access.NOT_HERE)
    return ride


def held_ride(box: Box, actor: Actor, ride_id: str, now_ms: int | None = None) -> Ride:
    """Return a ride the actor drives (the series or some journey of it) or may see, else
    NotFound in the very words of a ride that does not exist: nothing said after this
    may tell a stranger that it does. A driver whose checks lapsed still holds theirs."""
    ride = get_ride(ride_id)
    if holds(ride, actor.id) or ride_access.level(box, actor, ride, now_ms=now_ms) is not None:
        return ride
    raise NotFound(ride_access.NOT_HERE)


def _takeable_ride(box: Box, auth: dict, actor: Actor, ride_id: str, now: int) -> Ride:
    """Return a ride the driver may see now, or could have seen while it was open (their
    vehicle can serve it and its stage lets them), so a driver who was too late hears why;
    anyone else NotFound as for no ride (not even the regular driver's head start)."""
    ride = get_ride(ride_id)
    if holds(ride, actor.id) or ride_access.level(box, actor, ride, now_ms=now) is not None:
        return ride
    if drivers.can_serve(box, auth["vehicle"], ride) and not (
        ride_access.stage(box, ride, now_ms=now) == "regular" and ride.regular_driver != actor.id
    ):
        return ride
    raise NotFound(ride_access.NOT_HERE)


def journey_date(ride: Ride, date) -> str:
    """Return a journey's date as given, or raise NotFound if the ride has none that day."""
    text = str(date or "").strip()
    try:
        ok = rides.is_occurrence(ride, parse_day(text))
    except ValueError:
        ok = False
    if not ok:
        raise NotFound(N_("This ride has no journey on that date."))
    return text


def _json_list(text: str | None) -> list:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def day_words(day: str) -> str:
    """Return an ISO date as people write it: "3 March 2027"."""
    d = parse_day(day)
    return f"{d.day} {d.strftime('%B %Y')}"


# --- who may drive -----------------------------------------------------------------------------


def require_driver(box: Box, actor: Actor | None, now_ms: int | None = None) -> dict:
    """Return the actor's authorisation as a driver, or raise NotAllowed saying why not."""
    require_member(actor)
    auth = drivers.authorisation(box, actor.id, now_ms=now_ms)
    if auth is not None:
        return auth
    ran_out = drivers.lapsed_on(box, actor.id, now_ms=now_ms)
    if ran_out is not None:
        raise NotAllowed(
            N_("Your driver checks ran out on %(date)s: see the centre's staff."),
            date=day_words(ran_out),
        )
    raise NotAllowed(
        N_(
            "Only volunteer drivers whose checks the centre's staff have seen can see and "
            "take rides. Ask the centre's staff if you would like to drive."
        )
    )


def _serve_problem(
    box: Box, auth: dict, actor: Actor, ride: Ride, date: str | None, now: int
) -> tuple | None:
    """Return (error class, message, params) if this driver may not take this ride (one
    journey by date, or the series for None) now."""
    if ride.rider == actor.id:
        return NotAllowed, N_("This is your own ride request: another driver will take it."), {}
    if not drivers.can_serve(box, auth["vehicle"], ride):
        return (
            NotAllowed,
            N_(
                "Your vehicle, as the centre recorded it, cannot serve this ride: it needs "
                "more seats or something your vehicle does not have."
            ),
            {},
        )
    stage = ride_access.stage(box, ride, _day(date), now_ms=now)
    if stage == "regular" and ride.regular_driver != actor.id:
        return (
            NotAllowed,
            N_(
                "This ride is offered first to the rider's regular driver. If they do not "
                "take it, every driver can from %(when)s."
            ),
            {"when": _moment_words(ride, regular_until_ms(box, ride))},
        )
    return None


def _moment_words(ride: Ride, ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, ride_zone(ride))
    return f"{day_words(moment.date().isoformat())} {moment:%H:%M}"


def _journey_problem(
    box: Box, actor: Actor, ride: Ride, date: str, now: int, rows: dict | None = None
) -> tuple | None:
    """Return (error class, message, params) if a journey is not open to take."""
    driver, state = journey_state(ride, date, rows)
    if state == "cancelled":
        return Conflict, N_("This journey has been cancelled."), {}
    if driver == actor.id:
        return Conflict, N_("This journey is already yours."), {}
    if state == "paid":
        return Conflict, N_("This journey is already booked with a paid service."), {}
    if state != "open":
        return Conflict, N_("Another driver has already taken this journey."), {}
    if due_ms(ride, date) <= now:
        return Conflict, N_("This journey's time has passed."), {}
    return None


def _series_problem(
    box: Box, actor: Actor, ride: Ride, now: int, rows: dict | None = None
) -> tuple | None:
    """Return (error class, message, params) if the whole series is not open to take."""
    if ride.cancelled:
        return Conflict, N_("This ride has been cancelled."), {}
    if ride.series_driver == actor.id:
        return Conflict, N_("Every journey of this ride is already yours."), {}
    if ride.series_driver:
        return Conflict, N_("Another driver has already taken every journey of this ride."), {}
    today = ride_today(box, ride, now)
    ahead = today + datetime.timedelta(days=SERIES_AHEAD_DAYS)
    coming = [d for d in dates_between(ride, today, ahead) if due_ms(ride, d) > now]
    if not coming:
        return Conflict, N_("This ride has no journeys left to take."), {}
    if rows is None:
        rows = journey_rows([ride.id])
    for (_ride, date), row in rows.items():
        if date >= today.isoformat() and row.state in COVERED and row.driver != actor.id:
            return (
                Conflict,
                N_(
                    "Some journeys of this ride already have a driver or a paid booking: "
                    "please take the open ones one by one."
                ),
                {},
            )
    for row in rows.values():
        if row.driver not in (None, actor.id) and row.state in ("driver_found", "on_the_way"):
            # Even a past journey: its driver has not said it is done yet.
            return (
                Conflict,
                N_(
                    "Another driver still has a journey of this ride that is not marked "
                    "done: please take the open journeys one by one."
                ),
                {},
            )
    return None


def _raise(problem: tuple) -> None:
    error, message, params = problem
    raise error(message, **params)


# --- actions -------------------------------------------------------------------------------------


def take(box: Box, actor: Actor | None, ride_id: str, date: str | None = None) -> str:
    """Take one journey of a ride (its date), or every journey (date None); return the
    journey's date, or None for the whole series."""
    require_member(actor)
    with database.atomic():
        now = box.log.now_ms()
        auth = require_driver(box, actor, now_ms=now)
        ride = _takeable_ride(box, auth, actor, ride_id, now)
        if date is None and not ride.rrule:
            date = ride.start[:10]  # a one-off ride's "every journey" is its one journey
        if date is not None:
            date = journey_date(ride, date)
        problem = _serve_problem(box, auth, actor, ride, date, now)
        if problem:
            _raise(problem)
        if date is None:
            problem = _series_problem(box, actor, ride, now)
        else:
            problem = _journey_problem(box, actor, ride, date, now)
        if problem:
            _raise(problem)
        if ride_access.level(box, actor, ride, _day(date), now_ms=now) not in ("area", "full"):
            raise NotFound(ride_access.NOT_HERE)
        box.log.append("ride.taken", {"date": date}, subject=ride.id, author=actor.id)
        return date


def _own_journey(box: Box, actor: Actor | None, ride_id: str, date) -> tuple[Ride, str, str]:
    """Return (ride, date, state) of a journey the actor drives, else raise."""
    require_member(actor)
    ride = held_ride(box, actor, ride_id)
    date = journey_date(ride, date)
    driver, state = journey_state(ride, date)
    if driver != actor.id:
        raise NotAllowed(N_("Only the driver who took this journey can do that."))
    return ride, date, state


def hand_back(box: Box, actor: Actor | None, ride_id: str, date: str | None = None) -> None:
    """Give back a journey you took (its date), or every journey of a series (date None),
    before it starts, so other drivers can take it."""
    require_member(actor)
    with database.atomic():
        now = box.log.now_ms()
        if date is None:
            ride = held_ride(box, actor, ride_id)
            if ride.series_driver != actor.id:
                raise NotAllowed(N_("Only the driver who took every journey can hand them back."))
            today = ride_today(box, ride, now).isoformat()
            under_way = Journey.select().where(
                (Journey.ride == ride.id)
                & (Journey.driver == actor.id)
                & (Journey.state == "on_the_way")
                & (Journey.date <= today)
            )
            if under_way.exists():
                raise Conflict(
                    N_("You are on the way on a journey of this ride: mark it done first.")
                )
        else:
            ride, date, state = _own_journey(box, actor, ride_id, date)
            if state == "cancelled":
                raise Conflict(N_("This journey has been cancelled."))
            if state != "driver_found" or due_ms(ride, date) <= now:
                raise Conflict(
                    N_("This journey has already started, so it can no longer be handed back.")
                )
        box.log.append("ride.handed_back", {"date": date}, subject=ride.id, author=actor.id)


def start_journey(box: Box, actor: Actor | None, ride_id: str, date: str) -> None:
    """Say you are on your way to a journey you took, on its day."""
    require_member(actor)
    with database.atomic():
        now = box.log.now_ms()
        require_driver(box, actor, now_ms=now)
        ride, date, state = _own_journey(box, actor, ride_id, date)
        if state == "cancelled":
            raise Conflict(N_("This journey has been cancelled."))
        if state == "on_the_way":
            raise Conflict(N_("You are already on the way."))
        if state == "done":
            raise Conflict(N_("This journey is already done."))
        if date != ride_today(box, ride, now).isoformat():
            raise Conflict(
                N_("You can set off only on the day of the journey (%(date)s)."),
                date=day_words(date),
            )
        box.log.append("ride.started", {"date": date}, subject=ride.id, author=actor.id)


def parse_miles(text) -> int | None:
    """Return miles typed into a form (empty: not given), or raise InvalidInput."""
    text = str(text or "").strip()
    if not text:
        return None
    if not _MILES.match(text) or int(text) > MILES_MAX:
        raise InvalidInput(
            {
                "miles": N_(
                    "Please give the miles as a whole number from 0 to 2000, or leave it empty."
                )
            }
        )
    return int(text)


def done(box: Box, actor: Actor | None, ride_id: str, date: str, miles_text=None) -> None:
    """Say a journey you drove is done, with the miles driven if you like (0 to 2000)."""
    require_member(actor)
    with database.atomic():
        now = box.log.now_ms()
        ride, date, state = _own_journey(box, actor, ride_id, date)
        if state == "cancelled":
            raise Conflict(N_("This journey has been cancelled."))
        if state == "done":
            raise Conflict(N_("This journey is already done."))
        if date > ride_today(box, ride, now).isoformat():
            raise Conflict(
                N_("This journey is on %(date)s: you can mark it done from that day."),
                date=day_words(date),
            )
        miles = parse_miles(miles_text)
        body = {"date": date, "miles": miles}
        box.log.append("ride.done", body, subject=ride.id, author=actor.id)


# --- the driver's page -----------------------------------------------------------------------


def _area(ride: Ride, date: str, state: str) -> dict:
    """Return what any driver who may take a journey sees: area, time, passengers."""
    when = rides.journey_time(ride, parse_day(date))
    return {
        "ride": ride.id,
        "date": date,
        "time": when.strftime("%H:%M"),
        "due_ms": int(when.timestamp() * 1000),
        "time_is": ride.time_is,
        "window": ride.window,
        "from_area": ride.from_area,
        "to_area": ride.to_area,
        "return_at": ride.return_at,
        "passengers": ride.passengers,
        "recurring": bool(ride.rrule),
        "state": state,
        "centre": None,
    }


def need_labels(box: Box, ride: Ride) -> list[dict]:
    """Return a ride's access needs with the labels of the centre it was asked at."""
    labels = travel_lists.need_map(box, ride.origin)
    return [
        {"slug": s, "label": labels[s]["label"] if s in labels else s}
        for s in _json_list(ride.needs)
    ]


def centre_names(box: Box) -> dict[str, str]:
    """Return the names of the centres this box knows, by origin (drivers' list)."""
    return drivers.centre_names(box)


def rides_for_driver(
    box: Box, actor: Actor | None, start: datetime.date, end: datetime.date
) -> dict:
    """Return a driver's journeys and the journeys they may take, from start to end.

    {"authorisation", "mine": [journeys with addresses and needs, actions],
     "open": [journeys with area, time, passengers only, and the stage],
     "lost": [journeys or series another driver took first]}. Only for a driver whose
    checks are in date; anyone else gets NotAllowed saying why.
    """
    now = box.log.now_ms()
    auth = require_driver(box, actor, now_ms=now)
    first_ms = int(
        datetime.datetime.combine(start, datetime.time(), datetime.UTC).timestamp() * 1000
    )
    # A ride that started after the window cannot have journeys in it; a one-off ride
    # that started before it neither (a day either side for zones).
    last_ms = first_ms + ((end - start).days + 2) * DAY_MS
    candidates = list(
        Ride.select()
        .where(
            (Ride.start_ms <= last_ms)
            & (Ride.rrule.is_null(False) | (Ride.start_ms >= first_ms - DAY_MS))
        )
        .order_by(Ride.start_ms, Ride.id)
    )
    rows = journey_rows(r.id for r in candidates)
    centres = centre_names(box)
    names = {}
    mine, open_, lost = [], [], []
    series_offered: set[str] = set()
    for ride in candidates:
        addresses = None
        for date in dates_between(ride, start, end):
            row = rows.get((ride.id, date))
            driver, state = journey_state(ride, date, rows)
            level = ride_access.level(box, actor, ride, _day(date), now_ms=now)
            if (
                row is not None
                and actor.id in _json_list(row.lost)
                and driver != actor.id
                and state != "cancelled"
            ):
                lost.append({**_area(ride, date, state), "series": False})
            if level is None:
                continue
            item = _area(ride, date, state)
            item["centre"] = centres.get(ride.origin) if ride.origin != box.origin else None
            if driver == actor.id and level == "full":
                if addresses is None:
                    addresses = ride_access.addresses(box, actor, ride) or {}
                if ride.rider not in names:
                    member = Member.get_or_none(Member.id == ride.rider)
                    names[ride.rider] = member.name if member else "?"
                item.update(
                    rider=names[ride.rider],
                    needs=need_labels(box, ride),
                    addresses=addresses or None,
                    series=ride.series_driver == actor.id,
                    can=_actions(box, auth, actor, ride, date, state, now),
                )
                mine.append(item)
            elif state == "open" and not _serve_problem(box, auth, actor, ride, date, now):
                if _journey_problem(box, actor, ride, date, now, rows):
                    continue
                item["stage"] = journey_stage(box, ride, date, now)
                ride_rows = {k: v for k, v in rows.items() if k[0] == ride.id}
                item["take_series"] = (
                    bool(ride.rrule)
                    and ride.id not in series_offered
                    and not _serve_problem(box, auth, actor, ride, None, now)
                    and not _series_problem(box, actor, ride, now, ride_rows)
                )
                if item["take_series"]:
                    series_offered.add(ride.id)
                open_.append(item)
        if actor.id in _json_list(ride.series_lost) and not ride.cancelled:
            dates = dates_between(ride, start, end)
            if dates:
                lost.append({**_area(ride, dates[0], "driver_found"), "series": True})
    key = lambda item: (item["due_ms"], item["ride"])  # noqa: E731
    return {
        "authorisation": auth,
        "mine": sorted(mine, key=key),
        "open": sorted(open_, key=key),
        "lost": sorted(lost, key=key),
    }


def _actions(
    box: Box, auth: dict | None, actor: Actor, ride: Ride, date: str, state: str, now: int
) -> dict:
    """Return what the driver of a journey may do with it now (the actions' own rules)."""
    today = ride_today(box, ride, now).isoformat()
    upcoming = state == "driver_found" and due_ms(ride, date) > now
    return {
        "hand_back": upcoming,
        "hand_back_series": upcoming and ride.series_driver == actor.id and bool(ride.rrule),
        "start": auth is not None and state == "driver_found" and date == today,
        "done": state in ("driver_found", "on_the_way") and date <= today,
    }


PAGE_PAST_DAYS = 7  # the driver's page keeps last week's journeys, to mark them done
PAGE_AHEAD_DAYS = 28


def held_ahead(box: Box, actor: Actor | None, now_ms: int | None = None) -> list[dict]:
    """Return the journeys a member drives that are still ahead and not started, soonest
    first: only the areas and the time, each with what handing it back takes.

    For a driver who can no longer drive (checks lapsed, vouch withdrawn): they still hold
    these until they hand them back, so other drivers can take them. A series shows its
    next four weeks (its "hand back every journey" covers the rest).
    """
    if actor is None:
        return []
    now = box.log.now_ms() if now_ms is None else now_ms
    mine = Journey.select(Journey.ride).where(
        (Journey.driver == actor.id) & (Journey.state == "driver_found")
    )
    held = list(
        Ride.select().where(
            (Ride.cancelled == False)  # noqa: E712
            & ((Ride.series_driver == actor.id) | Ride.id.in_(mine))
        )
    )
    rows = journey_rows(r.id for r in held)
    out = []
    for ride in held:
        series = ride.series_driver == actor.id
        today = ride_today(box, ride, now)
        if series:
            dates = dates_between(ride, today, today + datetime.timedelta(days=PAGE_AHEAD_DAYS))
        else:
            dates = sorted(d for (r, d), j in rows.items() if r == ride.id and d >= iso(today))
        for date in dates:
            driver, state = journey_state(ride, date, rows)
            due = due_ms(ride, date)
            if driver != actor.id or state != "driver_found" or due <= now:
                continue
            out.append(
                {
                    "ride": ride.id,
                    "date": date,
                    "time": rides.journey_time(ride, parse_day(date)).strftime("%H:%M"),
                    "due_ms": due,
                    "time_is": ride.time_is,
                    "from_area": ride.from_area,
                    "to_area": ride.to_area,
                    "can": {"hand_back": True, "hand_back_series": series and bool(ride.rrule)},
                }
            )
    return sorted(out, key=lambda item: (item["due_ms"], item["ride"]))


def may_open_page(box: Box, actor: Actor | None) -> bool:
    """Return True if the driving page has something for this member: they may drive, or
    they still hold journeys ahead that they must hand back (the Driving link shows)."""
    if actor is None:
        return False
    return drivers.is_authorised(box, actor) or bool(held_ahead(box, actor))


def driver_page(box: Box, actor: Actor | None) -> dict:
    """Return rides_for_driver for the driver's page: last week to four weeks ahead.

    A member who can no longer drive but still holds journeys ahead gets
    {"lapsed": the day their checks ran out (None: the vouch was withdrawn), "held":
    held_ahead()} instead, so they can hand them back; anyone else NotAllowed.
    """
    require_member(actor)
    now = box.log.now_ms()
    if drivers.authorisation(box, actor.id, now_ms=now) is None:
        held = held_ahead(box, actor, now)
        if held:
            return {"lapsed": drivers.lapsed_on(box, actor.id, now_ms=now), "held": held}
    today = centre_today(box)
    start = today - datetime.timedelta(days=PAGE_PAST_DAYS)
    return rides_for_driver(box, actor, start, today + datetime.timedelta(days=PAGE_AHEAD_DAYS))
