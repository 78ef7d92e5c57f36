"""No ride and nothing personal in any public output, on the demo box.

A visitor (signed in as nobody) fetches every GET route of the app, each route with a
parameter filled with the demo's real ids (posts, organisations, shifts, comments,
datasets, HSDS ids...), plus the open data downloads, a signed dump and Open311's
requests; every answer is searched for the demo's personal values: members' contact
details, riders' addresses and notes, and the areas rides go from and to. Names are not
searched for: the board shows who posted, as a notice board does.
"""

from __future__ import annotations

import datetime

import pytest

from appliance import demo, demo_travel
from appliance.commands.core import init_box
from appliance.models import Comment, Org, Post, Proposal, Ride, Shift
from appliance.services import food_charts, hsds, open_dump, should_insight, travel_insight
from appliance.services.open_data_columns import DATASETS as OPEN_DATASETS
from web import create_app

NOW = datetime.datetime(2027, 3, 17, 12, 0, tzinfo=datetime.UTC)


def personal_values() -> set[str]:
    """The demo's contact details, and riders' addresses and notes to their drivers.

    Ride areas are coarse (a town, an estate) and many are public places or names of
    organisations too, so they cannot be told apart in text; the ride privacy sweep
    (tests/web/test_ride_privacy.py) checks them route by route instead.
    """
    values = {c for _, _, c in demo.PEOPLE if c} | {c for _, c in demo_travel.NEW_PEOPLE if c}
    for ride in demo_travel.REGULAR:
        values |= {ride["from"][1], ride["notes"]}
        if ride["to"][1] != ride["to"][0]:  # a public place's own address is not secret
            values.add(ride["to"][1])
    return values


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    real_ms = int(NOW.timestamp() * 1000)
    box = init_box(
        tmp_path_factory.mktemp("public") / "box",
        "Millbrook Community Centre",
        "Sam Patel",
        demo.DEMO_PASSWORD,
        now_ms=demo.history_clock(real=lambda: real_ms),
    )
    demo.fill(box)
    box.log.now_ms = lambda: real_ms
    open_dump.write_dump(box, NOW.date())
    app = create_app(box, {"TESTING": True})
    return box, app


# Route parameters the sweep does not fill, and why: personal feeds need their owner's
# token (tests/web/test_ride_privacy.py tries them with wrong ones), and a member id
# names a person's page (staff only, or the member themself).
NOT_PUBLIC_PARAMS = {"member_id", "token", "token_id", "appeal_id", "hide_id", "rest"}


def filled(box, rule) -> list[str]:
    """The URLs of a route with each parameter given every real id it may take."""
    visible = Post.select().where(Post.hidden == False)  # noqa: E712
    post = visible.first()
    should = visible.where(Post.type == "should").first()
    org = Org.select().first()
    shift = Shift.select().first()
    comment = Comment.select().where(Comment.hidden == False).first()  # noqa: E712
    ride = Ride.select().first()
    fillers = {
        "post_id": [post.id, should.id],
        "org_id": [org.id, hsds.hsds_id("organization", org.id)],
        "shift_id": [shift.id],
        "comment_id": [comment.id],
        "ride_id": [ride.id],
        "dataset": sorted(OPEN_DATASETS) + ["needs", "supplies", "pledges", "shifts"],
        "service_id": [hsds.hsds_id("service", f"{org.id}/posts")],
        "service_code": ["local-fix", "food"],
        "version": [1, 2],
        "proposal_id": [p.id for p in Proposal.select()],
        "chart": sorted(
            {*should_insight.CHARTS, *food_charts.chart_names(), *travel_insight.chart_names()}
        ),
        "table": list(should_insight.TABLES),
        "name": [open_dump.dump_name(NOW.date()).removesuffix(".json")],
    }
    names = sorted(rule.arguments)
    if set(names) & NOT_PUBLIC_PARAMS:
        return []
    unknown = [n for n in names if n not in fillers]
    assert not unknown, f"{rule.rule}: give the sweep a value for {unknown}"
    urls = [{}]
    for n in names:
        urls = [{**u, n: v} for u in urls for v in fillers[n]]
    return [rule.build(u, append_unknown=False)[1] for u in urls]


def test_no_public_output_holds_a_ride_or_contact_details(demo_app):
    box, app = demo_app
    client = app.test_client()
    secrets = personal_values()
    assert len(secrets) > 10  # the search has something to find
    urls: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/static/"):
            continue
        urls += [rule.rule] if not rule.arguments else filled(box, rule)
    urls += [
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml?status=closed",
        "/open/data/posts.json?centre=all",
        "/api/v1/posts?status=all",
        "/insight/should?scope=all",
    ]
    dumps = client.get("/open/data/dumps").get_data(as_text=True)
    assert "kith-open-data-" in dumps
    checked = 0
    for url in sorted(set(urls)):
        response = client.get(url)
        assert response.status_code < 500, url
        if response.status_code >= 300:
            continue
        body = response.get_data(as_text=True)
        for value in secrets:
            assert value not in body, (url, value)
        checked += 1
    assert checked > 60  # the sweep really reached the outputs
