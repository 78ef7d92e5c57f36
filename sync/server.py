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
    """Serve the sync endpoints (boxes sign requests; no CSRF) and the staff sync pages."""
    from sync import pages

    app.extensions["kith_nonces"] = NonceCache()
    app.register_blueprint(bp)
    app.extensions["csrf"].exempt(bp)
    app.register_blueprint(pages.bp)
    app.config["KITH_SYNC_PAGES"] = True  # the staff pages link to them


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


def _vector(value, what: str, limits: bool = False) -> dict:
    """Check {origin: seq} (with limits=True, a seq may be null: no limit)."""

    def fits(v) -> bool:
        if v is None:
            return limits
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if not isinstance(value, dict) or not all(
        isinstance(k, str) and fits(v) for k, v in value.items()
    ):
        raise BadRequest(f"{what} must map origins to sequence numbers")
    return value


def _bounded(value, default: int, most: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest("page limits must be positive whole numbers")
    return min(value, most)


@bp.post("/pull")
def pull():
    caller = _caller()
    box = _box()
    body = _json_body()
    have = _vector(body.get("have", {}), "have")
    accepts = _vector(body.get("accepts", {}), "accepts", limits=True)
    max_records = _bounded(body.get("max_records"), exchange.MAX_PAGE_RECORDS, 1000)
    max_bytes = _bounded(body.get("max_bytes"), exchange.MAX_PAGE_BYTES, 1024 * 1024)
    ours = exchange.held(box)  # computed once: it walks the whole store's index
    page = exchange.next_page(box, caller, have, accepts, max_records, max_bytes, ours)
    # Tell the caller what we hold and accept, so it can push what we lack.
    about_us = {"have": ours, "accepts": exchange.accepts(box)}
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
        exchange.check_page(header, lines, caller)
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
