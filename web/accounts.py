"""Sign up, log in and out; loads the signed-in actor for every request."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from appliance.errors import InvalidInput
from appliance.services import accounts, api_tokens
from web.context import actor, box

bp = Blueprint("accounts", __name__)


def bearer_token() -> str | None:
    """Return the personal token of an API request (Authorization: Bearer ...), or None."""
    if not request.path.startswith("/api/"):
        return None  # pages go by the login cookie only
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def init_app(app) -> None:
    @app.before_request
    def _load_actor():
        token = bearer_token()
        g.via_token = token is not None
        if token is not None:
            # A bad token is an error, not a visitor: the tool must hear why (401).
            g.actor = None
            g.actor = api_tokens.actor_for_token(box(), token)
        else:
            g.actor = accounts.actor_for_session(box(), session.get("token"))


def _safe_next(target: str | None) -> str:
    # Only same-site paths, so a crafted link cannot bounce someone to another site.
    # Browsers and werkzeug drop tabs and newlines and read "\\" as "/", so a target
    # holding any of them could turn into "//other.site" on the way out.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
    ):
        return target
    return url_for("board.index")


def _log_in_as(member_id: str) -> None:
    session.clear()
    session.permanent = True
    session["token"] = accounts.start_session(box(), member_id)


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    errors = {}
    if request.method == "POST":
        try:
            member_id = accounts.sign_up(
                box(),
                request.form.get("name", ""),
                request.form.get("password", ""),
                request.form.get("contact", ""),
            )
        except InvalidInput as exc:
            errors = exc.fields
        else:
            _log_in_as(member_id)
            flash(_("Welcome! You can post and help now."))
            return redirect(_safe_next(request.args.get("next")))
    return render_template(
        "accounts/signup.html", errors=errors, form=request.form
    ), 400 if errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    errors = {}
    if request.method == "POST":
        try:
            member_id = accounts.log_in(
                box(), request.form.get("name", ""), request.form.get("password", "")
            )
        except InvalidInput as exc:
            errors = exc.fields
        else:
            _log_in_as(member_id)
            return redirect(_safe_next(request.args.get("next")))
    return render_template(
        "accounts/login.html", errors=errors, form=request.form
    ), 400 if errors else 200


@bp.post("/logout")
def logout():
    accounts.end_session(session.get("token"))
    session.clear()
    flash(_("You are logged out."))
    return redirect(url_for("board.index"))


@bp.get("/me")
def me():
    current = actor()
    if current is None:
        return redirect(url_for("accounts.login", next=request.path))
    contact = accounts.private_contact(current, current.id)
    return render_template("accounts/me.html", contact=contact)
