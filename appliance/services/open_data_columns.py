"""The open data's column dictionary: each public dataset, its columns (name, type,
meaning) and the filters that apply to it.

It is the contract of the exports (appliance/services/open_data.py builds the rows): the
open data page shows it, /open/data/columns.json serves it, a test checks it against the
headers, and a column is only ever added, never renamed, retyped or dropped.
"""

from __future__ import annotations

from appliance.errors import N_

# The type of a column's values (in CSV an empty cell is "none"; in JSON, null).
TYPES = {
    "text": N_("text"),
    "integer": N_("whole number"),
    "boolean": N_("true or false"),
    "date": N_("date, YYYY-MM-DD"),
    "datetime": N_("date and time with the time zone (ISO 8601)"),
}

DATASETS = {
    "posts": {
        "title": N_("Posts"),
        "about": N_(
            "Every post on the board of this centre and of the centres it syncs with: "
            "needs, offers and “somebody should” jobs, with when they were posted, first "
            "helped and resolved. No names of who posted, commented or helped, and no "
            "post details: only the title."
        ),
        "filters": ("place", "type", "category", "from", "to", "centre"),
    },
    "should": {
        "title": N_("“Somebody should” jobs"),
        "about": N_(
            "Only the “somebody should” posts, with the same columns as the posts: what "
            "keeps going wrong where, and how fast it gets fixed."
        ),
        "filters": ("place", "category", "from", "to", "centre"),
    },
    "thanks": {
        "title": N_("Thanks"),
        "about": N_(
            "The thank-you notes people left on posts, as the thanks list shows them, "
            "without the names of who thanked whom."
        ),
        "filters": ("place", "type", "category", "from", "to", "centre"),
    },
    "moderation": {
        "title": N_("Moderation log"),
        "about": N_(
            "What staff or the box hid or showed again, when, under which rule and why, "
            "and how appeals were answered: the public moderation log. It never says "
            "who, and never what the hidden post or comment said."
        ),
        "filters": ("category", "from", "to", "centre"),
    },
    "categories": {
        "title": N_("Categories"),
        "about": N_("The categories each centre sorts its posts into."),
        "filters": ("centre",),
    },
    "places": {
        "title": N_("Places"),
        "about": N_("The places each centre suggests on its posting form."),
        "filters": ("centre",),
    },
}

_POST = [
    ("id", "text", N_("Id of the post (the same on every box).")),
    ("centre", "text", N_("The centre whose board it was posted on.")),
    ("type", "text", N_("need, offer or should (a “somebody should” job).")),
    ("category", "text", N_("The category's short name (use it in the category filter).")),
    ("category_label", "text", N_("The category as the board shows it.")),
    ("place", "text", N_("Where it is: a street, a building or an area.")),
    ("title", "text", N_("Title of the post.")),
    ("status", "text", N_("open, on_it (someone is on it) or resolved.")),
    ("created", "datetime", N_("When it was posted.")),
    ("needed_by", "date", N_("Date it is needed by, or empty.")),
    ("resolved", "datetime", N_("When it was resolved, or empty while it is not.")),
    (
        "first_help",
        "datetime",
        N_("When someone first said “I can help” or “I'm on it”, or empty if nobody has."),
    ),
    ("comment_count", "integer", N_("How many comments it has.")),
    ("helper_count", "integer", N_("How many people are helping now.")),
    ("gone_quiet", "boolean", N_("true if it went quiet (nobody said it is still needed).")),
    ("org", "text", N_("The organisation that posted it (food banks and shops), or empty.")),
]

COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "posts": _POST,
    "should": _POST,
    "thanks": [
        ("id", "text", N_("Id of the thanks.")),
        ("post", "text", N_("Id of the post it was left on.")),
        ("centre", "text", N_("The centre whose board that post is on.")),
        ("created", "datetime", N_("When the thanks were given.")),
        ("message", "text", N_("The thank-you note, as the thanks list shows it.")),
    ],
    "moderation": [
        ("at", "datetime", N_("When it happened.")),
        (
            "entry",
            "text",
            N_("decision (something was hidden or shown again) or appeal (an appeal answered)."),
        ),
        ("target", "text", N_("post or comment.")),
        ("category", "text", N_("For a post: its category's short name; empty for a comment.")),
        ("category_label", "text", N_("For a post: its category as the board shows it.")),
        (
            "action",
            "text",
            N_(
                "hidden or restored (shown again); for an appeal, upheld (it stays hidden) "
                "or overturned (it is shown again)."
            ),
        ),
        (
            "rule",
            "text",
            N_(
                "For a hide, the rule it broke: spam, offensive, personal_info, off_topic, "
                "other, conduct or flags (hidden by the box after members' reports)."
            ),
        ),
        ("by", "text", N_("staff, or box (hidden by itself after members' reports).")),
        ("centre", "text", N_("The centre whose staff (or box) did it.")),
        ("reason", "text", N_("The reason given, as the public moderation log shows it.")),
    ],
    "categories": [
        ("centre", "text", N_("The centre the category belongs to.")),
        ("slug", "text", N_("The category's short name, as in the posts' category column.")),
        ("label", "text", N_("The category as the board shows it.")),
        ("active", "boolean", N_("false if the centre no longer offers it for new posts.")),
    ],
    "places": [
        ("centre", "text", N_("The centre that suggests the place.")),
        ("name", "text", N_("The place's name.")),
        ("active", "boolean", N_("false if the centre no longer suggests it.")),
    ],
}
assert set(COLUMNS) == set(DATASETS)
assert all(t in TYPES for columns in COLUMNS.values() for _, t, _ in columns)

FILTERS = [
    ("place", N_("Only posts at this place (the same words, capitals or not).")),
    ("type", N_("Only posts of this type: need, offer or should.")),
    ("category", N_("Only posts in this category (its short name).")),
    ("from", N_("From this date (YYYY-MM-DD): posted, thanked or moderated on or after it.")),
    ("to", N_("Up to this date (YYYY-MM-DD), that day included.")),
    (
        "centre",
        N_("here for this centre only; all (or empty) for every centre this box syncs with."),
    ),
]
