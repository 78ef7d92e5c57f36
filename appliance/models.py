"""Tables of a box: the record store, the projections built from it, and local secrets.

Projections (Centre, Category, Place, Member, Role, Post, Comment, Helper, Thanks,
TrustedOrigin, and the food bank tables) are rebuilt from records only; nothing else
writes them. Local tables (Account, LoginSession, MemberPrivate, AssistedVisitor) hold
secrets and private details that are never records, so no export or sync reaches them.
"""

from __future__ import annotations

from peewee import (
    BlobField,
    BooleanField,
    CharField,
    IntegerField,
    Model,
    TextField,
)

from appliance.db import database


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


# --- the log -------------------------------------------------------------------------


class StoredRecord(BaseModel):
    """A record the box accepted, stored as the exact bytes it verified."""

    id = CharField(primary_key=True)
    origin = CharField()
    seq = IntegerField()
    prev = CharField(null=True)  # kept beside raw so chain checks need not parse it
    kind = CharField()
    # The entity whose projection this record feeds: its subject, or itself if it
    # creates an entity. Refolding an aggregate reads records by this column.
    aggregate = CharField(index=True)
    hlc_ms = IntegerField()
    hlc_c = IntegerField()
    scope = CharField()
    raw = BlobField()

    class Meta:
        indexes = ((("origin", "seq"), True),)


class BoxState(BaseModel):
    """The box's own identity and counters (one row)."""

    origin = CharField(primary_key=True)
    seq = IntegerField(default=0)
    last_id = CharField(null=True)
    hlc_ms = IntegerField(default=0)
    hlc_c = IntegerField(default=0)


class Quarantine(BaseModel):
    """An origin whose records are refused until staff act, and why."""

    origin = CharField(primary_key=True)
    reason = TextField()
    evidence = TextField()
    at_ms = IntegerField()


# --- projections ---------------------------------------------------------------------


class Centre(BaseModel):
    id = CharField(primary_key=True)
    origin = CharField(unique=True)
    name = CharField()
    timezone = CharField()


class Category(BaseModel):
    origin = CharField()
    slug = CharField()
    label = CharField()
    active = BooleanField(default=True)

    class Meta:
        indexes = ((("origin", "slug"), True),)


class Place(BaseModel):
    origin = CharField()
    name = CharField()
    active = BooleanField(default=True)

    class Meta:
        indexes = ((("origin", "name"), True),)


class Member(BaseModel):
    id = CharField(primary_key=True)
    origin = CharField()
    name = CharField()
    joined_ms = IntegerField()
    verified = BooleanField(default=False)
    verified_by = CharField(null=True)
    # Governance (schema step 6): the latest code of conduct version the member accepted
    # here (0: none), and whether their account was erased (their name is then gone).
    conduct_version = IntegerField(default=0)
    erased = BooleanField(default=False)


class Role(BaseModel):
    """A role granted to a member by the staff of one box (origin), with an expiry."""

    member = CharField()
    role = CharField()
    origin = CharField()
    expires_ms = IntegerField(null=True)
    granted_by = CharField(null=True)

    class Meta:
        indexes = ((("member", "role", "origin"), True),)


class Post(BaseModel):
    id = CharField(primary_key=True)
    origin = CharField()
    author = CharField(null=True, index=True)
    type = CharField()  # need | offer | should
    title = CharField()
    details = TextField()
    category = CharField()
    place = CharField()
    needed_by = CharField(null=True)  # ISO date
    created_ms = IntegerField()
    # status: open | on_it | resolved; status_rank orders open work first on the board.
    status = CharField()
    status_rank = IntegerField()
    resolved_note = TextField(null=True)
    resolved_by = CharField(null=True)
    resolved_ms = IntegerField(null=True)
    hidden = BooleanField(default=False)
    hidden_reason = TextField(null=True)
    comment_count = IntegerField(default=0)
    helper_count = IntegerField(default=0)
    # Food posts (schema step 4): the organisation whose need (type need) or supply
    # (type offer) this is, a supply's use-by date, and whether every item line is
    # covered by pledges or claims (which closes the post by itself).
    org = CharField(null=True, index=True)
    use_by = CharField(null=True)
    covered = BooleanField(default=False)
    # The "still needed?" sweep (schema step 6): when the post was last known to be
    # wanted (posted, answered "still needed", revived), when its poster was asked
    # (null: not asked), and whether it went unanswered and left the main board.
    fresh_ms = IntegerField(null=True)
    asked_ms = IntegerField(null=True)
    stale = BooleanField(default=False)

    class Meta:
        indexes = ((("created_ms",), False),)


