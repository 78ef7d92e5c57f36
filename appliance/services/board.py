"""The notice board's actions: posting, commenting, helping, resolving and thanking."""

from __future__ import annotations

import datetime

from appliance.box import Box
from appliance.dates import local_day, parse_day
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.kinds import COMMENT_MAX, DETAILS_MAX, NOTE_MAX, PLACE_MAX, POST_TYPES, TITLE_MAX
from appliance.models import Helper, Org, Post
from appliance.services.accounts import Actor, require_member
from appliance.services.centre import categories
from appliance.services.conduct import require_accepted
from appliance.services.orgs import is_organiser
from appliance.text import clean_text, one_line

POST_FIELDS = ("type", "title", "details", "category", "place", "needed_by")


def today(box: Box) -> datetime.date:
    """Return today's date in the centre's time zone."""
    return local_day(box)


def check_post(box: Box, data: dict, only: tuple[str, ...] = POST_FIELDS) -> dict:
    """Validate post fields (all, or just `only`, for one step of the chat flow).

    Returns the cleaned body; raises InvalidInput naming each field that is wrong.
    """
    errors: dict[str, str] = {}
    body: dict = {}
    if "type" in only:
        body["type"] = clean_text(data.get("type"))
        if body["type"] not in POST_TYPES:
            errors["type"] = N_("Please choose what kind of post this is.")
    if "title" in only:
        body["title"] = one_line(data.get("title"))
        if not body["title"]:
            errors["title"] = N_("Please say in a few words what this is about.")
        elif len(body["title"]) > TITLE_MAX:
            errors["title"] = N_("Please keep the title under 120 characters.")
    if "details" in only:
        body["details"] = clean_text(data.get("details"))
        if len(body["details"]) > DETAILS_MAX:
            errors["details"] = N_("Please keep the details under 4000 characters.")
    if "category" in only:
        body["category"] = clean_text(data.get("category"))
        if body["category"] not in {c.slug for c in categories(box)}:
            errors["category"] = N_("Please choose one of the centre's categories.")
    if "place" in only:
        body["place"] = one_line(data.get("place"))
        if not body["place"]:
            errors["place"] = N_("Please say where: a street, a building or an area.")
        elif len(body["place"]) > PLACE_MAX:
            errors["place"] = N_("Please keep the place under 80 characters.")
    if "needed_by" in only:
        raw = clean_text(data.get("needed_by"))
        body["needed_by"] = raw or None
        if raw:
            try:
                day = parse_day(raw)
            except ValueError:
                errors["needed_by"] = N_("Please give the date as YYYY-MM-DD.")
            else:
                if day < today(box):
                    errors["needed_by"] = N_("That date has already passed.")
    if errors:
        raise InvalidInput(errors)
    return body


def create_post(box: Box, actor: Actor | None, data: dict) -> str:
    """Post a need, an offer or a "somebody should"; return the new post's id."""
    require_member(actor)
    require_accepted(box, actor)
    body = check_post(box, data)
    return box.log.append("post.created", body, author=actor.id).id


def visible_post(actor: Actor | None, post_id: str) -> Post:
    """Return a post the actor may see, or raise NotFound: a hidden post only for staff,
    and for its author, who is told why and may appeal."""
    post = Post.get_or_none(Post.id == post_id)
    if post is None or (
        post.hidden and not (actor and (actor.is_staff or actor.id == post.author))
    ):
        raise NotFound(N_("That post does not exist or has been removed."))
    return post


def _open_post(actor: Actor, post_id: str) -> Post:
    post = visible_post(actor, post_id)
    if post.hidden:
        raise Conflict(N_("That post is hidden; unhide it first."))
    return post


def add_comment(box: Box, actor: Actor | None, post_id: str, text: str) -> str:
    """Add a comment (a question, an answer, an update) to a post; return its id."""
    require_member(actor)
    require_accepted(box, actor)
    post = _open_post(actor, post_id)
    text = clean_text(text)
    if not text:
        raise InvalidInput({"text": N_("Please write a comment first.")})
    if len(text) > COMMENT_MAX:
        raise InvalidInput({"text": N_("Please keep comments under 2000 characters.")})
    return box.log.append("comment.added", {"text": text}, subject=post.id, author=actor.id).id


