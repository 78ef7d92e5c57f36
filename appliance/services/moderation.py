"""Moderation people can see: flags, hides with a rule and a reason, appeals, peers' hides.

Which hides count, how flags count and what an appeal answers are decided by the fold
(appliance/fold_moderation.py); this module checks who may act, validates and writes the
records. Flags, appeals, reviews and the per-peer choice stay on this box (scope local);
hides and restores travel to paired centres, which honour, review or ignore them (a
hide by someone who is not staff at its centre never counts anywhere).
What members and staff read about it is in appliance/services/moderation_log.py.
"""

from __future__ import annotations

from appliance import projection
from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.fold_moderation import load_policies, posts_moderated
from appliance.kinds import FLAG_REASONS, MODERATION_MODES, NOTE_MAX, REASON_MAX
from appliance.models import Appeal, Comment, Flag, ModerationEvent, Post
from appliance.services import rules
from appliance.services.accounts import Actor, require_member
from appliance.services.board import visible_post
from appliance.services.members import require_staff
from appliance.services.moderation_log import (
    author_view,
    in_agreed_order,
    review_queue,
    target_is,
)
from appliance.text import clean_text

__all__ = [
    "STAFF_RULES",
    "appeal",
    "author_view",
    "clear_flags",
    "decide_appeal",
    "flag",
    "post_of_comment",
    "review_peer_hide",
    "review_queue",
    "set_comment_hidden",
    "set_hidden",
    "set_peer_policy",
    "set_post_hidden",
]

# The rules staff may name when they hide something; "flags" is the box's own rule.
STAFF_RULES = (*FLAG_REASONS, "conduct")
APPEAL_OUTCOMES = ("upheld", "overturned")
REVIEW_DECISIONS = ("accept", "dismiss")


def _reason(reason: str, required: bool) -> str:
    reason = clean_text(reason)
    if required and not reason:
        raise InvalidInput({"reason": N_("Please say why, so others can see the decision.")})
    if len(reason) > REASON_MAX:
        raise InvalidInput({"reason": N_("Please keep the reason under 500 characters.")})
    return reason


def _rule(rule: str | None) -> str:
    rule = rule or "conduct"
    if rule not in STAFF_RULES:
        raise InvalidInput({"rule": N_("Please choose which rule it breaks.")})
    return rule


def _target(post_id: str, comment_id: str | None) -> tuple[Post, Comment | None]:
    """Return the post and (if named) its comment, or raise NotFound."""
    post = Post.get_or_none(Post.id == (post_id or ""))
    if post is None:
        raise NotFound(N_("That post does not exist or has been removed."))
    if not comment_id:
        return post, None
    comment = Comment.get_or_none((Comment.id == comment_id) & (Comment.post == post.id))
    if comment is None:
        raise NotFound(N_("That comment does not exist."))
    return post, comment


def _pending_by_box(post_id: str, comment_id: str | None) -> bool:
    """Return True if the latest hide that counts here was this box's automatic one."""
    events = ModerationEvent.select().where(
        target_is(ModerationEvent, post_id, comment_id) & ModerationEvent.honoured
    )
    latest = next(iter(reversed(list(in_agreed_order(events)))), None)
    return latest is not None and latest.action == "hidden" and latest.by_box


def set_post_hidden(
    box: Box,
    actor: Actor | None,
    post_id: str,
    hidden: bool,
    reason: str,
    rule: str | None = None,
) -> None:
    """Hide a post from everyone but staff under a rule (or show it again), with a reason.

    A post the box hid by itself after flags can be hidden again by staff: that is
    staff's decision to keep it hidden, with their rule and reason.
    """
    require_staff(actor)
    post = visible_post(actor, post_id)
    if post.hidden == hidden and not (hidden and _pending_by_box(post.id, None)):
        raise Conflict(
            N_("That post is already hidden.") if hidden else N_("That post is not hidden.")
        )
    if hidden:
        body = {"reason": _reason(reason, True), "rule": _rule(rule)}
        box.log.append("post.hidden", body, subject=post.id, author=actor.id)
    else:
        body = {"reason": _reason(reason, False)}
        box.log.append("post.unhidden", body, subject=post.id, author=actor.id)


def post_of_comment(comment_id: str) -> str:
    """Return the id of the post a comment belongs to, or raise NotFound."""
    comment = Comment.get_or_none(Comment.id == comment_id)
    if comment is None:
        raise NotFound(N_("That comment does not exist."))
    return comment.post


