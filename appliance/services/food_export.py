"""Exports of the food bank data: needs, supplies, pledges and shifts as CSV or JSON.

Everything here is what the board already shows anyone: no member's name or id leaves
the box this way (a pledge row says how much of what, not who). Hidden posts and their
pledges are left out. Rows come from the projections only, so an export made on two
synced boxes is the same. The column dictionary (food_export_columns.COLUMNS) is the
contract: the page shows it, a test checks it against the headers, and a column is only
ever added.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Mapping
from dataclasses import dataclass

from appliance.box import Box
from appliance.dates import check_range, day_start_ms, local_day, local_time, parse_day
from appliance.errors import N_, InvalidInput, NotFound
from appliance.kinds import ITEM_CATEGORIES
from appliance.models import Centre, Item, Org, Pledge, Post, PostLine, Shift
from appliance.services.catalogue import CATEGORY_LABELS
from appliance.services.food_export_columns import COLUMNS, DATASETS, FILTERS

FORMATS = ("csv", "json")
FILTER_NAMES = tuple(name for name, _ in FILTERS)
# A spreadsheet runs a cell starting with these as a formula: a title typed on the board
# must never become one on a staff member's computer.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportFilters:
    bank: str = ""
    category: str = ""
    from_: str = ""
    to: str = ""

    def as_args(self) -> dict[str, str]:
        """Return the filters as URL query arguments (empty ones left out)."""
        values = {"bank": self.bank, "category": self.category, "from": self.from_, "to": self.to}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Export:
    """One dataset's rows (dicts keyed by column name) and the filters that made them."""

    dataset: str
    columns: list[str]
    rows: list[dict]
    filters: ExportFilters
    generated: str


def column_names(dataset: str) -> list[str]:
    """Return a dataset's column names, in order."""
    return [name for name, _ in COLUMNS[dataset]]


def check_dataset(dataset: str) -> str:
    """Return the dataset name if there is such an export, else raise NotFound."""
    if dataset not in DATASETS:
        raise NotFound(N_("There is no such export: choose needs, supplies, pledges or shifts."))
    return dataset


def read_filters(
    args: Mapping[str, str], dataset: str | None = None
) -> tuple[ExportFilters, dict[str, str]]:
    """Read the filters from query arguments: the valid ones, and what is wrong with the rest."""
    get = lambda name: (args.get(name) or "").strip()  # noqa: E731
    values = {name: get(name) for name in FILTER_NAMES}
    errors: dict[str, str] = {}
    if values["bank"] and Org.get_or_none(Org.id == values["bank"]) is None:
        errors["bank"] = N_("There is no such organisation: choose one from the list.")
    if values["category"] and values["category"] not in ITEM_CATEGORIES:
        errors["category"] = N_("There is no such item category: choose one from the list.")
    elif values["category"] and dataset == "shifts":
        errors["category"] = N_("Shifts have no items, so they cannot be filtered by category.")
    check_range(values, errors, N_("Please give the date as YYYY-MM-DD, like 2026-03-01."))
    for name in errors:
        values[name] = ""
    return ExportFilters(values["bank"], values["category"], values["from"], values["to"]), errors


def parse_filters(args: Mapping[str, str], dataset: str | None = None) -> ExportFilters:
    """Read the filters from query arguments; raise InvalidInput naming every bad one."""
    filters, errors = read_filters(args, dataset)
    if errors:
        raise InvalidInput(errors, N_("Some filters were not understood."))
    return filters


def for_dataset(filters: ExportFilters, dataset: str) -> dict[str, str]:
    """Return the query arguments of the filters that apply to a dataset."""
    args = filters.as_args()
    if dataset == "shifts":
        args.pop("category", None)
    return args


def _centre_names() -> dict[str, str]:
    """Return {origin: centre name} for every centre this box knows, its own included."""
    return {c.origin: c.name for c in Centre.select()}


