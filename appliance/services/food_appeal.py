"""A donation appeal: what this centre's food banks are short of, as text and a poster.

From the open needs of this box's own food banks (what is still missing, see
food_balance) and the categories whose demand is rising across the area (food_trends'
early warning, from every centre's needs the box holds), it makes a ready-to-share
text, a headline for the kiosk, and the data of a printable poster. Only this box's own
banks are listed: a poster in this hall asks for donations brought here.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.models import Org
from appliance.services import food_trends
from appliance.services.food_balance import PLAIN, Words, open_lines, quantity

ITEMS_MAX = 12  # on the poster and in the list: what fits on a page in large type
HEADLINE_ITEMS = 3  # the kiosk's one line


def _own_banks(box: Box) -> list[Org]:
    return list(
        Org.select()
        .where((Org.origin == box.origin) & (Org.type == "foodbank") & Org.active)
        .order_by(Org.name)
    )


def _open_needs(box: Box, now_ms: int | None) -> tuple[dict[str, Org], list]:
    banks = {o.id: o for o in _own_banks(box)}
    return banks, [line for line in open_lines(box, "need", now_ms) if line.org in banks]


def most_needed(box: Box, now_ms: int | None = None, words: Words = PLAIN) -> list[dict]:
    """Return the items this centre's own food banks still miss, the most missing first."""
    banks, lines = _open_needs(box, now_ms)
    return _short(banks, lines, words)


def _short(banks: dict[str, Org], lines: list, words: Words) -> list[dict]:
    items: dict[str, dict] = {}
    for line in lines:
        entry = items.setdefault(
            line.match_key,
            {
                "name": line.name,
                "unit": line.unit,
                "category": line.category,
                "missing": 0,
                "banks": [],
                "by": None,
            },
        )
        entry["missing"] += line.qty
        if banks[line.org].name not in entry["banks"]:
            entry["banks"].append(banks[line.org].name)
        if line.day and (entry["by"] is None or line.day < entry["by"]):
            entry["by"] = line.day
    short = sorted(items.values(), key=lambda e: (-e["missing"], e["name"].casefold()))
    for entry in short:
        entry["banks"].sort(key=str.casefold)
        entry["text"] = quantity(entry["missing"], entry["unit"], entry["name"], words)
    return short


def appeal(box: Box, now_ms: int | None = None, words: Words = PLAIN) -> dict:
    """Return what this centre's food banks are short of, with the appeal's text."""
    now = box.log.now_ms() if now_ms is None else now_ms
    banks, lines = _open_needs(box, now)
    short = _short(banks, lines, words)

    per_bank = []
    for bank in banks.values():
        mine = [line for line in lines if line.org == bank.id]
        if not mine:
            continue
        wanted: dict[str, dict] = {}
        for line in mine:
            entry = wanted.setdefault(line.match_key, {"line": line, "missing": 0})
            entry["missing"] += line.qty
        ordered = sorted(wanted.values(), key=lambda e: (-e["missing"], e["line"].name.casefold()))
        days = [line.day for line in mine if line.day]
        per_bank.append(
            {
                "id": bank.id,
                "name": bank.name,
                "place": bank.place,
                "by": min(days) if days else None,
                "items": [
                    quantity(e["missing"], e["line"].unit, e["line"].name, words) for e in ordered
                ],
            }
        )

    rising = [
        {"category": w["category"], "label": words.gettext(w["label"])}
        for w in food_trends.rising(box, now)
    ]
    return {
        "most_needed": short[:ITEMS_MAX],
        "more": max(0, len(short) - ITEMS_MAX),
        "banks": per_bank,
        "rising": rising,
        "headline": _headline(short, words),
        "text": _text(per_bank, rising, words),
    }


def _headline(short: list[dict], words: Words) -> str | None:
    if not short:
        return None
    return words.gettext(
        "Most needed: %(items)s", items=", ".join(e["text"] for e in short[:HEADLINE_ITEMS])
    )


def _text(banks: list[dict], rising: list[dict], words: Words) -> str:
    """Write the appeal as plain text to paste into a message or a newsletter."""
    paragraphs = []
    for bank in banks:
        needs = words.gettext(
            "%(bank)s needs: %(items)s.", bank=bank["name"], items=", ".join(bank["items"])
        )
        if bank["by"]:
            drop = words.gettext(
                "Drop off at %(place)s, by %(day)s.", place=bank["place"], day=words.day(bank["by"])
            )
        else:
            drop = words.gettext("Drop off at %(place)s.", place=bank["place"])
        paragraphs.append(f"{needs} {drop}")
    if rising:
        paragraphs.append(
            words.gettext(
                "In the coming weeks we expect to need more: %(categories)s.",
                categories=", ".join(r["label"] for r in rising),
            )
        )
    if not banks:
        paragraphs.append(
            words.gettext("Our food banks have what they asked for right now. Thank you!")
        )
    else:
        paragraphs.append(words.gettext("Thank you!"))
    return "\n\n".join(paragraphs)
