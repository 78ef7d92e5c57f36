"""Staff pages for community travel: authorising drivers, and the centre's travel lists.

/staff/drivers lists who may drive (lapsing and lapsed first) and finds members to
authorise; /staff/drivers/<member> records the checks seen and the vehicle, or
withdraws the centre's vouch; /staff/travel keeps the access needs, the checks drivers
need and the paid providers. The rules live in appliance.services.drivers and
travel_lists; this module only reads forms and renders.
"""

from __future__ import annotations

import datetime

from flask import Blueprint, render_template, request, url_for
from flask_babel import format_date, gettext
from flask_babel import gettext as _

from appliance.kinds import VEHICLE_FEATURES
from appliance.services import drivers, members, travel_lists
from web.context import actor, box
from web.errors import act_on_page

bp = Blueprint("travel_staff", __name__)


@bp.app_template_filter("long_day")
def long_day(iso: str | None) -> str:
    """Render an ISO date with its year, for expiry dates ("3 March 2027")."""
    if not iso:
        return ""
    return format_date(datetime.date.fromisoformat(iso), "d MMMM y")


# --- drivers ---------------------------------------------------------------------------


@bp.get("/staff/drivers")
def drivers_page():
    listing = drivers.drivers_for_staff(box(), actor())
    q = request.args.get("q", "").strip()
    return render_template(
        "travel/staff_drivers.html",
        attention=listing["attention"],
        valid=listing["valid"],
        q=q,
        found=members.list_members(box(), actor(), q) if q else [],
        features=travel_lists.FEATURE_LABELS,
        warn_days=box().settings["driver_warn_days"],
    )


def _vouch_form(driver: dict) -> dict:
    """Fill the vouch form from this centre's current vouch, for renewing it."""
    own = driver["own"]
    if own is None:
        return {"seats": ""}
    form = {"seats": str(own["vehicle"]["seats"])}
    form.update({f: "1" for f in VEHICLE_FEATURES if own["vehicle"][f]})
    for check in own["checks"]:
        form[f"seen-{check['check']}"] = check["seen"]
        form[f"expires-{check['check']}"] = check["expires"]
    return form


def _driver_page(member_id, errors=None, problem=None, status=200):
    driver = drivers.driver_for_staff(box(), actor(), member_id)
    errors = errors or {}
    if errors.get("checks"):
        problem = gettext(errors["checks"])
    return render_template(
        "travel/staff_driver.html",
        driver=driver,
        features=travel_lists.FEATURE_LABELS,
        errors=errors,
        problem=problem,
        # A refused vouch keeps what was typed; otherwise the form shows the current vouch.
        form=request.form
        if request.endpoint == "travel_staff.vouch"
        else {**_vouch_form(driver), "reason": request.form.get("reason", "")},
        warn_days=box().settings["driver_warn_days"],
    ), status


@bp.get("/staff/drivers/<member_id>")
def driver_page(member_id):
    return _driver_page(member_id)


def _dates_in(form) -> dict[str, tuple[str, str]]:
    """Return {check slug: (seen, expires)} from the form's seen-SLUG / expires-SLUG fields."""
    slugs = {key.split("-", 1)[1] for key in form if key.startswith(("seen-", "expires-"))}
    return {s: (form.get(f"seen-{s}", ""), form.get(f"expires-{s}", "")) for s in slugs}


@bp.post("/staff/drivers/<member_id>")
def vouch(member_id):
    vehicle = {f: request.form.get(f) for f in ("seats", *VEHICLE_FEATURES)}
    return act_on_page(
        lambda **kw: _driver_page(member_id, **kw),
        lambda: drivers.vouch(box(), actor(), member_id, _dates_in(request.form), vehicle),
        _("Checks recorded: this driver can see and take rides their vehicle can serve."),
        url_for("travel_staff.driver_page", member_id=member_id),
    )


@bp.post("/staff/drivers/<member_id>/withdraw")
def withdraw(member_id):
    return act_on_page(
        lambda **kw: _driver_page(member_id, **kw),
        lambda: drivers.withdraw(box(), actor(), member_id, request.form.get("reason", "")),
        _("Authorisation withdrawn: this centre no longer vouches for this driver."),
        url_for("travel_staff.driver_page", member_id=member_id),
    )


# --- the travel lists ------------------------------------------------------------------

# list name -> (service, {service field: the add form's field}). The add forms' fields
# have names of their own so each is one labelled field on the page; a row's rename form
# sends the service's names ("label", "requires", "name") with the entry's slug.
LISTS = {
    "needs": (
        travel_lists.set_access_need,
        {"label": "need-label", "requires": "need-requires"},
    ),
    "checks": (travel_lists.set_driver_check, {"label": "check-label"}),
    "providers": (travel_lists.set_provider, {"name": "provider-name"}),
}


def _lists_page(which=None, errors=None, problem=None, status=200):
    members.require_staff(actor())
    slug = request.form.get("slug", "") if which else ""
    errors = errors or {}
    if which and not slug:
        errors = {LISTS[which][1].get(k, k): v for k, v in errors.items()}
    return render_template(
        "travel/staff_lists.html",
        needs=travel_lists.access_needs(box(), include_inactive=True),
        checks=travel_lists.driver_checks(box(), include_inactive=True),
        providers=travel_lists.providers(box(), include_inactive=True),
        features=travel_lists.FEATURE_LABELS,
        which=which,
        editing=slug,
        # A new entry's errors sit by the add form; a change's by its row.
        errors={} if slug else errors,
        row_errors=errors if slug else {},
        form=request.form if which else {},
        problem=problem,
    ), status


@bp.get("/staff/travel")
def lists_page():
    return _lists_page()


def _set(which: str):
    service, fields = LISTS[which]
    slug = request.form.get("slug", "")
    data = {"slug": slug}
    for name, add_name in fields.items():
        data[name] = request.form.get(name if slug else add_name)
    if "active" in request.form:
        data["active"] = request.form["active"]
    if slug and all(data[name] is None for name in fields):
        done = _("Back on the list.") if data["active"] == "1" else _("Retired.")
    else:
        done = _("Saved.") if slug else _("Added to the list.")
    return act_on_page(
        lambda **kw: _lists_page(which, **kw),
        lambda: service(box(), actor(), data),
        done,
        url_for("travel_staff.lists_page", _anchor=f"{which}-h"),
    )


@bp.post("/staff/travel/needs")
def set_need():
    return _set("needs")


@bp.post("/staff/travel/checks")
def set_check():
    return _set("checks")


@bp.post("/staff/travel/providers")
def set_provider():
    return _set("providers")
