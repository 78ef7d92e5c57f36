"""Backups and restore: a consistent copy while the box writes, damaged or foreign backups
refused, a bounded number kept, and a restored box that never signs a seq twice.

Most tests use one box in this process. The backup-while-writing test has a child
process append records while this one backs up; the seq test runs two real boxes (one
served by `kith serve`) that sync over loopback, as a centre's box and its peer would.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
from contextlib import closing
from pathlib import Path

import kithtest
import pytest
from boxes import activate, new_box, trust
from kithtest import NO_BACKGROUND_SYNC, init_args, kith, pair, run_kith, serving
from recordmaker import Origin

from appliance import restore
from appliance.backup import (
    RESTORED_MESSAGE,
    RESTORED_STAFF_MESSAGE,
    BackupError,
    RestoredBox,
    backups_in,
    default_destination,
    learned_from_peer,
    make_backup,
    read_manifest,
    restored_state,
)
from appliance.box import DB_FILE, KEY_FILE, RESTORED_FILE, Box
from appliance.db import database
from appliance.models import Category, StoredRecord
from appliance.records import public_key_text
from appliance.restore import restore_backup
from appliance.services import accounts, board, peers

POST = {
    "type": "need",
    "title": "Tins for the food bank",
    "details": "",
    "category": "food",
    "place": "Main hall",
    "needed_by": "",
}
HOUR_MS = 3_600_000


@pytest.fixture
def stick(tmp_path) -> Path:
    """A folder standing for the USB stick."""
    path = tmp_path / "stick"
    path.mkdir()
    return path


def raws(db: Path) -> list[bytes]:
    """Every stored record's bytes in arrival order, read straight from a database file."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return [bytes(r[0]) for r in conn.execute("SELECT raw FROM stored_record ORDER BY rowid")]


def integrity(db: Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]


def only_backup(folder: Path) -> Path:
    files = sorted(folder.glob("*.kithbackup"))
    assert len(files) == 1, files
    return files[0]


# --- making a backup -----------------------------------------------------------------

WRITER = """
import json, sys
from pathlib import Path
from appliance.box import Box
from appliance.services import accounts, board
box = Box.open(Path(sys.argv[1]))
stop = Path(sys.argv[2])
writer = accounts.actor_for(box, accounts.sign_up(box, "Writer", "password-123"))
post = json.loads(sys.argv[3])
n = 0
while not stop.exists():
    board.create_post(box, writer, {**post, "title": f"Need number {n}"})
    n += 1
print(json.dumps(n))
"""


def test_a_backup_made_while_another_process_writes_restores_record_for_record(box, tmp_path):
    db = box.data_dir / DB_FILE
    stop = tmp_path / "stop"
    stick = tmp_path / "stick"
    stick.mkdir()

    def count() -> int:
        return StoredRecord.select().count()

    def wait_for(target: int) -> None:
        deadline = time.monotonic() + 120  # only so a broken writer cannot hang the run
        while count() < target:
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline, f"the writer never reached {target} records"
            time.sleep(0.02)

    start = count()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(box.data_dir), str(stop), json.dumps(POST)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(start + 40)
        made = make_backup(box, stick)
        after = count()
        wait_for(after + 40)  # and it kept writing once the backup was done
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert json.loads(out) > 80

    result = restore_backup(made.path, tmp_path / "restored")
    restored = tmp_path / "restored" / DB_FILE
    original, copy = raws(db), raws(restored)
    assert start + 40 <= len(copy) < len(original)
    assert copy == original[: len(copy)]  # the same records, byte for byte, in order
    seqs = [json.loads(raw)["seq"] for raw in copy]
    assert seqs == list(range(1, len(copy) + 1))
    assert result.manifest["seq"] == made.seq == len(copy)
    assert integrity(restored) == ["ok"]
    # The projections came with it: every post in the records is on the restored board.
    again = Box.open(tmp_path / "restored")
    assert again.log.verify() == []
    posts = sum(1 for raw in copy if json.loads(raw)["kind"] == "post.created")
    assert database.execute_sql("SELECT COUNT(*) FROM post").fetchone()[0] == posts
    assert database.execute_sql("SELECT COUNT(*) FROM post_fts").fetchone()[0] == posts


