"""Discovery: boxes on loopback find each other, rename on a clash, and leave; the Null twin."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.records import public_key_text
from sync import discovery as discovery_mod
from sync.discovery import (
    INSTANCE_MAX_BYTES,
    Discovery,
    NearbyBox,
    NullDiscovery,
    fingerprint,
    instance_name,
    server_name,
)

# Never the default interface: that would multicast out of the machine's real network.
LOOPBACK = ["127.0.0.1"]
WAIT_S = 10.0
ROOT = Path(__file__).resolve().parents[2]

# A box in its own process, with records that live two seconds, so the test can pull the
# plug on it (SIGKILL: no goodbye) and watch the others notice.
SHORT_LIVED_BOX = """
import sys, time
from sync import discovery
discovery.RECORD_TTL_S = 2
discovery.Discovery(sys.argv[1], sys.argv[2], 8009, interfaces=["127.0.0.1"]).start()
time.sleep(60)  # the test kills us long before; this only bounds a forgotten process
"""


def origin(seed: int) -> str:
    """Return the origin text of a key made from a repeated seed byte."""
    return public_key_text(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def fresh_origin() -> str:
    """Return the origin text of a new key.

    Boxes on the network get fresh keys: another run of these tests on the same machine
    (two sessions, or CI jobs side by side) shares loopback, and fixed keys would make its
    boxes indistinguishable from ours.
    """
    return public_key_text(Ed25519PrivateKey.generate())


def wait_until(predicate, timeout: float = WAIT_S) -> bool:
    """Poll predicate until it holds or the timeout passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def fps(discovery) -> set[str]:
    return {box.fp for box in discovery.nearby()}


def find(discovery, fp: str) -> NearbyBox | None:
    return next((box for box in discovery.nearby() if box.fp == fp), None)


@pytest.fixture
def tag() -> str:
    """A word unique to this test, so boxes of another test run on this machine never clash."""
    return uuid.uuid4().hex[:6]


@pytest.fixture
def start_box():
    """Start Discovery instances on loopback; close every one after the test."""
    started: list[Discovery] = []

    def start(centre: str, port: int) -> Discovery:
        discovery = Discovery(centre, fresh_origin(), port, interfaces=LOOPBACK)
        started.append(discovery)
        return discovery.start()

    yield start
    for discovery in started:
        discovery.close()


# -- names and fingerprints ------------------------------------------------------------


def test_fingerprint_is_short_grouped_and_stable():
    fp = fingerprint(origin(1))
    assert fp == fingerprint(origin(1))
    assert fp != fingerprint(origin(2))
    groups = fp.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert all(c in "0123456789abcdef" for c in "".join(groups))


@pytest.mark.parametrize("junk", ["", "not base64!", "AAAA", origin(1) + "A"])
def test_fingerprint_refuses_what_is_not_a_key(junk):
    with pytest.raises(ValueError):
        fingerprint(junk)


def test_instance_name_is_safe_for_dns_sd():
    assert instance_name("Millbrook Community Centre") == "Millbrook Community Centre"
    assert instance_name("Millbrook", 2) == "Millbrook (2)"
    # Dots would split the name into labels; control characters are refused by zeroconf.
    assert instance_name("St. Anne's\x00\n  Hall") == "St Anne's Hall"
    assert instance_name(" \t ") == "Kith box"
    long = "É" * 100
    for number in (1, 2, 10):
        name = instance_name(long, number)
        assert len(name.encode("utf-8")) <= INSTANCE_MAX_BYTES
        assert name.startswith("É")
    assert instance_name(long, 10).endswith("É (10)")


def test_server_name_is_an_ascii_host_name_per_box():
    a = server_name("Café Ünïon, St. Anne's", fingerprint(origin(1)))
    b = server_name("Café Ünïon, St. Anne's", fingerprint(origin(2)))
    assert a.startswith("kith-cafe-union-st-anne-s-") and a.endswith(".local.")
    assert a != b
    assert server_name("日本", fingerprint(origin(1))).startswith("kith-box-")
    host = server_name("x" * 200, fingerprint(origin(1)))[: -len(".local.")]
    assert len(host) <= 63 and "." not in host


