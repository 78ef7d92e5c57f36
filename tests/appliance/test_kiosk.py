"""The kiosk's choices without HTTP: what each part of the screen shows, and in what order,
and the address its QR code gives phones."""

from __future__ import annotations

import datetime

import pytest
from boxes import START_MS, member, trust
from recordmaker import DAY_MS, Origin

from appliance.models import Peer
from appliance.services import board, catalogue, kiosk, moderation, orgs, peers

HOUR_MS = 3_600_000


@pytest.fixture
def poster(box):
    return member(box, "Alice")


@pytest.fixture
def helper(box):
    return member(box, "Bob")


def day(box, days: int) -> str:
    """Return the ISO date `days` after the box's today."""
    return (board.today(box) + datetime.timedelta(days=days)).isoformat()


def post(box, who, title, type="need", category="household", needed_by=None) -> str:
    data = {
        "type": type,
        "title": title,
        "details": "",
        "category": category,
        "place": "Elm Road",
        "needed_by": needed_by or "",
    }
    return board.create_post(box, who, data)


def titles(items) -> list[str]:
    return [item["title"] for item in items]


def rotation(box) -> list[tuple[str, str]]:
    return [(item["title"], item["reason"]) for item in kiosk.screen(box)["rotation"]]


# --- the big panel ---------------------------------------------------------------------


def test_rotation_puts_soon_first_then_waiting_longest_then_newest(
    box, clock, poster, helper, staff
):
    # Day 0: posts that will have waited five days by the time the screen is read.
    post(box, poster, "Old need nobody answered")
    clock.advance(HOUR_MS)
    post(box, poster, "Old should nobody answered", type="should", category="local-fix")
    clock.advance(HOUR_MS)
    post(box, poster, "Old offer", type="offer")  # an offer waits for a taker, not a helper
    clock.advance(HOUR_MS)
    helped = post(box, poster, "Old need with a helper")
    board.offer_help(box, helper, helped, "can_help")
    clock.advance(HOUR_MS)
    post(box, poster, "Needed tomorrow, posted on day 0", needed_by=day(box, 6))
    clock.advance(HOUR_MS)
    post(box, poster, "Date already passed", needed_by=day(box, 2))
    clock.advance(HOUR_MS)
    done = post(box, poster, "Resolved need")
    board.resolve(box, poster, done)
    clock.advance(HOUR_MS)
    hidden = post(box, poster, "Hidden need", needed_by=day(box, 5))
    moderation.set_post_hidden(box, staff, hidden, True, "Off topic")

    clock.advance(5 * DAY_MS)
    post(box, poster, "Needed in a week", needed_by=day(box, 7))
    clock.advance(HOUR_MS)
    post(box, poster, "Needed in eight days: not soon", needed_by=day(box, 8))
    clock.advance(HOUR_MS)
    post(box, poster, "Needed today", needed_by=day(box, 0))
    clock.advance(HOUR_MS)
    handled = post(box, poster, "Needed tomorrow, someone is on it", needed_by=day(box, 1))
    board.offer_help(box, helper, handled, "on_it")
    clock.advance(HOUR_MS)
    post(box, poster, "New need, not waiting long yet")

    assert rotation(box) == [
        ("Needed today", "soon"),
        ("Needed tomorrow, posted on day 0", "soon"),
        ("Needed in a week", "soon"),
        ("Old need nobody answered", "waiting"),
        ("Old should nobody answered", "waiting"),
        ("New need, not waiting long yet", "recent"),
        ("Needed tomorrow, someone is on it", "recent"),
        ("Needed in eight days: not soon", "recent"),
        ("Old need with a helper", "recent"),
        ("Old offer", "recent"),
    ]
    shown = kiosk.screen(box)["rotation"]
    waiting, newest = shown[3], shown[5]
    assert (waiting["days_open"], waiting["posted_days_ago"]) == (5, 5)
    assert waiting["posted_day"] == "2026-01-01"
    assert (newest["days_open"], newest["posted_days_ago"]) == (0, 0)
    assert newest["posted_day"] == "2026-01-06"


