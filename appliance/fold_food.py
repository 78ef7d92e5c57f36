"""Folds for the food banks: a food post's item lines with its pledges or claims,
organisations with their people, the item catalogue, and volunteer shifts.

Pure functions of an entity's records in the agreed order (sync/PROTOCOL.md), like
every fold in appliance/projection.py, which calls these for posts (fold_pledges,
write_post_food) and writes organisations, items and shifts through them.
"""

from __future__ import annotations

from appliance.foldsql import delete_where_in, executemany, insert_sql
from appliance.records import Record

LINE_COLUMNS = ("post", "item", "qty", "covered")
PLEDGE_COLUMNS = (
    "id",
    "post",
    "kind",
    "member",
    "org",
    "item",
    "qty",
    "counted",
    "bring_on",
    "created_ms",
)
ORG_COLUMNS = ("id", "origin", "name", "type", "place", "active", "created_ms")
ORG_ROLE_COLUMNS = ("org", "member", "role", "granted_by")
ITEM_COLUMNS = ("id", "origin", "name", "category", "unit", "active", "match_key")
SHIFT_COLUMNS = (
    "id",
    "origin",
    "org",
    "title",
    "start_ms",
    "end_ms",
    "place",
    "people",
    "bring",
    "created_by",
    "created_ms",
    "cancelled",
    "cancel_reason",
    "coming",
    "waiting",
)
VOLUNTEER_COLUMNS = ("shift", "member", "since_ms", "confirmed")

_INSERT_LINE = insert_sql("post_line", LINE_COLUMNS)
_INSERT_PLEDGE = insert_sql("pledge", PLEDGE_COLUMNS)
_REPLACE_ORG = insert_sql("org", ORG_COLUMNS, "INSERT OR REPLACE")
_INSERT_ORG_ROLE = insert_sql("org_role", ORG_ROLE_COLUMNS)
_REPLACE_ITEM = insert_sql("catalogue_item", ITEM_COLUMNS, "INSERT OR REPLACE")
_REPLACE_SHIFT = insert_sql("shift", SHIFT_COLUMNS, "INSERT OR REPLACE")
_INSERT_VOLUNTEER = insert_sql("shift_volunteer", VOLUNTEER_COLUMNS)


def fold_pledges(
    root: Record, pledges: dict[str, Record], withdrawn: set[tuple[str, str | None]]
) -> tuple[list[tuple], list[tuple], bool, int | None]:
    """Count a food post's pledges (need) or claims (supply) against its item lines.

    Returns line rows, pledge rows, whether every line is covered, and the time (hlc ms)
    of the record that covered the last line. Pledges count in the agreed order, each up
    to what its line still lacks, so boxes that pledged while apart agree on totals; a
    withdrawn pledge (withdrawn by its own author) counts nothing.
    """
    b = root.body
    wanted = {line["item"]: line["qty"] for line in b.get("lines", ())}
    covered = dict.fromkeys(wanted, 0)
    kind = "pledge" if b["type"] == "need" else "claim"
    rows, covered_at = [], None
    for pid, r in pledges.items():
        fields = r.fields
        body, author = fields["body"], fields["author"]
        if (pid, author) in withdrawn or body["item"] not in wanted:
            continue
        counted = min(body["qty"], wanted[body["item"]] - covered[body["item"]])
        covered[body["item"]] += counted
        if counted and all(covered[i] >= q for i, q in wanted.items()) and covered_at is None:
            covered_at = fields["hlc"][0]
        rows.append(
            (
                pid,
                root.id,
                kind,
                author,
                body.get("org"),
                body["item"],
                body["qty"],
                counted,
                body.get("bring_on"),
                fields["hlc"][0],
            )
        )
    lines = [(root.id, item, qty, covered[item]) for item, qty in wanted.items()]
    done = bool(wanted) and all(covered[i] >= q for i, q in wanted.items())
    return lines, rows, done, covered_at if done else None


def write_post_food(post_ids: list[str], lines: list[tuple], pledges: list[tuple]) -> None:
    """Replace the item lines and pledge rows of refolded posts."""
    for table in ("post_line", "pledge"):
        delete_where_in(table, "post", post_ids)
    executemany(_INSERT_LINE, lines)
    executemany(_INSERT_PLEDGE, pledges)