def filter_choices() -> dict:
    """Return what the filter form offers: organisations and item categories."""
    centres = _centre_names()
    orgs = sorted(Org.select(), key=lambda o: (o.name.casefold(), centres.get(o.origin, "")))
    return {
        "orgs": [{"id": o.id, "name": o.name, "centre": centres.get(o.origin)} for o in orgs],
        "categories": [(slug, CATEGORY_LABELS[slug]) for slug in ITEM_CATEGORIES],
    }


# --- building the rows ---------------------------------------------------------------


class _Context:
    """What every dataset looks up: organisations, their centres, items, the time zone."""

    def __init__(self, box: Box, filters: ExportFilters):
        self.box = box
        self.filters = filters
        centres = _centre_names()
        self.orgs = {o.id: (o.name, centres.get(o.origin)) for o in Org.select()}
        self.items = {i.id: i for i in Item.select()}
        self.start_ms = self.end_ms = None
        if filters.from_:
            self.start_ms = day_start_ms(box, parse_day(filters.from_))
        if filters.to:
            self.end_ms = day_start_ms(box, parse_day(filters.to) + datetime.timedelta(days=1))

    def in_range(self, query, field):
        """Return the query narrowed to rows whose timestamp field lies within from/to."""
        if self.start_ms is not None:
            query = query.where(field >= self.start_ms)
        if self.end_ms is not None:
            query = query.where(field < self.end_ms)
        return query

    def iso(self, ms: int) -> str:
        return local_time(self.box, ms).isoformat(timespec="seconds")

    def day(self, ms: int) -> str:
        return local_day(self.box, ms).isoformat()

    def org(self, org_id: str | None) -> dict:
        name, centre = self.orgs.get(org_id, (None, None))
        return {"org_id": org_id, "org": name, "org_centre": centre}

    def item(self, item_id: str | None) -> dict:
        item = self.items.get(item_id)
        if item is None:  # no item (a need for volunteers), or not synced here yet
            return {"item": None, "category": None, "unit": None}
        return {"item": item.name, "category": item.category, "unit": item.unit}

    def wanted(self, item_id: str | None) -> bool:
        """True if an item passes the category filter."""
        if not self.filters.category:
            return True
        item = self.items.get(item_id)
        return item is not None and item.category == self.filters.category


def _food_posts(ctx: _Context, type_: str) -> list[Post]:
    query = Post.select().where(
        (Post.type == type_) & Post.org.is_null(False) & (Post.hidden == False)  # noqa: E712 (peewee expression)
    )
    query = ctx.in_range(query, Post.created_ms)
    if ctx.filters.bank:
        query = query.where(Post.org == ctx.filters.bank)
    return list(query.order_by(Post.created_ms, Post.id))


def _lines_of(posts: list[Post]) -> dict[str, list[PostLine]]:
    lines: dict[str, list[PostLine]] = {p.id: [] for p in posts}
    ids = list(lines)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for line in PostLine.select().where(PostLine.post.in_(chunk)).order_by(PostLine.id):
            lines[line.post].append(line)
    return lines


def _post_rows(ctx: _Context, type_: str, line_row) -> list[dict]:
    posts = _food_posts(ctx, type_)
    lines_of = _lines_of(posts)
    rows = []
    for post in posts:
        lines = lines_of[post.id]
        head = {"title": post.title, **ctx.org(post.org)}
        tail = {"status": post.status, "created": ctx.iso(post.created_ms)}
        # A need without items (asking for volunteers) still gets a row, items empty.
        for line in lines or [None]:
            item_id = line.item if line else None
            if ctx.wanted(item_id):
                rows.append(line_row(post, line, {**head, **ctx.item(item_id)}, tail))
    return rows


def _needs(ctx: _Context) -> list[dict]:
    def row(post, line, common, tail):
        qty, covered = (line.qty, line.covered) if line else (None, None)
        missing = qty - covered if line else None
        counts = {"qty": qty, "covered": covered, "missing": missing}
        return {"need": post.id, **common, **counts, "needed_by": post.needed_by, **tail}

    return _post_rows(ctx, "need", row)


