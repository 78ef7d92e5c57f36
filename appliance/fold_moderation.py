"""The moderation and "still needed?" part of a post's fold.

Which hides count is the one place a post's fold depends on more than its own records:

- who made it: a hide or restore counts only if the box itself made it (author null:
  the flags threshold) or its author held `staff` or `admin` granted by the record's own
  origin, before it in that origin's chain and not expired at its time (the rule that
  judges erasures). One that fails is kept as a row (`review` "unauthorised") for staff
  to see, and never counts. Role records feed the member, so a member's refold refolds
  the posts they moderated (projection._write_members);
- which origin it came from: each centre chooses, per peer, whether to honour that
  peer's hides, review them, or ignore them (`moderation.policy.set`, a local record of
  this box). Without a choice, an origin this box paired with directly (its own
  `trust.granted`) is honoured and one trusted only through a paired centre is reviewed.

Both choices are read from the stored records of this box's own origin, and roles from
stored role records, not from projections, so the result does not depend on which
entity happened to be refolded first; a service that changes a policy refolds the posts
the change touches (moderation.set_peer_policy).

Within the hides that count, the later record wins (the agreed order), as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from appliance.db import database
from appliance.foldsql import chunks, delete_where_in, executemany, insert_sql, marks
from appliance.records import Record

# A directly paired peer's hides count here unless this centre chose otherwise; those
# of an origin trusted only through a paired centre wait for staff to review them.
DEFAULT_MODE = "honour"
RELAYED_MODE = "review"
# The roles whose hides and restores count, and what a hide by anyone else is marked.
STAFF_ROLES = ("staff", "admin")
UNAUTHORISED = "unauthorised"
ROLE_KINDS = ("role.granted", "role.revoked")

FLAG_COLUMNS = ("id", "post", "comment", "member", "reason", "note", "created_ms", "counts")
EVENT_COLUMNS = (
    "id",
    "post",
    "comment",
    "action",
    "rule",
    "reason",
    "origin",
    "by_box",
    "at_ms",
    "honoured",
    "review",
    "author",
)
APPEAL_COLUMNS = (
    "id",
    "post",
    "comment",
    "member",
    "text",
    "created_ms",
    "outcome",
    "answer",
    "decided_ms",
)
_INSERT_FLAG = insert_sql("flag", FLAG_COLUMNS)
_INSERT_EVENT = insert_sql("moderation_event", EVENT_COLUMNS)
_INSERT_APPEAL = insert_sql("appeal", APPEAL_COLUMNS)

HIDES = {"post.hidden": True, "post.unhidden": False, "comment.hidden": True}
HIDES["comment.unhidden"] = False


@dataclass(frozen=True)
class Policies:
    """This box's origin, the origins it paired with directly, its choice for each peer's
    moderation, and (read as needed) the role records of the members who moderated."""

    own: str | None
    modes: dict[str, str]
    direct: frozenset[str] = frozenset()
    # author -> {origin: [(seq, kind, role, expires)] in seq order}; filled on first use.
    roles: dict[str, dict[str, list[tuple]]] = field(default_factory=dict, compare=False)

    def mode(self, origin: str) -> str:
        """Return how this box counts an origin's hides: honour, review or ignore."""
        if origin == self.own:
            return "honour"
        default = DEFAULT_MODE if origin in self.direct else RELAYED_MODE
        return self.modes.get(origin, default)

    def authorised(self, rec: Record) -> bool:
        """Return True if the box made a hide record, or its author held a staff role
        granted by the record's origin, earlier in that chain, unexpired at its time."""
        author = rec.author
        if author is None:
            return True
        if author not in self.roles:
            self.roles[author] = _role_records(author)
        held: dict[str, int | None] = {}
        for seq, kind, role, expires in self.roles[author].get(rec.origin, ()):
            if seq >= rec.seq:
                break
            if kind == "role.granted":
                held[role] = expires
            else:
                held.pop(role, None)
        at_ms = rec.hlc[0]
        return any(
            role in held and (held[role] is None or held[role] > at_ms) for role in STAFF_ROLES
        )


def _role_records(member: str) -> dict[str, list[tuple]]:
    """Return a member's stored role records by origin, each list in seq order."""
    cursor = database.execute_sql(
        "SELECT origin, seq, kind, raw FROM stored_record WHERE aggregate = ? "
        "AND kind IN (?, ?) ORDER BY origin, seq",
        (member, *ROLE_KINDS),
    )
    found: dict[str, list[tuple]] = {}
    for origin, seq, kind, raw in cursor:
        body = json.loads(bytes(raw)).get("body")
        if body is None:
            continue  # role records are never redacted; a stub here counts for nothing
        found.setdefault(origin, []).append((seq, kind, body["role"], body.get("expires")))
    return found


def load_policies() -> Policies:
    """Read this box's moderation choices and direct pairings from its own stored records
    (choices: latest wins)."""
    row = database.execute_sql("SELECT origin FROM box_state LIMIT 1").fetchone()
    own = row[0] if row else None
    modes: dict[str, str] = {}
    direct: set[str] = set()
    if own:
        cursor = database.execute_sql(
            "SELECT kind, raw FROM stored_record WHERE kind IN "
            "('moderation.policy.set', 'trust.granted') AND origin = ? "
            "ORDER BY hlc_ms, hlc_c, id",
            (own,),
        )
        for kind, raw in cursor:
            body = json.loads(bytes(raw)).get("body") or {}
            if "origin" not in body:  # a redacted stub has no body
                continue
            if kind == "trust.granted":
                direct.add(body["origin"])
            else:
                modes[body["origin"]] = body["mode"]
    direct.discard(own)
    return Policies(own, modes, frozenset(direct))


