"""The health checks behind `kith doctor` and the staff health page."""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
from contextlib import closing

import pytest
from boxes import trust
from recordmaker import Origin

from appliance.backup import make_backup
from appliance.box import DB_FILE, KEY_FILE, RESTORED_FILE, SECRET_FILE, Box, BoxError
from appliance.db import database, open_database
from appliance.errors import NotAllowed, NotSignedIn
from appliance.models import Quarantine
from appliance.services import health, peers

MB = 1024 * 1024
GB = 1024 * MB
DAY_MS = 86_400_000


def by_name(checks, name):
    found = [c for c in checks if c.name == name]
    assert len(found) == 1, [c.name for c in checks]
    return found[0]


@pytest.mark.parametrize(
    ("total", "free", "status"),
    [
        (32 * GB, 16 * GB, health.OK),
        (32 * GB, 4 * GB, health.WARN),  # 12.5 %
        (2 * GB, 400 * MB, health.WARN),  # 20 % but under 500 MB
        (32 * GB, 1 * GB, health.FAIL),  # 3 %
        (1 * GB, 90 * MB, health.FAIL),  # under 100 MB
        (100 * GB, 6 * GB, health.WARN),
    ],
)
def test_disk_thresholds(total, free, status):
    check = health.disk_check(total, free)
    assert check.status == status
    assert (check.todo == "") == (status == health.OK)


def test_a_new_box_has_no_backup_then_one_that_ages(box, clock, tmp_path):
    box.settings["backup_stick"] = str(tmp_path / "no-stick")
    assert health.last_backup(box).status == health.FAIL
    make_backup(box)
    assert health.last_backup(box).status == health.OK
    clock.advance(3 * DAY_MS)
    check = health.last_backup(box)
    assert check.status == health.WARN and "3 days old" in check.text()
    clock.advance(5 * DAY_MS)
    assert health.last_backup(box).status == health.FAIL


def test_a_backup_elsewhere_does_not_count_for_the_nightly_place(box, tmp_path):
    box.settings["backup_stick"] = str(tmp_path / "no-stick")
    (tmp_path / "elsewhere").mkdir()
    make_backup(box, tmp_path / "elsewhere")
    assert health.last_backup(box).status == health.FAIL


def test_the_clock_before_this_version_or_behind_the_records_is_wrong(box, clock):
    assert health.clock(box).status == health.OK
    newest = box.log.state().hlc_ms
    clock.ms = newest - 10 * 60_000
    assert health.clock(box).status == health.WARN
    clock.ms = newest - 2 * DAY_MS
    assert health.clock(box).status == health.FAIL
    clock.ms = 0  # a Pi without a clock battery, after a power cut
    check = health.clock(box)
    assert check.status == health.FAIL and "1970-01-01" in check.text()


def test_key_files_must_be_private(box):
    assert health.key_files(box).status == health.OK
    (box.data_dir / SECRET_FILE).chmod(0o640)
    check = health.key_files(box)
    assert check.status == health.FAIL and "chmod 600" in check.todo_text()


def test_a_box_that_cannot_open_because_of_its_key_still_gets_its_key_check(box):
    database.close()
    (box.data_dir / KEY_FILE).chmod(0o644)
    with pytest.raises(BoxError):
        Box.open(box.data_dir)  # `kith doctor` cannot open it, but can still say why
    (check,) = [c for c in health.checks_before_opening(box.data_dir) if c.name == "Key files"]
    assert check.status == health.FAIL and "can be read by other users" in check.text()
    assert check.todo_text() == f"Run: chmod 600 {box.data_dir / KEY_FILE}"


def test_the_key_belongs_to_whoever_owns_the_data_not_to_whoever_asks(box, monkeypatch):
    # `sudo kith doctor` on the appliance: root asks about files the kith user owns.
    monkeypatch.setattr(os, "geteuid", lambda: box.data_dir.stat().st_uid + 4242)
    assert health.key_files(box).status == health.OK


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_key_that_is_not_the_data_owners_says_whose_it_must_be(box):
    nobody = pwd.getpwnam("nobody")
    os.chown(box.data_dir, nobody.pw_uid, nobody.pw_gid)  # as the kith user owns /var/lib/kith
    for name in (KEY_FILE, SECRET_FILE):
        os.chown(box.data_dir / name, nobody.pw_uid, nobody.pw_gid)
    assert health.key_files(box).status == health.OK  # root asks; nobody (kith) owns
    os.chown(box.data_dir / KEY_FILE, 0, 0)  # e.g. copied back by hand as root
    check = health.key_files(box)
    assert check.status == health.FAIL and "belongs to root" in check.text()
    assert check.todo_text() == f"Run: sudo chown nobody {box.data_dir / KEY_FILE}"


