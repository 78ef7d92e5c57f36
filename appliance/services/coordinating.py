"""Coordinators: the journeys nobody has taken yet, paid services as the last resort,
and how often the volunteers could not cover.

A coordinator is a member this box's staff gave the "coordinator" role; staff see
everything coordinators see. A paid booking is a record like a driver's take, so a
journey booked here and taken by a driver on another box while the two were apart is
settled by the fold's rule (the first in the agreed order keeps it).
"""

from __future__ import annotations

import datetime
import re

from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed
from appliance.kinds import REFERENCE_MAX
from appliance.models import Journey, Member, Ride
from appliance.services import drivers, ride_access, travel_lists
from appliance.services.accounts import Actor, require_member
from appliance.services.driving import (
    DAY_MS,
    HOUR_MS,
    centre_names,
    centre_today,
    dates_between,
    due_ms,
    get_ride,
    journey_date,
    journey_rows,
    journey_stage,
    journey_state,
    need_labels,
    regular_until_ms,
    ride_today,
    ride_zone,
    series_holds,
)

DAYS_MAX = 366
MONTHS_MAX = 60
# Pence: the record allows more, but more than this for one journey is a typing slip.
COST_LIMIT = 1000_00
_MONEY = re.compile(r"^£?\s*(\d{1,7})(?:\.(\d{1,2}))?$")


def require_coordinator(actor: Actor | None) -> Actor:
    """Return the actor if they coordinate rides here, else raise NotAllowed."""
    require_member(actor)
    if not ride_access.is_coordinator(actor):
        raise NotAllowed(N_("Only the centre's ride coordinators and staff can see this."))
    return actor


def pounds(pence: int) -> str:
    """Return pence as pounds and pence, "1,234.50"."""
    return f"{pence // 100:,}.{pence % 100:02d}"


def parse_cost(text) -> int:
    """Return a cost typed in pounds and pence ("12.50", "£12", "12.5") in pence.

    Parsed by hand so no float ever rounds a penny away; negative, empty and absurd
    amounts raise InvalidInput.
    """
    text = str(text or "").strip()
    if not text:
        raise InvalidInput({"cost": N_("Please give the cost in pounds and pence, e.g. 12.50.")})
    if text.startswith("-"):
        raise InvalidInput({"cost": N_("The cost cannot be less than nothing.")})
    match = _MONEY.match(text)
    if not match:
        raise InvalidInput(
            {"cost": N_("Please give the cost in pounds and pence, for example 12.50.")}
        )
    pence = int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))
    if pence > COST_LIMIT:
        raise InvalidInput({"cost": N_("More than £1,000 for one journey? Please check the cost.")})
    return pence


