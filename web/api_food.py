"""The food bank JSON API, /api/v1/food/: the same services and checks as the food pages.

Reading: organisations, the catalogue, open needs and supplies, shifts, the balance, the
trends (small counts suppressed by the service, as on the page) and the appeal. Acting:
organisers post needs and supplies and plan shifts, members pledge, claim, sign up;
staff add organisations and catalogue items (a personal token is refused there by
members.require_staff). Documented in web/openapi/food.yaml.

Bodies are JSON objects; unknown fields are ignored, a field of the wrong type is a 400
naming it. The services get the same text a form would send, so they check everything.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext

from appliance.errors import N_, InvalidInput, NotFound, ServiceError
from appliance.services import (
    catalogue,
    food,
    food_appeal,
    food_balance,
    food_queries,
    food_trends,
    orgs,
    shifts,
)
from web.context import actor, box
from web.food_insight import words

bp = Blueprint("api_food", __name__, url_prefix="/api/v1")

# Keys of the services' answers that hold an English source label (N_), said in the
# request's language here, as the templates do with _().
LABEL_KEYS = ("label", "type_label", "unit_label", "category_label")
NO_ORG = N_("There is no such organisation.")
NOT_TEXT = N_("Please send this as text.")
NOT_NUMBER = N_("Please give a whole number, like 12.")


class NotJson(ServiceError):
    """A body that is not JSON (the API takes nothing else)."""

    status = 415


# --- reading requests -----------------------------------------------------------------------


def _body() -> dict:
    """Return the request's JSON object; refuse another media type (415) or another
    shape (400), saying what to send."""
    if not request.is_json:
        raise NotJson(N_("Please send JSON, with Content-Type: application/json (see /api)."))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput({}, N_('Please send the fields as one JSON object: {"name": value}.'))
    return data


def _fields(data: dict, text=(), numbers=(), flags=()) -> dict:
    """Return the named fields as the text a form would send; refuse wrong types by name.

    Text fields take strings, number fields whole numbers (or their digits as text),
    flags true or false; a missing field or null is empty.
    """
    out, errors = {}, {}
    for name in (*text, *numbers, *flags):
        value = data.get(name)
        if value is None:
            out[name] = False if name in flags else ""
        elif name in flags:
            if isinstance(value, bool):
                out[name] = value
            else:
                errors[name] = N_("Please send true or false.")
        elif isinstance(value, str):
            out[name] = value
        elif name in numbers and isinstance(value, int) and not isinstance(value, bool):
            out[name] = str(value)
        else:
            errors[name] = NOT_NUMBER if name in numbers else NOT_TEXT
    if errors:
        raise InvalidInput(errors)
    return out


def _lines(data: dict) -> list[tuple[str, str]]:
    """Return a need's or supply's `lines` [{item, qty}] as (item id, quantity text) pairs."""
    lines = data.get("lines")
    if lines is None:
        return []
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise InvalidInput({"lines": N_("Please send the items as a list of {item, qty}.")})
    pairs = []
    for line in lines:
        try:
            got = _fields(line, text=("item",), numbers=("qty",))
        except InvalidInput:
            raise InvalidInput(
                {"lines": N_("Each item needs an item id (text) and a whole-number qty.")}
            ) from None
        pairs.append((got["item"], got["qty"]))
    return pairs


def _arg(name: str) -> str | None:
    return (request.args.get(name) or "").strip() or None


def _org_filter() -> str | None:
    """Return the ?org= filter, refusing an organisation this box does not know (400)."""
    org_id = _arg("org")
    if org_id:
        try:
            orgs.get_org(org_id)
        except NotFound:
            raise InvalidInput({"org": NO_ORG}) from None
    return org_id


# --- writing answers ------------------------------------------------------------------------


def _translated(value):
    """Return a service's answer with its labels (and unknown organisations' names)
    in the request's language."""
    if isinstance(value, list):
        return [_translated(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _translated(v) for k, v in value.items()}
    for key in LABEL_KEYS:
        if isinstance(out.get(key), str) and out[key]:
            out[key] = gettext(out[key])
    if out.get("unknown") is True and isinstance(out.get("name"), str):
        out["name"] = gettext(out["name"])  # "an organisation", not on this box yet
    return out


def _answer(data, status: int = 200, location: str | None = None):
    response = jsonify(_translated(data))
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


def _item(item) -> dict:
    return {
        "id": item.id,
        "name": item.name,
        "category": item.category,
        "category_label": catalogue.CATEGORY_LABELS.get(item.category, item.category),
        "unit": item.unit,
        "unit_label": catalogue.UNIT_LABELS.get(item.unit, item.unit),
        "own": item.origin == box().origin,
    }


# --- organisations and the catalogue ----------------------------------------------------------


@bp.get("/food/orgs")
def list_orgs():
    data = food_queries.hub(box(), actor())
    listed = [
        {
            **{k: v for k, v in group.items() if k not in ("needs", "supplies")},
            "open_needs": len(group["needs"]),
            "open_supplies": group["supplies"],
        }
        for group in data["orgs"]
    ]
    return _answer({"orgs": listed, "my_orgs": data["my_orgs"]})


@bp.get("/food/orgs/<org_id>")
def get_org(org_id):
    data = food_queries.org_page(box(), actor(), org_id)
    data["shifts"] = shifts.upcoming(box(), actor(), org=data["org"]["id"])
    return _answer(data)


@bp.post("/food/orgs")
def create_org():
    data = _fields(_body(), text=("name", "type", "place"))
    org_id = orgs.create_org(box(), actor(), data)
    return _answer({"id": org_id}, 201, url_for("api_food.get_org", org_id=org_id))


@bp.get("/food/items")
def list_items():
    return _answer({"items": [_item(i) for i in catalogue.list_items()]})


@bp.post("/food/items")
def add_item():
    data = _fields(_body(), text=("name", "category", "unit"))
    return _answer({"id": catalogue.add_item(box(), actor(), data)}, 201)


# --- needs and supplies ---------------------------------------------------------------------


@bp.get("/food/needs")
def list_needs():
    return _answer({"needs": food_queries.open_needs(box(), actor(), _org_filter())})


@bp.get("/food/supplies")
def list_supplies():
    return _answer({"supplies": food_queries.open_supplies(box(), actor(), _org_filter())})


POST_TEXT = ("org", "title", "details", "place")


@bp.post("/food/needs")
def create_need():
    body = _body()
    data = _fields(body, text=(*POST_TEXT, "needed_by"), flags=("task",))
    post_id = food.create_need(box(), actor(), data, _lines(body))
    return _answer({"id": post_id}, 201, url_for("api.post", post_id=post_id))


@bp.post("/food/supplies")
def create_supply():
    body = _body()
    data = _fields(body, text=(*POST_TEXT, "use_by"))
    post_id = food.create_supply(box(), actor(), data, _lines(body))
    return _answer({"id": post_id}, 201, url_for("api.post", post_id=post_id))


@bp.post("/food/posts/<post_id>/pledges")
def pledge(post_id):
    data = _fields(_body(), text=("item", "bring_on"), numbers=("qty",))
    pledge_id = food.pledge(
        box(), actor(), post_id, data["item"], data["qty"], data["bring_on"] or None
    )
    return _answer({"id": pledge_id, "post_id": post_id}, 201)


@bp.post("/food/pledges/<pledge_id>/withdraw")
def withdraw_pledge(pledge_id):
    post_id = food.withdraw_pledge(box(), actor(), pledge_id)
    return _answer({"id": pledge_id, "post_id": post_id})


@bp.post("/food/posts/<post_id>/claims")
def claim(post_id):
    data = _fields(_body(), text=("org", "item"), numbers=("qty",))
    claim_id = food.claim(box(), actor(), post_id, data["org"], data["item"], data["qty"])
    return _answer({"id": claim_id, "post_id": post_id}, 201)


@bp.post("/food/claims/<claim_id>/withdraw")
def withdraw_claim(claim_id):
    post_id = food.withdraw_claim(box(), actor(), claim_id)
    return _answer({"id": claim_id, "post_id": post_id})


# --- shifts ---------------------------------------------------------------------------------


@bp.get("/food/shifts")
def list_shifts():
    org_id = _org_filter()
    days = _arg("days")
    if days is None:
        days = shifts.UPCOMING_DAYS
    elif days.isascii() and days.isdigit() and len(days) <= 4:
        days = int(days)
    else:
        raise InvalidInput({"days": N_("Please choose from 1 to 366 days.")})
    me = actor()
    return _answer(
        {
            "shifts": shifts.upcoming(box(), me, org=org_id, days=days),
            "mine": shifts.my_shifts(box(), me) if me else None,
        }
    )


def _shift(shift_id: str, status: int = 200, location: str | None = None):
    return _answer(shifts.shift_detail(box(), actor(), shift_id), status, location)


@bp.get("/food/shifts/<shift_id>")
def get_shift(shift_id):
    return _shift(shift_id)


@bp.post("/food/shifts")
def create_shift():
    text = ("org", "title", "date", "start", "end", "place", "bring")
    data = _fields(_body(), text=text, numbers=("people",))
    shift_id = shifts.create_shift(box(), actor(), data)
    return _shift(shift_id, 201, url_for("api_food.get_shift", shift_id=shift_id))


@bp.post("/food/shifts/<shift_id>/join")
def join_shift(shift_id):
    shifts.join(box(), actor(), shift_id)
    return _shift(shift_id)


@bp.post("/food/shifts/<shift_id>/leave")
def leave_shift(shift_id):
    shifts.leave(box(), actor(), shift_id)
    return _shift(shift_id)


@bp.post("/food/shifts/<shift_id>/cancel")
def cancel_shift(shift_id):
    data = _fields(_body(), text=("reason",))
    shifts.cancel_shift(box(), actor(), shift_id, data["reason"])
    return _shift(shift_id)


# --- the whole area -------------------------------------------------------------------------


@bp.get("/food/balance")
def balance():
    return _answer(food_balance.balance(box(), actor(), _arg("org"), words=words()))


@bp.get("/food/trends")
def trends():
    return _answer(food_trends.trends(box(), _arg("category")))


@bp.get("/food/appeal")
def appeal():
    return _answer(food_appeal.appeal(box(), words=words()))
