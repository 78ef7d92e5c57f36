"""A member's own data: see and download what the box holds, and erase the account.

Staff open the same pages for a member who asks at the desk. The services decide who
may see and erase what (appliance/services/member_export.py and erasure.py).
"""

from __future__ import annotations

import datetime
import json

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _

from appliance.errors import N_, Conflict, InvalidInput, NotAllowed
from appliance.services import accounts, erasure, member_export
from appliance.services.members import require_staff
from web.context import actor, box
from web.errors import message_of

bp = Blueprint("privacy", __name__)

WRONG_PASSWORD = N_("That is not your password. Nothing was erased.")
NOT_CONFIRMED = N_("Tick the box to confirm that the member asked for this.")


@bp.app_template_filter("iso_when")
def iso_when(text: str | None) -> str:
    """Render an export's ISO 8601 time for people, in the centre's time zone."""
    if not text:
        return ""
    return format_datetime(datetime.datetime.fromisoformat(text), "d MMM y, HH:mm")


def _download(data: dict) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    name = f"kith-data-{data['profile']['id'][:12]}.json"
    return Response(
        body + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- a member's own data ---------------------------------------------------------------


@bp.get("/account/data")
def my_data():
    current = accounts.require_member(actor())
    data = member_export.export_member(box(), current, current.id)
    return render_template("privacy/data.html", data=data, own=True)


@bp.get("/account/data.json")
def my_data_json():
    current = accounts.require_member(actor())
    return _download(member_export.export_member(box(), current, current.id))


def _erase_page(errors=None, problem=None, status=200):
    current = accounts.require_member(actor())
    preview = erasure.erasure_preview(box(), current, current.id)
    return render_template(
        "privacy/erase.html",
        preview=preview,
        errors=errors or {},
        problem=problem,
        form=request.form,
    ), status


@bp.get("/account/erase")
def erase_page():
    return _erase_page()


@bp.post("/account/erase")
def erase():
    current = accounts.require_member(actor())
    try:
        same = accounts.log_in(box(), current.name, request.form.get("password", ""))
    except InvalidInput:
        same = None
    if same != current.id:
        return _erase_page(errors={"password": WRONG_PASSWORD}, status=400)
    try:
        erasure.erase_member(box(), current, current.id, request.form.get("mode", ""))
    except InvalidInput as exc:
        return _erase_page(errors=exc.fields, status=400)
    except (Conflict, NotAllowed) as exc:
        return _erase_page(problem=message_of(exc), status=exc.status)
    accounts.end_session(session.get("token"))
    session.clear()
    return redirect(url_for("privacy.goodbye"))


@bp.get("/account/goodbye")
def goodbye():
    return render_template("privacy/goodbye.html")


# --- staff, for a member who asks at the desk --------------------------------------------


def _member_page(member_id: str, errors=None, problem=None, status=200):
    current = require_staff(actor())
    data = member_export.export_member(box(), current, member_id)
    try:
        preview, erase_note = erasure.erasure_preview(box(), current, member_id), None
    except Conflict as exc:  # already erased, or a member of another centre
        preview, erase_note = None, message_of(exc)
    return render_template(
        "privacy/data.html",
        data=data,
        own=False,
        preview=preview,
        erase_note=erase_note,
        errors=errors or {},
        problem=problem,
        form=request.form,
    ), status


@bp.get("/staff/members/<member_id>/data")
def member_data(member_id):
    return _member_page(member_id)


@bp.get("/staff/members/<member_id>/data.json")
def member_data_json(member_id):
    current = require_staff(actor())
    return _download(member_export.export_member(box(), current, member_id))


@bp.post("/staff/members/<member_id>/erase")
def staff_erase(member_id):
    current = require_staff(actor())
    if request.form.get("confirm") != "yes":
        return _member_page(member_id, errors={"confirm": NOT_CONFIRMED}, status=400)
    try:
        erasure.erase_member(box(), current, member_id, request.form.get("mode", ""))
    except InvalidInput as exc:
        return _member_page(member_id, errors=exc.fields, status=400)
    except (Conflict, NotAllowed) as exc:
        return _member_page(member_id, problem=message_of(exc), status=exc.status)
    flash(_("The account is erased. Its name and contact details are gone from this box."))
    return redirect(url_for("staff.members_page"))
