"""`kith serve` on a data directory without a box: the installed command serves the
first-boot setup page over real HTTP, and the same process serves the board once the
form is sent, with no restart.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kithtest import run_kith, serving

from appliance.box import is_box
from appliance.services import setup

PASSWORD = "correct horse battery"
ANSWERS = {
    "centre": "Hillside Community Centre",
    "name": "Ada Admin",
    "password": PASSWORD,
    "password_again": PASSWORD,
    "categories": "Food\nBooks",
    "places": "Main hall",
    "conduct": "Be kind.",
    "wifi_name": "",
    "wifi_password": "",
}
SETUP = "the first-boot setup"


def clean_env(tmp_path: Path) -> dict[str, str]:
    """No KITH_* settings from outside, a private HOME, no background sync rounds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    env.pop("XDG_DATA_HOME", None)
    env["HOME"] = str(tmp_path / "home")
    env["KITH_SYNC_INTERVAL_S"] = "0"
    return env


class Phone:
    """urllib with a cookie jar: follows redirects and keeps cookies, like a browser."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def open(self, path: str, form: dict | None = None) -> tuple[int, str, str]:
        """GET (or POST a form to) a path; return (status, final URL, body)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path.lstrip("/"), data=data, timeout=30) as r:
                return r.status, r.url, r.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.url, exc.read().decode()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_an_empty_dir_serves_setup_then_the_board_in_the_same_process(tmp_path):
    data = tmp_path / "box"
    env = clean_env(tmp_path)
    with serving("--data", str(data), env=env, log=tmp_path / "serve.log") as (name, url):
        assert name == SETUP
        assert "open http://127.0.0.1:" in (tmp_path / "serve.log").read_text()
        phone = Phone(url)

        status, landed, html = phone.open("/")
        assert (status, landed) == (200, url + "setup")
        assert 'name="password_again"' in html
        assert phone.open("/api/v1/posts")[0] == 503
        assert not data.exists()

        status, landed, html = phone.open("/setup", {**ANSWERS, "csrf_token": csrf_token(html)})
        assert (status, landed) == (200, url)
        assert "Ada Admin" in html  # logged in: the name in the menu
        assert "Your board is ready" in html

        assert phone.open("/setup")[0] == 404
        status, _, body = phone.open("/api/v1/posts")
        assert status == 200 and json.loads(body)["total"] == 0
        status, _, body = phone.open("/sync/v1/hello")
        assert status == 200 and json.loads(body)["name"] == ANSWERS["centre"]

    assert "records verify" in run_kith("--data", str(data), "log", "verify", env=env).stdout
    assert setup.read_conduct(data) == "Be kind.\n"
    # Started again, it is an ordinary box.
    with serving("--data", str(data), env=env, log=tmp_path / "again.log") as (name, url):
        assert name == ANSWERS["centre"]
        assert Phone(url).open("/setup")[0] == 404


def test_a_setup_cut_short_by_a_power_cut_is_offered_again(tmp_path):
    data = tmp_path / "box"
    data.mkdir()
    (data / setup.UNFINISHED_FILE).write_bytes(b"")
    setup.create_box(data, "Half Made", "Admin", PASSWORD)
    env = clean_env(tmp_path)
    with serving("--data", str(data), env=env, log=tmp_path / "serve.log") as (name, url):
        assert name == SETUP
        assert not is_box(data)
        assert "did not finish" in (tmp_path / "serve.log").read_text()
        status, landed, _ = Phone(url).open("/")
        assert (status, landed) == (200, url + "setup")


def test_serve_on_a_file_instead_of_a_directory_is_one_line(tmp_path):
    data = tmp_path / "not-a-dir"
    data.write_text("oops")
    done = run_kith("--data", str(data), "serve", "--port", "0", ok=False, env=clean_env(tmp_path))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kith: "), done.stderr
    assert "not a directory" in lines[0]
