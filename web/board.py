"""The board: the list of posts, a post's page, and the actions on a post."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from appliance.db import database
from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.services import board, board_queries, centre, moderation, peers
from appliance.services.conduct import ConductNotAccepted
from web.context import actor, box
from web.errors import message_of

bp = Blueprint("board", __name__)


def _newest_record() -> int:
    return database.execute_sql("SELECT max(rowid) FROM stored_record").fetchone()[0] or 0


@bp.get("/")
def index():
    # Visitors all see the same page for the same query: keep it until a record arrives
    # (local or synced: the newest rowid changes) or the minute turns (the "3 hours ago").
    if actor() is not None or "_flashes" in session:
        return _render_index()
    pages = current_app.extensions.setdefault("kith_visitor_pages", {})
    key = (request.query_string, _newest_record(), int(time.time() // 60))
    page = pages.get(key)
    if page is None:
        page = _render_index()
        if len(pages) >= 64:  # about 1 MB at most
            pages.clear()
        pages[key] = page
    return page


def _render_index():
    filters, errors = board_queries.read_filters(request.args)
    data = board_queries.list_posts(box(), actor(), filters)
    return render_template(
        "board/index.html",
        data=data,
        filters=filters,
        errors=errors,
        categories=centre.categories(box()),
        places=centre.places(box()),
        freshness=peers.freshness(box()),
    ), 400 if errors else 200


@bp.get("/thanks")
def thanks():
    return render_template("board/thanks.html", thanks=board_queries.list_thanks(box(), actor()))


def render_post(post_id: str, errors=None, form=None, problem=None, status=200):
    """Render a post's page, optionally with form errors or a problem banner."""
    data = board_queries.get_post(box(), actor(), post_id)
    return render_template(
        "board/post.html", post=data, errors=errors or {}, form=form or {}, problem=problem
    ), status


@bp.get("/posts/<post_id>")
def post(post_id):
    return render_post(post_id)


def act(post_id: str, action, done: str, anchor: str = ""):
    """Run a post action; on success redirect to the post, else show why on its page."""
    try:
        action()
    except InvalidInput as exc:
        return render_post(post_id, errors=exc.fields, form=request.form, status=400)
    except ConductNotAccepted:
        raise  # web/governance.py sends the member to the code of conduct and back
    except (Conflict, NotAllowed) as exc:
        return render_post(post_id, problem=message_of(exc), status=exc.status)
    flash(done)
    return redirect(url_for("board.post", post_id=post_id) + anchor)


@bp.post("/posts/<post_id>/comment")
def comment(post_id):
    return act(
        post_id,
        lambda: board.add_comment(box(), actor(), post_id, request.form.get("text", "")),
        _("Your comment is posted."),
        "#comments",
    )


@bp.post("/posts/<post_id>/help")
def help(post_id):
    mode = request.form.get("mode", "")
    done = (
        _("Thank you! The poster can see you are on it.")
        if mode == "on_it"
        else _("Thank you! The poster can see you can help.")
    )
    return act(post_id, lambda: board.offer_help(box(), actor(), post_id, mode), done)


@bp.post("/posts/<post_id>/withdraw")
def withdraw(post_id):
    return act(
        post_id,
        lambda: board.withdraw_help(box(), actor(), post_id),
        _("You are no longer listed as helping."),
    )


@bp.post("/posts/<post_id>/resolve")
def resolve(post_id):
    return act(
        post_id,
        lambda: board.resolve(box(), actor(), post_id, request.form.get("note", "")),
        _("Marked as resolved. Don't forget to thank your helpers!"),
    )


@bp.post("/posts/<post_id>/reopen")
def reopen(post_id):
    return act(post_id, lambda: board.reopen(box(), actor(), post_id), _("The post is open again."))


@bp.post("/posts/<post_id>/thank")
def thank(post_id):
    return act(
        post_id,
        lambda: board.thank(
            box(),
            actor(),
            post_id,
            request.form.get("helper", ""),
            request.form.get("message", ""),
        ),
        _("Your thanks are on the post and on the thanks list."),
        "#thanks",
    )


@bp.post("/posts/<post_id>/hide")
def hide(post_id):
    hidden = request.form.get("hidden") != "0"
    return act(
        post_id,
        lambda: moderation.set_post_hidden(
            box(),
            actor(),
            post_id,
            hidden,
            request.form.get("reason", ""),
            request.form.get("rule") or None,
        ),
        _("The post is hidden from everyone but staff.")
        if hidden
        else _("The post is visible again."),
    )


@bp.post("/comments/<comment_id>/hide")
def hide_comment(comment_id):
    hidden = request.form.get("hidden") != "0"
    post_id = moderation.post_of_comment(comment_id)
    try:
        moderation.set_comment_hidden(
            box(),
            actor(),
            comment_id,
            hidden,
            request.form.get("reason", ""),
            request.form.get("rule") or None,
        )
    except InvalidInput as exc:
        # Every comment has its own reason box: show the problem at this comment's.
        return render_post(
            post_id,
            errors={"comment_reason": next(iter(exc.fields.values()))},
            form={"comment": comment_id, "comment_reason": request.form.get("reason", "")},
            status=400,
        )
    except (Conflict, NotAllowed) as exc:
        return render_post(post_id, problem=message_of(exc), status=exc.status)
    flash(_("The comment is hidden.") if hidden else _("The comment is visible again."))
    return redirect(url_for("board.post", post_id=post_id) + "#comments")
