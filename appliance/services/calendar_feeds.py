"""iCalendar (RFC 5545) feeds of volunteer shifts: one per organisation, one per volunteer.

An organisation's feed is public: its shifts with places left, never who signed up. A
volunteer's feed lists the shifts they signed up to; calendar apps fetch it without a
login, so its address holds a secret token made from the box's web secret and the
member's id (HMAC), which only this box can make and which nobody can guess.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import warnings
from collections.abc import Callable

with warnings.catch_warnings():
    # pygal (the trend charts) adds an old-style import hook to sys.meta_path; once it is
    # there, the failed optional `import winreg` inside dateutil (which icalendar loads)
    # also warns ImportWarning, which must not stop the feeds wherever pygal came first.
    warnings.simplefilter("ignore", ImportWarning)
    from icalendar import Calendar, Event, vDuration

from appliance.box import Box
from appliance.dates import DAY_MS
from appliance.errors import N_, NotFound
from appliance.models import Member, Org, Shift, ShiftVolunteer
from appliance.services.orgs import get_org
from appliance.text import plain

PRODID = "-//Kith//Volunteer shifts//EN"
TOKEN_CONTEXT = b"kith/calendar/v1\n"  # keeps these MACs apart from anything else signed
FEED_PAST_DAYS = 30  # a feed keeps recent shifts so calendars do not drop them at once
REFRESH = datetime.timedelta(hours=1)  # how often calendar apps should fetch again


Translate = Callable[..., str]
Link = Callable[[str], str]


def calendar_token(box: Box, member_id: str) -> str:
    """Return the secret token of a member's calendar feed address."""
    mac = hmac.new(box.secret_key, TOKEN_CONTEXT + member_id.encode(), hashlib.sha256)
    return mac.hexdigest()


def member_for_token(box: Box, member_id: str, token: str) -> Member:
    """Return the member whose feed address this is, or raise NotFound for a wrong token."""
    good = hmac.compare_digest(calendar_token(box, member_id).encode(), str(token).encode())
    member = Member.get_or_none(Member.id == member_id) if good else None
    if member is None or member.erased:  # an erased member's feed address goes with them
        raise NotFound(N_("There is no such calendar."))
    return member


def _utc(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)  # RFC 7986
    cal.add("x-wr-calname", name)  # the name most calendar apps still read
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))  # an X- name: say it is a duration
    return cal


def _event(
    shift: Shift,
    org: Org | None,
    stamp_ms: int,
    lines: list[str],
    translate: Translate,
    link: Link | None,
) -> Event:
    event = Event()
    event.add("uid", f"{shift.id}@kith")
    event.add("dtstamp", _utc(stamp_ms))
    event.add("created", _utc(shift.created_ms))
    event.add("dtstart", _utc(shift.start_ms))
    event.add("dtend", _utc(shift.end_ms))
    # A cancellation is a change calendar apps must take over the copy they hold.
    event.add("sequence", 1 if shift.cancelled else 0)
    event.add(
        "summary",
        translate(N_("Cancelled: %(title)s"), title=shift.title)
        if shift.cancelled
        else shift.title,
    )
    event.add("location", shift.place)
    about = [org.name if org else shift.org]
    if shift.cancelled:
        about.append(translate(N_("Cancelled: %(reason)s"), reason=shift.cancel_reason or "-"))
    if shift.bring:
        about.append(translate(N_("What to bring: %(bring)s"), bring=shift.bring))
    about.extend(lines)
    event.add("description", "\n".join(about))
    if link is not None:
        event.add("url", link(shift.id))
    return event


def _places_line(shift: Shift, translate: Translate) -> str:
    left = max(0, shift.people - shift.coming)
    return translate(N_("Places left: %(left)d of %(people)d"), left=left, people=shift.people)


def _shifts_since(box: Box):
    return Shift.start_ms >= box.log.now_ms() - FEED_PAST_DAYS * DAY_MS


def org_feed(
    box: Box, org_id: str, translate: Translate = plain, link: Link | None = None
) -> bytes:
    """Return the iCalendar feed of an organisation's shifts from 30 days ago onwards.

    Public: places left, but no volunteer's name. `translate` is gettext for the
    feed's words and `link(shift_id)` the shift page's address, both from the web layer.
    """
    org = get_org(org_id)
    now = box.log.now_ms()
    cal = _calendar(translate(N_("%(org)s: volunteer shifts"), org=org.name))
    shifts = (
        Shift.select()
        .where((Shift.org == org.id) & _shifts_since(box))
        .order_by(Shift.start_ms, Shift.id)
    )
    for shift in shifts:
        status = "CANCELLED" if shift.cancelled else "CONFIRMED"
        event = _event(shift, org, now, [_places_line(shift, translate)], translate, link)
        event.add("status", status)
        cal.add_component(event)
    return cal.to_ical()


def volunteer_feed(
    box: Box, member_id: str, translate: Translate = plain, link: Link | None = None
) -> bytes:
    """Return the iCalendar feed of the shifts a member signed up to, from 30 days ago.

    A place on the waiting list shows as TENTATIVE, with the place in the queue.
    """
    now = box.log.now_ms()
    cal = _calendar(translate(N_("My volunteer shifts")))
    rows = list(
        ShiftVolunteer.select(ShiftVolunteer, Shift)
        .join(Shift, on=(ShiftVolunteer.shift == Shift.id), attr="shift_row")
        .where((ShiftVolunteer.member == member_id) & _shifts_since(box))
        .order_by(Shift.start_ms, Shift.id)
    )
    shift_ids = [r.shift for r in rows]
    orgs = {o.id: o for o in Org.select().where(Org.id.in_([r.shift_row.org for r in rows]))}
    # Waiting lists of those shifts, in the fold's order, for "number 2 on the list".
    queues: dict[str, list[str]] = {}
    if shift_ids:
        waiting = (
            ShiftVolunteer.select()
            .where(ShiftVolunteer.shift.in_(shift_ids) & (ShiftVolunteer.confirmed == False))  # noqa: E712
            .order_by(ShiftVolunteer.id)
        )
        for w in waiting:
            queues.setdefault(w.shift, []).append(w.member)
    for row in rows:
        shift = row.shift_row
        if row.confirmed:
            lines, status = [translate(N_("You have a place on this shift."))], "CONFIRMED"
        else:
            place = queues[shift.id].index(member_id) + 1
            lines = [translate(N_("You are number %(n)d on the waiting list."), n=place)]
            status = "TENTATIVE"
        if shift.cancelled:
            status = "CANCELLED"
        lines.append(_places_line(shift, translate))
        event = _event(shift, orgs.get(shift.org), now, lines, translate, link)
        event.add("status", status)
        cal.add_component(event)
    return cal.to_ical()
