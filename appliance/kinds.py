"""Every record kind a v1 box understands, and the shape of its body.

sync/PROTOCOL.md documents the same table for other implementations; a test keeps the
two in step. Limits here are the record-level limits; services check the same limits
on user input so a person sees a friendly message before a record is ever built.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from appliance.dates import parse_day
from appliance.records import RecordError, unb64url

NAME_MAX = 60
TITLE_MAX = 120
DETAILS_MAX = 4000
PLACE_MAX = 80
COMMENT_MAX = 2000
NOTE_MAX = 1000
REASON_MAX = 500
LABEL_MAX = 60
CENTRE_NAME_MAX = 100
ORG_NAME_MAX = 100
ITEM_NAME_MAX = 60
BRING_MAX = 500
QTY_MAX = 100_000  # of one item on one post: far above any real delivery, below absurd
LINES_MAX = 30  # items on one need or supply
PEOPLE_MAX = 500  # volunteers one shift can ask for

ORG_TYPES = ("foodbank", "shop", "group", "supplier")
ORG_ROLES = ("member", "organiser")
# The catalogue's fixed vocabularies: categories and units every box reads the same way,
# so a need at one centre and a surplus at another can be set against each other.
ITEM_CATEGORIES = (
    "tins",
    "dry",
    "fresh",
    "frozen",
    "drinks",
    "toiletries",
    "household",
    "baby",
    "pet",
    "other",
)
UNITS = ("items", "kg", "packs", "trays", "boxes", "bags", "litres")

# Community travel.
AREA_MAX = 80
REFERENCE_MAX = 60
RRULE_MAX = 200
NEEDS_MAX = 12
CHECKS_MAX = 12
SEATS_MAX = 8
WINDOW_MAX = 240  # minutes a pickup may wait
COST_MAX = 100_000_00  # pence: a thousand pounds for one journey is already absurd
MILES_MAX = 2000
TIME_IS = ("pickup", "appointment")
# What a vehicle offers; an access need may require one of them.
VEHICLE_FEATURES = ("wheelchair", "folded_chair", "dogs")

# Governance and moderation.
CONDUCT_MAX = 20_000
VERSION_MAX = 10_000
RULE_VALUE_MAX = 100_000
ENTITIES_MAX = 800  # entities one erasure removes beside the member (fits a 64 KiB record)
# The community rules members may change by vote, and their values before any vote.
RULES = {
    "flags_to_hide": 3,  # flags from different members that hide a post pending review
    "stale_days": 30,  # days a post stays open before its poster is asked "still needed?"
    "stale_answer_days": 7,  # days the poster has to answer before the post is marked stale
    "vote_days": 7,  # days a proposal stays open for votes
    "votes_to_adopt": 3,  # agree votes a change needs (with no objection) to be adopted
}
FLAG_REASONS = ("spam", "offensive", "personal_info", "off_topic", "other")
# Why something was hidden: a flag reason, the code of conduct, or a peer's decision.
HIDE_RULES = (*FLAG_REASONS, "conduct", "flags")
VOTE_CHOICES = ("agree", "abstain", "object")
PROPOSAL_CHANGES = ("conduct", "rule")
MODERATION_MODES = ("honour", "review", "ignore")
ERASE_MODES = ("keep", "remove")

POST_TYPES = ("need", "offer", "should")
HELP_MODES = ("can_help", "on_it")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_HEX_ID = re.compile(r"^[0-9a-f]{64}$")


def _text(max_len: int, *, empty: bool = False):
    def check(value):
        if not isinstance(value, str):
            return "must be a string"
        if not empty and not value.strip():
            return "must not be empty"
        if len(value) > max_len:
            return f"longer than {max_len} characters"
        return None

    return check


def _slug(value):
    if not (isinstance(value, str) and SLUG.match(value)):
        return "must be a slug (a-z, 0-9, -)"
    return None


def _choice(*options):
    def check(value):
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


def _bool(value):
    return None if isinstance(value, bool) else "must be true or false"


def _true(value):
    return None if value is True else "must be true (leave the field out otherwise)"


def _record_id(value):
    return None if isinstance(value, str) and _HEX_ID.match(value) else "must be a record id"


def _optional(check):
    return lambda value: None if value is None else check(value)


def _count(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "must be a non-negative integer"
    return None


def _quantity(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= QTY_MAX:
        return f"must be a whole number from 1 to {QTY_MAX}"
    return None


def _people(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= PEOPLE_MAX:
        return f"must be a whole number from 1 to {PEOPLE_MAX}"
    return None


def _lines(value):
    """Items with quantities on a need or supply: [{"item": id, "qty": n}, ...]."""
    if not isinstance(value, list) or not 1 <= len(value) <= LINES_MAX:
        return f"must be a list of 1 to {LINES_MAX} items"
    seen = set()
    for line in value:
        if not isinstance(line, dict) or set(line) != {"item", "qty"}:
            return 'must hold objects {"item", "qty"}'
        problem = _record_id(line["item"]) or _quantity(line["qty"])
        if problem:
            return problem
        if line["item"] in seen:
            return "must name each item once"
        seen.add(line["item"])
    return None


_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_ZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")
# The part of RFC 5545 RRULE rides use: anything else could make an expansion slow,
# name one date twice, or crash a reader (dateutil's BYEASTER, BYHOUR, ...).
_RRULE_PARTS = {
    "FREQ": re.compile(r"^(DAILY|WEEKLY|MONTHLY)$"),
    "INTERVAL": re.compile(r"^([1-9]|[1-4][0-9]|5[0-2])$"),
    "BYDAY": re.compile(
        r"^([+-]?[1-5]?(MO|TU|WE|TH|FR|SA|SU))(,[+-]?[1-5]?(MO|TU|WE|TH|FR|SA|SU))*$"
    ),
    "BYMONTHDAY": re.compile(r"^-?([1-9]|[12][0-9]|3[01])(,-?([1-9]|[12][0-9]|3[01]))*$"),
    "UNTIL": re.compile(r"^\d{8}(T\d{6}Z?)?$"),
    "COUNT": re.compile(r"^([1-9]|[1-9][0-9]|[1-4][0-9][0-9]|5[01][0-9]|520)$"),
}


def _local_time(value):
    """A wall-clock time in the ride's zone, "YYYY-MM-DDTHH:MM" (no seconds, no offset)."""
    if not (isinstance(value, str) and _LOCAL_TIME.match(value)):
        return "must be a local time YYYY-MM-DDTHH:MM"
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return "must be a real date and time"
    return None


