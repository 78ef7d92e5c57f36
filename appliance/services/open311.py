"""The "somebody should" board as Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2).

A service is one of this centre's active categories; a service request is one of this
centre's own "should" posts that a visitor may see (not hidden; an erased member's
removed posts never reach the projection). Requests name nobody: no member names or
ids, no contact. The box keeps no map coordinates, so lat/long are never given and a
new request must say where in words (address_string) or pick one of the centre's
places (attribute[place]). A request is created through board.create_post, so the
code of conduct and every posting rule apply; personal fields of the spec (email,
names, phone, device_id) are ignored: the token already says who is posting.

Messages name the Open311 parameter they are about, since that is what a client sends.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping

from peewee import fn

from appliance.box import Box
from appliance.dates import DAY_MS, local_time, zone
from appliance.errors import N_, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.kinds import TITLE_MAX
from appliance.models import Comment, Helper, Post
from appliance.services import api_tokens, board
from appliance.services.accounts import Actor
from appliance.services.centre import categories, places
from appliance.services.conduct import ConductNotAccepted
from appliance.text import clean_text, one_line

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
WINDOW_DAYS = 90  # the spec's default span, and the longest one a query may ask for
LIMIT = 1000  # the spec's default "first 1000 requests"
IDS_MAX = 100  # service_request_ids one query may name
STATUSES = {"open": ("open", "on_it"), "closed": ("resolved",)}
# A W3C date or date-time (https://www.w3.org/TR/NOTE-datetime), with or without a zone.
_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$")
_ID = re.compile(r"^[0-9a-f]{64}$")


def services(box: Box) -> list[dict]:
    """Return this centre's active categories as Open311 services (code and name)."""
    return [{"service_code": c.slug, "service_name": c.label} for c in categories(box)]


def service_definition(box: Box, code: str) -> dict:
    """Return a service's code, name and the centre's active places; NotFound if unknown."""
    found = next((c for c in categories(box) if c.slug == code), None)
    if found is None:
        raise NotFound(N_("There is no service with the code %(code)s here."), code=code)
    return {"service_code": found.slug, "service_name": found.label, "places": places(box)}


def iso(box: Box, ms: int) -> str:
    """Return a moment as ISO 8601 with the centre's offset, e.g. 2027-03-17T10:30:00+00:00."""
    return local_time(box, ms).isoformat(timespec="seconds")


def _moment(box: Box, name: str, raw: str, errors: dict) -> int | None:
    if not raw:
        return None
    if not _W3C.match(raw):
        errors[name] = N_("Please give the date as ISO 8601, e.g. 2027-03-17T10:30:00Z.")
        return None
    try:
        when = datetime.datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = N_("That date does not exist.")
        return None
    if when.tzinfo is None:  # no zone given: the centre's clocks
        when = when.replace(tzinfo=zone(box))
    return int(when.timestamp() * 1000)


def _codes(box: Box, raw: str, errors: dict) -> list[str]:
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    # Retired categories still name the requests made under them.
    if set(codes) - {c.slug for c in categories(box, include_inactive=True)}:
        errors["service_code"] = N_("Unknown service_code: services.json lists the codes.")
    return codes


def read_query(box: Box, args: Mapping[str, str]) -> dict:
    """Check the query of GET requests; return it cleaned, or raise InvalidInput.

    Fields are named as Open311 names them; the spec's defaults apply: the last 90 days,
    at most 1000 requests, and service_request_id overrides every other filter.
    """
    get = lambda name: (args.get(name) or "").strip()  # noqa: E731
    errors: dict[str, str] = {}
    ids = [i.strip() for i in get("service_request_id").split(",") if i.strip()]
    if len(ids) > IDS_MAX:
        errors["service_request_id"] = N_("Please ask for at most 100 requests at once.")
    if ids:
        if errors:
            raise InvalidInput(errors, N_("Some parameters were not understood."))
        return {"ids": ids}
    codes = _codes(box, get("service_code"), errors)
    statuses = [s.strip() for s in get("status").split(",") if s.strip()]
    if any(s not in STATUSES for s in statuses):
        errors["status"] = N_("Status must be open or closed.")
    start = _moment(box, "start_date", get("start_date"), errors)
    end = _moment(box, "end_date", get("end_date"), errors)
    span = WINDOW_DAYS * DAY_MS
    if start is not None and end is not None:
        if end < start:
            errors["end_date"] = N_("end_date is before start_date.")
        elif end - start > span:
            errors["end_date"] = N_("A search may span 90 days at most.")
    if errors:
        raise InvalidInput(errors, N_("Some parameters were not understood."))
    if start is None and end is None:
        end = box.log.now_ms()
    if start is None:
        start = end - span
    if end is None:
        end = start + span
    return {"codes": codes, "statuses": statuses, "start": start, "end": end}


def _visible() -> object:
    return (Post.type == "should") & (Post.hidden == False)  # noqa: E712


def list_requests(box: Box, query: dict) -> list[dict]:
    """Return the requests a checked query (read_query) selects, newest first."""
    select = Post.select().where(_visible() & (Post.origin == box.origin))
    if "ids" in query:
        select = select.where(Post.id.in_(query["ids"]))
    else:
        select = select.where(Post.created_ms.between(query["start"], query["end"]))
        if query["codes"]:
            select = select.where(Post.category.in_(query["codes"]))
        if query["statuses"]:
            wanted = [s for name in query["statuses"] for s in STATUSES[name]]
            select = select.where(Post.status.in_(wanted))
    posts = list(select.order_by(Post.created_ms.desc(), Post.id).limit(LIMIT))
    return serialize(box, posts)


