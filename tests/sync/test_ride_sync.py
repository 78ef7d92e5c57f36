"""Rides across two real boxes: a request at one centre, taken by a driver of the other.

Box A (Centre A) has riders; box B (Centre B), paired with A before anyone asks for a
ride, has a volunteer driver, Dana, vouched for by B's staff with a wheelchair-accessible
vehicle. Rita asks at A for a wheelchair journey; after a sync Dana sees it on B (the
areas and the time only), takes it, and after the next sync Rita sees "driver found"
with Dana's name, while Dana's box opens the sealed addresses. Theo, another member of
B, sees nothing. Rosa's weekly ride at A is then taken for the same day by Dana at B and
by Abe at A while the boxes are apart: after syncing both agree that whoever came first
in the agreed order has it and the other is listed as having lost it. Box C, paired with
A only afterwards, gets the rides but cannot read the addresses of the older ones (it
can read a ride asked for once it was paired). Nothing about a ride reaches a public
page, export or API on any box, and its addresses never appear in clear in a record.

Each box is a real `kith serve` process on loopback; work on a box is done by a short
Python process opening its data dir, through the services the pages use.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import kithtest
import pytest
from kithtest import SNAPSHOT, init_args, kith, pair, serving

PASSWORD = "ride-sync-password"
# Words of the rides that must never show outside the services' visibility rules.
SECRET = ["7 Larkspur Close", "Riverside Infirmary, Ward 9", "Buzzer 3", "14 Orchard Row"]
AREAS = ["Quarrybank", "Riverside", "Hollins Green", "Market Hall", "Fernlea", "Stonegate"]

# Runs in a child process with the box open as BOX; prints JSON.
PRELUDE = """
import datetime, json, sys
from pathlib import Path
from appliance.box import Box
from appliance.errors import NotAllowed, NotFound
from appliance.models import Account, Journey, Ride, Role, StoredRecord
from appliance.sealing import open_sealed
from appliance.services import accounts, drivers, driving, ride_access, rides, travel_lists
from appliance.services.accounts import login_key
BOX = Box.open(Path(sys.argv[1]))
def actor(name):
    row = Account.get_or_none(Account.login == login_key(name))
    member = row.member if row else accounts.sign_up(BOX, name, "password-123")
    return accounts.actor_for(BOX, member)
ADMIN = accounts.actor_for(BOX, Role.get(Role.role == "admin").member)
TODAY = drivers.today(BOX)
def day(n):
    return (TODAY + datetime.timedelta(days=n)).isoformat()
def vouch(name, **vehicle):
    person = actor(name)
    checks = {c["slug"]: (day(-10), day(365)) for c in travel_lists.driver_checks(BOX)}
    drivers.vouch(BOX, ADMIN, person.id, checks, {"seats": "4", **vehicle})
    return person.id
def ask(name, **fields):
    data = {"time_is": "pickup", "window": "15", "repeat": "none", "passengers": "1",
            "time": "10:15", "notes": "", **fields}
    return rides.request_ride(BOX, actor(name), data)
def journey(ride, date):
    row = Journey.get_or_none((Journey.ride == ride) & (Journey.date == date))
    return None if row is None else [row.driver, row.state, json.loads(row.lost)]
def refused(call):
    try:
        call()
    except (NotAllowed, NotFound) as exc:
        return type(exc).__name__
    return "allowed"
