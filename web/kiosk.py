"""The kiosk: a full-screen board for the hall's TV or touch screen.

/kiosk is the page; /kiosk/state is the part that changes, as an HTML fragment with an
ETag, which static/kiosk.js polls (an unchanged board costs a 304); /kiosk/qr.svg is the
QR code of the board's address for phones. The page never reloads itself: if the server
is away, kiosk.js keeps the last good board and says it is reconnecting.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flask import Blueprint, make_response, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from appliance.services import kiosk, setup
from web.context import box

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")


def board_address() -> kiosk.Address:
    """Return the board's address for phones, on the port this request came in on."""
    # Phones reach the server on the port the kiosk's own browser used.
    port = urlsplit("//" + request.host).port or (443 if request.scheme == "https" else 80)
    return kiosk.board_address(box().settings, port)


def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _state() -> str:
    """Render the changing part of the kiosk: the same for every viewer."""
    address = board_address()
    return render_template(
        "kiosk_state.html",
        screen=kiosk.screen(box()),
        address=address,
        qr_version=_version(address.url),
        # The wifi details staff chose at first boot to show beside the code (or None).
        wifi=setup.read_poster(box().data_dir),
    )


def _fresh(response, tag: str):
    """Answer 304 when the browser already holds this version."""
    response.set_etag(tag)
    # Keep a copy but ask every time: the ETag makes the answer a cheap 304.
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


@bp.get("")
def index():
    state = _state()
    response = make_response(
        render_template("kiosk.html", state=Markup(state), etag=f'"{_version(state)}"')
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/state")
def state():
    html = _state()
    return _fresh(make_response(html), _version(html))


@bp.get("/qr.svg")
def qr():
    url = board_address().url
    svg = kiosk.qr_svg(url, _("QR code for %(url)s", url=url))
    response = make_response(svg)
    response.mimetype = "image/svg+xml"
    return _fresh(response, _version(url))
