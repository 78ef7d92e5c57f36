"""Open311 GeoReport v2 for the "somebody should" board, in JSON and XML.

Every endpoint answers in the format its extension names (.json or .xml); so does every
error under /open311/, as the spec's error array ([{"code": 400, "description": ...}],
or <errors><error>...), never an HTML page. The rules live in
appliance/services/open311.py; this module parses requests and renders answers.
"""

from __future__ import annotations

import ipaddress
import math
import re
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from peewee import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from appliance.errors import InvalidInput, ServiceError
from appliance.services import open311
from web import csrf
from web.context import box
from web.errors import message_of, storage_full
from web.ratelimits import refusal_message

bp = Blueprint("open311", __name__)

BASE = "/open311/v2"
FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json", "xml": "text/xml"}
# When this endpoint's shape last changed (discovery's "changeset": sortable).
CHANGESET = "2026-11-26T00:00:00Z"
# XML: the element of each item of a list, by the list's element.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
# Characters XML 1.0 cannot carry at all (a stray control character in a post).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _fmt() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


def _element(parent: ET.Element, tag: str, value) -> None:
    el = ET.SubElement(parent, tag)
    _fill(el, tag, value)


def _fill(el: ET.Element, tag: str, value) -> None:
    if isinstance(value, list):
        for item in value:
            _element(el, ITEMS[tag], item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _element(el, key, item)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = _NOT_XML.sub("", str(value))


def _answer(root: str, data, status: int = 200, headers: dict | None = None) -> Response:
    """Render data as JSON or, under `root`, as XML, by the request's extension."""
    fmt = _fmt()
    if fmt == "xml":
        el = ET.Element(root)
        _fill(el, root, data)
        body = ET.tostring(el, encoding="UTF-8", xml_declaration=True)
    else:
        body = current_app.json.dumps(data)
    response = Response(body, status, headers, mimetype=MIMETYPES[fmt])
    response.charset = "utf-8"
    return response


def _errors(status: int, descriptions: list[str], headers: dict | None = None) -> Response:
    return _answer(
        "errors", [{"code": status, "description": d} for d in descriptions], status, headers
    )


def _route(path: str, name: str, methods=("GET",)):
    """Register a view at BASE/path.json and BASE/path.xml."""

    def register(view):
        for fmt in FORMATS:
            bp.add_url_rule(f"{BASE}/{path}.{fmt}", f"{name}_{fmt}", view, methods=list(methods))
        return view

    return register


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    if isinstance(exc, InvalidInput):
        said = [f"{field}: {_(message)}" for field, message in exc.fields.items()]
        return _errors(exc.status, said)
    return _errors(exc.status, [message_of(exc)])


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    messages = {
        404: _("There is nothing at this address."),
        405: _("That action is not available here."),
        413: _("That was too much to send at once."),
    }
    headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", 0) else {}
    return _errors(exc.code or 500, [messages.get(exc.code, exc.description)], headers)


@bp.errorhandler(OperationalError)
def _storage_full(exc: OperationalError):
    if not storage_full(exc):
        raise exc
    message = _("The box's storage is full, so nothing new can be saved right now.")
    return _errors(507, [message])


@_route("discovery", "discovery")
def discovery():
    centre = box().centre
    root = request.url_root
    return _answer(
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": _("Ask the staff at %(centre)s.", centre=centre.name if centre else "?"),
            "key_service": _(
                "Sign in on this board, make a personal token at %(url)s and send it as api_key.",
                url=root + "account/tokens",
            ),
            "endpoints": [
                {
                    "specification": open311.SPECIFICATION,
                    "url": root.rstrip("/") + BASE,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
    )


@_route("services", "services")
def services():
    return _answer(
        "services",
        [
            {
                **s,
                "description": _(
                    "Somebody should… jobs for the community: %(label)s.", label=s["service_name"]
                ),
                "metadata": True,
                "type": "realtime",
                "keywords": ", ".join((s["service_code"], _("somebody should"))),
                "group": _("somebody should"),
            }
            for s in open311.services(box())
        ],
    )


@_route("services/<service_code>", "service_definition")
def service_definition(service_code: str):
    found = open311.service_definition(box(), service_code)
    attributes = []
    if found["places"]:
        attributes.append(
            {
                "variable": True,
                "code": "place",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": _(
                    "One of the centre's places; or say where in address_string."
                ),
                "order": 1,
                "description": _("Where?"),
                "values": [{"key": p, "name": p} for p in found["places"]],
            }
        )
    attributes.append(
        {
            "variable": True,
            "code": "title",
            "datatype": "string",
            "required": True,
            "datatype_description": _("A few words: 120 characters at most."),
            "order": 2,
            "description": _("What should somebody do?"),
        }
    )
    return _answer(
        "service_definition", {"service_code": found["service_code"], "attributes": attributes}
    )


@_route("requests", "requests")
def list_requests():
    query = open311.read_query(box(), request.args)
    return _answer("service_requests", open311.list_requests(box(), query))


@_route("requests/<post_id>", "one_request")
def one_request(post_id: str):
    return _answer("service_requests", [open311.get_request(box(), post_id)])


def _address() -> str | None:
    # The same rule as web/ratelimits.py: the kiosk on the box itself shares one address.
    addr = request.remote_addr or ""
    try:
        if ipaddress.ip_address(addr).is_loopback:
            return None
    except ValueError:
        pass
    return addr or None


# Authenticated by the api_key in the form, never by the session cookie (a signed-in
# browser's cookie gives no right here), so another site cannot forge it: no CSRF token.
@csrf.exempt
@_route("requests", "create_request", methods=("POST",))
def create_request():
    actor = open311.token_actor(box(), request.form.get("api_key"))
    # Counted here, not in web/ratelimits.py: only this view knows the token's member.
    limiter = current_app.extensions["kith_limiter"]
    keys = {"account": actor.id}
    if address := _address():
        keys["address"] = address
    refusal, at_ms = limiter.take("post", keys)
    if refusal is not None:
        retry = {"Retry-After": str(math.ceil(refusal.retry_ms / 1000))}
        return _errors(429, [refusal_message(refusal)], retry)
    try:
        request_id = open311.create_request(box(), actor, request.form)
    except BaseException:
        limiter.give_back("post", keys, at_ms)  # a refused request does not count
        raise
    made = {"service_request_id": request_id, "service_notice": "", "account_id": None}
    return _answer("service_requests", [made], 201)


# Anything else under /open311/ answers with the error array too: routing errors never
# reach a blueprint's error handlers, so this catches them as a route.
@csrf.exempt
@bp.route("/open311/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/open311/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def elsewhere(rest: str = ""):
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "open311.elsewhere":
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound()
