"""Staff pages for food banks: the organisations this box knows, and the item catalogue.

Organisations and catalogue entries added here belong to this box: only its staff change
them. Those that came from other centres are shown read-only, saying where they are from.
"""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_babel import gettext as _

from appliance.fold_food import item_match_key
from appliance.services import catalogue, members, orgs
from appliance.services.board_queries import other_centres
from web.context import actor, box
from web.errors import act_on_page

bp = Blueprint("food_staff", __name__, url_prefix="/staff")

ORG_FIELDS = ("name", "type", "place")
ITEM_FIELDS = ("name", "category", "unit")


def _from_centres(rows: list) -> list[tuple]:
    """Pair each organisation or item with the centre it came from (None: this box)."""
    here, centres = box().origin, other_centres(box())
    return [
        (row, None if row.origin == here else centres.get(row.origin, _("another centre")))
        for row in rows
    ]


def _form(fields: tuple[str, ...]) -> dict:
    return {f: request.form.get(f, "") for f in fields}


def _as_problem(page):
    """Show a form's field errors as one message at the top (forms made of buttons)."""

    def render(errors=None, problem=None, status=200):
        if errors:
            problem = gettext(next(iter(errors.values())))
        return page(problem=problem, status=status)

    return render


# --- organisations ---------------------------------------------------------------------


def _orgs_page(errors=None, problem=None, status=200):
    members.require_staff(actor())
    known = _from_centres(orgs.list_orgs(box(), active_only=False))
    return render_template(
        "food/staff_orgs.html",
        own=[org for org, centre in known if centre is None],
        others=[(org, centre) for org, centre in known if centre is not None],
        types=orgs.ORG_TYPE_LABELS,
        errors=errors or {},
        problem=problem,
        form=request.form,
    ), status


def _org_page(org_id, errors=None, problem=None, status=200):
    members.require_staff(actor())
    org = orgs.get_org(org_id)
    [(_org, from_centre)] = _from_centres([org])
    people = orgs.org_people(org.id)
    q = request.values.get("q", "").strip()
    found = members.list_members(box(), actor(), q) if q and from_centre is None else []
    return render_template(
        "food/staff_org.html",
        org=org,
        from_centre=from_centre,
        people=people,
        roles={p["id"]: p["role"] for p in people},
        found=found,
        q=q,
        types=orgs.ORG_TYPE_LABELS,
        errors=errors or {},
        problem=problem,
        form=request.form if errors else {f: getattr(org, f) for f in ORG_FIELDS},
    ), status


def _org_url(org_id: str, q: str | None = None) -> str:
    return url_for("food_staff.org_page", org_id=org_id, q=q or None)


@bp.get("/orgs")
def orgs_page():
    return _orgs_page()


@bp.post("/orgs")
def add_org():
    return act_on_page(
        _orgs_page,
        lambda: orgs.create_org(box(), actor(), _form(ORG_FIELDS)),
        _("Organisation added. Now add the people who run it."),
        _org_url,
    )


@bp.get("/orgs/<org_id>")
def org_page(org_id):
    return _org_page(org_id)


@bp.post("/orgs/<org_id>")
def change_org(org_id):
    return act_on_page(
        lambda **kw: _org_page(org_id, **kw),
        lambda: orgs.change_org(
            box(), actor(), org_id, _form(ORG_FIELDS), active=orgs.get_org(org_id).active
        ),
        _("Details saved."),
        _org_url(org_id),
    )


@bp.post("/orgs/<org_id>/active")
def set_org_active(org_id):
    active = request.form.get("active") == "1"
    org = orgs.get_org(org_id)
    details = {f: getattr(org, f) for f in ORG_FIELDS}
    return act_on_page(
        _as_problem(lambda **kw: _org_page(org_id, **kw)),
        lambda: orgs.change_org(box(), actor(), org_id, details, active=active),
        _("%(org)s is active again.", org=org.name)
        if active
        else _("%(org)s is retired: its organisers can no longer post for it.", org=org.name),
        _org_url(org_id),
    )