def test_rotation_is_capped_in_each_part_and_in_all(box, clock, poster):
    for i in range(kiosk.WAITING_MAX + 2):
        post(box, poster, f"Waiting {i}")
        clock.advance(HOUR_MS)
    clock.advance(kiosk.WAITING_DAYS * DAY_MS)
    for i in range(kiosk.SOON_MAX + 2):
        post(box, poster, f"Soon {i}", needed_by=day(box, 1))
        clock.advance(HOUR_MS)
    for i in range(kiosk.ROTATION_MAX):
        post(box, poster, f"Recent {i}")
        clock.advance(HOUR_MS)

    shown = rotation(box)
    assert len(shown) == kiosk.ROTATION_MAX
    assert shown[: kiosk.SOON_MAX] == [(f"Soon {i}", "soon") for i in range(kiosk.SOON_MAX)]
    waiting = shown[kiosk.SOON_MAX : kiosk.SOON_MAX + kiosk.WAITING_MAX]
    assert waiting == [(f"Waiting {i}", "waiting") for i in range(kiosk.WAITING_MAX)]
    rest = shown[kiosk.SOON_MAX + kiosk.WAITING_MAX :]
    newest = kiosk.ROTATION_MAX - 1
    assert rest == [(f"Recent {newest - i}", "recent") for i in range(len(rest))]


def test_the_screen_shows_no_names_beside_posts(box, poster, staff):
    post(box, poster, "A need")
    pantry = orgs.create_org(box, staff, {"name": "Pantry", "type": "foodbank", "place": "Hall"})
    food_need(box, poster, pantry, "A food need", [(add_item(box, staff, "Rice"), 3)])
    post(box, poster, "A job", type="should", category="local-fix")
    screen = kiosk.screen(box)
    for part in ("rotation", "food", "should"):
        assert screen[part], part
        for item in screen[part]:
            assert "author" not in item
            assert "Alice" not in repr(item)


def test_posts_from_another_centre_say_where_they_are_from(box):
    east = Origin("east", start_ms=START_MS - DAY_MS)
    trust(box, east.origin)
    centre = east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"})
    body = {
        "type": "need",
        "title": "Blankets for the shelter",
        "details": "",
        "category": "household",
        "place": "East Street",
        "needed_by": None,
    }
    result = box.log.ingest([centre.line, east.make("post.created", body).line])
    assert result.ok, result.rejected
    [item] = kiosk.screen(box)["rotation"]
    assert (item["title"], item["centre"]) == ("Blankets for the shelter", "East Centre")


# --- food bank needs, "somebody should", thanks -------------------------------------------


def add_item(box, staff, name, unit="items") -> str:
    return catalogue.add_item(box, staff, {"name": name, "category": "tins", "unit": unit})


def food_need(box, who, org, title, lines, needed_by=None, type="need") -> str:
    body = {
        "type": type,
        "title": title,
        "details": "",
        "category": "food",
        "place": "Hill Road",
        "needed_by": needed_by,
        "org": org,
        "lines": [{"item": i, "qty": q} for i, q in lines],
    }
    return box.log.append("post.created", body, author=who.id).id


@pytest.fixture
def bank(box, staff):
    return orgs.create_org(
        box, staff, {"name": "Hilltop Food Bank", "type": "foodbank", "place": "Hill Road"}
    )


def test_food_needs_soonest_first_then_newest(box, clock, poster, helper, staff, bank):
    beans, pasta = add_item(box, staff, "Baked beans"), add_item(box, staff, "Pasta", "packs")
    food_need(box, poster, bank, "Pasta", [(pasta, 10)])
    clock.advance(HOUR_MS)
    rice = food_need(box, poster, bank, "Rice and beans", [(beans, 20), (pasta, 1)])
    board.offer_help(box, helper, rice, "on_it")  # still open until pledged
    clock.advance(HOUR_MS)
    food_need(box, poster, bank, "Tins by Friday", [(beans, 5)], needed_by=day(box, 3))
    food_need(box, poster, bank, "Milk by tomorrow", [(beans, 2)], needed_by=day(box, 1))
    food_need(box, poster, bank, "Bread, offered", [(beans, 4)], type="offer")
    post(box, poster, "A board post in food, no food bank", category="food")
    covered = food_need(box, poster, bank, "Nappies, all pledged", [(beans, 3)])
    body = {"item": beans, "qty": 3, "bring_on": None}
    box.log.append("pledge.made", body, subject=covered, author=helper.id)
    done = food_need(box, poster, bank, "Closed by hand", [(beans, 3)])
    board.resolve(box, staff, done)  # an organisation's need: its organisers or staff close it
    hidden = food_need(box, poster, bank, "Hidden", [(beans, 3)])
    moderation.set_post_hidden(box, staff, hidden, True, "Twice")
    food_need(box, poster, bank, "Too late", [(beans, 3)], needed_by=day(box, -1))
    box.log.append(
        "pledge.made", {"item": beans, "qty": 15, "bring_on": None}, subject=rice, author=helper.id
    )

    food = kiosk.screen(box)["food"]
    assert titles(food) == ["Milk by tomorrow", "Tins by Friday", "Rice and beans", "Pasta"]
    assert [f["org"] for f in food] == ["Hilltop Food Bank"] * 4
    assert [[(a["qty"], a["name"], a["unit"]) for a in f["missing"]] for f in food] == [
        [(2, "Baked beans", "items")],
        [(5, "Baked beans", "items")],
        [(5, "Baked beans", "items"), (1, "Pasta", "packs")],
        [(10, "Pasta", "packs")],
    ]
    assert food[3]["missing"][0]["phrase"] == (
        "%(num)d pack of %(item)s",
        "%(num)d packs of %(item)s",
    )


