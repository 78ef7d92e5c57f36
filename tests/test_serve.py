"""`kith serve` for real: the installed `kith` command, a waitress server on a loopback
port chosen by the kernel, and pages and JSON fetched over HTTP with urllib.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from kithtest import KITH, init_args, serving

PASSWORD = "correct horse battery"
# A title from appliance/demo.py with no characters that HTML escapes.
DEMO_TITLE = "Surplus bread from the bakery every Tuesday"
DEMO_POSTS = 81  # the board's 14 (2 in appliance/demo_governance.py) and the food banks' 67


def kith_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment for a `kith` subprocess: no KITH_* from outside, a private HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    env.pop("XDG_DATA_HOME", None)
    env["HOME"] = str(tmp_path / "home")
    env.update(extra)
    return env


def kith(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `kith` command to completion."""
    return subprocess.run(
        [KITH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or kith_env(tmp_path),
        stdin=subprocess.DEVNULL,
    )


def init_box(tmp_path: Path, data: Path, centre: str) -> None:
    password_file = tmp_path / "admin-password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    done = kith(tmp_path, *init_args(data, password_file, centre))
    assert done.returncode == 0, done.stderr
    assert not done.stderr


def fetch(url: str) -> tuple[int, dict, str]:
    """GET a URL; return (status, headers, body text), for error statuses too."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8")


def test_serve_a_new_box_over_http(tmp_path):
    data = tmp_path / "box"
    init_box(tmp_path, data, "Millbrook Café")
    # The data dir from the environment this time; --data is tested below.
    env = kith_env(tmp_path, KITH_DATA=str(data))
    with serving(env=env, log=tmp_path / "serve.log") as (name, url):
        assert name == "Millbrook Café"

        status, headers, html = fetch(url)
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert "Millbrook Café" in html
        assert "default-src 'self'" in headers["Content-Security-Policy"]

        status, headers, text = fetch(url + "api/v1/posts")
        assert status == 200
        assert headers["Content-Type"].startswith("application/json")
        body = json.loads(text)
        assert body["posts"] == []
        assert body["total"] == 0

        status, _, _ = fetch(url + "no-such-page")
        assert status == 404


def test_serve_the_demo_box_over_http(tmp_path):
    data = tmp_path / "demo"
    done = kith(tmp_path, "--data", str(data), "demo")
    assert done.returncode == 0, done.stderr
    assert f"{DEMO_POSTS} posts" in done.stdout

    env = kith_env(tmp_path)
    with serving("--data", str(data), env=env, log=tmp_path / "serve.log") as (name, url):
        assert name == "Millbrook Community Centre"

        status, _, html = fetch(url)
        assert status == 200
        assert DEMO_TITLE in html

        status, _, text = fetch(url + "api/v1/posts")
        assert status == 200
        body = json.loads(text)
        assert body["total"] == DEMO_POSTS - 1  # staff hid the demo's spam post
        titles = {p["title"]: p["id"] for p in body["posts"]}
        assert DEMO_TITLE in titles

        status, _, html = fetch(url + f"posts/{titles[DEMO_TITLE]}")
        assert status == 200
        assert DEMO_TITLE in html

        status, _, text = fetch(url + "api/v1/thanks")
        assert status == 200
        assert len(json.loads(text)["thanks"]) == 3


def test_two_servers_run_side_by_side_on_their_own_ports(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    init_box(tmp_path, one, "Centre One")
    init_box(tmp_path, two, "Centre Two")
    env = kith_env(tmp_path)
    with (
        serving("--data", str(one), env=env, log=tmp_path / "serve-one.log") as (_, url_one),
        serving("--data", str(two), env=env, log=tmp_path / "serve-two.log") as (_, url_two),
    ):
        assert url_one != url_two
        assert "Centre One" in fetch(url_one)[2]
        assert "Centre Two" in fetch(url_two)[2]


def test_serve_on_a_port_in_use_fails_with_one_line(tmp_path):
    data = tmp_path / "box"
    init_box(tmp_path, data, "Busy Centre")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = kith(tmp_path, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", port)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("kith: ")
    assert port in lines[0]
