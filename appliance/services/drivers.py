"""Volunteer drivers: staff vouch for them, and the vouch lapses by itself.

A vouch (`driver.vouched`) records the checks the centre requires, each seen on a date
and valid to an expiry, and what the vehicle offers. It lasts to the earliest expiry:
nothing is written when it lapses, because whether a driver is authorised is worked out
from today's date every time it is asked. A driver is authorised here by a vouch from
this box or from a centre this box trusts (paired, or relayed by a paired centre, and
not revoked), so a driver checked at one centre can drive for its neighbours.
"""

from __future__ import annotations

import datetime
import json
from zoneinfo import ZoneInfo

from appliance.box import Box
from appliance.dates import parse_day
from appliance.errors import N_, Conflict, InvalidInput, NotFound
from appliance.kinds import REASON_MAX, SEATS_MAX, VEHICLE_FEATURES
from appliance.models import Centre, Driver, Member, TrustedOrigin
from appliance.services.accounts import Actor
from appliance.services.members import require_staff
from appliance.services.travel_lists import driver_checks, need_map, truthy


def today(box: Box, now_ms: int | None = None) -> datetime.date:
    """Return the centre's date at now_ms (default: the box's clock)."""
    zone = ZoneInfo(box.settings["timezone"])
    ms = box.log.now_ms() if now_ms is None else now_ms
    return datetime.datetime.fromtimestamp(ms / 1000, zone).date()


def _member(member_id: str) -> Member:
    member = Member.get_or_none(Member.id == member_id)
    if member is None:
        raise NotFound(N_("There is no such member."))
    return member


# --- vouching ------------------------------------------------------------------------------


def _day(text, key: str, missing: str, errors: dict) -> datetime.date | None:
    """Parse a form's date; note what is wrong under key and return None."""
    text = (text or "").strip()
    try:
        return parse_day(text)
    except ValueError:
        errors[key] = N_("Please give the date as YYYY-MM-DD.") if text else missing
        return None


def _check_dates(slug: str, given, day: datetime.date, errors: dict) -> tuple[str, str] | None:
    """Check one check's (seen, expires); note problems under seen-SLUG and expires-SLUG."""
    seen_text, expires_text = (list(given or ()) + ["", ""])[:2]
    seen_key, expires_key = f"seen-{slug}", f"expires-{slug}"
    seen = _day(seen_text, seen_key, N_("Please give the date you saw this."), errors)
    expires = _day(expires_text, expires_key, N_("Please give the date this runs out."), errors)
    if seen is not None and seen > day:
        errors[seen_key] = N_("That date is in the future: give the day you saw it.")
    elif seen is None or expires is None:
        pass
    elif expires < seen:
        errors[expires_key] = N_("The expiry date is before the date it was seen.")
    elif expires < day:
        errors[expires_key] = N_("This has already run out: it cannot authorise a driver.")
    else:
        return seen.isoformat(), expires.isoformat()
    return None


def check_vehicle(vehicle: dict) -> dict:
    """Return the vehicle {seats, wheelchair, folded_chair, dogs} from form values, or raise."""
    seats = vehicle.get("seats")
    try:
        seats = int(str(seats).strip()) if not isinstance(seats, bool) else None
    except (TypeError, ValueError):
        seats = None
    if seats is None or not 1 <= seats <= SEATS_MAX:
        raise InvalidInput({"seats": N_("Please give the passenger seats, a number from 1 to 8.")})
    return {"seats": seats, **{f: truthy(vehicle.get(f), False) for f in VEHICLE_FEATURES}}


def vouch(
    box: Box, actor: Actor | None, member_id: str, checks: dict, vehicle: dict
) -> dict[str, object]:
    """Authorise a driver (staff): every check the centre requires, dated, and the vehicle.

    checks: {check slug: (seen "YYYY-MM-DD", expires "YYYY-MM-DD")} for every active check;
    vehicle: {seats, wheelchair, folded_chair, dogs} as form values. Returns the body.
    """
    require_staff(actor)
    member = _member(member_id)
    required = driver_checks(box)
    if not required:
        raise InvalidInput(
            {"checks": N_("The centre asks for no checks yet: add them under Travel lists.")}
        )
    wanted = {c["slug"] for c in required}
    checks = dict(checks or {})
    errors: dict[str, str] = {}
    if set(checks) - wanted:
        errors["checks"] = N_("Only the checks this centre asks for can be recorded.")
    day = today(box)
    rows = []
    for check in required:
        dates = _check_dates(check["slug"], checks.get(check["slug"]), day, errors)
        if dates:
            seen, expires = dates
            rows.append(
                {"check": check["slug"], "label": check["label"], "seen": seen, "expires": expires}
            )
    try:
        car = check_vehicle(vehicle or {})
    except InvalidInput as exc:
        errors.update(exc.fields)
    if errors:
        raise InvalidInput(errors, N_("Please check each date and the vehicle."))
    body = {"checks": rows, "vehicle": car}
    box.log.append("driver.vouched", body, subject=member.id, author=actor.id)
    return body