def get_request(box: Box, request_id: str) -> dict:
    """Return one request a visitor may see, or raise NotFound."""
    post = None
    if _ID.match(request_id or ""):
        post = Post.get_or_none(Post.id == request_id, _visible(), Post.origin == box.origin)
    if post is None:
        raise NotFound(N_("There is no service request with that id here."))
    return serialize(box, [post])[0]


def _latest(posts: list[Post]) -> dict[str, int]:
    """Return each post's last public change: helpers joining, visible comments."""
    ids = [p.id for p in posts]
    latest: dict[str, int] = {}
    if not ids:
        return latest
    queries = (
        Helper.select(Helper.post, fn.MAX(Helper.since_ms)).where(Helper.post.in_(ids)),
        Comment.select(Comment.post, fn.MAX(Comment.created_ms)).where(
            Comment.post.in_(ids) & (Comment.hidden == False)  # noqa: E712
        ),
    )
    for query in queries:
        for post, ms in query.group_by(query.model.post).tuples():
            latest[post] = max(latest.get(post, 0), ms or 0)
    return latest


def serialize(box: Box, posts: Iterable[Post]) -> list[dict]:
    """Return posts as Open311 service requests (no names, ids of members or contact)."""
    posts = list(posts)
    labels = {c.slug: c.label for c in categories(box, include_inactive=True)}
    centre = box.centre
    agency = centre.name if centre else ""
    latest = _latest(posts)
    out = []
    for p in posts:
        closed = p.status == "resolved"
        updated = max(p.created_ms, p.resolved_ms or 0, p.fresh_ms or 0, latest.get(p.id, 0))
        out.append(
            {
                "service_request_id": p.id,
                "status": "closed" if closed else "open",
                "status_notes": (p.resolved_note or "") if closed else "",
                "service_name": labels.get(p.category, p.category),
                "service_code": p.category,
                "description": f"{p.title}\n\n{p.details}" if p.details else p.title,
                "agency_responsible": agency,
                "service_notice": "",
                "requested_datetime": iso(box, p.created_ms),
                "updated_datetime": iso(box, updated),
                "expected_datetime": None,
                "address": p.place,
                "address_id": "",
                "zipcode": "",
                "media_url": "",
            }
        )
    return out


def token_actor(box: Box, api_key: str | None) -> Actor:
    """Return the member a personal token (api_key) acts for; NotAllowed saying why not."""
    if not (api_key or "").strip():
        raise NotAllowed(
            N_("Please send api_key: a personal token made at /account/tokens on this board.")
        )
    try:
        return api_tokens.actor_for_token(box, api_key.strip())
    except NotSignedIn as exc:  # Open311 answers 403 for every api_key problem
        raise NotAllowed(exc.message, **exc.params) from None


def _title_and_details(given_title: str, description: str) -> tuple[str, str, str]:
    """Return (title, details, the field the title came from)."""
    if given_title:
        return given_title, description, "attribute[title]"
    first, _, rest = description.partition("\n")
    first = one_line(first)
    if len(first) <= TITLE_MAX:
        return first, rest.strip(), "description"
    cut = first[: TITLE_MAX - 1].rsplit(" ", 1)[0] or first[: TITLE_MAX - 1]
    return cut + "…", description, "description"


def create_request(box: Box, actor: Actor, form: Mapping[str, str]) -> str:
    """Post a "somebody should" from an Open311 POST; return the new request's id."""
    get = lambda name: clean_text(form.get(name))  # noqa: E731
    errors: dict[str, str] = {}
    code = get("service_code")
    if not code:
        errors["service_code"] = N_("Please send service_code: one of the services.")
    elif code not in {c.slug for c in categories(box)}:
        errors["service_code"] = N_("That service_code is not one of the services.")
    place = one_line(form.get("attribute[place]"))
    place_field = "attribute[place]"
    if place and place not in places(box):
        errors[place_field] = N_("Please choose one of the centre's places.")
    if not place:
        place, place_field = one_line(form.get("address_string")), "address_string"
    if not place:
        if get("lat") or get("long") or get("address_id"):
            errors["address_string"] = N_(
                "This board keeps no map coordinates: please say where in words "
                "(address_string) or choose one of the centre's places (attribute[place])."
            )
        else:
            errors["address_string"] = N_(
                "Please say where: send address_string or attribute[place]."
            )
    description = get("description")
    if not description:
        errors["description"] = N_("Please send a description of what somebody should do.")
    if errors:
        raise InvalidInput(errors)
    title, details, title_field = _title_and_details(
        one_line(form.get("attribute[title]")), description
    )
    data = {
        "type": "should",
        "title": title,
        "details": details,
        "category": code,
        "place": place,
        "needed_by": "",
    }
    try:
        return board.create_post(box, actor, data)
    except ConductNotAccepted:
        raise NotAllowed(
            N_("Please read and accept the centre's code of conduct at /conduct first.")
        ) from None
    except InvalidInput as exc:
        names = {"title": title_field, "details": "description", "place": place_field}
        raise InvalidInput({names.get(k, k): v for k, v in exc.fields.items()}) from None
