"""First boot: the setup page of a box without a centre, driven through FirstBoot (the
WSGI app `kith serve` runs on an empty data dir) with test clients, CSRF on.

Each test client says where it comes from (REMOTE_ADDR), as waitress would.
"""

from __future__ import annotations

import json
import stat
import threading

import pytest
from pagetools import Browser, Page
from werkzeug.test import Client

from appliance.backup import make_backup
from appliance.box import RESTORED_FILE, Box, is_box
from appliance.commands.core import init_box
from appliance.db import database
from appliance.restore import restore_backup
from appliance.services import accounts, centre, setup
from web import create_app
from web.setup import FirstBoot, is_local_address, is_local_host

PHONE_ADDR = "192.168.1.23"
PASSWORD = "correct horse battery"
ANSWERS = {
    "centre": "Hillside Community Centre",
    "name": "Ada Admin",
    "password": PASSWORD,
    "password_again": PASSWORD,
    # Household items left out, Books added, Food kept under its usual label.
    "categories": "Food\nTravel and lifts\nLocal fixes\nVolunteering\nSomething else\nBooks",
    "places": "Main hall\n- The library\n\nmain hall",
    "conduct": "# Our rules\n\nBe kind.\r\nNo adverts.",
    "wifi_name": "Hillside Guest",
    "wifi_password": "welcome-in",
}


class PhoneClient(Client):
    """A werkzeug test client for any WSGI app, coming from one address."""

    def __init__(self, app, remote_addr: str = PHONE_ADDR):
        super().__init__(app)
        self.remote_addr = remote_addr

    def open(self, *args, **kwargs):
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": self.remote_addr})
        return super().open(*args, **kwargs)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "box"


@pytest.fixture
def first_boot(data_dir) -> FirstBoot:
    return FirstBoot(data_dir, lambda box: create_app(box, {"TESTING": True}))


@pytest.fixture
def phone(first_boot) -> Browser:
    return Browser(PhoneClient(first_boot))


def board_box(first_boot: FirstBoot) -> Box:
    assert first_boot.board is not None, "the board is not live"
    return first_boot.board.extensions["kith_box"]


def kinds(box: Box) -> list[str]:
    return [json.loads(raw)["kind"] for raw in box.log.export()]


def submit_setup(phone: Browser, **changes):
    page = phone.get("/setup")
    return phone.submit(page, data={**ANSWERS, **changes})


def test_a_new_box_sends_every_page_to_setup_with_defaults_to_edit(phone, data_dir):
    response = phone.client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/setup"
    assert phone.client.get("/posts/123").headers["Location"] == "/setup"

    page = phone.get("/setup")
    for label in ("Food", "Travel and lifts", "Household items", "Something else"):
        assert label in page.field("categories").value().splitlines()
    assert page.field("places").value().splitlines() == setup.DEFAULT_PLACES
    assert page.field("conduct").value() == setup.DEFAULT_CONDUCT
    for name in ("centre", "name", "password", "password_again", "wifi_name", "wifi_password"):
        assert page.field(name).value() == ""
    assert page.find("label", for_="f-password_again").text() == "The same password again"
    headers = page.response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    # Looking creates nothing.
    assert not data_dir.exists()


def test_setup_creates_a_working_box_and_logs_the_admin_in(phone, first_boot, data_dir):
    response = submit_setup(phone)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"

    board = phone.follow(response)
    nav = board.one("nav", **{"aria-label": "Main"})
    assert "Ada Admin" in nav.text()
    assert "Staff" in nav.text()
    assert "Your board is ready" in board.one(class_="flash").text()
    assert "Hillside Community Centre" in board.one("title").text()
    assert phone.get("/staff/members").status == 200

    box = board_box(first_boot)
    assert box.centre.name == "Hillside Community Centre"
    admin = accounts.actor_for(box, accounts.log_in(box, "ada admin", PASSWORD))
    assert admin.is_admin and admin.verified
    active = {c.slug: c.label for c in centre.categories(box)}
    assert active == {
        "food": "Food",
        "travel": "Travel and lifts",
        "local-fix": "Local fixes",
        "volunteering": "Volunteering",
        "other": "Something else",
        "books": "Books",
    }
    retired = {c.slug for c in centre.categories(box, include_inactive=True)} - set(active)
    assert retired == {"household"}
    assert centre.places(box) == ["Main hall", "The library"]
    assert kinds(box).count("centre.created") == 1
    assert box.log.verify() == []

    assert setup.read_conduct(data_dir) == "# Our rules\n\nBe kind.\nNo adverts.\n"
    assert setup.read_poster(data_dir) == {"name": "Hillside Guest", "password": "welcome-in"}
    assert stat.S_IMODE((data_dir / setup.POSTER_FILE).stat().st_mode) == 0o600
    assert not (data_dir / setup.UNFINISHED_FILE).exists()

    # The box opens as any box does (what `kith serve` does after a restart).
    database.close()
    reopened = Box.open(data_dir)
    assert reopened.origin == box.origin
    assert reopened.centre.name == "Hillside Community Centre"


