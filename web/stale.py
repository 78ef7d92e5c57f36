"""The "still needed?" answers and reviving posts that went quiet (appliance/services/stale.py).

The question itself shows on the post's page (templates/board/_stale_prompt.html) and,
for the poster, on top of the board (`stale_questions()` in every template).
"""

from __future__ import annotations

from flask import Blueprint, request
from flask_babel import gettext as _

from appliance.services import stale
from web.board import act
from web.context import actor, box

bp = Blueprint("stale", __name__)


@bp.app_context_processor
def _questions():
    # A function, not a list: only the pages that show the questions pay for the query.
    return {"stale_questions": lambda: stale.my_questions(box(), actor())}


@bp.post("/posts/<post_id>/still-needed")
def still_needed(post_id):
    answer = request.form.get("answer", "")
    return act(
        post_id,
        lambda: stale.answer(box(), actor(), post_id, stale.parse_answer(answer)),
        _("Thank you: the post is marked resolved, as it is no longer needed.")
        if answer == "no"
        else _("Thank you: the post stays on the board."),
    )


@bp.post("/posts/<post_id>/revive")
def revive(post_id):
    return act(
        post_id,
        lambda: stale.revive(box(), actor(), post_id),
        _("The post is back on the board."),
    )
