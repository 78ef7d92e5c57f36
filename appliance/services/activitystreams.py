"""Activity Streams 2.0: the board's public posts and comments, and the moderation log.

For anyone who wants to federate further or read the board with another tool. A need is
a Question (a call for help), an offer an Offer, a "somebody should" a Note; a comment is
a Note in reply to its post. A hidden post or comment, asked for by id, is a Tombstone,
and so is one removed with an erased member. The moderation log is a collection of Flag
activities whose object is the Tombstone of what is still hidden.

Everything is attributed to the centre (an Organization at the "centre" address), never
to a member: no names, no member ids, no helpers, no thanks. Addresses come from the web
layer through `link(name, **values)`, with these names: "centre", "board", "posts"
(page), "post" (post_id), "post_page" (post_id), "replies" (post_id), "comment"
(comment_id) and "moderation" (page).
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Mapping
from html import escape

from appliance.box import Box
from appliance.errors import N_, InvalidInput, NotFound
from appliance.models import Comment, Erasure, ModerationEvent, Post, StoredRecord
from appliance.services.moderation_log import in_agreed_order, rule_label
from appliance.text import plain

CONTEXT = "https://www.w3.org/ns/activitystreams"
MEDIA_TYPE = "application/activity+json"
TYPES = {"need": "Question", "offer": "Offer", "should": "Note"}
UNKNOWN_TYPE = "Object"  # a removed post's body is gone, and its kind with it
_PAGE = re.compile(r"\d{1,6}")

Translate = Callable[..., str]
Link = Callable[..., str]


def iso(ms: int) -> str:
    """Return epoch milliseconds as an ISO 8601 UTC time."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def html(text: str) -> str:
    """Return plain text as escaped HTML paragraphs (AS2 content is HTML)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return "".join(f"<p>{escape(p.strip()).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def read_page(args: Mapping[str, str]) -> int | None:
    """Return the page asked for (None: the collection itself), or raise InvalidInput."""
    raw = (args.get("page") or "").strip()
    if "page" not in args:
        return None
    if not _PAGE.fullmatch(raw) or int(raw) < 1:
        raise InvalidInput({"page": N_("page must be a whole number from 1.")})
    return int(raw)


def _paged(box: Box, name: str, items: list, page: int | None, render, link: Link) -> dict:
    """Return an OrderedCollection (page None) or one OrderedCollectionPage of it."""
    size = box.settings["page_size"]
    pages = max(1, math.ceil(len(items) / size))
    if page is None:
        return {
            "@context": CONTEXT,
            "type": "OrderedCollection",
            "id": link(name),
            "totalItems": len(items),
            "first": link(name, page=1),
            "last": link(name, page=pages),
        }
    out = {
        "@context": CONTEXT,
        "type": "OrderedCollectionPage",
        "id": link(name, page=page),
        "partOf": link(name),
        "startIndex": (page - 1) * size,
        "orderedItems": [render(i) for i in items[(page - 1) * size : page * size]],
    }
    if page < pages:
        out["next"] = link(name, page=page + 1)
    if 1 < page <= pages:
        out["prev"] = link(name, page=page - 1)
    return out


def centre(box: Box, translate: Translate = plain, link: Link | None = None) -> dict:
    """Return the centre as the Organization every object is attributed to."""
    link = link or _no_link
    here = box.centre
    if here is None:
        raise NotFound(N_("This box has no centre yet."))
    return {
        "@context": CONTEXT,
        "type": "Organization",
        "id": link("centre"),
        "name": here.name,
        "summary": translate(N_("The community notice board of %(centre)s."), centre=here.name),
        "url": link("board"),
        "published": iso(_centre_ms(here.id)),
        "updated": iso(_centre_ms(here.id)),
    }


def _centre_ms(centre_id: str) -> int:
    rec = StoredRecord.get_or_none(StoredRecord.id == centre_id)
    return rec.hlc_ms if rec else 0


def _no_link(name: str, **values) -> str:
    return "urn:kith:" + ":".join([name, *map(str, values.values())])


# --- posts and comments --------------------------------------------------------------------


def _post(post: Post, link: Link) -> dict:
    updated = max(post.created_ms, post.fresh_ms or 0, post.resolved_ms or 0)
    data = {
        "@context": CONTEXT,
        "type": TYPES[post.type],
        "id": link("post", post_id=post.id),
        "url": link("post_page", post_id=post.id),
        "name": post.title,
        "content": html(post.details),
        "mediaType": "text/html",
        "attributedTo": link("centre"),
        "published": iso(post.created_ms),
        "updated": iso(updated),
        "location": {"type": "Place", "name": post.place},
        "replies": {
            "type": "OrderedCollection",
            "id": link("replies", post_id=post.id),
            "totalItems": post.comment_count,
        },
    }
    if post.type == "need" and post.status == "resolved" and post.resolved_ms:
        data["closed"] = iso(post.resolved_ms)  # a Question answered
    return data


def _tombstone(id_: str, former: str, created_ms: int, deleted_ms: int, link: Link) -> dict:
    return {
        "@context": CONTEXT,
        "type": "Tombstone",
        "id": id_,
        "formerType": former,
        "deleted": iso(deleted_ms),
        "attributedTo": link("centre"),
        "published": iso(created_ms),
        "updated": iso(deleted_ms),
    }


def _hidden_ms(post_id: str, comment_id: str | None, fallback: int) -> int:
    """Return when the post (or comment) was last hidden here, as the fold agreed."""
    on_comment = (
        ModerationEvent.comment.is_null()
        if comment_id is None
        else ModerationEvent.comment == comment_id
    )
    events = ModerationEvent.select().where(
        (ModerationEvent.post == post_id)
        & on_comment
        & ModerationEvent.honoured
        & (ModerationEvent.action == "hidden")
    )
    latest = list(in_agreed_order(events))
    return latest[-1].at_ms if latest else fallback


def _removed(record_id: str, kind: str) -> tuple[int, int] | None:
    """Return (created, removed) ms of an entity an erasure removed, or None.

    Its creating record stays as a redacted stub: the time is kept, the body is gone.
    """
    rec = StoredRecord.get_or_none((StoredRecord.id == record_id) & (StoredRecord.kind == kind))
    if rec is None:
        return None
    fields = json.loads(bytes(rec.raw))
    if "redacted" not in fields:
        return None
    erasure = Erasure.get_or_none(Erasure.id == fields["redacted"].get("erasure"))
    return rec.hlc_ms, erasure.at_ms if erasure else rec.hlc_ms


def public_posts(box: Box) -> list[Post]:
    """Return this centre's posts anyone may see, newest first.

    Only this centre's: every object here is attributed to this centre, and a synced
    centre's posts are its own to publish (as Open311 does).
    """
    return list(
        Post.select()
        .where((Post.hidden == False) & (Post.origin == box.origin))  # noqa: E712
        .order_by(Post.created_ms.desc(), Post.id)
    )


def posts(box: Box, page: int | None, link: Link | None = None) -> dict:
    """Return the public posts as an OrderedCollection, or one page of it."""
    link = link or _no_link
    return _paged(box, "posts", public_posts(box), page, lambda p: _post(p, link), link)


def post(box: Box, post_id: str, link: Link | None = None) -> dict:
    """Return one post; a hidden or removed one as a Tombstone; raise NotFound if unknown."""
    link = link or _no_link
    found = Post.get_or_none((Post.id == post_id) & (Post.origin == box.origin))
    id_ = link("post", post_id=post_id)
    if found is not None and not found.hidden:
        return _post(found, link)
    if found is not None:
        hidden = _hidden_ms(found.id, None, found.fresh_ms or found.created_ms)
        return _tombstone(id_, TYPES[found.type], found.created_ms, hidden, link)
    removed = _removed(post_id, "post.created")
    if removed is None:
        raise NotFound(N_("That post does not exist."))
    return _tombstone(id_, UNKNOWN_TYPE, *removed, link)


def _note(comment: Comment, link: Link) -> dict:
    return {
        "@context": CONTEXT,
        "type": "Note",
        "id": link("comment", comment_id=comment.id),
        "inReplyTo": link("post", post_id=comment.post),
        "content": html(comment.text),
        "mediaType": "text/html",
        "attributedTo": link("centre"),
        "published": iso(comment.created_ms),
        "updated": iso(comment.created_ms),
    }


def replies(box: Box, post_id: str, link: Link | None = None) -> dict:
    """Return a public post's visible comments, oldest first, as Notes in a collection."""
    link = link or _no_link
    found = Post.get_or_none(Post.id == post_id)
    if found is None or found.hidden:
        raise NotFound(N_("That post does not exist or has been removed."))
    comments = (
        Comment.select()
        .where((Comment.post == found.id) & (Comment.hidden == False))  # noqa: E712
        .order_by(Comment.created_ms, Comment.id)
    )
    items = [_note(c, link) for c in comments]
    return {
        "@context": CONTEXT,
        "type": "OrderedCollection",
        "id": link("replies", post_id=found.id),
        "attributedTo": link("centre"),
        "totalItems": len(items),
        "orderedItems": items,
    }


