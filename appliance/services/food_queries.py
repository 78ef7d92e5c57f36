"""Reading food needs and supplies: the food pages, an organisation's page, a post's
food section. The actions on them are appliance/services/food.py.

What counts as open: not hidden, not resolved (a covered post resolves by itself), its
date (a need's by-when, a supply's use-by) not yet passed, and its organisation not
retired. A post can reach this box before its organisation's record (a USB bundle may
carry part of the picture): it is listed under "an organisation" until the record comes.
Who may see a pledger's name is decided here: the pledger, the organisation's
organisers and staff; everyone else sees "a neighbour" and the amounts.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.dates import local_day
from appliance.kinds import ITEM_CATEGORIES
from appliance.models import Item, Member, Org, Pledge, Post, PostLine
from appliance.services import board_queries, catalogue, orgs
from appliance.services.accounts import Actor
from appliance.services.board import visible_post
from appliance.services.food_balance import unknown_org


def _org_summary(org: Org | None, org_id: str, box: Box, centres: dict) -> dict:
    """Return an organisation as the food pages show it; a plain name if it is not here."""
    if org is None:
        return {**unknown_org(org_id), "type_label": ""}
    return {
        "id": org.id,
        "name": org.name,
        "type": org.type,
        "type_label": orgs.ORG_TYPE_LABELS.get(org.type, org.type),
        "place": org.place,
        "active": org.active,
        "centre": None if org.origin == box.origin else centres.get(org.origin, "?"),
        "unknown": False,
    }


def _lines_of(post_ids: list[str]) -> dict[str, list[dict]]:
    """Return each post's item lines with names, units and what is still missing."""
    out: dict[str, list[dict]] = {p: [] for p in post_ids}
    if not post_ids:
        return out
    rows = PostLine.select().where(PostLine.post.in_(post_ids))
    items = {i.id: i for i in Item.select().where(Item.id.in_({r.item for r in rows}))}
    order = {c: n for n, c in enumerate(ITEM_CATEGORIES)}
    for r in rows:
        item = items.get(r.item)
        out[r.post].append(
            {
                "item": r.item,
                "name": item.name if item else "?",
                "unit": item.unit if item else "",
                "unit_label": catalogue.UNIT_LABELS.get(item.unit, "") if item else "",
                "category": item.category if item else "other",
                "category_label": catalogue.CATEGORY_LABELS.get(item.category, "") if item else "",
                "qty": r.qty,
                "covered": r.covered,
                "missing": max(0, r.qty - r.covered),
            }
        )
    for lines in out.values():
        lines.sort(key=lambda line: (order.get(line["category"], 99), line["name"].casefold()))
    return out


def _totals(lines: list[dict]) -> dict:
    return {
        "asked": sum(line["qty"] for line in lines),
        "covered": sum(line["covered"] for line in lines),
        "missing": sum(line["missing"] for line in lines),
    }


def _summaries(box: Box, posts: list[Post]) -> list[dict]:
    lines = _lines_of([p.id for p in posts])
    org_rows = {o.id: o for o in Org.select().where(Org.id.in_({p.org for p in posts}))}
    centres = board_queries.other_centres(box)
    return [
        {
            "id": p.id,
            "type": p.type,
            "title": p.title,
            "org_id": p.org,
            "org": _org_summary(org_rows.get(p.org), p.org, box, centres),
            "centre": None if p.origin == box.origin else centres.get(p.origin, "?"),
            "place": p.place,
            "needed_by": p.needed_by,
            "use_by": p.use_by,
            "status": p.status,
            "task": not lines[p.id],
            "lines": lines[p.id],
            **_totals(lines[p.id]),
        }
        for p in posts
    ]


def _open(box: Box, type_: str, org: str | None) -> list[Post]:
    day = local_day(box).isoformat()
    when = Post.needed_by if type_ == "need" else Post.use_by
    query = Post.select().where(
        (Post.type == type_)
        & Post.org.is_null(False)
        & Post.org.not_in(orgs.retired_org_ids())
        & (Post.status != "resolved")
        & (Post.hidden == False)  # noqa: E712 (peewee expression)
        & (when.is_null() | (when >= day))
    )
    if org:
        query = query.where(Post.org == org)
    return list(query.order_by(when.is_null(), when, Post.created_ms, Post.id))


def open_needs(box: Box, viewer: Actor | None, org: str | None = None) -> list[dict]:
    """Return open food needs at every centre this box knows, the soonest first."""
    return _summaries(box, _open(box, "need", org))


def open_supplies(box: Box, viewer: Actor | None, org: str | None = None) -> list[dict]:
    """Return supplies still on offer at every centre this box knows, soonest use-by first."""
    return _summaries(box, _open(box, "offer", org))


