"""Food needs and supplies: organisations post them, members pledge, organisers claim.

A food need is a post of type "need" with an organisation and item lines (or none, for
a volunteer task); a supply is a post of type "offer" with an organisation and lines.
Pledges and claims are records on the post; the projection counts them in the agreed
record order, so what is still missing is read from PostLine, never added up here.
Who may see a pledger's name is decided here: the pledger, the organisation's
organisers and staff; everyone else sees "a neighbour" and the amounts.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.dates import parse_day
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.kinds import ITEM_CATEGORIES
from appliance.models import Centre, Item, Member, Org, Pledge, Post, PostLine
from appliance.services import catalogue, orgs
from appliance.services.accounts import Actor, require_member
from appliance.services.board import check_post, today, visible_post
from appliance.services.centre import categories

FOOD_CATEGORY = "food"  # every centre starts with it; food posts go there when it exists


def _invalid(field: str, message: str, **params) -> InvalidInput:
    """An InvalidInput for one field whose message names numbers or items."""
    exc = InvalidInput({field: message % params}, message)
    exc.params = params  # the page's banner and the API's error say it in full
    return exc


def _category(box: Box) -> str:
    slugs = [c.slug for c in categories(box)]
    if FOOD_CATEGORY in slugs:
        return FOOD_CATEGORY
    if not slugs:
        raise Conflict(N_("This centre has no categories yet; staff can add them."))
    return slugs[0]


def _date_field(box: Box, value, name: str, errors: dict) -> str | None:
    """Check an optional date not in the past as the board checks a needed-by date."""
    try:
        return check_post(box, {"needed_by": value}, only=("needed_by",))["needed_by"]
    except InvalidInput as exc:
        errors[name] = exc.fields["needed_by"]
        return None


def _post_body(box: Box, actor: Actor | None, data: dict) -> tuple[dict, dict]:
    """Check the organiser and the fields every food post has; return body and errors.

    A missing organisation is one more field error; not organising the one chosen is
    a refusal (NotAllowed), whatever else is wrong.
    """
    require_member(actor)
    errors: dict[str, str] = {}
    org = None
    try:
        org = orgs.require_organiser(actor, (data.get("org") or "").strip())
    except InvalidInput as exc:
        errors.update(exc.fields)
    except NotFound:
        errors["org"] = N_("Please choose one of your organisations.")
    body: dict = {}
    try:
        body.update(check_post(box, data, only=("title", "details")))
    except InvalidInput as exc:
        errors.update(exc.fields)
    place = (data.get("place") or "").strip() or (org.place if org else "")
    if place or org:
        try:
            body.update(check_post(box, {"place": place}, only=("place",)))
        except InvalidInput as exc:
            errors.update(exc.fields)
    body["category"] = _category(box)
    if org is not None:
        body["org"] = org.id
    return body, errors


def _lines(pairs, errors: dict) -> list[dict]:
    try:
        return catalogue.parse_lines(list(pairs or ()))
    except InvalidInput as exc:
        errors.update(exc.fields)
        return []


def create_need(box: Box, actor: Actor | None, data: dict, lines) -> str:
    """Post a need of an organisation the actor organises; return the post id.

    `lines` are (item id, quantity text) pairs; a volunteer task (data["task"]) has none.
    """
    body, errors = _post_body(box, actor, data)
    body["needed_by"] = _date_field(box, data.get("needed_by"), "needed_by", errors)
    task = bool(data.get("task"))
    pairs = [(i, q) for i, q in (lines or ()) if (i or "").strip() or (q or "").strip()]
    if task and pairs:
        errors["lines"] = N_(
            "A volunteer task has no items: empty the item rows, or untick the volunteer task."
        )
    elif not task:
        body["lines"] = _lines(pairs, errors)
    if errors:
        raise InvalidInput(errors)
    return box.log.append("post.created", {"type": "need", **body}, author=actor.id).id


def create_supply(box: Box, actor: Actor | None, data: dict, lines) -> str:
    """Post a supply (surplus to collect) of an organisation the actor organises."""
    body, errors = _post_body(box, actor, data)
    use_by = _date_field(box, data.get("use_by"), "use_by", errors)
    body["needed_by"] = None
    body["lines"] = _lines(lines, errors)
    if use_by:
        body["use_by"] = use_by
    if errors:
        raise InvalidInput(errors)
    return box.log.append("post.created", {"type": "offer", **body}, author=actor.id).id


def _food_post(actor: Actor, post_id: str, type_: str) -> Post:
    """Return an open need (type_ "need") or supply ("offer") the actor may act on."""
    post = visible_post(actor, post_id)
    if post.org is None or post.type != type_:
        if type_ == "need":
            raise Conflict(N_("You can pledge items only to a food need."))
        raise Conflict(N_("You can claim items only from a supply post."))
    if post.hidden:
        raise Conflict(N_("That post is hidden; unhide it first."))
    if post.status == "resolved":
        if post.covered and type_ == "need":
            raise Conflict(
                N_("Everything on this need is pledged already. Thank you all the same!")
            )
        if post.covered:
            raise Conflict(N_("Everything on this supply has been claimed."))
        if type_ == "need":
            raise Conflict(N_("This need is closed. Thank you all the same!"))
        raise Conflict(N_("This supply is closed."))
    return post


def _line(post: Post, item_id: str) -> PostLine:
    line = PostLine.get_or_none((PostLine.post == post.id) & (PostLine.item == (item_id or "")))
    if line is None:
        raise InvalidInput({"item": N_("Please choose one of the items on this post.")})
    return line


def _item_name(item_id: str) -> tuple[str, str]:
    item = Item.get_or_none(Item.id == item_id)
    return (item.name, catalogue.UNIT_LABELS.get(item.unit, item.unit)) if item else ("?", "")


def pledge(
    box: Box, actor: Actor | None, post_id: str, item_id: str, qty_text, bring_on=None
) -> str:
    """Pledge to bring some of an item a food need still lacks; return the pledge id."""
    require_member(actor)
    with database.atomic():  # IMMEDIATE: what is missing cannot change under the check
        post = _food_post(actor, post_id, "need")
        if post.needed_by and parse_day(post.needed_by) < today(box):
            raise Conflict(N_("This need was for a date that has passed."))
        errors: dict[str, str] = {}
        line = qty = None
        try:
            line = _line(post, item_id)
        except InvalidInput as exc:
            errors.update(exc.fields)
        try:
            qty = catalogue.parse_quantity(qty_text, "qty")
        except InvalidInput as exc:
            errors.update(exc.fields)
        bring = _date_field(box, bring_on, "bring_on", errors)
        if bring and post.needed_by and bring > post.needed_by:
            errors["bring_on"] = N_("That is after the date the need is for.")
        if errors:
            raise InvalidInput(errors)
        missing = line.qty - line.covered
        name, unit = _item_name(line.item)
        if missing <= 0:
            raise _invalid("item", N_("%(item)s is already fully pledged."), item=name)
        if qty > missing:
            raise _invalid(
                "qty",
                N_(
                    "Only %(missing)d %(unit)s of %(item)s are still needed: please pledge "
                    "%(missing)d or fewer."
                ),
                missing=missing,
                unit=unit,
                item=name,
            )
        body = {"item": line.item, "qty": qty, "bring_on": bring}
        return box.log.append("pledge.made", body, subject=post.id, author=actor.id).id


def _own_pledge(actor: Actor | None, pledge_id: str, kind: str) -> Pledge:
    require_member(actor)
    row = Pledge.get_or_none((Pledge.id == (pledge_id or "")) & (Pledge.kind == kind))
    if row is None:
        if kind == "pledge":
            raise NotFound(N_("There is no such pledge; it may have been withdrawn already."))
        raise NotFound(N_("There is no such claim; it may have been withdrawn already."))
    visible_post(actor, row.post)
    if row.member != actor.id:
        if kind == "pledge":
            raise NotAllowed(N_("Only the person who made a pledge can withdraw it."))
        raise NotAllowed(N_("Only the person who made a claim can withdraw it."))
    return row


def withdraw_pledge(box: Box, actor: Actor | None, pledge_id: str) -> str:
    """Withdraw your own pledge (its need opens again if it was covered); return the post."""
    row = _own_pledge(actor, pledge_id, "pledge")
    box.log.append("pledge.withdrawn", {"pledge": row.id}, subject=row.post, author=actor.id)
    return row.post


def claim(box: Box, actor: Actor | None, post_id: str, org_id: str, item_id: str, qty_text) -> str:
    """Claim some of a supply's item for an organisation the actor organises."""
    require_member(actor)
    with database.atomic():
        try:
            org = orgs.require_organiser(actor, (org_id or "").strip())
        except NotFound:
            raise InvalidInput({"org": N_("Please choose one of your organisations.")}) from None
        post = _food_post(actor, post_id, "offer")
        if post.org == org.id:
            # Claiming one's own surplus would muddle who took what from whom.
            raise InvalidInput(
                {"org": N_("This is your own organisation's supply: mark it met instead.")}
            )
        if post.use_by and parse_day(post.use_by) < today(box):
            raise Conflict(N_("This supply's use-by date has passed."))
        errors: dict[str, str] = {}
        line = qty = None
        try:
            line = _line(post, item_id)
        except InvalidInput as exc:
            errors.update(exc.fields)
        try:
            qty = catalogue.parse_quantity(qty_text, "qty")
        except InvalidInput as exc:
            errors.update(exc.fields)
        if errors:
            raise InvalidInput(errors)
        left = line.qty - line.covered
        name, unit = _item_name(line.item)
        if left <= 0:
            raise _invalid("item", N_("All the %(item)s has been claimed."), item=name)
        if qty > left:
            raise _invalid(
                "qty",
                N_("Only %(left)d %(unit)s of %(item)s are left: please claim %(left)d or fewer."),
                left=left,
                unit=unit,
                item=name,
            )
        body = {"org": org.id, "item": line.item, "qty": qty}
        return box.log.append("claim.made", body, subject=post.id, author=actor.id).id


