"""Open data: every public dataset of the board as CSV or JSON, filterable by place,
type, category, time and centre.

Only what anyone can already read without signing in leaves the box this way: no
member's name or id, no contact, no post details, nothing hidden, and nothing about
rides (they never reach the board). Rows come from the projections, plus the stored
help.offered records for the time of the first offer of help, so an export made on two
synced boxes is the same. The column dictionary (open_data_columns) is the contract;
the CSV and JSON renderings are the food exports' (spreadsheet-safe CSV).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from peewee import fn

from appliance.box import Box
from appliance.dates import check_range, day_start_ms, local_day, local_time, parse_day
from appliance.errors import N_, InvalidInput, NotFound
from appliance.kinds import PLACE_MAX, POST_TYPES
from appliance.models import (
    Appeal,
    Category,
    Centre,
    ModerationEvent,
    Org,
    Place,
    Post,
    StoredRecord,
    Thanks,
)
from appliance.services import food_export
from appliance.services.centre import category_labels
from appliance.services.open_data_columns import COLUMNS, DATASETS, FILTERS, TYPES

FORMATS = ("csv", "json")
FILTER_NAMES = tuple(name for name, _ in FILTERS)
CENTRE_CHOICES = ("here", "all")


@dataclass(frozen=True)
class OpenFilters:
    place: str = ""
    type: str = ""
    category: str = ""
    from_: str = ""
    to: str = ""
    centre: str = ""  # "here", or empty for every centre

    def as_args(self) -> dict[str, str]:
        """Return the filters as URL query arguments (empty ones left out)."""
        values = {
            "place": self.place,
            "type": self.type,
            "category": self.category,
            "from": self.from_,
            "to": self.to,
            "centre": self.centre,
        }
        return {k: v for k, v in values.items() if v}


def column_names(dataset: str) -> list[str]:
    """Return a dataset's column names, in order."""
    return [name for name, _, _ in COLUMNS[dataset]]


def check_dataset(dataset: str) -> str:
    """Return the dataset name if there is such a dataset, else raise NotFound."""
    if dataset not in DATASETS:
        raise NotFound(
            N_(
                "There is no such dataset: choose posts, should, thanks, moderation, "
                "categories or places."
            )
        )
    return dataset


def read_filters(
    args: Mapping[str, str], dataset: str | None = None
) -> tuple[OpenFilters, dict[str, str]]:
    """Read the filters from query arguments: the valid ones, and what is wrong with the rest.

    With a dataset, a filter that does not apply to it is wrong too.
    """
    get = lambda name: (args.get(name) or "").strip()  # noqa: E731
    values = {name: get(name) for name in FILTER_NAMES}
    errors: dict[str, str] = {}
    if len(values["place"]) > PLACE_MAX:
        errors["place"] = N_("Please keep the place under 80 characters.")
    if values["type"] and values["type"] not in POST_TYPES:
        errors["type"] = N_("There is no such type of post: choose need, offer or should.")
    if (
        values["category"]
        and not Category.select().where(Category.slug == values["category"]).exists()
    ):
        errors["category"] = N_("There is no such category: choose one from the list.")
    check_range(values, errors, N_("Please give the date as YYYY-MM-DD, like 2026-03-01."))
    if values["centre"] and values["centre"] not in CENTRE_CHOICES:
        errors["centre"] = N_("Choose here (this centre only) or all (every centre).")
    if values["centre"] == "all":
        values["centre"] = ""
    if dataset is not None:
        applies = DATASETS[dataset]["filters"]
        for name in FILTER_NAMES:
            if values[name] and name not in applies and name not in errors:
                errors[name] = (
                    N_("The “somebody should” dataset holds only should posts: leave type empty.")
                    if (dataset, name) == ("should", "type")
                    else N_("This dataset cannot be narrowed by this filter: leave it empty.")
                )
    for name in errors:
        values[name] = ""
    return (
        OpenFilters(
            values["place"],
            values["type"],
            values["category"],
            values["from"],
            values["to"],
            values["centre"],
        ),
        errors,
    )


def parse_filters(args: Mapping[str, str], dataset: str | None = None) -> OpenFilters:
    """Read the filters from query arguments; raise InvalidInput naming every bad one."""
    filters, errors = read_filters(args, dataset)
    if errors:
        raise InvalidInput(errors, N_("Some filters were not understood."))
    return filters


def for_dataset(filters: OpenFilters, dataset: str) -> dict[str, str]:
    """Return the query arguments of the filters that apply to a dataset."""
    applies = DATASETS[dataset]["filters"]
    return {k: v for k, v in filters.as_args().items() if k in applies}