def withdraw(box: Box, actor: Actor | None, member_id: str, reason: str) -> None:
    """Withdraw this centre's vouch for a driver (staff), saying why."""
    require_staff(actor)
    member = _member(member_id)
    if Driver.get_or_none((Driver.member == member.id) & (Driver.origin == box.origin)) is None:
        raise Conflict(N_("%(name)s is not a driver checked by this centre."), name=member.name)
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            {"reason": N_("Please say why, in a few words (500 characters at most).")}
        )
    box.log.append("driver.withdrawn", {"reason": reason}, subject=member.id, author=actor.id)


# --- who is authorised ---------------------------------------------------------------------


def trusted_origins(box: Box) -> set[str]:
    """Return the boxes whose vouches count here: this box and those trusted, not revoked."""
    return {o for o, limit in box.log.trusted_origins().items() if limit is None}


def centre_names(box: Box) -> dict[str, str]:
    """Return origin -> centre name for every centre this box knows of."""
    names = {t.origin: t.name for t in TrustedOrigin.select()}
    names.update({c.origin: c.name for c in Centre.select()})
    return names


def _vouches(box: Box, member_ids: list[str] | None = None) -> list[Driver]:
    """Return the Driver rows from trusted boxes (of some members, or everyone's)."""
    query = Driver.select().where(Driver.origin.in_(sorted(trusted_origins(box))))
    if member_ids is not None:
        query = query.where(Driver.member.in_(member_ids))
    return list(query.order_by(Driver.member, Driver.vouched_ms))


def _vehicle(row: Driver) -> dict:
    return {"seats": row.seats, **{f: bool(getattr(row, f)) for f in VEHICLE_FEATURES}}


def _vouch_dict(box: Box, row: Driver, day: datetime.date, names: dict[str, str]) -> dict:
    return {
        "origin": row.origin,
        "here": row.origin == box.origin,
        "name": names.get(row.origin, row.origin[:8]),
        "valid_to": row.valid_to,
        "valid": parse_day(row.valid_to) >= day,
        "checks": json.loads(row.checks),
        "vehicle": _vehicle(row),
        "vouched_by": row.vouched_by,
        "vouched_ms": row.vouched_ms,
    }


def _summary(box: Box, rows: list[Driver], day: datetime.date, names: dict) -> dict | None:
    """Fold one member's vouches into their authorisation today, or None if none is valid."""
    valid = [r for r in rows if parse_day(r.valid_to) >= day]
    if not valid:
        return None
    latest = max(valid, key=lambda r: (r.vouched_ms, r.origin == box.origin))
    valid_to = max(r.valid_to for r in valid)
    days_left = (parse_day(valid_to) - day).days
    return {
        "valid_to": valid_to,
        "days_left": days_left,
        "lapsing_soon": days_left <= box.settings["driver_warn_days"],
        "vehicle": _vehicle(latest),
        "checks": json.loads(latest.checks),
        "centres": [
            {"name": names.get(r.origin, r.origin[:8]), "valid_to": r.valid_to}
            for r in sorted(valid, key=lambda r: (r.origin != box.origin, r.valid_to))
        ],
        "here": any(r.origin == box.origin for r in valid),
    }


def authorisation(box: Box, member_id: str, now_ms: int | None = None) -> dict | None:
    """Return a member's authorisation to drive today, or None if they have none.

    {valid_to (the latest among valid vouches), days_left, lapsing_soon (within
    driver_warn_days), vehicle (of the most recent valid vouch), checks (of that vouch),
    centres [{name, valid_to}] (this centre first), here (vouched by this centre)}.
    """
    if not member_id:
        return None
    return _summary(box, _vouches(box, [member_id]), today(box, now_ms), centre_names(box))


def is_authorised(box: Box, actor: Actor | None, now_ms: int | None = None) -> bool:
    """Return True if the signed-in member may drive today."""
    return actor is not None and authorisation(box, actor.id, now_ms) is not None


