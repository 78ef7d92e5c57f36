"""Insight pages: the overview of every area (/insight) and the "somebody should" board's
own (/insight/should), each chart with its table on the page and as CSV.

Public pages: a visitor sees suppressed small counts, staff the exact figures (the
services decide). The figures, tables and charts come from
appliance.services.should_insight and insight_overview; this module only reads the
request, passes the page's language to them, and renders.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, request

from appliance.errors import InvalidInput
from appliance.services import insight_overview, should_insight
from appliance.services.centre import category_labels
from web.context import actor, box
from web.food_insight import SVG_POLICY, words

bp = Blueprint("should_insight", __name__)


@bp.get("/insight")
def overview():
    data = insight_overview.overview(box(), actor())
    return render_template(
        "insight/overview.html",
        data=data,
        duration=lambda f: should_insight.duration_text(f, words()),
    )


@bp.get("/insight/should")
def should():
    errors = {}
    try:
        data = should_insight.insight(box(), actor(), request.args)
    except InvalidInput as exc:
        errors = exc.fields  # each bad filter is shown beside its field; the default still shows
        data = should_insight.insight(box(), actor())
    w = words()
    tables = {name: should_insight.table(data, name, w) for name in should_insight.TABLES}
    return render_template(
        "insight/should.html",
        data=data,
        errors=errors,
        tables=tables,
        # What the visitor chose, kept in the form even when it was not understood.
        chosen={name: request.args.get(name, "") for name in should_insight.FILTER_NAMES},
        categories=category_labels(box()),
        places=should_insight.place_choices(box()),
        duration=lambda f: should_insight.duration_text(f, w),
    ), 400 if errors else 200


@bp.get("/insight/should/<table>.csv")
def table_csv(table):
    data = should_insight.insight(box(), actor(), request.args)
    tab = should_insight.table(data, table, words())
    name = f"somebody-should-{table}-{data['from']}-to-{data['to']}.csv"
    return Response(
        should_insight.as_csv(tab),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            # Staff get exact figures from the same address: no shared cache may keep it.
            "Cache-Control": "private, no-cache",
        },
    )


@bp.get("/insight/should/<chart>.svg")
def chart_svg(chart):
    svg = should_insight.chart_svg(box(), actor(), chart, request.args, words())
    response = make_response(svg)
    response.mimetype = "image/svg+xml"
    response.headers["Content-Security-Policy"] = SVG_POLICY
    response.headers["Cache-Control"] = "private, no-cache"
    response.add_etag()
    return response.make_conditional(request)
