"""Portable verification: what other centres vouched for a member, and whether this
centre's staff accept it.

A verification (member.verified) or a role (role.granted) signed by another centre's box
reaches this box like any record. This centre shows it with where and when it was
given, and its staff decide whether it counts here (vouch.reviewed, local): an accepted
verification makes the member verified here too (verified_here); roles from elsewhere
are shown, never granted here by themselves.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.errors import N_, Conflict, InvalidInput, NotFound
from appliance.models import Member, VouchReview
from appliance.projection import load_aggregate
from appliance.services.accounts import Actor
from appliance.services.drivers import centre_names
from appliance.services.members import require_staff


def _member(member_id: str) -> Member:
    member = Member.get_or_none(Member.id == member_id)
    if member is None:
        raise NotFound(N_("There is no such member."))
    return member


def _vouches_by_origin(box: Box, member_id: str) -> dict[str, dict[str, int]]:
    """Return {origin: {"verified" or role: ms given}} of what each box still vouches."""
    now = box.log.now_ms()
    found: dict[str, dict[str, int]] = {}
    for r in load_aggregate(member_id):
        if "body" not in r.fields:  # redacted by an erasure
            continue
        given = found.setdefault(r.origin, {})
        if r.kind == "member.verified":
            given["verified"] = r.hlc[0]
        elif r.kind == "member.unverified":
            given.pop("verified", None)
        elif r.kind == "role.granted":
            expires = r.body["expires"]
            if expires is None or expires > now:
                given[r.body["role"]] = r.hlc[0]
            else:
                given.pop(r.body["role"], None)
        elif r.kind == "role.revoked":
            given.pop(r.body["role"], None)
    return {origin: given for origin, given in found.items() if given}


def vouches_elsewhere(box: Box, member_id: str) -> list[dict]:
    """Return the verifications and roles other centres gave a member: each {origin,
    centre, what ("verified" or the role), date (ms), accepted (True, False or None:
    not reviewed here)}."""
    member = _member(member_id)
    if member.erased:
        return []
    names = centre_names(box)
    reviews = {
        v.origin: v.accepted for v in VouchReview.select().where(VouchReview.member == member_id)
    }
    found = []
    for origin, given in _vouches_by_origin(box, member_id).items():
        if origin == box.origin:
            continue
        for what, ms in sorted(given.items(), key=lambda item: (item[0] != "verified", item[0])):
            found.append(
                {
                    "origin": origin,
                    "centre": names.get(origin),  # None: a centre this box has no name for
                    "what": what,
                    "date": ms,
                    "accepted": reviews.get(origin),
                }
            )
    return sorted(found, key=lambda v: (v["centre"] or "", v["origin"], v["what"] != "verified"))


def review_vouch(box: Box, actor: Actor | None, member_id: str, origin: str, accepted) -> None:
    """Accept (or not) another centre's vouch for a member here (staff)."""
    require_staff(actor)
    _member(member_id)
    if not isinstance(accepted, bool):
        raise InvalidInput({"accepted": N_("Please choose Accept or Do not accept.")})
    vouched = _vouches_by_origin(box, member_id)
    if origin == box.origin or origin not in vouched:
        raise NotFound(N_("That centre has not vouched for this member."))
    current = VouchReview.get_or_none(
        (VouchReview.member == member_id) & (VouchReview.origin == origin)
    )
    if current is not None and current.accepted == accepted:
        raise Conflict(
            N_("You have already accepted that centre's vouch.")
            if accepted
            else N_("You have already declined that centre's vouch.")
        )
    box.log.append(
        "vouch.reviewed",
        {"origin": origin, "accepted": accepted},
        subject=member_id,
        author=actor.id,
        scope="local",
    )


def verified_here(box: Box, member_id: str) -> bool:
    """Return True if this centre verified the member, or accepted another centre's
    verification of them."""
    member = Member.get_or_none(Member.id == member_id)
    if member is None or member.erased:
        return False
    vouched = _vouches_by_origin(box, member_id)
    if "verified" in vouched.get(box.origin, {}):
        return True
    accepted = {
        v.origin
        for v in VouchReview.select().where(
            (VouchReview.member == member_id) & (VouchReview.accepted == True)  # noqa: E712
        )
    }
    return any("verified" in vouched.get(origin, {}) for origin in accepted)


def staff_view(box: Box, actor: Actor | None, member_id: str) -> dict:
    """Return a member's vouches from other centres for this centre's staff to review:
    {"member": {id, name, verified_here}, "vouches": vouches_elsewhere}."""
    require_staff(actor)
    member = _member(member_id)
    return {
        "member": {
            "id": member.id,
            "name": member.name,
            "verified_here": verified_here(box, member.id),
        },
        "vouches": vouches_elsewhere(box, member.id),
    }
