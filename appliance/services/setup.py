"""Making a box: the centre, its first admin, categories, places, conduct and poster.

`kith init` and the first-boot setup page both create a box through create_box, so a
box made from a phone is the same as one made at a terminal. The setup page checks all
its answers first (check_answers) and only then writes anything (set_up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from appliance.box import RESTORED_FILE, Box, BoxError, is_box
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput
from appliance.files import fsync_dir, write_atomic
from appliance.kinds import LABEL_MAX, PLACE_MAX, SLUG
from appliance.services import accounts, centre, conduct

CONDUCT_FILE = "conduct.md"
POSTER_FILE = "poster.json"
# Present from just before a setup writes anything until it has written everything.
UNFINISHED_FILE = "setup-unfinished"
# What a setup may have written; an unfinished setup removes exactly these, nothing else.
BOX_FILES = ("box.key", "web-secret", "kith.db", "kith.db-wal", "kith.db-shm")

CATEGORIES_MOST = 30
PLACES_MOST = 50
CONDUCT_MAX = 20_000
WIFI_NAME_MAX_BYTES = 32  # 802.11 limits a network name to 32 bytes
WIFI_PASSWORD_MIN, WIFI_PASSWORD_MAX = 8, 63  # a WPA passphrase

DEFAULT_PLACES = ["Main hall", "Reception", "Car park"]

DEFAULT_CONDUCT = """\
# How we use this board

This board belongs to everyone who uses the centre. To keep it friendly and useful:

- Be kind and polite. Disagree with ideas, never attack people.
- Keep it local: needs, offers and jobs for our community.
- No adverts or selling for profit.
- Keep other people's details private. Share only your own.
- Hand things over in a public place or at the centre.
- Never ask anyone for money in advance.

Staff may hide posts or comments that break these rules, and will say why.
If something worries you, talk to the staff at the centre.
"""


@dataclass(frozen=True)
class Plan:
    """Setup answers, checked and cleaned, ready to become a box."""

    centre: str
    admin_name: str
    password: str
    categories: tuple[tuple[str, str], ...]  # (slug, label)
    places: tuple[str, ...]
    conduct: str
    wifi_name: str = ""
    wifi_password: str = ""


def default_answers() -> dict[str, str]:
    """Return the setup form's starting values: categories, places and conduct to edit."""
    return {
        "categories": "\n".join(label for _, label in centre.DEFAULT_CATEGORIES),
        "places": "\n".join(DEFAULT_PLACES),
        "conduct": DEFAULT_CONDUCT,
    }


def _lines(text: str) -> list[str]:
    # One item a line; a pasted list's bullets and extra spaces are not part of a name.
    items = []
    for line in (text or "").splitlines():
        line = " ".join(line.split()).lstrip("-*• ").strip()
        if line:
            items.append(line)
    return items


def _categories(text: str, errors: dict) -> tuple[tuple[str, str], ...]:
    # A default category keeps its slug under its usual label, so it stays the same
    # category as on other boxes (and the one create_centre already wrote).
    default_slugs = {label.casefold(): slug for slug, label in centre.DEFAULT_CATEGORIES}
    chosen: dict[str, str] = {}
    for label in _lines(text):
        if len(label) > LABEL_MAX:
            errors["categories"] = N_("Please keep each category name to 60 characters.")
            return ()
        slug = default_slugs.get(label.casefold()) or centre.slugify(label)
        if not SLUG.match(slug):
            errors["categories"] = N_("Each category name needs some letters or numbers.")
            return ()
        chosen.setdefault(slug, label)
    if not chosen:
        errors["categories"] = N_("Please keep at least one category: every post goes in one.")
    elif len(chosen) > CATEGORIES_MOST:
        errors["categories"] = N_("Please list 30 categories at most.")
    return tuple(chosen.items())


def _places(text: str, errors: dict) -> tuple[str, ...]:
    chosen: dict[str, str] = {}
    for name in _lines(text):
        if len(name) > PLACE_MAX:
            errors["places"] = N_("Please keep each place name to 80 characters.")
            return ()
        chosen.setdefault(name.casefold(), name)
    if len(chosen) > PLACES_MOST:
        errors["places"] = N_("Please list 50 places at most.")
    return tuple(chosen.values())


def _wifi(name: str, password: str, errors: dict) -> tuple[str, str]:
    name = (name or "").strip()
    password = password or ""
    if len(name.encode("utf-8")) > WIFI_NAME_MAX_BYTES:
        errors["wifi_name"] = N_("A wifi name is 32 letters at most. Please check it.")
    if password and not name:
        errors["wifi_name"] = N_("Please give the wifi name too, or leave both empty.")
    # A WPA passphrase, or the 64 hex digits of a raw key.
    fits = WIFI_PASSWORD_MIN <= len(password) <= WIFI_PASSWORD_MAX or (
        len(password) == 64 and all(c in "0123456789abcdefABCDEF" for c in password)
    )
    if password and not fits:
        errors["wifi_password"] = N_("A wifi password has 8 to 63 characters. Please check it.")
    return name, password