"""


def on_box(data: Path, code: str):
    """Run code in a child Python with the box open as BOX; return its stdout as JSON."""
    return kithtest.on_box(data, code, prelude=PRELUDE)


def settle(data: Path) -> None:
    """Sync a box with its peers until a round moves nothing."""
    for _ in range(4):
        out = kith("--data", str(data), "sync")
        if " 0 in, 0 out" in out:
            return
    raise AssertionError(f"syncing did not settle: {out}")


def fetch(url: str) -> tuple[int, str]:
    """GET a URL as a visitor; return (status, body), whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Boxes A and B paired, then the rides of the module's story; yields what was seen."""
    root = tmp_path_factory.mktemp("rides")
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    with ExitStack() as stack:
        boxes = {}
        for name in ("A", "B", "C"):
            data = root / name
            kith(*init_args(data, password, f"Centre {name}"))
            _, url = stack.enter_context(serving("--data", str(data), log=root / f"{name}.log"))
            boxes[name] = (data, url)
        a, b, c = (boxes[n][0] for n in "ABC")
        pair(a, b, boxes["B"][1])

        ids = on_box(
            b,
            """
print(json.dumps({"dana": vouch("Dana Driver", wheelchair="on"),
                  "theo": actor("Theo Third").id, "b": BOX.origin}))""",
        )
        ids.update(
            on_box(
                a,
                """
abe = vouch("Abe Able")
wheelchair = ask("Rita Rider", from_area="Quarrybank", to_area="Riverside",
                 from_address="7 Larkspur Close, Quarrybank",
                 to_address="Riverside Infirmary, Ward 9", date=day(3),
                 time_is="appointment", needs=["wheelchair-stays"],
                 notes="Buzzer 3, ramp at the side door")
weekday = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][(TODAY + datetime.timedelta(days=4)).weekday()]
weekly = ask("Rosa Rider", from_area="Hollins Green", to_area="Market Hall",
             from_address="14 Orchard Row", to_address="Market Hall, side door",
             date=day(4), repeat="weekly", days=[weekday])
print(json.dumps({"abe": abe, "rita": actor("Rita Rider").id, "wheelchair": wheelchair,
                  "weekly": weekly, "first": day(4), "a": BOX.origin}))""",
            )
        )
        settle(a)

        # On B: what Dana and Theo see before Dana takes the wheelchair journey.
        before = on_box(
            b,
            f"""
ride = Ride.get_by_id({ids["wheelchair"]!r})
dana, theo = actor("Dana Driver"), actor("Theo Third")
page = driving.driver_page(BOX, dana)
print(json.dumps({{
    "open": [j for j in page["open"] if j["ride"] == ride.id],
    "level": ride_access.level(BOX, dana, ride),
    "addresses": ride_access.addresses(BOX, dana, ride),
    "sealed_for": sorted(json.loads(ride.sealed)),
    "theo_level": ride_access.level(BOX, theo, ride),
    "theo_ride": refused(lambda: rides.ride_detail(BOX, theo, ride.id)),
    "theo_driving": refused(lambda: driving.driver_page(BOX, theo)),
}}))""",
        )
        # Dana takes the wheelchair journey, and the first of Rosa's journeys while
        # Abe takes the same one at A, before the boxes sync again.
        on_box(
            b,
            f"""
dana = actor("Dana Driver")
driving.take(BOX, dana, {ids["wheelchair"]!r})
driving.take(BOX, dana, {ids["weekly"]!r}, {ids["first"]!r})
print("null")""",
        )
        on_box(
            a,
            f"""
driving.take(BOX, actor("Abe Able"), {ids["weekly"]!r}, {ids["first"]!r})
print("null")""",
        )
        apart = {
            n: on_box(
                boxes[n][0], f"print(json.dumps(journey({ids['weekly']!r}, {ids['first']!r})))"
            )
            for n in "AB"
        }
        settle(a)

        # Box C pairs with A only now: it gets the rides, not the older rides' addresses.
        pair(c, a, boxes["A"][1])
        ids["later"] = on_box(
            a,
            """
print(json.dumps(ask("Rita Rider", from_area="Fernlea", to_area="Stonegate",
                     from_address="2 Mill Lane", to_address="Stonegate Surgery",
                     date=day(5))))""",
        )
        settle(c)
        settle(a)
        yield {"boxes": boxes, "ids": ids, "before": before, "apart": apart}


# --- before the take ---------------------------------------------------------------------


