"""Erasing a member's account: the erasure record every box honours, and local clean-up.

The member (or staff for a member who asks in person) erases an account at its home box.
The `member.erased` record redacts the member's records on every box (appliance/erasure.py
and sync/PROTOCOL.md, "Erasure"); what never was a record (password, sessions, contact
details) is deleted here. Mode `keep` leaves their posts up as "A former member" where
others' comments depend on them; mode `remove` takes their posts, shifts and proposals
(with others' comments on them) and everything else they wrote.
"""

from __future__ import annotations

from appliance import erasure
from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.kinds import ENTITIES_MAX, ERASE_MODES
from appliance.models import (
    Account,
    ApiToken,
    Centre,
    Comment,
    LoginSession,
    Member,
    MemberPrivate,
    Post,
    Proposal,
    Ride,
    Role,
    Shift,
)
from appliance.services.accounts import STAFF_ROLES, Actor, current_roles, require_member

# What a member writes for themself; anything else they authored is work done for the
# centre (roles, moderation, lists, pairing...), which mode `remove` would undo on every
# box, so an account that did such work is erased keeping its posts.
CONTRIBUTIONS = frozenset(
    {
        "member.joined",
        "post.created",
        "post.resolved",
        "post.reopened",
        "post.still_needed",
        "post.revived",
        "comment.added",
        "help.offered",
        "help.withdrawn",
        "thanks.given",
        "pledge.made",
        "pledge.withdrawn",
        "claim.made",
        "claim.withdrawn",
        "shift.created",
        "shift.cancelled",
        "shift.joined",
        "shift.left",
        "ride.requested",
        "ride.addresses",
        "ride.taken",
        "ride.handed_back",
        "ride.started",
        "ride.done",
        "ride.cancelled",
        "flag.raised",
        "appeal.made",
        "proposal.made",
        "vote.cast",
        "conduct.accepted",
    }
)
NOT_YOURS = N_(
    "You can only erase your own account; staff can erase one for a member who asks in person."
)


def _target(box: Box, actor: Actor | None, member_id: str) -> Member:
    """Return the member the actor may erase, or raise saying why not."""
    actor = require_member(actor)
    if actor.id != member_id and not actor.is_staff:
        raise NotAllowed(NOT_YOURS)
    member = Member.get_or_none(Member.id == member_id)
    if member is None:
        raise NotFound(N_("There is no such member."))
    if member.erased:
        raise Conflict(N_("That account is already erased."))
    if member.origin != box.origin:
        centre = Centre.get_or_none(Centre.origin == member.origin)
        raise Conflict(
            N_("Only %(centre)s's staff can erase that account: ask there."),
            centre=centre.name if centre else N_("their centre"),
        )
    if (
        actor.id != member.id
        and not actor.is_admin
        and current_roles(box, member.id) & set(STAFF_ROLES)
    ):
        # Only an admin grants staff roles, so only an admin takes such an account away.
        raise NotAllowed(N_("Only an admin can erase the account of a member of staff."))
    return member


def _is_last_admin(box: Box, member_id: str) -> bool:
    now = box.log.now_ms()
    admins = {
        row.member
        for row in Role.select(Role.member, Role.expires_ms).where(
            (Role.role == "admin") & (Role.origin == box.origin)
        )
        if row.expires_ms is None or row.expires_ms > now
    }
    if member_id not in admins:
        return False
    others = Member.select(Member.id).where(
        Member.id.in_(list(admins - {member_id})) & (Member.erased == False)  # noqa: E712
    )
    return not others.exists()


def _authored_kinds(member_id: str) -> set[str]:
    """Return the kinds of the records the member authored (canonical JSON has no spaces,
    so the author field is this exact text)."""
    needle = f'"author":"{member_id}"'.encode()
    rows = database.execute_sql(
        "SELECT DISTINCT kind FROM stored_record WHERE instr(raw, ?) > 0", (needle,)
    )
    return {kind for (kind,) in rows}


def _entities(member_id: str, mode: str) -> list[str]:
    """Return the entities removed whole with the member: their rides and, mode remove,
    the posts, shifts and proposals they created."""
    ids = [r.id for r in Ride.select(Ride.id).where(Ride.rider == member_id)]
    if mode == "remove":
        ids += [p.id for p in Post.select(Post.id).where(Post.author == member_id)]
        ids += [s.id for s in Shift.select(Shift.id).where(Shift.created_by == member_id)]
        ids += [p.id for p in Proposal.select(Proposal.id).where(Proposal.author == member_id)]
    return sorted(set(ids))


def _check_mode(mode: str) -> str:
    if mode not in ERASE_MODES:
        raise InvalidInput(
            {"mode": N_("Please choose whether your posts stay up or go with your account.")}
        )
    return mode


def erase_member(box: Box, actor: Actor | None, member_id: str, mode: str = "keep") -> str:
    """Erase a member's account here and, through the erasure record, on every box;
    return the erasure record's id."""
    require_member(actor)
    mode = _check_mode(mode)
    member = _target(box, actor, member_id)
    if _is_last_admin(box, member.id):
        raise Conflict(
            N_(
                "This is the box's last admin account. Make someone else an admin first, "
                "so the centre can still run its box."
            )
        )
    if mode == "remove" and _authored_kinds(member.id) - CONTRIBUTIONS:
        raise Conflict(
            N_(
                "This account did staff work here (roles, moderation, lists or pairing) that "
                "removing it would undo. Erase it keeping its posts instead."
            )
        )
    entities = _entities(member.id, mode)
    if len(entities) > ENTITIES_MAX:
        raise Conflict(
            N_(
                "This account has more than %(max)s rides, posts and shifts, too many to "
                "erase at once. Ask staff to resolve or remove some of them first."
            ),
            max=ENTITIES_MAX,
        )
    with database.atomic():
        rec = box.log.append(
            "member.erased",
            {"mode": mode, "entities": entities},
            subject=member.id,
            author=actor.id,
        )
        # What never was a record: the password, sessions, API tokens and contact details.
        for model in (Account, LoginSession, ApiToken, MemberPrivate):
            model.delete().where(model.member == member.id).execute()
    erasure.forget_old_pages()
    return rec.id


def erasure_preview(box: Box, actor: Actor | None, member_id: str) -> dict:
    """Return what erasing a member would take and leave, for the confirm page."""
    member = _target(box, actor, member_id)
    posts = [p.id for p in Post.select(Post.id).where(Post.author == member.id)]
    others = (
        Comment.select().where(Comment.post.in_(posts) & (Comment.author != member.id)).count()
        if posts
        else 0
    )
    remove_allowed = not (_authored_kinds(member.id) - CONTRIBUTIONS)
    return {
        "member": member.id,
        "name": member.name,
        "posts": len(posts),
        "comments": Comment.select().where(Comment.author == member.id).count(),
        "others_comments": others,
        "rides": Ride.select().where(Ride.rider == member.id).count(),
        "shifts": Shift.select().where(Shift.created_by == member.id).count(),
        "contact": MemberPrivate.get_or_none(MemberPrivate.member == member.id) is not None,
        "last_admin": _is_last_admin(box, member.id),
        "remove_allowed": remove_allowed,
    }