def check_answers(
    *,
    centre_name: str,
    admin_name: str,
    password: str,
    password_again: str,
    categories: str,
    places: str,
    conduct: str,
    wifi_name: str = "",
    wifi_password: str = "",
) -> Plan:
    """Return the cleaned Plan or raise InvalidInput naming every field that is wrong.

    Field names: centre, name, password, password_again, categories, places, conduct,
    wifi_name, wifi_password. Needs no database.
    """
    errors: dict[str, str] = {}
    try:
        centre_name = centre.check_centre_name(centre_name)
    except InvalidInput as exc:
        errors.update(exc.fields)
    try:
        admin_name, password, _ = accounts.check_new_account(admin_name, password)
    except InvalidInput as exc:
        errors.update(exc.fields)
    if (password or "") != (password_again or ""):
        errors["password_again"] = N_(
            "The two passwords are different. Please type the same password in both boxes."
        )
    chosen_categories = _categories(categories, errors)
    chosen_places = _places(places, errors)
    conduct = "\n".join(line.rstrip() for line in (conduct or "").splitlines()).strip()
    if not conduct:
        errors["conduct"] = N_("Please keep a code of conduct. You can start from ours.")
    elif len(conduct) > CONDUCT_MAX:
        errors["conduct"] = N_("Please keep the code of conduct under 20,000 characters.")
    wifi_name, wifi_password = _wifi(wifi_name, wifi_password, errors)
    if errors:
        raise InvalidInput(errors)
    return Plan(
        centre=centre_name,
        admin_name=admin_name,
        password=password,
        categories=chosen_categories,
        places=chosen_places,
        conduct=conduct + "\n",
        wifi_name=wifi_name,
        wifi_password=wifi_password,
    )


def create_box(
    data_dir: Path, centre_name: str, admin_name: str, password: str, now_ms=None
) -> tuple[Box, str]:
    """Create a box with its centre and first admin (verified); return (box, admin id).

    Checks every input before writing anything. `now_ms` replaces the box's clock (the
    demo stamps a fortnight of history).
    """
    centre_name = centre.check_centre_name(centre_name)
    admin_name, password, _ = accounts.check_new_account(admin_name, password)
    box = Box.create(data_dir)
    if now_ms is not None:
        box.log.now_ms = now_ms
    centre.create_centre(box, centre_name)
    admin = accounts.sign_up(box, admin_name, password)
    box.log.append("role.granted", {"role": "admin", "expires": None}, subject=admin)
    box.log.append("member.verified", {}, subject=admin)
    return box, admin


def set_up(data_dir: Path, plan: Plan) -> tuple[Box, str]:
    """Create the box a setup Plan describes; return (box, admin id).

    All or nothing: a failure removes what was written, and a power cut part-way leaves
    a marker that makes the next `kith serve` remove it (discard_unfinished) and offer
    the setup page again. Raises Conflict if the directory already holds a box.
    """
    data_dir = Path(data_dir)
    if is_box(data_dir):
        raise Conflict(N_("This box is already set up."))
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BoxError(f"cannot create the data directory {data_dir}: {exc.strerror}") from None
    write_atomic(data_dir / UNFINISHED_FILE, b"", 0o600)
    try:
        box, admin_id = create_box(data_dir, plan.centre, plan.admin_name, plan.password)
    except BoxError:
        # Someone else's box appeared in between (Box.create refused it): not ours to remove.
        (data_dir / UNFINISHED_FILE).unlink(missing_ok=True)
        raise
    except BaseException:
        discard_unfinished(data_dir)
        raise
    try:
        _fill(box, admin_id, plan)
    except BaseException:
        discard_unfinished(data_dir)
        raise
    (data_dir / UNFINISHED_FILE).unlink()
    fsync_dir(data_dir)
    return box, admin_id


def _fill(box: Box, admin_id: str, plan: Plan) -> None:
    admin = accounts.actor_for(box, admin_id)
    wanted = dict(plan.categories)
    # create_centre wrote the default categories: retire the ones left out (staff can
    # bring them back on the centre page) and add or relabel the rest.
    for slug, label in centre.DEFAULT_CATEGORIES:
        if slug not in wanted:
            centre.set_category(box, admin, label, active=False, slug=slug)
    for slug, label in plan.categories:
        if (slug, label) not in centre.DEFAULT_CATEGORIES:
            centre.set_category(box, admin, label, slug=slug)
    for place in plan.places:
        centre.set_place(box, admin, place)
    write_atomic(box.data_dir / CONDUCT_FILE, plan.conduct.encode("utf-8"), 0o644)
    # The code the admin wrote is version 1 of the signed code members accept, and the
    # admin who wrote it has accepted it.
    conduct.accept_conduct(box, admin, conduct.publish_conduct(box, admin, plan.conduct))
    if plan.wifi_name:
        poster = {"wifi": {"name": plan.wifi_name, "password": plan.wifi_password}}
        write_atomic(box.data_dir / POSTER_FILE, json.dumps(poster).encode("utf-8"), 0o600)


def discard_unfinished(data_dir: Path) -> bool:
    """Remove what an unfinished setup wrote; return True if there was one.

    Safe because an unfinished box was never served nor synced: its key signed nothing
    that left the box. Never while a restore is under way or not yet synced (the
    restored marker): the files then are the restored box's, whatever the marker says.
    """
    data_dir = Path(data_dir)
    marker = data_dir / UNFINISHED_FILE
    if not marker.exists() or (data_dir / RESTORED_FILE).exists():
        return False
    if not database.is_closed():
        database.close()
    for name in (*BOX_FILES, CONDUCT_FILE, POSTER_FILE):
        (data_dir / name).unlink(missing_ok=True)
    marker.unlink()
    fsync_dir(data_dir)
    return True


def read_conduct(data_dir: Path) -> str | None:
    """Return the code of conduct text setup stored, or None."""
    path = Path(data_dir) / CONDUCT_FILE
    return path.read_text(encoding="utf-8") if path.exists() else None


def read_poster(data_dir: Path) -> dict | None:
    """Return the wifi details for the poster ({"name", "password"}), or None."""
    path = Path(data_dir) / POSTER_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("wifi")
