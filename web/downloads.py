"""Downloads of an export (food exports, open data): CSV as an attachment, JSON inline.

Both export services have the same shape (export, read_filters, filename, as_csv,
as_json), so the two areas answer a download the same way: bad filters on a CSV link
show the page's form again with the problems; on a JSON link they answer JSON.
"""

from __future__ import annotations

import json

from flask import Response, request

from appliance.errors import InvalidInput, ServiceError
from web.context import box


def csv_download(exporter, dataset: str, page):
    """Answer a dataset as a CSV attachment, or `page(filters, errors, 400)` if the
    filters are wrong."""
    try:
        data = exporter.export(box(), dataset, request.args)
    except InvalidInput as exc:
        # Show the filter form again with what is wrong next to each field.
        filters, _errors = exporter.read_filters(request.args, dataset)
        return page(filters, exc.fields, 400)
    name = exporter.filename(box(), dataset, "csv")
    return Response(
        exporter.as_csv(data),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def json_download(exporter, dataset: str, json_error):
    """Answer a dataset as JSON, or `json_error(exc)` for bad filters or an unknown set."""
    try:
        data = exporter.export(box(), dataset, request.args)
    except ServiceError as exc:
        return json_error(exc)
    name = exporter.filename(box(), dataset, "json")
    return Response(
        json.dumps(exporter.as_json(data), ensure_ascii=False),
        content_type="application/json",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
