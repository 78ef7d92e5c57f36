"""The staff JSON API, /api/v1/staff/: members (verify in person, roles), the centre's
categories and places, each paired centre's moderation choice, the code of conduct,
and other centres' vouches for a member.

Thin over the services the staff pages call (appliance/services/members.py, centre.py,
moderation.py, moderation_log.py, conduct.py, vouches.py): every one of them checks
members.require_staff, so only staff signed in on the box (the login cookie, with
X-CSRFToken on a POST) get past; a personal token is refused with 403 there.
Documented in web/openapi/staff.yaml.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from appliance.errors import N_, InvalidInput
from appliance.services import centre, conduct, members, moderation, moderation_log, vouches
from appliance.services.accounts import current_roles
from web.api import BOOL, TEXT, json_body
from web.context import actor, box

bp = Blueprint("api_staff", __name__, url_prefix="/api/v1")


@bp.after_request
def no_store(response):
    """Members' contacts and roles, read on a shared desk computer: never cache them."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- members: verification in person and roles -----------------------------------------


@bp.get("/staff/members")
def list_members():
    found = members.list_members(box(), actor(), request.args.get("q", ""))
    return jsonify({"members": found})


@bp.post("/staff/members/<member_id>/verify")
def verify(member_id):
    data = json_body(verified=BOOL)
    if "verified" not in data:
        raise InvalidInput({"verified": N_("Please send true (met in person) or false.")})
    verified = data["verified"]
    members.set_verified(box(), actor(), member_id, verified)
    return jsonify(
        {
            "id": member_id,
            "verified": verified,
            "verified_here": vouches.verified_here(box(), member_id),
        }
    )


def _roles(member_id: str):
    return jsonify({"id": member_id, "roles": sorted(current_roles(box(), member_id))})


@bp.post("/staff/members/<member_id>/roles")
def grant_role(member_id):
    data = json_body(role=TEXT, expires=TEXT)
    members.grant_role(box(), actor(), member_id, data.get("role", ""), data.get("expires") or None)
    return _roles(member_id)


@bp.post("/staff/members/<member_id>/roles/<role>/revoke")
def revoke_role(member_id, role):
    members.revoke_role(box(), actor(), member_id, role)
    return _roles(member_id)


# --- the centre's categories and places ---------------------------------------------------


def _categories() -> list[dict]:
    return [
        {"slug": c.slug, "label": c.label, "active": c.active}
        for c in centre.categories(box(), include_inactive=True)
    ]


@bp.get("/staff/centre/categories")
def categories():
    members.require_staff(actor())  # as the staff centre page: inactive ones are staff's
    return jsonify({"categories": _categories()})


@bp.post("/staff/centre/categories")
def set_category():
    data = json_body(label=TEXT, slug=TEXT, active=BOOL)
    slug = centre.set_category(
        box(),
        actor(),
        data.get("label", ""),
        active=data.get("active", True),
        slug=data.get("slug") or None,
    )
    return jsonify({"slug": slug, "categories": _categories()})


@bp.post("/staff/centre/places")
def set_place():
    data = json_body(name=TEXT, active=BOOL)
    try:
        centre.set_place(box(), actor(), data.get("name", ""), data.get("active", True))
    except InvalidInput as exc:
        # The form's field is "place"; here the body names it "name".
        fields = {("name" if k == "place" else k): v for k, v in exc.fields.items()}
        raise InvalidInput(fields, exc.message) from None
    return jsonify({"places": centre.places(box())})


# --- each paired centre's moderation: honour, review or ignore ----------------------------


@bp.get("/staff/moderation/peers")
def peers():
    return jsonify({"peers": moderation_log.peer_choices(box(), actor())})


@bp.post("/staff/moderation/peers")
def set_peer():
    data = json_body(origin=TEXT, mode=TEXT)
    moderation.set_peer_policy(box(), actor(), data.get("origin", ""), data.get("mode", ""))
    return jsonify({"peers": moderation_log.peer_choices(box(), actor())})


# --- the code of conduct -------------------------------------------------------------------


@bp.post("/staff/conduct")
def publish_conduct():
    data = json_body(text=TEXT, note=TEXT)
    version = conduct.publish_conduct(box(), actor(), data.get("text", ""), data.get("note", ""))
    response = jsonify({"version": version, "current": conduct.current_conduct(box())})
    response.status_code = 201
    response.headers["Location"] = url_for("api_community.conduct_now")
    return response


# --- vouches from other centres --------------------------------------------------------------


@bp.get("/staff/members/<member_id>/vouches")
def member_vouches(member_id):
    return jsonify(vouches.staff_view(box(), actor(), member_id))


@bp.post("/staff/members/<member_id>/vouches/review")
def review_vouch(member_id):
    data = json_body(origin=TEXT, accepted=BOOL)
    vouches.review_vouch(box(), actor(), member_id, data.get("origin", ""), data.get("accepted"))
    return jsonify(vouches.staff_view(box(), actor(), member_id))
