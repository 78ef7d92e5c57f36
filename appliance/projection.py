"""Projections: the tables pages read, rebuilt from records by pure folds.

A box's state must be a function of the set of records it holds, whatever order they
arrived in. So applying a record never patches a row: it refolds the whole entity the
record feeds (a post with its comments, helpers and thanks; a member with their roles;
a centre with its categories and places) from all of that entity's records, taken in
the one order every box agrees on, (hlc, origin, id). Later records win a field
(last-writer-wins); sets are add/remove in that same order. Entities are small, so a
refold costs a handful of rows, and it makes convergence hold by construction.
"""

from __future__ import annotations

import json

from appliance.db import database
from appliance.kinds import KINDS
from appliance.models import (
    Category,
    Centre,
    Comment,
    Helper,
    Member,
    Place,
    Post,
    Role,
    StoredRecord,
    Thanks,
    TrustedOrigin,
)
from appliance.records import Record

STATUS_RANK = {"open": 0, "on_it": 1, "resolved": 2}


def load_aggregate(aggregate: str) -> list[Record]:
    """Return every stored record feeding one entity, in the agreed total order."""
    rows = (
        StoredRecord.select(StoredRecord.id, StoredRecord.raw)
        .where(StoredRecord.aggregate == aggregate)
        .order_by(StoredRecord.hlc_ms, StoredRecord.hlc_c, StoredRecord.origin, StoredRecord.id)
    )
    return [Record(id=row.id, raw=bytes(row.raw), fields=json.loads(row.raw)) for row in rows]


def refold(aggregate: str) -> None:
    """Rebuild the projection of one entity from its records (inside the caller's transaction)."""
    records = load_aggregate(aggregate)
    root = next((r for r in records if r.id == aggregate), None)
    if root is None or root.kind not in KINDS or not KINDS[root.kind].creates:
        return  # the creating record has not arrived yet; refolded when it does
    rest = [r for r in records if r is not root and r.kind in KINDS]
    FOLDS[KINDS[root.kind].entity](root, rest)


def _fold_centre(root: Record, rest: list[Record]) -> None:
    # A box writes one centre.created; should an origin sign two, every box keeps the
    # first in the agreed order, so arrival order cannot decide which centre wins.
    first = (
        StoredRecord.select(StoredRecord.id)
        .where((StoredRecord.origin == root.origin) & (StoredRecord.kind == "centre.created"))
        .order_by(StoredRecord.hlc_ms, StoredRecord.hlc_c, StoredRecord.id)
        .first()
    )
    if first.id != root.id:
        return
    # Only the centre's own box may edit its lists.
    own = [r for r in rest if r.origin == root.origin]
    categories: dict[str, dict] = {}
    places: dict[str, bool] = {}
    for r in own:
        if r.kind == "category.set":
            categories[r.body["slug"]] = r.body
        elif r.kind == "place.set":
            places[r.body["name"]] = r.body["active"]
    Centre.insert(
        id=root.id, origin=root.origin, name=root.body["name"], timezone=root.body["timezone"]
    ).on_conflict_replace().execute()
    Category.delete().where(Category.origin == root.origin).execute()
    if categories:
        Category.insert_many(
            [
                {"origin": root.origin, "slug": s, "label": b["label"], "active": b["active"]}
                for s, b in categories.items()
            ]
        ).execute()
    Place.delete().where(Place.origin == root.origin).execute()
    if places:
        Place.insert_many(
            [{"origin": root.origin, "name": n, "active": a} for n, a in places.items()]
        ).execute()


def _fold_member(root: Record, rest: list[Record]) -> None:
    verified, verified_by = False, None
    roles: dict[tuple[str, str], dict] = {}
    for r in rest:
        if r.kind == "member.verified":
            verified, verified_by = True, r.author
        elif r.kind == "member.unverified":
            verified, verified_by = False, None
        elif r.kind == "role.granted":
            roles[(r.body["role"], r.origin)] = {
                "expires_ms": r.body["expires"],
                "granted_by": r.author,
            }
        elif r.kind == "role.revoked":
            roles.pop((r.body["role"], r.origin), None)
    Member.insert(
        id=root.id,
        origin=root.origin,
        name=root.body["name"],
        joined_ms=root.hlc[0],
        verified=verified,
        verified_by=verified_by,
    ).on_conflict_replace().execute()
    Role.delete().where(Role.member == root.id).execute()
    if roles:
        Role.insert_many(
            [
                {"member": root.id, "role": role, "origin": origin, **grant}
                for (role, origin), grant in roles.items()
            ]
        ).execute()