def test_food_needs_are_capped_and_so_are_their_items(box, poster, staff, bank):
    things = [add_item(box, staff, f"Thing {i}") for i in range(kiosk.FOOD_LINES_MAX + 2)]
    for i in range(kiosk.FOOD_MAX + 2):
        food_need(box, poster, bank, f"Food {i}", [(t, 1) for t in things])
    food = kiosk.screen(box)["food"]
    assert len(food) == kiosk.FOOD_MAX
    assert len(food[0]["missing"]) == kiosk.FOOD_LINES_MAX
    assert food[0]["more_missing"] == 2


def test_the_appeal_line_has_what_this_centres_banks_miss_most(box, poster, staff, bank):
    beans, pasta = add_item(box, staff, "Baked beans"), add_item(box, staff, "Pasta", "packs")
    nappies, soup = add_item(box, staff, "Nappies", "packs"), add_item(box, staff, "Soup")
    food_need(box, poster, bank, "Tins", [(beans, 25), (soup, 4)])
    food_need(box, poster, bank, "More tins", [(beans, 5), (nappies, 8)])
    food_need(box, poster, bank, "Pasta", [(pasta, 10)])
    shop = orgs.create_org(box, staff, {"name": "Shop", "type": "shop", "place": "High St"})
    food_need(box, poster, shop, "A shop's own need", [(soup, 99)])  # not a food bank
    appeal = kiosk.screen(box)["appeal"]
    assert [(a["qty"], a["name"]) for a in appeal] == [
        (30, "Baked beans"),
        (10, "Pasta"),
        (8, "Nappies"),
    ]


def test_somebody_should_lists_jobs_nobody_is_on_waiting_longest_first(box, clock, poster, helper):
    def should(title):
        clock.advance(HOUR_MS)
        return post(box, poster, title, type="should", category="local-fix")

    should("Clear the drain")
    taken = should("Fix the light")
    board.offer_help(box, helper, taken, "on_it")
    maybe = should("Paint the crossing")
    board.offer_help(box, helper, maybe, "can_help")  # nobody is on it yet
    post(box, poster, "A need, not a job")
    should("Pick litter")

    assert titles(kiosk.screen(box)["should"]) == [
        "Clear the drain",
        "Paint the crossing",
        "Pick litter",
    ]


def test_thank_you_wall_has_recent_thanks_and_resolved_posts_newest_first(
    box, clock, poster, helper, staff
):
    old = post(box, poster, "Long ago")
    board.resolve(box, poster, old, "Sorted back then")
    clock.advance((kiosk.WALL_DAYS + 1) * DAY_MS)

    thanked = post(box, poster, "Ladder")
    board.offer_help(box, helper, thanked, "on_it")
    board.resolve(box, poster, thanked, "Bob lent one")
    clock.advance(HOUR_MS)
    board.thank(box, poster, thanked, helper.id, "Thanks Bob, gutter's clear!")
    clock.advance(HOUR_MS)
    quiet = post(box, poster, "Lost cat")
    board.resolve(box, poster, quiet, "She came home")
    clock.advance(HOUR_MS)
    hidden = post(box, poster, "Hidden one")
    board.resolve(box, poster, hidden, "")
    moderation.set_post_hidden(box, staff, hidden, True, "Private")

    assert kiosk.screen(box)["wall"] == [
        {
            "kind": "resolved",
            "at_ms": START_MS + (kiosk.WALL_DAYS + 1) * DAY_MS + 2 * HOUR_MS,
            "title": "Lost cat",
            "message": "She came home",
        },
        {
            "kind": "thanks",
            "at_ms": START_MS + (kiosk.WALL_DAYS + 1) * DAY_MS + HOUR_MS,
            "title": "Ladder",
            "message": "Thanks Bob, gutter's clear!",
            "from": "Alice",
            "to": "Bob",
        },
    ]


