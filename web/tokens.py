"""Personal API tokens: a member makes one for a tool, sees it once, and revokes it.

The rules (who, how many, how long, only a hash kept) are in appliance/services/api_tokens.py.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import Conflict, InvalidInput
from appliance.services import api_tokens
from appliance.services.accounts import require_member
from web.context import actor, box
from web.errors import act_on_page, message_of

bp = Blueprint("tokens", __name__)


def _page(errors=None, form=None, problem=None, new_token=None, status=200):
    tokens = api_tokens.list_tokens(box(), actor())
    response = render_template(
        "tokens/index.html",
        tokens=tokens,
        errors=errors or {},
        form=form or {},
        problem=problem,
        new_token=new_token,
        days_choices=api_tokens.DAYS,
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/account/tokens")
def index():
    require_member(actor())
    return _page()


@bp.post("/account/tokens")
def create():
    try:
        made = api_tokens.create_token(
            box(), actor(), request.form.get("name", ""), request.form.get("days", "")
        )
    except InvalidInput as exc:
        return _page(errors=exc.fields, form=request.form, status=400)
    except Conflict as exc:
        return _page(problem=message_of(exc), form=request.form, status=exc.status)
    # Shown this once, in this answer only (no redirect, nothing kept): only its hash is
    # stored, so it can never be shown again.
    return _page(new_token=made, status=201)


@bp.post("/account/tokens/<token_id>/revoke")
def revoke(token_id):
    return act_on_page(
        _page,
        lambda: api_tokens.revoke_token(box(), actor(), token_id),
        _("The token is revoked: tools using it can no longer act for you."),
        url_for("tokens.index"),
    )
