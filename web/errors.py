"""Turn service errors into a page or a JSON answer, whichever the client asked for."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from peewee import OperationalError
from werkzeug.exceptions import HTTPException

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotSignedIn, ServiceError


def wants_json() -> bool:
    """Return True for API and box-to-box requests, which always answer JSON."""
    return request.path.startswith(("/api/", "/sync/"))


def message_of(exc: ServiceError) -> str:
    """Return the translated message of a service error."""
    return gettext(exc.message, **exc.params)


def json_error(exc: ServiceError):
    body = {"error": message_of(exc)}
    if isinstance(exc, InvalidInput):
        body["fields"] = {k: gettext(v) for k, v in exc.fields.items()}
    return jsonify(body), exc.status


def storage_full(exc: BaseException | None) -> bool:
    """Return True if an error (or one it was raised while handling) is SQLITE_FULL.

    SQLite rolls the transaction back itself on a full disk, so peewee's own ROLLBACK
    then fails too and hides the first error under "no transaction is active".
    """
    while exc is not None:
        if "database or disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def init_app(app) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        if wants_json():
            return json_error(exc)
        if isinstance(exc, NotSignedIn) and request.method == "GET":
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return render_template("error.html", message=message_of(exc), status=exc.status), exc.status

    @app.errorhandler(OperationalError)
    def _storage_full(exc: OperationalError):
        if not storage_full(exc):
            raise exc
        # SQLite rolled the write back: nothing is half-saved and the file stays sound.
        app.logger.error("The box's storage is full; a write was refused: %s", exc)
        message = gettext(
            "The box's storage is full, so nothing new can be saved right now. Nothing "
            "already saved is lost. Please tell the centre's staff: the health page says "
            "what to do."
        )
        if wants_json():
            return jsonify({"error": message}), 507
        return render_template("error.html", message=message, status=507), 507

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        message = gettext(
            "This form had expired or did not come from this board. "
            "Please go back, reload the page and try again."
        )
        if wants_json():
            return jsonify({"error": message}), 400
        return render_template("error.html", message=message, status=400), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        messages = {
            404: gettext("There is nothing at this address."),
            405: gettext("That action is not available here."),
            413: gettext("That was too much to send at once."),
        }
        message = messages.get(exc.code, exc.description)
        if wants_json():
            return jsonify({"error": message}), exc.code
        return render_template("error.html", message=message, status=exc.code), exc.code


def act_on_page(page, action, done, target):
    """Run a staff form's service action: a refusal re-renders `page` with the errors
    (400) or the problem, success flashes `done` and redirects to `target`.

    `done` and `target` may be functions of what the action returned (a new id).
    """
    try:
        result = action()
    except InvalidInput as exc:
        return page(errors=exc.fields, status=400)
    except (Conflict, NotAllowed) as exc:
        return page(problem=message_of(exc), status=exc.status)
    flash(done(result) if callable(done) else done)
    return redirect(target(result) if callable(target) else target)