def _hh_mm(value):
    return None if isinstance(value, str) and _HH_MM.match(value) else "must be a time HH:MM"


def _rrule(value):
    """An RFC 5545 RRULE value (without "RRULE:") of the parts rides use."""
    problem = "must be an RFC 5545 rule: FREQ (DAILY, WEEKLY, MONTHLY) first, then INTERVAL, "
    problem += "BYDAY, BYMONTHDAY, UNTIL or COUNT, each once"
    if not isinstance(value, str) or not 0 < len(value) <= RRULE_MAX:
        return problem
    pairs = [part.split("=", 1) for part in value.split(";")]
    names = [pair[0] for pair in pairs]
    if (
        names[0] != "FREQ"
        or len(set(names)) != len(names)
        or ("UNTIL" in names and "COUNT" in names)
    ):
        return problem
    for pair in pairs:
        check = _RRULE_PARTS.get(pair[0])
        if len(pair) != 2 or check is None or not check.match(pair[1]):
            return problem
    return None


def _zone(value):
    if not (isinstance(value, str) and len(value) <= 64 and _ZONE.match(value)):
        return "must be an IANA time zone name like Europe/London"
    return None


def _int_range(low: int, high: int):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}"
        return None

    return check


def _slugs(max_len: int):
    def check(value):
        if not isinstance(value, list) or len(value) > max_len:
            return f"must be a list of at most {max_len} slugs"
        if len(set(value)) != len(value) or any(_slug(v) for v in value):
            return "must hold distinct slugs"
        return None

    return check


def _checks(value):
    """A driver's checks: [{"check": slug, "label": text, "seen": date, "expires": date}]."""
    if not isinstance(value, list) or not 1 <= len(value) <= CHECKS_MAX:
        return f"must be a list of 1 to {CHECKS_MAX} checks"
    for check in value:
        if not isinstance(check, dict) or set(check) != {"check", "label", "seen", "expires"}:
            return 'must hold objects {"check", "label", "seen", "expires"}'
        problem = (
            _slug(check["check"])
            or _text(LABEL_MAX)(check["label"])
            or _iso_date(check["seen"])
            or _iso_date(check["expires"])
        )
        if problem:
            return problem
    return None


def _vehicle(value):
    """What a driver's vehicle offers: {"seats": 1..8, "wheelchair", "folded_chair", "dogs"}."""
    if not isinstance(value, dict) or set(value) != {"seats", *VEHICLE_FEATURES}:
        return 'must be {"seats", "wheelchair", "folded_chair", "dogs"}'
    return _int_range(1, SEATS_MAX)(value["seats"]) or next(
        (p for p in (_bool(value[f]) for f in VEHICLE_FEATURES) if p), None
    )


