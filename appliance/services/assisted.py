"""Assisted posting: staff post for a walk-in visitor who has no phone or account.

The post is an ordinary `post.created` record whose author is the staff member and
whose body says `assisted: true`, so every centre sees it was posted with staff help.
If the visitor wants, staff note a name and a way to reach them (to pass on an offer of
help). Those stay in a local table, AssistedVisitor, that only this centre's staff
read: never a record, so no sync, bundle or export carries them. They are shown only
in the staff list of posts made for visitors (recent), never beside the post itself:
a post's page may be on the hall's screen, with staff logged in at the kiosk.

Retention: a visitor's details are deleted RESOLVED_KEEP_DAYS days after the post is
resolved, or KEEP_DAYS days after it was posted, whichever comes first; staff can
forget them sooner, whenever the visitor asks.
"""

from __future__ import annotations

import json

from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, InvalidInput, NotFound
from appliance.kinds import NAME_MAX
from appliance.models import AssistedVisitor, Centre, Post, StoredRecord
from appliance.services.accounts import CONTACT_MAX, Actor
from appliance.services.board import check_post
from appliance.services.members import require_staff

DAY_MS = 86_400_000
KEEP_DAYS = 180
RESOLVED_KEEP_DAYS = 30
VISITOR_FIELDS = ("visitor_name", "visitor_contact")


def check_visitor(data: dict) -> dict:
    """Return the visitor's cleaned name and contact (both optional) or raise InvalidInput."""
    name = " ".join((data.get("visitor_name") or "").split())
    contact = (data.get("visitor_contact") or "").strip()
    errors = {}
    if len(name) > NAME_MAX:
        errors["visitor_name"] = N_("Please keep the name under 60 characters.")
    if len(contact) > CONTACT_MAX:
        errors["visitor_contact"] = N_("Please keep contact details under 200 characters.")
    if errors:
        raise InvalidInput(errors)
    return {"name": name, "contact": contact}


def create_assisted_post(box: Box, actor: Actor | None, data: dict) -> str:
    """Post for a visitor as staff; keep their name and contact for staff; return the id."""
    require_staff(actor)
    errors: dict[str, str] = {}
    body = visitor = None
    try:
        body = check_post(box, data)
    except InvalidInput as exc:
        errors.update(exc.fields)
    try:
        visitor = check_visitor(data)
    except InvalidInput as exc:
        errors.update(exc.fields)
    if errors:
        raise InvalidInput(errors)
    with database.atomic():
        rec = box.log.append("post.created", {**body, "assisted": True}, author=actor.id)
        AssistedVisitor.create(post=rec.id, created_ms=rec.hlc[0], **visitor)
    return rec.id


def was_assisted(post_id: str) -> tuple[bool, str | None]:
    """Return whether staff posted this for a visitor, and the origin of its record."""
    row = StoredRecord.get_or_none(
        (StoredRecord.id == post_id) & (StoredRecord.kind == "post.created")
    )
    if row is None:
        return False, None
    return (json.loads(bytes(row.raw)).get("body") or {}).get("assisted") is True, row.origin


def forget_expired(box: Box) -> int:
    """Delete visitor details past their retention; return how many were deleted."""
    now = box.log.now_ms()
    resolved_long_ago = Post.select(Post.id).where(
        (Post.status == "resolved") & (Post.resolved_ms < now - RESOLVED_KEEP_DAYS * DAY_MS)
    )
    with database.atomic():
        return (
            AssistedVisitor.delete()
            .where(
                (AssistedVisitor.created_ms < now - KEEP_DAYS * DAY_MS)
                | AssistedVisitor.post.in_(resolved_long_ago)
            )
            .execute()
        )


def assisted_note(post_id: str) -> dict | None:
    """Return how a post was assisted ({"centre": name}), or None for an ordinary post.

    The same for everyone, staff included: which centre's staff helped, never who the
    visitor is (that is only in `recent`, for staff).
    """
    assisted, origin = was_assisted(post_id)
    if not assisted:
        return None
    centre = Centre.get_or_none(Centre.origin == origin)
    return {"centre": centre.name if centre else None}


def forget_visitor(box: Box, actor: Actor | None, post_id: str) -> None:
    """Delete a visitor's name and contact now (staff), for example when they ask."""
    require_staff(actor)
    with database.atomic():
        deleted = (
            AssistedVisitor.update(name="", contact="")
            .where(
                (AssistedVisitor.post == post_id)
                & ((AssistedVisitor.name != "") | (AssistedVisitor.contact != ""))
            )
            .execute()
        )
    if not deleted:
        raise NotFound(N_("There are no visitor details on this post."))


def recent(box: Box, actor: Actor | None) -> list[dict]:
    """Return the posts staff made here for visitors, newest first, with their details."""
    require_staff(actor)
    forget_expired(box)
    rows = (
        AssistedVisitor.select(
            AssistedVisitor.post.alias("id"),
            AssistedVisitor.name,
            AssistedVisitor.contact,
            AssistedVisitor.created_ms,
            Post.title,
            Post.type,
            Post.status,
            Post.hidden,
            Post.helper_count,
        )
        .join(Post, on=(AssistedVisitor.post == Post.id))
        .order_by(AssistedVisitor.created_ms.desc(), AssistedVisitor.post)
        .dicts()
    )
    return [
        {
            **{k: v for k, v in r.items() if k not in ("name", "contact")},
            "visitor": {"name": r["name"], "contact": r["contact"]}
            if r["name"] or r["contact"]
            else None,
        }
        for r in rows
    ]
