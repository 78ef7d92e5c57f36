"""Travel insight: when rides are wanted, how many the volunteers could not cover, access
needs served, volunteers' journeys and miles, paid services' cost. For coordinators and
staff only (the service checks it): the figures are about vulnerable people's travel.

The figures and charts come from appliance.services.travel_insight; this module only
reads the request, passes the page's language to it, and renders.
"""

from __future__ import annotations

import datetime

from flask import Blueprint, make_response, render_template, request
from flask_babel import format_date

from appliance.errors import InvalidInput
from appliance.services import travel_insight
from web.context import actor, box
from web.food_insight import SVG_POLICY, words

bp = Blueprint("travel_insight", __name__)


def month_name(month: str) -> str:
    """Return "YYYY-MM" as a chart's label: "Mar 2027"."""
    return format_date(datetime.date.fromisoformat(month + "-01"), "MMM y")


@bp.get("/travel/insight")
def index():
    errors = {}
    try:
        data = travel_insight.insight(box(), actor(), request.args.get("weeks"))
    except InvalidInput as exc:
        errors = exc.fields  # a bad choice is shown beside the field; the default still shows
        data = travel_insight.insight(box(), actor())
    return render_template(
        "travel/insight.html",
        data=data,
        errors=errors,
        month_name=month_name,
        short_day=words().short_day,
    ), 400 if errors else 200


@bp.get("/travel/insight/<chart>.svg")
def chart_svg(chart):
    svg = travel_insight.chart_svg(
        box(), actor(), chart, request.args.get("weeks"), words(), month_name
    )
    response = make_response(svg)
    response.mimetype = "image/svg+xml"
    response.headers["Content-Security-Policy"] = SVG_POLICY
    # About people's travel: no shared cache may keep it, and the browser asks each time.
    response.headers["Cache-Control"] = "private, no-cache"
    response.add_etag()
    return response.make_conditional(request)
