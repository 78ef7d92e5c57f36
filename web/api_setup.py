"""The staff set-up JSON API, /api/v1/setup/: the food banks' catalogue and organisations,
and community travel's drivers and lists, with the same services as the staff pages
(web/food_staff.py, web/travel_staff.py).

Staff work only, and only signed in on the box (the login cookie, with X-CSRFToken on a
POST): a personal token's actor has no staff roles, so members.require_staff refuses it.
Driver data is personal and never in a public answer. Documented in
web/openapi/setup.yaml. The views read the JSON body, call the service and answer; every
rule (who may, what is valid, what is whose) is in the services.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext

from appliance.errors import N_, InvalidInput
from appliance.kinds import VEHICLE_FEATURES
from appliance.services import catalogue, drivers, members, orgs, travel_lists
from web.api import BOOL, TEXT, json_body
from web.context import actor, box

bp = Blueprint("api_setup", __name__, url_prefix="/api/v1")

ITEM_FIELDS = ("name", "category", "unit")
ORG_FIELDS = ("name", "type", "place")
NEED_TRUE_OR_FALSE = N_("Please send this as true or false.")


# --- answers --------------------------------------------------------------------------------


def _item(item) -> dict:
    return {
        "id": item.id,
        "name": item.name,
        "category": item.category,
        "category_label": gettext(catalogue.CATEGORY_LABELS.get(item.category, item.category)),
        "unit": item.unit,
        "unit_label": gettext(catalogue.UNIT_LABELS.get(item.unit, item.unit)),
        "active": bool(item.active),
        "own": item.origin == box().origin,
    }


def _org(org_id: str):
    org = orgs.get_org(org_id)
    return jsonify(
        {
            "id": org.id,
            "name": org.name,
            "type": org.type,
            "type_label": gettext(orgs.ORG_TYPE_LABELS.get(org.type, org.type)),
            "place": org.place,
            "active": bool(org.active),
            "own": org.origin == box().origin,
            "people": orgs.org_people(org.id),
        }
    )


def _driver(member_id: str):
    return jsonify(drivers.driver_for_staff(box(), actor(), member_id))


def _lists() -> dict:
    return {
        "needs": travel_lists.access_needs(box(), include_inactive=True),
        "checks": travel_lists.driver_checks(box(), include_inactive=True),
        "providers": travel_lists.providers(box(), include_inactive=True),
        "features": {k: gettext(v) for k, v in travel_lists.FEATURE_LABELS.items()},
    }


def _active() -> bool:
    """Return the body's `active` (true or false), which these routes need."""
    data = json_body(active=BOOL)
    if "active" not in data:
        raise InvalidInput({"active": NEED_TRUE_OR_FALSE})
    return data["active"]


# --- the item catalogue ---------------------------------------------------------------------


@bp.post("/setup/items/starter")
def add_starter_items():
    added = catalogue.add_starter_items(box(), actor())
    return jsonify({"added": added, "items": [_item(i) for i in catalogue.list_items(False)]})


@bp.post("/setup/items/<item_id>")
def change_item(item_id):
    data = json_body(**dict.fromkeys(ITEM_FIELDS, TEXT))
    active = catalogue.get_item(item_id).active
    catalogue.change_item(box(), actor(), item_id, data, active=active)
    return jsonify(_item(catalogue.get_item(item_id)))


@bp.post("/setup/items/<item_id>/active")
def set_item_active(item_id):
    item = catalogue.get_item(item_id)
    details = {f: getattr(item, f) for f in ITEM_FIELDS}
    catalogue.change_item(box(), actor(), item_id, details, active=_active())
    return jsonify(_item(catalogue.get_item(item_id)))


# --- organisations --------------------------------------------------------------------------


@bp.post("/setup/orgs/<org_id>")
def change_org(org_id):
    data = json_body(**dict.fromkeys(ORG_FIELDS, TEXT))
    active = orgs.get_org(org_id).active
    orgs.change_org(box(), actor(), org_id, data, active=active)
    return _org(org_id)


@bp.post("/setup/orgs/<org_id>/active")
def set_org_active(org_id):
    org = orgs.get_org(org_id)
    details = {f: getattr(org, f) for f in ORG_FIELDS}
    orgs.change_org(box(), actor(), org_id, details, active=_active())
    return _org(org_id)