def test_a_backup_is_one_private_file_with_a_manifest(box, tmp_path, stick):
    made = make_backup(box, stick)
    assert made.path.parent == stick and made.path.name.startswith("kith-backup-test-centre-")
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600  # it holds the box key
    assert sorted(p.name for p in stick.iterdir()) == [made.path.name]  # nothing half-made
    manifest = read_manifest(made.path)
    assert manifest["origin"] == box.origin
    assert manifest["centre"] == "Test Centre"
    assert manifest["seq"] == box.log.state().seq == made.seq
    with tarfile.open(made.path, "r:gz") as tar:
        names = tar.getnames()
        key = tar.extractfile(KEY_FILE).read()
        db = tar.extractfile(DB_FILE).read()
    assert names[0] == "manifest.json" and set(names) >= {DB_FILE, KEY_FILE, "web-secret"}
    assert key == (box.data_dir / KEY_FILE).read_bytes()
    assert manifest["files"][DB_FILE]["sha256"] == hashlib.sha256(db).hexdigest()


def test_the_first_boot_texts_travel_with_the_backup(box, tmp_path, stick):
    (box.data_dir / "conduct.md").write_text("Be kind.\n")
    (box.data_dir / "poster.json").write_text('{"wifi": {"name": "Hall", "password": "x"}}')
    made = make_backup(box, stick)
    restore_backup(made.path, tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / "conduct.md").read_text() == "Be kind.\n"
    assert "Hall" in (tmp_path / "elsewhere" / "poster.json").read_text()


def test_without_a_stick_backups_go_to_the_data_dir(box, tmp_path):
    box.settings["backup_stick"] = str(tmp_path / "no-stick-here")
    assert default_destination(box) == (box.data_dir / "backups", False)
    made = make_backup(box)
    assert made.path.parent == box.data_dir / "backups" and not made.on_stick


@pytest.mark.skipif(
    not (os.path.ismount("/dev/shm") and os.access("/dev/shm", os.W_OK)),
    reason="needs a writable mount point to stand for the USB stick",
)
def test_a_mounted_stick_is_the_default_destination(box):
    box.settings["backup_stick"] = "/dev/shm"
    assert default_destination(box) == (Path("/dev/shm"), True)


def test_a_missing_folder_is_refused(box, tmp_path):
    with pytest.raises(BackupError, match="there is no folder"):
        make_backup(box, tmp_path / "not-plugged-in")


def test_only_the_newest_backups_of_this_box_are_kept(box, clock, tmp_path):
    folder = tmp_path / "stick"
    folder.mkdir()
    other = new_box(tmp_path / "other", clock, centre_name="Other Centre")
    theirs = make_backup(other, folder).path
    activate(box)
    box.settings["backups_kept"] = 3
    made = []
    for _ in range(5):
        clock.advance(HOUR_MS)
        made.append(make_backup(box, folder))
    assert [m.path for m in made if m.path.exists()] == [m.path for m in made[2:]]
    assert made[-1].removed == [made[1].path] and made[2].removed == []
    assert theirs.exists()  # another box's backup is not ours to delete
    assert [p for p, _ in backups_in(folder, box.origin)] == [m.path for m in reversed(made[2:])]


# --- restoring -----------------------------------------------------------------------


def paired_peer(box, name: str, url: str | None = "http://127.0.0.1:9") -> str:
    """Pair the box with a made-up box (reached at url, or calling us if None); its origin."""
    origin = Origin(name).origin
    peers.remember(box, origin, name, url)
    trust(box, origin)
    return origin


