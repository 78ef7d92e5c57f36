"""The travel JSON API, /api/v1/: riders' rides, drivers' journeys, coordinators' list.

Thin over the services the pages call (appliance/services/rides.py, driving.py,
coordinating.py), so who may see what is decided where the pages decide it
(appliance/services/ride_access.py): a ride someone may not see answers 404 exactly as
an unknown id does. Documented in web/openapi/travel.yaml.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from appliance.errors import N_, InvalidInput, ServiceError
from appliance.services import coordinating, driving, rides, travel_lists
from web.context import actor, box

bp = Blueprint("api_travel", __name__, url_prefix="/api/v1")

PLAIN = (str, int, float, bool, type(None))


class NotJson(ServiceError):
    """A request body that is not JSON (answered 415)."""

    status = 415


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_body(lists: tuple[str, ...] = ()) -> dict:
    """Return the request's JSON object as the services read a form: each value as text
    (numbers and true/false written out), and each field in `lists` as a list of texts.

    No body is an empty object; a body that is not JSON, not an object, or a field that
    is not plain text where text is wanted is refused before any service runs.
    """
    if not request.get_data(cache=True):
        return {}
    if not request.is_json:
        raise NotJson(N_("Please send the body as JSON, with Content-Type: application/json."))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput({"body": N_("Please send one JSON object with the fields named.")})
    found, errors = {}, {}
    for name, value in data.items():
        if name in lists and isinstance(value, list):
            if all(isinstance(v, PLAIN) and not isinstance(v, bool) for v in value):
                found[name] = [_text(v) for v in value]
                continue
            errors[name] = N_("Please give a list of texts here.")
        elif isinstance(value, PLAIN):
            found[name] = _text(value)
        else:
            errors[name] = N_("Please give plain text or a number here.")
    if errors:
        raise InvalidInput(errors)
    return found


@bp.after_request
def no_store(response):
    """Rides hold addresses and needs, often read on a shared desk computer: never keep
    a copy in a browser's or a proxy's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- riders ----------------------------------------------------------------------------


@bp.get("/rides")
def my_rides():
    return jsonify({"rides": rides.my_rides(box(), actor())})


@bp.get("/rides/<ride_id>")
def ride(ride_id):
    return jsonify(rides.ride_detail(box(), actor(), ride_id))


@bp.post("/rides")
def request_ride():
    ride_id = rides.request_ride(box(), actor(), json_body(lists=("needs", "days")))
    return jsonify(rides.ride_detail(box(), actor(), ride_id)), 201


@bp.post("/rides/<ride_id>/cancel")
def cancel(ride_id):
    data = json_body()
    date = data.get("date", "").strip() or None
    rides.cancel(box(), actor(), ride_id, date, data.get("reason", ""))
    return jsonify(rides.ride_detail(box(), actor(), ride_id))


# --- drivers ---------------------------------------------------------------------------


@bp.get("/driving")
def driver_page():
    return jsonify(driving.driver_page(box(), actor()))


def _date(data: dict) -> str | None:
    """Return the journey's date, or None for every journey of a series ("every": true)."""
    return None if travel_lists.truthy(data.get("every"), default=False) else data.get("date", "")


def _done(ride_id: str, date: str | None):
    return jsonify({"ride": ride_id, "date": date})


@bp.post("/driving/<ride_id>/take")
def take(ride_id):
    date = driving.take(box(), actor(), ride_id, _date(json_body()))
    return _done(ride_id, date)


@bp.post("/driving/<ride_id>/hand-back")
def hand_back(ride_id):
    date = _date(json_body())
    driving.hand_back(box(), actor(), ride_id, date)
    return _done(ride_id, date and date.strip())


@bp.post("/driving/<ride_id>/start")
def start(ride_id):
    date = json_body().get("date", "")
    driving.start_journey(box(), actor(), ride_id, date)
    return _done(ride_id, date.strip())


@bp.post("/driving/<ride_id>/done")
def done(ride_id):
    data = json_body()
    date = data.get("date", "")
    driving.done(box(), actor(), ride_id, date, data.get("miles", ""))
    return _done(ride_id, date.strip())


# --- coordinators ----------------------------------------------------------------------


@bp.get("/coordinate")
def coordinate():
    days = request.args.get("days", "14").strip()
    # A number the service checks for its range; anything else it refuses as it is.
    days = int(days) if days.isdigit() and len(days) < 6 else days
    me = actor()
    return jsonify(
        {
            "journeys": coordinating.unmet(box(), me, days),
            "totals": coordinating.paid_totals(box(), me),
            "providers": travel_lists.providers(box()),
        }
    )


@bp.post("/coordinate/<ride_id>/paid")
def paid(ride_id):
    data = json_body()
    date = data.get("date", "")
    coordinating.allocate_paid(
        box(),
        actor(),
        ride_id,
        date,
        data.get("provider", ""),
        data.get("cost", ""),
        data.get("reference", ""),
    )
    return _done(ride_id, date.strip())