class Comment(BaseModel):
    id = CharField(primary_key=True)
    post = CharField(index=True)
    author = CharField(null=True)
    text = TextField()
    created_ms = IntegerField()
    hidden = BooleanField(default=False)
    hidden_reason = TextField(null=True)


class Helper(BaseModel):
    post = CharField()
    member = CharField()
    mode = CharField()  # can_help | on_it
    since_ms = IntegerField()

    class Meta:
        indexes = ((("post", "member"), True),)


class Thanks(BaseModel):
    id = CharField(primary_key=True)
    post = CharField(index=True)
    giver = CharField(null=True)
    helper = CharField()
    message = TextField()
    created_ms = IntegerField(index=True)


class TrustedOrigin(BaseModel):
    """A box (truster) trusting another box's records (origin), up to last_seq if revoked."""

    id = CharField(primary_key=True)  # id of the trust.granted record
    truster = CharField()
    origin = CharField(index=True)
    name = CharField()
    last_seq = IntegerField(null=True)


# --- food banks (schema step 4) ------------------------------------------------------


class Org(BaseModel):
    """A food bank, shop, community group or other supplier; one box's staff keep it."""

    id = CharField(primary_key=True)
    origin = CharField(index=True)
    name = CharField()
    type = CharField()  # foodbank | shop | group | supplier
    place = CharField()
    active = BooleanField(default=True)
    created_ms = IntegerField()


class OrgRole(BaseModel):
    """A member of an organisation, and whether they organise it (post and close needs)."""

    org = CharField()
    member = CharField(index=True)
    role = CharField()  # member | organiser
    granted_by = CharField(null=True)

    class Meta:
        indexes = ((("org", "member"), True),)


class Item(BaseModel):
    """An entry of the shared item catalogue."""

    id = CharField(primary_key=True)
    origin = CharField()
    name = CharField()
    category = CharField(index=True)
    unit = CharField()
    active = BooleanField(default=True)
    # Folded name and unit: two boxes that each added "Baked beans" in tins match.
    match_key = CharField(index=True)

    class Meta:
        table_name = "catalogue_item"


class PostLine(BaseModel):
    """One item of a food need or supply: how many were asked for or offered, and how
    many pledges (for a need) or claims (for a supply) cover so far."""

    post = CharField()
    item = CharField(index=True)
    qty = IntegerField()
    covered = IntegerField(default=0)

    class Meta:
        indexes = ((("post", "item"), True),)


class Pledge(BaseModel):
    """A pledge to bring items to a need, or an organisation's claim on a supply.

    `counted` is how much of `qty` counts towards the line: pledges are counted in the
    agreed record order up to what the line still lacks (sync/PROTOCOL.md, section 4),
    so two boxes that pledged while apart agree on the totals.
    """

    id = CharField(primary_key=True)
    post = CharField(index=True)
    kind = CharField()  # pledge | claim
    member = CharField(null=True, index=True)
    org = CharField(null=True)  # the claiming organisation (claims only)
    item = CharField()
    qty = IntegerField()
    counted = IntegerField()
    bring_on = CharField(null=True)  # ISO date (pledges)
    created_ms = IntegerField()


class Shift(BaseModel):
    """A volunteer shift or working party of an organisation."""

    id = CharField(primary_key=True)
    origin = CharField()
    org = CharField(index=True)
    title = CharField()
    start_ms = IntegerField(index=True)
    end_ms = IntegerField()
    place = CharField()
    people = IntegerField()  # how many volunteers are needed
    bring = TextField()
    created_by = CharField(null=True)
    created_ms = IntegerField()
    cancelled = BooleanField(default=False)
    cancel_reason = TextField(null=True)
    coming = IntegerField(default=0)  # confirmed volunteers (at most `people`)
    waiting = IntegerField(default=0)  # signed up beyond `people`, in order