def set_comment_hidden(
    box: Box,
    actor: Actor | None,
    comment_id: str,
    hidden: bool,
    reason: str,
    rule: str | None = None,
) -> str:
    """Hide a comment from everyone but staff (or show it again); return its post id."""
    require_staff(actor)
    comment = Comment.get_or_none(Comment.id == comment_id)
    if comment is None:
        raise NotFound(N_("That comment does not exist."))
    if comment.hidden == hidden and not (hidden and _pending_by_box(comment.post, comment.id)):
        raise Conflict(
            N_("That comment is already hidden.") if hidden else N_("That comment is not hidden.")
        )
    body = {"comment": comment.id, "reason": _reason(reason, hidden)}
    if hidden:
        body["rule"] = _rule(rule)
    kind = "comment.hidden" if hidden else "comment.unhidden"
    box.log.append(kind, body, subject=comment.post, author=actor.id)
    return comment.post


def flag(
    box: Box,
    actor: Actor | None,
    post_id: str,
    comment_id: str | None,
    reason: str,
    note: str = "",
) -> str:
    """Flag a post or comment for staff to look at; return the flag's id.

    When flags from enough different members count on it (the centre's rule
    `flags_to_hide`; 0 turns this off), the box hides it pending review, in the same
    transaction.
    """
    require_member(actor)
    comment_id = comment_id or None
    post, comment = _target(post_id, comment_id)
    if post.hidden:
        raise NotFound(N_("That post does not exist or has been removed."))
    if comment is not None and comment.hidden:
        raise NotFound(N_("That comment does not exist."))
    if (comment or post).author == actor.id:
        raise NotAllowed(
            N_("You cannot flag your own comment.")
            if comment
            else N_("You cannot flag your own post.")
        )
    if reason not in FLAG_REASONS:
        raise InvalidInput({"reason": N_("Please choose what is wrong.")})
    note = clean_text(note)
    if reason == "other" and not note:
        raise InvalidInput(
            {"note": N_("Please say what is wrong, so staff know what to look for.")}
        )
    if len(note) > REASON_MAX:
        raise InvalidInput({"note": N_("Please keep the note under 500 characters.")})
    with database.atomic():
        counting = Flag.select().where(target_is(Flag, post.id, comment_id) & Flag.counts)
        if counting.where(Flag.member == actor.id).exists():
            raise Conflict(N_("You have already flagged this; staff will look at it."))
        body = {"comment": comment_id, "reason": reason, "note": note}
        record = box.log.append(
            "flag.raised", body, subject=post.id, author=actor.id, scope="local"
        )
        members = counting.select(Flag.member).distinct().count()
        threshold = rules.rule(box, "flags_to_hide")
        if threshold and members >= threshold:  # 0: the centre hides nothing by itself
            _hide_for_flags(box, post.id, comment_id, members)
    return record.id


def _hide_for_flags(box: Box, post_id: str, comment_id: str | None, members: int) -> None:
    """Hide a target pending review, as the box (no author), unless it is hidden already."""
    target = Comment.get_by_id(comment_id) if comment_id else Post.get_by_id(post_id)
    if target.hidden:
        return
    # Plain English, not a translation key: the record travels to other centres as is.
    body = {"reason": f"Hidden pending review: flagged by {members} members", "rule": "flags"}
    if comment_id:
        box.log.append("comment.hidden", {"comment": comment_id, **body}, subject=post_id)
    else:
        box.log.append("post.hidden", body, subject=post_id)


def clear_flags(
    box: Box, actor: Actor | None, post_id: str, comment_id: str | None, reason: str = ""
) -> None:
    """Stop counting the flags on a post or comment: staff looked and found nothing wrong."""
    require_staff(actor)
    comment_id = comment_id or None
    post, _comment = _target(post_id, comment_id)
    counting = Flag.select().where(target_is(Flag, post.id, comment_id) & Flag.counts)
    if not counting.exists():
        raise Conflict(N_("There are no flags to clear on that."))
    body = {"comment": comment_id, "reason": _reason(reason, False)}
    box.log.append("flags.cleared", body, subject=post.id, author=actor.id, scope="local")