def test_sync_per_paired_peer(box, clock):
    assert [c.status for c in health.last_sync(box)] == [health.OK]  # nobody to sync with
    peer_origin = Origin("hill").origin
    peers.remember(box, peer_origin, "Hill Centre", "http://127.0.0.1:9")
    trust(box, peer_origin)
    (never,) = health.last_sync(box)
    assert never.status == health.WARN and "Never synced with Hill Centre" in never.text()
    peers.note_sync(box, peer_origin, 3, 2, None)
    assert [c.status for c in health.last_sync(box)] == [health.OK]
    clock.advance(8 * DAY_MS)
    assert [c.status for c in health.last_sync(box)] == [health.WARN]
    peers.note_sync(box, peer_origin, 0, 0, "cannot reach http://127.0.0.1:9")
    (failed,) = health.last_sync(box)
    assert failed.status == health.WARN and "cannot reach" in failed.text()


def test_restored_and_quarantined_are_reported(box, clock):
    assert health.restored(box).status == health.OK
    (box.data_dir / RESTORED_FILE).write_text('{"seq": 12}')
    check = health.restored(box)
    assert check.status == health.FAIL and "up to record 12" in check.text()
    # No paired box to call: only a new key gets it going again.
    assert "has no paired box it can call" in check.text()
    assert "kith restore FILE --new-key" in check.todo_text()
    assert health.quarantine_checks() == []
    hill = Origin("hill").origin
    trust(box, hill)  # the name its pairing gave it
    Quarantine.create(origin=hill, reason="two records claim seq 4", evidence="", at_ms=1)
    (refused,) = health.quarantine_checks()
    assert refused.status == health.WARN
    assert refused.text() == (
        f"peer {hill[:6]}'s box sent two different records for the same place in its history "
        "— its records are held back until staff decide; see Other centres."
    )
    assert "seq" not in refused.text() + refused.todo_text()


def test_a_restored_box_names_the_peers_it_still_waits_for(box):
    for name, url in (("Hill Centre", "http://127.0.0.1:9"), ("Vale Centre", "http://[::1]:9")):
        origin = Origin(name).origin
        peers.remember(box, origin, name, url)
        trust(box, origin)
    caller = Origin("Caller").origin
    peers.remember(box, caller, "Caller Centre")  # no address: it only ever calls this box
    trust(box, caller)
    (box.data_dir / RESTORED_FILE).write_text(
        json.dumps({"seq": 12, "answered": [Origin("Hill Centre").origin]})
    )
    check = health.restored(box)
    assert check.status == health.FAIL
    assert "still to sync: Vale Centre." in check.text() and "Hill" not in check.text()
    assert "kith sync" in check.todo_text() and "--new-key" in check.todo_text()
    assert "Caller Centre" in check.todo_text()  # it cannot vouch for this box


def test_a_damaged_database_fails_both_checks(box):
    assert health.database_check().status == health.OK
    assert health.database_check(full=True).status == health.OK
    database.close()
    # Forget an index in the schema: its pages are left in the file, used by nothing.
    with closing(sqlite3.connect(box.data_dir / DB_FILE)) as conn:
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("DELETE FROM sqlite_master WHERE name = 'post_board'")
        conn.commit()
    open_database(box.data_dir / DB_FILE)
    for full in (False, True):
        check = health.database_check(full)
        assert check.status == health.FAIL and "never used" in check.text()
        assert "kith restore" in check.todo_text()


def test_only_staff_see_the_report(box, alice, staff):
    with pytest.raises(NotSignedIn):
        health.report(box, None)
    with pytest.raises(NotAllowed):
        health.report(box, alice)
    names = [c.name for c in health.report(box, staff)]
    assert names[:3] == ["Storage", "Database", "Last backup"]
    assert {"Clock", "Key files", "Restore"} <= set(names)