def _sealed(value):
    """Addresses sealed per box: {origin: base64url ciphertext}."""
    if not isinstance(value, dict) or not 1 <= len(value) <= 64:
        return "must map 1 to 64 box keys to sealed text"
    for origin, blob in value.items():
        if _public_key(origin) or not isinstance(blob, str) or not 0 < len(blob) <= 4000:
            return "must map box keys to sealed text"
    return None


def _ids(max_len: int):
    def check(value):
        if not isinstance(value, list) or len(value) > max_len:
            return f"must be a list of at most {max_len} record ids"
        if len(set(value)) != len(value) or any(_record_id(v) for v in value):
            return "must hold distinct record ids"
        return None

    return check


def _iso_date(value):
    try:
        parse_day(value)
    except ValueError:
        return "must be a date YYYY-MM-DD"
    return None


def _public_key(value):
    try:
        return None if len(unb64url(value)) == 32 else "must be a public key"
    except (TypeError, ValueError, RecordError):
        return "must be a public key"


@dataclass(frozen=True)
class Kind:
    """A record kind: which entity type it creates or feeds, and its body fields."""

    entity: str  # centre | member | post | trust | org | item | shift | ride | proposal
    creates: bool = False
    body: dict = field(default_factory=dict)
    # Body fields a record may leave out. Added fields are optional, so records written
    # before a field existed stay valid.
    optional: frozenset[str] = frozenset()


