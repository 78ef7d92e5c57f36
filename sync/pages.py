"""Staff pages for sync: nearby and paired boxes, pairing, trust, syncing now.

They live in sync/ because they call other boxes; they render with the web front's
templates and read the signed-in actor it loads, and do exactly what `kith peer …` and
`kith sync` do, through the same functions.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import ServiceError
from appliance.services import peers
from appliance.services.members import require_staff
from sync.client import SyncError, request_pairing, sync_round

bp = Blueprint("peers", __name__, url_prefix="/staff/peers")


def _box():
    return current_app.extensions["kith_box"]


def _nearby() -> list[dict]:
    """Return boxes seen on the LAN that this box has not met yet, with an address."""
    discovery = current_app.extensions.get("kith_discovery")
    if discovery is None:
        return []
    known = {p["fingerprint"] for p in peers.list_peers(_box())}
    return [
        {"name": n.name, "fp": n.fp, "url": f"http://{n.addresses[0]}:{n.port}"}
        for n in discovery.nearby()
        if n.fp not in known and n.addresses
    ]


def _page(problem: str | None = None, status: int = 200):
    require_staff(g.get("actor"))
    box = _box()
    return render_template(
        "staff/peers.html",
        me={"name": box.centre.name, "fingerprint": peers.fingerprint(box.origin)},
        listed=peers.list_peers(box),
        nearby=_nearby(),
        trusted=peers.trust_report(box),
        problem=problem,
        form=request.form,
    ), status


@bp.get("")
def index():
    return _page()


def _act(action, done):
    require_staff(g.get("actor"))
    try:
        message = action()
    except SyncError as exc:
        return _page(problem=str(exc), status=502)
    except ServiceError as exc:
        return _page(problem=_(exc.message, **exc.params), status=exc.status)
    flash(message or done)
    return redirect(url_for("peers.index"))


@bp.post("/add")
def add():
    address = request.form.get("address", "").strip()
    if address and "://" not in address:
        address = "http://" + address

    def meet():
        hello = request_pairing(_box(), address)
        return _(
            "Met %(name)s. Check that its screen shows the code %(code)s, then confirm it "
            "here and there.",
            name=hello["name"],
            code=peers.pairing_code(_box().origin, hello["origin"]),
        )

    return _act(meet, "")


@bp.post("/confirm")
def confirm():
    return _act(
        lambda: _(
            "Paired with %(name)s.",
            name=peers.confirm(_box(), request.form.get("code", ""), g.get("actor")).name,
        ),
        "",
    )


@bp.post("/<origin>/revoke")
def revoke(origin):
    def run():
        peers.revoke(_box(), origin, g.get("actor"))

    return _act(run, _("The peer is revoked: nothing new from it will be accepted."))


@bp.post("/<origin>/sync")
def sync_now(origin):
    def run():
        result = sync_round(_box(), origin)
        if result.error:
            raise SyncError(result.error)
        return _(
            "Synced with %(name)s: %(pulled)d records in, %(pushed)d out.",
            name=result.name,
            pulled=result.pulled,
            pushed=result.pushed,
        )

    return _act(run, "")
