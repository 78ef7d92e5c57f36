"""The demo's food banks show a newcomer something real on every food page.

`kith demo` on an empty directory stamps ten weeks of food bank history up to the end
of last week, so the trends have demand and supply in every recent week, a rising
category and a short week, the balance has matches to act on, and the appeal has
something to ask for. These are the issue's "done when" for the demo.
"""

from __future__ import annotations

import datetime

import pytest
from boxes import activate

from appliance import demo
from appliance.box import Box
from appliance.cli import main
from appliance.commands.core import init_box
from appliance.models import Org, Pledge, Post, Shift
from appliance.services import food_appeal, food_balance, food_trends


@pytest.fixture(scope="module")
def demo_made(tmp_path_factory) -> Box:
    path = tmp_path_factory.mktemp("demo") / "box"
    assert main(["--data", str(path), "demo"]) == 0
    return Box.open(path)


@pytest.fixture
def demo_box(demo_made) -> Box:
    """The demo box, its database the open one (another test may have opened its own)."""
    return activate(demo_made)


def test_three_food_banks_and_a_shop_over_ten_weeks(demo_box):
    assert sorted(o.type for o in Org.select()) == ["foodbank", "foodbank", "foodbank", "shop"]
    food = Post.select().where(Post.org.is_null(False))
    weeks = (max(p.created_ms for p in food) - min(p.created_ms for p in food)) / (7 * 86_400_000)
    assert weeks > 8
    assert Pledge.select().where(Pledge.kind == "pledge").count() > 50
    assert Pledge.select().where(Pledge.kind == "claim").count() >= 30  # three a week
    assert Shift.select().count() >= 10


def test_trends_warn_of_rising_baby_demand_and_short_shifts(demo_box):
    warnings = food_trends.warnings(demo_box)
    rising = [w["category"] for w in warnings if w["kind"] == "rising"]
    assert rising == ["baby"]  # nappies, and nothing else: the other lists are steady
    assert any(w["kind"] == "short_week" for w in warnings)
    weeks = food_trends.weekly(demo_box)
    assert sum(1 for w in weeks if w["demand"]["value"]) >= 8


def recent_weeks_are_shown(box: Box, now_ms: int | None = None) -> list[str]:
    """Return what is wrong with the trends of the last ten weeks (nothing, if all well)."""
    wrong = []
    for week in food_trends.weekly(box, now_ms=now_ms)[-10:]:
        for side in ("demand", "supply"):
            if week[side]["suppressed"] or not week[side]["value"]:
                wrong.append(f"{week['key']} {side}: {week[side]}")
    return wrong


def test_every_recent_week_has_demand_and_supply_to_show(demo_box):
    # No week of the last ten has nothing (the chart would drop to zero), and every
    # "Offered" figure stands on at least three supplies (fewer would be suppressed).
    assert recent_weeks_are_shown(demo_box) == []


@pytest.mark.parametrize(
    "now",
    [
        datetime.datetime(2026, 3, 2, 0, 30, tzinfo=datetime.UTC),  # a Monday, just begun
        datetime.datetime(2026, 3, 8, 23, 30, tzinfo=datetime.UTC),  # a Sunday, nearly over
    ],
)
def test_recent_weeks_are_full_whatever_the_day_the_demo_is_made(tmp_path, now):
    real_ms = int(now.timestamp() * 1000)
    box = init_box(
        tmp_path / "box",
        "Millbrook Community Centre",
        "Sam Patel",
        demo.DEMO_PASSWORD,
        now_ms=demo.history_clock(real=lambda: real_ms),
    )
    demo.fill(box)
    assert recent_weeks_are_shown(box, real_ms) == []
    assert max(p.created_ms for p in Post.select()) <= real_ms


def test_balance_matches_the_shops_beans_to_a_banks_need(demo_box):
    sentences = [food_balance.describe_match(m) for m in food_balance.balance(demo_box)["matches"]]
    assert "Mistry's Corner Shop has 40 × Baked beans on offer; Millbrook Food Bank needs 25." in (
        sentences
    )
    assert any(s.startswith("Hilltop Larder has 15 kg of Rice") for s in sentences)


def test_the_appeal_asks_for_nappies(demo_box):
    text = food_appeal.appeal(demo_box)["text"]
    assert "Nappies" in text and "Millbrook Food Bank needs" in text
