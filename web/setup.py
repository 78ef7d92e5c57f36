"""First boot: the setup page a new box serves until it has a centre, then the board.

`kith serve` on a data directory without a box serves a FirstBoot: a WSGI app that
hands every request to the setup app until the setup form has created the box, then
to the board, in the same process. Once the board is live the setup app is never
reached again, so every setup address is the board's 404.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request
from flask import session as setup_session
from flask_babel import Babel
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from appliance import settings as settings_mod
from appliance.box import Box, BoxError, is_box
from appliance.errors import Conflict, InvalidInput
from appliance.services import accounts, setup
from appliance.settings import SettingsError
from web.templating import add_security_headers

bp = Blueprint("setup", __name__)

# Who may use the setup page: people on the box's own network. waitress puts the TCP
# peer's address in REMOTE_ADDR (it only reads X-Forwarded-For and friends when told to
# trust a proxy, which we never do), so a header cannot make a remote caller look local.
# Private here means exactly RFC 1918 and IPv6 unique local addresses, not everything
# ipaddress.is_private counts (documentation and benchmark ranges).
LOCAL_NETWORKS = [
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
] + [ipaddress.ip_network("fc00::/7")]
# Names a local network gives a box. A web page elsewhere could point its own name at
# the box's address (DNS rebinding) and fill in the form from a local browser; such a
# name is not one of these, so the request is refused.
LOCAL_SUFFIXES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".localdomain")


def is_local_address(addr: str | None) -> bool:
    """Return True for a loopback, link-local, RFC 1918 or IPv6 unique local address."""
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or any(ip in net for net in LOCAL_NETWORKS)


def is_local_host(host: str) -> bool:
    """Return True if a Host header names the box locally (an address, or a local name)."""
    name = _host_and_port(host)[0]
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    name = name.rstrip(".")
    return bool(name) and (name == "localhost" or "." not in name or name.endswith(LOCAL_SUFFIXES))


def _host_and_port(host: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit("//" + host)
        return parts.hostname or "", parts.port
    except ValueError:
        return "", None


class FirstBoot:
    """The WSGI app of a box without a centre: the setup page, then the board.

    `go_live(box)` builds the board's app (and starts what runs beside it) once setup
    has created the box.
    """

    def __init__(
        self,
        data_dir: Path,
        go_live: Callable[[Box], Flask],
        settings: dict | None = None,
        test_config: dict | None = None,
    ):
        self.data_dir = Path(data_dir)
        self._go_live = go_live
        # One setup at a time: a second submit waits, then finds the box and is refused.
        self.lock = threading.Lock()
        self.board: Flask | None = None
        self.setup_app = create_setup_app(self, settings or settings_mod.load(None), test_config)

    def __call__(self, environ, start_response):
        app = self.board if self.board is not None else self.setup_app
        return app(environ, start_response)

    def finish(self, plan: setup.Plan) -> tuple[Box, str]:
        """Create the box and switch to the board; call with the lock held."""
        box, admin_id = setup.set_up(self.data_dir, plan)
        self.board = self._go_live(box)
        return box, admin_id


def create_setup_app(first_boot: FirstBoot, settings: dict, test_config=None) -> Flask:
    """Build the Flask app of the setup page for a FirstBoot."""
    app = Flask(__name__)
    app.config.update(
        # No box, so no stored secret yet: a key for this process is enough for one form.
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_NAME="kith_setup",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=256 * 1024,
        BABEL_DEFAULT_LOCALE=settings["language"],
        BABEL_DEFAULT_TIMEZONE=settings["timezone"],
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["kith_first_boot"] = first_boot
    Babel(app)
    app.before_request(_only_from_the_local_network)
    CSRFProtect(app)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _expired)
    app.register_error_handler(HTTPException, _http_error)
    app.register_blueprint(bp)
    return app


def _first_boot() -> FirstBoot:
    return current_app.extensions["kith_first_boot"]


def _only_from_the_local_network():
    if not is_local_address(request.remote_addr):
        message = _(
            "For safety, a new box can only be set up from a phone or computer on the same "
            "network as the box, such as the centre's wifi. Connect to that network, then "
            "open this page again."
        )
        return _message_page(_("Set up from the centre's network"), message, 403)
    if not is_local_host(request.host):
        message = _(
            "Please open this page by the box's own address, such as http://kith.local:8080/, "
            "from a phone or computer on the centre's wifi."
        )
        return _message_page(_("Open the box's own address"), message, 403)
    return None


def _headers(response):
    # The same policy as the board: everything comes from the box.
    add_security_headers(response)
    # The page disappears once used: no browser or proxy should keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


def _message_page(title: str, message: str, status: int, board_link: bool = False):
    page = render_template("setup/message.html", title=title, message=message, board=board_link)
    return page, status


def _form_page(values, errors=None, problem=None, status=200):
    page = render_template("setup/form.html", form=values, errors=errors or {}, problem=problem)
    return page, status


def _expired(exc: CSRFError):
    # Typed answers are not shown again: a page elsewhere could have sent them.
    problem = _(
        "This page had expired, so nothing was saved. Please fill it in again and press "
        "the button once more."
    )
    return _form_page(setup.default_answers(), problem=problem, status=400)


def _http_error(exc: HTTPException):
    messages = {
        404: _("There is nothing at this address."),
        405: _("That action is not available here."),
        413: _("That was too much to send at once."),
    }
    return _message_page(_("Sorry"), messages.get(exc.code, exc.description), exc.code)


def _already_set_up():
    message = _(
        "This box is already set up, so this page is closed. Whoever set it up chose the "
        "admin's name and password: ask them, then log in on the board."
    )
    return _message_page(_("Already set up"), message, 409, board_link=True)


@bp.route("/setup", methods=["GET", "POST"])
def form():
    first_boot = _first_boot()
    if is_box(first_boot.data_dir):
        return _already_set_up()
    if request.method == "GET":
        return _form_page(setup.default_answers())
    answers = request.form
    try:
        plan = setup.check_answers(
            centre_name=answers.get("centre", ""),
            admin_name=answers.get("name", ""),
            password=answers.get("password", ""),
            password_again=answers.get("password_again", ""),
            categories=answers.get("categories", ""),
            places=answers.get("places", ""),
            conduct=answers.get("conduct", ""),
            wifi_name=answers.get("wifi_name", ""),
            wifi_password=answers.get("wifi_password", ""),
        )
    except InvalidInput as exc:
        problem = _("Please check the answers marked below.")
        return _form_page(answers, exc.fields, problem, 400)
    with first_boot.lock:
        if first_boot.board is not None or is_box(first_boot.data_dir):
            return _already_set_up()
        try:
            box, admin_id = first_boot.finish(plan)
        except Conflict:
            return _already_set_up()
        except (BoxError, SettingsError, OSError) as exc:
            problem = _(
                "The box could not save the new board (%(why)s), so nothing was kept. "
                "Check that its memory card is in place and not full, then try again.",
                why=getattr(exc, "strerror", None) or str(exc),
            )
            return _form_page(answers, problem=problem, status=500)
    response = redirect("/", 303)
    _log_in_on_board(first_boot.board, response, accounts.start_session(box, admin_id))
    setup_session.clear()  # the setup cookie goes too: it has no use any more
    return response


def _log_in_on_board(board: Flask, response, token: str) -> None:
    # The board reads its own signed session cookie; write the one its login would
    # write, with a welcome to show once (Flask keeps flashed messages in "_flashes").
    interface = board.session_interface
    session = interface.session_class()
    session.permanent = True
    session["token"] = token
    session["_flashes"] = [
        ("message", _("Your board is ready and you are logged in as its admin. Welcome!"))
    ]
    interface.save_session(board, session, response)


@bp.get("/kiosk")
def kiosk():
    # The hall screen opens /kiosk at power-on. It shows where to set the box up and
    # reloads itself (no script needed), so it becomes the kiosk once the board is live.
    port = _host_and_port(request.host)[1]
    address = f"http://kith.local:{port}/" if port not in (None, 80) else "http://kith.local/"
    return render_template("setup/waiting.html", address=address)


@bp.route("/")
@bp.route("/<path:anything>")
def elsewhere(anything: str = ""):
    if anything.startswith(("api/", "sync/")):
        return jsonify({"error": _("This box is not set up yet.")}), 503
    return redirect("/setup")
