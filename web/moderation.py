"""Moderation pages: the "Report" form, an author's appeal, the public log, staff's queue
and each paired centre's moderation choice. Thin over appliance/services/moderation.py."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.services import moderation, moderation_log
from web.board import render_post
from web.context import actor, box
from web.errors import act_on_page, message_of

bp = Blueprint("moderation", __name__)

LOG_PAGE = 50


@bp.app_template_global()
def moderation_for(post_id: str) -> dict:
    """What the viewer of a post may flag there, and the author's own hidden things."""
    return moderation_log.post_moderation(box(), actor(), post_id)


@bp.app_template_global()
def flag_choices() -> list[tuple[str, str]]:
    """The reasons of the "Report" form: (value, English label to translate)."""
    return moderation_log.FLAG_CHOICES


@bp.app_template_global()
def staff_rules() -> list[tuple[str, str]]:
    """The rules staff may name when hiding: (value, English label to translate)."""
    return [(rule, moderation_log.RULE_LABELS[rule]) for rule in moderation.STAFF_RULES]


# --- members: report, appeal, the public log -----------------------------------------------


@bp.post("/posts/<post_id>/flag")
def flag(post_id):
    comment_id = request.form.get("comment") or None
    target = comment_id or post_id
    try:
        moderation.flag(
            box(),
            actor(),
            post_id,
            comment_id,
            request.form.get("flag_reason", ""),
            request.form.get("flag_note", ""),
        )
    except InvalidInput as exc:
        errors = {f"flag_{name}": message for name, message in exc.fields.items()}
        form = {
            "flag_target": target,
            "flag_reason": request.form.get("flag_reason", ""),
            "flag_note": request.form.get("flag_note", ""),
        }
        return render_post(post_id, errors=errors, form=form, status=400)
    except (Conflict, NotAllowed) as exc:
        return render_post(post_id, problem=message_of(exc), status=exc.status)
    if moderation_log.is_hidden(post_id, comment_id):
        flash(_("Thank you. Enough people reported it, so it is hidden until staff look at it."))
    else:
        flash(_("Thank you. Staff will look at it."))
    if moderation_log.is_hidden(post_id) and not (actor() and actor().is_staff):
        return redirect(url_for("board.index"))
    anchor = f"#c-{comment_id[:12]}" if comment_id else ""
    return redirect(url_for("board.post", post_id=post_id) + anchor)


def _appeal_page(post_id: str, errors=None, form=None, problem=None, status=200):
    view = moderation.author_view(box(), actor(), post_id)
    return render_template(
        "moderation/appeal.html",
        view=view,
        errors=errors or {},
        form=form or {},
        problem=problem,
    ), status


@bp.get("/posts/<post_id>/appeal")
def appeal_page(post_id):
    return _appeal_page(post_id)


@bp.post("/posts/<post_id>/appeal")
def appeal(post_id):
    comment_id = request.form.get("comment") or None
    text = request.form.get("appeal", "")
    try:
        moderation.appeal(box(), actor(), post_id, comment_id, text)
    except InvalidInput as exc:
        form = {"target": comment_id or post_id, "text": text}
        return _appeal_page(post_id, errors=exc.fields, form=form, status=400)
    except (Conflict, NotAllowed) as exc:
        return _appeal_page(post_id, problem=message_of(exc), status=exc.status)
    flash(_("Your appeal is sent. Staff will answer it once, here."))
    return redirect(url_for("moderation.appeal_page", post_id=post_id))


@bp.get("/moderation")
def log():
    before = request.args.get("before", "")
    before_ms = int(before) if before.isdigit() and len(before) < 16 else None
    rows = moderation_log.public_log(box(), limit=LOG_PAGE, before_ms=before_ms)
    older = rows[-1]["at_ms"] if len(rows) == LOG_PAGE else None
    return render_template("moderation/log.html", rows=rows, older=older, paged=before_ms)


# --- staff: the queue and the choice for each paired centre --------------------------------


def _queue_page(errors=None, problem=None, status=200):
    return render_template(
        "moderation/queue.html",
        queue=moderation.review_queue(box(), actor()),
        errors=errors or {},
        form=request.form,
        problem=problem,
    ), status


def _on_queue(action, done: str):
    return act_on_page(_queue_page, action, done, url_for("moderation.queue"))


@bp.get("/staff/moderation")
def queue():
    return _queue_page()


def _target_form() -> tuple[str | None, str]:
    return request.form.get("comment") or None, request.form.get("reason", "")


@bp.post("/staff/moderation/posts/<post_id>/hide")
def hide(post_id):
    comment_id, reason = _target_form()
    rule = request.form.get("rule") or None
    return _on_queue(
        lambda: moderation.set_hidden(box(), actor(), post_id, comment_id, True, reason, rule),
        _("Hidden. The author can see why and appeal once."),
    )


@bp.post("/staff/moderation/posts/<post_id>/restore")
def restore(post_id):
    comment_id, reason = _target_form()
    return _on_queue(
        lambda: moderation.set_hidden(box(), actor(), post_id, comment_id, False, reason),
        _("Shown again. Its flags are answered."),
    )


@bp.post("/staff/moderation/posts/<post_id>/clear")
def clear(post_id):
    comment_id, reason = _target_form()
    return _on_queue(
        lambda: moderation.clear_flags(box(), actor(), post_id, comment_id, reason),
        _("Flags cleared: nothing wrong."),
    )


@bp.post("/staff/moderation/appeals/<appeal_id>")
def decide(appeal_id):
    outcome = request.form.get("outcome", "")
    reason = request.form.get("reason", "")
    return _on_queue(
        lambda: moderation.decide_appeal(box(), actor(), appeal_id, outcome, reason),
        _("The appeal is answered. The author can see your answer."),
    )


@bp.post("/staff/moderation/peer-hides/<hide_id>")
def review(hide_id):
    decision = request.form.get("decision", "")
    return _on_queue(
        lambda: moderation.review_peer_hide(box(), actor(), hide_id, decision),
        _("Accepted: it counts here now.")
        if decision == "accept"
        else _("Dismissed: it does not count here."),
    )


def _peers_page(errors=None, problem=None, status=200):
    return render_template(
        "moderation/peers.html",
        peers=moderation_log.peer_choices(box(), actor()),
        errors=errors or {},
        form=request.form,
        problem=problem,
    ), status


@bp.route("/staff/moderation/peers", methods=["GET", "POST"])
def peers():
    if request.method == "GET":
        return _peers_page()
    origin, mode = request.form.get("origin", ""), request.form.get("mode", "")
    return act_on_page(
        _peers_page,
        lambda: moderation.set_peer_policy(box(), actor(), origin, mode),
        _("Saved. Posts that centre moderated are shown or hidden to match."),
        url_for("moderation.peers"),
    )
