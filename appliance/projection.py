"""Projections: the tables pages read, rebuilt from records by pure folds.

A box's state must be a function of the set of records it holds, whatever order they
arrived in. So applying a record never patches a row: it refolds the whole entity the
record feeds (a post with its comments, helpers and thanks; a member with their roles;
a centre with its categories and places) from all of that entity's records, taken in
the one order every box agrees on, (hlc, origin, id). Later records win a field
(last-writer-wins); sets are add/remove in that same order. Entities are small, so a
refold costs a handful of rows, and it makes convergence hold by construction.

A page of synced records touches hundreds of entities, so `refold_many` loads them in
a few queries, folds each in Python (the fold of one entity never reads another's), and
writes the rows of all of them together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from appliance.db import database
from appliance.fold_food import (
    fold_pledges,
    write_items,
    write_orgs,
    write_post_food,
    write_shifts,
)
from appliance.fold_moderation import (
    ROLE_KINDS,
    Moderated,
    Policies,
    fold_moderation,
    load_policies,
    posts_moderated,
    write_moderation,
)
from appliance.fold_travel import DRIVER_COLUMNS, fold_drivers, write_rides
from appliance.foldsql import chunks, delete_where_in, executemany, insert_sql, marks
from appliance.kinds import KINDS
from appliance.models import (
    AccessNeed,
    Category,
    Centre,
    DriverCheck,
    Place,
    Provider,
    StoredRecord,
)
from appliance.records import Record

STATUS_RANK = {"open": 0, "on_it": 1, "resolved": 2}

POST_COLUMNS = (
    "id",
    "origin",
    "author",
    "type",
    "title",
    "details",
    "category",
    "place",
    "needed_by",
    "created_ms",
    "status",
    "status_rank",
    "resolved_note",
    "resolved_by",
    "resolved_ms",
    "hidden",
    "hidden_reason",
    "comment_count",
    "helper_count",
    "org",
    "use_by",
    "covered",
    "fresh_ms",
    "asked_ms",
    "stale",
)
COMMENT_COLUMNS = ("id", "post", "author", "text", "created_ms", "hidden", "hidden_reason")
HELPER_COLUMNS = ("post", "member", "mode", "since_ms")
THANKS_COLUMNS = ("id", "post", "giver", "helper", "message", "created_ms")
MEMBER_COLUMNS = (
    "id",
    "origin",
    "name",
    "joined_ms",
    "verified",
    "verified_by",
    "conduct_version",
    "erased",
)
VOUCH_REVIEW_COLUMNS = ("member", "origin", "accepted", "reviewer", "reviewed_ms")
PROPOSAL_COLUMNS = (
    "id",
    "origin",
    "author",
    "title",
    "reason",
    "change",
    "rule",
    "value",
    "text",
    "created_ms",
    "closes_ms",
    "outcome",
    "decided_ms",
    "agree",
    "abstain",
    "object",
)
VOTE_COLUMNS = ("id", "proposal", "member", "choice", "reason", "created_ms")
# What an erased member is called where their name was (their records are redacted).
ERASED_NAME = "A former member"
ROLE_COLUMNS = ("member", "role", "origin", "expires_ms", "granted_by")
TRUST_COLUMNS = ("id", "truster", "origin", "name", "last_seq")


# Upsert rather than replace: a post row keeps its rowid, which is the FTS rowid.
_UPSERT_POST = insert_sql("post", POST_COLUMNS) + (
    ' ON CONFLICT ("id") DO UPDATE SET '
    + ", ".join(f'"{c}" = excluded."{c}"' for c in POST_COLUMNS if c != "id")
)
_INSERT_COMMENT = insert_sql("comment", COMMENT_COLUMNS)
_INSERT_HELPER = insert_sql("helper", HELPER_COLUMNS)
_INSERT_THANKS = insert_sql("thanks", THANKS_COLUMNS)
_REPLACE_MEMBER = insert_sql("member", MEMBER_COLUMNS, "INSERT OR REPLACE")
_INSERT_ROLE = insert_sql("role", ROLE_COLUMNS)
_INSERT_CONDUCT = insert_sql("conduct", ("origin", "version", "text", "note", "published_ms"))
_INSERT_RULE = insert_sql("centre_rule", ("origin", "name", "value", "proposal", "set_ms"))
_INSERT_POLICY = insert_sql("peer_policy", ("origin", "peer", "mode"))
_REPLACE_TRUST = insert_sql("trusted_origin", TRUST_COLUMNS, "INSERT OR REPLACE")


# --- reading -------------------------------------------------------------------------------


def load_aggregates(
    aggregates: Iterable[str], known: dict[str, Record] | None = None
) -> dict[str, list[Record]]:
    """Return every stored record feeding each entity, each list in the agreed total order.

    Records in `known` (by id: just stored and already parsed) are not parsed again.
    """
    known = known or {}
    found: dict[str, list[Record]] = {aggregate: [] for aggregate in aggregates}
    for chunk in chunks(list(found)):
        cursor = database.execute_sql(
            f"SELECT aggregate, id, raw FROM stored_record WHERE aggregate IN ({marks(chunk)}) "
            "ORDER BY hlc_ms, hlc_c, origin, id",
            chunk,
        )
        for aggregate, record_id, raw in cursor:
            rec = known.get(record_id)
            if rec is None:
                raw = bytes(raw)
                rec = Record(id=record_id, raw=raw, fields=json.loads(raw))
            found[aggregate].append(rec)
    return found


def load_aggregate(aggregate: str) -> list[Record]:
    """Return every stored record feeding one entity, in the agreed total order."""
    return load_aggregates([aggregate])[aggregate]


# --- refolding -----------------------------------------------------------------------------


def refold(aggregate: str) -> None:
    """Rebuild the projection of one entity from its records (inside the caller's transaction)."""
    refold_many([aggregate])


def refold_many(aggregates: Iterable[str], known: dict[str, Record] | None = None) -> None:
    """Rebuild the projections of several entities (inside the caller's transaction).

    The same as refolding each in turn: an entity's rows depend on its records alone.
    `known` may hold records already parsed (by id), to save parsing them again.
    """
    folds: dict[str, list[tuple[Record, list[Record]]]] = {}
    gone: dict[str, list[str]] = {}
    for aggregate, records in load_aggregates(aggregates, known).items():
        root = next((r for r in records if r.id == aggregate), None)
        kind = KINDS.get(root.fields["kind"]) if root is not None else None
        if kind is None or not kind.creates:
            continue  # the creating record has not arrived yet; refolded when it does
        if "body" not in root.fields and kind.entity != "member":
            # Redacted by an erasure: the entity goes (a member stays, as a former member).
            gone.setdefault(kind.entity, []).append(aggregate)
            continue
        # Redacted stubs (no body) are left out, as if they had never arrived.
        rest = [
            r for r in records if r is not root and r.fields["kind"] in KINDS and "body" in r.fields
        ]
        folds.setdefault(kind.entity, []).append((root, rest))
    for entity, ids in gone.items():
        forget(entity, ids)
    for entity, entities in folds.items():
        WRITERS[entity](entities)


# The rows each kind of entity has, by (table, column naming the entity).
ENTITY_TABLES = {
    "post": [
        ("post", "id"),
        ("comment", "post"),
        ("helper", "post"),
        ("thanks", "post"),
        ("post_line", "post"),
        ("pledge", "post"),
        ("flag", "post"),
        ("moderation_event", "post"),
        ("appeal", "post"),
    ],
    "org": [("org", "id"), ("org_role", "org")],
    "item": [("catalogue_item", "id")],
    "shift": [("shift", "id"), ("shift_volunteer", "shift")],
    "ride": [("ride", "id"), ("journey", "ride")],
    "proposal": [("proposal", "id"), ("vote", "proposal")],
    "trust": [("trusted_origin", "id")],
    "centre": [],
}


def forget(entity: str, ids: list[str]) -> None:
    """Delete every projected row of entities whose creating record was redacted."""
    if entity == "post":
        for chunk in chunks(ids):
            database.execute_sql(
                "DELETE FROM post_fts WHERE rowid IN "
                f"(SELECT rowid FROM post WHERE id IN ({marks(chunk)}))",
                chunk,
            )
    for table, column in ENTITY_TABLES[entity]:
        delete_where_in(table, column, ids)


# --- centres -------------------------------------------------------------------------------


def _write_centres(entities: list[tuple[Record, list[Record]]]) -> None:
    # Rare (one per box): written one at a time.
    for root, rest in entities:
        _fold_centre(root, rest)


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
    lists: dict[str, dict[str, dict]] = {kind: {} for kind in CENTRE_LISTS}
    conduct: dict[int, tuple] = {}
    rules: dict[str, tuple] = {}
    policies: dict[str, str] = {}
    for r in own:
        if r.kind == "category.set":
            categories[r.body["slug"]] = r.body
        elif r.kind == "place.set":
            places[r.body["name"]] = r.body["active"]
        elif r.kind in lists:
            lists[r.kind][r.body["slug"]] = r.body
        elif r.kind == "conduct.published":
            b = r.body
            conduct[b["version"]] = (root.origin, b["version"], b["text"], b["note"], r.hlc[0])
        elif r.kind == "rule.set":
            b = r.body
            rules[b["name"]] = (root.origin, b["name"], b["value"], b["proposal"], r.hlc[0])
        elif r.kind == "moderation.policy.set":
            policies[r.body["origin"]] = r.body["mode"]
    _write_centre_governance(root.origin, conduct, rules, policies)
    for kind, model in CENTRE_LISTS.items():
        model.delete().where(model.origin == root.origin).execute()
        if lists[kind]:
            rows = [{"origin": root.origin, **b} for b in lists[kind].values()]
            model.insert_many(rows).execute()
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


def _write_centre_governance(
    origin: str, conduct: dict[int, tuple], rules: dict[str, tuple], policies: dict[str, str]
) -> None:
    for table in ("conduct", "centre_rule", "peer_policy"):
        database.execute_sql(f'DELETE FROM "{table}" WHERE origin = ?', (origin,))
    executemany(_INSERT_CONDUCT, list(conduct.values()))
    executemany(_INSERT_RULE, list(rules.values()))
    executemany(_INSERT_POLICY, [(origin, peer, mode) for peer, mode in policies.items()])


# A centre's other lists, keyed by slug, last wins, only from the centre's own origin.
CENTRE_LISTS = {
    "access_need.set": AccessNeed,
    "driver_check.set": DriverCheck,
    "provider.set": Provider,
}

# --- members -------------------------------------------------------------------------------


def _fold_member(root: Record, rest: list[Record]) -> tuple[tuple, list[tuple], list[tuple]]:
    """Return a member's row, role rows and vouch review rows (driver vouches fold
    separately)."""
    if "body" not in root.fields:
        # Erased: the joining record is a redacted stub, and so is everything about them.
        row = (root.id, root.origin, ERASED_NAME, root.hlc[0], False, None, 0, True)
        return row, [], []
    verified, verified_by = False, None
    roles: dict[tuple[str, str], tuple] = {}
    reviews: dict[str, tuple] = {}
    conduct_version = 0
    for r in rest:
        # Verified means by the member's own centre; another centre's verification is a
        # vouch that centre's staff show with its origin and may accept (services/vouches).
        if r.kind == "member.verified" and r.origin == root.origin:
            verified, verified_by = True, r.author
        elif r.kind == "member.unverified" and r.origin == root.origin:
            verified, verified_by = False, None
        elif r.kind == "role.granted":
            roles[(r.body["role"], r.origin)] = (r.body["expires"], r.author)
        elif r.kind == "role.revoked":
            roles.pop((r.body["role"], r.origin), None)
        elif r.kind == "conduct.accepted" and r.author == root.id:
            conduct_version = max(conduct_version, r.body["version"])
        elif r.kind == "vouch.reviewed":
            b = r.body
            reviews[b["origin"]] = (root.id, b["origin"], b["accepted"], r.author, r.hlc[0])
    row = (
        root.id,
        root.origin,
        root.body["name"],
        root.hlc[0],
        verified,
        verified_by,
        conduct_version,
        False,
    )
    role_rows = [(root.id, role, origin, *grant) for (role, origin), grant in roles.items()]
    return row, role_rows, list(reviews.values())


def _write_members(entities: list[tuple[Record, list[Record]]]) -> None:
    members, roles, drivers, reviews = [], [], [], []
    for root, rest in entities:
        row, member_roles, member_reviews = _fold_member(root, rest)
        members.append(row)
        roles.extend(member_roles)
        reviews.extend(member_reviews)
        if "body" in root.fields:
            drivers.extend(fold_drivers(root, rest))
    executemany(_REPLACE_MEMBER, members)
    ids = [row[0] for row in members]
    delete_where_in("role", "member", ids)
    executemany(_INSERT_ROLE, roles)
    delete_where_in("driver", "member", ids)
    executemany(insert_sql("driver", DRIVER_COLUMNS), drivers)
    delete_where_in("vouch_review", "member", ids)
    executemany(insert_sql("vouch_review", VOUCH_REVIEW_COLUMNS), reviews)
    # Whether a member's hides and restores count depends on the roles their role records
    # give them (fold_moderation), which may arrive after the hides: refold those posts.
    moderators = [root.id for root, rest in entities if any(r.kind in ROLE_KINDS for r in rest)]
    if moderators:
        posts = posts_moderated("author", moderators)
        if posts:
            refold_many(posts)


# --- proposals -----------------------------------------------------------------------------


def _fold_proposal(root: Record, rest: list[Record]) -> tuple[tuple, list[tuple]]:
    """Return a proposal's row and its vote rows: each member's first vote counts, and
    only the proposing box's records count (proposals and votes are local records)."""
    votes: dict[str, tuple] = {}
    outcome = decided_ms = None
    for r in rest:
        if r.origin != root.origin:
            continue
        if r.kind == "vote.cast" and r.author and r.author not in votes:
            b = r.body
            votes[r.author] = (r.id, root.id, r.author, b["choice"], b["reason"], r.hlc[0])
        elif r.kind == "proposal.decided" and outcome is None:
            outcome, decided_ms = r.body["outcome"], r.hlc[0]
    tally = {choice: 0 for choice in ("agree", "abstain", "object")}
    for vote in votes.values():
        tally[vote[3]] += 1
    b = root.body
    row = (
        root.id,
        root.origin,
        root.author,
        b["title"],
        b["reason"],
        b["change"],
        b.get("rule"),
        b.get("value"),
        b.get("text"),
        root.hlc[0],
        b["closes"],
        outcome,
        decided_ms,
        tally["agree"],
        tally["abstain"],
        tally["object"],
    )
    return row, list(votes.values())


def _write_proposals(entities: list[tuple[Record, list[Record]]]) -> None:
    rows, votes = [], []
    for root, rest in entities:
        row, proposal_votes = _fold_proposal(root, rest)
        rows.append(row)
        votes.extend(proposal_votes)
    executemany(insert_sql("proposal", PROPOSAL_COLUMNS, "INSERT OR REPLACE"), rows)
    delete_where_in("vote", "proposal", [row[0] for row in rows])
    executemany(insert_sql("vote", VOTE_COLUMNS), votes)


# --- posts ---------------------------------------------------------------------------------


def _fold_post(
    root: Record, rest: list[Record], policies: Policies
) -> tuple[tuple, list, list, list, list, list, Moderated]:
    """Return a post's row, its comment, helper, thanks, item line and pledge rows, and
    what moderation made of it."""
    post = {"resolved_note": None, "resolved_by": None, "resolved_ms": None}
    resolved = False
    comments: dict[str, dict] = {}
    moderated = fold_moderation(root, rest, policies)
    helpers: dict[str, dict] = {}
    thanks: list[tuple] = []
    # Pledges to a need, claims on a supply (whichever fits the post's type), and the
    # withdrawals of that same kind.
    pledge_kind, withdraw_kind, named = {
        "need": ("pledge.made", "pledge.withdrawn", "pledge"),
        "offer": ("claim.made", "claim.withdrawn", "claim"),
    }.get(root.body["type"], (None, None, None))
    pledges: dict[str, Record] = {}
    withdrawn: set[tuple[str, str | None]] = set()
    for r in rest:
        fields = r.fields  # read directly: Record's attribute forwarding costs a call each
        kind, body, author, ms = fields["kind"], fields["body"], fields["author"], fields["hlc"][0]
        if kind == "post.resolved":
            resolved = True
            post.update(resolved_note=body["note"], resolved_by=author, resolved_ms=ms)
        elif kind == "post.reopened":
            resolved = False
            post.update(resolved_note=None, resolved_by=None, resolved_ms=None)
        elif kind == "comment.added":
            comments[r.id] = {"author": author, "text": body["text"], "created_ms": ms}
        elif kind == "help.offered" and author:
            since = helpers.get(author, {}).get("since_ms", ms)
            helpers[author] = {"mode": body["mode"], "since_ms": since}
        elif kind == "help.withdrawn":
            helpers.pop(author, None)
        elif kind == "thanks.given":
            thanks.append((r.id, root.id, author, body["helper"], body["message"], ms))
        elif kind == pledge_kind:
            pledges[r.id] = r
        elif kind == withdraw_kind:
            withdrawn.add((body[named], author))
    lines, pledge_rows, covered, covered_at = fold_pledges(root, pledges, withdrawn)
    if covered and not resolved:
        # Every item is pledged (or claimed): the post closes by itself, at the time of
        # the pledge that covered it, until a withdrawal opens it again.
        resolved = True
        post.update(resolved_note=None, resolved_by=None, resolved_ms=covered_at)
    for cid, (hidden, reason) in moderated.comments.items():
        if cid in comments:
            comments[cid].update(hidden=hidden, hidden_reason=reason)

    if resolved:
        status = "resolved"
    elif any(h["mode"] == "on_it" for h in helpers.values()):
        status = "on_it"
    else:
        status = "open"
    b = root.body
    row = (
        root.id,
        root.origin,
        root.author,
        b["type"],
        b["title"],
        b["details"],
        b["category"],
        b["place"],
        b["needed_by"],
        root.hlc[0],
        status,
        STATUS_RANK[status],
        post["resolved_note"],
        post["resolved_by"],
        post["resolved_ms"],
        moderated.hidden,
        moderated.hidden_reason,
        sum(1 for c in comments.values() if not c.get("hidden")),
        len(helpers),
        b.get("org"),
        b.get("use_by"),
        covered,
        moderated.fresh_ms,
        None if resolved else moderated.asked_ms,
        moderated.stale and not resolved,
    )
    comment_rows = [
        (
            cid,
            root.id,
            c["author"],
            c["text"],
            c["created_ms"],
            c.get("hidden", False),
            c.get("hidden_reason"),
        )
        for cid, c in comments.items()
    ]
    helper_rows = [(root.id, m, h["mode"], h["since_ms"]) for m, h in helpers.items()]
    return row, comment_rows, helper_rows, thanks, lines, pledge_rows, moderated


def _write_posts(entities: list[tuple[Record, list[Record]]]) -> None:
    posts, comments, helpers, thanks, lines, pledges, moderated = [], [], [], [], [], [], []
    policies = load_policies()
    for root, rest in entities:
        row, post_comments, post_helpers, post_thanks, post_lines, post_pledges, mod = _fold_post(
            root, rest, policies
        )
        moderated.append(mod)
        posts.append(row)
        comments.extend(post_comments)
        helpers.extend(post_helpers)
        thanks.extend(post_thanks)
        lines.extend(post_lines)
        pledges.extend(post_pledges)
    ids = [row[0] for row in posts]
    # The searchable text comes from the creating record, which never changes: the
    # search row is written when the post row is new (or, defensively, if its text
    # somehow differs), not on every refold.
    indexed: dict[str, tuple] = {}
    for chunk in chunks(ids):
        cursor = database.execute_sql(
            f"SELECT id, title, details, place FROM post WHERE id IN ({marks(chunk)})", chunk
        )
        indexed.update((row[0], row[1:]) for row in cursor)
    executemany(_UPSERT_POST, posts)
    text = POST_COLUMNS.index("title"), POST_COLUMNS.index("details"), POST_COLUMNS.index("place")
    stale = [row[0] for row in posts if indexed.get(row[0]) != tuple(row[i] for i in text)]
    for chunk in chunks(stale):
        rowids = database.execute_sql(
            f"SELECT rowid FROM post WHERE id IN ({marks(chunk)})", chunk
        ).fetchall()
        executemany("DELETE FROM post_fts WHERE rowid = ?", rowids)
        database.execute_sql(
            "INSERT INTO post_fts (rowid, post_id, title, details, place) "
            f"SELECT rowid, id, title, details, place FROM post WHERE id IN ({marks(chunk)})",
            chunk,
        )
    for table in ("comment", "helper", "thanks"):
        delete_where_in(table, "post", ids)
    executemany(_INSERT_COMMENT, comments)
    executemany(_INSERT_HELPER, helpers)
    executemany(_INSERT_THANKS, thanks)
    write_post_food(ids, lines, pledges)
    write_moderation(ids, moderated)


# --- trust ---------------------------------------------------------------------------------


def _fold_trust(root: Record, rest: list[Record]) -> tuple:
    """Return a trust grant's row: whom it trusts, up to which seq if revoked."""
    last_seq = None
    for r in rest:
        if r.kind == "trust.revoked" and r.origin == root.origin:
            last_seq = r.body["last_seq"]
    return (root.id, root.origin, root.body["origin"], root.body["name"], last_seq)


def _write_trust(entities: list[tuple[Record, list[Record]]]) -> None:
    rows = [_fold_trust(root, rest) for root, rest in entities]
    executemany(_REPLACE_TRUST, rows)
    # Pairing directly sets the default for that origin's hides (fold_moderation.Policies).
    posts = posts_moderated("origin", sorted({row[2] for row in rows}))
    if posts:
        refold_many(posts)


WRITERS = {
    "centre": _write_centres,
    "member": _write_members,
    "post": _write_posts,
    "trust": _write_trust,
    "org": write_orgs,
    "item": write_items,
    "shift": write_shifts,
    "ride": write_rides,
    "proposal": _write_proposals,
}