@bp.post("/setup/orgs/<org_id>/people")
def set_person(org_id):
    data = json_body(member=TEXT, role=TEXT)
    # An empty role removes someone on the page; here removing has its own route, so a
    # missing role is a mistake, not a removal.
    if not data.get("role"):
        raise InvalidInput({"role": N_("Choose member or organiser.")})
    orgs.set_org_role(box(), actor(), org_id, data.get("member", ""), data["role"])
    return _org(org_id)


@bp.post("/setup/orgs/<org_id>/people/<member_id>/remove")
def remove_person(org_id, member_id):
    orgs.set_org_role(box(), actor(), org_id, member_id, None)
    return _org(org_id)


# --- drivers --------------------------------------------------------------------------------


@bp.get("/setup/drivers")
def list_drivers():
    return jsonify(drivers.drivers_for_staff(box(), actor()))


@bp.get("/setup/drivers/<member_id>")
def get_driver(member_id):
    return _driver(member_id)


def _raw_object() -> dict:
    """Return the body's JSON object as sent (json_body refuses anything else)."""
    json_body()
    return request.get_json()


def _vouch_body() -> tuple[dict, dict]:
    """Return (checks {slug: (seen, expires)}, vehicle) from the body; refuse bad shapes."""
    raw = _raw_object()
    checks, vehicle = raw.get("checks"), raw.get("vehicle")
    errors = {}
    if not isinstance(checks, dict) or not all(
        isinstance(dates, dict)
        and all(isinstance(dates.get(k, ""), str) for k in ("seen", "expires"))
        for dates in checks.values()
    ):
        errors["checks"] = N_(
            'Please send the checks as {"slug": {"seen": "YYYY-MM-DD", "expires": "YYYY-MM-DD"}}.'
        )
    if not isinstance(vehicle, dict):
        errors["vehicle"] = N_('Please send the vehicle as {"seats": 4, "wheelchair": false}.')
    else:
        seats = vehicle.get("seats")
        if not isinstance(seats, int) or isinstance(seats, bool):
            errors["seats"] = N_("Please give the passenger seats, a number from 1 to 8.")
        for feature in VEHICLE_FEATURES:
            if not isinstance(vehicle.get(feature, False), bool):
                errors[feature] = NEED_TRUE_OR_FALSE
    if errors:
        raise InvalidInput(errors)
    dates = {slug: (d.get("seen", ""), d.get("expires", "")) for slug, d in checks.items()}
    car = {"seats": vehicle["seats"], **{f: vehicle.get(f, False) for f in VEHICLE_FEATURES}}
    return dates, car


@bp.post("/setup/drivers/<member_id>")
def vouch(member_id):
    checks, vehicle = _vouch_body()
    drivers.vouch(box(), actor(), member_id, checks, vehicle)
    return _driver(member_id)


@bp.post("/setup/drivers/<member_id>/withdraw")
def withdraw(member_id):
    data = json_body(reason=TEXT)
    drivers.withdraw(box(), actor(), member_id, data.get("reason", ""))
    return _driver(member_id)


# --- the travel lists -----------------------------------------------------------------------

# list name -> (service, the fields it takes besides slug and active).
LISTS = {
    "needs": (travel_lists.set_access_need, ("label", "requires")),
    "checks": (travel_lists.set_driver_check, ("label",)),
    "providers": (travel_lists.set_provider, ("name",)),
}


@bp.get("/setup/travel")
def lists():
    # Staff's view, retired entries included, as on /staff/travel (which checks the same).
    members.require_staff(actor())
    return jsonify(_lists())


def _set(which: str):
    """Add an entry (no slug), or change, retire or bring back one (its slug)."""
    service, fields = LISTS[which]
    data = json_body(slug=TEXT, active=BOOL, **dict.fromkeys(fields, TEXT))
    new = not data.get("slug")
    slug = service(box(), actor(), data)
    response = jsonify({"slug": slug, **_lists()})
    if new:
        response.status_code = 201
        response.headers["Location"] = url_for("api_setup.lists")
    return response


@bp.post("/setup/travel/needs")
def set_need():
    return _set("needs")


@bp.post("/setup/travel/checks")
def set_check():
    return _set("checks")


@bp.post("/setup/travel/providers")
def set_provider():
    return _set("providers")
