"""Staff pages: members (verify in person, roles) and the centre's lists."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext
from flask_babel import gettext as _

from appliance.services import centre, health, members
from web.context import actor, box
from web.errors import act_on_page

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _members_page(errors=None, problem=None, status=200, editing=None):
    listing = members.list_members(box(), actor(), request.args.get("q", ""))
    return render_template(
        "staff/members.html",
        members=listing,
        errors=errors or {},
        editing=editing,
        problem=problem,
        form=request.form,
        q=request.args.get("q", ""),
        quarantined=health.quarantined(actor()),
    ), status


def _centre_page(errors=None, problem=None, status=200):
    members.require_staff(actor())
    return render_template(
        "staff/centre.html",
        categories=centre.categories(box(), include_inactive=True),
        places=centre.places(box()),
        errors=errors or {},
        problem=problem,
        form=request.form,
    ), status


def _act(page, action, done: str, endpoint: str):
    return act_on_page(page, action, done, url_for(endpoint))


@bp.get("/members")
def members_page():
    return _members_page()


@bp.post("/members/<member_id>/verify")
def verify(member_id):
    verified = request.form.get("verified") != "0"
    return _act(
        _members_page,
        lambda: members.set_verified(box(), actor(), member_id, verified),
        _("Marked as verified in person.") if verified else _("Verification removed."),
        "staff.members_page",
    )


@bp.post("/members/<member_id>/roles")
def grant(member_id):
    return _act(
        lambda **kw: _members_page(editing=member_id, **kw),
        lambda: members.grant_role(
            box(),
            actor(),
            member_id,
            request.form.get("role", ""),
            request.form.get("expires", "") or None,
        ),
        _("Role granted."),
        "staff.members_page",
    )


@bp.post("/members/<member_id>/roles/<role>/revoke")
def revoke(member_id, role):
    return _act(
        _members_page,
        lambda: members.revoke_role(box(), actor(), member_id, role),
        _("Role removed."),
        "staff.members_page",
    )


@bp.get("/centre")
def centre_page():
    return _centre_page()


def _category_page(errors=None, problem=None, status=200):
    # A rename's error belongs to that category's row, not to the "New category" box.
    if errors and request.form.get("slug"):
        return _centre_page(problem=gettext(next(iter(errors.values()))), status=status)
    return _centre_page(errors=errors, problem=problem, status=status)


@bp.post("/centre/categories")
def set_category():
    return _act(
        _category_page,
        lambda: centre.set_category(
            box(),
            actor(),
            request.form.get("label", ""),
            active=request.form.get("active", "1") == "1",
            slug=request.form.get("slug") or None,
        ),
        _("Categories updated."),
        "staff.centre_page",
    )


@bp.post("/centre/places")
def set_place():
    return _act(
        _centre_page,
        lambda: centre.set_place(
            box(), actor(), request.form.get("place", ""), request.form.get("active", "1") == "1"
        ),
        _("Places updated."),
        "staff.centre_page",
    )
