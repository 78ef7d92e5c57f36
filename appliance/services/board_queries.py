"""Reading the board: filters, the paged list, a post with its thread, the thanks list.

Pages and the JSON API call these same functions and serializers, so they cannot drift.
Who may see what is decided here: hidden posts and comments reach staff only. Posts that
went quiet (the "still needed?" sweep, appliance/services/stale.py) leave the main board
and are listed only under the "Gone quiet" filter (status=stale).
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from peewee import SQL, fn

from appliance.box import Box
from appliance.dates import check_range, day_start_ms, local_day, parse_day
from appliance.errors import N_, InvalidInput
from appliance.kinds import POST_TYPES
from appliance.models import Category, Centre, Comment, Helper, Member, Org, Post, PostLine, Thanks
from appliance.projection import STATUS_RANK
from appliance.services import food_queries  # imports this module too: used at call time
from appliance.services.accounts import Actor
from appliance.services.board import can_close, visible_post
from appliance.services.centre import category_labels
from appliance.services.stale import can_answer

WHEN = ("today", "week", "month")
PAGE_MAX = 100_000  # web/openapi/base.yaml Page.maximum: a page past it is a typo, not a page
# Food posts: an organisation's needs (type need) or supplies (type offer).
FOOD = {"needs": "need", "supplies": "offer"}
# The status filter: a post's status, or "stale" for the posts that went quiet.
STATUSES = (*STATUS_RANK, "stale")
FILTER_NAMES = ("type", "category", "place", "status", "when", "from", "to", "q", "food")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class BoardFilters:
    type: str = ""
    category: str = ""
    place: str = ""
    status: str = ""
    when: str = ""
    from_: str = ""
    to: str = ""
    q: str = ""
    food: str = ""
    page: int = 1

    def as_args(self, **change) -> dict:
        """Return the filters as URL query arguments (empty ones left out)."""
        values = {k.rstrip("_"): v for k, v in asdict(self).items()}
        values.update(change)
        return {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}

    @property
    def active(self) -> bool:
        return any(v for k, v in self.as_args().items() if k != "page")

    @property
    def narrowed(self) -> bool:
        """True if a filter beyond search and kind is set (the page shows them unfolded)."""
        return any(
            (self.category, self.place, self.status, self.when, self.from_, self.to, self.food)
        )


def read_filters(args: Mapping[str, str]) -> tuple[BoardFilters, dict[str, str]]:
    """Read filters from query arguments: the valid ones, and what is wrong with the rest."""
    get = lambda name: (args.get(name) or "").strip()  # noqa: E731
    errors = {}
    values = {name: get(name) for name in FILTER_NAMES}
    if values["type"] and values["type"] not in POST_TYPES:
        errors["type"] = N_("Unknown kind of post.")
    if (
        values["category"]
        and not Category.select().where(Category.slug == values["category"]).exists()
    ):
        errors["category"] = N_("There is no such category.")
    if values["status"] and values["status"] not in STATUSES:
        errors["status"] = N_("Status must be open, on_it, resolved or stale.")
    if values["food"] and values["food"] not in FOOD:
        errors["food"] = N_("Food posts must be needs or supplies.")
    if values["when"] and values["when"] not in WHEN:
        errors["when"] = N_("Time must be today, week or month.")
    check_range(values, errors, N_("Please give the date as YYYY-MM-DD."))
    if len(values["q"]) > 200:
        errors["q"] = N_("Please search with fewer words.")
    try:
        page = int(get("page") or 1)
        if not 1 <= page <= PAGE_MAX:
            raise ValueError
    except ValueError:
        errors["page"] = N_("Page must be a positive number.")
        page = 1
    for name in errors:
        values.pop(name, None)  # a bad filter is left out, the others still apply
    values["from_"] = values.pop("from", "")
    return BoardFilters(page=page, **values), errors


def parse_filters(args: Mapping[str, str]) -> BoardFilters:
    """Read filters from query arguments; raise InvalidInput naming any bad one."""
    filters, errors = read_filters(args)
    if errors:
        raise InvalidInput(errors, N_("Some filters were not understood."))
    return filters


def _time_range(box: Box, f: BoardFilters) -> tuple[int | None, int | None]:
    today = local_day(box)
    start = end = None
    if f.when == "today":
        start = day_start_ms(box, today)
    elif f.when == "week":
        start = day_start_ms(box, today - datetime.timedelta(days=today.weekday()))
    elif f.when == "month":
        start = day_start_ms(box, today.replace(day=1))
    if f.from_:
        start = max(start or 0, day_start_ms(box, parse_day(f.from_)))
    if f.to:
        end = day_start_ms(box, parse_day(f.to) + datetime.timedelta(days=1))
    return start, end


def fts_query(text: str) -> str | None:
    """Turn what a person typed into a safe FTS5 query: every word, as a prefix."""
    words = _WORD.findall(text)
    return " AND ".join(f'"{w}"*' for w in words[:12]) or None


def _members(ids) -> dict[str, Member]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {m.id: m for m in Member.select().where(Member.id.in_(ids))}


def _person(member_id: str | None, members: dict[str, Member]) -> dict | None:
    m = members.get(member_id)
    if m is None:
        return None if member_id is None else {"id": member_id, "name": "?", "verified": False}
    return {"id": m.id, "name": m.name, "verified": m.verified}


def _ms_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def other_centres(box: Box) -> dict[str, str]:
    """Return {origin: centre name} for every other centre whose records this box holds."""
    return {c.origin: c.name for c in Centre.select().where(Centre.origin != box.origin)}


def food_facts(posts: list[Post]) -> tuple[dict[str, str], dict[str, dict]]:
    """Return the names of the posts' organisations and each food post's item totals."""
    org_ids = {p.org for p in posts if p.org}
    if not org_ids:
        return {}, {}
    names = {o.id: o.name for o in Org.select(Org.id, Org.name).where(Org.id.in_(org_ids))}
    rows = (
        PostLine.select(
            PostLine.post,
            fn.SUM(PostLine.qty).alias("asked"),
            fn.SUM(PostLine.covered).alias("covered"),
        )
        .where(PostLine.post.in_([p.id for p in posts if p.org]))
        .group_by(PostLine.post)
        .dicts()
    )
    amounts = {
        r["post"]: {
            "asked": r["asked"],
            "covered": r["covered"],
            "missing": max(0, r["asked"] - r["covered"]),
        }
        for r in rows
    }
    return names, amounts


def serialize_summary(
    post: Post,
    members: dict,
    labels: dict,
    staff: bool,
    centres: dict,
    here: str,
    food: tuple[dict, dict] | None = None,
) -> dict:
    """Return the list form of a post, shared by the board page and the API.

    `centre` names the centre a post comes from when it is not this box's own. A food
    post has its `org` and `quantities` (how many asked or offered, covered, still missing);
    `food` is food_facts() of the listed posts, looked up here when not given.
    """
    org_names, amounts = food if food is not None else food_facts([post])
    data = {
        "id": post.id,
        "centre": None if post.origin == here else centres.get(post.origin, "another centre"),
        "type": post.type,
        "title": post.title,
        "excerpt": post.details[:160] + ("…" if len(post.details) > 160 else ""),
        "category": {"slug": post.category, "label": labels.get(post.category, post.category)},
        "place": post.place,
        "needed_by": post.needed_by,
        "created": _ms_iso(post.created_ms),
        "created_ms": post.created_ms,
        "status": post.status,
        "author": _person(post.author, members),
        "comment_count": post.comment_count,
        "helper_count": post.helper_count,
        # An organisation that has not reached this box yet has no name or page here.
        "org": (
            {"id": post.org, "name": org_names.get(post.org), "known": post.org in org_names}
            if post.org
            else None
        ),
        "quantities": amounts.get(post.id),
        "stale": post.stale,
    }
    if staff:
        data["hidden"] = post.hidden
        data["hidden_reason"] = post.hidden_reason
    return data


def list_posts(box: Box, viewer: Actor | None, f: BoardFilters) -> dict:
    """Return one page of the board for a viewer: open work first, newest first."""
    staff = bool(viewer and viewer.is_staff)
    query = Post.select()
    if not staff:
        query = query.where(Post.hidden == False)  # noqa: E712
    if f.type:
        query = query.where(Post.type == f.type)
    if f.food:
        query = query.where(Post.org.is_null(False) & (Post.type == FOOD[f.food]))
    if f.category:
        query = query.where(Post.category == f.category)
    if f.place:
        query = query.where(fn.lower(Post.place) == f.place.lower())
    if f.status == "stale":
        query = query.where(Post.stale == True)  # noqa: E712
    else:
        # Posts that went quiet wait under "Gone quiet" until someone revives them.
        query = query.where(Post.stale == False)  # noqa: E712
    if f.status in STATUS_RANK:
        # status_rank follows status one to one, and leads the board's index.
        query = query.where(Post.status_rank == STATUS_RANK[f.status])
    start, end = _time_range(box, f)
    if start is not None:
        query = query.where(Post.created_ms >= start)
    if end is not None:
        query = query.where(Post.created_ms < end)
    if f.q:
        match = fts_query(f.q)
        # Only punctuation: no word can match, so nothing is found (not everything).
        query = query.where(
            Post.id.in_(SQL("(SELECT post_id FROM post_fts WHERE post_fts MATCH ?)", [match]))
            if match
            else SQL("0")
        )
    total = query.count()
    size = box.settings["page_size"]
    pages = max(1, math.ceil(total / size))
    posts = list(
        query.order_by(Post.status_rank, Post.created_ms.desc(), Post.id).paginate(f.page, size)
    )
    members = _members(p.author for p in posts)
    labels = category_labels(box)
    centres = other_centres(box)
    food = food_facts(posts)
    return {
        "posts": [
            serialize_summary(p, members, labels, staff, centres, box.origin, food) for p in posts
        ],
        "total": total,
        "page": f.page,
        "pages": pages,
        "page_size": size,
        "filters": f.as_args(),
        # Any member may bring a post that went quiet back to the board.
        "can_revive": viewer is not None,
    }


def get_post(box: Box, viewer: Actor | None, post_id: str) -> dict:
    """Return a post with its comments, helpers and thanks, and what the viewer may do."""
    post = visible_post(viewer, post_id)
    staff = bool(viewer and viewer.is_staff)
    comments = list(Comment.select().where(Comment.post == post.id).order_by(Comment.created_ms))
    if not staff:
        comments = [c for c in comments if not c.hidden]
    helpers = list(Helper.select().where(Helper.post == post.id).order_by(Helper.since_ms))
    thanks = list(Thanks.select().where(Thanks.post == post.id).order_by(Thanks.created_ms))
    members = _members(
        [post.author, post.resolved_by]
        + [c.author for c in comments]
        + [h.member for h in helpers]
        + [t.giver for t in thanks]
        + [t.helper for t in thanks]
    )
    data = serialize_summary(
        post, members, category_labels(box), staff, other_centres(box), box.origin
    )
    del data["excerpt"]
    asked = post.asked_ms is not None and not post.hidden
    me = viewer.id if viewer else None
    mine = next((h for h in helpers if h.member == me), None)
    closer = can_close(viewer, post)
    is_open = post.status != "resolved" and not post.hidden
    data.update(
        details=post.details,
        resolved=None
        if post.status != "resolved"
        else {
            "note": post.resolved_note,
            "by": _person(post.resolved_by, members),
            "at": _ms_iso(post.resolved_ms),
        },
        comments=[
            {
                "id": c.id,
                "author": _person(c.author, members),
                "text": c.text,
                "created": _ms_iso(c.created_ms),
                "created_ms": c.created_ms,
                **({"hidden": c.hidden, "hidden_reason": c.hidden_reason} if staff else {}),
            }
            for c in comments
        ],
        helpers=[
            {**_person(h.member, members), "mode": h.mode, "since": _ms_iso(h.since_ms)}
            for h in helpers
        ],
        thanks=[
            {
                "id": t.id,
                "from": _person(t.giver, members),
                "to": _person(t.helper, members),
                "message": t.message,
                "created": _ms_iso(t.created_ms),
            }
            for t in thanks
        ],
        food=food_queries.food_detail(box, viewer, post.id),
        can={
            "comment": bool(viewer) and not post.hidden,
            "help": bool(viewer) and is_open and post.author != me,
            "my_help": mine.mode if mine else None,
            "resolve": closer and is_open,
            # Covered by pledges or claims, a post stays closed until one is withdrawn.
            "reopen": closer and post.status == "resolved" and not post.hidden and not post.covered,
            "thank": bool(viewer) and post.author == me and bool(helpers) and not post.hidden,
            "moderate": staff,
            # The "still needed?" question, to the poster (or staff, for a visitor's post).
            "still_needed": asked and can_answer(box, viewer, post),
            "revive": bool(viewer) and post.stale and not post.hidden,
        },
    )
    return data


def list_thanks(box: Box, viewer: Actor | None, page: int = 1, size: int = 30) -> list[dict]:
    """Return recent thanks on posts the viewer may see, newest first."""
    query = Thanks.select(Thanks, Post.title.alias("post_title")).join(
        Post, on=(Thanks.post == Post.id)
    )
    if not (viewer and viewer.is_staff):
        query = query.where(Post.hidden == False)  # noqa: E712
    rows = list(query.order_by(Thanks.created_ms.desc()).paginate(page, size).objects())
    members = _members([t.giver for t in rows] + [t.helper for t in rows])
    return [
        {
            "id": t.id,
            "post": {"id": t.post, "title": t.post_title},
            "from": _person(t.giver, members),
            "to": _person(t.helper, members),
            "message": t.message,
            "created": _ms_iso(t.created_ms),
            "created_ms": t.created_ms,
        }
        for t in rows
    ]
