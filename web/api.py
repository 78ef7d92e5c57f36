"""The JSON API, /api/v1/: the same queries, services and serializers as the pages.

Reading needs no sign-in; acting needs a member, signed in by a personal token
(`Authorization: Bearer ...`, see web/accounts.py) or by the login cookie (then with the
CSRF token in X-CSRFToken). Every rule is in the services: the views here only read the
JSON body, call the service and answer. What each route takes and answers is documented
in web/openapi/board.yaml (checked by tests/web/test_openapi_contract.py); the document
is served at /api/v1/openapi.json and read by people at /api.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, make_response, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import N_, InvalidInput, NotAllowed
from appliance.services import (
    accounts,
    api_tokens,
    board,
    board_queries,
    centre,
    moderation,
    rules,
    stale,
)
from web import openapi
from web.context import actor, box

bp = Blueprint("api", __name__, url_prefix="/api/v1")

TEXT = "text"
BOOL = "bool"
TYPE_MESSAGES = {
    TEXT: N_("Please send this as text."),
    BOOL: N_("Please send this as true or false."),
}


def json_body(**fields: str) -> dict:
    """Return the request's JSON object, with only `fields` (name=TEXT or BOOL) kept.

    Anything but a JSON body is refused with 415; a body that is not an object, or a
    field of the wrong type, with 400 naming the fields. Missing fields are left out, so
    the service says what it needs; unknown fields are ignored.
    """
    if request.mimetype != "application/json":
        abort(
            make_response(
                jsonify(error=_("Please send a JSON body, with Content-Type application/json.")),
                415,
            )
        )
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(
            {"body": N_('Please send one JSON object, like {"text": "..."}.')},
            N_("The body was not understood."),
        )
    errors, body = {}, {}
    for name, kind in fields.items():
        if name not in data or data[name] is None:
            continue
        value = data[name]
        if (kind == TEXT and not isinstance(value, str)) or (
            kind == BOOL and not isinstance(value, bool)
        ):
            errors[name] = TYPE_MESSAGES[kind]
        else:
            body[name] = value
    if errors:
        raise InvalidInput(errors)
    return body


def _created(new_id: str, post_id: str):
    response = jsonify({"id": new_id})
    response.status_code = 201
    response.headers["Location"] = url_for("api.post", post_id=post_id)
    return response


def _post_view(post_id: str):
    return jsonify(board_queries.get_post(box(), actor(), post_id))


# --- about the API ----------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi.document())


def _body_fields(doc: dict, operation: dict) -> list[tuple[str, str, bool]]:
    """Return (name, type, required) of each field of an operation's JSON body."""
    body = openapi.resolve(doc, operation.get("requestBody") or {})
    schema = openapi.resolve(
        doc, body.get("content", {}).get("application/json", {}).get("schema", {})
    )
    required = set(schema.get("required", []))
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = openapi.resolve(doc, prop)
        kind = prop.get("type", "")
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        if "enum" in prop:
            kind += ": " + ", ".join(str(v) for v in prop["enum"] if v is not None)
        fields.append((name, kind, name in required))
    return fields


def docs():
    """The API's page for people: how to sign in, and every operation, from the document."""
    doc = openapi.document()
    groups = {}
    for op in openapi.operations(doc):
        security = op["operation"].get("security", doc.get("security", []))
        op["public"] = not security or {} in security
        op["session_only"] = bool(security) and all("cookieAuth" in s for s in security)
        op["body"] = _body_fields(doc, op["operation"])
        op["statuses"] = list(op["operation"].get("responses", {}))
        groups.setdefault(op["tag"], []).append(op)
    tags = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    ordered = [(name, tags.get(name, ""), groups[name]) for name in tags if name in groups]
    ordered += [(name, "", ops) for name, ops in groups.items() if name not in tags]
    return render_template("api/index.html", doc=doc, groups=ordered)


# /api itself is a page, outside the blueprint's /api/v1 prefix.
bp.record_once(lambda state: state.app.add_url_rule("/api", "api.docs", docs))


# --- the board --------------------------------------------------------------------------


@bp.get("/posts")
def posts():
    filters = board_queries.parse_filters(request.args)
    return jsonify(board_queries.list_posts(box(), actor(), filters))


@bp.post("/posts")
def create_post():
    data = json_body(**dict.fromkeys(board.POST_FIELDS, TEXT))
    post_id = board.create_post(box(), actor(), data)
    return _created(post_id, post_id)


@bp.get("/posts/<post_id>")
def post(post_id):
    return _post_view(post_id)


@bp.post("/posts/<post_id>/comments")
def add_comment(post_id):
    data = json_body(text=TEXT)
    return _created(board.add_comment(box(), actor(), post_id, data.get("text", "")), post_id)


@bp.post("/posts/<post_id>/help")
def help(post_id):
    data = json_body(mode=TEXT)
    board.offer_help(box(), actor(), post_id, data.get("mode", ""))
    return _post_view(post_id)


@bp.post("/posts/<post_id>/help/withdraw")
def withdraw_help(post_id):
    board.withdraw_help(box(), actor(), post_id)
    return _post_view(post_id)


@bp.post("/posts/<post_id>/resolve")
def resolve(post_id):
    data = json_body(note=TEXT) if request.content_length else {}
    board.resolve(box(), actor(), post_id, data.get("note", ""))
    return _post_view(post_id)


@bp.post("/posts/<post_id>/reopen")
def reopen(post_id):
    board.reopen(box(), actor(), post_id)
    return _post_view(post_id)


@bp.post("/posts/<post_id>/thanks")
def thank(post_id):
    data = json_body(helper=TEXT, message=TEXT)
    thanks_id = board.thank(
        box(), actor(), post_id, data.get("helper", ""), data.get("message", "")
    )
    return _created(thanks_id, post_id)


@bp.post("/posts/<post_id>/flag")
def flag(post_id):
    data = json_body(comment=TEXT, reason=TEXT, note=TEXT)
    flag_id = moderation.flag(
        box(),
        actor(),
        post_id,
        data.get("comment") or None,
        data.get("reason", ""),
        data.get("note", ""),
    )
    return _created(flag_id, post_id)


@bp.post("/posts/<post_id>/still-needed")
def still_needed(post_id):
    data = json_body(answer=BOOL)
    if "answer" not in data:
        raise InvalidInput({"answer": N_("Please answer true (still needed) or false.")})
    stale.answer(box(), actor(), post_id, data["answer"])
    return _post_view(post_id)


@bp.post("/posts/<post_id>/revive")
def revive(post_id):
    stale.revive(box(), actor(), post_id)
    return _post_view(post_id)


@bp.get("/thanks")
def thanks():
    return jsonify({"thanks": board_queries.list_thanks(box(), actor())})


@bp.get("/centre")
def centre_info():
    here = box().centre
    return jsonify(
        {
            "name": here.name,
            "timezone": here.timezone,
            "categories": [{"slug": c.slug, "label": c.label} for c in centre.categories(box())],
            "places": centre.places(box()),
            "rules": rules.all_rules(box()),
        }
    )


# --- the account ------------------------------------------------------------------------


@bp.get("/me")
def me():
    current = accounts.require_member(actor())
    return jsonify(
        {
            "id": current.id,
            "name": current.name,
            "verified": current.verified,
            "roles": sorted(current.roles),
            "via_token": current.via_token,
        }
    )


@bp.get("/me/tokens")
def my_tokens():
    current = accounts.require_member(actor())
    if current.via_token:
        raise NotAllowed(N_("See your tokens while signed in on the box, not with a token."))
    return jsonify({"tokens": api_tokens.list_tokens(box(), current)})
