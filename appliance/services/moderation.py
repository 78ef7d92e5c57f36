"""Staff moderation: hiding and unhiding posts and comments, each with a reason."""

from __future__ import annotations

from appliance.box import Box
from appliance.errors import N_, Conflict, InvalidInput, NotFound
from appliance.kinds import REASON_MAX
from appliance.models import Comment
from appliance.services.accounts import Actor
from appliance.services.board import visible_post
from appliance.services.members import require_staff


def _reason(reason: str, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise InvalidInput({"reason": N_("Please say why, so others can see the decision.")})
    if len(reason) > REASON_MAX:
        raise InvalidInput({"reason": N_("Please keep the reason under 500 characters.")})
    return reason


def set_post_hidden(box: Box, actor: Actor | None, post_id: str, hidden: bool, reason: str) -> None:
    """Hide a post from everyone but staff (or show it again), with a reason."""
    require_staff(actor)
    post = visible_post(actor, post_id)
    if post.hidden == hidden:
        raise Conflict(
            N_("That post is already hidden.") if hidden else N_("That post is not hidden.")
        )
    kind = "post.hidden" if hidden else "post.unhidden"
    box.log.append(kind, {"reason": _reason(reason, hidden)}, subject=post.id, author=actor.id)


def post_of_comment(comment_id: str) -> str:
    """Return the id of the post a comment belongs to, or raise NotFound."""
    comment = Comment.get_or_none(Comment.id == comment_id)
    if comment is None:
        raise NotFound(N_("That comment does not exist."))
    return comment.post


def set_comment_hidden(
    box: Box, actor: Actor | None, comment_id: str, hidden: bool, reason: str
) -> str:
    """Hide a comment from everyone but staff (or show it again); return its post id."""
    require_staff(actor)
    comment = Comment.get_or_none(Comment.id == comment_id)
    if comment is None:
        raise NotFound(N_("That comment does not exist."))
    if comment.hidden == hidden:
        raise Conflict(
            N_("That comment is already hidden.") if hidden else N_("That comment is not hidden.")
        )
    kind = "comment.hidden" if hidden else "comment.unhidden"
    box.log.append(
        kind,
        {"comment": comment.id, "reason": _reason(reason, hidden)},
        subject=comment.post,
        author=actor.id,
    )
    return comment.post
