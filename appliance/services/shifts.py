"""Volunteer shifts and working parties: planning them, signing up and withdrawing.

An organiser of an organisation plans a shift (when, where, how many people, what to
bring); anyone signed in signs up or withdraws until it starts. Boxes that each took
the last place while apart agree after sync: the fold confirms the first `people`
volunteers in the agreed record order and puts the rest on a waiting list, from which
they move up when someone withdraws (appliance/fold_food.py, `fold_shift`).
"""

from __future__ import annotations

import datetime
import re

from appliance.box import Box
from appliance.dates import DAY_MS, local_day, local_ms, local_time, parse_day
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.kinds import BRING_MAX, PEOPLE_MAX, PLACE_MAX, REASON_MAX, TITLE_MAX
from appliance.models import Member, Org, Shift, ShiftVolunteer
from appliance.services.accounts import Actor, require_member
from appliance.services.board_queries import other_centres
from appliance.services.orgs import get_org, is_organiser, organised_by, require_organiser
from appliance.text import clean_text, one_line

SHIFT_FIELDS = ("org", "title", "date", "start", "end", "place", "people", "bring")
HOUR_MS = 3_600_000
AHEAD_DAYS = 366  # shifts are planned at most a year ahead: further is a typo
OVERNIGHT_MAX_HOURS = 12  # an end time before the start means the next day, up to this
UPCOMING_DAYS = 28
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _parse_time(text: str) -> datetime.time | None:
    match = _TIME.match(text)
    return datetime.time(int(match[1]), int(match[2])) if match else None


def _check_when(box: Box, data: dict, errors: dict) -> tuple[int, int] | None:
    """Return (start, end) in epoch ms from a local date and times, or note the errors."""
    day = None
    raw = {name: one_line(data.get(name)) for name in ("date", "start", "end")}
    try:
        day = parse_day(raw["date"])
    except ValueError:
        errors["date"] = (
            N_("Please give the date as YYYY-MM-DD.")
            if raw["date"]
            else N_("Please give the date of the shift.")
        )
    start, end = _parse_time(raw["start"]), _parse_time(raw["end"])
    if start is None:
        errors["start"] = (
            N_("Please give the start time as HH:MM, for example 09:30.")
            if raw["start"]
            else N_("Please give the time the shift starts.")
        )
    if end is None:
        errors["end"] = (
            N_("Please give the end time as HH:MM, for example 12:00.")
            if raw["end"]
            else N_("Please give the time the shift ends.")
        )
    if day is None or start is None or end is None:
        return None
    # An end before the start is the next morning (a night shift), within reason.
    end_day = day + datetime.timedelta(days=1) if end < start else day
    start_ms, end_ms = local_ms(box, day, start), local_ms(box, end_day, end)
    longest = OVERNIGHT_MAX_HOURS * HOUR_MS if end_day != day else DAY_MS
    if not 0 < end_ms - start_ms <= longest:
        errors["end"] = N_(
            "The end time must be after the start time (a shift that goes past "
            "midnight can last up to 12 hours)."
        )
        return None
    now = box.log.now_ms()
    if start_ms <= now:
        errors["start" if day == local_day(box, now) else "date"] = N_(
            "That time has already passed. Please choose a time still to come."
        )
        return None
    if start_ms > now + AHEAD_DAYS * DAY_MS:
        errors["date"] = N_("Please plan shifts at most a year ahead.")
        return None
    return start_ms, end_ms


def _check_people(text) -> int | None:
    text = one_line(text)
    if not re.fullmatch(r"\d{1,4}", text) or not 1 <= int(text) <= PEOPLE_MAX:
        return None
    return int(text)


def check_shift(box: Box, org: Org, data: dict) -> dict:
    """Validate a shift's fields for an organisation; return the record body."""
    errors: dict[str, str] = {}
    title = one_line(data.get("title"))
    if not title:
        errors["title"] = N_("Please say in a few words what the shift is for.")
    elif len(title) > TITLE_MAX:
        errors["title"] = N_("Please keep the title under 120 characters.")
    when = _check_when(box, data, errors)
    place = one_line(data.get("place")) or org.place
    if len(place) > PLACE_MAX:
        errors["place"] = N_("Please keep the place under 80 characters.")
    people = _check_people(data.get("people"))
    if people is None:
        errors["people"] = N_("Please give how many people you need: a number from 1 to 500.")
    bring = clean_text(data.get("bring"))
    if len(bring) > BRING_MAX:
        errors["bring"] = N_("Please keep “what to bring” under 500 characters.")
    if errors:
        raise InvalidInput(errors)
    start, end = when
    return {
        "org": org.id,
        "title": title,
        "start": start,
        "end": end,
        "place": place,
        "people": people,
        "bring": bring,
    }