def fold_org(root: Record, rest: list[Record]) -> tuple[tuple, list[tuple]]:
    """Return an organisation's row and its member rows.

    Only the organisation's own box (its staff) may change it or its people, as with a
    centre's categories: records of these kinds from other origins are ignored.
    """
    b = dict(root.body, active=True)
    people: dict[str, tuple] = {}
    for r in rest:
        if r.origin != root.origin:
            continue
        if r.kind == "org.changed":
            b = r.body
        elif r.kind == "org.role.set":
            if r.body["role"] is None:
                people.pop(r.body["member"], None)
            else:
                people[r.body["member"]] = (r.body["role"], r.author)
    row = (root.id, root.origin, b["name"], b["type"], b["place"], b["active"], root.hlc[0])
    return row, [(root.id, member, role, by) for member, (role, by) in people.items()]


def _write_with_children(
    entities: list[tuple[Record, list[Record]]], fold, write: str, table: str, column: str, add: str
) -> None:
    """Write each entity's row (`fold` returns it and its child rows) and replace the rows
    of `table` whose `column` names one of these entities with the new child rows."""
    rows, children = [], []
    for root, rest in entities:
        row, its_children = fold(root, rest)
        rows.append(row)
        children.extend(its_children)
    executemany(write, rows)
    delete_where_in(table, column, [row[0] for row in rows])
    executemany(add, children)


def write_orgs(entities: list[tuple[Record, list[Record]]]) -> None:
    """Write refolded organisations and replace their people."""
    _write_with_children(entities, fold_org, _REPLACE_ORG, "org_role", "org", _INSERT_ORG_ROLE)


def item_match_key(name: str, unit: str) -> str:
    """Fold an item's name and unit so equal entries from different boxes match."""
    return " ".join(name.casefold().split()) + "|" + unit


def fold_item(root: Record, rest: list[Record]) -> tuple:
    """Return a catalogue entry's row: the last change from its own box wins."""
    b = dict(root.body, active=True)
    for r in rest:
        if r.kind == "item.changed" and r.origin == root.origin:
            b = r.body
    key = item_match_key(b["name"], b["unit"])
    return (root.id, root.origin, b["name"], b["category"], b["unit"], b["active"], key)


def write_items(entities: list[tuple[Record, list[Record]]]) -> None:
    """Write refolded catalogue entries."""
    executemany(_REPLACE_ITEM, [fold_item(root, rest) for root, rest in entities])


def fold_shift(root: Record, rest: list[Record]) -> tuple[tuple, list[tuple]]:
    """Return a shift's row and volunteer rows.

    Volunteers are an add/remove set keyed by author; the first `people` of them in the
    order they (last) joined are confirmed, the rest wait, so two boxes that both took
    the last place while apart agree on who is coming.
    """
    b = root.body
    cancelled, reason = False, None
    joined: dict[str, int] = {}
    for r in rest:
        author = r.author
        if r.kind == "shift.cancelled":
            cancelled, reason = True, r.body["reason"]
        elif r.kind == "shift.joined" and author and author not in joined:
            joined[author] = r.hlc[0]
        elif r.kind == "shift.left":
            joined.pop(author, None)
    volunteers = [
        (root.id, member, since, n < b["people"])
        for n, (member, since) in enumerate(joined.items())
    ]
    coming = min(len(joined), b["people"])
    row = (
        root.id,
        root.origin,
        b["org"],
        b["title"],
        b["start"],
        b["end"],
        b["place"],
        b["people"],
        b["bring"],
        root.author,
        root.hlc[0],
        cancelled,
        reason,
        coming,
        len(joined) - coming,
    )
    return row, volunteers


def write_shifts(entities: list[tuple[Record, list[Record]]]) -> None:
    """Write refolded shifts and replace their volunteers."""
    _write_with_children(
        entities, fold_shift, _REPLACE_SHIFT, "shift_volunteer", "shift", _INSERT_VOLUNTEER
    )
