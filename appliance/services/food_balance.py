"""The balance of food across the area: what is needed, what is on offer, who could help.

Reads the projections only, so it sees every food bank the box knows: its own and
those of the centres it syncs with. What counts:

- a need line counts what is still missing (asked for less what is pledged) while its
  need is open: not hidden, not resolved (a covered need resolves by itself), its
  needed-by date (if any) not yet passed, and its organisation not retired;
- a supply line counts what is left (offered less what is claimed) while its supply is
  not hidden, not all claimed or closed, its use-by date (if any) not yet passed, and
  its organisation not retired.

Quantities are added up per unit: 10 kg and 10 packs are not 20 of anything. Items
from two boxes are the same when their `match_key` (folded name and unit) is.

A match is an open supply line and an open need line of the same item at two
different organisations: the supplier could give min(left, missing) of it. The matches
shown are a plan (see find_matches): no supply is promised twice over.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.box import Box
from appliance.dates import local_day
from appliance.errors import N_, InvalidInput
from appliance.kinds import UNITS
from appliance.models import Centre, Item, Org, Post, PostLine
from appliance.services.accounts import Actor
from appliance.services.catalogue import CATEGORY_LABELS
from appliance.services.orgs import organised_by, retired_org_ids
from appliance.text import plain

MATCHES_MAX = 50  # a page of actions a person can take in; the rest are counted


# --- words: quantities and sentences, translated by whoever shows them ------------------


def _plain_ngettext(singular: str, plural: str, num: int, **params) -> str:
    return (singular if num == 1 else plural) % {"num": num, **params}


def _short_day(iso: str) -> str:
    day = datetime.date.fromisoformat(iso)
    return f"{day.day} {day:%b}"


@dataclass(frozen=True)
class Words:
    """How sentences are worded: English source strings unless the web passes gettext.

    `day` says an ISO date in full ("Fri 9 Jan" on the web), `short_day` briefly
    ("9 Jan", under a chart's bars).
    """

    gettext: Callable[..., str] = plain
    ngettext: Callable[..., str] = _plain_ngettext
    day: Callable[[str], str] = field(default=lambda iso: iso)
    short_day: Callable[[str], str] = field(default=_short_day)


PLAIN = Words()

# "40 × Baked beans", "12 kg of Rice", "1 pack of Pasta": one phrase per unit.
QUANTITY_PHRASES = {
    "items": (N_("%(num)d × %(item)s"), N_("%(num)d × %(item)s")),
    "kg": (N_("%(num)d kg of %(item)s"), N_("%(num)d kg of %(item)s")),
    "packs": (N_("%(num)d pack of %(item)s"), N_("%(num)d packs of %(item)s")),
    "trays": (N_("%(num)d tray of %(item)s"), N_("%(num)d trays of %(item)s")),
    "boxes": (N_("%(num)d box of %(item)s"), N_("%(num)d boxes of %(item)s")),
    "bags": (N_("%(num)d bag of %(item)s"), N_("%(num)d bags of %(item)s")),
    "litres": (N_("%(num)d litre of %(item)s"), N_("%(num)d litres of %(item)s")),
}
assert set(QUANTITY_PHRASES) == set(UNITS)


def quantity(num: int, unit: str, item: str, words: Words = PLAIN) -> str:
    """Say how much of an item: "40 × Baked beans", "12 kg of Rice"."""
    singular, plural = QUANTITY_PHRASES.get(unit, QUANTITY_PHRASES["items"])
    return words.ngettext(singular, plural, num, item=item)


# --- who is who ---------------------------------------------------------------------------


def org_directory(box: Box) -> dict[str, dict]:
    """Return every organisation the box knows, by id, with the centre it belongs to.

    `centre` is None for this box's own organisations, else the other centre's name
    (None too while that centre's own record has not arrived: `own` tells them apart).
    """
    centres = {c.origin: c.name for c in Centre.select()}
    return {
        o.id: {
            "id": o.id,
            "name": o.name,
            "type": o.type,
            "place": o.place,
            "active": o.active,
            "own": o.origin == box.origin,
            "centre": None if o.origin == box.origin else centres.get(o.origin),
            "unknown": False,
        }
        for o in Org.select()
    }


def unknown_org(org_id: str) -> dict:
    """Return an organisation whose record has not reached this box, under a plain name.

    A post can arrive before its organisation's record (a bundle on a USB stick may
    carry only part of the picture): it still counts, as "an organisation".
    """
    return {
        "id": org_id,
        "name": N_("an organisation"),
        "type": "",
        "place": "",
        "active": True,
        "own": False,
        "centre": None,
        "unknown": True,
    }


def org_label(org: dict, words: Words = PLAIN) -> str:
    """Name an organisation, with its centre when it is another centre's."""
    if org["unknown"]:
        return words.gettext(org["name"])
    if org["own"]:
        return org["name"]
    centre = org["centre"] or words.gettext("another centre")
    return words.gettext("%(org)s (%(centre)s)", org=org["name"], centre=centre)


# --- open lines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenLine:
    """One item of an open need (what is missing) or open supply (what is left)."""

    post: str
    title: str
    org: str
    item: str
    name: str
    category: str
    unit: str
    match_key: str
    qty: int  # still missing (need) or still left (supply)
    day: str | None  # needed-by date of a need, use-by date of a supply


def open_lines(box: Box, post_type: str, now_ms: int | None = None) -> list[OpenLine]:
    """Return the open lines of food needs (post_type "need") or supplies ("offer")."""
    day = local_day(box, now_ms).isoformat()
    date_column = Post.needed_by if post_type == "need" else Post.use_by
    rows = (
        PostLine.select(
            PostLine.post,
            PostLine.qty,
            PostLine.covered,
            Post.title,
            Post.org,
            date_column.alias("day"),
            Item.id.alias("item_id"),
            Item.name,
            Item.category,
            Item.unit,
            Item.match_key,
        )
        .join(Post, on=(PostLine.post == Post.id))
        .join(Item, on=(PostLine.item == Item.id))
        .where(
            (Post.type == post_type)
            & Post.org.is_null(False)
            & Post.org.not_in(retired_org_ids())
            & (Post.hidden == False)  # noqa: E712 (peewee expression)
            & (Post.status != "resolved")
            & (date_column.is_null() | (date_column >= day))
            & (PostLine.covered < PostLine.qty)
        )
        .order_by(Post.created_ms, Post.id, Item.name)
        .dicts()
    )
    return [
        OpenLine(
            post=r["post"],
            title=r["title"],
            org=r["org"],
            item=r["item_id"],
            name=r["name"],
            category=r["category"],
            unit=r["unit"],
            match_key=r["match_key"],
            qty=r["qty"] - r["covered"],
            day=r["day"],
        )
        for r in rows
    ]


def by_unit(lines: list[OpenLine]) -> list[dict]:
    """Add up quantities per unit, in the catalogue's unit order."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.unit] = totals.get(line.unit, 0) + line.qty
    return [{"unit": u, "qty": totals[u]} for u in UNITS if u in totals]


def _set_against(needs: list[OpenLine], offers: list[OpenLine]) -> list[dict]:
    """Per unit: needed, on offer and the balance (positive: surplus, negative: short)."""
    needed = {t["unit"]: t["qty"] for t in by_unit(needs)}
    offered = {t["unit"]: t["qty"] for t in by_unit(offers)}
    return [
        {
            "unit": u,
            "needed": needed.get(u, 0),
            "on_offer": offered.get(u, 0),
            "balance": offered.get(u, 0) - needed.get(u, 0),
        }
        for u in UNITS
        if u in needed or u in offered
    ]


def _items(needs: list[OpenLine], offers: list[OpenLine]) -> list[dict]:
    """Per item (by match key): needed, on offer and the balance, most short first."""
    keys: dict[str, dict] = {}
    for line, side in [(n, "needed") for n in needs] + [(o, "on_offer") for o in offers]:
        entry = keys.setdefault(
            line.match_key,
            {"name": line.name, "unit": line.unit, "needed": 0, "on_offer": 0},
        )
        entry[side] += line.qty
    items = [{**e, "balance": e["on_offer"] - e["needed"]} for e in keys.values()]
    return sorted(items, key=lambda e: (e["balance"], e["name"].casefold(), e["unit"]))


# --- the balance --------------------------------------------------------------------------


def _side(line: OpenLine, org: dict) -> dict:
    return {"post": line.post, "title": line.title, "org": org, "qty": line.qty, "day": line.day}


def _order(m: dict) -> tuple:
    # Biggest first; then the need wanted soonest, the supply to use soonest.
    far = "9999-12-31"
    return (
        -m["amount"],
        m["need"]["day"] or far,
        m["supply"]["day"] or far,
        m["need"]["post"],
        m["supply"]["post"],
    )


def find_matches(
    needs: list[OpenLine], offers: list[OpenLine], orgs: dict[str, dict]
) -> list[dict]:
    """Pair open supply lines with open need lines of the same item, biggest first.

    Every pair of a supply and a need of the same item at two organisations is a
    candidate worth min(left, missing). Candidates are taken biggest first, each for
    what its supply still has and its need still lacks after the pairs before it, so
    no supply is promised twice over and no need is covered twice: the list is a plan
    a person can act on line by line, not every conceivable pairing.
    """
    wanting: dict[str, list[OpenLine]] = {}
    for need in needs:
        wanting.setdefault(need.match_key, []).append(need)
    candidates = []
    for offer in offers:
        for need in wanting.get(offer.match_key, ()):
            if need.org == offer.org:
                continue  # an organisation does not need matching with itself
            candidates.append(
                {
                    "amount": min(offer.qty, need.qty),
                    "item": {"name": need.name, "unit": need.unit, "category": need.category},
                    "supply": _side(offer, orgs.get(offer.org) or unknown_org(offer.org)),
                    "need": _side(need, orgs.get(need.org) or unknown_org(need.org)),
                    "keys": ((offer.post, offer.item), (need.post, need.item)),
                }
            )
    candidates.sort(key=_order)
    left = {m["keys"][0]: m["supply"]["qty"] for m in candidates}
    missing = {m["keys"][1]: m["need"]["qty"] for m in candidates}
    matches = []
    for m in candidates:
        supply_key, need_key = m.pop("keys")
        amount = min(left[supply_key], missing[need_key])
        if amount <= 0:
            continue
        left[supply_key] -= amount
        missing[need_key] -= amount
        matches.append({**m, "amount": amount})
    matches.sort(key=_order)
    return matches


def describe_match(match: dict, words: Words = PLAIN) -> str:
    """Say a match as a sentence a person can act on."""
    return words.gettext(
        "%(supplier)s has %(offered)s on offer; %(taker)s needs %(missing)s.",
        supplier=org_label(match["supply"]["org"], words),
        offered=quantity(
            match["supply"]["qty"], match["item"]["unit"], match["item"]["name"], words
        ),
        taker=org_label(match["need"]["org"], words),
        missing=match["need"]["qty"],
    )


def balance(
    box: Box,
    viewer: Actor | None = None,
    org: str | None = None,
    now_ms: int | None = None,
    words: Words = PLAIN,
) -> dict:
    """Return need and offer per category and organisation, and the matches to act on.

    `org` narrows the matches to those involving that organisation; `viewer`'s own
    organisations (those they organise) are marked `mine`.
    """
    orgs = org_directory(box)
    if org and org not in orgs:
        raise InvalidInput({"org": N_("There is no such organisation.")})
    needs = open_lines(box, "need", now_ms)
    offers = open_lines(box, "offer", now_ms)
    mine = {o.id for o in organised_by(viewer)}

    categories = []
    for slug, label in CATEGORY_LABELS.items():
        cat_needs = [n for n in needs if n.category == slug]
        cat_offers = [o for o in offers if o.category == slug]
        rows = []
        for org_id in dict.fromkeys(line.org for line in cat_needs + cat_offers):
            rows.append(
                {
                    "org": orgs.get(org_id) or unknown_org(org_id),
                    "needed": by_unit([n for n in cat_needs if n.org == org_id]),
                    "on_offer": by_unit([o for o in cat_offers if o.org == org_id]),
                }
            )
        rows.sort(key=lambda r: (not r["org"]["own"], r["org"]["name"].casefold()))
        categories.append(
            {
                "category": slug,
                "label": label,
                "needed": by_unit(cat_needs),
                "on_offer": by_unit(cat_offers),
                "units": _set_against(cat_needs, cat_offers),
                "by_item": _items(cat_needs, cat_offers),
                "orgs": rows,
            }
        )

    matches = find_matches(needs, offers, orgs)
    if org:
        matches = [m for m in matches if org in (m["supply"]["org"]["id"], m["need"]["org"]["id"])]
    for m in matches:
        m["mine"] = bool(mine & {m["supply"]["org"]["id"], m["need"]["org"]["id"]})
        m["sentence"] = describe_match(m, words)
    known = sorted(
        (o for o in orgs.values() if o["active"]),
        key=lambda o: (not o["own"], o["name"].casefold()),
    )
    return {
        "categories": categories,
        "orgs": known,
        "org": orgs[org] if org else None,
        "matches": matches[:MATCHES_MAX],
        "matches_total": len(matches),
    }
