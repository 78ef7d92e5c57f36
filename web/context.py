"""Per-request access to the box and the signed-in actor."""

from __future__ import annotations

from flask import current_app, g

from appliance.box import Box
from appliance.services.accounts import Actor


def box() -> Box:
    """Return the box this app serves."""
    return current_app.extensions["kith_box"]


def actor() -> Actor | None:
    """Return the signed-in member, or None for a visitor."""
    return g.get("actor")