def test_the_ride_reached_b_sealed_for_both_boxes(world):
    ids, before = world["ids"], world["before"]
    assert before["sealed_for"] == sorted([ids["a"], ids["b"]])


def test_dana_sees_only_the_areas_and_time_before_taking_it(world):
    before = world["before"]
    assert before["level"] == "area"
    assert before["addresses"] is None
    (seen,) = before["open"]
    assert (seen["from_area"], seen["to_area"], seen["passengers"]) == (
        "Quarrybank",
        "Riverside",
        1,
    )
    assert seen["time"] == "10:15" and seen["centre"] == "Centre A"
    assert not {"addresses", "needs", "rider", "notes"} & set(seen)
    assert not any(secret in json.dumps(seen) for secret in SECRET)


def test_a_third_member_at_b_sees_nothing(world):
    before = world["before"]
    assert before["theo_level"] is None
    assert before["theo_ride"] == "NotFound"
    assert before["theo_driving"] == "NotAllowed"
    b = world["boxes"]["B"][0]
    after = on_box(
        b,
        f"""
ride = Ride.get_by_id({world["ids"]["wheelchair"]!r})
theo = actor("Theo Third")
print(json.dumps([ride_access.level(BOX, theo, ride),
                  ride_access.addresses(BOX, theo, ride),
                  refused(lambda: rides.ride_detail(BOX, theo, ride.id)),
                  rides.my_rides(BOX, theo)]))""",
    )
    assert after == [None, None, "NotFound", []]


# --- after the take ----------------------------------------------------------------------


def test_rita_sees_driver_found_with_danas_name(world):
    ids = world["ids"]
    seen = on_box(
        world["boxes"]["A"][0],
        f"""
detail = rides.ride_detail(BOX, actor("Rita Rider"), {ids["wheelchair"]!r})
print(json.dumps([[j["state"], j["driver"]] for j in detail["journeys"]]))""",
    )
    assert seen == [["driver_found", "Dana Driver"]]


def test_dana_opens_the_sealed_addresses_on_her_own_box(world):
    ids = world["ids"]
    seen = on_box(
        world["boxes"]["B"][0],
        f"""
dana = actor("Dana Driver")
ride = Ride.get_by_id({ids["wheelchair"]!r})
mine = [j for j in driving.driver_page(BOX, dana)["mine"] if j["ride"] == ride.id]
print(json.dumps({{"level": ride_access.level(BOX, dana, ride),
                   "addresses": ride_access.addresses(BOX, dana, ride),
                   "needs": [n["slug"] for n in mine[0]["needs"]], "rider": mine[0]["rider"],
                   "opened": open_sealed(BOX, ride.sealed)}}))""",
    )
    wanted = {
        "from_address": "7 Larkspur Close, Quarrybank",
        "to_address": "Riverside Infirmary, Ward 9",
        "notes": "Buzzer 3, ramp at the side door",
    }
    assert seen == {
        "level": "full",
        "addresses": wanted,
        "needs": ["wheelchair-stays"],
        "rider": "Rita Rider",
        "opened": wanted,
    }


def test_both_boxes_agree_on_everything(world):
    a, b = (world["boxes"][n][0] for n in "AB")
    assert on_box(a, SNAPSHOT) == on_box(b, SNAPSHOT)


def test_two_drivers_apart_the_first_in_the_agreed_order_wins(world):
    ids, boxes = world["ids"], world["boxes"]
    # Apart, each box gave the journey to its own driver.
    assert world["apart"]["A"] == [ids["abe"], "driver_found", []]
    assert world["apart"]["B"] == [ids["dana"], "driver_found", []]
    code = f"""
takes = (StoredRecord.select().where((StoredRecord.kind == "ride.taken")
         & (StoredRecord.aggregate == {ids["weekly"]!r}))
         .order_by(StoredRecord.hlc_ms, StoredRecord.hlc_c, StoredRecord.origin, StoredRecord.id))
order = [json.loads(bytes(r.raw))["author"] for r in takes]
print(json.dumps({{"order": order, "journey": journey({ids["weekly"]!r}, {ids["first"]!r})}}))"""
    seen = {n: on_box(boxes[n][0], code) for n in "AB"}
    assert seen["A"] == seen["B"]
    first, second = seen["A"]["order"]
    assert {first, second} == {ids["abe"], ids["dana"]}
    assert seen["A"]["journey"] == [first, "driver_found", [second]]


