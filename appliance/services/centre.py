"""The centre a box serves: its name, categories and named places."""

from __future__ import annotations

import re
import unicodedata

from appliance.box import Box
from appliance.errors import N_, InvalidInput, NotFound
from appliance.kinds import CENTRE_NAME_MAX, LABEL_MAX, PLACE_MAX, SLUG
from appliance.models import Category, Place
from appliance.services.accounts import Actor
from appliance.services.members import require_staff

DEFAULT_CATEGORIES = [
    ("food", "Food"),
    ("travel", "Travel and lifts"),
    ("local-fix", "Local fixes"),
    ("household", "Household items"),
    ("volunteering", "Volunteering"),
    ("other", "Something else"),
]


def check_centre_name(name: str) -> str:
    """Return the cleaned centre name or raise InvalidInput; needs no database."""
    name = " ".join((name or "").split())
    if not name or len(name) > CENTRE_NAME_MAX:
        raise InvalidInput(
            {"centre": N_("Please give the centre a name (100 characters at most).")}
        )
    return name


def create_centre(box: Box, name: str) -> str:
    """Write the box's first record (the centre) and its starting categories."""
    name = check_centre_name(name)
    rec = box.log.append("centre.created", {"name": name, "timezone": box.settings["timezone"]})
    for slug, label in DEFAULT_CATEGORIES:
        box.log.append(
            "category.set", {"slug": slug, "label": label, "active": True}, subject=rec.id
        )
    return rec.id


def categories(box: Box, include_inactive: bool = False) -> list[Category]:
    """Return this centre's categories in a stable order."""
    query = Category.select().where(Category.origin == box.origin)
    if not include_inactive:
        query = query.where(Category.active == True)  # noqa: E712
    return list(query.order_by(Category.label))


def category_labels(box: Box) -> dict[str, str]:
    """Return slug -> label over every centre known, this box's labels winning."""
    labels: dict[str, str] = {}
    for c in Category.select().order_by(Category.origin == box.origin):
        labels[c.slug] = c.label
    return labels


def places(box: Box) -> list[str]:
    """Return the centre's named places, for suggestions on the posting form."""
    query = Place.select().where((Place.origin == box.origin) & (Place.active == True))  # noqa: E712
    return [p.name for p in query.order_by(Place.name)]


def slugify(label: str) -> str:
    """Return a URL-safe slug for a category label."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40]


def set_category(
    box: Box, actor: Actor | None, label: str, active: bool = True, slug: str | None = None
) -> str:
    """Add, rename, retire or restore one of the centre's categories; return its slug."""
    require_staff(actor)
    label = " ".join((label or "").split())
    if not label or len(label) > LABEL_MAX:
        raise InvalidInput(
            {"label": N_("Please give the category a name (60 characters at most).")}
        )
    slug = slug or slugify(label)
    if not SLUG.match(slug):
        raise InvalidInput({"label": N_("Please use some letters or numbers in the name.")})
    box.log.append(
        "category.set",
        {"slug": slug, "label": label, "active": active},
        subject=_centre_id(box),
        author=actor.id,
    )
    return slug


def set_place(box: Box, actor: Actor | None, name: str, active: bool = True) -> None:
    """Add or retire one of the centre's named places."""
    require_staff(actor)
    name = " ".join((name or "").split())
    if not name or len(name) > PLACE_MAX:
        raise InvalidInput({"place": N_("Please give the place a name (80 characters at most).")})
    box.log.append(
        "place.set", {"name": name, "active": active}, subject=_centre_id(box), author=actor.id
    )


def _centre_id(box: Box) -> str:
    centre = box.centre
    if centre is None:
        raise NotFound(N_("This box has no centre yet; run kith init."))
    return centre.id
