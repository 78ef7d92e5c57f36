"""Posting: a chat-like flow for phones (one question at a time) and a one-page form.

The chat flow is plain multi-step HTML: the answers so far travel in hidden fields, so
it needs no server state and works with JavaScript off. static/chat.js enhances it into
a chat view by submitting each step in the background. Both flows validate with the same
service function, step by step and again in full when the post is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from appliance.errors import InvalidInput
from appliance.services import board, centre
from appliance.services.accounts import require_member
from web.context import actor, box

bp = Blueprint("posting", __name__, url_prefix="/new")


@dataclass(frozen=True)
class Step:
    name: str
    fields: tuple[str, ...]
    question: object


STEPS = [
    Step("type", ("type",), _l("Hello! What would you like to post?")),
    Step("title", ("title",), _l("In a few words, what is it?")),
    Step("place", ("place",), _l("Where is it?")),
    Step("category", ("category",), _l("What kind of thing is it?")),
    Step("details", ("details", "needed_by"), _l("Anything else people should know?")),
    Step("review", (), _l("Here is your post. Shall I put it on the board?")),
]
STEP_NAMES = [s.name for s in STEPS]
TYPE_LABELS = {
    "need": _l("I need something"),
    "offer": _l("I can offer something"),
    "should": _l("Somebody should…"),
}
TYPE_HINTS = {
    "need": _l("Items, a lift, a hand with a job"),
    "offer": _l("Things to give away, time or skills"),
    "should": _l("A local problem anyone could tackle"),
}


def form_answers() -> dict:
    """Return the post's fields as sent in the request's form, trimmed."""
    return {f: request.form.get(f, "").strip() for f in board.POST_FIELDS}


def _uses_chat() -> bool:
    if request.args.get("flow") in ("chat", "form"):
        return request.args["flow"] == "chat"
    agent = request.headers.get("User-Agent", "")
    return "Mobi" in agent or "Android" in agent


def page_context(**extra) -> dict:
    """Return what the posting fields (templates/posting/fields.html) need, plus extra."""
    return {
        "categories": centre.categories(box()),
        "places": centre.places(box()),
        "type_labels": TYPE_LABELS,
        "type_hints": TYPE_HINTS,
        **extra,
    }


@bp.route("", methods=["GET", "POST"])
def chat():
    require_member(actor())
    if request.method == "GET":
        if not _uses_chat():
            return redirect(url_for("posting.form"))
        return render_template(
            "posting/chat.html", **page_context(step=STEPS[0], answers={}, errors={})
        )
    answers = form_answers()
    current = request.form.get("step", "type")
    index = STEP_NAMES.index(current) if current in STEP_NAMES else 0
    errors: dict = {}
    if "back" in request.form:
        index = max(0, index - 1)
    elif STEPS[index].name == "review":
        try:
            post_id = board.create_post(box(), actor(), answers)
        except InvalidInput as exc:
            # Send the person back to the first question with a problem.
            errors = exc.fields
            index = next(i for i, s in enumerate(STEPS) if set(s.fields) & set(errors))
        else:
            flash(_l("Your post is on the board. We'll show it to people who can help."))
            return redirect(url_for("board.post", post_id=post_id))
    else:
        try:
            board.check_post(box(), answers, only=STEPS[index].fields)
        except InvalidInput as exc:
            errors = exc.fields
        else:
            index += 1
    status = 400 if errors else 200
    return render_template(
        "posting/chat.html",
        **page_context(
            step=STEPS[index],
            answers=answers,
            errors=errors,
            history=[s for s in STEPS[:index] if s.fields],
        ),
    ), status


@bp.route("/form", methods=["GET", "POST"])
def form():
    require_member(actor())
    errors: dict = {}
    if request.method == "POST":
        try:
            post_id = board.create_post(box(), actor(), form_answers())
        except InvalidInput as exc:
            errors = exc.fields
        else:
            flash(_l("Your post is on the board. We'll show it to people who can help."))
            return redirect(url_for("board.post", post_id=post_id))
    return render_template(
        "posting/form.html", **page_context(form=request.form, errors=errors)
    ), 400 if errors else 200