def create_shift(box: Box, actor: Actor | None, data: dict) -> str:
    """Plan a shift or working party for an organisation you organise; return its id."""
    org = require_organiser(actor, one_line(data.get("org")))
    body = check_shift(box, org, data)
    return box.log.append("shift.created", body, author=actor.id).id


def new_shift_orgs(actor: Actor | None) -> list[Org]:
    """Return the organisations the actor may plan shifts for; raise if there are none."""
    require_member(actor)
    orgs = organised_by(actor)
    if not orgs:
        raise NotAllowed(N_("Only an organisation's organisers can plan its shifts."))
    return orgs


def get_shift(shift_id: str) -> Shift:
    """Return a shift by id, or raise NotFound."""
    shift = Shift.get_or_none(Shift.id == shift_id)
    if shift is None:
        raise NotFound(N_("There is no such shift."))
    return shift


def manages(box: Box, actor: Actor | None, shift: Shift) -> bool:
    """True if the actor organises the shift's organisation, or is staff of its centre."""
    if actor is None:
        return False
    if is_organiser(actor, shift.org):
        return True
    org = Org.get_or_none(Org.id == shift.org)
    return actor.is_staff and org is not None and org.origin == box.origin


def _signed_up(shift: Shift, member_id: str) -> ShiftVolunteer | None:
    return ShiftVolunteer.get_or_none(
        (ShiftVolunteer.shift == shift.id) & (ShiftVolunteer.member == member_id)
    )


def cancel_shift(box: Box, actor: Actor | None, shift_id: str, reason: str) -> None:
    """Call off a shift, saying why (its organisers, or staff of its centre)."""
    require_member(actor)
    shift = get_shift(shift_id)
    if not manages(box, actor, shift):
        raise NotAllowed(N_("Only the organisers of this shift's organisation can cancel it."))
    if shift.cancelled:
        raise Conflict(N_("This shift is already cancelled."))
    if shift.start_ms <= box.log.now_ms():
        raise Conflict(N_("This shift has already started, so it can no longer be cancelled."))
    reason = clean_text(reason)
    if not reason:
        raise InvalidInput({"reason": N_("Please say why, so the volunteers know.")})
    if len(reason) > REASON_MAX:
        raise InvalidInput({"reason": N_("Please keep the reason under 500 characters.")})
    box.log.append("shift.cancelled", {"reason": reason}, subject=shift.id, author=actor.id)


def join(box: Box, actor: Actor | None, shift_id: str) -> None:
    """Sign up to a shift that has places left and has not started."""
    require_member(actor)
    with database.atomic():  # IMMEDIATE: two sign-ups cannot both take the last place
        shift = get_shift(shift_id)
        if shift.cancelled:
            raise Conflict(N_("This shift has been cancelled."))
        if shift.start_ms <= box.log.now_ms():
            raise Conflict(N_("This shift has already started, so you can no longer sign up."))
        if _signed_up(shift, actor.id):
            raise Conflict(N_("You have already signed up to this shift."))
        if shift.coming >= shift.people:
            raise Conflict(
                N_("Sorry, this shift is full: all %(people)d places are taken."),
                people=shift.people,
            )
        box.log.append("shift.joined", {}, subject=shift.id, author=actor.id)


def leave(box: Box, actor: Actor | None, shift_id: str) -> None:
    """Withdraw from a shift you signed up to, before it starts."""
    require_member(actor)
    with database.atomic():  # IMMEDIATE: the check and the record see the same sign-ups
        shift = get_shift(shift_id)
        if not _signed_up(shift, actor.id):
            raise Conflict(N_("You are not signed up to this shift."))
        if shift.start_ms <= box.log.now_ms():
            raise Conflict(N_("This shift has already started, so you can no longer withdraw."))
        box.log.append("shift.left", {}, subject=shift.id, author=actor.id)


# --- reading -------------------------------------------------------------------------------


