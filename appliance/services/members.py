"""Staff work on members: verifying people in person and granting roles."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

from appliance.box import Box
from appliance.dates import parse_day
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.models import Member, MemberPrivate, StoredRecord
from appliance.services.accounts import STAFF_ROLES, Actor, current_roles, require_member

# Roles with a meaning today; later features add theirs (driver, coordinator, organiser).
KNOWN_ROLES = ("member", "staff", "admin")
_ROLE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")


def require_staff(actor: Actor | None) -> Actor:
    """Return the actor if they are staff (or admin) here, else raise."""
    require_member(actor)
    if actor.via_token:
        raise NotAllowed(
            N_("A personal token cannot be used for staff work: sign in on the box instead.")
        )
    if not actor.is_staff:
        raise NotAllowed(N_("Only the centre's staff can do that."))
    return actor


def _member(member_id: str) -> Member:
    member = Member.get_or_none(Member.id == member_id)
    if member is None:
        raise NotFound(N_("There is no such member."))
    return member


def _verified_by(origin: str, member_id: str) -> bool:
    """Return True if the latest verification record of this origin verifies the member."""
    latest = (
        StoredRecord.select(StoredRecord.kind)
        .where(
            (StoredRecord.aggregate == member_id)
            & (StoredRecord.origin == origin)
            & StoredRecord.kind.in_(("member.verified", "member.unverified"))
        )
        .order_by(StoredRecord.hlc_ms.desc(), StoredRecord.hlc_c.desc(), StoredRecord.id.desc())
        .first()
    )
    return latest is not None and latest.kind == "member.verified"


def set_verified(box: Box, actor: Actor | None, member_id: str, verified: bool) -> None:
    """Record that staff met the member in person (or withdraw that)."""
    require_staff(actor)
    member = _member(member_id)
    if _verified_by(box.origin, member.id) == verified:
        raise Conflict(
            N_("%(name)s is already verified.") if verified else N_("%(name)s is not verified."),
            name=member.name,
        )
    kind = "member.verified" if verified else "member.unverified"
    box.log.append(kind, {}, subject=member.id, author=actor.id)


def _expiry_ms(box: Box, expires: str | None) -> int | None:
    if not expires:
        return None
    try:
        day = parse_day(expires)
    except ValueError:
        raise InvalidInput({"expires": N_("Please give the date as YYYY-MM-DD.")}) from None
    zone = ZoneInfo(box.settings["timezone"])
    # A role lasts to the end of its expiry day in the centre's time zone.
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), zone)
    ms = int(end.timestamp() * 1000)
    if ms <= box.log.now_ms():
        raise InvalidInput({"expires": N_("That date has already passed.")})
    return ms


def grant_role(
    box: Box, actor: Actor | None, member_id: str, role: str, expires: str | None = None
) -> None:
    """Grant a role on this box, optionally until a date; staff and admin need an admin."""
    require_staff(actor)
    member = _member(member_id)
    role = (role or "").strip().lower()
    if not _ROLE.match(role):
        raise InvalidInput({"role": N_("A role is one word of lowercase letters, like driver.")})
    if role in STAFF_ROLES and not actor.is_admin:
        raise NotAllowed(N_("Only an admin can make someone staff or admin."))
    expires_ms = _expiry_ms(box, expires)
    box.log.append(
        "role.granted", {"role": role, "expires": expires_ms}, subject=member.id, author=actor.id
    )


def revoke_role(box: Box, actor: Actor | None, member_id: str, role: str) -> None:
    """Take a role away from a member on this box."""
    require_staff(actor)
    member = _member(member_id)
    role = (role or "").strip().lower()
    if role in STAFF_ROLES and not actor.is_admin:
        raise NotAllowed(N_("Only an admin can remove staff or admin."))
    if role not in current_roles(box, member.id):
        raise Conflict(N_("%(name)s does not have that role."), name=member.name)
    box.log.append("role.revoked", {"role": role}, subject=member.id, author=actor.id)


def list_members(box: Box, actor: Actor | None, query: str = "") -> list[dict]:
    """Return members for the staff page, with their roles on this box."""
    require_staff(actor)
    found = Member.select().order_by(Member.name)
    if query.strip():
        found = found.where(Member.name.contains(query.strip()))
    members = list(found.limit(200))
    # Contact details stay on this box and reach staff only (require_staff above).
    contacts = {
        p.member: p.contact
        for p in MemberPrivate.select().where(MemberPrivate.member.in_([m.id for m in members]))
    }
    return [
        {
            "id": m.id,
            "name": m.name,
            "verified": m.verified,
            "local": m.origin == box.origin,
            "roles": sorted(current_roles(box, m.id)),
            "contact": contacts.get(m.id),
        }
        for m in members
    ]
