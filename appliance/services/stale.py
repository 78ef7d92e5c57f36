"""The "still needed?" sweep: ask about old posts, mark unanswered ones stale, revive them.

A post of this box that has been open `stale_days` (a community rule) since it was last
known to be wanted is asked about (`post.stale_check`, written by the box). Its poster
answers yes (`post.still_needed`) or no (the post is resolved), or, after
`stale_answer_days` without an answer, the box marks it stale (`post.staled`): it leaves
the main board for the "Gone quiet" list, where any member can revive it. A post staff
made for a visitor at the desk is asked of staff, since the visitor has no account.

The fold (appliance/fold_moderation.py) turns these records into Post.fresh_ms,
Post.asked_ms and Post.stale; this module only decides who may write which, and when.
"""

from __future__ import annotations

from peewee import fn

from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed
from appliance.models import Post
from appliance.services import board
from appliance.services.accounts import Actor, require_member
from appliance.services.assisted import was_assisted
from appliance.services.rules import rule

DAY_MS = 86_400_000
# The note on a post its poster said is no longer needed (a record body: plain English).
NO_LONGER_NEEDED = "No longer needed"
ACTIVE = ("open", "on_it")


def sweep(box: Box) -> int:
    """Ask about posts open too long and mark unanswered ones stale; return records written.

    Running it again at once writes nothing: an asked post is not asked again until it
    is answered, and a stale one is left alone until someone revives it.
    """
    now = box.log.now_ms()
    ask_before = now - rule(box, "stale_days") * DAY_MS
    answer_before = now - rule(box, "stale_answer_days") * DAY_MS
    ours = (
        (Post.origin == box.origin)
        & Post.status.in_(ACTIVE)
        & (Post.hidden == False)  # noqa: E712
        & (Post.stale == False)  # noqa: E712
        & Post.author.is_null(False)  # nobody could answer for the box itself
    )
    unanswered = [
        p.id
        for p in Post.select(Post.id)
        .where(ours & (Post.asked_ms < answer_before))
        .order_by(Post.created_ms, Post.id)
    ]
    last_seen = fn.COALESCE(Post.fresh_ms, Post.created_ms)
    to_ask = [
        p.id
        for p in Post.select(Post.id)
        .where(ours & Post.asked_ms.is_null() & (last_seen < ask_before))
        .order_by(Post.created_ms, Post.id)
    ]
    with database.atomic():
        for post_id in unanswered:
            box.log.append("post.staled", {}, subject=post_id)
        for post_id in to_ask:
            box.log.append("post.stale_check", {}, subject=post_id)
    return len(unanswered) + len(to_ask)


def _asked_of_staff(box: Box, post: Post) -> bool:
    """True if this box's staff answer for the post: they made it for a visitor here."""
    assisted, origin = was_assisted(post.id)
    return assisted and origin == box.origin


def can_answer(box: Box, actor: Actor | None, post: Post) -> bool:
    """True if the actor answers "still needed?" for the post: its poster, or for a post
    made for a visitor at this centre's desk, any of its staff."""
    if actor is None:
        return False
    if post.author == actor.id:
        return True
    return actor.is_staff and _asked_of_staff(box, post)


def parse_answer(value: str | None) -> bool:
    """Read a "still needed?" answer ("yes" or "no"), or raise InvalidInput."""
    if value not in ("yes", "no"):
        raise InvalidInput({"answer": N_("Please answer yes or no.")})
    return value == "yes"


def answer(box: Box, actor: Actor | None, post_id: str, still_needed: bool) -> None:
    """Answer "is this still needed?": yes keeps the post on the board, no resolves it."""
    require_member(actor)
    post = board.visible_post(actor, post_id)
    if not can_answer(box, actor, post):
        raise NotAllowed(N_("Only the person who posted this can say whether it is still needed."))
    if post.hidden:
        raise Conflict(N_("That post is hidden; unhide it first."))
    if post.asked_ms is None:
        raise Conflict(
            N_("Nobody is asking about this post just now, so there is nothing to answer.")
        )
    if still_needed:
        box.log.append("post.still_needed", {}, subject=post.id, author=actor.id)
    else:
        board.resolve(box, actor, post.id, NO_LONGER_NEEDED)


def revive(box: Box, actor: Actor | None, post_id: str) -> None:
    """Bring a post that went quiet back to the main board (any signed-in member)."""
    require_member(actor)
    post = board.visible_post(actor, post_id)
    if post.hidden:
        raise Conflict(N_("That post is hidden; unhide it first."))
    if not post.stale:
        raise Conflict(
            N_("This post is on the board already; only posts that went quiet can be revived.")
        )
    box.log.append("post.revived", {}, subject=post.id, author=actor.id)


def my_questions(box: Box, actor: Actor | None) -> list[dict]:
    """Return the posts waiting for the actor's answer to "still needed?", oldest first.

    For staff, that includes the posts they (or a colleague) made for visitors here.
    """
    if actor is None:
        return []
    asked = Post.asked_ms.is_null(False) & (Post.hidden == False)  # noqa: E712
    mine = Post.author == actor.id
    if actor.is_staff:
        mine = mine | (Post.origin == box.origin)
    out = []
    for p in Post.select().where(asked & mine).order_by(Post.asked_ms, Post.id):
        for_visitor = actor.is_staff and _asked_of_staff(box, p)
        if p.author == actor.id or for_visitor:
            out.append(
                {"id": p.id, "title": p.title, "asked_ms": p.asked_ms, "for_visitor": for_visitor}
            )
    return out