@bp.post("/orgs/<org_id>/people")
def set_person(org_id):
    role = request.form.get("role", "")
    q = request.form.get("q")
    return act_on_page(
        _as_problem(lambda **kw: _org_page(org_id, **kw)),
        lambda: orgs.set_org_role(box(), actor(), org_id, request.form.get("member", ""), role),
        {"organiser": _("Made an organiser."), "member": _("Made a member.")}.get(
            role, _("Removed from the organisation.")
        ),
        _org_url(org_id, q),
    )


@bp.post("/orgs/<org_id>/people/<member_id>/remove")
def remove_person(org_id, member_id):
    return act_on_page(
        _as_problem(lambda **kw: _org_page(org_id, **kw)),
        lambda: orgs.set_org_role(box(), actor(), org_id, member_id, None),
        _("Removed from the organisation."),
        _org_url(org_id),
    )


# --- the item catalogue ----------------------------------------------------------------


def _catalogue_page(errors=None, problem=None, status=200, editing=None):
    members.require_staff(actor())
    items = catalogue.list_items(active_only=False)
    have = {i.match_key for i in items}
    missing = [s for s in catalogue.STARTER_ITEMS if item_match_key(s[0], s[2]) not in have]
    groups = [
        (category, catalogue.CATEGORY_LABELS[category], _from_centres(list(rows)))
        for category, rows in groupby(items, key=lambda i: i.category)
    ]
    # One of this box's entries may be open for changing (?edit=ID, or a refused change).
    editing = editing or request.args.get("edit")
    edited = next((i for i in items if i.id == editing and i.origin == box().origin), None)
    edit_form, form = {}, request.form
    if edited:
        edit_form = request.form if errors else {f: getattr(edited, f) for f in ITEM_FIELDS}
        form = {}
    return render_template(
        "food/staff_catalogue.html",
        groups=groups,
        missing=len(missing),
        categories=catalogue.CATEGORY_LABELS,
        units=catalogue.UNIT_LABELS,
        editing=edited.id if edited else None,
        edit_form=edit_form,
        edit_errors=(errors or {}) if edited else {},
        errors={} if edited else errors or {},
        form=form,
        problem=problem,
    ), status


@bp.get("/catalogue")
def catalogue_page():
    return _catalogue_page()


@bp.post("/catalogue")
def add_item():
    return act_on_page(
        _catalogue_page,
        lambda: catalogue.add_item(box(), actor(), _form(ITEM_FIELDS)),
        _("Added to the catalogue."),
        lambda item_id: url_for("food_staff.catalogue_page", _anchor=f"item-{item_id}"),
    )


@bp.post("/catalogue/starter")
def add_starter_items():
    return act_on_page(
        _catalogue_page,
        lambda: catalogue.add_starter_items(box(), actor()),
        lambda added: (
            ngettext("Added %(num)d item.", "Added %(num)d items.", added)
            if added
            else _("The catalogue already has all the usual items.")
        ),
        url_for("food_staff.catalogue_page"),
    )


@bp.post("/catalogue/<item_id>")
def change_item(item_id):
    return act_on_page(
        lambda **kw: _catalogue_page(editing=item_id, **kw),
        lambda: catalogue.change_item(
            box(), actor(), item_id, _form(ITEM_FIELDS), active=catalogue.get_item(item_id).active
        ),
        _("Saved."),
        url_for("food_staff.catalogue_page", _anchor=f"item-{item_id}"),
    )


@bp.post("/catalogue/<item_id>/active")
def set_item_active(item_id):
    active = request.form.get("active") == "1"
    item = catalogue.get_item(item_id)
    return act_on_page(
        _as_problem(_catalogue_page),
        lambda: catalogue.change_item(
            box(), actor(), item_id, {f: getattr(item, f) for f in ITEM_FIELDS}, active=active
        ),
        _("%(item)s is back in the catalogue.", item=item.name)
        if active
        else _("%(item)s is retired: new posts cannot ask for it.", item=item.name),
        url_for("food_staff.catalogue_page", _anchor=f"item-{item_id}"),
    )