def test_without_wifi_details_there_is_no_poster_file(phone, data_dir):
    response = submit_setup(phone, wifi_name="", wifi_password="")
    assert response.status_code == 303
    assert setup.read_poster(data_dir) is None
    assert not (data_dir / setup.POSTER_FILE).exists()


def test_a_second_visit_to_setup_is_refused(phone, first_boot):
    stale = phone.get("/setup")  # a form left open in another tab
    assert submit_setup(phone).status_code == 303
    box = board_box(first_boot)
    before = kinds(box)

    for who in (phone, Browser(PhoneClient(first_boot, "192.168.1.99"))):
        assert who.get("/setup", status=404).status == 404
        response = who.submit(stale, data={**ANSWERS, "centre": "Takeover", "name": "Mallory"})
        assert response.status_code == 404
        assert who.client.post("/setup", data=ANSWERS).status_code == 404
    assert kinds(box) == before
    assert box.centre.name == "Hillside Community Centre"


def test_a_directory_that_already_holds_a_box_is_refused(data_dir):
    init_box(data_dir, "Made At A Terminal", "Terminal Admin", PASSWORD)
    first_boot = FirstBoot(data_dir, lambda box: create_app(box, {"TESTING": True}))
    phone = Browser(PhoneClient(first_boot))
    page = phone.get("/setup", status=409)
    assert "already set up" in page.text()
    response = phone.client.post("/setup", data=ANSWERS)
    assert response.status_code in (400, 409)  # no form token, or already set up
    assert first_boot.board is None
    database.close()
    assert Box.open(data_dir).centre.name == "Made At A Terminal"


def test_two_submissions_at_once_create_one_box(first_boot, data_dir):
    phones = [Browser(PhoneClient(first_boot, f"192.168.1.{n}")) for n in (30, 31)]
    pages = [p.get("/setup") for p in phones]
    start = threading.Barrier(len(phones))
    results: dict[int, object] = {}

    def submit(n: int) -> None:
        try:
            start.wait()
            answers = {**ANSWERS, "centre": f"Centre {n}", "name": f"Admin {n}"}
            results[n] = phones[n].submit(pages[n], data=answers).status_code
        except Exception as exc:  # reported below, not lost in the thread
            results[n] = exc
        finally:
            if not database.is_closed():
                database.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(phones))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results.values()) == [303, 409], results
    winner = next(n for n, status in results.items() if status == 303)
    box = board_box(first_boot)
    assert kinds(box).count("centre.created") == 1
    assert kinds(box).count("member.joined") == 1
    assert box.centre.name == f"Centre {winner}"
    assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith("box.key")) == ["box.key"]


@pytest.mark.parametrize(
    "addr",
    [
        "127.0.0.1",
        "::1",
        "10.20.30.40",
        "172.16.0.9",
        "172.31.255.1",
        "192.168.0.5",
        "169.254.10.1",
        "fe80::1%eth0",
        "fd12:3456:789a::1",
        "::ffff:192.168.1.9",
    ],
)
def test_local_addresses_may_set_up(addr):
    assert is_local_address(addr)


@pytest.mark.parametrize(
    "addr",
    [
        "203.0.113.7",
        "8.8.8.8",
        "172.32.0.1",
        "100.64.0.1",
        "192.0.2.1",
        "2001:db8::1",
        "2a00:1450:4009::200e",
        "::ffff:8.8.8.8",
        "",
        None,
        "not an address",
    ],
)
def test_other_addresses_may_not(addr):
    assert not is_local_address(addr)


