"""The staff health page: how the box is doing, and what to do about it."""

from __future__ import annotations

from flask import Blueprint, render_template

from appliance.services import health
from web.context import actor, box

bp = Blueprint("health", __name__, url_prefix="/staff")


@bp.get("/health")
def index():
    checks = health.report(box(), actor())
    worst = next(
        (s for s in (health.FAIL, health.WARN) if any(c.status == s for c in checks)), health.OK
    )
    return render_template("staff/health.html", checks=checks, worst=worst, health=health)