def lapsed_on(box: Box, member_id: str, now_ms: int | None = None) -> str | None:
    """Return the day a member's last authorisation ran out, or None (never vouched, or valid)."""
    rows = _vouches(box, [member_id])
    if not rows or _summary(box, rows, today(box, now_ms), {}) is not None:
        return None
    return max(r.valid_to for r in rows)


def can_serve(box: Box, vehicle: dict | None, ride) -> bool:
    """Return True if a vehicle has the seats and every feature a ride's needs require.

    Needs are read in the list of the centre the ride came from (retired ones included,
    with the defaults), so a ride from a neighbour means what its rider chose there.
    """
    if not vehicle:
        return False
    passengers = _get(ride, "passengers")
    if int(vehicle.get("seats") or 0) < int(passengers or 1):
        return False
    needs = _get(ride, "needs") or []
    if isinstance(needs, str):
        needs = json.loads(needs)
    known = need_map(box, _get(ride, "origin"))
    for slug in needs:
        requires = known.get(slug, {}).get("requires")
        if requires and not vehicle.get(requires):
            return False
    return True


def _get(ride, name: str):
    return ride.get(name) if isinstance(ride, dict) else getattr(ride, name, None)


# --- for staff -----------------------------------------------------------------------------


def _status(summary: dict | None) -> str:
    if summary is None:
        return "lapsed"
    return "lapsing" if summary["lapsing_soon"] else "valid"


def _people(box: Box, days: int | None = None, member_ids: list[str] | None = None) -> list[dict]:
    """Return every driver with a vouch from a trusted box: status, dates, centres."""
    day = today(box)
    names = centre_names(box)
    rows = _vouches(box, member_ids)
    by_member: dict[str, list[Driver]] = {}
    for row in rows:
        by_member.setdefault(row.member, []).append(row)
    people = {m.id: m.name for m in Member.select().where(Member.id.in_(list(by_member)))}
    warn = box.settings["driver_warn_days"] if days is None else days
    listing = []
    for member_id, vouches in by_member.items():
        summary = _summary(box, vouches, day, names)
        if summary is not None:
            summary["lapsing_soon"] = summary["days_left"] <= warn
        listing.append(
            {
                "member": member_id,
                "name": people.get(member_id, member_id[:8]),
                "status": _status(summary),
                "valid_to": summary["valid_to"] if summary else max(r.valid_to for r in vouches),
                "days_left": summary["days_left"] if summary else None,
                "authorisation": summary,
                # The vehicle of the latest valid vouch, else of the latest vouch.
                "vehicle": summary["vehicle"] if summary else _vehicle(vouches[-1]),
                "vouches": [_vouch_dict(box, r, day, names) for r in vouches],
            }
        )
    return listing


def lapsing(box: Box, days: int | None = None) -> list[dict]:
    """Return drivers whose authorisation ends within `days` (driver_warn_days) or has ended.

    Lapsed first (the most recent first), then those lapsing, soonest first. Each is
    {member, name, status: lapsed | lapsing, valid_to, days_left, vouches, authorisation}.
    """
    found = [p for p in _people(box, days) if p["status"] != "valid"]
    lapsed = sorted(
        (p for p in found if p["status"] == "lapsed"), key=lambda p: p["valid_to"], reverse=True
    )
    soon = sorted((p for p in found if p["status"] == "lapsing"), key=lambda p: p["valid_to"])
    return lapsed + soon


def drivers_for_staff(box: Box, actor: Actor | None) -> dict[str, list[dict]]:
    """Return the staff's view of drivers: {attention: lapsed and lapsing, valid: the rest}."""
    require_staff(actor)
    valid = [p for p in _people(box) if p["status"] == "valid"]
    return {
        "attention": lapsing(box),
        "valid": sorted(valid, key=lambda p: p["name"].casefold()),
    }


def driver_for_staff(box: Box, actor: Actor | None, member_id: str) -> dict:
    """Return one member's driving for the staff's vouch form.

    {member, name, authorisation, vouches (every trusted centre's), own (this centre's
    vouch, valid or not, or None), checks (the centre's required checks)}.
    """
    require_staff(actor)
    member = _member(member_id)
    found = _people(box, member_ids=[member.id])
    person = found[0] if found else {"vouches": [], "authorisation": None, "status": None}
    own = next((v for v in person["vouches"] if v["here"]), None)
    return {
        "member": member.id,
        "name": member.name,
        "status": person["status"],
        "authorisation": person["authorisation"],
        "vouches": person["vouches"],
        "own": own,
        "checks": driver_checks(box),
    }
