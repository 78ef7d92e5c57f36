"""Food bank exports: the page listing the datasets and their columns, and the downloads."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from appliance.errors import InvalidInput, ServiceError
from appliance.services import food_export
from web.downloads import csv_download, json_download
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
    return csv_download(food_export, dataset, _page)


@bp.get("/food/export/<dataset>.json")
def download_json(dataset):
    return json_download(food_export, dataset, _json_error)


def _json_error(exc: ServiceError):
    """Answer {"error": what and why} (and, for bad filters, {"fields": ...})."""
    body = {"error": message_of(exc)}
    if isinstance(exc, InvalidInput):
        fields = {name: _(message) for name, message in exc.fields.items()}
        body["error"] += " " + " ".join(f"{name}: {text}" for name, text in fields.items())
        body["fields"] = fields
    return Response(json.dumps(body, ensure_ascii=False), exc.status, mimetype="application/json")