def _summaries(box: Box, viewer: Actor | None, shifts: list[Shift]) -> list[dict]:
    """Return the list form of shifts: times in the centre's zone, places left, yours."""
    org_ids = {s.org for s in shifts}
    orgs = {o.id: o for o in Org.select().where(Org.id.in_(org_ids))} if org_ids else {}
    mine: dict[str, bool] = {}
    if viewer is not None and shifts:
        rows = ShiftVolunteer.select().where(
            (ShiftVolunteer.member == viewer.id) & ShiftVolunteer.shift.in_([s.id for s in shifts])
        )
        mine = {r.shift: r.confirmed for r in rows}
    centres = other_centres(box)
    now = box.log.now_ms()
    out = []
    for s in shifts:
        start, end = local_time(box, s.start_ms), local_time(box, s.end_ms)
        org = orgs.get(s.org)
        out.append(
            {
                "id": s.id,
                "org": {"id": s.org, "name": org.name if org else "?"},
                "centre": None if s.origin == box.origin else centres.get(s.origin, "?"),
                "title": s.title,
                "start_ms": s.start_ms,
                "end_ms": s.end_ms,
                "day": start.date().isoformat(),
                "start": start.strftime("%H:%M"),
                "end": end.strftime("%H:%M"),
                "ends_next_day": end.date() != start.date(),
                "place": s.place,
                "people": s.people,
                "coming": s.coming,
                "waiting": s.waiting,
                "places_left": max(0, s.people - s.coming),
                "bring": s.bring,
                "cancelled": s.cancelled,
                "cancel_reason": s.cancel_reason,
                "started": s.start_ms <= now,
                "over": s.end_ms <= now,
                # None: not signed up; "confirmed", or "waiting" beyond the people needed.
                "mine": None if s.id not in mine else ("confirmed" if mine[s.id] else "waiting"),
            }
        )
    return out


def upcoming(
    box: Box, viewer: Actor | None, org: str | None = None, days: int = UPCOMING_DAYS
) -> list[dict]:
    """Return shifts not yet over that start within `days`, soonest first."""
    if not isinstance(days, int) or not 1 <= days <= AHEAD_DAYS:
        raise InvalidInput({"days": N_("Please choose from 1 to 366 days.")})
    now = box.log.now_ms()
    query = Shift.select().where((Shift.end_ms > now) & (Shift.start_ms < now + days * DAY_MS))
    if org:
        query = query.where(Shift.org == get_org(org).id)
    return _summaries(box, viewer, list(query.order_by(Shift.start_ms, Shift.id)))


def by_day(shifts: list[dict]) -> list[tuple[str, list[dict]]]:
    """Group shift summaries (already in time order) by their local day."""
    days: dict[str, list[dict]] = {}
    for s in shifts:
        days.setdefault(s["day"], []).append(s)
    return list(days.items())


def my_shifts(box: Box, actor: Actor | None) -> list[dict]:
    """Return the shifts the actor signed up to that are not over yet, soonest first."""
    require_member(actor)
    query = (
        Shift.select()
        .join(ShiftVolunteer, on=(ShiftVolunteer.shift == Shift.id))
        .where((ShiftVolunteer.member == actor.id) & (Shift.end_ms > box.log.now_ms()))
        .order_by(Shift.start_ms, Shift.id)
    )
    return _summaries(box, actor, list(query))


def shift_detail(box: Box, viewer: Actor | None, shift_id: str) -> dict:
    """Return a shift with what the viewer may do; volunteers' names only for its managers.

    Organisers (and staff of the organisation's centre) see who is coming and who waits;
    a volunteer sees their own place, and where they stand on the waiting list.
    """
    shift = get_shift(shift_id)
    [data] = _summaries(box, viewer, [shift])
    managing = manages(box, viewer, shift)
    rows = list(
        ShiftVolunteer.select()
        .where(ShiftVolunteer.shift == shift.id)
        # Rows are written in the fold's order: confirmed first, then the waiting list.
        .order_by(ShiftVolunteer.id)
    )
    waiting_place = None
    if data["mine"] == "waiting":
        waiting = [r.member for r in rows if not r.confirmed]
        waiting_place = waiting.index(viewer.id) + 1
    data["waiting_place"] = waiting_place
    if managing:
        names = {
            m.id: m.name for m in Member.select().where(Member.id.in_([r.member for r in rows]))
        }
        people = [{"id": r.member, "name": names.get(r.member, "?")} for r in rows]
        data["volunteers"] = [p for p, r in zip(people, rows, strict=True) if r.confirmed]
        data["waiting_list"] = [p for p, r in zip(people, rows, strict=True) if not r.confirmed]
    bookable = not data["cancelled"] and not data["started"]
    data["can"] = {
        "join": viewer is not None
        and bookable
        and data["mine"] is None
        and data["places_left"] > 0,
        "leave": viewer is not None and data["mine"] is not None and not data["started"],
        "cancel": managing and bookable,
        "see_volunteers": managing,
    }
    return data
