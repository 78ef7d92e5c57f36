"""The HTTP side of sync: what a box answers to other boxes, under /sync/v1/.

Thin: it checks who is calling, then hands pages to sync.exchange and records to
`Log.ingest`, the one apply path. An unknown or revoked box gets 403 and nothing.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, request

from appliance.box import Box
from appliance.services import peers
from sync import exchange
from sync.auth import AuthError, NonceCache, verify_request

bp = Blueprint("sync", __name__, url_prefix="/sync/v1")
PROTOCOL_VERSION = 1


def init_app(app) -> None:
    """Serve the sync endpoints on a box's web app (boxes sign requests; no CSRF)."""
    app.extensions["kith_nonces"] = NonceCache()
    app.register_blueprint(bp)
    app.extensions["csrf"].exempt(bp)


def _box() -> Box:
    return current_app.extensions["kith_box"]


def _caller(paired: bool = True) -> str:
    """Return the calling box's origin; abort 403 unless it signed (and is paired)."""
    try:
        origin = verify_request(
            request.headers,
            request.method,
            request.path,
            request.get_data(),
            _box().log.now_ms(),
            current_app.extensions["kith_nonces"],
        )
    except AuthError as exc:
        raise Refused(str(exc)) from None
    if paired and not peers.is_paired(_box(), origin):
        raise Refused("this box is not paired with yours (or the pairing was revoked)")
    return origin


class Refused(Exception):
    """A request from a box this one will not talk to."""


@bp.errorhandler(Refused)
def _refused(exc: Refused):
    return jsonify({"error": str(exc)}), 403


def _json_body() -> dict:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


class BadRequest(Exception):
    """A request from a paired box that does not follow the protocol."""


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return jsonify({"error": str(exc)}), 400


def hello_body(box: Box) -> dict:
    """Return who this box is: shown to staff before pairing."""
    return {
        "proto": PROTOCOL_VERSION,
        "origin": box.origin,
        "name": box.centre.name,
        "fingerprint": peers.fingerprint(box.origin),
    }


@bp.get("/hello")
def hello():
    return jsonify(hello_body(_box()))


@bp.post("/pair")
def pair():
    # Signed but not yet trusted: the signature proves the caller holds the key it names.
    origin = _caller(paired=False)
    body = _json_body()
    name = str(body.get("name") or "")[:100].strip() or origin[:8]
    url = body.get("url") if isinstance(body.get("url"), str) else None
    peers.remember(_box(), origin, name, url)
    return jsonify({**hello_body(_box()), "code": peers.pairing_code(_box().origin, origin)})


def _vector(value, what: str) -> dict:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and (v is None or (isinstance(v, int) and v >= 0))
        for k, v in value.items()
    ):
        raise BadRequest(f"{what} must map origins to sequence numbers")
    return value


@bp.post("/pull")
def pull():
    caller = _caller()
    box = _box()
    body = _json_body()
    have = _vector(body.get("have", {}), "have")
    accepts = _vector(body.get("accepts", {}), "accepts")
    max_records = min(int(body.get("max_records") or exchange.MAX_PAGE_RECORDS), 1000)
    max_bytes = min(int(body.get("max_bytes") or exchange.MAX_PAGE_BYTES), 1024 * 1024)
    page = exchange.next_page(box, caller, have, accepts, max(1, max_records), max_bytes)
    # Tell the caller what we hold and accept, so it can push what we lack.
    about_us = {"have": exchange.held(box), "accepts": box.log.trusted_origins()}
    if page is None:
        page = exchange.Page(origin=None, after=0, through=0, lines=[], more=False)
    body = b"\n".join([page.header(**about_us), *page.lines]) + b"\n"
    return Response(body, mimetype="application/x-ndjson")


@bp.post("/push")
def push():
    caller = _caller()
    box = _box()
    try:
        header, lines = exchange.parse_page(request.get_data())
    except ValueError as exc:
        raise BadRequest(f"the page is malformed: {exc}") from None
    result = box.log.ingest(
        lines,
        also=lambda: exchange.advance_cursor(caller, header["origin"], header["through"]),
    )
    if not result.ok:
        current_app.logger.warning(
            "sync: refused a page from %s: %s",
            caller[:8],
            "; ".join(f"line {r.line}: {r.reason}" for r in result.rejected),
        )
        return jsonify(
            {
                "error": "the page was refused and nothing from it was applied",
                "rejected": [{"line": r.line, "reason": r.reason} for r in result.rejected],
            }
        ), 400
    return jsonify({"accepted": len(result.accepted), "duplicates": result.duplicates})