def _local(ride: Ride, ms: int) -> dict:
    """Return a moment as the ride's local {date, time}, for pages to show."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, ride_zone(ride))
    return {"date": moment.date().isoformat(), "time": moment.strftime("%H:%M")}


def _waited(ms: int) -> dict:
    ms = max(0, ms)
    return {"ms": ms, "days": ms // DAY_MS, "hours": ms % DAY_MS // HOUR_MS}


def _can_drive(box: Box, member_id: str | None, now: int, cache: dict) -> bool:
    if member_id not in cache:
        cache[member_id] = drivers.authorisation(box, member_id, now_ms=now) is not None
    return cache[member_id]


def unmet(box: Box, actor: Actor | None, days: int = 14, now_ms: int | None = None) -> list[dict]:
    """Return the journeys of the next `days` days without a driver or a paid booking,
    soonest first, with how long each has waited since it was asked for and its stage."""
    require_coordinator(actor)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DAYS_MAX:
        raise InvalidInput({"days": N_("Please choose from 1 to 366 days.")})
    now = box.log.now_ms() if now_ms is None else now_ms
    horizon = now + (days + 2) * DAY_MS
    candidates = list(
        Ride.select().where(
            (Ride.cancelled == False)  # noqa: E712
            & (Ride.start_ms <= horizon)
            & (Ride.rrule.is_null(False) | (Ride.start_ms >= now - DAY_MS))
        )
    )
    rows = journey_rows(r.id for r in candidates)
    centres = centre_names(box)
    named = {r.rider for r in candidates} | {r.regular_driver for r in candidates}
    named |= {r.series_driver for r in candidates} | {j.driver for j in rows.values()}
    people = {m.id: m.name for m in Member.select().where(Member.id.in_(list(named - {None})))}
    authorised: dict[str, bool] = {}
    out = []
    for ride in candidates:
        today = ride_today(box, ride, now)
        last = today + datetime.timedelta(days=days)
        for date in dates_between(ride, today, last):
            driver, state = journey_state(ride, date, rows)
            due = due_ms(ride, date)
            lapsed = state == "driver_found" and not _can_drive(box, driver, now, authorised)
            if not (state == "open" or lapsed) or due <= now:
                continue
            stage = journey_stage(box, ride, date, now)
            own = ride_access.is_rides_centre(box, actor, ride)
            out.append(
                {
                    "ride": ride.id,
                    "date": date,
                    "time": _local(ride, due)["time"],
                    "due_ms": due,
                    "time_is": ride.time_is,
                    "from_area": ride.from_area,
                    "to_area": ride.to_area,
                    "passengers": ride.passengers,
                    "recurring": bool(ride.rrule),
                    # Another centre's ride: area and time only, like a driver before
                    # taking it (ride_access); its rider and needs stay with its centre.
                    "rider": people.get(ride.rider, "?") if own else None,
                    "needs": need_labels(box, ride) if own else [],
                    "waited": _waited(now - ride.created_ms),
                    "stage": stage,
                    "alert": stage == "alert",
                    # A driver whose checks ran out still holds the journey until they
                    # hand it back: the coordinator has to ask them to.
                    "lapsed_driver": people.get(driver, "?") if lapsed and own else None,
                    "regular_driver": people.get(ride.regular_driver)
                    if stage == "regular" and own
                    else None,
                    "regular_until": _local(ride, regular_until_ms(box, ride))
                    if stage == "regular"
                    else None,
                    "centre": centres.get(ride.origin) if ride.origin != box.origin else None,
                    "can_pay": ride.origin == box.origin,
                }
            )
    return sorted(out, key=lambda j: (j["due_ms"], j["ride"]))


def allocate_paid(
    box: Box,
    actor: Actor | None,
    ride_id: str,
    date: str,
    provider: str,
    cost_text,
    reference: str = "",
) -> None:
    """Book a paid service for a journey nobody covers, as the last resort: which
    provider, what it costs (pounds and pence) and their booking reference."""
    require_coordinator(actor)
    with database.atomic():
        now = box.log.now_ms()
        ride = get_ride(ride_id)
        date = journey_date(ride, date)
        if ride.origin != box.origin:
            raise NotAllowed(
                N_("This ride was asked for at %(centre)s: its coordinators book paid services."),
                centre=centre_names(box).get(ride.origin, "another centre"),
            )
        driver, state = journey_state(ride, date)
        if state == "cancelled":
            raise Conflict(N_("This journey has been cancelled."))
        if state == "done":
            raise Conflict(N_("This journey is already done."))
        if state == "paid":
            raise Conflict(N_("This journey is already booked with a paid service."))
        if driver is not None and not _can_drive(box, driver, now, {}):
            raise Conflict(
                N_(
                    "The driver who took this journey can no longer drive (their checks ran "
                    "out): ask them to hand it back first, then book a paid service."
                )
            )
        if driver is not None:
            raise Conflict(N_("This journey already has a volunteer driver."))
        if due_ms(ride, date) <= now:
            raise Conflict(N_("This journey's time has passed."))
        errors: dict[str, str] = {}
        listed = {p["slug"]: p for p in travel_lists.providers(box)}
        slug = str(provider or "").strip()
        if not listed:
            errors["provider"] = N_(
                "Staff have not listed any paid services yet: add them under Staff, Travel."
            )
        elif slug not in listed:
            errors["provider"] = N_("Please choose one of the centre's paid services.")
        try:
            cost = parse_cost(cost_text)
        except InvalidInput as exc:
            errors.update(exc.fields)
        reference = " ".join(str(reference or "").split())
        if len(reference) > REFERENCE_MAX:
            errors["reference"] = N_("Please keep the booking reference under 60 characters.")
        if errors:
            raise InvalidInput(errors)
        body = {
            "date": date,
            "provider": slug,
            "provider_name": listed[slug]["name"],
            "cost": cost,
            "reference": reference,
        }
        box.log.append("ride.paid", body, subject=ride.id, author=actor.id)


def _month_start(day: datetime.date, back: int) -> datetime.date:
    """Return the first day of the month `back` months before day's month."""
    index = day.year * 12 + day.month - 1 - back
    return datetime.date(index // 12, index % 12 + 1, 1)


def paid_totals(
    box: Box, actor: Actor | None, months: int = 12, now_ms: int | None = None
) -> list[dict]:
    """Return, for each of the last `months` months (oldest first), how many of this
    centre's journeys went to a paid service and what they cost, beside how many
    volunteers drove."""
    require_coordinator(actor)
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MONTHS_MAX:
        raise InvalidInput({"months": N_("Please choose from 1 to 60 months.")})
    today = centre_today(box, now_ms)
    first, after = _month_start(today, months - 1), _month_start(today, -1)
    totals = {}
    for back in range(months - 1, -1, -1):
        key = _month_start(today, back).isoformat()[:7]
        totals[key] = {"month": key, "paid": 0, "cost": 0, "volunteer": 0}
    own = Ride.select(Ride.id).where(Ride.origin == box.origin)
    journeys = Journey.select().where(
        Journey.ride.in_(own)
        & (Journey.date >= first.isoformat())
        & (Journey.date < after.isoformat())
    )
    seen = set()
    for j in journeys:
        seen.add((j.ride, j.date))
        month = totals[j.date[:7]]
        if j.state == "paid":
            month["paid"] += 1
            month["cost"] += j.cost or 0
        elif j.driver is not None and j.state in ("driver_found", "on_the_way", "done"):
            month["volunteer"] += 1
    # Journeys of a series a driver took have rows only once something happens to them.
    series = Ride.select().where(
        (Ride.origin == box.origin) & Ride.series_driver.is_null(False) & (Ride.cancelled == False)  # noqa: E712
    )
    last = after - datetime.timedelta(days=1)
    for ride in series:
        for date in dates_between(ride, first, last):
            if (ride.id, date) not in seen and series_holds(ride, date):
                totals[date[:7]]["volunteer"] += 1
    out = list(totals.values())
    for month in out:
        month["cost_text"] = pounds(month["cost"])
    return out