def withdraw_claim(box: Box, actor: Actor | None, claim_id: str) -> str:
    """Withdraw your own claim on a supply; return the post id."""
    row = _own_pledge(actor, claim_id, "claim")
    box.log.append("claim.withdrawn", {"claim": row.id}, subject=row.post, author=actor.id)
    return row.post


def post_of(pledge_id: str) -> str:
    """Return the post a pledge or claim is on, or raise NotFound."""
    row = Pledge.get_or_none(Pledge.id == (pledge_id or ""))
    if row is None:
        raise NotFound(N_("There is no such pledge; it may have been withdrawn already."))
    return row.post


# --- reading ------------------------------------------------------------------------------


def _centres(box: Box) -> dict[str, str]:
    return {c.origin: c.name for c in Centre.select().where(Centre.origin != box.origin)}


def _org_summary(org: Org | None, box: Box, centres: dict) -> dict | None:
    if org is None:
        return None
    return {
        "id": org.id,
        "name": org.name,
        "type": org.type,
        "type_label": orgs.ORG_TYPE_LABELS.get(org.type, org.type),
        "place": org.place,
        "active": org.active,
        "centre": None if org.origin == box.origin else centres.get(org.origin, "?"),
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
    centres = _centres(box)
    return [
        {
            "id": p.id,
            "type": p.type,
            "title": p.title,
            "org": _org_summary(org_rows.get(p.org), box, centres),
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
    day = today(box).isoformat()
    when = Post.needed_by if type_ == "need" else Post.use_by
    query = Post.select().where(
        (Post.type == type_)
        & Post.org.is_null(False)
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
    """Return the food page: organisations with their open needs, and supplies on offer."""
    needs = open_needs(box, viewer)
    supplies = open_supplies(box, viewer)
    centres = _centres(box)
    groups = []
    for org in orgs.list_orgs(box):
        groups.append(
            {
                **_org_summary(org, box, centres),
                "needs": [n for n in needs if n["org"]["id"] == org.id],
                "supplies": sum(1 for s in supplies if s["org"]["id"] == org.id),
            }
        )
    return {
        "orgs": groups,
        "supplies": supplies,
        "needs": len(needs),
        "my_orgs": [_org_summary(o, box, centres) for o in orgs.organised_by(viewer)],
    }


def org_page(box: Box, viewer: Actor | None, org_id: str) -> dict:
    """Return an organisation with its open needs and supplies, and the viewer's part."""
    org = orgs.get_org(org_id)
    return {
        "org": _org_summary(org, box, _centres(box)),
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


def my_orgs(actor: Actor | None) -> list[Org]:
    """Return the organisations the actor may post for; raise if there are none."""
    require_member(actor)
    mine = orgs.organised_by(actor)
    if not mine:
        raise NotAllowed(
            N_(
                "Only organisers of a food bank, shop or group post here. The centre's "
                "staff can make you an organiser; anyone can post on the board."
            )
        )
    return mine


def food_detail(box: Box, viewer: Actor | None, post_id: str) -> dict | None:
    """Return a food post's lines, pledges or claims and what the viewer may do with them.

    None for a post without an organisation. Pledgers' names reach only the pledger,
    the organisation's organisers and staff.
    """
    post = visible_post(viewer, post_id)
    if post.org is None:
        return None
    centres = _centres(box)
    org = Org.get_or_none(Org.id == post.org)
    lines = _lines_of([post.id])[post.id]
    organiser = orgs.is_organiser(viewer, post.org)
    sees_names = bool(viewer and (viewer.is_staff or organiser))
    rows = list(Pledge.select().where(Pledge.post == post.id).order_by(Pledge.created_ms))
    names = {m.id: m.name for m in Member.select().where(Member.id.in_({r.member for r in rows}))}
    org_names = {o.id: o.name for o in Org.select().where(Org.id.in_({r.org for r in rows}))}
    items = {line["item"]: line for line in lines}
    me = viewer.id if viewer else None
    is_open = post.status != "resolved" and not post.hidden
    day = today(box).isoformat()
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
        "org": _org_summary(org, box, centres),
        "task": not lines,
        "fully_covered": post.covered,
        "use_by": post.use_by,
        "in_date": in_date,
        "lines": lines,
        **_totals(lines),
        "open_lines": open_lines,
        "pledges": [
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
        ],
        "is_organiser": organiser,
        "sees_names": sees_names,
        "can_pledge": post.type == "need" and can_act,
        "can_claim": bool(claim_orgs),
        "claim_orgs": claim_orgs,
    }