def _fold_post(root: Record, rest: list[Record]) -> None:
    post = {
        "resolved_note": None,
        "resolved_by": None,
        "resolved_ms": None,
        "hidden": False,
        "hidden_reason": None,
    }
    resolved = False
    comments: dict[str, dict] = {}
    comment_flags: dict[str, tuple[bool, str | None]] = {}
    helpers: dict[str, dict] = {}
    thanks: list[dict] = []
    for r in rest:
        kind, body = r.kind, r.body
        if kind == "post.resolved":
            resolved = True
            post.update(resolved_note=body["note"], resolved_by=r.author, resolved_ms=r.hlc[0])
        elif kind == "post.reopened":
            resolved = False
            post.update(resolved_note=None, resolved_by=None, resolved_ms=None)
        elif kind == "post.hidden":
            post.update(hidden=True, hidden_reason=body["reason"])
        elif kind == "post.unhidden":
            post.update(hidden=False, hidden_reason=None)
        elif kind == "comment.added":
            comments[r.id] = {"author": r.author, "text": body["text"], "created_ms": r.hlc[0]}
        elif kind == "comment.hidden":
            comment_flags[body["comment"]] = (True, body["reason"])
        elif kind == "comment.unhidden":
            comment_flags[body["comment"]] = (False, None)
        elif kind == "help.offered" and r.author:
            since = helpers.get(r.author, {}).get("since_ms", r.hlc[0])
            helpers[r.author] = {"mode": body["mode"], "since_ms": since}
        elif kind == "help.withdrawn":
            helpers.pop(r.author, None)
        elif kind == "thanks.given":
            thanks.append(
                {
                    "id": r.id,
                    "giver": r.author,
                    "helper": body["helper"],
                    "message": body["message"],
                    "created_ms": r.hlc[0],
                }
            )
    for cid, (hidden, reason) in comment_flags.items():
        if cid in comments:
            comments[cid].update(hidden=hidden, hidden_reason=reason)

    if resolved:
        status = "resolved"
    elif any(h["mode"] == "on_it" for h in helpers.values()):
        status = "on_it"
    else:
        status = "open"
    b = root.body
    row = {
        "id": root.id,
        "origin": root.origin,
        "author": root.author,
        "type": b["type"],
        "title": b["title"],
        "details": b["details"],
        "category": b["category"],
        "place": b["place"],
        "needed_by": b["needed_by"],
        "created_ms": root.hlc[0],
        "status": status,
        "status_rank": STATUS_RANK[status],
        "comment_count": sum(1 for c in comments.values() if not c.get("hidden")),
        "helper_count": len(helpers),
        **post,
    }
    # Upsert rather than replace: the row keeps its rowid, which is the FTS rowid.
    Post.insert(**row).on_conflict(
        conflict_target=[Post.id], update={k: v for k, v in row.items() if k != "id"}
    ).execute()
    rowid = database.execute_sql("SELECT rowid FROM post WHERE id = ?", (root.id,)).fetchone()[0]
    database.execute_sql("DELETE FROM post_fts WHERE rowid = ?", (rowid,))
    database.execute_sql(
        "INSERT INTO post_fts (rowid, post_id, title, details, place) VALUES (?, ?, ?, ?, ?)",
        (rowid, root.id, b["title"], b["details"], b["place"]),
    )
    Comment.delete().where(Comment.post == root.id).execute()
    if comments:
        Comment.insert_many(
            [{"id": cid, "post": root.id, **c} for cid, c in comments.items()]
        ).execute()
    Helper.delete().where(Helper.post == root.id).execute()
    if helpers:
        Helper.insert_many(
            [{"post": root.id, "member": m, **h} for m, h in helpers.items()]
        ).execute()
    Thanks.delete().where(Thanks.post == root.id).execute()
    if thanks:
        Thanks.insert_many([{"post": root.id, **t} for t in thanks]).execute()


def _fold_trust(root: Record, rest: list[Record]) -> None:
    last_seq = None
    for r in rest:
        if r.kind == "trust.revoked" and r.origin == root.origin:
            last_seq = r.body["last_seq"]
    TrustedOrigin.insert(
        id=root.id,
        truster=root.origin,
        origin=root.body["origin"],
        name=root.body["name"],
        last_seq=last_seq,
    ).on_conflict_replace().execute()


FOLDS = {
    "centre": _fold_centre,
    "member": _fold_member,
    "post": _fold_post,
    "trust": _fold_trust,
}