def test_a_restored_box_signs_nothing_until_every_peer_it_calls_told_it_its_seq(
    box, alice, tmp_path, stick
):
    stale, fresh = paired_peer(box, "Hill Centre"), paired_peer(box, "Vale Centre")
    paired_peer(box, "Caller Centre", url=None)  # it only ever calls us: it cannot vouch
    peers.remember(box, Origin("Met").origin, "Met Centre", "http://127.0.0.1:9")  # unpaired
    made = make_backup(box, stick)
    for n in range(3):
        board.create_post(box, alice, {**POST, "title": f"After the backup {n}"})
    used = box.log.state().seq
    database.close()

    restore_backup(made.path, box.data_dir)
    restored = Box.open(box.data_dir)
    assert restored.log.state().seq == made.seq < used
    before = StoredRecord.select().count()
    with pytest.raises(RestoredBox) as refused:
        board.create_post(restored, alice, POST)
    # Pages tell visitors to ask staff; the command line tells staff what to run.
    assert refused.value.message == RESTORED_MESSAGE
    assert str(refused.value) == RESTORED_STAFF_MESSAGE
    assert "kith sync" in str(refused.value) and "--new-key" in str(refused.value)
    assert StoredRecord.select().count() == before  # nothing signed, nothing stored

    # A round with a stale peer (it never got what we signed after the backup) is not enough.
    assert not learned_from_peer(restored, stale, {restored.origin: made.seq})
    assert restored_state(box.data_dir)["answered"] == [stale]
    with pytest.raises(RestoredBox):
        restored.log.append(
            "place.set", {"name": "Porch", "active": True}, subject=restored.centre.id
        )
    # Nor is an answer from a box we are not paired with; the stale one again changes nothing.
    assert not learned_from_peer(restored, Origin("Stranger").origin, {restored.origin: used})
    assert not learned_from_peer(restored, stale, {restored.origin: made.seq})
    assert restored.log.state().seq == made.seq
    assert (box.data_dir / RESTORED_FILE).exists()

    # Once every paired box it calls has answered, it writes past the highest answer.
    assert learned_from_peer(restored, fresh, {restored.origin: used})
    assert not (box.data_dir / RESTORED_FILE).exists()
    assert (
        restored.log.append(
            "place.set", {"name": "Back room", "active": True}, subject=restored.centre.id
        ).seq
        == used + 1
    )
    assert not learned_from_peer(restored, fresh, {restored.origin: used + 50})  # only once
    assert restored.log.state().seq == used + 1


def test_a_server_restored_box_writes_once_another_process_lifted_the_mark(box, tmp_path, stick):
    peer = paired_peer(box, "Hill Centre")
    made = make_backup(box, stick)
    box.log.append("place.set", {"name": "Garden", "active": True}, subject=box.centre.id)
    used = box.log.state().seq
    database.close()
    restore_backup(made.path, box.data_dir)
    server = Box.open(box.data_dir)  # as `kith serve` holds it
    syncing = Box.open(box.data_dir)  # as `kith sync` opens it meanwhile
    with pytest.raises(RestoredBox):
        server.log.append("place.set", {"name": "Porch", "active": True}, subject=server.centre.id)
    assert learned_from_peer(syncing, peer, {box.origin: used})
    rec = server.log.append(
        "place.set", {"name": "Porch", "active": True}, subject=server.centre.id
    )
    assert rec.seq == used + 1
    assert server.log.write_guard is None  # no cost per append from now on


def test_a_backup_of_another_box_is_refused_unless_asked_for(box, clock, tmp_path, stick):
    made = make_backup(box, stick)
    other = new_box(tmp_path / "other", clock, centre_name="Other Centre")
    other_key = (other.data_dir / KEY_FILE).read_bytes()
    other_records = raws(other.data_dir / DB_FILE)
    database.close()

    with pytest.raises(BackupError, match="holds a different box.*--replace-other-box"):
        restore_backup(made.path, other.data_dir)
    assert (other.data_dir / KEY_FILE).read_bytes() == other_key  # untouched
    assert not (other.data_dir / RESTORED_FILE).exists()

    result = restore_backup(made.path, other.data_dir, other_box_ok=True)
    assert Box.open(other.data_dir).origin == box.origin
    # What was there is kept aside, not deleted.
    aside = {p.name.split(".before-restore-")[0]: p for p in result.moved_aside}
    assert aside[KEY_FILE].read_bytes() == other_key
    assert raws(aside[DB_FILE]) == other_records


def test_restore_is_refused_while_the_box_is_running(box, tmp_path, stick):
    made = make_backup(box, stick)
    # This process holds the database open, as the server does.
    with pytest.raises(BackupError, match="the box is running.*stop it first"):
        restore_backup(made.path, box.data_dir)
    assert not (box.data_dir / RESTORED_FILE).exists()
    assert box.log.append("place.set", {"name": "Hall", "active": True}, subject=box.centre.id)


