"""A member's own data: everything this box holds about them, as one JSON object.

The member downloads it (or staff do, for a member who asks at the desk). It holds
what the member gave or did, never other people's personal details: a post lists its
own text, not who commented; a thanks names no one but says which post it was for.
Times are ISO 8601 in UTC. The format is versioned (FORMAT) so a later box can read it.
"""

from __future__ import annotations

import datetime
import json

from peewee import fn

from appliance.box import Box
from appliance.errors import N_, NotAllowed, NotFound
from appliance.models import (
    Appeal,
    Comment,
    Driver,
    Flag,
    Helper,
    Item,
    Journey,
    LoginSession,
    Member,
    MemberPrivate,
    Org,
    OrgRole,
    Pledge,
    Post,
    Proposal,
    Ride,
    Shift,
    ShiftVolunteer,
    StoredRecord,
    Thanks,
    Vote,
    VouchReview,
)
from appliance.sealing import open_sealed
from appliance.services.accounts import Actor, current_roles, require_member

FORMAT = "kith-member-export/1"


def iso(ms: int | None) -> str | None:
    """Return a time in ms since the epoch as ISO 8601 UTC ("2027-03-17T12:00:00Z")."""
    if ms is None:
        return None
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _require_access(actor: Actor | None, member_id: str) -> Member:
    require_member(actor)
    if not (actor.id == member_id or actor.is_staff):
        raise NotAllowed(N_("Only the member themselves or the centre's staff can see this."))
    member = Member.get_or_none(Member.id == member_id)
    if member is None:
        raise NotFound(N_("There is no such member."))
    return member


def _titles(post_ids) -> dict[str, str]:
    ids = {p for p in post_ids if p}
    if not ids:
        return {}
    return {p.id: p.title for p in Post.select(Post.id, Post.title).where(Post.id.in_(ids))}


def _profile(box: Box, member: Member) -> dict:
    contact = MemberPrivate.get_or_none(MemberPrivate.member == member.id)
    return {
        "id": member.id,
        "name": member.name,
        "joined": iso(member.joined_ms),
        "verified": member.verified,
        "roles": sorted(current_roles(box, member.id)),
        "contact": contact.contact if contact else None,
        "erased": member.erased,
        "centre": member.origin,
    }


def _posts(member_id: str) -> list[dict]:
    rows = Post.select().where(Post.author == member_id).order_by(Post.created_ms, Post.id)
    return [
        {
            "id": p.id,
            "type": p.type,
            "title": p.title,
            "details": p.details,
            "category": p.category,
            "place": p.place,
            "needed_by": p.needed_by,
            "created": iso(p.created_ms),
            "status": p.status,
            "resolved_note": p.resolved_note,
            "hidden": p.hidden,
            "stale": p.stale,
        }
        for p in rows
    ]


def _comments(member_id: str) -> list[dict]:
    rows = list(
        Comment.select().where(Comment.author == member_id).order_by(Comment.created_ms, Comment.id)
    )
    titles = _titles(c.post for c in rows)
    return [
        {
            "id": c.id,
            "post": c.post,
            "post_title": titles.get(c.post),
            "text": c.text,
            "created": iso(c.created_ms),
            "hidden": c.hidden,
        }
        for c in rows
    ]


def _help(member_id: str) -> list[dict]:
    rows = list(Helper.select().where(Helper.member == member_id).order_by(Helper.since_ms))
    titles = _titles(h.post for h in rows)
    return [
        {"post": h.post, "post_title": titles.get(h.post), "mode": h.mode, "since": iso(h.since_ms)}
        for h in rows
    ]


def _thanks(member_id: str) -> dict:
    given = list(Thanks.select().where(Thanks.giver == member_id).order_by(Thanks.created_ms))
    got = list(Thanks.select().where(Thanks.helper == member_id).order_by(Thanks.created_ms))
    titles = _titles(t.post for t in given + got)

    def row(t: Thanks) -> dict:
        return {
            "id": t.id,
            "post": t.post,
            "post_title": titles.get(t.post),
            "message": t.message,
            "created": iso(t.created_ms),
        }

    return {"given": [row(t) for t in given], "received": [row(t) for t in got]}


