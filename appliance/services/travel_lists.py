"""The centre's travel lists: access needs riders state, checks drivers need, providers.

Each list is the built-in defaults below merged with the centre's own `*.set` records
(only its own origin's count; a record re-setting a default slug takes its values), so
a new box has a useful list before anyone edits it. Other centres' lists arrive with
their centre records: a ride from another centre is read against that centre's list.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.errors import N_, InvalidInput, NotFound
from appliance.kinds import CHECKS_MAX, LABEL_MAX, ORG_NAME_MAX, SLUG, VEHICLE_FEATURES
from appliance.models import AccessNeed, DriverCheck, Provider
from appliance.services.accounts import Actor
from appliance.services.centre import slugify
from appliance.services.members import require_staff

# (slug, label, vehicle feature it requires or None): the list of access needs.
DEFAULT_ACCESS_NEEDS = [
    ("wheelchair-stays", "Wheelchair user, stays in the chair", "wheelchair"),
    ("wheelchair-transfers", "Wheelchair user, can move to a seat", "folded_chair"),
    ("assistance-dog", "Assistance dog", "dogs"),
    ("hard-of-hearing", "Hard of hearing", None),
    ("visually-impaired", "Visually impaired", None),
    ("door-to-door", "Needs help to the door", None),
    ("escort", "Escort travelling", None),
]
DEFAULT_DRIVER_CHECKS = [
    ("licence", "Driving licence seen"),
    ("insurance", "Insurance seen"),
    ("dbs", "Criminal records check (DBS)"),
]
# Paid services are local firms: no box can guess them, so the list starts empty.
DEFAULT_PROVIDERS: list[tuple[str, str]] = []

# What each vehicle feature means, for forms and lists.
FEATURE_LABELS = {
    "wheelchair": N_("Wheelchair accessible (the rider stays in the chair)"),
    "folded_chair": N_("Boot space for a folded wheelchair"),
    "dogs": N_("Dogs welcome"),
}
assert set(FEATURE_LABELS) == set(VEHICLE_FEATURES)


def _origin(box: Box, origin: str | None) -> str:
    return box.origin if origin is None else origin


def _merged(defaults: list[dict], rows: list[dict], include_inactive: bool) -> list[dict]:
    """Return the defaults (in their order) overlaid by rows, then the rows' own additions."""
    by_slug = {row["slug"]: row for row in rows}
    merged = [by_slug.pop(d["slug"], d) for d in defaults]
    merged += sorted(by_slug.values(), key=lambda row: row["label"].casefold())
    return [row for row in merged if include_inactive or row["active"]]


def access_needs(box: Box, origin: str | None = None, include_inactive: bool = False) -> list[dict]:
    """Return a centre's access needs [{slug, label, requires, active}] (None: this box's)."""
    rows = AccessNeed.select().where(AccessNeed.origin == _origin(box, origin))
    return _merged(
        [
            {"slug": s, "label": label, "requires": requires, "active": True}
            for s, label, requires in DEFAULT_ACCESS_NEEDS
        ],
        [
            {"slug": r.slug, "label": r.label, "requires": r.requires, "active": r.active}
            for r in rows
        ],
        include_inactive,
    )


def need_map(box: Box, origin: str | None = None) -> dict[str, dict]:
    """Return slug -> access need of a centre's list, retired ones included."""
    return {n["slug"]: n for n in access_needs(box, origin, include_inactive=True)}


def need_label(box: Box, origin: str | None, slug: str) -> str:
    """Return what a centre calls one of its access needs (the slug itself if unknown)."""
    need = need_map(box, origin).get(slug)
    return need["label"] if need else slug


def driver_checks(box: Box, include_inactive: bool = False) -> list[dict]:
    """Return the checks this centre needs before vouching for a driver [{slug, label, active}]."""
    rows = DriverCheck.select().where(DriverCheck.origin == box.origin)
    return _merged(
        [{"slug": s, "label": label, "active": True} for s, label in DEFAULT_DRIVER_CHECKS],
        [{"slug": r.slug, "label": r.label, "active": r.active} for r in rows],
        include_inactive,
    )


def providers(box: Box, include_inactive: bool = False) -> list[dict]:
    """Return the paid services this centre may book [{slug, name, label, active}]."""
    rows = Provider.select().where(Provider.origin == box.origin)
    found = _merged(
        [{"slug": s, "label": name, "active": True} for s, name in DEFAULT_PROVIDERS],
        [{"slug": r.slug, "label": r.name, "active": r.active} for r in rows],
        include_inactive,
    )
    return [{**p, "name": p["label"]} for p in found]


# --- staff edits -----------------------------------------------------------------------


