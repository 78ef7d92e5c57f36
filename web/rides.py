"""Riders' pages: my rides, asking for a ride, a ride's page, cancelling journeys."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.services import rides
from web.context import actor, box
from web.errors import message_of

bp = Blueprint("rides", __name__)

# What the request form holds before anything is typed.
FORM_DEFAULTS = {"time_is": "pickup", "window": "15", "repeat": "none", "passengers": "1"}


@bp.after_request
def no_store(response):
    """Riders' pages hold addresses and needs, often on a shared desk computer: never
    keep a copy of them in a browser's or a proxy's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/rides")
def index():
    return render_template("rides/index.html", rides=rides.my_rides(box(), actor()))


@bp.route("/rides/new", methods=["GET", "POST"])
def new():
    choices = rides.form_choices(box(), actor())
    errors: dict = {}
    problem, status = None, 200
    if request.method == "POST":
        form = request.form
        try:
            ride_id = rides.request_ride(box(), actor(), request.form)
        except InvalidInput as exc:
            errors, status = exc.fields, 400
        except NotAllowed as exc:
            problem, status = message_of(exc), exc.status
        else:
            flash(_("Your ride is asked for. You can follow each journey here."))
            return redirect(url_for("rides.ride", ride_id=ride_id))
        picked = {"needs": form.getlist("needs"), "days": form.getlist("days")}
    else:
        form = {**FORM_DEFAULTS, "rider": request.args.get("for", "")}
        picked = {"needs": [], "days": []}
    return render_template(
        "rides/new.html",
        form=form,
        picked=picked,
        errors=errors,
        problem=problem,
        choices=choices,
    ), status


def render_ride(ride_id: str, errors=None, form=None, problem=None, status=200):
    """Render a ride's page (404 for anyone who may not see it), with errors or a problem."""
    data = rides.ride_detail(box(), actor(), ride_id)
    return render_template(
        "rides/ride.html", ride=data, errors=errors or {}, form=form or {}, problem=problem
    ), status


@bp.get("/rides/<ride_id>")
def ride(ride_id):
    return render_ride(ride_id)


@bp.post("/rides/<ride_id>/cancel")
def cancel(ride_id):
    date = request.form.get("date", "").strip() or None
    try:
        rides.cancel(box(), actor(), ride_id, date, request.form.get("reason", ""))
    except InvalidInput as exc:
        # Only the reason is a field on the page; a bad date comes from a forged form.
        shown = {k: v for k, v in exc.fields.items() if k == "reason"}
        problem = " ".join(_(v) for k, v in exc.fields.items() if k != "reason") or None
        return render_ride(ride_id, errors=shown, form=request.form, problem=problem, status=400)
    except (Conflict, NotAllowed) as exc:
        return render_ride(ride_id, problem=message_of(exc), status=exc.status)
    if date:
        flash(_("That journey is cancelled."))
    else:
        flash(_("The whole ride is cancelled: nobody will come for any of its journeys."))
    if request.form.get("back") == "list":
        return redirect(url_for("rides.index") + f"#ride-{ride_id}")
    return redirect(url_for("rides.ride", ride_id=ride_id))