KINDS: dict[str, Kind] = {
    # A box's first record: the centre it serves. Author null, subject null.
    "centre.created": Kind(
        "centre",
        creates=True,
        body={"name": _text(CENTRE_NAME_MAX), "timezone": _text(64)},
    ),
    "category.set": Kind(
        "centre", body={"slug": _slug, "label": _text(LABEL_MAX), "active": _bool}
    ),
    "place.set": Kind("centre", body={"name": _text(PLACE_MAX), "active": _bool}),
    "member.joined": Kind("member", creates=True, body={"name": _text(NAME_MAX)}),
    "member.verified": Kind("member"),
    "member.unverified": Kind("member"),
    "role.granted": Kind("member", body={"role": _slug, "expires": _optional(_count)}),
    "role.revoked": Kind("member", body={"role": _slug}),
    "post.created": Kind(
        "post",
        creates=True,
        body={
            "type": _choice(*POST_TYPES),
            "title": _text(TITLE_MAX),
            "details": _text(DETAILS_MAX, empty=True),
            "category": _slug,
            "place": _text(PLACE_MAX),
            "needed_by": _optional(_iso_date),
            # Staff posted it for a walk-in visitor (the author is the staff member).
            "assisted": _true,
            # A food need (type need) or supply (type offer) of an organisation.
            "org": _record_id,
            "lines": _lines,
            "use_by": _iso_date,
        },
        optional=frozenset({"assisted", "org", "lines", "use_by"}),
    ),
    "post.resolved": Kind("post", body={"note": _text(NOTE_MAX, empty=True)}),
    "post.reopened": Kind("post"),
    # A hide names the rule it applied (optional: hides before rules existed have none).
    "post.hidden": Kind(
        "post",
        body={"reason": _text(REASON_MAX), "rule": _choice(*HIDE_RULES)},
        optional=frozenset({"rule"}),
    ),
    "post.unhidden": Kind("post", body={"reason": _text(REASON_MAX, empty=True)}),
    "comment.added": Kind("post", body={"text": _text(COMMENT_MAX)}),
    "comment.hidden": Kind(
        "post",
        body={"comment": _record_id, "reason": _text(REASON_MAX), "rule": _choice(*HIDE_RULES)},
        optional=frozenset({"rule"}),
    ),
    "comment.unhidden": Kind(
        "post", body={"comment": _record_id, "reason": _text(REASON_MAX, empty=True)}
    ),
    # Moderation a community can see (all local but the hides above: who flagged whom
    # and an author's appeal stay on the box where they were made).
    "flag.raised": Kind(
        "post",
        body={
            "comment": _optional(_record_id),
            "reason": _choice(*FLAG_REASONS),
            "note": _text(REASON_MAX, empty=True),
        },
    ),
    "flags.cleared": Kind(
        "post", body={"comment": _optional(_record_id), "reason": _text(REASON_MAX, empty=True)}
    ),
    "appeal.made": Kind("post", body={"comment": _optional(_record_id), "text": _text(NOTE_MAX)}),
    "appeal.decided": Kind(
        "post",
        body={
            "appeal": _record_id,
            "outcome": _choice("upheld", "overturned"),
            "reason": _text(REASON_MAX),
        },
    ),
    # Staff's answer to a peer's hide when the centre reviews that peer's moderation.
    "hide.reviewed": Kind(
        "post", body={"hide": _record_id, "decision": _choice("accept", "dismiss")}
    ),
    # The "still needed?" sweep: the box asks, the poster answers, the box marks it stale,
    # anyone revives it.
    "post.stale_check": Kind("post"),
    "post.still_needed": Kind("post"),
    "post.staled": Kind("post"),
    "post.revived": Kind("post"),
    "help.offered": Kind("post", body={"mode": _choice(*HELP_MODES)}),
    "help.withdrawn": Kind("post"),
    "thanks.given": Kind("post", body={"helper": _record_id, "message": _text(NOTE_MAX)}),
    # Pledges to bring items to a food need; claims of items from a supply post.
    "pledge.made": Kind(
        "post",
        body={"item": _record_id, "qty": _quantity, "bring_on": _optional(_iso_date)},
    ),
    "pledge.withdrawn": Kind("post", body={"pledge": _record_id}),
    "claim.made": Kind("post", body={"org": _record_id, "item": _record_id, "qty": _quantity}),
    "claim.withdrawn": Kind("post", body={"claim": _record_id}),
    # Organisations (food banks, shops, groups) and who organises them.
    "org.created": Kind(
        "org",
        creates=True,
        body={"name": _text(ORG_NAME_MAX), "type": _choice(*ORG_TYPES), "place": _text(PLACE_MAX)},
    ),
    "org.changed": Kind(
        "org",
        body={
            "name": _text(ORG_NAME_MAX),
            "type": _choice(*ORG_TYPES),
            "place": _text(PLACE_MAX),
            "active": _bool,
        },
    ),
    "org.role.set": Kind(
        "org", body={"member": _record_id, "role": _optional(_choice(*ORG_ROLES))}
    ),
    # The shared item catalogue.
    "item.created": Kind(
        "item",
        creates=True,
        body={
            "name": _text(ITEM_NAME_MAX),
            "category": _choice(*ITEM_CATEGORIES),
            "unit": _choice(*UNITS),
        },
    ),
    "item.changed": Kind(
        "item",
        body={
            "name": _text(ITEM_NAME_MAX),
            "category": _choice(*ITEM_CATEGORIES),
            "unit": _choice(*UNITS),
            "active": _bool,
        },
    ),
    # Volunteer shifts and working parties.
    "shift.created": Kind(
        "shift",
        creates=True,
        body={
            "org": _record_id,
            "title": _text(TITLE_MAX),
            "start": _count,
            "end": _count,
            "place": _text(PLACE_MAX),
            "people": _people,
            "bring": _text(BRING_MAX, empty=True),
        },
    ),
    "shift.cancelled": Kind("shift", body={"reason": _text(REASON_MAX, empty=True)}),
    "shift.joined": Kind("shift"),
    "shift.left": Kind("shift"),
    # Community travel: the centre's lists (like categories, only from its own origin).
    "access_need.set": Kind(
        "centre",
        body={
            "slug": _slug,
            "label": _text(LABEL_MAX),
            "requires": _optional(_choice(*VEHICLE_FEATURES)),
            "active": _bool,
        },
    ),
    "driver_check.set": Kind(
        "centre", body={"slug": _slug, "label": _text(LABEL_MAX), "active": _bool}
    ),
    "provider.set": Kind(
        "centre", body={"slug": _slug, "name": _text(ORG_NAME_MAX), "active": _bool}
    ),
    # A centre's staff vouch for a volunteer driver: the checks they saw and the vehicle.
    "driver.vouched": Kind("member", body={"checks": _checks, "vehicle": _vehicle}),
    "driver.withdrawn": Kind("member", body={"reason": _text(REASON_MAX, empty=True)}),
    # A ride request (one-off or recurring) and what happens to its journeys. A journey
    # is one occurrence, named by its local date; `date: null` means the whole series.
    "ride.requested": Kind(
        "ride",
        creates=True,
        body={
            "rider": _record_id,
            "from_area": _text(AREA_MAX),
            "to_area": _text(AREA_MAX),
            "start": _local_time,
            "tz": _zone,
            "time_is": _choice(*TIME_IS),
            "window": _int_range(0, WINDOW_MAX),
            "rrule": _optional(_rrule),
            "return_at": _optional(_hh_mm),
            "passengers": _int_range(1, SEATS_MAX),
            "needs": _slugs(NEEDS_MAX),
            "regular_driver": _optional(_record_id),
        },
    ),
    "ride.addresses": Kind("ride", body={"sealed": _sealed}),
    "ride.taken": Kind("ride", body={"date": _optional(_iso_date)}),
    "ride.handed_back": Kind("ride", body={"date": _optional(_iso_date)}),
    "ride.started": Kind("ride", body={"date": _iso_date}),
    "ride.done": Kind(
        "ride", body={"date": _iso_date, "miles": _optional(_int_range(0, MILES_MAX))}
    ),
    "ride.cancelled": Kind(
        "ride", body={"date": _optional(_iso_date), "reason": _text(REASON_MAX, empty=True)}
    ),
    "ride.paid": Kind(
        "ride",
        body={
            "date": _iso_date,
            "provider": _slug,
            "provider_name": _text(ORG_NAME_MAX),
            "cost": _int_range(0, COST_MAX),
            "reference": _text(REFERENCE_MAX, empty=True),
        },
    ),
    # The centre's code of conduct (versions) and its community rules (only ever set by an
    # adopted proposal), and how this centre treats each peer's moderation.
    "conduct.published": Kind(
        "centre",
        body={
            "version": _int_range(1, VERSION_MAX),
            "text": _text(CONDUCT_MAX),
            "note": _text(NOTE_MAX, empty=True),
        },
    ),
    "rule.set": Kind(
        "centre",
        body={
            "name": _choice(*RULES),
            "value": _int_range(0, RULE_VALUE_MAX),
            "proposal": _optional(_record_id),
        },
    ),
    "moderation.policy.set": Kind(
        "centre", body={"origin": _public_key, "mode": _choice(*MODERATION_MODES)}
    ),
    "conduct.accepted": Kind("member", body={"version": _int_range(1, VERSION_MAX)}),
    # Another centre's verification of a member, accepted here or not by this centre's staff.
    "vouch.reviewed": Kind("member", body={"origin": _public_key, "accepted": _bool}),
    # A member's account erased: their personal records are redacted on every box
    # (sync/PROTOCOL.md, "Erasure"). `entities` are removed whole (their rides; with mode
    # remove also their posts).
    "member.erased": Kind(
        "member", body={"mode": _choice(*ERASE_MODES), "entities": _ids(ENTITIES_MAX)}
    ),
    # A proposed change to the code of conduct or a rule, members' consent votes, and
    # the outcome the box records once voting closes.
    "proposal.made": Kind(
        "proposal",
        creates=True,
        body={
            "title": _text(TITLE_MAX),
            "reason": _text(DETAILS_MAX, empty=True),
            "change": _choice(*PROPOSAL_CHANGES),
            "rule": _choice(*RULES),
            "value": _int_range(0, RULE_VALUE_MAX),
            "text": _text(CONDUCT_MAX),
            "closes": _count,
        },
        optional=frozenset({"rule", "value", "text"}),
    ),
    "vote.cast": Kind(
        "proposal",
        body={"choice": _choice(*VOTE_CHOICES), "reason": _text(REASON_MAX, empty=True)},
    ),
    "proposal.decided": Kind(
        "proposal",
        body={
            "outcome": _choice("adopted", "rejected"),
            "agree": _count,
            "abstain": _count,
            "object": _count,
        },
    ),
    "trust.granted": Kind(
        "trust", creates=True, body={"origin": _public_key, "name": _text(CENTRE_NAME_MAX)}
    ),
    "trust.revoked": Kind("trust", body={"last_seq": _count}),
}


def check_body(fields: dict) -> None:
    """Raise RecordError if a known kind's subject or body has the wrong shape.

    Kinds this version does not know are stored and forwarded but not applied, so a
    newer box's records do not block an older box's chain of that origin.
    """
    kind = KINDS.get(fields["kind"])
    if kind is None:
        return
    if kind.creates and fields["subject"] is not None:
        raise RecordError(f"{fields['kind']} creates an entity, so its subject must be null")
    if not kind.creates and fields["subject"] is None:
        raise RecordError(f"{fields['kind']} needs a subject")
    body = fields["body"]
    missing = sorted(set(kind.body) - set(body) - kind.optional)
    extra = sorted(set(body) - set(kind.body))
    if missing or extra:
        kind_name = fields["kind"]
        raise RecordError(
            f"{kind_name} body: missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
        )
    for name, check in kind.body.items():
        if name not in body:
            continue  # an optional field left out
        problem = check(body[name])
        if problem:
            raise RecordError(f"{fields['kind']} body.{name} {problem}")


def aggregate_of(fields: dict, record_id: str) -> str:
    """Return the id of the entity a record feeds: its subject, or itself if it creates one."""
    return fields["subject"] or record_id