def _rewrite(path: Path, change) -> None:
    """Rewrite a backup's members through change(name, data) -> data, keeping the manifest."""
    with tarfile.open(path, "r:gz") as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members:
            data = change(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(out.getvalue())


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _swap_database(path: Path) -> None:
    # A valid gzip'd tar whose database is not the one the manifest vouches for.
    _rewrite(path, lambda name, data: data.replace(b"Test Centre", b"Evil Centre"))


def _newer_format(path: Path) -> None:
    def change(name, data):
        if name != "manifest.json":
            return data
        return json.dumps({**json.loads(data), "format": "kith-backup/9"}).encode()

    _rewrite(path, change)


def _not_a_backup(path: Path) -> None:
    path.write_bytes(gzip.compress(b"just some notes\n"))


def _huge_manifest(path: Path) -> None:
    def change(name, data):
        if name != "manifest.json":
            return data
        return json.dumps({**json.loads(data), "padding": " " * (2 << 20)}).encode()

    _rewrite(path, change)


def _grown_database(path: Path) -> None:
    # Far more bytes than the manifest says, as a gzip bomb would unpack to: never unpacked.
    _rewrite(path, lambda name, data: data + bytes(8 << 20) if name == DB_FILE else data)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_cut, "damaged or cut short"),
        (_flip, "damaged"),
        (_swap_database, "does not match its checksum"),
        (_newer_format, "made by a newer Kith"),
        (_not_a_backup, "not a Kith backup|damaged"),
        (_huge_manifest, "manifest is too big"),
        (_grown_database, "bigger than its manifest says"),
    ],
)
def test_a_damaged_backup_is_refused_and_changes_nothing(box, tmp_path, damage, message, stick):
    made = make_backup(box, stick)
    damage(made.path)
    target = tmp_path / "new-card"
    with pytest.raises(BackupError, match=message):
        restore_backup(made.path, target)
    assert not target.exists() or not any(
        p.name in (DB_FILE, KEY_FILE, RESTORED_FILE) for p in target.iterdir()
    )


def test_a_backup_bigger_than_the_free_space_is_refused_before_writing(
    box, tmp_path, stick, monkeypatch
):
    made = make_backup(box, stick)
    size = sum(f["size"] for f in read_manifest(made.path)["files"].values())
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(restore.shutil, "disk_usage", lambda path: usage._replace(free=size - 1))
    target = tmp_path / "new-card"
    with pytest.raises(BackupError, match="needs .* free"):
        restore_backup(made.path, target)
    assert not target.exists() or list(target.iterdir()) == []


def test_a_new_key_carries_the_centre_and_roles_and_writes_at_once(box, admin, tmp_path, stick):
    made = make_backup(box, stick)
    old = box.origin
    database.close()

    result = restore_backup(made.path, tmp_path / "new", new_key=True)
    fresh = Box.open(tmp_path / "new")
    assert fresh.origin == result.new_origin != old
    assert public_key_text(fresh.log.key) == fresh.origin
    assert fresh.log.write_guard is None and not (tmp_path / "new" / RESTORED_FILE).exists()
    assert fresh.centre.name == "Test Centre"
    assert "admin" in accounts.current_roles(fresh, admin.id)
    slugs = {c.slug for c in Category.select().where(Category.origin == fresh.origin)}
    assert slugs == {c.slug for c in Category.select().where(Category.origin == old)}
    # The old key's records stay, and are still accepted from peers; it never signs again.
    assert StoredRecord.select().where(StoredRecord.origin == old).count() == made.seq
    assert old in fresh.log.trusted_origins()
    rec = fresh.log.append("place.set", {"name": "Hall", "active": True}, subject=fresh.centre.id)
    assert rec.origin == fresh.origin
    assert fresh.log.verify() == []


# --- two real boxes ------------------------------------------------------------------

PRELUDE = """
import json, sys
from pathlib import Path
from appliance.box import Box
from appliance.models import Quarantine, StoredRecord
from appliance.services import accounts, board
BOX = Box.open(Path(sys.argv[1]))
def poster():
    from appliance.models import Account
    row = Account.get_or_none(Account.login == accounts.login_key("Poster"))
    member = row.member if row else accounts.sign_up(BOX, "Poster", "password-123")
    return accounts.actor_for(BOX, member)
POST = json.loads(sys.argv[-1])
"""


def on_box(data: Path, code: str, *args: str):
    """Run code in a child Python with the box open as BOX; return its stdout as JSON."""
    return kithtest.on_box(data, code, *args, json.dumps(POST), prelude=PRELUDE)