def _centre_names() -> dict[str, str]:
    return {c.origin: c.name for c in Centre.select(Centre.origin, Centre.name)}


def filter_choices(box: Box) -> dict:
    """Return what the filter form offers: types, categories, places and centres."""
    labels = category_labels(box)
    places = sorted({p.name for p in Place.select(Place.name)}, key=str.casefold)
    centre = box.centre
    return {
        "types": list(POST_TYPES),
        "categories": sorted(labels.items(), key=lambda kv: kv[1].casefold()),
        "places": places,
        "centre": centre.name if centre else None,
    }


def dictionary(translate: Callable[[str], str] = lambda text: text) -> dict:
    """Return the column dictionary of every dataset (meanings passed through translate)."""
    return {
        dataset: {
            "title": translate(about["title"]),
            "about": translate(about["about"]),
            "filters": list(about["filters"]),
            "columns": [
                {"name": name, "type": type_, "meaning": translate(meaning)}
                for name, type_, meaning in COLUMNS[dataset]
            ],
        }
        for dataset, about in DATASETS.items()
    }


def type_names(translate: Callable[[str], str] = lambda text: text) -> dict[str, str]:
    """Return what each column type means."""
    return {name: translate(text) for name, text in TYPES.items()}


# --- building the rows ---------------------------------------------------------------


class _Context:
    """What every dataset looks up: centres, category labels, the time range, the zone."""

    def __init__(self, box: Box, filters: OpenFilters):
        self.box = box
        self.filters = filters
        self.centres = _centre_names()
        self.labels = category_labels(box)
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

    def iso(self, ms: int | None) -> str | None:
        if ms is None:
            return None
        return local_time(self.box, ms).isoformat(timespec="seconds")

    def centre(self, origin: str) -> str | None:
        return self.centres.get(origin)

    def posts_query(self, only_type: str | None = None):
        """Return the visible posts the post filters (and the centre filter) let through."""
        f = self.filters
        query = Post.select().where(Post.hidden == False)  # noqa: E712 (peewee expression)
        if only_type or f.type:
            query = query.where(Post.type == (only_type or f.type))
        if f.category:
            query = query.where(Post.category == f.category)
        if f.place:
            query = query.where(fn.lower(Post.place) == f.place.lower())
        if f.centre == "here":
            query = query.where(Post.origin == self.box.origin)
        return query


def _first_help(post_ids: list[str]) -> dict[str, int]:
    """Return {post id: time of its first "I can help" or "I'm on it"}, from the records.

    The helpers table holds who helps now; an offer withdrawn later still counts here.
    """
    first: dict[str, int] = {}
    for start in range(0, len(post_ids), 500):
        chunk = post_ids[start : start + 500]
        rows = (
            StoredRecord.select(StoredRecord.aggregate, fn.MIN(StoredRecord.hlc_ms).alias("ms"))
            .where((StoredRecord.kind == "help.offered") & StoredRecord.aggregate.in_(chunk))
            .group_by(StoredRecord.aggregate)
            .tuples()
        )
        first.update(dict(rows))
    return first


def _post_rows(ctx: _Context, only_type: str | None = None) -> list[dict]:
    query = ctx.in_range(ctx.posts_query(only_type), Post.created_ms)
    posts = list(query.order_by(Post.created_ms, Post.id))
    first = _first_help([p.id for p in posts])
    org_ids = {p.org for p in posts if p.org}
    orgs = {o.id: o.name for o in Org.select(Org.id, Org.name).where(Org.id.in_(org_ids))}
    return [
        {
            "id": p.id,
            "centre": ctx.centre(p.origin),
            "type": p.type,
            "category": p.category,
            "category_label": ctx.labels.get(p.category, p.category),
            "place": p.place,
            "title": p.title,
            "status": p.status,
            "created": ctx.iso(p.created_ms),
            "needed_by": p.needed_by,
            "resolved": ctx.iso(p.resolved_ms) if p.status == "resolved" else None,
            "first_help": ctx.iso(first.get(p.id)),
            "comment_count": p.comment_count,
            "helper_count": p.helper_count,
            "gone_quiet": p.stale,
            "org": orgs.get(p.org) if p.org else None,
        }
        for p in posts
    ]


def _posts(ctx: _Context) -> list[dict]:
    return _post_rows(ctx)


def _should(ctx: _Context) -> list[dict]:
    return _post_rows(ctx, "should")


def _thanks(ctx: _Context) -> list[dict]:
    posts = ctx.posts_query().select(Post.id, Post.origin)
    origin_of = {p.id: p.origin for p in posts}
    query = ctx.in_range(Thanks.select(), Thanks.created_ms)
    rows = []
    for t in query.order_by(Thanks.created_ms, Thanks.id):
        if t.post not in origin_of:  # hidden, or filtered out
            continue
        rows.append(
            {
                "id": t.id,
                "post": t.post,
                "centre": ctx.centre(origin_of[t.post]),
                "created": ctx.iso(t.created_ms),
                "message": t.message,
            }
        )
    return rows


