"""Assisted posting: staff post for a walk-in visitor, from the kiosk or the desk.

The form is the posting form's own fields (templates/posting/fields.html) plus the
visitor's optional name and contact, which only this centre's staff ever see, and only
on the list of posts made for visitors: a post's page may be on the hall's screen.
After posting, staff go back where they came from: the kiosk (`?back=kiosk`), else that
list.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import InvalidInput
from appliance.services import assisted, members
from web import posting
from web.context import actor, box

bp = Blueprint("assisted", __name__, url_prefix="/staff/assisted")

# Where a staff member may be sent back to after posting: a name, never a URL from the
# request (that would let a link send staff anywhere).
BACK = {"kiosk": "kiosk.index"}


@bp.app_template_global()
def assisted_note(post_id: str) -> dict | None:
    """How a post was assisted, for the post page: which centre helped, never who."""
    return assisted.assisted_note(post_id)


@bp.get("")
def index():
    return render_template("staff/assisted.html", posts=assisted.recent(box(), actor()))


@bp.route("/new", methods=["GET", "POST"])
def new():
    members.require_staff(actor())
    errors: dict = {}
    source = request.form if request.method == "POST" else request.args
    back = source.get("back", "") if source.get("back") in BACK else ""
    if request.method == "POST":
        data = {
            **posting.form_answers(),
            **{f: request.form.get(f, "") for f in assisted.VISITOR_FIELDS},
        }
        try:
            post_id = assisted.create_assisted_post(box(), actor(), data)
        except InvalidInput as exc:
            errors = exc.fields
        else:
            flash(_("Posted for the visitor."))
            if back:
                return redirect(url_for(BACK[back]))
            return redirect(url_for("assisted.index", _anchor=f"post-{post_id}"))
    return render_template(
        "staff/assisted_new.html",
        **posting.page_context(form=request.form, errors=errors, back=back),
    ), 400 if errors else 200


@bp.post("/<post_id>/forget")
def forget(post_id):
    assisted.forget_visitor(box(), actor(), post_id)
    flash(_("The visitor's name and contact are deleted."))
    return redirect(url_for("assisted.index"))