@pytest.mark.parametrize("interfaces", [["::1"], ["0.0.0.0"], ["eth0"], "127.0.0.1", []])
def test_interfaces_must_be_ipv4_addresses(interfaces):
    with pytest.raises(ValueError):
        Discovery("Millbrook", origin(1), 8080, interfaces=interfaces)


# -- real zeroconf on loopback ---------------------------------------------------------


def test_boxes_find_each_other_not_themselves_and_see_a_goodbye(start_box, tag):
    north = start_box(f"North {tag}", 8001)
    south = start_box(f"South {tag}", 8002)
    assert north.name == f"North {tag}" and south.name == f"South {tag}"

    assert wait_until(lambda: south.fp in fps(north) and north.fp in fps(south))
    assert north.fp not in fps(north) and south.fp not in fps(south)

    seen_south = find(north, south.fp)
    assert seen_south.name == f"South {tag}"
    assert seen_south.port == 8002
    assert seen_south.proto == "1"
    assert "127.0.0.1" in seen_south.addresses
    assert time.time() - seen_south.last_seen < WAIT_S + 5
    seen_north = find(south, north.fp)
    assert (seen_north.name, seen_north.port) == (f"North {tag}", 8001)

    south.close()
    assert south.nearby() == []
    assert wait_until(lambda: south.fp not in fps(north))


def test_same_centre_name_gets_a_number(start_box, tag):
    first = start_box(f"Millbrook {tag}", 8001)
    second = start_box(f"Millbrook {tag}", 8002)
    assert first.name == f"Millbrook {tag}"
    assert second.name == f"Millbrook {tag} (2)"

    assert wait_until(lambda: second.fp in fps(first) and first.fp in fps(second))
    assert find(first, second.fp).name == f"Millbrook {tag} (2)"
    assert find(second, first.fp).name == f"Millbrook {tag}"


def test_a_box_that_loses_power_leaves_the_list(tag, tmp_path, monkeypatch):
    monkeypatch.setattr(discovery_mod, "SWEEP_S", 0.3)
    monkeypatch.setattr(discovery_mod, "RESOLVE_TIMEOUT_MS", 1500)
    with Discovery(f"Stays {tag}", fresh_origin(), 8001, interfaces=LOOPBACK) as stays:
        assert stays.name == f"Stays {tag}"
        with pytest.raises(RuntimeError):
            stays.start()
        pull_the_plug(stays, tag, tmp_path)
    assert stays.nearby() == []
    stays.close()  # a second close does nothing


def pull_the_plug(stays: Discovery, tag: str, tmp_path: Path) -> None:
    """Start a box in a process, see it arrive, SIGKILL it and see it leave."""
    gone_origin = fresh_origin()
    gone_fp = fingerprint(gone_origin)
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", SHORT_LIVED_BOX, f"Gone {tag}", gone_origin],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        assert wait_until(lambda: gone_fp in fps(stays)), stderr.read_text()
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert wait_until(lambda: gone_fp not in fps(stays))
    finally:
        process.kill()
        process.wait()


# -- the in-memory twin ----------------------------------------------------------------


def nearby_box(name: str, seed: int, port: int = 8000) -> NearbyBox:
    return NearbyBox(
        name=name,
        addresses=("192.0.2.10",),
        port=port,
        fp=fingerprint(origin(seed)),
        proto="1",
        last_seen=time.time(),
    )


def test_null_discovery_lists_what_is_announced_until_withdrawn():
    with NullDiscovery("Millbrook", origin(1), 8001) as null:
        assert null.name == "Millbrook"
        assert null.nearby() == []
        south, east = nearby_box("South", 2), nearby_box("East", 3)
        null.announce(south)
        null.announce(east)
        assert null.nearby() == [east, south]

        moved = nearby_box("South", 2, port=9000)
        null.announce(moved)
        assert null.nearby() == [east, moved]

        null.withdraw("south")  # names compare as DNS does, without case
        assert null.nearby() == [east]
        null.withdraw("Nobody")
        assert null.nearby() == [east]
    assert null.nearby() == []


def test_null_discovery_ignores_itself():
    null = NullDiscovery("Millbrook", origin(1), 8001).start()
    null.announce(nearby_box("Millbrook (2)", 1))
    assert null.nearby() == []
    null.close()