def test_freshness_names_each_paired_centre(box, clock):
    east = Origin("east")
    peers.remember(box, east.origin, "East Centre", "http://127.0.0.1:9/")
    assert kiosk.screen(box)["freshness"] == []  # met, not paired
    trust(box, east.origin)
    assert kiosk.screen(box)["freshness"] == [{"name": "East Centre", "last_sync_ms": None}]
    peers.note_sync(box, east.origin, 3, 1, None)
    assert Peer.get().last_sync_ms == START_MS
    assert kiosk.screen(box)["freshness"] == [{"name": "East Centre", "last_sync_ms": START_MS}]


def test_an_empty_board(box):
    assert kiosk.screen(box) == {
        "rotation": [],
        "food": [],
        "appeal": [],
        "should": [],
        "wall": [],
        "freshness": [],
    }


# --- the address phones open ------------------------------------------------------------


SETTINGS = {"public_url": ""}


def test_the_lan_address_with_the_boxs_name_as_the_other_way():
    address = kiosk.board_address(SETTINGS, 8080, lambda: "192.168.1.20", hostname="kith")
    assert address == kiosk.Address("http://192.168.1.20:8080/", "http://kith.local:8080/")


def test_port_80_is_left_out_and_a_domain_hostname_is_cut_to_its_name():
    address = kiosk.board_address(SETTINGS, 80, lambda: "10.0.0.7", hostname="kith.lan")
    assert address == kiosk.Address("http://10.0.0.7/", "http://kith.local/")


def test_an_ipv6_lan_address_is_bracketed():
    address = kiosk.board_address(SETTINGS, 8080, lambda: "fd00::7", hostname="kith")
    assert address.url == "http://[fd00::7]:8080/"


@pytest.mark.parametrize("found", [None, "127.0.0.1", "0.0.0.0", "169.254.1.1", "::1", "junk"])
def test_without_a_usable_lan_address_the_name_is_the_address(found):
    address = kiosk.board_address(SETTINGS, 8080, lambda: found, hostname="kith")
    assert address == kiosk.Address("http://kith.local:8080/")


def test_the_public_url_setting_wins():
    def never():
        raise AssertionError("the LAN address is not needed")

    settings = {"public_url": "http://board.millbrook.example/"}
    address = kiosk.board_address(settings, 8080, never, hostname="kith")
    assert address == kiosk.Address("http://board.millbrook.example/")


def test_lan_ip_asks_the_kernel_and_skips_probes_without_a_route():
    # Only loopback and broadcast: connecting a UDP socket sends nothing anyway, and the
    # broadcast address is refused (no SO_BROADCAST) as an unroutable probe would be.
    assert kiosk.lan_ip([("127.0.0.1", 9)]) == "127.0.0.1"
    assert kiosk.lan_ip([("255.255.255.255", 9), ("127.0.0.1", 9)]) == "127.0.0.1"
    assert kiosk.lan_ip([("255.255.255.255", 9)]) is None


def test_the_qr_code_is_a_scalable_svg_with_a_title():
    svg = kiosk.qr_svg("http://192.168.1.20:8080/", "QR code for http://192.168.1.20:8080/")
    text = svg.decode()
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ')
    assert "<title>QR code for http://192.168.1.20:8080/</title>" in text
    assert "width=" not in text  # sized by the page
    assert 'fill="#fff"' in text and 'stroke="#000"' in text  # dark on light for cameras


def test_a_public_url_must_be_a_web_address():
    from appliance.settings import SettingsError, load

    assert load(None, {"public_url": "http://10.0.0.9:8080/"})["public_url"] == (
        "http://10.0.0.9:8080/"
    )
    with pytest.raises(SettingsError, match="public_url must start with http:// or https://"):
        load(None, {"public_url": "kith.local:8080"})