class ShiftVolunteer(BaseModel):
    """A volunteer signed up to a shift; `confirmed` if within the people asked for."""

    shift = CharField()
    member = CharField(index=True)
    since_ms = IntegerField()
    confirmed = BooleanField()

    class Meta:
        indexes = ((("shift", "member"), True),)


# --- community travel (schema step 5) -----------------------------------------------


class AccessNeed(BaseModel):
    """An access need riders can state, from one centre's list; `requires` names the
    vehicle feature a driver needs to serve it (wheelchair, folded_chair, dogs) or none."""

    origin = CharField()
    slug = CharField()
    label = CharField()
    requires = CharField(null=True)
    active = BooleanField(default=True)

    class Meta:
        indexes = ((("origin", "slug"), True),)


class DriverCheck(BaseModel):
    """A check one centre requires before it vouches for a driver (licence seen, ...)."""

    origin = CharField()
    slug = CharField()
    label = CharField()
    active = BooleanField(default=True)

    class Meta:
        indexes = ((("origin", "slug"), True),)


class Provider(BaseModel):
    """A paid transport service one centre's coordinators may book as a last resort."""

    origin = CharField()
    slug = CharField()
    name = CharField()
    active = BooleanField(default=True)

    class Meta:
        indexes = ((("origin", "slug"), True),)


class Driver(BaseModel):
    """One centre's vouch for a volunteer driver: the checks its staff saw, the vehicle,
    and the day the vouch lapses (the earliest expiry of its checks)."""

    member = CharField()
    origin = CharField()  # the vouching centre's box
    checks = TextField()  # JSON list as in the record
    seats = IntegerField()
    wheelchair = BooleanField()
    folded_chair = BooleanField()
    dogs = BooleanField()
    valid_to = CharField()  # ISO date: the last day every check is still valid
    vouched_by = CharField(null=True)
    vouched_ms = IntegerField()

    class Meta:
        indexes = ((("member", "origin"), True),)


class Ride(BaseModel):
    """A ride request, one-off or recurring (an RFC 5545 RRULE from `start`)."""

    id = CharField(primary_key=True)
    origin = CharField(index=True)
    rider = CharField(index=True)
    author = CharField(null=True)  # the rider, or staff who asked on their behalf
    from_area = CharField()
    to_area = CharField()
    start = CharField()  # local "YYYY-MM-DDTHH:MM" in `tz`: the first journey
    tz = CharField()
    start_ms = IntegerField(index=True)  # the first journey's time, UTC ms
    time_is = CharField()  # pickup | appointment
    window = IntegerField()  # minutes
    rrule = CharField(null=True)
    return_at = CharField(null=True)  # "HH:MM" the same day, or none
    passengers = IntegerField()
    needs = TextField()  # JSON list of access need slugs
    regular_driver = CharField(null=True)
    created_ms = IntegerField()
    cancelled = BooleanField(default=False)  # the whole request
    cancel_reason = TextField(null=True)
    series_driver = CharField(null=True)  # a driver who took every journey
    series_lost = TextField(default="[]")  # drivers whose take of the series came second
    sealed = TextField(null=True)  # JSON {origin: sealed addresses}, from ride.addresses
    series_since = CharField(null=True)  # local date from which the series driver has it


class Journey(BaseModel):
    """One journey of a ride (its date) that something happened to.

    Journeys with no records of their own are the series' (computed by services).
    """

    ride = CharField()
    date = CharField()  # local ISO date of the occurrence
    driver = CharField(null=True)  # whoever has it: the date's taker, else the series'
    state = CharField()  # open | driver_found | on_the_way | done | paid | cancelled
    provider = CharField(null=True)
    provider_name = CharField(null=True)
    cost = IntegerField(null=True)  # pence
    reference = CharField(null=True)
    miles = IntegerField(null=True)
    lost = TextField(default="[]")  # drivers (JSON list) who took it second: tell them
    updated_ms = IntegerField()

    class Meta:
        indexes = ((("ride", "date"), True),)


# --- governance and moderation (schema step 6) ---------------------------------------


class Conduct(BaseModel):
    """One published version of a centre's code of conduct (Markdown)."""

    origin = CharField()
    version = IntegerField()
    text = TextField()
    note = TextField()
    published_ms = IntegerField()

    class Meta:
        indexes = ((("origin", "version"), True),)