def _pledges(member_id: str) -> list[dict]:
    rows = list(
        Pledge.select().where(Pledge.member == member_id).order_by(Pledge.created_ms, Pledge.id)
    )
    titles = _titles(p.post for p in rows)
    items = {i.id: i for i in Item.select().where(Item.id.in_({p.item for p in rows}))}
    return [
        {
            "id": p.id,
            "kind": p.kind,  # pledge (to a need) | claim (from a supply, for an organisation)
            "post": p.post,
            "post_title": titles.get(p.post),
            "item": p.item,
            "item_name": items[p.item].name if p.item in items else None,
            "unit": items[p.item].unit if p.item in items else None,
            "qty": p.qty,
            "bring_on": p.bring_on,
            "created": iso(p.created_ms),
        }
        for p in rows
    ]


def _shifts(member_id: str) -> list[dict]:
    rows = list(ShiftVolunteer.select().where(ShiftVolunteer.member == member_id))
    shifts = {x.id: x for x in Shift.select().where(Shift.id.in_([v.shift for v in rows]))}
    rows.sort(key=lambda v: (shifts[v.shift].start_ms if v.shift in shifts else 0, v.shift))
    return [
        {
            "shift": v.shift,
            "title": shifts[v.shift].title if v.shift in shifts else None,
            "start": iso(shifts[v.shift].start_ms) if v.shift in shifts else None,
            "signed_up": iso(v.since_ms),
            "confirmed": v.confirmed,
        }
        for v in rows
    ]


def _org_roles(member_id: str) -> list[dict]:
    rows = list(OrgRole.select().where(OrgRole.member == member_id))
    names = {o.id: o.name for o in Org.select().where(Org.id.in_([r.org for r in rows]))}
    return [{"org": r.org, "name": names.get(r.org), "role": r.role} for r in rows]


def _rides(box: Box, member_id: str) -> list[dict]:
    found = []
    for ride in Ride.select().where(Ride.rider == member_id).order_by(Ride.start_ms):
        journeys = Journey.select().where(Journey.ride == ride.id).order_by(Journey.date)
        # Opened here, in memory, for the rider; never stored opened (PRIVACY.md).
        opened = open_sealed(box, ride.sealed) if ride.sealed else None
        found.append(
            {
                "id": ride.id,
                "from_area": ride.from_area,
                "to_area": ride.to_area,
                "start": ride.start,
                "time_is": ride.time_is,
                "repeats": ride.rrule,
                "return_at": ride.return_at,
                "passengers": ride.passengers,
                "needs": json.loads(ride.needs),
                "cancelled": ride.cancelled,
                "asked": iso(ride.created_ms),
                "addresses": (
                    {k: opened.get(k, "") for k in ("from_address", "to_address", "notes")}
                    if opened is not None
                    else None
                ),
                "journeys": [
                    {"date": j.date, "state": j.state, "miles": j.miles} for j in journeys
                ],
            }
        )
    return found


def _driving(member_id: str) -> dict:
    vouches = Driver.select().where(Driver.member == member_id).order_by(Driver.vouched_ms)
    driven = Journey.select().where(Journey.driver == member_id).order_by(Journey.date)
    return {
        "vouches": [
            {
                "centre": d.origin,
                "checks": json.loads(d.checks),
                "vehicle": {
                    "seats": d.seats,
                    "wheelchair": d.wheelchair,
                    "folded_chair": d.folded_chair,
                    "dogs": d.dogs,
                },
                "valid_to": d.valid_to,
                "vouched": iso(d.vouched_ms),
            }
            for d in vouches
        ],
        "journeys": [
            {"ride": j.ride, "date": j.date, "state": j.state, "miles": j.miles} for j in driven
        ],
    }


