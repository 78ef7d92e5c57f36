"""The JSON API, /api/v1/: the same queries and serializers as the pages."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from appliance.services import board_queries
from web.context import actor, box

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/posts")
def posts():
    filters = board_queries.parse_filters(request.args)
    return jsonify(board_queries.list_posts(box(), actor(), filters))


@bp.get("/posts/<post_id>")
def post(post_id):
    return jsonify(board_queries.get_post(box(), actor(), post_id))


@bp.get("/thanks")
def thanks():
    return jsonify({"thanks": board_queries.list_thanks(box(), actor())})
