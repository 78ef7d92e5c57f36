"""Open Referral HSDS 3 (Human Services Data Specification): what the centre offers, as JSON.

Organisations are the centre itself and its own active food banks, shops, groups and
suppliers; services are the notice board, community travel (that it exists: never a
ride), each organisation's needs-and-supplies service and, while it has shifts to come,
its volunteering, whose HSDS schedules are those shifts in the centre's time zone.
Nothing personal goes out: no member, no volunteer, no contact, no coordinates.

Ids are UUIDs made from the record ids (uuid5 over a fixed namespace), so they stay the
same on every fetch and every box. Lists are paged as the HSDS API reference says:
total_items, total_pages, page_number, size, first_page, last_page, empty, contents.
Addresses come from the web layer through `link(name, **values)`, with these names:
"board", "rides", "org_page" (org_id) and "shift_page" (shift_id).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping

from appliance.box import Box
from appliance.dates import local_time
from appliance.errors import N_, InvalidInput, NotFound
from appliance.models import Org, Shift
from appliance.services.orgs import ORG_TYPE_LABELS
from appliance.text import plain

# Fixed for good: changing it would change every published id.
NAMESPACE = uuid.UUID("5b0e7d2a-8c1f-4f55-9a36-6e0c1d2b7f40")
PER_PAGE = 20
PER_PAGE_MAX = 100
_NUMBER = re.compile(r"\d{1,6}")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

Translate = Callable[..., str]
Link = Callable[..., str]

# An organisation's everyday service, by its type: (name, description).
ORG_SERVICES = {
    "foodbank": (
        N_("%(org)s: food bank"),
        N_(
            "Posts the food and help it needs on the notice board. Anyone signed in can "
            "pledge items; shops and other banks can offer their surplus."
        ),
    ),
    "shop": (
        N_("%(org)s: surplus food"),
        N_("Offers its surplus food on the notice board for food banks to claim."),
    ),
    "group": (
        N_("%(org)s: community group"),
        N_("Posts what it needs and what it can offer on the notice board."),
    ),
    "supplier": (
        N_("%(org)s: food supplies"),
        N_("Offers supplies on the notice board for food banks to claim."),
    ),
}


def hsds_id(kind: str, key: str) -> str:
    """Return the stable HSDS UUID of a kind of thing ("organization", ...) and its key."""
    return str(uuid.uuid5(NAMESPACE, f"kith/{kind}/{key}"))


def read_paging(args: Mapping[str, str]) -> tuple[int, int]:
    """Return (page, per_page) from query arguments; raise InvalidInput naming bad ones."""
    errors: dict[str, str] = {}
    values = {}
    for name, default, top in (("page", 1, None), ("per_page", PER_PAGE, PER_PAGE_MAX)):
        raw = (args.get(name) or "").strip()
        if not raw:
            values[name] = default
        elif not _NUMBER.fullmatch(raw) or int(raw) < 1 or (top and int(raw) > top):
            errors[name] = (
                N_("per_page must be a whole number from 1 to 100.")
                if top
                else N_("page must be a whole number from 1.")
            )
        else:
            values[name] = int(raw)
    if errors:
        raise InvalidInput(errors, N_("Some paging values were not understood."))
    return values["page"], values["per_page"]


def paged(items: list[dict], page: int, per_page: int) -> dict:
    """Return one page of items in the HSDS API's list shape."""
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    contents = items[(page - 1) * per_page : page * per_page]
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not contents,
        "contents": contents,
    }


def _hours(offset) -> int | float:
    hours = offset.total_seconds() / 3600
    return int(hours) if hours == int(hours) else hours


def _schedule(box: Box, service_id: str, shift: Shift, translate: Translate, link: Link) -> dict:
    """Return one shift as an HSDS schedule: a single session on a local date."""
    start, end = local_time(box, shift.start_ms), local_time(box, shift.end_ms)
    left = max(0, shift.people - shift.coming)
    about = translate(
        N_("%(title)s. Places left: %(left)d of %(people)d."),
        title=shift.title,
        left=left,
        people=shift.people,
    )
    if shift.bring:
        about += " " + translate(N_("What to bring: %(bring)s"), bring=shift.bring)
    return {
        "id": hsds_id("schedule", shift.id),
        "service_id": service_id,
        "valid_from": start.date().isoformat(),
        "valid_to": end.date().isoformat(),
        "dtstart": start.date().isoformat(),
        "timezone": _hours(start.utcoffset()),
        "freq": "WEEKLY",
        "count": 1,  # one session: a shift, not a standing opening time
        "byday": DAYS[start.weekday()],
        # HH:MM with the UTC offset of that day, as HSDS asks ("09:30+01:00").
        "opens_at": start.isoformat(timespec="minutes")[11:],
        "closes_at": end.isoformat(timespec="minutes")[11:],
        "description": about,
        "attending_type": translate(N_("In person at %(place)s"), place=shift.place),
        "schedule_link": link("shift_page", shift_id=shift.id),
    }