def _governance(member_id: str) -> dict:
    flags = Flag.select().where(Flag.member == member_id).order_by(Flag.created_ms)
    votes = list(Vote.select().where(Vote.member == member_id).order_by(Vote.created_ms))
    titles = {
        p.id: p.title
        for p in Proposal.select(Proposal.id, Proposal.title).where(
            Proposal.id.in_([v.proposal for v in votes])
        )
    }
    appeals = Appeal.select().where(Appeal.member == member_id).order_by(Appeal.created_ms)
    reviews = VouchReview.select().where(VouchReview.member == member_id)
    return {
        "flags": [
            {
                "id": f.id,
                "post": f.post,
                "comment": f.comment,
                "reason": f.reason,
                "note": f.note,
                "created": iso(f.created_ms),
            }
            for f in flags
        ],
        "votes": [
            {
                "proposal": v.proposal,
                "proposal_title": titles.get(v.proposal),
                "choice": v.choice,
                "reason": v.reason,
                "created": iso(v.created_ms),
            }
            for v in votes
        ],
        "appeals": [
            {
                "id": a.id,
                "post": a.post,
                "comment": a.comment,
                "text": a.text,
                "created": iso(a.created_ms),
                "outcome": a.outcome,
                "answer": a.answer,
            }
            for a in appeals
        ],
        "verification_reviews": [
            {"centre": r.origin, "accepted": r.accepted, "reviewed": iso(r.reviewed_ms)}
            for r in reviews
        ],
    }


def _records(member_id: str) -> dict:
    """Return the conduct versions the member accepted and the ids of their records."""
    # Canonical JSON (RFC 8785) has no spaces, so the author field is this exact text;
    # each match is parsed to be sure.
    needle = f'"author":"{member_id}"'.encode()
    authored = []
    accepted = []
    rows = (
        StoredRecord.select(
            StoredRecord.id, StoredRecord.kind, StoredRecord.aggregate, StoredRecord.raw
        )
        .where(
            (fn.instr(StoredRecord.raw, needle) > 0)
            | ((StoredRecord.aggregate == member_id) & (StoredRecord.kind == "conduct.accepted"))
        )
        .order_by(StoredRecord.hlc_ms, StoredRecord.hlc_c, StoredRecord.id)
    )
    for row in rows:
        fields = json.loads(bytes(row.raw))
        if fields.get("author") == member_id:
            authored.append(row.id)
        if row.kind == "conduct.accepted" and row.aggregate == member_id and "body" in fields:
            accepted.append({"version": fields["body"]["version"], "at": iso(fields["hlc"][0])})
    return {"conduct_accepted": accepted, "records_authored": authored}


def _sessions(member_id: str) -> dict:
    rows = list(
        LoginSession.select(LoginSession.created_ms, LoginSession.expires_ms)
        .where(LoginSession.member == member_id)
        .order_by(LoginSession.created_ms)
    )
    return {
        "count": len(rows),
        "logins": [{"started": iso(s.created_ms), "ends": iso(s.expires_ms)} for s in rows],
    }


def export_member(box: Box, actor: Actor | None, member_id: str) -> dict:
    """Return everything this box holds about a member (the member themselves, or staff)."""
    member = _require_access(actor, member_id)
    records = _records(member.id)
    return {
        "format": FORMAT,
        "box": box.origin,
        "centre": box.centre.name if box.centre else None,
        "made": iso(box.log.now_ms()),
        "profile": _profile(box, member),
        "posts": _posts(member.id),
        "comments": _comments(member.id),
        "help_offered": _help(member.id),
        "thanks": _thanks(member.id),
        "pledges": _pledges(member.id),
        "shifts": _shifts(member.id),
        "org_roles": _org_roles(member.id),
        "rides": _rides(box, member.id),
        "driving": _driving(member.id),
        **_governance(member.id),
        "conduct_accepted": records["conduct_accepted"],
        "sessions": _sessions(member.id),
        "records_authored": records["records_authored"],
    }