def hub(box: Box, viewer: Actor | None) -> dict:
    """Return the food page: organisations with their open needs, and supplies on offer.

    Organisations not on this box yet come last, each under a plain name.
    """
    needs = open_needs(box, viewer)
    supplies = open_supplies(box, viewer)
    centres = board_queries.other_centres(box)
    known = orgs.list_orgs(box)
    listed = {o.id for o in known}
    strangers = dict.fromkeys(p["org_id"] for p in needs + supplies if p["org_id"] not in listed)
    groups = [_org_summary(o, o.id, box, centres) for o in known]
    groups += [_org_summary(None, org_id, box, centres) for org_id in strangers]
    for group in groups:
        group["needs"] = [n for n in needs if n["org_id"] == group["id"]]
        group["supplies"] = sum(1 for s in supplies if s["org_id"] == group["id"])
    return {
        "orgs": groups,
        "supplies": supplies,
        "needs": len(needs),
        "my_orgs": [_org_summary(o, o.id, box, centres) for o in orgs.organised_by(viewer)],
    }


def org_page(box: Box, viewer: Actor | None, org_id: str) -> dict:
    """Return an organisation with its open needs and supplies, and the viewer's part."""
    org = orgs.get_org(org_id)
    return {
        "org": _org_summary(org, org.id, box, board_queries.other_centres(box)),
        "needs": open_needs(box, viewer, org.id),
        "supplies": open_supplies(box, viewer, org.id),
        "is_organiser": orgs.is_organiser(viewer, org.id) and org.active,
    }


def item_choices() -> list[dict]:
    """Return the active catalogue grouped by category, for the item rows of a form."""
    groups: list[dict] = []
    for item in catalogue.list_items():
        if not groups or groups[-1]["category"] != item.category:
            label = catalogue.CATEGORY_LABELS.get(item.category, item.category)
            groups.append({"category": item.category, "label": label, "items": []})
        groups[-1]["items"].append(
            {"id": item.id, "name": item.name, "unit_label": catalogue.UNIT_LABELS[item.unit]}
        )
    return groups


def _pledge_rows(post: Post, lines: list[dict], viewer: Actor | None, sees_names: bool) -> list:
    """Return a post's pledges or claims, with the pledger's name only where it may go."""
    rows = list(Pledge.select().where(Pledge.post == post.id).order_by(Pledge.created_ms))
    names = {m.id: m.name for m in Member.select().where(Member.id.in_({r.member for r in rows}))}
    org_names = {o.id: o.name for o in Org.select().where(Org.id.in_({r.org for r in rows}))}
    items = {line["item"]: line for line in lines}
    me = viewer.id if viewer else None
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "item": r.item,
            "name": items.get(r.item, {}).get("name", "?"),
            "unit_label": items.get(r.item, {}).get("unit_label", ""),
            "qty": r.qty,
            "counted": r.counted,
            "bring_on": r.bring_on,
            "who": names.get(r.member, "?") if sees_names or r.member == me else None,
            "org": org_names.get(r.org) if r.org else None,
            "mine": bool(me) and r.member == me,
            "created_ms": r.created_ms,
        }
        for r in rows
    ]


def food_detail(box: Box, viewer: Actor | None, post_id: str) -> dict | None:
    """Return a food post's lines, pledges or claims and what the viewer may do with them.

    None for a post without an organisation. Pledgers' names reach only the pledger,
    the organisation's organisers and staff. A retired organisation's post takes no new
    pledges or claims.
    """
    post = visible_post(viewer, post_id)
    if post.org is None:
        return None
    org = _org_summary(
        Org.get_or_none(Org.id == post.org), post.org, box, board_queries.other_centres(box)
    )
    lines = _lines_of([post.id])[post.id]
    organiser = orgs.is_organiser(viewer, post.org)
    sees_names = bool(viewer and (viewer.is_staff or organiser))
    is_open = post.status != "resolved" and not post.hidden and org["active"]
    day = local_day(box).isoformat()
    if post.type == "need":
        in_date = not post.needed_by or post.needed_by >= day
    else:
        in_date = not post.use_by or post.use_by >= day
    open_lines = [line for line in lines if line["missing"] > 0]
    can_act = bool(viewer) and is_open and in_date and bool(open_lines)
    mine = orgs.organised_by(viewer) if post.type == "offer" and can_act else []
    claim_orgs = [{"id": o.id, "name": o.name} for o in mine if o.id != post.org]
    return {
        "kind": "need" if post.type == "need" else "supply",
        "org": org,
        "task": not lines,
        "fully_covered": post.covered,
        "use_by": post.use_by,
        "in_date": in_date,
        "lines": lines,
        **_totals(lines),
        "open_lines": open_lines,
        # Open for pledges or claims by someone signed in (a visitor is asked to log in).
        "accepting": is_open and in_date and bool(open_lines),
        "pledges": _pledge_rows(post, lines, viewer, sees_names),
        "is_organiser": organiser,
        "sees_names": sees_names,
        "can_pledge": post.type == "need" and can_act,
        "can_claim": bool(claim_orgs),
        "claim_orgs": claim_orgs,
    }
