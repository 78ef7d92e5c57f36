"""Open data: the page of public datasets and their columns, the CSV and JSON downloads,
the column dictionary as JSON, and the signed daily dumps."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from appliance.services import open_data, open_dump
from web.context import box
from web.downloads import csv_download, json_download
from web.errors import json_error

bp = Blueprint("open_data", __name__)


def _page(filters, errors, status=200):
    return render_template(
        "open_data/index.html",
        datasets=open_data.dictionary(_),
        types=open_data.type_names(_),
        filter_meanings=open_data.FILTERS,
        filters=filters,
        errors=errors,
        choices=open_data.filter_choices(box()),
        links={d: open_data.for_dataset(filters, d) for d in open_data.DATASETS},
        dumps=open_dump.list_dumps(box())[:3],
    ), status


@bp.get("/open/data")
def index():
    filters, errors = open_data.read_filters(request.args)
    return _page(filters, errors, 400 if errors else 200)


@bp.get("/open/data/columns.json")
def columns():
    body = {"datasets": open_data.dictionary(_), "types": open_data.type_names(_)}
    return Response(json.dumps(body, ensure_ascii=False), content_type="application/json")


@bp.get("/open/data/<dataset>.csv")
def download_csv(dataset):
    return csv_download(open_data, dataset, _page)


@bp.get("/open/data/<dataset>.json")
def download_json(dataset):
    return json_download(open_data, dataset, json_error)


@bp.get("/open/data/dumps")
def dumps():
    example = open_dump.example_name(box())
    return render_template(
        "open_data/dumps.html",
        dumps=open_dump.list_dumps(box()),
        keep_days=open_dump.KEEP_DAYS,
        origin=box().origin,
        example=example,
        snippet=open_dump.verify_snippet(box(), example),
    )


def _dump(name: str, suffix: str, content_type: str) -> Response:
    path = open_dump.dump_file(box(), name, suffix)
    # The exact bytes that were signed, read whole: no file is left open on the box.
    return Response(
        path.read_bytes(),
        content_type=content_type,
        headers={"Content-Disposition": f'inline; filename="{path.name}"'},
    )


@bp.get("/open/data/dumps/<name>.json")
def dump_json(name):
    return _dump(name, ".json", "application/json")


@bp.get("/open/data/dumps/<name>.sig")
def dump_sig(name):
    return _dump(name, ".sig", "text/plain; charset=us-ascii")
