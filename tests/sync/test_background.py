"""`kith serve` syncs with its paired peers by itself, every sync_interval_s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack

from kithtest import init_args, kith, pair, pairing_code, run_kith, serving


def test_a_served_box_pulls_a_peers_new_post_without_being_asked(tmp_path):
    password = tmp_path / "pw"
    password.write_text("background-password\n")
    env = {**os.environ, "KITH_SYNC_INTERVAL_S": "1"}
    with ExitStack() as stack:
        urls = {}
        for name in ("a", "b"):
            kith(*init_args(tmp_path / name, password, f"Centre {name.upper()}"))
            _, urls[name] = stack.enter_context(
                serving("--data", str(tmp_path / name), log=tmp_path / f"{name}.log", env=env)
            )
        pair(tmp_path / "a", tmp_path / "b", urls["b"])
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from appliance.box import Box; "
                "from appliance.services import accounts, board; "
                "b = Box.open(Path(sys.argv[1])); "
                "m = accounts.actor_for(b, accounts.sign_up(b, 'Bea', 'password-123')); "
                "board.create_post(b, m, {'type': 'offer', 'title': 'Spare chairs', "
                "'details': '', 'category': 'household', 'place': 'Hall'})",
                str(tmp_path / "b"),
            ],
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + 20
        titles: list[str] = []
        while time.monotonic() < deadline:
            with urllib.request.urlopen(urls["a"] + "api/v1/posts", timeout=10) as response:
                titles = [p["title"] for p in json.load(response)["posts"]]
            if "Spare chairs" in titles:
                break
            time.sleep(0.5)
        assert "Spare chairs" in titles
        listing = kith("--data", str(tmp_path / "a"), "peer", "list")
        assert "Centre B" in listing and "last error" not in listing


def test_boxes_paired_by_card_find_each_other_on_the_lan_and_sync(tmp_path):
    """Discovery on loopback only (KITH_DISCOVERY=127.0.0.1): nothing leaves the machine."""
    password = tmp_path / "pw"
    password.write_text("background-password\n")
    env = {**os.environ, "KITH_SYNC_INTERVAL_S": "2", "KITH_DISCOVERY": "127.0.0.1"}
    for name in ("a", "b"):
        kith(*init_args(tmp_path / name, password, f"Lan {name.upper()}"))
        kith("--data", str(tmp_path / name), "peer", "card", str(tmp_path / f"{name}.card"))
    kith("--data", str(tmp_path / "a"), "peer", "add", str(tmp_path / "b.card"))
    out = kith("--data", str(tmp_path / "b"), "peer", "add", str(tmp_path / "a.card"))
    code = pairing_code(out)
    for name in ("a", "b"):
        kith("--data", str(tmp_path / name), "peer", "confirm", code)
    with ExitStack() as stack:
        urls = {}
        for name in ("a", "b"):
            _, urls[name] = stack.enter_context(
                serving("--data", str(tmp_path / name), log=tmp_path / f"{name}.log", env=env)
            )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            with urllib.request.urlopen(urls["a"] + "api/v1/posts", timeout=10) as response:
                centres = {p["centre"] for p in json.load(response)["posts"]}
            listing = kith("--data", str(tmp_path / "a"), "peer", "list")
            if "http://127.0.0.1:" in listing and "last error" not in listing:
                break
            time.sleep(1)
        # A learnt B's address from discovery (the card had none) and synced with it.
        assert f"http://127.0.0.1:{urls['b'].rsplit(':', 1)[1].rstrip('/')}" in listing
        assert "last error" not in listing
        assert centres <= {None, "Lan B"}


def test_peer_nearby_lists_a_served_box_and_refuses_when_discovery_is_off(tmp_path):
    password = tmp_path / "pw"
    password.write_text("background-password\n")
    for name in ("a", "b"):
        kith(*init_args(tmp_path / name, password, f"Near {name.upper()}"))
    env = {**os.environ, "KITH_DISCOVERY": "127.0.0.1", "KITH_SYNC_INTERVAL_S": "0"}
    off = run_kith(
        "--data",
        str(tmp_path / "a"),
        "peer",
        "nearby",
        ok=False,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "KITH_DISCOVERY"},
    )
    assert off.returncode == 1 and "discovery is off" in off.stderr
    with serving("--data", str(tmp_path / "b"), log=tmp_path / "b.log", env=env) as (_, url):
        seen = ""
        for _ in range(3):  # several processes share port 5353 here: allow a retry
            seen = run_kith(
                "--data",
                str(tmp_path / "a"),
                "peer",
                "nearby",
                "--seconds",
                "4",
                ok=False,
                timeout=60,
                env={**env, "KITH_PORT": "1"},
            ).stdout
            if "Near B" in seen:
                break
        assert "Near B" in seen and url.rstrip("/") in seen