def test_the_driver_who_lost_is_told_on_their_own_box(world):
    ids, boxes = world["ids"], world["boxes"]
    winner = on_box(
        boxes["A"][0], f"print(json.dumps(journey({ids['weekly']!r}, {ids['first']!r})[0]))"
    )
    loser = ("B", "Dana Driver") if winner == ids["abe"] else ("A", "Abe Able")
    lost = on_box(
        boxes[loser[0]][0],
        f"""
page = driving.driver_page(BOX, actor({loser[1]!r}))
print(json.dumps([[j["ride"], j["date"]] for j in page["lost"]]))""",
    )
    assert lost == [[ids["weekly"], ids["first"]]]


# --- a box paired later, and what never leaves the services ------------------------------


def test_a_box_paired_later_cannot_read_older_rides_addresses(world):
    ids = world["ids"]
    seen = on_box(
        world["boxes"]["C"][0],
        f"""
out = {{}}
for name in ("wheelchair", "weekly", "later"):
    ride = Ride.get_or_none(Ride.id == {ids!r}[name])
    out[name] = None if ride is None else [sorted(json.loads(ride.sealed)),
                                           open_sealed(BOX, ride.sealed)]
out["c"] = BOX.origin
print(json.dumps(out))""",
    )
    assert seen["wheelchair"] == [sorted([ids["a"], ids["b"]]), None]
    assert seen["weekly"] == [sorted([ids["a"], ids["b"]]), None]
    entries, opened = seen["later"]
    assert sorted(entries) == sorted([ids["a"], ids["b"], seen["c"]])
    assert opened == {"from_address": "2 Mill Lane", "to_address": "Stonegate Surgery", "notes": ""}


def test_addresses_never_appear_in_clear_in_any_record(world):
    for name in "ABC":
        export = kith("--data", str(world["boxes"][name][0]), "log", "export")
        assert '"kind":"ride.requested"' in export
        assert '"kind":"ride.addresses"' in export
        for secret in [*SECRET, "2 Mill Lane"]:
            assert secret not in export, (name, secret)


PUBLIC = [
    "",
    "?q=Quarrybank",
    "?q=Larkspur",
    "thanks",
    "kiosk",
    "kiosk/state",
    "api/v1/posts",
    "api/v1/posts?q=Quarrybank",
    "api/v1/thanks",
    "food",
    "food/export",
    "food/export/needs.json",
    "food/export/supplies.json",
    "food/export/pledges.json",
    "food/export/shifts.json",
    "food/export/needs.csv",
    "food/export/shifts.csv",
]


@pytest.mark.parametrize("name", "ABC")
def test_rides_never_reach_a_public_page_export_or_api(world, name):
    url, ids = world["boxes"][name][1], world["ids"]
    for path in PUBLIC:
        status, body = fetch(url + path)
        assert status == 200, path
        # A search page repeats what was searched for; nothing else of a ride may show.
        body = body.replace(path.partition("?q=")[2] or "\0", "")
        for word in [*SECRET, *AREAS, ids["wheelchair"], ids["weekly"], "Rita Rider", "Rosa"]:
            assert word not in body, (path, word)
    # A visitor asking for the ride, the drivers' page or the coordinators' page by
    # address learns nothing of it.
    for path in (f"rides/{ids['wheelchair']}", "rides", "driving", "coordinate"):
        status, body = fetch(url + path)
        assert status != 200 or "Quarrybank" not in body, path
        for word in [*SECRET, *AREAS]:
            assert word not in body, (path, word)
    status, _body = fetch(url + f"rides/{ids['wheelchair']}")
    assert status == 404