@pytest.mark.parametrize(
    "host",
    ["kith.local:8080", "KITH.LOCAL", "kith", "localhost:8080", "192.168.1.5:8080", "[fe80::1]"],
)
def test_the_box_named_locally_may_set_up(host):
    assert is_local_host(host)


@pytest.mark.parametrize(
    "host", ["attacker.example:8080", "kith.local.attacker.example", "", "kith.local:notaport"]
)
def test_the_box_under_another_sites_name_may_not(host):
    assert not is_local_host(host)


def test_a_remote_address_is_refused_whatever_its_headers_say(first_boot, data_dir):
    local = Browser(PhoneClient(first_boot))
    page = local.get("/setup")
    remote = Browser(PhoneClient(first_boot, "203.0.113.7"), {"X-Forwarded-For": PHONE_ADDR})
    # The remote caller even shares the local phone's cookies and form token.
    remote.client._cookies = local.client._cookies
    refused = remote.get("/setup", status=403)
    assert "same network as the box" in refused.text()
    assert refused.find("form") is None
    response = remote.submit(page, data=ANSWERS)
    assert response.status_code == 403
    assert not data_dir.exists()
    assert remote.client.get("/").status_code == 403


def test_a_page_under_another_sites_name_is_refused(phone, data_dir):
    page = phone.get("/setup")
    phone.headers = {"Host": "attacker.example:8080"}
    assert phone.get("/setup", status=403).find("form") is None
    assert phone.submit(page, data=ANSWERS).status_code == 403
    assert not data_dir.exists()


def test_a_form_without_its_token_is_refused(phone, data_dir):
    response = phone.client.post("/setup", data=ANSWERS)
    assert response.status_code == 400
    page = Page(response)
    assert "expired" in page.one(class_="problem").text()
    assert page.field("centre").value() == ""  # what was sent is not shown back
    assert not data_dir.exists()


BAD = [
    ("centre", {"centre": "   "}, "Please give the centre a name"),
    ("centre", {"centre": "x" * 101}, "100 characters at most"),
    ("name", {"name": ""}, "Please enter the name people will see."),
    ("name", {"name": "n" * 61}, "under 60 characters"),
    ("password", {"password": "short", "password_again": "short"}, "at least 8 characters"),
    ("password_again", {"password_again": "something else"}, "The two passwords are different"),
    ("categories", {"categories": "\n - \n"}, "at least one category"),
    ("categories", {"categories": "Food\n" + "c" * 61}, "60 characters"),
    ("categories", {"categories": "Food\n!!!"}, "letters or numbers"),
    ("categories", {"categories": "\n".join(f"Kind {n}" for n in range(31))}, "30 categories"),
    ("places", {"places": "p" * 81}, "80 characters"),
    ("conduct", {"conduct": " \n "}, "Please keep a code of conduct"),
    ("conduct", {"conduct": "r" * 20_001}, "under 20,000 characters"),
    ("wifi_name", {"wifi_name": "w" * 33}, "32 letters at most"),
    ("wifi_name", {"wifi_name": "", "wifi_password": "welcome-in"}, "give the wifi name too"),
    ("wifi_password", {"wifi_password": "short"}, "8 to 63 characters"),
]


@pytest.mark.parametrize(
    "field, changes, message", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)]
)
def test_a_bad_answer_is_shown_beside_its_field_and_nothing_is_made(
    phone, data_dir, field, changes, message
):
    response = submit_setup(phone, **changes)
    assert response.status_code == 400
    page = Page(response)
    assert message in page.error_for(field)
    others = {"centre", "name", "password", "password_again", "categories", "places"}
    others |= {"conduct", "wifi_name", "wifi_password"}
    assert [f for f in sorted(others - {field}) if page.error_for(f)] == []
    control = page.field(field)
    assert control.attrs["aria-invalid"] == "true"
    assert f"e-{field}" in control.attrs["aria-describedby"].split()
    assert page.one(class_="problem").text() == "Please check the answers marked below."
    # What was typed stays, except the passwords, which are never sent back.
    if field != "centre":
        assert page.field("centre").value() == ANSWERS["centre"]
    assert page.field("password").value() == ""
    assert page.field("password_again").value() == ""
    assert not data_dir.exists()


