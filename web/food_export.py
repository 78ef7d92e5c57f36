"""Food bank exports: the page listing the datasets and their columns, and the downloads."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from appliance.errors import InvalidInput, ServiceError
from appliance.services import food_export
from web.context import box
from web.errors import message_of

bp = Blueprint("food_export", __name__)


def _page(filters, errors, status=200):
    return render_template(
        "food/export.html",
        datasets=food_export.DATASETS,
        columns=food_export.COLUMNS,
        filter_meanings=food_export.FILTERS,
        filters=filters,
        errors=errors,
        choices=food_export.filter_choices(),
        links={d: food_export.for_dataset(filters, d) for d in food_export.DATASETS},
    ), status


@bp.get("/food/export")
def page():
    filters, errors = food_export.read_filters(request.args)
    return _page(filters, errors, 400 if errors else 200)


@bp.get("/food/export/<dataset>.csv")
def download_csv(dataset):
    try:
        data = food_export.export(box(), dataset, request.args)
    except InvalidInput as exc:
        # Show the filter form again with what is wrong next to each field.
        filters, _errors = food_export.read_filters(request.args, dataset)
        return _page(filters, exc.fields, 400)
    name = food_export.filename(box(), dataset, "csv")
    return Response(
        food_export.as_csv(data),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/food/export/<dataset>.json")
def download_json(dataset):
    try:
        data = food_export.export(box(), dataset, request.args)
    except ServiceError as exc:
        return _json_error(exc)
    name = food_export.filename(box(), dataset, "json")
    return Response(
        json.dumps(food_export.as_json(data), ensure_ascii=False),
        content_type="application/json",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


def _json_error(exc: ServiceError):
    """Answer {"error": what and why} (and, for bad filters, {"fields": ...})."""
    body = {"error": message_of(exc)}
    if isinstance(exc, InvalidInput):
        fields = {name: _(message) for name, message in exc.fields.items()}
        body["error"] += " " + " ".join(f"{name}: {text}" for name, text in fields.items())
        body["fields"] = fields
    return Response(json.dumps(body, ensure_ascii=False), exc.status, mimetype="application/json")
