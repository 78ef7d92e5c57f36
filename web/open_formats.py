"""Open formats: one page that lists them all, Open Referral HSDS 3 and Activity Streams 2.0.

Thin over appliance/services/hsds.py and activitystreams.py: this module only turns their
link names into absolute addresses on the host the request came to, and answers JSON.
Nothing here depends on who asks: every answer is public, and the same for everyone.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import ServiceError
from appliance.services import activitystreams, hsds, orgs
from web.context import box
from web.errors import json_error

bp = Blueprint("open_formats", __name__)

HSDS_LINKS = {
    "board": "board.index",
    "rides": "rides.index",
    "org_page": "food.org",
    "shift_page": "shifts.shift",
}
AS_LINKS = {
    "centre": "open_formats.as_centre",
    "board": "board.index",
    "posts": "open_formats.as_posts",
    "post": "open_formats.as_post",
    "post_page": "board.post",
    "replies": "open_formats.as_replies",
    "comment": "open_formats.as_comment",
    "moderation": "open_formats.as_moderation",
}


def _linker(endpoints: dict[str, str]):
    """Return link(name, **values): the absolute address of a service's link name."""
    return lambda name, **values: url_for(endpoints[name], _external=True, **values)


@bp.errorhandler(ServiceError)
def _json_error(exc: ServiceError):
    # These are machine formats: a bad page number or an unknown id answers JSON, as the
    # API does, not an HTML error page.
    return json_error(exc)


def _json(data, mimetype: str = "application/json"):
    response = current_app.json.response(data)
    response.mimetype = mimetype
    return response


@bp.get("/open")
def index():
    return render_template(
        "open/index.html",
        orgs=orgs.list_orgs(box()),
        root=request.url_root.rstrip("/"),  # addresses to copy, on the host asked
    )


# --- Open Referral HSDS 3 ------------------------------------------------------------------


@bp.get("/open/hsds/organizations")
def hsds_organizations():
    page, per_page = hsds.read_paging(request.args)
    items = hsds.organizations(box(), _, _linker(HSDS_LINKS))
    return _json(hsds.paged(items, page, per_page))


@bp.get("/open/hsds/organizations/<org_id>")
def hsds_organization(org_id):
    return _json(hsds.organization(box(), org_id, _, _linker(HSDS_LINKS)))


@bp.get("/open/hsds/services")
def hsds_services():
    page, per_page = hsds.read_paging(request.args)
    items = hsds.services(box(), _, _linker(HSDS_LINKS))
    return _json(hsds.paged(items, page, per_page))


@bp.get("/open/hsds/services/<service_id>")
def hsds_service(service_id):
    return _json(hsds.service(box(), service_id, _, _linker(HSDS_LINKS)))


# --- Activity Streams 2.0 ------------------------------------------------------------------


def _activity(data):
    return _json(data, activitystreams.MEDIA_TYPE)


@bp.get("/open/as/centre")
def as_centre():
    return _activity(activitystreams.centre(box(), _, _linker(AS_LINKS)))


@bp.get("/open/as/posts")
def as_posts():
    page = activitystreams.read_page(request.args)
    return _activity(activitystreams.posts(box(), page, _linker(AS_LINKS)))


@bp.get("/open/as/posts/<post_id>")
def as_post(post_id):
    return _activity(activitystreams.post(box(), post_id, _linker(AS_LINKS)))


@bp.get("/open/as/posts/<post_id>/replies")
def as_replies(post_id):
    return _activity(activitystreams.replies(box(), post_id, _linker(AS_LINKS)))


@bp.get("/open/as/comments/<comment_id>")
def as_comment(comment_id):
    return _activity(activitystreams.comment(box(), comment_id, _linker(AS_LINKS)))


@bp.get("/open/as/moderation")
def as_moderation():
    page = activitystreams.read_page(request.args)
    return _activity(activitystreams.moderation(box(), page, _, _linker(AS_LINKS)))