class CentreRule(BaseModel):
    """A community rule's value at a centre, as set by an adopted proposal."""

    origin = CharField()
    name = CharField()
    value = IntegerField()
    proposal = CharField(null=True)
    set_ms = IntegerField()

    class Meta:
        indexes = ((("origin", "name"), True),)


class PeerPolicy(BaseModel):
    """How a centre (origin) treats another centre's (peer's) hides: honour|review|ignore."""

    origin = CharField()
    peer = CharField()
    mode = CharField()

    class Meta:
        indexes = ((("origin", "peer"), True),)


class Flag(BaseModel):
    """A member's flag on a post (comment null) or one of its comments.

    `counts` is false once the flag is answered: staff cleared the flags or restored
    the post or comment after it; only counting flags move a post to review.
    """

    id = CharField(primary_key=True)
    post = CharField(index=True)
    comment = CharField(null=True)
    member = CharField(index=True)
    reason = CharField()
    note = TextField()
    created_ms = IntegerField()
    counts = BooleanField(default=True)


class ModerationEvent(BaseModel):
    """A hide or restore of a post or comment: the public moderation log's rows.

    No names: `by_box` says the box hid it by itself (the flags threshold); otherwise a
    staff member of `origin` did. `honoured` says whether it counts at this box (a peer
    whose moderation this centre reviews or ignores); `review` is this centre's answer
    to a reviewed peer's hide (pending | accept | dismiss, null if not reviewed), or
    `unauthorised` when its author held no staff role at `origin` then (it never counts).
    `author` (the member who acted, null for the box) is for refolding when their roles
    arrive; no page shows it.
    """

    id = CharField(primary_key=True)  # the hide or unhide record
    post = CharField(index=True)
    comment = CharField(null=True)
    action = CharField()  # hidden | restored
    rule = CharField(null=True)
    reason = TextField()
    origin = CharField()
    by_box = BooleanField(default=False)
    at_ms = IntegerField(index=True)
    honoured = BooleanField(default=True)
    review = CharField(null=True)
    author = CharField(null=True, index=True)


class Appeal(BaseModel):
    """An author's one appeal against a hide of their post or comment, and its answer."""

    id = CharField(primary_key=True)
    post = CharField(index=True)
    comment = CharField(null=True)
    member = CharField(index=True)
    text = TextField()
    created_ms = IntegerField()
    outcome = CharField(null=True)  # upheld | overturned, null while waiting
    answer = TextField(null=True)
    decided_ms = IntegerField(null=True)


class Proposal(BaseModel):
    """A proposed change to the code of conduct or a community rule, and its outcome."""

    id = CharField(primary_key=True)
    origin = CharField()
    author = CharField(null=True)
    title = CharField()
    reason = TextField()
    change = CharField()  # conduct | rule
    rule = CharField(null=True)
    value = IntegerField(null=True)
    text = TextField(null=True)
    created_ms = IntegerField()
    closes_ms = IntegerField(index=True)
    outcome = CharField(null=True)  # adopted | rejected, null while open
    decided_ms = IntegerField(null=True)
    agree = IntegerField(default=0)
    abstain = IntegerField(default=0)
    object = IntegerField(default=0)


class Vote(BaseModel):
    """A member's consent vote on a proposal (their first one counts)."""

    id = CharField(primary_key=True)
    proposal = CharField(index=True)
    member = CharField()
    choice = CharField()  # agree | abstain | object
    reason = TextField()
    created_ms = IntegerField()

    class Meta:
        indexes = ((("proposal", "member"), True),)


class VouchReview(BaseModel):
    """This centre's staff accepting (or not) another centre's verification of a member."""

    member = CharField()
    origin = CharField()  # the centre that verified the member
    accepted = BooleanField()
    reviewer = CharField(null=True)
    reviewed_ms = IntegerField()

    class Meta:
        indexes = ((("member", "origin"), True),)


class Erasure(BaseModel):
    """A member's erasure this box honours: what of theirs every box redacts.

    Written by appliance/erasure.py from valid member.erased records (not by a fold):
    the log reads it to redact what arrives later, and to accept redacted stubs.
    """

    member = CharField(primary_key=True)
    id = CharField(unique=True)  # the member.erased record
    origin = CharField()
    mode = CharField()  # keep | remove
    entities = TextField()  # JSON list of entity ids removed whole
    at_ms = IntegerField()


