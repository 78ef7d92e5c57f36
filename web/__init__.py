"""Kith's web front: Flask pages and the JSON API, thin over appliance services."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from appliance.box import Box
from appliance.db import database

csrf = CSRFProtect()


def create_app(box: Box, test_config: dict | None = None) -> Flask:
    """Build the Flask app for one box."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=box.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="kith_session",
        PERMANENT_SESSION_LIFETIME=box.settings["session_days"] * 86400,
        # The CSRF token lives as long as the login: a form left open on a phone still works.
        WTF_CSRF_TIME_LIMIT=None,
        # Checked by _check_csrf below, which passes API requests signed with a personal
        # token (no cookie is involved, so no other site can forge them).
        WTF_CSRF_CHECK_DEFAULT=False,
        MAX_CONTENT_LENGTH=256 * 1024,
        BABEL_DEFAULT_LOCALE=box.settings["language"],
        BABEL_DEFAULT_TIMEZONE=box.settings["timezone"],
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["kith_box"] = box

    Babel(app)

    @app.before_request
    def _connect():
        # One connection per waitress thread, reused across requests.
        database.connect(reuse_if_open=True)

    from web import (
        accounts,
        api,
        api_community,
        api_food,
        api_insight,
        api_setup,
        api_staff,
        api_travel,
        assisted,
        board,
        coordinating,
        driving,
        errors,
        food,
        food_export,
        food_insight,
        food_staff,
        governance,
        health,
        kiosk,
        moderation,
        open311,
        open_data,
        open_formats,
        posting,
        privacy,
        ratelimits,
        rides,
        shifts,
        should_insight,
        staff,
        stale,
        templating,
        tokens,
        travel_insight,
        travel_staff,
    )

    # Load the actor before CSRF checks run, so even a refused form's page knows who
    # is signed in.
    accounts.init_app(app)
    csrf.init_app(app)

    @app.before_request
    def _check_csrf():
        # A visitor's API request carries no login, so CSRF protects nothing there:
        # let it through to be told to sign in (401) rather than about a form.
        visitor_api = request.path.startswith("/api/") and g.get("actor") is None
        if app.config["WTF_CSRF_ENABLED"] and not g.get("via_token") and not visitor_api:
            csrf.protect(apply_exemptions=True)

    templating.init_app(app)
    errors.init_app(app)
    ratelimits.init_app(app)
    app.register_blueprint(board.bp)
    app.register_blueprint(posting.bp)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(kiosk.bp)
    app.register_blueprint(assisted.bp)
    for food_area in (food, food_staff, shifts, food_insight, food_export):
        app.register_blueprint(food_area.bp)
    for travel_area in (rides, travel_staff, driving, coordinating, travel_insight):
        app.register_blueprint(travel_area.bp)
    for governance_area in (governance, moderation, stale, privacy):
        app.register_blueprint(governance_area.bp)
    for open_area in (
        api_food,
        api_travel,
        api_community,
        api_staff,
        api_setup,
        api_insight,
        tokens,
        open311,
        open_formats,
        open_data,
        should_insight,
    ):
        app.register_blueprint(open_area.bp)
    return app
