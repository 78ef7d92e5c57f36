"""The volunteer driver's page: their journeys, the rides they could take, and their
calendar feed. Who may see and do what is decided in appliance/services/driving.py."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.services import driving, ride_calendar
from web.context import actor, box
from web.errors import message_of

bp = Blueprint("driving", __name__)


def _calendar_links(member_id: str) -> dict:
    """Return a driver's feed: its path here, and the full address calendar apps poll."""
    args = {"member_id": member_id, "token": ride_calendar.calendar_token(box(), member_id)}
    return {
        "path": url_for("driving.calendar", **args),
        "url": url_for("driving.calendar", **args, _external=True),
    }


def private(response):
    """Keep a page with addresses out of every cache: a shared desk's Back button must not
    show it again after its driver logs out."""
    response.headers["Cache-Control"] = "no-store"
    return response


def render_page(errors=None, failed=None, form=None, problem=None, status=200):
    """Render the driver's page; `failed` names the (ride, date) whose form had errors."""
    me = actor()
    data = driving.driver_page(box(), me)
    page = render_template(
        "travel/driving.html",
        data=data,
        # A driver who can no longer drive has no feed (it answers 404).
        calendar=None if "lapsed" in data else _calendar_links(me.id),
        errors=errors or {},
        failed=failed or {},
        form=form or {},
        problem=problem,
    )
    return private(make_response(page, status))


@bp.get("/driving")
def index():
    return render_page()


def _date() -> str | None:
    """Return the journey's date the form names, or None for every journey of a series."""
    return None if request.form.get("every") else request.form.get("date", "")


def _act(ride_id: str, action, done: str):
    """Run a driver's action; on success go back to the page, else show why on it."""
    try:
        action()
    except InvalidInput as exc:
        failed = {"ride": ride_id, "date": request.form.get("date", "")}
        return render_page(errors=exc.fields, failed=failed, form=request.form, status=400)
    except (Conflict, NotAllowed) as exc:
        return render_page(problem=message_of(exc), status=exc.status)
    flash(done)
    # A lapsed driver who handed back their last journey has no driving page any more.
    if not driving.may_open_page(box(), actor()):
        return redirect(url_for("board.index"))
    return redirect(url_for("driving.index"))


@bp.post("/driving/<ride_id>/take")
def take(ride_id):
    date = _date()
    done = (
        _("Thank you! Every journey of this ride is yours: the addresses are below.")
        if date is None
        else _("Thank you! The journey is yours: the addresses are below.")
    )
    return _act(ride_id, lambda: driving.take(box(), actor(), ride_id, date), done)


@bp.post("/driving/<ride_id>/hand-back")
def hand_back(ride_id):
    date = _date()
    return _act(
        ride_id,
        lambda: driving.hand_back(box(), actor(), ride_id, date),
        _("You handed it back. Other drivers can take it now."),
    )


@bp.post("/driving/<ride_id>/start")
def start(ride_id):
    return _act(
        ride_id,
        lambda: driving.start_journey(box(), actor(), ride_id, request.form.get("date", "")),
        _("Safe journey! The rider can see you are on the way."),
    )


@bp.post("/driving/<ride_id>/done")
def done(ride_id):
    return _act(
        ride_id,
        lambda: driving.done(
            box(), actor(), ride_id, request.form.get("date", ""), request.form.get("miles", "")
        ),
        _("Thank you for driving! The journey is marked done."),
    )


@bp.get("/driving/calendar/<member_id>/<token>.ics")
def calendar(member_id, token):
    viewer = ride_calendar.driver_for_token(box(), member_id, token)
    body = ride_calendar.driver_feed(
        box(), viewer, translate=_, link=url_for("driving.index", _external=True)
    )
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="my-drives.ics"'
    # Calendar apps poll; always hand them the current journeys, and keep the addresses
    # out of every cache.
    return private(response)
