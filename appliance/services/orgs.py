"""Organisations (food banks, shops, groups, suppliers) and the people who organise them.

An organisation belongs to the box whose staff created it: only that box's staff change
it or grant its roles (the fold ignores such records from other origins). Its
organisers post and close its needs and supplies, claim supplies for it and run its
shifts; anyone signed in can pledge, offer and sign up.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from appliance.kinds import ORG_NAME_MAX, ORG_ROLES, ORG_TYPES, PLACE_MAX
from appliance.models import Member, Org, OrgRole
from appliance.services.accounts import Actor, require_member
from appliance.services.members import require_staff
from appliance.text import one_line

ORG_TYPE_LABELS = {
    "foodbank": N_("Food bank"),
    "shop": N_("Shop"),
    "group": N_("Community group"),
    "supplier": N_("Other supplier"),
}
assert set(ORG_TYPE_LABELS) == set(ORG_TYPES)


def check_org(data: dict) -> dict:
    """Validate an organisation's name, type and place; return the cleaned fields."""
    errors: dict[str, str] = {}
    body = {
        "name": one_line(data.get("name")),
        "type": one_line(data.get("type")),
        "place": one_line(data.get("place")),
    }
    if not body["name"]:
        errors["name"] = N_("Please give the organisation's name.")
    elif len(body["name"]) > ORG_NAME_MAX:
        errors["name"] = N_("Please keep the name under 100 characters.")
    if body["type"] not in ORG_TYPES:
        errors["type"] = N_("Please choose what kind of organisation this is.")
    if not body["place"]:
        errors["place"] = N_("Please say where it is: an address or a building.")
    elif len(body["place"]) > PLACE_MAX:
        errors["place"] = N_("Please keep the place under 80 characters.")
    if errors:
        raise InvalidInput(errors)
    return body


def get_org(org_id: str) -> Org:
    """Return an organisation by id, or raise NotFound."""
    org = Org.get_or_none(Org.id == org_id)
    if org is None:
        raise NotFound(N_("There is no such organisation."))
    return org


def _own_org(box: Box, org_id: str) -> Org:
    org = get_org(org_id)
    if org.origin != box.origin:
        raise NotAllowed(
            N_("Only the staff of the centre that added this organisation can change it.")
        )
    return org


def _name_taken(box: Box, name: str, other_than: str | None = None) -> None:
    folded = name.casefold()
    for org in Org.select(Org.id, Org.name).where(Org.origin == box.origin):
        if org.name.casefold() == folded and org.id != other_than:
            raise InvalidInput(
                {"name": N_("This centre already has an organisation of that name.")}
            )


def create_org(box: Box, actor: Actor | None, data: dict) -> str:
    """Add an organisation (staff); return its id."""
    require_staff(actor)
    body = check_org(data)
    _name_taken(box, body["name"])
    return box.log.append("org.created", body, author=actor.id).id


def change_org(box: Box, actor: Actor | None, org_id: str, data: dict, active: bool = True) -> None:
    """Change an organisation's details, or retire it (active False) (staff of its box)."""
    require_staff(actor)
    org = _own_org(box, org_id)
    body = check_org(data)
    _name_taken(box, body["name"], other_than=org.id)
    box.log.append("org.changed", {**body, "active": bool(active)}, subject=org.id, author=actor.id)


def set_org_role(
    box: Box, actor: Actor | None, org_id: str, member_id: str, role: str | None
) -> None:
    """Make a member a member or an organiser of an organisation, or remove them (None)."""
    require_staff(actor)
    org = _own_org(box, org_id)
    member = Member.get_or_none(Member.id == member_id)
    if member is None:
        raise NotFound(N_("There is no such member."))
    role = role or None
    if role is not None and role not in ORG_ROLES:
        raise InvalidInput({"role": N_("Choose member or organiser.")})
    current = OrgRole.get_or_none((OrgRole.org == org.id) & (OrgRole.member == member.id))
    if (current.role if current else None) == role:
        raise Conflict(N_("Nothing to change: %(name)s already has that place."), name=member.name)
    box.log.append(
        "org.role.set", {"member": member.id, "role": role}, subject=org.id, author=actor.id
    )


def list_orgs(box: Box, types: tuple[str, ...] = ORG_TYPES, active_only: bool = True) -> list[Org]:
    """Return the organisations this box knows (its own and synced centres'), by name."""
    query = Org.select().where(Org.type.in_(types))
    if active_only:
        query = query.where(Org.active == True)  # noqa: E712 (peewee expression)
    return list(query.order_by(Org.name))


def retired_org_ids():
    """Return a query of the ids of retired organisations, to leave their posts out.

    Use it as `Post.org.not_in(retired_org_ids())`, not as a join on active ones: a post
    whose organisation has not reached this box yet still counts.
    """
    return Org.select(Org.id).where(Org.active == False)  # noqa: E712 (peewee expression)


def org_people(org_id: str) -> list[dict]:
    """Return an organisation's members and organisers with their names."""
    rows = (
        OrgRole.select(OrgRole, Member.name)
        .join(Member, on=(OrgRole.member == Member.id), attr="person")
        .where(OrgRole.org == org_id)
        .order_by(Member.name)
    )
    return [{"id": r.member, "name": r.person.name, "role": r.role} for r in rows]


def is_organiser(actor: Actor | None, org_id: str | None) -> bool:
    """True if the actor organises the organisation."""
    if actor is None or not org_id:
        return False
    return (
        OrgRole.select()
        .where(
            (OrgRole.org == org_id) & (OrgRole.member == actor.id) & (OrgRole.role == "organiser")
        )
        .exists()
    )


def organised_by(actor: Actor | None) -> list[Org]:
    """Return the active organisations the actor organises."""
    if actor is None:
        return []
    return list(
        Org.select()
        .join(OrgRole, on=(OrgRole.org == Org.id))
        .where((OrgRole.member == actor.id) & (OrgRole.role == "organiser") & Org.active)
        .order_by(Org.name)
    )


def require_organiser(actor: Actor | None, org_id: str | None) -> Org:
    """Return the organisation if the actor organises it (and it is active), else raise."""
    require_member(actor)
    if not org_id:
        raise InvalidInput({"org": N_("Please choose the organisation.")})
    org = get_org(org_id)
    if not is_organiser(actor, org.id):
        raise NotAllowed(N_("Only an organiser of %(org)s can do that."), org=org.name)
    if not org.active:
        raise Conflict(N_("%(org)s is no longer active here."), org=org.name)
    return org
