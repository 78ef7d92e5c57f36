"""What people read about moderation: the public log, staff's queue, an author's view.

The public log says what was hidden or restored, when, under which rule, by which role
and why, and never who: no names, no titles, no post or comment text, no member ids and
no links to hidden content. Labels are English source strings (N_) with their params,
translated by the page that shows them.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.errors import N_, NotFound
from appliance.fold_moderation import UNAUTHORISED, load_policies
from appliance.kinds import FLAG_REASONS
from appliance.models import (
    Appeal,
    Centre,
    Comment,
    Flag,
    Member,
    ModerationEvent,
    Post,
    StoredRecord,
    TrustedOrigin,
)
from appliance.services.accounts import Actor, require_member
from appliance.services.centre import category_labels
from appliance.services.members import require_staff
from appliance.services.peers import fingerprint

# Why something was hidden, for people (the keys are appliance/kinds.py HIDE_RULES).
RULE_LABELS = {
    "spam": N_("Spam"),
    "offensive": N_("Offensive"),
    "personal_info": N_("Personal information"),
    "off_topic": N_("Does not belong here"),
    "other": N_("Something else"),
    "conduct": N_("The code of conduct"),
    "flags": N_("Flagged by members, waiting for staff"),
}
NO_RULE = N_("No rule named")
# How many of the latest hides by people without a staff role the queue lists.
UNAUTHORISED_SHOWN = 50
# The choices of the "Report" form, in order.
FLAG_CHOICES = [(reason, RULE_LABELS[reason]) for reason in FLAG_REASONS]


def target_is(model, post_id: str, comment_id: str | None):
    """Return the condition "this row is about that post (comment None) or comment"."""
    on_comment = model.comment.is_null() if comment_id is None else model.comment == comment_id
    return (model.post == post_id) & on_comment


def rule_label(rule: str | None) -> str:
    """Return the readable label of a hide's rule."""
    return RULE_LABELS.get(rule, NO_RULE) if rule else NO_RULE


def _centre_names() -> dict[str, str]:
    return {c.origin: c.name for c in Centre.select(Centre.origin, Centre.name)}


def _by(box: Box, event: ModerationEvent, centres: dict[str, str]) -> tuple[str, dict]:
    """Return who acted, by role only, as a message and its params."""
    here = event.origin == box.origin
    centre = centres.get(event.origin, "")
    if event.by_box:
        if here:
            return N_("Automatically, after flags from members"), {}
        return N_("Automatically at %(centre)s, after flags from members"), {"centre": centre}
    if here:
        return N_("Staff of this centre"), {}
    return N_("Staff of %(centre)s"), {"centre": centre}


def public_log(box: Box, *, limit: int = 50, before_ms: int | None = None) -> list[dict]:
    """Return the moderation that counts here and the answered appeals, newest first."""
    events = ModerationEvent.select().where(ModerationEvent.honoured)
    appeals = Appeal.select().where(Appeal.outcome.is_null(False))
    if before_ms is not None:
        events = events.where(ModerationEvent.at_ms < before_ms)
        appeals = appeals.where(Appeal.decided_ms < before_ms)
    events = list(events.order_by(ModerationEvent.at_ms.desc()).limit(limit))
    appeals = list(appeals.order_by(Appeal.decided_ms.desc()).limit(limit))
    post_ids = {e.post for e in events} | {a.post for a in appeals}
    categories = {
        p.id: p.category for p in Post.select(Post.id, Post.category).where(Post.id.in_(post_ids))
    }
    labels = category_labels(box)
    centres = _centre_names()

    def what(post_id: str, comment_id: str | None) -> tuple[str, dict]:
        if comment_id:
            return N_("A comment"), {}
        if post_id in categories:
            label = labels.get(categories[post_id], categories[post_id])
            return N_("A post in %(category)s"), {"category": label}
        return N_("A post"), {}

    rows = []
    for e in events:
        by, by_params = _by(box, e, centres)
        text, params = what(e.post, e.comment)
        rows.append(
            {
                "type": "decision",
                "at_ms": e.at_ms,
                "what": text,
                "what_params": params,
                "action": e.action,
                "rule": rule_label(e.rule) if e.action == "hidden" else None,
                "by": by,
                "by_params": by_params,
                "reason": e.reason,
            }
        )
    for a in appeals:
        text, params = what(a.post, a.comment)
        rows.append(
            {
                "type": "appeal",
                "at_ms": a.decided_ms,
                "what": text,
                "what_params": params,
                "outcome": a.outcome,
            }
        )
    rows.sort(key=lambda r: r["at_ms"], reverse=True)
    return rows[:limit]


def _latest_hides() -> dict[tuple[str, str | None], ModerationEvent]:
    """Return the latest hide or restore that counts here, per post or comment."""
    latest = {}
    for e in in_agreed_order(ModerationEvent.select().where(ModerationEvent.honoured)):
        latest[(e.post, e.comment)] = e
    return latest


