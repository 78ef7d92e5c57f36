"""Who may see a ride, and how much of it: the one place the visibility rules live.

Levels (`level`):
- "full": the rider, the staff and coordinators of the centre where the ride was asked
  for (its origin is this box), and the authorised driver who has the journey (or the
  whole series, from the day they took it): addresses, notes, needs, everything.
- "area": an authorised driver whose vehicle can serve the ride (seats for every
  passenger, every feature its access needs require), allowed in the current escalation
  stage, while the journey is still open and ahead: the areas, the time and the number
  of passengers, nothing more, until they take it. Staff and coordinators of another
  centre see every ride this much, so they see the demand, never who rides, where
  from or to, their needs or notes; only the rider's own centre may cancel it.
- None: everyone else (visitors, members, other riders, drivers whose checks lapsed or
  were never made): pages answer 404 and never confirm that the ride exists.

A driver must be authorised today to see anything, even a journey they took: a lapsed
driver is told why by the driving pages and a coordinator finds the journey someone else.

Escalation never offers a ride to a regular driver whose vehicle cannot serve it: the
ride then goes to every suitable driver at once.

Escalation (`stage`) is worked out from the clock and the settings, never stored:
"regular" for the first ride_regular_hours after the request when it names a regular
driver who is authorised (only they see it); then "drivers" (every suitable driver);
an open journey due within ride_alert_hours is "alert" whatever the other stage would
be, so a regular driver's head start never makes a journey miss its time.
"""

from __future__ import annotations

import datetime
import json

from appliance.box import Box
from appliance.errors import N_, NotFound
from appliance.models import Journey, Ride
from appliance.sealing import open_sealed
from appliance.services import ride_recurrence as rides
from appliance.services.accounts import Actor
from appliance.services.drivers import authorisation, can_serve, today

COORDINATOR = "coordinator"
HOUR_MS = 3_600_000
# How far ahead a driver's "is anything of this series still open?" looks.
LOOKAHEAD_DAYS = 366
NOT_HERE = N_("There is nothing at this address.")  # the same words as any unknown address


def is_coordinator(actor: Actor | None) -> bool:
    """Return True for this box's staff and its coordinators."""
    return actor is not None and (actor.is_staff or COORDINATOR in actor.roles)


def is_rides_centre(box: Box, actor: Actor | None, ride: Ride) -> bool:
    """Return True for the staff and coordinators of the centre where the ride was asked
    for: they see all of it and may act for the rider. Another centre's staff do not."""
    return ride.origin == box.origin and is_coordinator(actor)


def can_cancel(box: Box, actor: Actor | None, ride: Ride) -> bool:
    """Return True if the actor may cancel the ride's journeys: its rider, or the staff
    and coordinators of the ride's own centre."""
    return actor is not None and (actor.id == ride.rider or is_rides_centre(box, actor, ride))


def series_covers(ride: Ride, date: datetime.date | str) -> bool:
    """Return True if the ride's series driver (if any) has this date: a series taken
    late covers the journeys from the day it was taken (`series_since`) on, not before."""
    day = date if isinstance(date, str) else date.isoformat()
    return bool(ride.series_driver) and day >= (ride.series_since or "")


def state_of(ride: Ride, date: datetime.date | str, row: Journey | None) -> tuple[str, str | None]:
    """Return (state, driver) of one journey given its Journey row, if it has one.

    A date with no records of its own belongs to the series: its driver (if any) has it,
    or it is cancelled with the whole request, or it is open. The one copy of this rule
    outside the fold: pages, the coordinator's list and the insight all read it here.
    """
    if row is not None:
        return row.state, row.driver
    driver = ride.series_driver if series_covers(ride, date) else None
    if ride.cancelled:
        return "cancelled", driver
    if driver:
        return "driver_found", driver
    return "open", None


def _now(box: Box, now_ms: int | None) -> int:
    return box.log.now_ms() if now_ms is None else now_ms


def journey_state(ride: Ride, date: datetime.date) -> tuple[str, str | None, Journey | None]:
    """Return (state, driver, Journey row or None) of one journey of a ride.

    A date with no records of its own belongs to the series: its driver (if any) has it,
    or it is cancelled with the whole request, or it is open.
    """
    row = Journey.get_or_none((Journey.ride == ride.id) & (Journey.date == date.isoformat()))
    return (*state_of(ride, date, row), row)


def _due_ms(ride: Ride, date: datetime.date) -> int:
    return int(rides.journey_time(ride, date).timestamp() * 1000)


