"""One page of headline figures for every area, each linking to its detailed page.

- "Somebody should" (this centre, the last 12 weeks: should_insight's default filters):
  posts reported, resolved, and the median time to resolution.
- Food banks (every centre the box knows, as the balance does): needs still open (from
  food_balance.open_lines), needs covered this calendar month (closed by pledges or by
  an organiser), and the categories whose demand is rising (food_trends.rising).
- Travel, for coordinators and staff only (ride_access.is_coordinator decides, as
  travel_insight.require_insight does): the
  journeys of this calendar month so far and the share volunteers could not cover, with
  travel_insight's own suppression (counted by riders).

Public figures name nobody and suppress small counts as the detailed pages do (fewer
than 3 posts: "fewer than 3"); staff see the exact counts, as on the "should" page.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.dates import day_start_ms, local_day
from appliance.models import Post
from appliance.services import (
    food_balance,
    food_trends,
    ride_access,
    should_insight,
    travel_insight,
)
from appliance.services.accounts import Actor

TRAVEL_WEEKS = 8  # the window travel_insight looks through: a whole month fits in it


def _should(box: Box, actor: Actor | None, now: int) -> dict:
    data = should_insight.insight(box, actor, {}, now)
    totals = data["totals"]
    return {
        "from": data["from"],
        "to": data["to"],
        "reported": totals["reported"],
        "resolved": totals["resolved"],
        "resolution": totals["resolution"]["median"],
    }


def _food(box: Box, exact: bool, now: int) -> dict:
    open_needs = {line.post for line in food_balance.open_lines(box, "need", now)}
    month_start = day_start_ms(box, local_day(box, now).replace(day=1))
    covered = (
        Post.select()
        .where(
            (Post.type == "need")
            & Post.org.is_null(False)
            & (Post.hidden == False)  # noqa: E712 (peewee expression)
            & (Post.status == "resolved")
            & (Post.resolved_ms >= month_start)
            & (Post.resolved_ms <= now)
        )
        .count()
    )
    rising = food_trends.rising(box, now)
    return {
        "open_needs": should_insight.fig(len(open_needs), len(open_needs), exact),
        "covered_month": should_insight.fig(covered, covered, exact),
        "rising": [w["label"] for w in rising],
    }


def _travel(box: Box, actor: Actor | None, now: int) -> dict | None:
    if not ride_access.is_coordinator(actor):
        return None  # a visitor or member sees no travel figures, not even that they exist
    _, found = travel_insight.journeys(box, TRAVEL_WEEKS, now)
    month = local_day(box, now).isoformat()[:7]
    found = [j for j in found if j["date"][:7] == month]
    not_covered = [j for j in found if j["outcome"] != "volunteer"]
    return {
        "month": month,
        "journeys": travel_insight.count(found),
        "not_covered": travel_insight.share(not_covered, found),
    }


def overview(box: Box, actor: Actor | None, now_ms: int | None = None) -> dict:
    """Return the headline figures of each area the viewer may see."""
    now = box.log.now_ms() if now_ms is None else now_ms
    exact = bool(actor and actor.is_staff)
    return {
        "exact": exact,
        "today": local_day(box, now).isoformat(),
        "month_start": local_day(box, now).replace(day=1).isoformat(),
        "should": _should(box, actor, now),
        "food": _food(box, exact, now),
        "travel": _travel(box, actor, now),
    }