def in_agreed_order(events):
    """Order moderation events as the fold does: by (hlc, origin, id) of their records."""
    return events.join(StoredRecord, on=(StoredRecord.id == ModerationEvent.id)).order_by(
        StoredRecord.hlc_ms, StoredRecord.hlc_c, StoredRecord.origin, StoredRecord.id
    )


def _flags_by_target() -> dict[tuple[str, str | None], dict]:
    """Return the counting flags per post or comment: reasons with counts, and notes."""
    out: dict[tuple[str, str | None], dict] = {}
    for f in Flag.select().where(Flag.counts).order_by(Flag.created_ms):
        entry = out.setdefault((f.post, f.comment), {"count": 0, "reasons": {}, "notes": []})
        entry["count"] += 1
        entry["reasons"][f.reason] = entry["reasons"].get(f.reason, 0) + 1
        if f.note:
            entry["notes"].append(f.note)
        entry.setdefault("since_ms", f.created_ms)
    return out


def _describe(post: Post | None, comment: Comment | None) -> dict:
    return {
        "post": post.id if post else None,
        "title": post.title if post else "",
        "comment": comment.id if comment else None,
        "text": comment.text if comment else None,
    }


def _lookup(keys) -> tuple[dict[str, Post], dict[str, Comment]]:
    post_ids = {p for p, _ in keys}
    comment_ids = {c for _, c in keys if c}
    posts = {p.id: p for p in Post.select().where(Post.id.in_(post_ids))}
    comments = {c.id: c for c in Comment.select().where(Comment.id.in_(comment_ids))}
    return posts, comments


def _flag_summary(entry: dict) -> dict:
    reasons = [
        {"reason": r, "label": RULE_LABELS[r], "count": n}
        for r, n in sorted(entry["reasons"].items(), key=lambda item: -item[1])
    ]
    return {"count": entry["count"], "reasons": reasons, "notes": entry["notes"]}


def review_queue(box: Box, actor: Actor | None) -> dict:
    """Return what waits for staff: flagged, hidden by flags, appeals, peers' hides."""
    require_staff(actor)
    flags = _flags_by_target()
    latest = _latest_hides()
    waiting_appeals = list(
        Appeal.select().where(Appeal.outcome.is_null()).order_by(Appeal.created_ms)
    )
    peer_events = list(
        ModerationEvent.select()
        .where(ModerationEvent.review == "pending")
        .order_by(ModerationEvent.at_ms)
    )
    # Hides and restores by someone who held no staff role at their centre: they never
    # count, but staff should know someone tried.
    unauthorised_events = list(
        ModerationEvent.select()
        .where(ModerationEvent.review == UNAUTHORISED)
        .order_by(ModerationEvent.at_ms.desc())
        .limit(UNAUTHORISED_SHOWN)
    )
    keys = (
        set(flags)
        | set(latest)
        | {(a.post, a.comment) for a in waiting_appeals}
        | {(e.post, e.comment) for e in peer_events}
        | {(e.post, e.comment) for e in unauthorised_events}
    )
    posts, comments = _lookup(keys)

    def hidden(key) -> bool:
        target = comments.get(key[1]) if key[1] else posts.get(key[0])
        return bool(target and target.hidden)

    def described(key):
        post = posts.get(key[0])
        return _describe(post, comments.get(key[1]) if key[1] else None)

    flagged = [
        {**described(key), **_flag_summary(entry)}
        for key, entry in sorted(flags.items(), key=lambda kv: -kv[1]["count"])
        if key[0] in posts and not hidden(key)
    ]
    pending = [
        {
            **described(key),
            "reason": e.reason,
            "at_ms": e.at_ms,
            "flags": _flag_summary(flags[key]) if key in flags else None,
        }
        for key, e in latest.items()
        if e.action == "hidden" and e.by_box and e.origin == box.origin and hidden(key)
    ]
    names = {
        m.id: m.name
        for m in Member.select().where(Member.id.in_({a.member for a in waiting_appeals}))
    }
    appeals = []
    for a in waiting_appeals:
        key = (a.post, a.comment)
        hide = latest.get(key)
        appeals.append(
            {
                **described(key),
                "id": a.id,
                "member": names.get(a.member, ""),
                "appeal": a.text,
                "at_ms": a.created_ms,
                "hidden_reason": hide.reason if hide and hide.action == "hidden" else None,
                "rule": rule_label(hide.rule) if hide and hide.action == "hidden" else None,
                "still_hidden": hidden(key),
            }
        )
    centres = _centre_names()

    def decision(e: ModerationEvent) -> dict:
        return {
            **described((e.post, e.comment)),
            "id": e.id,
            "centre": centres.get(e.origin, ""),
            "here": e.origin == box.origin,
            "action": e.action,
            "rule": rule_label(e.rule) if e.action == "hidden" else None,
            "reason": e.reason,
            "at_ms": e.at_ms,
        }

    return {
        "flagged": flagged,
        "pending": pending,
        "appeals": appeals,
        "peer_hides": [decision(e) for e in peer_events],
        "unauthorised": [decision(e) for e in unauthorised_events if e.post in posts],
    }


