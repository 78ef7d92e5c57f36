"""A volunteer driver's iCalendar (RFC 5545) feed of the journeys they drive.

Calendar apps fetch the feed without a login, so its address holds a secret token: an
HMAC of the member's id and their latest vouch under the box's web secret, with its
own context so it never matches a shift feed's token (a new vouch or a withdrawal
changes it). The feed lists the journeys the driver has from two weeks back to eight
weeks ahead; the pickup address only appears when this box can
open the ride's sealed addresses, and the feed goes away (404) once the driver's
checks run out, like everything else a lapsed driver could see.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import warnings
from collections.abc import Callable

with warnings.catch_warnings():
    # See appliance/services/calendar_feeds.py: pygal's import hook and dateutil's winreg.
    warnings.simplefilter("ignore", ImportWarning)
    from icalendar import Calendar, Event, vDuration

from appliance.box import Box
from appliance.dates import parse_day
from appliance.errors import N_, NotFound
from appliance.models import Driver, Journey, Member, Ride
from appliance.services import drivers, ride_access, rides
from appliance.services.accounts import Actor, actor_for
from appliance.services.driving import (
    centre_today,
    dates_between,
    journey_rows,
    journey_state,
    need_labels,
)

PRODID = "-//Kith//Volunteer drives//EN"
TOKEN_CONTEXT = b"kith/ride-calendar/v1\n"  # keeps these MACs apart from the shift feeds'
PAST_DAYS = 14
AHEAD_DAYS = 56
JOURNEY_LENGTH = datetime.timedelta(hours=1)  # rides have no end time: an hour to plan by
REFRESH = datetime.timedelta(hours=1)

Translate = Callable[..., str]


def _plain(message: str, **params) -> str:
    return message % params if params else message


def _latest_vouch_ms(box: Box, member_id: str) -> int:
    """Return when this box last vouched for the member (else any centre; 0: none)."""
    rows = list(Driver.select().where(Driver.member == member_id))
    own = [r.vouched_ms for r in rows if r.origin == box.origin]
    return max(own or [r.vouched_ms for r in rows] or [0])


def calendar_token(box: Box, member_id: str) -> str:
    """Return the secret token of a driver's journeys feed address.

    The driver's latest vouch is part of it, so a new vouch or a withdrawal gives a new
    address and a link copied before then stops working.
    """
    text = f"{member_id}\n{_latest_vouch_ms(box, member_id)}"
    mac = hmac.new(box.secret_key, TOKEN_CONTEXT + text.encode(), hashlib.sha256)
    return mac.hexdigest()


def driver_for_token(box: Box, member_id: str, token: str) -> Actor:
    """Return the driver whose feed this is; NotFound for a wrong token, an unknown member
    or a driver whose checks ran out."""
    good = hmac.compare_digest(calendar_token(box, str(member_id)).encode(), str(token).encode())
    viewer = actor_for(box, member_id) if good else None
    if viewer is None or drivers.authorisation(box, viewer.id) is None:
        raise NotFound(N_("There is no such calendar."))
    return viewer


def _utc(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)


def _rides_of(member_id: str) -> list[Ride]:
    """Return the rides the member drives the series of, or some journey of."""
    held = Journey.select(Journey.ride).where(Journey.driver == member_id)
    return list(
        Ride.select()
        .where((Ride.series_driver == member_id) | Ride.id.in_(held))
        .order_by(Ride.start_ms, Ride.id)
    )


def _event(
    box: Box,
    ride: Ride,
    date: str,
    state: str,
    addresses: dict | None,
    rider: str,
    stamp_ms: int,
    translate: Translate,
    link: str | None,
) -> Event:
    when = rides.journey_time(ride, parse_day(date)).astimezone(datetime.UTC)
    event = Event()
    event.add("uid", f"{ride.id}-{date}@kith")
    event.add("dtstamp", _utc(stamp_ms))
    event.add("dtstart", when)
    event.add("dtend", when + JOURNEY_LENGTH)
    cancelled = state == "cancelled"
    # A cancellation is a change calendar apps must take over the copy they hold.
    event.add("sequence", 1 if cancelled else 0)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    route = translate(N_("Drive: %(start)s to %(end)s"), start=ride.from_area, end=ride.to_area)
    event.add("summary", translate(N_("Cancelled: %(title)s"), title=route) if cancelled else route)
    pickup = (addresses or {}).get("from_address")
    event.add("location", pickup or ride.from_area)
    local = rides.journey_time(ride, parse_day(date)).strftime("%H:%M")
    lines = [
        translate(N_("Pick up at %(time)s"), time=local)
        if ride.time_is == "pickup"
        else translate(N_("Appointment at %(time)s"), time=local),
        translate(N_("Rider: %(name)s"), name=rider),
        translate(N_("Passengers: %(n)d"), n=ride.passengers),
    ]
    if addresses:
        if addresses.get("from_address"):
            lines.append(translate(N_("From: %(address)s"), address=addresses["from_address"]))
        if addresses.get("to_address"):
            lines.append(translate(N_("To: %(address)s"), address=addresses["to_address"]))
        if addresses.get("notes"):
            lines.append(translate(N_("Notes: %(notes)s"), notes=addresses["notes"]))
    needs = need_labels(box, ride)
    if needs:
        labels = ", ".join(n["label"] for n in needs)
        lines.append(translate(N_("Access needs: %(needs)s"), needs=labels))
    if ride.return_at:
        lines.append(translate(N_("Return trip at %(time)s"), time=ride.return_at))
    event.add("description", "\n".join(lines))
    if link is not None:
        event.add("url", link)
    return event


def driver_feed(
    box: Box, viewer: Actor, translate: Translate = _plain, link: str | None = None
) -> bytes:
    """Return the iCalendar feed of the journeys a driver has, 2 weeks back to 8 ahead.

    `translate` is gettext for the feed's words and `link` the driving page's address.
    """
    now = box.log.now_ms()
    today = centre_today(box, now)
    start = today - datetime.timedelta(days=PAST_DAYS)
    end = today + datetime.timedelta(days=AHEAD_DAYS)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    name = translate(N_("My drives"))
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    held = _rides_of(viewer.id)
    rows = journey_rows(r.id for r in held)
    riders = {m.id: m.name for m in Member.select().where(Member.id.in_([r.rider for r in held]))}
    for ride in held:
        addresses = None
        for date in dates_between(ride, start, end):
            driver, state = journey_state(ride, date, rows)
            if driver != viewer.id:
                continue
            if addresses is None:
                addresses = ride_access.addresses(box, viewer, ride) or {}
            cal.add_component(
                _event(
                    box,
                    ride,
                    date,
                    state,
                    addresses,
                    riders.get(ride.rider, "?"),
                    now,
                    translate,
                    link,
                )
            )
    return cal.to_ical()
