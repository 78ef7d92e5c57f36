"""Template helpers: times in the centre's zone, filter URLs, the signed-in actor."""

from __future__ import annotations

import datetime

from flask import request, url_for
from flask_babel import format_date, format_datetime, format_timedelta
from markupsafe import Markup, escape

from appliance.services import driving, ride_access
from web.context import actor, box


def when(ms: int | None) -> Markup:
    """Render a timestamp as a <time> element in the centre's time zone."""
    if ms is None:
        return Markup("")
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    iso = moment.isoformat(timespec="seconds")
    ago = format_timedelta(
        moment - datetime.datetime.now(datetime.UTC), add_direction=True, threshold=1.1
    )
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        iso, format_datetime(moment, "d MMM y, HH:mm"), ago
    )


def day(iso: str | None) -> str:
    """Render an ISO date for people."""
    if not iso:
        return ""
    return format_date(datetime.date.fromisoformat(iso), "EEE d MMM")


def board_url(filters: dict, **change) -> str:
    """Return the board URL for some filters with changes (None removes a filter)."""
    args = {k: v for k, v in {**filters, **change}.items() if v not in (None, "", 1)}
    if "page" not in change:
        args.pop("page", None)
    return url_for("board.index", **args)


def paragraphs(text: str) -> Markup:
    """Render plain text with its line breaks, safely escaped."""
    parts = [escape(p).replace("\n", Markup("<br>")) for p in text.split("\n\n") if p.strip()]
    return Markup("").join(Markup("<p>{}</p>").format(p) for p in parts)


def init_app(app) -> None:
    app.jinja_env.filters.update(when=when, day=day, paragraphs=paragraphs)
    app.jinja_env.globals.update(board_url=board_url)

    @app.context_processor
    def _globals():
        me = actor()
        return {
            "actor": me,
            "centre": box().centre,
            "request_path": request.path,
            # Who sees the driving and coordinating links: decided by the services.
            "travel_nav": {
                # A driver whose checks lapsed keeps the link while they hold journeys
                # ahead, to hand them back.
                "drive": driving.may_open_page(box(), me),
                "coordinate": ride_access.is_coordinator(me),
            },
        }

    app.after_request(add_security_headers)


# Every asset comes from the box itself: no CDN, fonts or scripts from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response):
    """Give a response the board's security headers, unless a view set its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