def comment(box: Box, comment_id: str, link: Link | None = None) -> dict:
    """Return one comment as a Note; hidden (or on a hidden post) or removed: a Tombstone."""
    link = link or _no_link
    id_ = link("comment", comment_id=comment_id)
    found = Comment.get_or_none(Comment.id == comment_id)
    if found is not None:
        parent = Post.get_or_none(Post.id == found.post)
        if parent is not None and not parent.hidden and not found.hidden:
            return _note(found, link)
        if found.hidden:
            deleted = _hidden_ms(found.post, found.id, found.created_ms)
        else:  # the post it answers is hidden, so the thread is
            deleted = _hidden_ms(found.post, None, found.created_ms)
        return _tombstone(id_, "Note", found.created_ms, deleted, link)
    removed = _removed(comment_id, "comment.added")
    if removed is None:
        raise NotFound(N_("That comment does not exist."))
    return _tombstone(id_, "Note", *removed, link)


# --- moderation ----------------------------------------------------------------------------


def _still_hidden(events: list[ModerationEvent]) -> list[ModerationEvent]:
    """Keep the hides whose post or comment is still hidden here, or gone."""
    post_ids = {e.post for e in events}
    comment_ids = {e.comment for e in events if e.comment}
    shown_posts = {
        p.id
        for p in Post.select(Post.id).where(Post.id.in_(post_ids) & (Post.hidden == False))  # noqa: E712
    }
    shown_comments = {
        c.id
        for c in Comment.select(Comment.id).where(
            Comment.id.in_(comment_ids) & (Comment.hidden == False)  # noqa: E712
        )
    }
    return [
        e
        for e in events
        if (e.comment not in shown_comments if e.comment else e.post not in shown_posts)
        # A comment on a post shown again but itself still hidden stays a Tombstone.
        or (e.comment and e.post not in shown_posts)
    ]


