"""The signed daily open-data dump: its contents, its signature (checked with the box's
public key, by verify_dump, by the page's Python snippet and by `kith dump --verify`),
what a changed byte does, the 30 days kept, the daily sweep, and no personal data."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from test_open_data import build_world

from appliance import sweeps
from appliance.dates import local_day
from appliance.errors import NotFound
from appliance.records import unb64url
from appliance.services import open_data, open_dump
from appliance.services.open_data_columns import DATASETS

DAY_MS = 86_400_000
TODAY = datetime.date(2026, 1, 1)


@pytest.fixture
def world(box, staff, alice, bob, clock):
    return build_world(box, staff, alice, bob, clock)


def flip_a_byte(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_dump_holds_every_dataset_unfiltered_with_centre_origin_and_time(box, world):
    path = open_dump.write_dump(box)
    day = local_day(box)
    assert path == box.data_dir / "open-data" / f"kith-open-data-{day.isoformat()}.json"
    doc = json.loads(path.read_bytes())
    assert doc["format"] == "kith-open-data/1"
    assert doc["centre"] == "Test Centre"
    assert doc["origin"] == box.origin
    assert doc["day"] == day.isoformat() == "2026-01-02"
    assert doc["generated"] == "2026-01-02T17:00:00+00:00"
    assert set(doc["datasets"]) == set(DATASETS)
    for dataset in DATASETS:
        want = open_data.as_json(open_data.export(box, dataset))
        assert doc["datasets"][dataset] == {"columns": want["columns"], "rows": want["rows"]}
    assert len(doc["datasets"]["posts"]["rows"]) == 3


def test_the_signature_verifies_with_the_box_public_key_and_nothing_else(box, world):
    path = open_dump.write_dump(box)
    signature = unb64url(path.with_suffix(".sig").read_text().strip())
    data = path.read_bytes()
    key = Ed25519PublicKey.from_public_bytes(unb64url(box.origin))
    key.verify(signature, b"kith/open-data/v1\n" + data)  # raises if it does not
    with pytest.raises(InvalidSignature):  # domain-separated: never a bare signature
        key.verify(signature, data)
    with pytest.raises(InvalidSignature):  # nor a record's
        key.verify(signature, b"kith/record/v1\n" + data)
    assert open_dump.verify_dump(path, box.origin)
    assert open_dump.verify_dump(path)  # against the key the file names
    other = world.peer.origin
    assert not open_dump.verify_dump(path, other)


def test_a_changed_byte_or_a_missing_or_bad_signature_fails(box, world):
    path = open_dump.write_dump(box)
    sig = path.with_suffix(".sig")
    original, original_sig = path.read_bytes(), sig.read_bytes()
    for at in (0, len(original) // 2, len(original) - 1):
        flip_a_byte(path, at)
        assert not open_dump.verify_dump(path, box.origin)
        path.write_bytes(original)
    assert open_dump.verify_dump(path, box.origin)
    flip_a_byte(sig, 5)
    assert not open_dump.verify_dump(path, box.origin)
    sig.write_text("not base64url!\n")
    assert not open_dump.verify_dump(path, box.origin)
    sig.unlink()
    assert not open_dump.verify_dump(path, box.origin)
    sig.write_bytes(original_sig)
    assert not open_dump.verify_dump(path, "not-a-key")
    path.write_bytes(b"[1, 2]")  # no origin named in it
    assert not open_dump.verify_dump(path)
    assert not open_dump.verify_dump(path.with_name("missing.json"))


def test_dumps_older_than_30_days_are_removed(box, world):
    today = local_day(box)
    old = open_dump.write_dump(box, today - datetime.timedelta(days=30))
    kept = open_dump.write_dump(box, today - datetime.timedelta(days=29))
    stray_sig = old.with_name("kith-open-data-2025-01-01.sig")  # a signature alone
    stray_sig.write_text("x\n")
    other = old.with_name("notes.txt")  # not a dump: never touched
    other.write_text("keep me")
    assert old.exists()
    path = open_dump.write_dump(box)
    assert not old.exists() and not old.with_suffix(".sig").exists() and not stray_sig.exists()
    assert kept.exists() and kept.with_suffix(".sig").exists() and other.exists()
    assert [d["name"] for d in open_dump.list_dumps(box)] == [path.stem, kept.stem]
    assert open_dump.verify_dump(kept, box.origin)


def test_the_daily_sweep_writes_todays_dump_once(box, world, clock):
    first = open_dump.daily(box)
    assert first == {"written": 1, "removed": 0}
    name = open_dump.dump_name(local_day(box))
    path = open_dump.dump_dir(box) / f"{name}.json"
    made = path.read_bytes()
    clock.advance(3_600_000)
    assert open_dump.daily(box) == {"written": 0, "removed": 0}
    assert path.read_bytes() == made  # not written again the same day
    path.with_suffix(".sig").unlink()  # half a dump (a power cut): written again
    assert open_dump.daily(box)["written"] == 1
    assert open_dump.verify_dump(path, box.origin)
    clock.advance(30 * DAY_MS)
    results = sweeps.run_all(box)
    assert results["errors"] == {}
    assert results["open_data"] == {"written": 1, "removed": 1}
    assert "open_data: written 1, removed 1" in sweeps.summary(results)
    assert not path.exists()


def test_a_dump_file_is_found_only_by_its_exact_name(box, world):
    path = open_dump.write_dump(box)
    assert open_dump.dump_file(box, path.stem, ".json") == path
    assert open_dump.dump_file(box, path.stem, ".sig") == path.with_suffix(".sig")
    for name, suffix in [
        (path.stem, ".txt"),
        ("kith-open-data-2026-13-01", ".json"),
        ("kith-open-data-2025-06-01", ".json"),  # a day never written
        ("../box", ".key"),
        ("..", ".json"),
        ("kith-open-data-2026-01-02/../../box", ".key"),
    ]:
        with pytest.raises(NotFound):
            open_dump.dump_file(box, name, suffix)


def test_the_python_snippet_on_the_page_checks_a_dump(box, world):
    path = open_dump.write_dump(box)
    code = open_dump.verify_snippet(box, path.stem)
    assert box.origin in code and f"{path.stem}.json" in code
    run = [sys.executable, "-c", code]
    ok = subprocess.run(run, cwd=path.parent, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.strip() == "good signature", ok.stderr
    flip_a_byte(path, 10)
    bad = subprocess.run(run, cwd=path.parent, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "InvalidSignature" in bad.stderr


def test_kith_dump_writes_and_verifies_in_one_line(box, world, capsys, tmp_path):
    from appliance.cli import main

    # The command opens the box itself, on the real clock.
    assert main(["--data", str(box.data_dir), "dump"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Wrote the signed open data dump ") and out.count("\n") == 1
    path = open_dump.list_dumps(box)[0]
    file = open_dump.dump_dir(box) / f"{path['name']}.json"
    assert main(["dump", "--verify", str(file)]) == 0  # needs no box
    out = capsys.readouterr().out
    assert out.startswith(f"Good signature: {file.name}") and box.origin in out
    flip_a_byte(file, 3)
    assert main(["dump", "--verify", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kith: the signature does not match") and err.count("\n") == 1
    assert main(["dump", "--verify", str(tmp_path / "nothing.json")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    lonely = tmp_path / "lonely.json"
    lonely.write_text("{}")
    assert main(["dump", "--verify", str(lonely)]) == 1
    assert "no signature" in capsys.readouterr().err


def test_no_name_contact_ride_or_hidden_text_in_the_dump(box, world):
    path = open_dump.write_dump(box)
    text = path.read_text(encoding="utf-8")
    assert "=Fix the lamp" in text and "Peer Centre" in text  # the public rows are there
    for value in world.personal:
        assert value not in text, value


def test_a_dump_holding_what_was_hidden_since_is_withdrawn_and_written_again(box, world, staff):
    from appliance.services import moderation

    path = open_dump.write_dump(box)
    should = next(r for r in json.loads(path.read_bytes())["datasets"]["should"]["rows"])
    assert open_dump.list_dumps(box)
    moderation.set_post_hidden(box, staff, should["id"], True, "Names a neighbour")
    # Served no more, at once: the signed file cannot be edited, so it goes whole.
    with pytest.raises(NotFound):
        open_dump.dump_file(box, path.stem, ".json")
    assert not path.exists() and not path.with_suffix(".sig").exists()
    assert open_dump.list_dumps(box) == []
    # The daily sweep writes today's again from what stands now.
    assert open_dump.daily(box)["written"] == 1
    rows = json.loads(path.read_bytes())["datasets"]["should"]["rows"]
    assert should["id"] not in {r["id"] for r in rows}
    assert open_dump.verify_dump(path, box.origin)