def author_view(box: Box, actor: Actor | None, post_id: str) -> dict:
    """Return, for the author, why their post or comments on it were hidden and their appeals."""
    require_member(actor)
    post = Post.get_or_none(Post.id == (post_id or ""))
    if post is None:
        raise NotFound(N_("That post does not exist or has been removed."))
    appeals = {
        a.comment: a
        for a in Appeal.select().where((Appeal.post == post.id) & (Appeal.member == actor.id))
    }
    targets: list[tuple[Comment | None, bool]] = []
    if post.author == actor.id and (post.hidden or None in appeals):
        targets.append((None, post.hidden))
    mine = Comment.select().where((Comment.post == post.id) & (Comment.author == actor.id))
    for c in mine.order_by(Comment.created_ms):
        if c.hidden or c.id in appeals:
            targets.append((c, c.hidden))
    latest = _latest_hides()
    items = []
    for comment, is_hidden in targets:
        key = (post.id, comment.id if comment else None)
        hide = latest.get(key)
        hide = hide if hide is not None and hide.action == "hidden" else None
        a = appeals.get(key[1])
        items.append(
            {
                **_describe(post, comment),
                "created_ms": (comment or post).created_ms,
                "hidden": is_hidden,
                "reason": hide.reason if hide and is_hidden else None,
                "rule": rule_label(hide.rule) if hide and is_hidden else None,
                "appeal": None
                if a is None
                else {
                    "text": a.text,
                    "made_ms": a.created_ms,
                    "outcome": a.outcome,
                    "answer": a.answer,
                    "decided_ms": a.decided_ms,
                },
                "may_appeal": is_hidden and a is None,
            }
        )
    return {
        "post": post.id,
        "title": post.title if post.author == actor.id else None,
        "items": items,
    }


def post_moderation(box: Box, actor: Actor | None, post_id: str) -> dict:
    """Return what the viewer of a post's page may do about moderation on it.

    Which targets they may flag (not their own, not hidden, not already flagged by them
    while that flag counts), and the author's view of their own hidden things.
    """
    if actor is None:
        return {"flag_post": False, "flag_comments": set(), "flagged": set(), "mine": []}
    post = Post.get_or_none(Post.id == (post_id or ""))
    if post is None:
        return {"flag_post": False, "flag_comments": set(), "flagged": set(), "mine": []}
    flagged = {
        f.comment or post.id
        for f in Flag.select().where(
            (Flag.post == post.id) & (Flag.member == actor.id) & Flag.counts
        )
    }
    comments = Comment.select().where(
        (Comment.post == post.id)
        & ~Comment.hidden
        & (Comment.author.is_null() | (Comment.author != actor.id))
    )
    return {
        "flag_post": not post.hidden and post.author != actor.id and post.id not in flagged,
        "flag_comments": {c.id for c in comments if c.id not in flagged}
        if not post.hidden
        else set(),
        "flagged": flagged,
        "mine": author_view(box, actor, post.id)["items"],
    }


def is_hidden(post_id: str, comment_id: str | None = None) -> bool:
    """Return True if the post (or its comment) is hidden here, or gone."""
    if comment_id:
        target = Comment.get_or_none((Comment.id == comment_id) & (Comment.post == post_id))
    else:
        target = Post.get_or_none(Post.id == post_id)
    return target is None or target.hidden


def peer_choices(box: Box, actor: Actor | None) -> list[dict]:
    """Return each centre this box takes records from (paired directly, or through a
    paired centre) with this centre's choice for its moderation, paired ones first."""
    require_staff(actor)
    policies = load_policies()
    trusted = box.log.trusted_origins()
    trusted.pop(box.origin, None)
    if not trusted:
        return []
    direct = box.log.granted_here()
    centres = _centre_names()
    grants = list(TrustedOrigin.select().where(TrustedOrigin.origin.in_(list(trusted))))
    # A centre's own name once its centre record is here; until then, what pairing called it.
    named = {g.origin: g.name for g in grants if g.truster != box.origin}
    named.update({g.origin: g.name for g in grants if g.truster == box.origin})

    def name(origin: str) -> str:
        return centres.get(origin) or named.get(origin) or fingerprint(origin)

    hubs = {origin for origin, limit in direct.items() if limit is None}
    choices = []
    for origin in trusted:
        via = sorted({name(g.truster) for g in grants if g.origin == origin and g.truster in hubs})
        choices.append(
            {
                "origin": origin,
                "name": name(origin),
                "fingerprint": fingerprint(origin),
                "mode": policies.mode(origin),
                "direct": origin in direct,
                "ended": origin in direct and direct[origin] is not None,
                "via": ", ".join(via),
            }
        )
    return sorted(choices, key=lambda p: (not p["direct"], p["name"].casefold(), p["origin"]))