def test_a_restored_box_waits_for_every_peer_and_never_reuses_a_seq(tmp_path):
    password = tmp_path / "password"
    password.write_text("restore-test-password\n")
    a, b, c, stick = tmp_path / "A", tmp_path / "B", tmp_path / "C", tmp_path / "stick"
    stick.mkdir()
    for data, name in ((a, "Centre A"), (b, "Centre B"), (c, "Centre C")):
        kith(*init_args(data, password, name))
    with (
        serving("--data", str(b), log=tmp_path / "B.log", env=NO_BACKGROUND_SYNC) as (_, b_url),
        serving("--data", str(c), log=tmp_path / "C.log", env=NO_BACKGROUND_SYNC) as (_, c_url),
    ):
        pair(a, b, b_url)
        pair(a, c, c_url)
        kith("--data", str(a), "sync")
        on_box(a, "board.create_post(BOX, poster(), POST)")
        kith("--data", str(a), "backup", str(stick))
        backup = only_backup(stick)
        backed_up = read_manifest(backup)["seq"]
        # After the backup: posts that reach B (C is switched off that night, so it stays
        # stale), then a record A keeps to itself, which B never holds but steps over.
        used = on_box(
            a,
            "for n in range(3):\n"
            "    board.create_post(BOX, poster(), {**POST, 'title': f'After {n}'})\n"
            "BOX.log.append('place.set', {'name': 'Office', 'active': True},"
            " subject=BOX.centre.id, scope='local')\n"
            "print(json.dumps(BOX.log.state().seq))",
        )
        assert "stopped" not in kith("--data", str(a), "sync", "--peer", "Centre B")
        origin = on_box(a, "print(json.dumps(BOX.origin))")

        # The SD card dies; the box is restored onto a new one.
        restored = tmp_path / "A-again"
        out = kith("--data", str(restored), "restore", str(backup))
        assert "run `kith sync`" in out
        try_post = (
            "try:\n    print(json.dumps(board.create_post(BOX, poster(), POST)))\n"
            "except Exception as exc:\n    print(json.dumps([type(exc).__name__, str(exc)]))"
        )
        assert on_box(restored, try_post) == ["RestoredBox", RESTORED_STAFF_MESSAGE]
        doctor = run_kith("--data", str(restored), "doctor", ok=False)
        assert doctor.returncode == 1 and "FAIL  Restore:" in doctor.stdout

        # The stale peer answers first: what it knows is not enough, so the box waits.
        assert "stopped" not in kith("--data", str(restored), "sync", "--peer", "Centre C")
        assert on_box(restored, try_post) == ["RestoredBox", RESTORED_STAFF_MESSAGE]
        doctor = run_kith("--data", str(restored), "doctor", ok=False)
        assert "FAIL  Restore:" in doctor.stdout and "still to sync: Centre B" in doctor.stdout

        kith("--data", str(restored), "sync", "--peer", "Centre B")
        seq = on_box(restored, "print(json.dumps(BOX.log.state().seq))")
        assert backed_up < used == seq  # past the posts B sent back and the local record
        new = on_box(
            restored,
            "print(json.dumps(board.create_post(BOX, poster(), {**POST, 'title': 'Back'})))",
        )
        assert "stopped" not in kith("--data", str(restored), "sync")
        check = (
            "rows = StoredRecord.select().where(StoredRecord.origin == sys.argv[2])\n"
            "print(json.dumps([Quarantine.select().count(), max(r.seq for r in rows),"
            " StoredRecord.get_or_none(StoredRecord.id == sys.argv[3]) is not None]))"
        )
        # B and C took it: no fork, no seq signed twice.
        assert on_box(b, check, origin, new) == [0, used + 1, True]
        assert on_box(c, check, origin, new) == [0, used + 1, True]

        # The same restore without the guard signs a seq B already holds: a fork.
        careless = tmp_path / "A-careless"
        kith("--data", str(careless), "restore", str(backup))
        (careless / RESTORED_FILE).unlink()
        on_box(careless, "board.create_post(BOX, poster(), {**POST, 'title': 'Oops'})")
        synced = run_kith("--data", str(careless), "sync", ok=False)
        assert synced.returncode == 1 and "fork" in synced.stdout
        quarantined = on_box(careless, "print(json.dumps([q.origin for q in Quarantine.select()]))")
        assert quarantined == [origin]