def test_every_wrong_answer_is_shown_at_once(phone, data_dir):
    blank = {name: "" for name in ANSWERS}
    response = submit_setup(phone, **{**blank, "wifi_password": "x"})
    page = Page(response)
    wrong = {"centre", "name", "password", "categories", "conduct", "wifi_name", "wifi_password"}
    assert {f for f in ANSWERS if page.error_for(f)} == wrong
    assert not data_dir.exists()


def test_a_failure_part_way_keeps_nothing_and_setup_can_be_done_again(
    phone, first_boot, data_dir, monkeypatch
):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    data_dir.mkdir()
    (data_dir / "kith.toml").write_text('timezone = "Europe/London"\n')
    with monkeypatch.context() as m:
        m.setattr(centre, "set_place", full_disk)
        response = submit_setup(phone)
    assert response.status_code == 500
    page = Page(response)
    assert "No space left on device" in page.one(class_="problem").text()
    assert page.field("centre").value() == ANSWERS["centre"]
    assert not is_box(data_dir)
    assert sorted(p.name for p in data_dir.iterdir()) == ["kith.toml"]
    assert first_boot.board is None

    assert submit_setup(phone).status_code == 303
    assert centre.places(board_box(first_boot)) == ["Main hall", "The library"]


def test_an_unfinished_setup_is_removed_and_nothing_else(data_dir):
    # What a power cut in the middle of set_up leaves: the marker and part of a box.
    data_dir.mkdir()
    (data_dir / setup.UNFINISHED_FILE).write_bytes(b"")
    setup.create_box(data_dir, "Half Made", "Admin", PASSWORD)
    (data_dir / "kith.toml").write_text('timezone = "Europe/London"\n')
    (data_dir / "backups").mkdir()
    assert is_box(data_dir)

    assert setup.discard_unfinished(data_dir) is True
    assert not is_box(data_dir)
    assert sorted(p.name for p in data_dir.iterdir()) == ["backups", "kith.toml"]
    assert setup.discard_unfinished(data_dir) is False


def test_a_restore_over_a_cut_off_first_boot_is_kept_by_the_next_serve(data_dir, tmp_path):
    # A first boot cut off by a power cut; staff then restore the box's backup instead.
    made, _ = setup.create_box(tmp_path / "old-card", "Hillside", "Admin", PASSWORD)
    (tmp_path / "stick").mkdir()
    backup = make_backup(made, tmp_path / "stick").path
    database.close()
    data_dir.mkdir()
    (data_dir / setup.UNFINISHED_FILE).write_bytes(b"")
    setup.create_box(data_dir, "Half Made", "Admin", PASSWORD)
    database.close()

    restore_backup(backup, data_dir)
    assert not (data_dir / setup.UNFINISHED_FILE).exists()
    restored = {name: (data_dir / name).read_bytes() for name in ("box.key", "kith.db")}
    assert setup.discard_unfinished(data_dir) is False  # what `kith serve` runs first
    assert {name: (data_dir / name).read_bytes() for name in restored} == restored
    assert Box.open(data_dir).origin == made.origin


def test_nothing_is_discarded_while_a_restore_is_under_way(data_dir):
    # A restore cut off before it removed the marker: its files must survive `kith serve`.
    data_dir.mkdir()
    (data_dir / setup.UNFINISHED_FILE).write_bytes(b"")
    setup.create_box(data_dir, "Half Made", "Admin", PASSWORD)
    database.close()
    (data_dir / RESTORED_FILE).write_text('{"seq": 3}')
    before = sorted(p.name for p in data_dir.iterdir())

    assert setup.discard_unfinished(data_dir) is False
    assert sorted(p.name for p in data_dir.iterdir()) == before
    assert is_box(data_dir)


def test_a_finished_box_is_never_discarded(phone, data_dir):
    assert submit_setup(phone).status_code == 303
    assert setup.discard_unfinished(data_dir) is False
    assert is_box(data_dir)


def test_before_setup_the_api_says_so_and_the_kiosk_waits(phone):
    response = phone.client.get("/api/v1/posts")
    assert response.status_code == 503
    assert response.get_json() == {"error": "This box is not set up yet."}
    phone.headers = {"Host": "127.0.0.1:8080"}  # the hall screen's own browser
    page = phone.get("/kiosk")
    assert "http://kith.local:8080/" in page.text()
    refresh = page.one("meta", http_equiv="refresh")
    assert int(refresh.attrs["content"]) > 0
