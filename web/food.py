"""Food bank pages: the hub, an organisation's page, posting needs and supplies, and
pledging to needs and claiming supplies from a post's page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.kinds import LINES_MAX
from appliance.services import food, food_queries
from web.board import act
from web.context import actor, box
from web.errors import message_of

bp = Blueprint("food", __name__)

ROWS = 6  # empty item rows a new form shows; "Add more rows" adds as many again


@bp.get("/food")
def hub():
    return render_template("food/hub.html", data=food_queries.hub(box(), actor()))


@bp.get("/food/orgs/<org_id>")
def org(org_id):
    return render_template("food/org.html", data=food_queries.org_page(box(), actor(), org_id))


def _row_count(values) -> int:
    """How many item rows to show: as asked (?rows=, or one more batch), and every filled one."""
    try:
        rows = int(values.get("rows") or ROWS)
    except ValueError:
        rows = ROWS
    if "more" in values:
        rows += ROWS
    filled = [n + 1 for n in range(LINES_MAX) if values.get(f"item-{n}") or values.get(f"qty-{n}")]
    return max(1, min(LINES_MAX, max([rows, *filled])))


def _lines() -> list[tuple[str, str]]:
    form = request.form
    return [(form.get(f"item-{n}", ""), form.get(f"qty-{n}", "")) for n in range(LINES_MAX)]


def _post_form(kind: str):
    """Show and take the form for a need (kind "need") or a supply ("supply")."""
    mine = food.my_orgs(actor())  # a visitor goes to log in; a non-organiser is told why
    errors: dict = {}
    problem, status = None, 200
    if request.method == "POST" and "more" not in request.form:
        create = food.create_need if kind == "need" else food.create_supply
        try:
            post_id = create(box(), actor(), request.form, _lines())
        except InvalidInput as exc:
            errors, status = exc.fields, exc.status
        except (Conflict, NotAllowed) as exc:
            problem, status = message_of(exc), exc.status
        else:
            if kind == "need":
                flash(_("Your need is on the board. Members can now pledge to bring items."))
            else:
                flash(_("Your supply is on the board. Organisers can now claim it."))
            return redirect(url_for("board.post", post_id=post_id))
    values = request.form if request.method == "POST" else request.args
    page = render_template(
        f"food/{kind}_form.html",
        form=values,
        errors=errors,
        problem=problem,
        orgs=mine,
        items=food_queries.item_choices(),
        rows=_row_count(values),
    )
    return page, status


@bp.route("/food/needs/new", methods=["GET", "POST"])
def new_need():
    return _post_form("need")


@bp.route("/food/supplies/new", methods=["GET", "POST"])
def new_supply():
    return _post_form("supply")


@bp.post("/food/posts/<post_id>/pledge")
def pledge(post_id):
    form = request.form
    return act(
        post_id,
        lambda: food.pledge(
            box(), actor(), post_id, form.get("item", ""), form.get("qty", ""), form.get("bring_on")
        ),
        _("Thank you! Your pledge is on the need."),
    )


def _withdraw(pledge_id: str, withdraw, done: str):
    """Withdraw one's own pledge or claim (the service checks whose it is)."""
    return act(food.post_of(pledge_id), lambda: withdraw(box(), actor(), pledge_id), done)


@bp.post("/food/pledges/<pledge_id>/withdraw")
def withdraw_pledge(pledge_id):
    return _withdraw(pledge_id, food.withdraw_pledge, _("Your pledge is withdrawn."))


@bp.post("/food/posts/<post_id>/claim")
def claim(post_id):
    form = request.form
    return act(
        post_id,
        lambda: food.claim(
            box(), actor(), post_id, form.get("org", ""), form.get("item", ""), form.get("qty", "")
        ),
        _("Claimed. Please arrange the collection in the comments."),
    )


@bp.post("/food/claims/<claim_id>/withdraw")
def withdraw_claim(claim_id):
    return _withdraw(claim_id, food.withdraw_claim, _("Your claim is withdrawn."))