# --- local only: never records, never exported or synced -----------------------------


class Account(BaseModel):
    member = CharField(primary_key=True)
    login = CharField(unique=True)  # display name folded for case-insensitive login
    password_hash = CharField()


class LoginSession(BaseModel):
    token_hash = CharField(primary_key=True)
    member = CharField(index=True)
    created_ms = IntegerField()
    expires_ms = IntegerField()


class ApiToken(BaseModel):
    """A personal token a member made for the JSON API (only its hash is kept).

    A token acts as its member for member work only: never as staff (services refuse).
    """

    id = CharField(primary_key=True)  # public: names the token for revoking
    member = CharField(index=True)
    name = CharField()
    token_hash = CharField(unique=True)
    created_ms = IntegerField()
    expires_ms = IntegerField()
    last_used_ms = IntegerField(null=True)
    revoked_ms = IntegerField(null=True)


class MemberPrivate(BaseModel):
    """Contact details a member chose to leave with this centre's staff."""

    member = CharField(primary_key=True)
    contact = TextField()


class AssistedVisitor(BaseModel):
    """A post staff made here for a walk-in visitor, with the visitor's name and a way
    to reach them if they left them (empty otherwise): for this centre's staff only.

    The post itself is a record (author = the staff member, body `assisted: true`);
    these details never are. The row goes when its retention ends and the details
    sooner if staff forget them (appliance/services/assisted.py says when).
    """

    post = CharField(primary_key=True)  # id of the post.created record
    name = CharField(default="")
    contact = TextField(default="")
    created_ms = IntegerField()


class Peer(BaseModel):
    """Another box this one has met: where to reach it and how syncing with it went.

    Whether it is trusted is a signed record (trust.granted); this row is local state.
    """

    origin = CharField(primary_key=True)
    name = CharField()
    url = CharField(null=True)  # null: it reaches us (behind NAT), we never call it
    added_ms = IntegerField()
    last_sync_ms = IntegerField(null=True)
    last_error = TextField(null=True)
    records_in = IntegerField(default=0)
    records_out = IntegerField(default=0)
    # What the peer said it holds and accepts in its last round (JSON), so a USB
    # bundle for it carries only what it lacks.
    acked = TextField(null=True)
    accepts = TextField(null=True)


class PeerCursor(BaseModel):
    """How far this box has read each origin's chain from one peer.

    Advanced in the transaction that stores the records, so a dropped connection
    resumes where it stopped; it also steps over records the peer keeps local.
    """

    peer = CharField()
    origin = CharField()
    seq = IntegerField()

    class Meta:
        indexes = ((("peer", "origin"), True),)


FOOD = [Org, OrgRole, Item, PostLine, Pledge, Shift, ShiftVolunteer]  # schema step 4
TRAVEL = [AccessNeed, DriverCheck, Provider, Driver, Ride, Journey]  # schema step 5
GOVERNANCE = [
    Conduct,
    CentreRule,
    PeerPolicy,
    Flag,
    ModerationEvent,
    Appeal,
    Proposal,
    Vote,
    VouchReview,
    Erasure,
]  # schema step 6
PROJECTIONS = [
    Centre,
    Category,
    Place,
    Member,
    Role,
    Post,
    Comment,
    Helper,
    Thanks,
    TrustedOrigin,
    *FOOD,
    *TRAVEL,
    *GOVERNANCE,
]
LOCAL = [Account, LoginSession, MemberPrivate, ApiToken]
SYNC = [Peer, PeerCursor]  # added by schema step 2
ASSISTED = [AssistedVisitor]  # added by schema step 3
ALL_MODELS = [StoredRecord, BoxState, Quarantine, *PROJECTIONS, *LOCAL]
# Every table a box keeps for itself that no record rebuilds (everything but the log, the
# box's own counters and the projections): `kith update --rollback` carries these back.
# A new table of that kind goes here too, or a rollback silently loses it.
LOCAL_STATE = [Quarantine, *LOCAL, *SYNC, *ASSISTED]