# --- another centre's staff and coordinators ---------------------------------------------


# Runs on box B: what B's staff and a coordinator of B see of A's wheelchair ride, through
# the services and the pages they would open, and what they can do to it.
OTHER_CENTRE = """
from web import create_app
from appliance.errors import Conflict, InvalidInput
from appliance.services import coordinating, members
cole = actor("Cole Coordinator")
if "coordinator" not in cole.roles:
    members.grant_role(BOX, ADMIN, cole.id, "coordinator")
    cole = actor("Cole Coordinator")
ride = Ride.get_by_id(RIDE)
app = create_app(BOX, {"TESTING": True, "WTF_CSRF_ENABLED": False})
out = {}
for name, who in (("staff", ADMIN), ("coordinator", cole)):
    client = app.test_client()
    with client.session_transaction() as session:
        session["token"] = accounts.start_session(BOX, who.id)
    pages = {}
    for path in ("/rides", "/rides/" + RIDE, "/coordinate", "/driving", "/staff/drivers"):
        response = client.get(path)
        pages[path] = [response.status_code, response.get_data(as_text=True)]
    before = StoredRecord.select().count()
    tries = []
    for date in (None, TRIP):
        try:
            rides.cancel(BOX, who, RIDE, date, "not ours")
            tries.append("allowed")
        except (NotAllowed, NotFound, Conflict, InvalidInput) as exc:
            tries.append(type(exc).__name__)
    response = client.post("/rides/" + RIDE + "/cancel", data={"reason": "not ours"})
    tries.append(response.status_code)
    out[name] = {
        "level": ride_access.level(BOX, who, ride),
        "addresses": ride_access.addresses(BOX, who, ride),
        "detail": rides.ride_detail(BOX, who, RIDE),
        "unmet": coordinating.unmet(BOX, who, days=30),
        "pages": pages,
        "cancel": tries,
        "written": StoredRecord.select().count() - before,
        "cancelled": Ride.get_by_id(RIDE).cancelled,
    }
print(json.dumps(out, default=str))
"""


def test_another_centres_staff_and_coordinators_see_no_address_note_or_need(world):
    ids = world["ids"]
    code = f"RIDE, TRIP = {ids['wheelchair']!r}, {ids['first']!r}\n" + OTHER_CENTRE
    # TRIP: a date the wheelchair ride has no journey on is refused too.
    seen = on_box(world["boxes"]["B"][0], code)
    # Runs last: Cole, made a coordinator on B here, must not change the earlier tests'
    # comparison of the two boxes.
    private = [*SECRET, "wheelchair-stays", "Wheelchair user, stays in the chair"]
    for name in ("staff", "coordinator"):
        them = seen[name]
        assert them["level"] == "area", name
        assert them["addresses"] is None, name
        detail = them["detail"]
        assert (detail["from_area"], detail["to_area"]) == ("Quarrybank", "Riverside")
        assert not {"addresses", "needs", "rider", "notes"} & set(detail), name
        assert not detail["can_cancel"], name
        assert "Rita" not in json.dumps(detail), name
        assert all(not j["can_cancel"] for j in detail["journeys"]), name
        for path, (status, body) in them["pages"].items():
            assert status in (200, 403, 404), (name, path, status)
            for word in private:
                assert word not in body, (name, path, word)
            # The rider's name stays with her centre on every page (/coordinate too).
            assert "Rita" not in body, (name, path)
        assert them["pages"]["/rides/" + ids["wheelchair"]][0] == 200
        for word in private:
            assert word not in json.dumps(them["detail"]), (name, word)
            assert word not in json.dumps(them["unmet"]), (name, word)
        assert "Rita" not in json.dumps(them["unmet"]), name
        assert them["cancel"] == ["NotAllowed", "NotAllowed", 403], name
        assert (them["written"], them["cancelled"]) == (0, False), name