def appeal(box: Box, actor: Actor | None, post_id: str, comment_id: str | None, text: str) -> str:
    """Appeal, once, against the hiding of one's own post or comment; return the appeal id."""
    require_member(actor)
    comment_id = comment_id or None
    post, comment = _target(post_id, comment_id)
    target = comment or post
    if target.author != actor.id:
        raise NotAllowed(N_("Only the person who wrote it can appeal."))
    mine = Appeal.select().where(
        target_is(Appeal, post.id, comment_id) & (Appeal.member == actor.id)
    )
    if mine.exists():
        raise Conflict(N_("You have already appealed; an appeal is answered once."))
    if not target.hidden:
        raise Conflict(N_("Only something that is hidden can be appealed."))
    text = clean_text(text)
    if not text:
        raise InvalidInput({"text": N_("Please say why it should be shown again.")})
    if len(text) > NOTE_MAX:
        raise InvalidInput({"text": N_("Please keep your appeal under 1000 characters.")})
    body = {"comment": comment_id, "text": text}
    return box.log.append("appeal.made", body, subject=post.id, author=actor.id, scope="local").id


def decide_appeal(box: Box, actor: Actor | None, appeal_id: str, outcome: str, reason: str) -> None:
    """Answer an appeal: upheld (it stays hidden) or overturned (it is shown again)."""
    require_staff(actor)
    row = Appeal.get_or_none(Appeal.id == (appeal_id or ""))
    if row is None:
        raise NotFound(N_("There is no such appeal."))
    if row.outcome is not None:
        raise Conflict(
            N_("That appeal has already been answered; there is no appeal against the answer.")
        )
    errors = {}
    if outcome not in APPEAL_OUTCOMES:
        errors["outcome"] = N_("Please choose whether it stays hidden or is shown again.")
    if not clean_text(reason):
        errors["reason"] = N_("Please say why, so the author can see the decision.")
    if errors:
        raise InvalidInput(errors)
    reason = _reason(reason, True)
    with database.atomic():
        body = {"appeal": row.id, "outcome": outcome, "reason": reason}
        box.log.append("appeal.decided", body, subject=row.post, author=actor.id, scope="local")
        if outcome == "overturned":
            target = Comment.get_by_id(row.comment) if row.comment else Post.get_by_id(row.post)
            if target.hidden:
                if row.comment:
                    set_comment_hidden(box, actor, row.comment, False, reason)
                else:
                    set_post_hidden(box, actor, row.post, False, reason)


def set_peer_policy(box: Box, actor: Actor | None, origin: str, mode: str) -> None:
    """Choose whether this centre honours, reviews or ignores a centre's hides: one it paired
    with, or one it trusts through a paired centre."""
    require_staff(actor)
    if not origin or origin == box.origin or origin not in box.log.trusted_origins():
        raise InvalidInput({"origin": N_("That is not a centre this box exchanges records with.")})
    if mode not in MODERATION_MODES:
        raise InvalidInput({"mode": N_("Please choose honour, review or ignore.")})
    if load_policies().mode(origin) == mode:
        raise Conflict(N_("That is already this centre's choice for that centre."))
    centre = box.centre
    if centre is None:
        raise NotFound(N_("This box has no centre yet; run kith init."))
    with database.atomic():
        body = {"origin": origin, "mode": mode}
        box.log.append(
            "moderation.policy.set", body, subject=centre.id, author=actor.id, scope="local"
        )
        # The fold of a post reads the policy: refold every post that centre moderated.
        projection.refold_many(posts_moderated("origin", [origin]))


def review_peer_hide(box: Box, actor: Actor | None, hide_id: str, decision: str) -> None:
    """Accept or dismiss a paired centre's hide (or restore) that waits for review here."""
    require_staff(actor)
    event = ModerationEvent.get_or_none(ModerationEvent.id == (hide_id or ""))
    if event is None:
        raise NotFound(N_("There is no such decision to review."))
    if event.review != "pending":
        raise Conflict(N_("That decision is not waiting for a review."))
    if decision not in REVIEW_DECISIONS:
        raise InvalidInput({"decision": N_("Please choose accept or dismiss.")})
    body = {"hide": event.id, "decision": decision}
    box.log.append("hide.reviewed", body, subject=event.post, author=actor.id, scope="local")


def set_hidden(
    box: Box,
    actor: Actor | None,
    post_id: str,
    comment_id: str | None,
    hidden: bool,
    reason: str,
    rule: str | None = None,
) -> None:
    """Hide (or show again) a post, or one of its comments if `comment_id` is given."""
    require_staff(actor)
    post, comment = _target(post_id, comment_id or None)
    if comment is None:
        set_post_hidden(box, actor, post.id, hidden, reason, rule)
    else:
        set_comment_hidden(box, actor, comment.id, hidden, reason, rule)