def _supplies(ctx: _Context) -> list[dict]:
    def row(post, line, common, tail):
        offered, claimed = (line.qty, line.covered) if line else (None, None)
        left = offered - claimed if line else None
        counts = {"offered": offered, "claimed": claimed, "left": left}
        return {
            "supply": post.id,
            **common,
            "place": post.place,
            **counts,
            "use_by": post.use_by,
            **tail,
        }

    return _post_rows(ctx, "offer", row)


def _pledges(ctx: _Context) -> list[dict]:
    query = (
        Pledge.select(Pledge, Post.org.alias("post_org"))
        .join(Post, on=(Pledge.post == Post.id))
        .where(Post.org.is_null(False) & (Post.hidden == False))  # noqa: E712
    )
    query = ctx.in_range(query, Pledge.created_ms)
    if ctx.filters.bank:
        query = query.where((Post.org == ctx.filters.bank) | (Pledge.org == ctx.filters.bank))
    rows = []
    for p in query.order_by(Pledge.created_ms, Pledge.id).objects():
        if not ctx.wanted(p.item):
            continue
        owner = ctx.org(p.post_org)
        claimer = ctx.org(p.org) if p.org else {"org_id": None, "org": None}
        rows.append(
            {
                "id": p.id,
                "post": p.post,
                "kind": p.kind,
                "org_id": owner["org_id"],
                "org": owner["org"],
                **ctx.item(p.item),
                "qty": p.qty,
                "counted": p.counted,
                "bring_on": p.bring_on,
                "date": ctx.day(p.created_ms),
                "claim_org_id": claimer["org_id"],
                "claim_org": claimer["org"],
            }
        )
    return rows


def _shifts(ctx: _Context) -> list[dict]:
    query = ctx.in_range(Shift.select(), Shift.start_ms)
    if ctx.filters.bank:
        query = query.where(Shift.org == ctx.filters.bank)
    return [
        {
            "id": s.id,
            **ctx.org(s.org),
            "title": s.title,
            "start": ctx.iso(s.start_ms),
            "end": ctx.iso(s.end_ms),
            "place": s.place,
            "bring": s.bring,
            "people": s.people,
            "coming": s.coming,
            "waiting": s.waiting,
            "cancelled": s.cancelled,
        }
        for s in query.order_by(Shift.start_ms, Shift.id)
    ]


_BUILDERS = {"needs": _needs, "supplies": _supplies, "pledges": _pledges, "shifts": _shifts}


def export(box: Box, dataset: str, args: Mapping[str, str] | None = None) -> Export:
    """Return one dataset's rows, filtered by query arguments (bank, category, from, to).

    Raises NotFound for an unknown dataset and InvalidInput naming every bad filter.
    """
    check_dataset(dataset)
    filters = parse_filters(args or {}, dataset)
    ctx = _Context(box, filters)
    rows = _BUILDERS[dataset](ctx)
    columns = column_names(dataset)
    return Export(dataset, columns, rows, filters, ctx.iso(box.log.now_ms()))


# --- the two renderings --------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return str(value)


def as_csv(data: Export) -> str:
    """Render an export as CSV (RFC 4180): a header row of column names, then the rows.

    It starts with a byte order mark so spreadsheet programs read the UTF-8 correctly,
    and a text cell that a spreadsheet would run as a formula starts with an apostrophe.
    """
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(data.columns)
    for row in data.rows:
        writer.writerow([_cell(row[name]) for name in data.columns])
    return out.getvalue()


def as_json(data: Export) -> dict:
    """Render an export as a JSON object: dataset, filters, columns and rows (objects)."""
    return {
        "dataset": data.dataset,
        "generated": data.generated,
        "filters": data.filters.as_args(),
        "columns": data.columns,
        "rows": [{name: row[name] for name in data.columns} for row in data.rows],
    }


def filename(box: Box, dataset: str, fmt: str) -> str:
    """Return the download's file name: the dataset and today's date in the centre's zone."""
    return f"kith-food-{dataset}-{local_day(box).isoformat()}.{fmt}"
