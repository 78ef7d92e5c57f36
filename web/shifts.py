"""Volunteer shifts: the list, planning a shift, signing up, and iCalendar feeds."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound
from appliance.services import calendar_feeds, orgs, shifts
from appliance.services.centre import slugify
from web.context import actor, box
from web.errors import message_of

bp = Blueprint("shifts", __name__)


def _calendar_links(member_id: str) -> dict:
    """Return a member's feed: its path here, and the full address calendar apps poll."""
    args = {"member_id": member_id, "token": calendar_feeds.calendar_token(box(), member_id)}
    return {
        "path": url_for("shifts.volunteer_calendar", **args),
        "url": url_for("shifts.volunteer_calendar", **args, _external=True),
    }


@bp.get("/food/shifts")
def index():
    org_id = request.args.get("org", "").strip() or None
    problem, status = None, 200
    try:
        listing = shifts.upcoming(box(), actor(), org=org_id)
    except NotFound as exc:
        problem, status = message_of(exc), 404
        org_id, listing = None, shifts.upcoming(box(), actor())
    me = actor()
    return render_template(
        "food/shifts.html",
        days=shifts.by_day(listing),
        mine=shifts.my_shifts(box(), me) if me else None,
        calendar=_calendar_links(me.id) if me else None,
        orgs=orgs.list_orgs(box()),
        org_id=org_id,
        can_plan=bool(orgs.organised_by(me)),
        problem=problem,
    ), status


@bp.route("/food/shifts/new", methods=["GET", "POST"])
def new():
    choices = shifts.new_shift_orgs(actor())
    errors: dict = {}
    form = request.form if request.method == "POST" else {"org": request.args.get("org", "")}
    if request.method == "POST":
        try:
            shift_id = shifts.create_shift(box(), actor(), request.form)
        except InvalidInput as exc:
            errors = exc.fields
        else:
            flash(_("The shift is planned. Volunteers can now sign up."))
            return redirect(url_for("shifts.shift", shift_id=shift_id))
    return render_template(
        "food/shift_form.html", orgs=choices, form=form, errors=errors
    ), 400 if errors else 200


def render_shift(shift_id: str, errors=None, form=None, problem=None, status=200):
    """Render a shift's page, optionally with form errors or a problem banner."""
    data = shifts.shift_detail(box(), actor(), shift_id)
    return render_template(
        "food/shift.html", shift=data, errors=errors or {}, form=form or {}, problem=problem
    ), status


@bp.get("/food/shifts/<shift_id>")
def shift(shift_id):
    return render_shift(shift_id)


def _act(shift_id: str, action, done: str):
    """Run a shift action; on success go back to the shift, else show why on its page."""
    try:
        action()
    except InvalidInput as exc:
        return render_shift(shift_id, errors=exc.fields, form=request.form, status=400)
    except (Conflict, NotAllowed) as exc:
        return render_shift(shift_id, problem=message_of(exc), status=exc.status)
    flash(done)
    return redirect(url_for("shifts.shift", shift_id=shift_id))


@bp.post("/food/shifts/<shift_id>/join")
def join(shift_id):
    return _act(
        shift_id,
        lambda: shifts.join(box(), actor(), shift_id),
        _("Thank you! You are signed up. The organisers can see you are coming."),
    )


@bp.post("/food/shifts/<shift_id>/leave")
def leave(shift_id):
    return _act(
        shift_id,
        lambda: shifts.leave(box(), actor(), shift_id),
        _("You are no longer signed up to this shift."),
    )


@bp.post("/food/shifts/<shift_id>/cancel")
def cancel(shift_id):
    return _act(
        shift_id,
        lambda: shifts.cancel_shift(box(), actor(), shift_id, request.form.get("reason", "")),
        _("The shift is cancelled. Volunteers see the reason on the shift and in calendars."),
    )


def _ics(body: bytes, filename: str) -> Response:
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Calendar apps poll; always hand them the current shifts, never a stale copy.
    response.headers["Cache-Control"] = "no-cache"
    return response


def _shift_link(shift_id: str) -> str:
    return url_for("shifts.shift", shift_id=shift_id, _external=True)


@bp.get("/food/orgs/<org_id>/shifts.ics")
def org_calendar(org_id):
    org = orgs.get_org(org_id)
    body = calendar_feeds.org_feed(box(), org.id, translate=_, link=_shift_link)
    return _ics(body, f"{slugify(org.name) or 'organisation'}-shifts.ics")


@bp.get("/food/calendar/<member_id>/<token>.ics")
def volunteer_calendar(member_id, token):
    member = calendar_feeds.member_for_token(box(), member_id, token)
    body = calendar_feeds.volunteer_feed(box(), member.id, translate=_, link=_shift_link)
    return _ics(body, "my-shifts.ics")
