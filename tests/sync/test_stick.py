"""USB stick bundles between two boxes that never share a network (real `kith` commands)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kithtest import init_args, pairing_code
from kithtest import run_kith as kith

PASSWORD = "stick-password"


def records(data: Path) -> int:
    return len(kith("--data", str(data), "log", "export").stdout.splitlines())


@pytest.fixture
def pair(tmp_path):
    """Boxes A (with demo content) and B, paired through card files on a stick."""
    stick = tmp_path / "stick"
    stick.mkdir()
    a, b = tmp_path / "a", tmp_path / "b"
    kith("--data", str(a), "demo")
    password = tmp_path / "pw"
    password.write_text(PASSWORD + "\n")
    kith(*init_args(b, password, "Upland"))
    kith("--data", str(a), "peer", "card", str(stick / "a.card"))
    kith("--data", str(b), "peer", "card", str(stick / "b.card"))
    out = kith("--data", str(a), "peer", "add", str(stick / "b.card")).stdout
    code = pairing_code(out)
    assert code in kith("--data", str(b), "peer", "add", str(stick / "a.card")).stdout
    kith("--data", str(a), "peer", "confirm", code)
    kith("--data", str(b), "peer", "confirm", code)
    return a, b, stick


def test_a_bundle_carries_records_and_a_second_import_changes_nothing(pair):
    a, b, stick = pair
    before = records(b)
    out = kith("--data", str(a), "bundle", "export", "--for", "Upland", str(stick)).stdout
    (path,) = stick.glob("kith-for-Upland-*.bundle")
    assert f"to {path}" in out
    first = kith("--data", str(b), "bundle", "import", str(path)).stdout
    assert "From Millbrook Community Centre:" in first and " 0 new" not in first
    assert records(b) > before
    titles = kith("--data", str(b), "log", "export").stdout
    assert "Tinned tomatoes and pasta" in titles
    after = records(b)
    again = kith("--data", str(b), "bundle", "import", str(path)).stdout
    assert ": 0 new records" in again
    assert records(b) == after
    assert kith("--data", str(b), "log", "verify").returncode == 0
    # The stick reveals nothing it carries.
    assert b"Tinned tomatoes" not in path.read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_damaged_bundle_applies_nothing(pair, damage):
    a, b, stick = pair
    kith("--data", str(a), "bundle", "export", "--for", "Upland", str(stick))
    (path,) = stick.glob("*.bundle")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data += b"trailing garbage"
    path.write_bytes(bytes(data))
    before = records(b)
    done = kith("--data", str(b), "bundle", "import", str(path), ok=False)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("kith: ")
    assert records(b) == before


def test_a_bundle_for_another_box_or_from_a_stranger_is_refused(pair, tmp_path):
    a, b, stick = pair
    kith("--data", str(a), "bundle", "export", "--for", "Upland", str(stick))
    (path,) = stick.glob("*.bundle")
    # The sender itself is not the recipient.
    done = kith("--data", str(a), "bundle", "import", str(path), ok=False)
    assert done.returncode == 1 and "for another box" in done.stderr
    # A file that is not a bundle at all.
    log = tmp_path / "export.jsonl"
    log.write_text(kith("--data", str(a), "log", "export").stdout)
    done = kith("--data", str(b), "bundle", "import", str(log), ok=False)
    assert done.returncode == 1 and "not a Kith bundle" in done.stderr


def test_export_for_a_box_that_is_not_paired_is_refused(tmp_path):
    a = tmp_path / "a"
    kith("--data", str(a), "demo")
    done = kith("--data", str(a), "bundle", "export", "--for", "Nobody", str(tmp_path), ok=False)
    assert done.returncode == 1 and "no peer called Nobody" in done.stderr
