"""Seeing the whole area: the balance of food, trends with charts, the donation appeal.

Public pages (a visitor sees them; they name organisations, never people). The figures
come from appliance.services.food_balance, food_trends, food_charts and food_appeal;
this module only reads the request, passes the page's language to them, and renders.
"""

from __future__ import annotations

import datetime
from urllib.parse import urljoin

from flask import Blueprint, make_response, render_template, request, url_for
from flask_babel import format_date, gettext, ngettext
from markupsafe import Markup

from appliance.errors import InvalidInput
from appliance.services import food_appeal, food_balance, food_charts, food_trends, kiosk
from appliance.services.catalogue import CATEGORY_LABELS, UNIT_LABELS
from appliance.services.food_balance import Words
from web.context import actor, box
from web.kiosk import board_address
from web.templating import day

bp = Blueprint("food_insight", __name__)

# The chart is pictures and text: pygal's own <style> is all it needs.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


def words() -> Words:
    """Word sentences and dates in the page's language."""
    return Words(
        gettext=gettext,
        ngettext=ngettext,
        day=day,
        short_day=lambda iso: format_date(datetime.date.fromisoformat(iso), "d MMM"),
    )


@bp.get("/food/balance")
def balance():
    org = (request.args.get("org") or "").strip() or None
    errors = {}
    try:
        data = food_balance.balance(box(), actor(), org, words=words())
    except InvalidInput as exc:
        errors = exc.fields  # a bad filter is shown beside the field; the rest still shows
        data = food_balance.balance(box(), actor(), words=words())
    return render_template(
        "food/balance.html", data=data, errors=errors, chosen=org or "", units=UNIT_LABELS
    ), 400 if errors else 200


@bp.get("/food/trends")
def trends():
    category = request.args.get("category")
    errors = {}
    try:
        data = food_trends.trends(box(), category)
    except InvalidInput as exc:
        errors = exc.fields
        data = food_trends.trends(box())
    chart = "demand" if data["category"] == food_trends.ALL else f"demand-{data['category']}"
    return render_template(
        "food/trends.html",
        data=data,
        errors=errors,
        chart=chart,
        categories=CATEGORY_LABELS,
    ), 400 if errors else 200


@bp.get("/food/trends/<chart>.svg")
def chart_svg(chart):
    svg = food_charts.chart_svg(box(), chart, words())
    response = make_response(svg)
    response.mimetype = "image/svg+xml"
    response.headers["Content-Security-Policy"] = SVG_POLICY
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/food/appeal")
def appeal():
    return render_template("food/appeal.html", data=food_appeal.appeal(box(), words=words()))


def _appeal_address() -> str:
    """The appeal page's address for phones: the board's address, as the kiosk gives it."""
    return urljoin(board_address().url, url_for("food_insight.appeal").lstrip("/"))


@bp.get("/food/appeal/poster")
def poster():
    url = _appeal_address()
    qr = kiosk.qr_svg(url, gettext("QR code for %(url)s", url=url)).decode()
    return render_template(
        "food/poster.html",
        data=food_appeal.appeal(box(), words=words()),
        url=url,
        qr=Markup(qr),  # made on the box by segno from the address: no user text in it
    )
