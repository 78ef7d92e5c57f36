"""The food exports' column dictionary: each dataset, its columns and what they mean,
and the filters. It is the exports' contract (appliance/services/food_export.py builds
the rows): the export page shows it, a test checks it against the headers, and a
column is only ever added, never renamed or dropped.
"""

from __future__ import annotations

from appliance.errors import N_

DATASETS = {
    "needs": {
        "title": N_("Needs"),
        "about": N_("One row for each item a food bank asks for, with what is still missing."),
    },
    "supplies": {
        "title": N_("Supplies"),
        "about": N_("One row for each item on offer, with how many are claimed and left."),
    },
    "pledges": {
        "title": N_("Pledges and claims"),
        "about": N_(
            "How much of which item was promised to a need or claimed from a supply, and "
            "how much of it counts. No names."
        ),
    },
    "shifts": {
        "title": N_("Shifts"),
        "about": N_("Volunteer shifts and working parties, with how many people are coming."),
    },
}
_ORG = [
    ("org_id", N_("Id of the organisation (use it in the organisation filter).")),
    ("org", N_("Name of the organisation.")),
    ("org_centre", N_("The centre whose box keeps the organisation.")),
]
_ITEM = [
    ("item", N_("Item name, from the shared catalogue.")),
    (
        "category",
        N_(
            "Item category: tins, dry, fresh, frozen, drinks, toiletries, household, baby, "
            "pet or other."
        ),
    ),
    ("unit", N_("Unit the quantities count in: items, kg, packs, trays, boxes, bags or litres.")),
]
_POST_END = [
    ("status", N_("open, on_it (someone is on it) or resolved (met, or covered in full).")),
    ("created", N_("When it was posted: date and time with the time zone (ISO 8601).")),
]
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "needs": [
        ("need", N_("Id of the need (the same on every box).")),
        ("title", N_("Title of the need.")),
        *_ORG,
        *_ITEM,
        ("qty", N_("How many were asked for.")),
        ("covered", N_("How many pledges cover so far.")),
        ("missing", N_("How many are still missing: qty minus covered.")),
        ("needed_by", N_("Date it is needed by (YYYY-MM-DD), or empty.")),
        *_POST_END,
    ],
    "supplies": [
        ("supply", N_("Id of the supply (the same on every box).")),
        ("title", N_("Title of the supply.")),
        *_ORG,
        ("place", N_("Where to collect it.")),
        *_ITEM,
        ("offered", N_("How many are on offer.")),
        ("claimed", N_("How many organisations have claimed so far.")),
        ("left", N_("How many are left: offered minus claimed.")),
        ("use_by", N_("Use-by date (YYYY-MM-DD), or empty.")),
        *_POST_END,
    ],
    "pledges": [
        ("id", N_("Id of the pledge or claim.")),
        ("post", N_("Id of the need (for a pledge) or the supply (for a claim).")),
        ("kind", N_("pledge (to bring items to a need) or claim (to take items from a supply).")),
        ("org_id", N_("Id of the organisation whose need or supply it is.")),
        ("org", N_("Name of that organisation.")),
        *_ITEM,
        ("qty", N_("How many were pledged or claimed.")),
        (
            "counted",
            N_(
                "How many of them count: pledges count in the order they were made, each "
                "up to what was still missing, so a later one may count less or nothing."
            ),
        ),
        ("bring_on", N_("Date the pledger means to bring them (YYYY-MM-DD), or empty.")),
        ("date", N_("Date the pledge or claim was made (YYYY-MM-DD).")),
        ("claim_org_id", N_("For a claim: id of the organisation claiming; empty for a pledge.")),
        ("claim_org", N_("For a claim: name of the organisation claiming; empty for a pledge.")),
    ],
    "shifts": [
        ("id", N_("Id of the shift.")),
        *_ORG,
        ("title", N_("Title of the shift.")),
        ("start", N_("When it starts: date and time with the time zone (ISO 8601).")),
        ("end", N_("When it ends: date and time with the time zone (ISO 8601).")),
        ("place", N_("Where it is.")),
        ("bring", N_("What to bring, or empty.")),
        ("people", N_("How many volunteers are wanted.")),
        ("coming", N_("How many volunteers are confirmed (at most people).")),
        ("waiting", N_("How many more signed up and wait for a place.")),
        ("cancelled", N_("true if the shift is cancelled, else false.")),
    ],
}
assert set(COLUMNS) == set(DATASETS)

FILTERS = [
    (
        "bank",
        N_(
            "Only this organisation (its id): its needs, supplies and shifts, and the "
            "pledges and claims on them or made for it."
        ),
    ),
    ("category", N_("Only items of this category (not for shifts, which have no items).")),
    (
        "from",
        N_(
            "From this date (YYYY-MM-DD): posted, pledged or claimed on or after it; "
            "shifts starting on or after it."
        ),
    ),
    ("to", N_("Up to this date (YYYY-MM-DD), that day included.")),
]