def _org_ref(org: dict) -> dict:
    """Return the direct fields of an organisation (no services), to sit inside a service."""
    return {k: org[k] for k in ("id", "name", "description", "website")}


def _service(org: dict, key: str, name: str, about: str, url: str, schedules=()) -> dict:
    service_id = hsds_id("service", key)
    return {
        "id": service_id,
        "organization_id": org["id"],
        "name": name,
        "description": about,
        "url": url,
        "status": "active",
        "schedules": list(schedules),
        "organization": _org_ref(org),
    }


def _location(key: str, org_id: str, name: str, about: str) -> dict:
    return {
        "id": hsds_id("location", key),
        "location_type": "physical",
        "organization_id": org_id,
        "name": name,
        "description": about,
    }


def _centre(box: Box, translate: Translate, link: Link) -> dict:
    centre = box.centre
    org = {
        "id": hsds_id("organization", centre.id),
        "name": centre.name,
        "description": translate(
            N_(
                "%(centre)s is a community centre. Its notice board, run on a small box in "
                "the centre, is where people post needs, offers and jobs that somebody "
                "should do, and help each other out."
            ),
            centre=centre.name,
        ),
        "website": link("board"),
    }
    org["locations"] = [
        _location(centre.id, org["id"], centre.name, translate(N_("The community centre.")))
    ]
    org["services"] = [
        _service(
            org,
            f"{centre.id}/board",
            translate(N_("Community notice board")),
            translate(
                N_(
                    "Needs, offers and “somebody should” jobs from people nearby. Anyone "
                    "can read the board; members post, comment and offer help."
                )
            ),
            link("board"),
        ),
        _service(
            org,
            f"{centre.id}/travel",
            translate(N_("Community travel")),
            translate(
                N_(
                    "Volunteer drivers give lifts to appointments and activities, with "
                    "room for access needs. Members ask for a ride on the board, or staff "
                    "ask at the desk for them."
                )
            ),
            link("rides"),
        ),
    ]
    return org


def _org(box: Box, org: Org, shifts: list[Shift], translate: Translate, link: Link) -> dict:
    page = link("org_page", org_id=org.id)
    out = {
        "id": hsds_id("organization", org.id),
        "name": org.name,
        "description": translate(
            N_("%(kind)s at %(place)s."),
            kind=translate(ORG_TYPE_LABELS[org.type]),
            place=org.place,
        ),
        "website": page,
    }
    out["locations"] = [_location(org.id, out["id"], org.place, org.place)]
    name, about = ORG_SERVICES[org.type]
    out["services"] = [
        _service(out, f"{org.id}/posts", translate(name, org=org.name), translate(about), page)
    ]
    if shifts:
        key = f"{org.id}/volunteering"
        volunteering = _service(
            out,
            key,
            translate(N_("%(org)s: volunteering"), org=org.name),
            translate(
                N_(
                    "Volunteer shifts and working parties. Sign up on the board; each "
                    "schedule is one shift."
                )
            ),
            link("org_page", org_id=org.id),
            [_schedule(box, hsds_id("service", key), s, translate, link) for s in shifts],
        )
        out["services"].append(volunteering)
    return out


def _no_link(name: str, **values) -> str:
    """Stand in for the web layer's addresses outside it: a URN, still a valid URI."""
    return "urn:kith:" + ":".join([name, *map(str, values.values())])


def organizations(box: Box, translate: Translate = plain, link: Link | None = None) -> list[dict]:
    """Return every organisation this centre publishes, the centre first, then by name."""
    link = link or _no_link
    if box.centre is None:
        return []
    own = list(
        Org.select()
        .where((Org.origin == box.origin) & (Org.active == True))  # noqa: E712
        .order_by(Org.name, Org.id)
    )
    now = box.log.now_ms()
    coming: dict[str, list[Shift]] = {}
    if own:
        shifts = (
            Shift.select()
            .where(
                Shift.org.in_([o.id for o in own])
                & (Shift.end_ms > now)
                & (Shift.cancelled == False)  # noqa: E712
            )
            .order_by(Shift.start_ms, Shift.id)
        )
        for s in shifts:
            coming.setdefault(s.org, []).append(s)
    return [_centre(box, translate, link)] + [
        _org(box, o, coming.get(o.id, []), translate, link) for o in own
    ]


def services(box: Box, translate: Translate = plain, link: Link | None = None) -> list[dict]:
    """Return every service of those organisations, in the same order."""
    return [s for org in organizations(box, translate, link) for s in org["services"]]


def _find(items: list[dict], hsds: str, message: str) -> dict:
    for item in items:
        if item["id"] == hsds:
            return item
    raise NotFound(message)


def organization(
    box: Box, hsds: str, translate: Translate = plain, link: Link | None = None
) -> dict:
    """Return one organisation by its HSDS id, or raise NotFound."""
    return _find(
        organizations(box, translate, link), hsds, N_("There is no such organisation here.")
    )


def service(box: Box, hsds: str, translate: Translate = plain, link: Link | None = None) -> dict:
    """Return one service by its HSDS id, or raise NotFound."""
    return _find(services(box, translate, link), hsds, N_("There is no such service here."))
