"""The shared item catalogue: what food banks ask for and shops offer, in which unit.

Entries are records, so they sync; each box's staff add and change their own entries.
Categories and units are fixed vocabularies (appliance.kinds) so a need at one centre
and a surplus at another can be set against each other; items from two boxes with the
same name and unit match by `Item.match_key`.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, InvalidInput, NotAllowed, NotFound
from appliance.fold_food import item_match_key
from appliance.kinds import ITEM_CATEGORIES, ITEM_NAME_MAX, LINES_MAX, QTY_MAX, UNITS
from appliance.models import Item
from appliance.services.accounts import Actor
from appliance.services.members import require_staff
from appliance.text import clean_text, one_line

CATEGORY_LABELS = {
    "tins": N_("Tins and jars"),
    "dry": N_("Dry food (pasta, rice, cereal)"),
    "fresh": N_("Fresh food"),
    "frozen": N_("Frozen food"),
    "drinks": N_("Drinks"),
    "toiletries": N_("Toiletries"),
    "household": N_("Household"),
    "baby": N_("Baby"),
    "pet": N_("Pet food"),
    "other": N_("Other"),
}
UNIT_LABELS = {
    "items": N_("items"),
    "kg": N_("kg"),
    "packs": N_("packs"),
    "trays": N_("trays"),
    "boxes": N_("boxes"),
    "bags": N_("bags"),
    "litres": N_("litres"),
}
assert set(CATEGORY_LABELS) == set(ITEM_CATEGORIES) and set(UNIT_LABELS) == set(UNITS)

# A new box's catalogue: the things food banks ask for most.
STARTER_ITEMS = [
    ("Baked beans", "tins", "items"),
    ("Tinned tomatoes", "tins", "items"),
    ("Tinned fish", "tins", "items"),
    ("Soup", "tins", "items"),
    ("Pasta", "dry", "packs"),
    ("Rice", "dry", "kg"),
    ("Breakfast cereal", "dry", "boxes"),
    ("Tea bags", "drinks", "boxes"),
    ("UHT milk", "drinks", "litres"),
    ("Bread", "fresh", "items"),
    ("Fruit and vegetables", "fresh", "kg"),
    ("Toilet roll", "toiletries", "packs"),
    ("Toothpaste", "toiletries", "items"),
    ("Sanitary towels", "toiletries", "packs"),
    ("Washing-up liquid", "household", "items"),
    ("Nappies", "baby", "packs"),
    ("Baby formula", "baby", "items"),
    ("Cat food", "pet", "items"),
    ("Dog food", "pet", "items"),
]


def check_item(data: dict) -> dict:
    """Validate a catalogue entry's name, category and unit; return the cleaned fields."""
    errors: dict[str, str] = {}
    body = {
        "name": one_line(data.get("name")),
        "category": clean_text(data.get("category")),
        "unit": clean_text(data.get("unit")),
    }
    if not body["name"]:
        errors["name"] = N_("Please name the item.")
    elif len(body["name"]) > ITEM_NAME_MAX:
        errors["name"] = N_("Please keep the name under 60 characters.")
    if body["category"] not in ITEM_CATEGORIES:
        errors["category"] = N_("Please choose one of the categories.")
    if body["unit"] not in UNITS:
        errors["unit"] = N_("Please choose one of the units.")
    if errors:
        raise InvalidInput(errors)
    return body


def add_item(box: Box, actor: Actor | None, data: dict) -> str:
    """Add an entry to the catalogue (staff); return its id."""
    require_staff(actor)
    body = check_item(data)
    key = item_match_key(body["name"], body["unit"])
    if Item.select().where((Item.match_key == key) & Item.active).exists():
        raise InvalidInput({"name": N_("The catalogue already has that item in that unit.")})
    return box.log.append("item.created", body, author=actor.id).id


def add_starter_items(box: Box, actor: Actor | None) -> int:
    """Add the starter catalogue's entries the box lacks; return how many were added.

    All of them or none: a failure half way leaves the catalogue as it was.
    """
    require_staff(actor)
    added = 0
    with database.atomic():
        have = {i.match_key for i in Item.select(Item.match_key)}
        for name, category, unit in STARTER_ITEMS:
            if item_match_key(name, unit) not in have:
                body = {"name": name, "category": category, "unit": unit}
                box.log.append("item.created", body, author=actor.id)
                added += 1
    return added


def change_item(
    box: Box, actor: Actor | None, item_id: str, data: dict, active: bool = True
) -> None:
    """Change or retire one of this box's catalogue entries (staff)."""
    require_staff(actor)
    item = get_item(item_id)
    if item.origin != box.origin:
        raise NotAllowed(N_("Only the staff of the centre that added this item can change it."))
    body = check_item(data)
    key = item_match_key(body["name"], body["unit"])
    twins = Item.select().where((Item.match_key == key) & Item.active & (Item.id != item.id))
    if active and twins.exists():
        raise InvalidInput({"name": N_("The catalogue already has that item in that unit.")})
    box.log.append(
        "item.changed", {**body, "active": bool(active)}, subject=item.id, author=actor.id
    )


def get_item(item_id: str) -> Item:
    """Return a catalogue entry by id, or raise NotFound."""
    item = Item.get_or_none(Item.id == item_id)
    if item is None:
        raise NotFound(N_("There is no such item in the catalogue."))
    return item


def list_items(active_only: bool = True) -> list[Item]:
    """Return the catalogue by category, then name."""
    query = Item.select()
    if active_only:
        query = query.where(Item.active == True)  # noqa: E712 (peewee expression)
    order = {c: n for n, c in enumerate(ITEM_CATEGORIES)}
    return sorted(query, key=lambda i: (order.get(i.category, 99), i.name.casefold(), i.unit))


def parse_lines(pairs: list[tuple[str, str]]) -> list[dict]:
    """Turn (item id, quantity text) pairs from a form into record lines.

    Empty rows are skipped; raises InvalidInput with a `lines` message for an unknown or
    retired item, a repeated item, a quantity that is not a whole number in range, or
    no items at all.
    """
    lines: list[dict] = []
    seen: set[str] = set()
    for item_id, qty_text in pairs:
        item_id, qty_text = clean_text(item_id), clean_text(qty_text)
        if not item_id and not qty_text:
            continue
        item = Item.get_or_none(Item.id == item_id)
        if item is None or not item.active:
            raise InvalidInput({"lines": N_("Please choose items from the catalogue.")})
        if item.id in seen:
            raise InvalidInput(
                {"lines": N_("Each item once, please: add the quantities together.")}
            )
        seen.add(item.id)
        qty = parse_quantity(qty_text, "lines")
        lines.append({"item": item.id, "qty": qty})
    if not lines:
        raise InvalidInput({"lines": N_("Please add at least one item and how many.")})
    if len(lines) > LINES_MAX:
        raise InvalidInput({"lines": N_("Please list at most 30 items; post again for more.")})
    return lines


def parse_quantity(text, field: str = "qty") -> int:
    """Read a quantity a person typed: a whole number from 1 to QTY_MAX."""
    text = str(text if text is not None else "").strip()
    try:
        qty = int(text)
    except ValueError:
        raise InvalidInput({field: N_("Please give a whole number, like 12.")}) from None
    if qty < 1:
        raise InvalidInput({field: N_("The quantity must be at least 1.")})
    if qty > QTY_MAX:
        raise InvalidInput({field: N_("That is more than any one post can hold (100,000).")})
    return qty