def truthy(value, default: bool = True) -> bool:
    """Read a form's yes/no ("1", "on", "true") or a bool; missing means the default."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "on", "true", "yes")


def _entry(box: Box, actor: Actor | None, data: dict, listing: list[dict], words: dict) -> dict:
    """Check a new or changed list entry; return {slug, label, active, (current)}.

    `data` holds "slug" (empty for a new entry), "label" and "active"; a field left out of
    a change keeps its current value. `words` holds the list's messages.
    """
    require_staff(actor)
    slug = (data.get("slug") or "").strip()
    current = next((row for row in listing if row["slug"] == slug), None) if slug else None
    if slug and current is None:
        raise NotFound(words["unknown"])
    label = data.get("label")
    label = current["label"] if label is None and current else " ".join((label or "").split())
    field = words["field"]
    if not label or len(label) > words["max"]:
        raise InvalidInput({field: words["empty"]})
    if current is None:
        slug = slugify(label)
        if not SLUG.match(slug):
            raise InvalidInput({field: N_("Please use some letters or numbers in the name.")})
    for row in listing:
        same_slug = row["slug"] == slug and current is None
        same_label = row["slug"] != slug and row["label"].casefold() == label.casefold()
        if same_slug or same_label:
            raise InvalidInput({field: words["taken"] if row["active"] else words["retired"]})
    active = truthy(data.get("active"), current["active"] if current else True)
    return {"slug": slug, "label": label, "active": active, "current": current}


def _centre_id(box: Box) -> str:
    if box.centre is None:
        raise NotFound(N_("This box has no centre yet; run kith init."))
    return box.centre.id


_NEED_WORDS = {
    "field": "label",
    "max": LABEL_MAX,
    "unknown": N_("There is no such access need."),
    "empty": N_("Please name the access need (60 characters at most)."),
    "taken": N_("The list already has an access need of that name."),
    "retired": N_("A retired access need has that name: bring it back instead."),
}
_CHECK_WORDS = {
    "field": "label",
    "max": LABEL_MAX,
    "unknown": N_("There is no such check."),
    "empty": N_("Please name the check (60 characters at most)."),
    "taken": N_("The list already has a check of that name."),
    "retired": N_("A retired check has that name: bring it back instead."),
}
_PROVIDER_WORDS = {
    "field": "name",
    "max": ORG_NAME_MAX,
    "unknown": N_("There is no such provider."),
    "empty": N_("Please give the provider's name (100 characters at most)."),
    "taken": N_("The list already has a provider of that name."),
    "retired": N_("A retired provider has that name: bring it back instead."),
}


def set_access_need(box: Box, actor: Actor | None, data: dict) -> str:
    """Add, rename, retire or bring back an access need (staff); return its slug.

    data: slug (empty to add), label, requires ("" or a vehicle feature), active.
    """
    entry = _entry(box, actor, data, access_needs(box, include_inactive=True), _NEED_WORDS)
    current = entry["current"]
    requires = data.get("requires")
    if requires is None and current is not None:
        requires = current["requires"]
    requires = (requires or "").strip() or None
    if requires is not None and requires not in VEHICLE_FEATURES:
        raise InvalidInput({"requires": N_("Please choose what the vehicle needs, or nothing.")})
    body = {
        "slug": entry["slug"],
        "label": entry["label"],
        "requires": requires,
        "active": entry["active"],
    }
    box.log.append("access_need.set", body, subject=_centre_id(box), author=actor.id)
    return entry["slug"]


def set_driver_check(box: Box, actor: Actor | None, data: dict) -> str:
    """Add, rename, retire or bring back a check drivers need (staff); return its slug.

    data: slug (empty to add), label, active.
    """
    listing = driver_checks(box, include_inactive=True)
    entry = _entry(box, actor, data, listing, _CHECK_WORDS)
    was_active = entry["current"] is not None and entry["current"]["active"]
    active_now = sum(1 for row in listing if row["active"])
    if entry["active"] and not was_active and active_now >= CHECKS_MAX:
        raise InvalidInput(
            {"label": N_("A centre can ask for 12 checks at most: retire one first.")}
        )
    if not entry["active"] and was_active and active_now <= 1:
        raise InvalidInput(
            {"label": N_("Drivers need at least one check: add another before retiring this.")}
        )
    body = {"slug": entry["slug"], "label": entry["label"], "active": entry["active"]}
    box.log.append("driver_check.set", body, subject=_centre_id(box), author=actor.id)
    return entry["slug"]


def set_provider(box: Box, actor: Actor | None, data: dict) -> str:
    """Add, rename, retire or bring back a paid transport provider (staff); return its slug.

    data: slug (empty to add), name (or label), active.
    """
    data = {**data, "label": data.get("name", data.get("label"))}
    entry = _entry(box, actor, data, providers(box, include_inactive=True), _PROVIDER_WORDS)
    body = {"slug": entry["slug"], "name": entry["label"], "active": entry["active"]}
    box.log.append("provider.set", body, subject=_centre_id(box), author=actor.id)
    return entry["slug"]