def posts_moderated(column: str, values: list[str]) -> list[str]:
    """Return the posts with a moderation row whose `column` (author or origin) is one of
    values: the posts to refold when those members' roles or that pairing change."""
    assert column in ("author", "origin")
    found: set[str] = set()
    for chunk in chunks(values):
        cursor = database.execute_sql(
            f'SELECT DISTINCT post FROM moderation_event WHERE "{column}" IN ({marks(chunk)})',
            chunk,
        )
        found.update(post for (post,) in cursor)
    return sorted(found)


@dataclass
class Moderated:
    """What moderation and the stale sweep make of one post."""

    hidden: bool = False
    hidden_reason: str | None = None
    comments: dict[str, tuple[bool, str | None]] = field(default_factory=dict)
    flags: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    appeals: list[tuple] = field(default_factory=list)
    fresh_ms: int | None = None
    asked_ms: int | None = None
    stale: bool = False


def fold_moderation(root: Record, rest: list[Record], policies: Policies) -> Moderated:
    """Fold the hides, flags, appeals and stale sweep of one post (records in agreed order)."""
    out = Moderated(fresh_ms=root.hlc[0])
    reviews: dict[str, str] = {}
    for r in rest:
        if r.kind == "hide.reviewed" and r.origin == policies.own:
            reviews[r.body["hide"]] = r.body["decision"]
    flags: dict[str, list] = {}  # flag id -> row (mutable until written)
    appeals: dict[tuple[str, str | None], list] = {}
    for r in rest:
        kind, body, ms = r.kind, r.body, r.hlc[0]
        if kind in HIDES:
            target = body.get("comment")
            mode = policies.mode(r.origin)
            review = None
            authorised = policies.authorised(r)
            if not authorised:
                review = UNAUTHORISED  # never a decision: no review makes it count
            elif mode == "review":
                review = reviews.get(r.id, "pending")
            honoured = authorised and (mode == "honour" or review == "accept")
            hidden = HIDES[kind]
            out.events.append(
                (
                    r.id,
                    root.id,
                    target,
                    "hidden" if hidden else "restored",
                    body.get("rule"),
                    body["reason"],
                    r.origin,
                    r.author is None,
                    ms,
                    honoured,
                    review,
                    r.author,
                )
            )
            if not honoured:
                continue
            reason = body["reason"] if hidden else None
            if target is None:
                out.hidden, out.hidden_reason = hidden, reason
            else:
                out.comments[target] = (hidden, reason)
            if not hidden:
                _answer_flags(flags, target)
        elif kind == "flag.raised" and r.author:
            target = body["comment"]
            # One counting flag per member and target: flagging again adds nothing.
            if any(f[2] == target and f[3] == r.author and f[7] for f in flags.values()):
                continue
            flags[r.id] = [r.id, root.id, target, r.author, body["reason"], body["note"], ms, True]
        elif kind == "flags.cleared":
            _answer_flags(flags, body["comment"])
        elif kind == "appeal.made" and r.author:
            key = (r.author, body["comment"])
            if key not in appeals:  # one appeal each: the first counts
                appeals[key] = [r.id, root.id, body["comment"], r.author, body["text"], ms]
                appeals[key] += [None, None, None]
        elif kind == "appeal.decided":
            for row in appeals.values():
                if row[0] == body["appeal"] and row[6] is None:
                    row[6:9] = [body["outcome"], body["reason"], ms]
        elif kind == "post.stale_check" and r.origin == root.origin:
            if not out.stale:
                out.asked_ms = ms
        elif kind == "post.still_needed" and (
            r.author == root.author
            # A visitor's post has no poster with an account: its centre's staff answer.
            or (root.body.get("assisted") is True and r.origin == root.origin)
        ):
            out.asked_ms, out.fresh_ms = None, ms
        elif kind == "post.staled" and r.origin == root.origin:
            if out.asked_ms is not None:
                out.stale, out.asked_ms = True, None
        elif kind in ("post.revived", "post.reopened"):
            out.stale, out.asked_ms, out.fresh_ms = False, None, ms
    out.flags = [tuple(row) for row in flags.values()]
    out.appeals = [tuple(row) for row in appeals.values()]
    return out


def _answer_flags(flags: dict[str, list], target: str | None) -> None:
    """Stop counting the flags on a target: staff looked and decided."""
    for row in flags.values():
        if row[2] == target:
            row[7] = False


def write_moderation(post_ids: list[str], folded: list[Moderated]) -> None:
    """Replace the flag, moderation log and appeal rows of the posts just folded."""
    for table in ("flag", "moderation_event", "appeal"):
        delete_where_in(table, "post", post_ids)
    executemany(_INSERT_FLAG, [row for m in folded for row in m.flags])
    executemany(_INSERT_EVENT, [row for m in folded for row in m.events])
    executemany(_INSERT_APPEAL, [row for m in folded for row in m.appeals])