def offer_help(box: Box, actor: Actor | None, post_id: str, mode: str) -> None:
    """Say "I can help" (can_help) or "I'm on it" (on_it) on an open post."""
    require_member(actor)
    post = _open_post(actor, post_id)
    if mode not in ("can_help", "on_it"):
        raise InvalidInput({"mode": N_("Choose “I can help” or “I'm on it”.")})
    if post.status == "resolved":
        raise Conflict(N_("This has already been resolved. Thank you all the same!"))
    if post.author == actor.id:
        raise NotAllowed(N_("You posted this, so you cannot sign up to help with it."))
    current = Helper.get_or_none((Helper.post == post.id) & (Helper.member == actor.id))
    if current and current.mode == mode:
        raise Conflict(N_("You have already said that on this post."))
    box.log.append("help.offered", {"mode": mode}, subject=post.id, author=actor.id)


def withdraw_help(box: Box, actor: Actor | None, post_id: str) -> None:
    """Take back an offer of help."""
    require_member(actor)
    post = _open_post(actor, post_id)
    if not Helper.get_or_none((Helper.post == post.id) & (Helper.member == actor.id)):
        raise Conflict(N_("You are not helping with this post."))
    box.log.append("help.withdrawn", {}, subject=post.id, author=actor.id)


def can_close(actor: Actor | None, post: Post) -> bool:
    """True if the actor may resolve or reopen the post: staff, and its poster, or for an
    organisation's need or supply its current organisers (not whoever posted it: an
    organiser whose role was taken away no longer speaks for the organisation)."""
    if actor is None:
        return False
    if actor.is_staff:
        return True
    if post.org:
        return is_organiser(actor, post.org)
    return post.author == actor.id


def _require_closer(actor: Actor, post: Post) -> None:
    if can_close(actor, post):
        return
    if post.org:
        org = Org.get_or_none(Org.id == post.org)
        raise NotAllowed(
            N_("Only an organiser of %(org)s, or staff, can do that."),
            org=org.name if org else "?",
        )
    raise NotAllowed(N_("Only the person who posted this, or staff, can do that."))


def resolve(box: Box, actor: Actor | None, post_id: str, note: str = "") -> None:
    """Mark a post resolved with an optional note (see can_close for who may)."""
    require_member(actor)
    post = _open_post(actor, post_id)
    _require_closer(actor, post)
    if post.status == "resolved":
        raise Conflict(N_("This post is already resolved."))
    note = clean_text(note)
    if len(note) > NOTE_MAX:
        raise InvalidInput({"note": N_("Please keep the note under 1000 characters.")})
    box.log.append("post.resolved", {"note": note}, subject=post.id, author=actor.id)


def reopen(box: Box, actor: Actor | None, post_id: str) -> None:
    """Reopen a resolved post (see can_close for who may)."""
    require_member(actor)
    post = _open_post(actor, post_id)
    _require_closer(actor, post)
    if post.status != "resolved":
        raise Conflict(N_("This post is still open."))
    if post.covered:
        # The pledges (or claims) keep it closed: a reopening record would change nothing.
        raise Conflict(
            N_("Everything on this post is pledged or claimed; it opens again if one is withdrawn.")
        )
    box.log.append("post.reopened", {}, subject=post.id, author=actor.id)


def thank(box: Box, actor: Actor | None, post_id: str, helper_id: str, message: str) -> str:
    """Thank someone who helped with your post; return the thanks id."""
    require_member(actor)
    post = _open_post(actor, post_id)
    if post.author != actor.id:
        raise NotAllowed(N_("Only the person who posted this can thank its helpers."))
    if not Helper.get_or_none((Helper.post == post.id) & (Helper.member == helper_id)):
        raise InvalidInput({"helper": N_("Choose someone who is helping with this post.")})
    message = clean_text(message)
    if not message:
        raise InvalidInput({"message": N_("Please write a few words of thanks.")})
    if len(message) > NOTE_MAX:
        raise InvalidInput({"message": N_("Please keep it under 1000 characters.")})
    rec = box.log.append(
        "thanks.given", {"helper": helper_id, "message": message}, subject=post.id, author=actor.id
    )
    return rec.id