def next_open(
    box: Box, ride: Ride, now_ms: int | None = None, days: int = LOOKAHEAD_DAYS
) -> datetime.date | None:
    """Return the date of the ride's first open journey not yet due, within `days`."""
    now = _now(box, now_ms)
    first = today(box, now)
    if ride.cancelled or series_covers(ride, first):
        return None  # a series driver has every journey from today on
    for date in rides.occurrences(ride, first, first + datetime.timedelta(days=days)):
        if _due_ms(ride, date) > now and journey_state(ride, date)[0] == "open":
            return date
    return None


def stage(
    box: Box, ride: Ride, date: datetime.date | None = None, now_ms: int | None = None
) -> str:
    """Return a journey's escalation stage: "regular", "drivers" or "alert".

    Without a date, the ride's next open journey counts (none: "drivers" or "regular").
    """
    now = _now(box, now_ms)
    if date is None:
        date = next_open(box, ride, now)
    if date is not None and journey_state(ride, date)[0] == "open":
        if _due_ms(ride, date) - now <= box.settings["ride_alert_hours"] * HOUR_MS:
            return "alert"
    regular_until = ride.created_ms + box.settings["ride_regular_hours"] * HOUR_MS
    if not ride.regular_driver or now >= regular_until:
        return "drivers"
    auth = authorisation(box, ride.regular_driver, now)
    if auth is None or not can_serve(box, auth["vehicle"], ride):
        return "drivers"  # lapsed, or their vehicle cannot take it: every driver at once
    return "regular"


def _holds(box: Box, ride: Ride, member_id: str, now: int) -> bool:
    """Return True if the member has the series (from today or earlier on, see
    series_covers) or any journey of the ride."""
    if ride.series_driver == member_id and series_covers(ride, today(box, now)):
        return True
    return (
        Journey.select().where((Journey.ride == ride.id) & (Journey.driver == member_id)).exists()
    )


def level(
    box: Box,
    viewer: Actor | None,
    ride: Ride,
    date: datetime.date | None = None,
    now_ms: int | None = None,
) -> str | None:
    """Return how much of a ride (or of one journey, by date) the viewer may see.

    "full", "area" or None; see the module's docstring for the rules.
    """
    if viewer is None:
        return None
    if viewer.id == ride.rider or is_rides_centre(box, viewer, ride):
        return "full"
    found = _driver_level(box, viewer, ride, date, _now(box, now_ms))
    if found is None and is_coordinator(viewer):
        return "area"  # another centre's ride: its staff see the demand, not the person
    return found


def _driver_level(
    box: Box, viewer: Actor, ride: Ride, date: datetime.date | None, now: int
) -> str | None:
    """Return what a driver may see of a ride (or of one journey): see `level`."""
    auth = authorisation(box, viewer.id, now)
    if auth is None:
        return None
    if date is None:
        if _holds(box, ride, viewer.id, now):
            return "full"
        date = next_open(box, ride, now)
        if date is None:
            return None
    else:
        state, driver, _ = journey_state(ride, date)
        if driver == viewer.id:
            return "full"
        if state != "open" or _due_ms(ride, date) <= now or not rides.is_occurrence(ride, date):
            return None
    if not can_serve(box, auth["vehicle"], ride):
        return None
    if stage(box, ride, date, now) == "regular" and viewer.id != ride.regular_driver:
        return None
    return "area"


def require_level(
    box: Box,
    viewer: Actor | None,
    ride_id: str,
    date: datetime.date | None = None,
    now_ms: int | None = None,
) -> tuple[Ride, str]:
    """Return (ride, level) for a viewer with any level; else NotFound, as if no such ride."""
    ride = Ride.get_or_none(Ride.id == ride_id) if isinstance(ride_id, str) else None
    found = level(box, viewer, ride, date, now_ms) if ride is not None else None
    if found is None:
        raise NotFound(NOT_HERE)
    return ride, found


def addresses(box: Box, viewer: Actor | None, ride: Ride) -> dict | None:
    """Return the ride's addresses and notes {from_address, to_address, notes} for a viewer
    with the "full" level, else None (also None when this box holds no copy it can open)."""
    if level(box, viewer, ride) != "full" or not ride.sealed:
        return None
    opened = open_sealed(box, json.loads(ride.sealed))
    if opened is None:
        return None
    return {k: opened.get(k, "") for k in ("from_address", "to_address", "notes")}
