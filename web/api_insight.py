"""The insight JSON API, /api/v1/: the figures of the insight pages, and a member's own
data and erasure, with the same services and checks as the pages.

- /insight, /insight/should: the overview and the "somebody should" figures as the pages
  give them to this reader (appliance/services/insight_overview.py, should_insight.py):
  a visitor or member sees figures from fewer than 3 posts as {"value": null,
  "suppressed": true}, staff signed in on the box the exact ones. Bad filters are a 400
  naming each field.
- /insight/travel: the travel figures, for coordinators and staff signed in on the box
  (travel_insight.require_insight decides; a token carries no coordinator role).
- /me/data, /me/erase: the member's own export (member_export.py) and what erasing the
  account would take (erasure.py), readable with a token, as they are the member's own.
  Erasing needs the login cookie and the password, as the page does: a token that
  leaked from a tool must not be able to take an account away.
- /staff/members/{member_id}/data: staff's copy of a member's export, for a member who
  asks at the desk (members.require_staff refuses a token).

Labels the services give as English source strings are said in the reader's language,
as the templates do with _(). Documented in web/openapi/insight.yaml.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, session
from flask_babel import gettext

from appliance.errors import N_, InvalidInput, NotAllowed
from appliance.services import (
    accounts,
    erasure,
    insight_overview,
    member_export,
    should_insight,
    travel_insight,
)
from appliance.services.members import require_staff
from web.api import BOOL, TEXT, json_body
from web.context import actor, box
from web.privacy import WRONG_PASSWORD

bp = Blueprint("api_insight", __name__, url_prefix="/api/v1")

ERASE_WITH_PASSWORD = N_("Erase your account while signed in on the box, with your password.")
STAFF_CONFIRM = N_("Please confirm that the member asked for this, in person.")


@bp.after_request
def no_store(response):
    """Staff get exact figures, members their own data, from the same addresses as
    everyone else: no browser or proxy may keep a copy for the next reader."""
    response.headers["Cache-Control"] = "no-store"
    return response


def said(value):
    """Return a service's answer with every `label` in the reader's language."""
    if isinstance(value, list):
        return [said(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: said(v) for k, v in value.items()}
    if isinstance(out.get("label"), str) and out["label"]:
        out["label"] = gettext(out["label"])
    return out


# --- insight ----------------------------------------------------------------------------


@bp.get("/insight")
def overview():
    data = insight_overview.overview(box(), actor())
    data["food"]["rising"] = [gettext(label) for label in data["food"]["rising"]]
    return jsonify(data)


@bp.get("/insight/should")
def should():
    return jsonify(said(should_insight.insight(box(), actor(), request.args)))


@bp.get("/insight/travel")
def travel():
    data = travel_insight.insight(box(), actor(), request.args.get("weeks"))
    return jsonify(said(data))


# --- a member's own data ----------------------------------------------------------------


@bp.get("/me/data")
def my_data():
    current = accounts.require_member(actor())
    return jsonify(member_export.export_member(box(), current, current.id))


@bp.get("/me/erase")
def erase_preview():
    current = accounts.require_member(actor())
    return jsonify(erasure.erasure_preview(box(), current, current.id))


@bp.post("/me/erase")
def erase():
    current = accounts.require_member(actor())
    if current.via_token:
        raise NotAllowed(ERASE_WITH_PASSWORD)
    data = json_body(mode=TEXT, password=TEXT)
    try:
        same = accounts.log_in(box(), current.name, data.get("password", ""))
    except InvalidInput:
        same = None
    if same != current.id:
        raise InvalidInput({"password": WRONG_PASSWORD}, WRONG_PASSWORD)
    mode = data.get("mode", "")
    record_id = erasure.erase_member(box(), current, current.id, mode)
    accounts.end_session(session.get("token"))
    session.clear()
    return jsonify({"id": record_id, "member": current.id, "mode": mode})


# --- staff, for a member who asks at the desk --------------------------------------------


@bp.get("/staff/members/<member_id>/data")
def member_data(member_id):
    current = require_staff(actor())
    return jsonify(member_export.export_member(box(), current, member_id))


@bp.post("/staff/members/<member_id>/erase")
def staff_erase(member_id):
    """Erase a member's account for them, as staff at the desk (with `confirm: true`)."""
    current = require_staff(actor())
    data = json_body(mode=TEXT, confirm=BOOL)
    if data.get("confirm") is not True:
        raise InvalidInput({"confirm": STAFF_CONFIRM}, STAFF_CONFIRM)
    mode = data.get("mode", "")
    record_id = erasure.erase_member(box(), current, member_id, mode)
    return jsonify({"id": record_id, "member": member_id, "mode": mode})