def _flag(event: ModerationEvent, translate: Translate, link: Link) -> dict:
    target = (
        link("comment", comment_id=event.comment)
        if event.comment
        else link("post", post_id=event.post)
    )
    summary = translate(rule_label(event.rule))
    if event.reason:
        summary = f"{summary}: {event.reason}"
    return {
        "@context": CONTEXT,
        "type": "Flag",
        "id": f"{link('moderation')}#{event.id}",
        "actor": link("centre"),
        "attributedTo": link("centre"),
        "object": target,
        "summary": summary,
        "published": iso(event.at_ms),
        "updated": iso(event.at_ms),
    }


def moderation(
    box: Box, page: int | None, translate: Translate = plain, link: Link | None = None
) -> dict:
    """Return the hides that stand here as Flag activities, newest first.

    A hide later undone drops out: its post is public again, and the public log never
    points at what was hidden (the page /moderation keeps that history, unlinked).
    """
    link = link or _no_link
    events = list(
        ModerationEvent.select()
        .where(ModerationEvent.honoured & (ModerationEvent.action == "hidden"))
        .order_by(ModerationEvent.at_ms.desc(), ModerationEvent.id)
    )
    flags = _still_hidden(events)
    return _paged(box, "moderation", flags, page, lambda e: _flag(e, translate, link), link)
