"""Rate limits on posting, commenting, flagging, sign-up and login (appliance/ratelimit.py).

A before_request hook finds the action of a POST by its endpoint and counts it against
the signed-in account (or, at login, the name typed) and the address it came from; at a
limit it answers 429 with a page (JSON {"error": ...} under /api/) saying what and when,
and a Retry-After header, and the view never runs, so nothing is recorded. What counts:
a post, comment, flag or sign-up that went through (an answer below 400; a refused form
is given back), and a failed login (a login that succeeds is given back).

The kiosk's browser runs on the box itself and is shared by everyone at the centre, so
requests from the box's own loopback address are not limited per address (the account
and name limits still apply).
"""

from __future__ import annotations

import ipaddress
import math

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext, ngettext

from appliance.errors import N_
from appliance.ratelimit import MINUTE_MS, Limiter, Refusal
from appliance.services.accounts import login_key
from web.context import actor
from web.errors import wants_json

# POST endpoints and the action they count as. The JSON API and the moderation area
# are named as their blueprints name them; an endpoint that does not exist yet costs
# nothing here.
ENDPOINTS = {
    "posting.form": "post",
    "posting.chat": "post",  # only its last step makes a post: see _action
    "food.new_need": "post",
    "food.new_supply": "post",
    "board.comment": "comment",
    "accounts.signup": "signup",
    "accounts.login": "login",
    "api.create_post": "post",
    "api.add_comment": "comment",
    "api.comment": "comment",
    "api.flag": "flag",
}
# Any endpoint whose name starts with one of these is flagging: moderation.flag,
# moderation.flag_post, moderation.flag_comment, api.flag_post and the like.
PREFIXES = (("moderation.flag", "flag"), ("api.flag", "flag"))

# (action, key kind) -> what happened, in plain words; %(num)d is the limit's count.
MESSAGES = {
    ("post", "account"): N_("You have posted %(num)d times in the last hour."),
    ("post", "address"): N_("%(num)d posts have been made from this device in the last hour."),
    ("comment", "account"): N_("You have commented %(num)d times in the last hour."),
    ("comment", "address"): N_(
        "%(num)d comments have been made from this device in the last hour."
    ),
    ("flag", "account"): N_("You have flagged %(num)d times in the last hour."),
    ("flag", "address"): N_("%(num)d flags have been raised from this device in the last hour."),
    ("signup", "address"): N_("%(num)d accounts have been made from this device in the last hour."),
    ("login", "name"): N_(
        "There have been %(num)d failed log-ins with this name from this device in the last "
        "15 minutes."
    ),
    ("login", "address"): N_(
        "There have been %(num)d failed log-ins from this device in the last 15 minutes."
    ),
}


def _action(endpoint: str | None) -> str | None:
    if request.method != "POST" or not endpoint:
        return None
    if endpoint == "posting.chat" and (
        request.form.get("step") != "review" or "back" in request.form
    ):
        return None  # a question of the chat, not the post itself
    action = ENDPOINTS.get(endpoint)
    if action is None:
        action = next((a for prefix, a in PREFIXES if endpoint.startswith(prefix)), None)
    return action


def _address() -> str | None:
    addr = request.remote_addr or ""
    try:
        if ipaddress.ip_address(addr).is_loopback:
            return None  # the kiosk, on the box itself
    except ValueError:
        pass
    return addr or None


def _keys(action: str) -> dict[str, str]:
    # Staff are met in person and answer for the box: a busy desk session (a food drive's
    # needs, a batch of posts for walk-in visitors) must never be held back.
    if action != "login" and actor() is not None and actor().is_staff:
        return {}
    keys = {}
    address = _address()
    if action == "login":
        name = login_key(request.form.get("name", ""))
        if name:
            # Per name AND address: failed guesses from one device stop there, and nobody
            # on the wifi can lock a staff member out of their own account.
            keys["name"] = f"{name} from {address or 'the box'}"
    elif action != "signup" and actor() is not None:
        keys["account"] = actor().id
    if address:
        keys["address"] = address
    return keys


def refusal_message(refusal: Refusal) -> str:
    """Say in plain words what was refused and when to try again."""
    what = gettext(MESSAGES[(refusal.action, refusal.by)], num=refusal.limit.count)
    minutes = max(1, math.ceil(refusal.retry_ms / MINUTE_MS))
    when = ngettext(
        "Please try again in %(num)d minute.", "Please try again in %(num)d minutes.", minutes
    )
    return f"{what} {when}"


def _refused(refusal: Refusal):
    message = refusal_message(refusal)
    if wants_json():
        response = jsonify({"error": message})
    else:
        response = render_template("error.html", message=message, status=429)
    headers = {"Retry-After": str(math.ceil(refusal.retry_ms / 1000))}
    return response, 429, headers


def init_app(app: Flask) -> None:
    """Check every limited action before its view runs."""
    served = app.extensions["kith_box"]
    # Read the clock through the box at each call: tests (and the demo) replace it.
    limiter = Limiter(lambda: served.log.now_ms())
    app.extensions["kith_limiter"] = limiter

    @app.before_request
    def _check_limit():
        action = _action(request.endpoint)
        if action is None:
            return None
        keys = _keys(action)
        if not keys:
            return None
        refusal, at_ms = limiter.take(action, keys)
        if refusal is not None:
            return _refused(refusal)
        g.rate_taken = (action, keys, at_ms)
        return None

    @app.after_request
    def _settle(response):
        taken = g.pop("rate_taken", None)
        if taken is not None:
            action, keys, at_ms = taken
            # Sent to the code of conduct first (a 303 to /conduct): nothing was posted.
            failed = response.status_code >= 400 or (
                response.status_code == 303
                and (response.location or "").split("?")[0].endswith("/conduct")
            )
            # A login counts when it fails; everything else when it goes through.
            if failed != (action == "login"):
                limiter.give_back(action, keys, at_ms)
        return response