def _moderation(ctx: _Context) -> list[dict]:
    """Return the public moderation log, oldest first: no names, titles, texts or ids."""
    here = ctx.box.origin
    events = ctx.in_range(
        ModerationEvent.select().where(ModerationEvent.honoured), ModerationEvent.at_ms
    )
    if ctx.filters.centre == "here":
        events = events.where(ModerationEvent.origin == here)
    appeals = ctx.in_range(Appeal.select().where(Appeal.outcome.is_null(False)), Appeal.decided_ms)
    events, appeals = list(events), list(appeals)
    post_ids = {e.post for e in events} | {a.post for a in appeals}
    categories = {
        p.id: p.category for p in Post.select(Post.id, Post.category).where(Post.id.in_(post_ids))
    }

    def about(post_id: str, comment_id: str | None) -> dict:
        # As on the public log: a post's category, nothing about a comment.
        slug = None if comment_id else categories.get(post_id)
        return {
            "target": "comment" if comment_id else "post",
            "category": slug,
            "category_label": ctx.labels.get(slug, slug) if slug else None,
        }

    rows = [
        {
            "at": e.at_ms,
            "entry": "decision",
            **about(e.post, e.comment),
            "action": e.action,
            "rule": e.rule if e.action == "hidden" else None,
            "by": "box" if e.by_box else "staff",
            "centre": ctx.centre(e.origin),
            "reason": e.reason,
        }
        for e in events
    ]
    # Appeals are answered where they were made (they never leave the box).
    rows += [
        {
            "at": a.decided_ms,
            "entry": "appeal",
            **about(a.post, a.comment),
            "action": a.outcome,
            "rule": None,
            "by": "staff",
            "centre": ctx.centre(here),
            "reason": None,
        }
        for a in appeals
    ]
    if ctx.filters.category:
        rows = [r for r in rows if r["category"] == ctx.filters.category]
    rows.sort(key=lambda r: (r["at"], r["entry"]))
    for r in rows:
        r["at"] = ctx.iso(r["at"])
    return rows


def _listed(ctx: _Context, model, name_field, row) -> list[dict]:
    query = model.select()
    if ctx.filters.centre == "here":
        query = query.where(model.origin == ctx.box.origin)
    rows = [row(x) for x in query]
    return sorted(rows, key=lambda r: ((r["centre"] or "").casefold(), r[name_field].casefold()))


def _categories(ctx: _Context) -> list[dict]:
    def row(c: Category) -> dict:
        return {
            "centre": ctx.centre(c.origin),
            "slug": c.slug,
            "label": c.label,
            "active": c.active,
        }

    return _listed(ctx, Category, "label", row)


def _places(ctx: _Context) -> list[dict]:
    def row(p: Place) -> dict:
        return {"centre": ctx.centre(p.origin), "name": p.name, "active": p.active}

    return _listed(ctx, Place, "name", row)


_BUILDERS = {
    "posts": _posts,
    "should": _should,
    "thanks": _thanks,
    "moderation": _moderation,
    "categories": _categories,
    "places": _places,
}
assert set(_BUILDERS) == set(DATASETS)


def export(box: Box, dataset: str, args: Mapping[str, str] | None = None) -> food_export.Export:
    """Return one dataset's rows, filtered by query arguments.

    Raises NotFound for an unknown dataset and InvalidInput naming every bad filter
    (including one the dataset does not take).
    """
    check_dataset(dataset)
    filters = parse_filters(args or {}, dataset)
    ctx = _Context(box, filters)
    rows = _BUILDERS[dataset](ctx)
    return food_export.Export(
        dataset, column_names(dataset), rows, filters, ctx.iso(box.log.now_ms())
    )


def everything(box: Box) -> dict[str, dict]:
    """Return every dataset unfiltered: {dataset: {"columns": [...], "rows": [...]}}."""
    out = {}
    for dataset in DATASETS:
        data = food_export.as_json(export(box, dataset))
        out[dataset] = {"columns": data["columns"], "rows": data["rows"]}
    return out


# The renderings are the food exports': the same JSON shape, the same safe CSV.
as_csv = food_export.as_csv
as_json = food_export.as_json


def filename(box: Box, dataset: str, fmt: str) -> str:
    """Return the download's file name: the dataset and today's date in the centre's zone."""
    return f"kith-open-{dataset}-{local_day(box).isoformat()}.{fmt}"
