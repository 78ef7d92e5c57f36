"""Food needs and supplies: organisations post them, members pledge, organisers claim.

A food need is a post of type "need" with an organisation, a by-when date and item
lines (or none, for a volunteer task); a supply is a post of type "offer" with an
organisation and lines. Pledges and claims are records on the post; the projection
counts them in the agreed record order, so what is still missing is read from PostLine,
never added up here. Reading them (the food pages, a post's food section) is
appliance/services/food_queries.py.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.dates import local_day, parse_day
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.models import Item, Org, Pledge, Post, PostLine
from appliance.services import catalogue, conduct, orgs
from appliance.services.accounts import Actor, require_member
from appliance.services.board import check_post, visible_post
from appliance.services.centre import categories
from appliance.text import clean_text

FOOD_CATEGORY = "food"  # every centre starts with it; food posts go there when it exists

# What a pledge (on a need) or a claim (on a supply) is told when its line has too
# little left: the name of the amount, all gone, asked for more than there is.
_TOO_LITTLE = {
    "need": (
        "missing",
        N_("%(item)s is already fully pledged."),
        N_(
            "Only %(missing)d %(unit)s of %(item)s are still needed: please pledge "
            "%(missing)d or fewer."
        ),
    ),
    "offer": (
        "left",
        N_("All the %(item)s has been claimed."),
        N_("Only %(left)d %(unit)s of %(item)s are left: please claim %(left)d or fewer."),
    ),
}


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
    conduct.require_accepted(box, actor)
    errors: dict[str, str] = {}
    org = None
    try:
        org = orgs.require_organiser(actor, clean_text(data.get("org")))
    except InvalidInput as exc:
        errors.update(exc.fields)
    except NotFound:
        errors["org"] = N_("Please choose one of your organisations.")
    body: dict = {}
    try:
        body.update(check_post(box, data, only=("title", "details")))
    except InvalidInput as exc:
        errors.update(exc.fields)
    place = clean_text(data.get("place")) or (org.place if org else "")
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
    Every need says by when: pledgers plan the day they bring things by it.
    """
    body, errors = _post_body(box, actor, data)
    if clean_text(data.get("needed_by")):
        body["needed_by"] = _date_field(box, data.get("needed_by"), "needed_by", errors)
    else:
        errors["needed_by"] = N_("Please give the date you need it by.")
    task = bool(data.get("task"))
    pairs = [(i, q) for i, q in (lines or ()) if clean_text(i) or clean_text(q)]
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
    org = Org.get_or_none(Org.id == post.org)
    if org is not None and not org.active:
        # Staff retired the organisation: nobody is there to take the things in or out.
        if type_ == "need":
            raise Conflict(
                N_("%(org)s is no longer active here, so its needs take no new pledges."),
                org=org.name,
            )
        raise Conflict(
            N_("%(org)s is no longer active here, so its supplies cannot be claimed."),
            org=org.name,
        )
    return post


def _item_name(item_id: str) -> tuple[str, str]:
    item = Item.get_or_none(Item.id == item_id)
    return (item.name, catalogue.UNIT_LABELS.get(item.unit, item.unit)) if item else ("?", "")


def _line_and_qty(post: Post, item_id: str, qty_text, errors: dict) -> tuple[PostLine, int]:
    """Read which of the post's items and how many: no more than its line has left.

    Raises InvalidInput with `errors` (what the caller found wrong already) and these.
    """
    qty = None
    line = PostLine.get_or_none((PostLine.post == post.id) & (PostLine.item == clean_text(item_id)))
    if line is None:
        errors["item"] = N_("Please choose one of the items on this post.")
    try:
        qty = catalogue.parse_quantity(qty_text, "qty")
    except InvalidInput as exc:
        errors.update(exc.fields)
    if errors:
        raise InvalidInput(errors)
    left = line.qty - line.covered
    name, unit = _item_name(line.item)
    amount, none_left, too_many = _TOO_LITTLE[post.type]
    if left <= 0:
        raise _invalid("item", none_left, item=name)
    if qty > left:
        raise _invalid("qty", too_many, unit=unit, item=name, **{amount: left})
    return line, qty


def pledge(
    box: Box, actor: Actor | None, post_id: str, item_id: str, qty_text, bring_on=None
) -> str:
    """Pledge to bring some of an item a food need still lacks; return the pledge id."""
    require_member(actor)
    with database.atomic():  # IMMEDIATE: what is missing cannot change under the check
        post = _food_post(actor, post_id, "need")
        if post.needed_by and parse_day(post.needed_by) < local_day(box):
            raise Conflict(N_("This need was for a date that has passed."))
        errors: dict[str, str] = {}
        bring = _date_field(box, bring_on, "bring_on", errors)
        if bring and post.needed_by and bring > post.needed_by:
            errors["bring_on"] = N_("That is after the date the need is for.")
        line, qty = _line_and_qty(post, item_id, qty_text, errors)
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
            org = orgs.require_organiser(actor, clean_text(org_id))
        except NotFound:
            raise InvalidInput({"org": N_("Please choose one of your organisations.")}) from None
        post = _food_post(actor, post_id, "offer")
        if post.org == org.id:
            # Claiming one's own surplus would muddle who took what from whom.
            raise InvalidInput(
                {"org": N_("This is your own organisation's supply: mark it met instead.")}
            )
        if post.use_by and parse_day(post.use_by) < local_day(box):
            raise Conflict(N_("This supply's use-by date has passed."))
        line, qty = _line_and_qty(post, item_id, qty_text, {})
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
