"""The coordinator's page: journeys nobody covers yet, paid services as the last resort,
and monthly totals. Who may see and do what is decided in appliance/services/coordinating.py."""

from __future__ import annotations

import datetime

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.services import coordinating, travel_lists
from web.context import actor, box
from web.errors import message_of

bp = Blueprint("coordinating", __name__)


def _month_name(month: str) -> str:
    """Return "YYYY-MM" as people say it: "March 2027"."""
    return format_date(datetime.date.fromisoformat(month + "-01"), "MMMM y")


def render_page(errors=None, failed=None, form=None, problem=None, status=200):
    """Render the coordinator's page; `failed` names the (ride, date) whose form had errors."""
    me = actor()
    journeys = coordinating.unmet(box(), me)
    page = render_template(
        "travel/coordinate.html",
        journeys=journeys,
        totals=coordinating.paid_totals(box(), me),
        providers=travel_lists.providers(box()),
        alert_hours=box().settings["ride_alert_hours"],
        month_name=_month_name,
        errors=errors or {},
        failed=failed or {},
        form=form or {},
        problem=problem,
    )
    response = make_response(page, status)
    # Names and journeys: a shared desk's Back button must not show them after log out.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/coordinate")
def index():
    return render_page()


@bp.post("/coordinate/<ride_id>/paid")
def paid(ride_id):
    form = request.form
    try:
        coordinating.allocate_paid(
            box(),
            actor(),
            ride_id,
            form.get("date", ""),
            form.get("provider", ""),
            form.get("cost", ""),
            form.get("reference", ""),
        )
    except InvalidInput as exc:
        failed = {"ride": ride_id, "date": form.get("date", "")}
        return render_page(errors=exc.fields, failed=failed, form=form, status=400)
    except (Conflict, NotAllowed) as exc:
        return render_page(problem=message_of(exc), status=exc.status)
    flash(_("The paid service is booked for that journey. The rider can see it."))
    return redirect(url_for("coordinating.index"))
