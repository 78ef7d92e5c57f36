"""Update bundles: build real ones from this tree, install, refuse tampered ones, roll back.

Two bundles are built once per session from this source tree with this machine's pip
(its local cache and index): the tree as it is, and a copy with a bumped version and one
more schema step. Installing one makes a real venv, so the tests here take about a minute.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from boxes import new_box, with_role
from kithtest import NO_BACKGROUND_SYNC, init_args, run_kith, serving
from recordmaker import Origin

from appliance import models, update, versions
from appliance.box import DB_FILE, KEY_FILE
from appliance.db import database
from appliance.records import encode, public_key_text, record_id, sign
from appliance.services import assisted, peers

ROOT = Path(__file__).resolve().parent.parent.parent
# One more schema step for the second bundle, so the update migrates and rollback restores.
EXTRA_STEP = """

def _step_update_test(db):
    db.execute_sql("CREATE TABLE update_test_marker (id INTEGER PRIMARY KEY)")


STEPS.append(_step_update_test)
"""


@dataclass
class Release:
    keys: Path  # the folder of trusted .pub files
    key: Path  # the private release key
    first: Path  # bundle of this tree
    second: Path  # bundle of a copy with a bumped version and one more schema step
    first_version: str
    second_version: str


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Release:
    """Build the two bundles (a few seconds each with pip's cache)."""
    base = tmp_path_factory.mktemp("release")
    keys = base / "keys"
    keys.mkdir()
    out = run_kith("update", "--new-release-key", str(base / "release.key")).stdout
    (keys / "release.pub").write_text(out.strip().splitlines()[-1] + "\n")
    (base / "one").mkdir()
    run_kith("update", "--build", str(base / "one"), "--key", str(base / "release.key"))
    (first,) = (base / "one").iterdir()

    tree = base / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "__pycache__", "*.egg-info"),
    )
    pyproject = (tree / "pyproject.toml").read_text()
    version = re.search(r'^version = "(.+)"$', pyproject, re.M).group(1)
    bumped = pyproject.replace(f'version = "{version}"', f'version = "{version}+next"', 1)
    (tree / "pyproject.toml").write_text(bumped)
    with open(tree / "appliance" / "db.py", "a") as f:
        f.write(EXTRA_STEP)
    key = update.load_release_key(base / "release.key")
    second, manifest = update.build_bundle(base, key, source=tree, say=lambda line: None)
    return Release(keys, base / "release.key", first, second, version, manifest["kith_version"])


@pytest.fixture
def box(tmp_path) -> Path:
    """A box made by the kith under test (this tree), as the image would have set it up."""
    data = tmp_path / "box"
    password = tmp_path / "password"
    password.write_text("correct horse battery\n")
    run_kith(*init_args(data, password, "Update Centre"))
    return data


def env_for(release: Release, root: Path) -> dict[str, str]:
    return {
        **NO_BACKGROUND_SYNC,
        "KITH_RELEASE_KEYS_DIR": str(release.keys),
        "KITH_INSTALL_ROOT": str(root),
    }


def kith_update(release, root, box, *args, ok=True):
    return run_kith("--data", str(box), "update", *args, env=env_for(release, root), ok=ok)


def snapshot(root: Path) -> dict:
    """What an install root looks like: where current points, its files, its state."""
    return {
        "current": os.readlink(root / "current") if (root / "current").is_symlink() else None,
        "entries": sorted(p.name for p in root.iterdir()),
        "versions": sorted(p.name for p in (root / "versions").iterdir()),
        "state": versions.read_state(root),
    }


def user_version(db: Path) -> int:
    return versions.schema_version(db)


def count_accounts(box: Path) -> int:
    conn = sqlite3.connect(box / "kith.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM account").fetchone()[0]
    finally:
        conn.close()


def exported(kith: Path, box: Path) -> set[bytes]:
    done = subprocess.run(
        [str(kith), "--data", str(box), "log", "export"], capture_output=True, check=True
    )
    return set(done.stdout.splitlines())


# --- installing and refusing ------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(release, tmp_path_factory):
    """An install root with the first bundle installed (one real venv for the module)."""
    base = tmp_path_factory.mktemp("installed")
    data, root = base / "box", base / "root"
    (base / "password").write_text("correct horse battery\n")
    run_kith(*init_args(data, base / "password", "Update Centre"))
    # Given the folder (a USB stick), kith update finds the one bundle in it.
    out = kith_update(release, root, data, str(release.first.parent)).stdout
    return root, data, out


def test_install_makes_the_bundle_current_and_runnable(release, installed):
    root, data, out = installed
    assert os.readlink(root / "current") == f"versions/{release.first_version}"
    assert f"kith {release.first_version} is installed" in out
    assert "systemctl restart kith" in out
    done = subprocess.run([str(root / "current" / "bin" / "kith"), "--help"], capture_output=True)
    assert done.returncode == 0 and b"update" in done.stdout
    # Installed from the bundle's wheels, not from this working tree.
    where = subprocess.run(
        [
            str(root / "current" / "bin" / "python"),
            "-I",
            "-c",
            "import appliance; print(appliance.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).resolve().is_relative_to(root / "versions" / release.first_version)
    state = versions.read_state(root)
    assert state["current"] == release.first_version and state["previous"] is None
    assert state["data"] == str(data.resolve())
    status = kith_update(release, root, data).stdout
    assert f"Installed in {root}: kith {release.first_version}." in status
    assert "Release keys trusted: 1" in status
    # The same bundle again is refused: it is already current.
    again = kith_update(release, root, data, str(release.first), ok=False)
    assert again.returncode == 1 and "already installed" in again.stderr


def _members(bundle: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(bundle) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def _write(out: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(out, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _resigned(release: Release, out: Path, key=None, **changes) -> Path:
    """The first bundle with its manifest changed and signed again (by key or the real one)."""
    members = dict(_members(release.first))
    manifest = {**json.loads(members["manifest.json"]), **changes}
    raw = update.manifest_bytes(manifest)
    key = key or update.load_release_key(release.key)
    members["manifest.json"], members["manifest.sig"] = raw, key.sign(update.SIGNING_PREFIX + raw)
    return _write(out, list(members.items()))


def tampered_wheel(release, out):
    members = _members(release.first)
    at = next(i for i, (name, _) in enumerate(members) if name.startswith("wheels/kith-"))
    name, data = members[at]
    members[at] = (name, _flip(data, len(data) // 2))
    return _write(out, members), "changed after signing"


def tampered_manifest(release, out):
    members = _members(release.first)
    members[0] = (members[0][0], members[0][1].replace(b'"python"', b'"pythoN"'))
    return _write(out, members), "not signed by a release key this box trusts"


def tampered_signature(release, out):
    members = _members(release.first)
    members[1] = (members[1][0], _flip(members[1][1], 10))
    return _write(out, members), "not signed by a release key this box trusts"


def foreign_key(release, out):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return _resigned(release, out, key=Ed25519PrivateKey.generate()), "not signed by a release"


def truncated(release, out):
    data = release.first.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out, "damaged or incomplete"


def other_machine(release, out):
    other = "aarch64" if update.this_box()["machine"] != "aarch64" else "x86_64"
    return _resigned(release, out, machine=other), f"this update is for {other}"


def other_python(release, out):
    return _resigned(release, out, python="3.9"), "with Python 3.9, but this box"


def unsigned_extra_file(release, out):
    members = _members(release.first) + [("wheels/evil-1.0-py3-none-any.whl", b"PK")]
    return _write(out, members), "a file its signature does not cover"


def not_a_bundle(release, out):
    out.write_bytes(b"hello, this is not a tar file\n" * 100)
    return out, "damaged or incomplete"


@pytest.mark.parametrize(
    "make",
    [
        tampered_wheel,
        tampered_manifest,
        tampered_signature,
        foreign_key,
        truncated,
        other_machine,
        other_python,
        unsigned_extra_file,
        not_a_bundle,
    ],
)
def test_a_bad_bundle_is_refused_and_nothing_changes(release, installed, tmp_path, make):
    root, data, _ = installed
    before = snapshot(root)
    bundle, why = make(release, tmp_path / "bad.tar")
    done = kith_update(release, root, data, str(bundle), ok=False)
    assert done.returncode == 1
    assert done.stderr.startswith("kith: ") and why in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert snapshot(root) == before  # current, versions, state: untouched, no work left


def test_a_box_that_trusts_no_key_refuses_every_bundle(release, installed, tmp_path):
    root, data, _ = installed
    before = snapshot(root)
    env = {**env_for(release, root), "KITH_RELEASE_KEYS_DIR": str(tmp_path)}
    done = run_kith("--data", str(data), "update", str(release.first), env=env, ok=False)
    assert done.returncode == 1 and "trusts no release key" in done.stderr
    assert snapshot(root) == before


def test_a_folder_must_hold_exactly_one_bundle(release, installed, tmp_path):
    root, data, _ = installed
    empty = kith_update(release, root, data, str(tmp_path), ok=False)
    assert empty.returncode == 1 and "there is no kith update" in empty.stderr
    shutil.copy(release.first, tmp_path)
    shutil.copy(release.second, tmp_path)
    several = kith_update(release, root, data, str(tmp_path), ok=False)
    assert several.returncode == 1 and release.second.name in several.stderr


def test_update_needs_the_box_data(release, installed, tmp_path):
    root, _, _ = installed
    done = kith_update(release, root, tmp_path / "nothing", str(release.second), ok=False)
    assert done.returncode == 1 and "there is no box in" in done.stderr
    assert not (root / "versions" / release.second_version).exists()


# --- release keys -----------------------------------------------------------------------


def test_new_release_key_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "k.key"
    out = run_kith("update", "--new-release-key", str(path)).stdout
    assert path.stat().st_mode & 0o777 == 0o600
    line = out.strip().splitlines()[-1]
    assert line.startswith("kith-release-key ")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "k.pub").write_text(line + "\n")
    (found,) = update.trusted_keys([tmp_path / "keys"])
    assert public_key_text(found) == public_key_text(update.load_release_key(path))
    again = run_kith("update", "--new-release-key", str(path), ok=False)
    assert again.returncode == 1 and "never overwritten" in again.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the ownership rule applies when run as root")
def test_root_ignores_a_key_file_others_can_change(tmp_path, release):
    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(release.keys / "release.pub", keys / "release.pub")
    assert len(update.trusted_keys([keys])) == 1
    os.chmod(keys / "release.pub", 0o666)
    said = []
    assert update.trusted_keys([keys], say=said.append) == []
    assert "only root may own and change" in said[0]


def test_key_dirs_are_the_system_folder_and_the_box_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("KITH_RELEASE_KEYS_DIR", raising=False)
    assert update.key_dirs(tmp_path) == [Path("/etc/kith/release-keys"), tmp_path / "release-keys"]
    monkeypatch.setenv("KITH_RELEASE_KEYS_DIR", f"{tmp_path}/a{os.pathsep}{tmp_path}/b")
    assert update.key_dirs(tmp_path) == [tmp_path / "a", tmp_path / "b"]


def test_database_in_use_sees_another_process(tmp_path):
    db = tmp_path / "x.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert not versions.database_in_use(db)
    with holding(db):
        assert versions.database_in_use(db)
    assert not versions.database_in_use(db)
    # A database SQLite cannot read is not in use: putting it back is what it needs.
    (tmp_path / "ruined.db").write_bytes(b"the SD card lost this page" * 200)
    assert not versions.database_in_use(tmp_path / "ruined.db")


@contextmanager
def holding(db: Path):
    """Keep a database open in another process, as a running board does."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, stdin=subprocess.PIPE
    ) as holder:
        try:
            assert holder.stdout.readline() == b"open\n"
            yield
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)


def test_the_database_copy_is_private_from_its_first_byte(tmp_path):
    damaged, copy = tmp_path / "damaged.db", tmp_path / "copy.db"
    damaged.write_bytes(b"the SD card lost this page" * 200)
    umask = os.umask(0o022)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            versions.copy_database(damaged, copy)  # stops part way, as a full disk would
    finally:
        os.umask(umask)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600  # it holds people's details


def test_a_new_version_that_fails_is_reported_by_its_last_line(tmp_path):
    target, work, data = tmp_path / "version", tmp_path / "work", tmp_path / "box"
    (target / "bin").mkdir(parents=True)
    work.mkdir()
    data.mkdir()
    kith = target / "bin" / "kith"
    kith.write_text(
        "#!/bin/sh\n"
        "echo 'Traceback (most recent call last):' >&2\n"
        "echo '  File \"/opt/kith/versions/9/appliance/db.py\", line 7, in migrate' >&2\n"
        "echo 'sqlite3.OperationalError: no such table: post' >&2\n"
        "echo >&2\n"
        "exit 1\n"
    )
    kith.chmod(0o755)
    backup = tmp_path / "backup.db"
    sqlite3.connect(backup).close()
    with pytest.raises(update.UpdateError) as refused:
        versions._check_database(target, data, backup, work)
    message = str(refused.value)
    assert message.endswith("It said: sqlite3.OperationalError: no such table: post")
    assert "Traceback" not in message and "\n" not in message

    with pytest.raises(update.UpdateError) as failed:
        update._run(
            [sys.executable, "-c", "import sys; print('Working...'); sys.exit('no wheel for x')"],
            "installing kith 9",
        )
    assert str(failed.value) == "installing kith 9 failed: no wheel for x"


@pytest.mark.parametrize(
    ("older", "newer"),
    [("0.1.0", "0.1.0+next"), ("0.9", "0.10"), ("1.0rc1", "1.0"), ("1.0.dev2", "1.0a1")],
)
def test_versions_compare_as_releases_do(older, newer):
    assert versions.is_older(older, newer) and not versions.is_older(newer, older)
    assert not versions.is_older(newer, newer)


# --- rollback carries what the box keeps for itself -------------------------------------


def test_every_table_a_box_keeps_for_itself_is_carried_back(tmp_path):
    box = new_box(tmp_path / "box", centre_name="Update Centre")
    staff = with_role(box, "Sam Staff", "staff")
    before = tmp_path / "before-update.db"  # the copy an update keeps of the database
    versions.copy_database(box.data_dir / DB_FILE, before)
    # Made after the update: a post for a walk-in visitor, a peer met, a refused origin.
    post = {"type": "need", "title": "Lift to the clinic", "details": "", "category": "travel"}
    visitor = {"visitor_name": "Mrs Okoye", "visitor_contact": "07700 900123"}
    post_id = assisted.create_assisted_post(
        box, staff, {**post, "place": "Main hall", "needed_by": "", **visitor}
    )
    peers.remember(box, Origin("Hill").origin, "Hill Centre", "http://hill.local:8080")
    models.Quarantine.create(origin="q" * 43, reason="fork", evidence="", at_ms=1)
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"".join(raw + b"\n" for raw in box.log.export()))
    live = {m._meta.table_name: rows(box.data_dir / DB_FILE, m) for m in models.LOCAL_STATE}
    database.close()

    carried = versions.carry(before, box.data_dir / DB_FILE, box.data_dir / KEY_FILE, records)
    assert carried["lost"] == 0 and carried["not_carried"] == []
    assert {m._meta.table_name: rows(before, m) for m in models.LOCAL_STATE} == live
    (kept,) = [dict(r) for r in rows(before, models.AssistedVisitor)]
    assert (kept["post"], kept["name"], kept["contact"]) == (post_id, "Mrs Okoye", "07700 900123")


def test_the_registry_names_every_table_that_is_not_a_projection(tmp_path):
    new_box(tmp_path / "box", centre_name="Update Centre")
    tables = {
        r[0] for r in database.execute_sql("SELECT name FROM sqlite_master WHERE type='table'")
    }
    projections = {m._meta.table_name for m in models.PROJECTIONS}
    log = {models.StoredRecord._meta.table_name, models.BoxState._meta.table_name}
    own = {t for t in tables - projections - log if not t.startswith("post_fts")}
    assert own == {m._meta.table_name for m in models.LOCAL_STATE}


def rows(db: Path, model) -> list[tuple]:
    """Every row of a model's table in a database file, as sorted (column, value) tuples."""
    conn = sqlite3.connect(db)
    try:
        cursor = conn.execute(f'SELECT * FROM "{model._meta.table_name}"')
        names = [d[0] for d in cursor.description]
        return sorted(tuple(zip(names, row, strict=True)) for row in cursor.fetchall())
    finally:
        conn.close()


HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT * FROM sqlite_master").fetchall()
print("open", flush=True)
sys.stdin.read()
"""


# --- update and rollback ----------------------------------------------------------------


def _own_record_v2_cannot_give_back(box: Path) -> dict:
    """Store, as the new version might, an own record whose body the old version refuses."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((box / "box.key").read_bytes(), password=None)
    conn = sqlite3.connect(box / "kith.db")
    try:
        seq, last_id, hlc_ms = conn.execute("SELECT seq, last_id, hlc_ms FROM box_state").fetchone()
        post = conn.execute("SELECT id FROM post LIMIT 1").fetchone()[0]
        unsigned = {
            "v": 1,
            "origin": public_key_text(key),
            "seq": seq + 1,
            "prev": last_id,
            "hlc": [hlc_ms + 1, 0],
            "author": None,
            "kind": "post.hidden",
            "subject": post,
            "scope": "federation",
            "body": {"reason": "spam", "added_in_a_later_version": 1},
        }
        rid = record_id(unsigned)
        conn.execute(
            "INSERT INTO stored_record (id, origin, seq, prev, kind, aggregate, hlc_ms, hlc_c,"
            " scope, raw) VALUES (?, ?, ?, ?, 'post.hidden', ?, ?, 0, 'federation', ?)",
            (
                rid,
                unsigned["origin"],
                seq + 1,
                last_id,
                post,
                hlc_ms + 1,
                encode(sign(unsigned, key)),
            ),
        )
        conn.execute("UPDATE box_state SET seq = ?, last_id = ?", (seq + 1, rid))
        conn.commit()
    finally:
        conn.close()
    return {"seq": seq + 1, "id": rid}


def test_update_then_rollback_returns_version_and_database(release, box, tmp_path):
    root = tmp_path / "root"
    kith_update(release, root, box, str(release.first))
    before_schema = user_version(box / "kith.db")
    before_records = exported(root / "current" / "bin" / "kith", box)

    out = kith_update(release, root, box, str(release.second)).stdout
    assert os.readlink(root / "current") == f"versions/{release.second_version}"
    assert "changes the database" in out and "kith update --rollback" in out
    state = versions.read_state(root)
    assert state["previous"] == release.first_version
    assert state["schema_after"] == before_schema + 1
    backup = root / state["backup"]
    assert backup == root / "versions" / f"{release.first_version}.db"
    assert user_version(backup) == before_schema
    # The live database is only migrated when the new version starts, not by the update.
    assert user_version(box / "kith.db") == before_schema

    # The board restarts on the new version, which migrates and takes posts (demo content).
    new_kith = root / "current" / "bin" / "kith"
    subprocess.run([str(new_kith), "--data", str(box), "demo"], check=True, capture_output=True)
    assert user_version(box / "kith.db") == before_schema + 1
    made_since = exported(new_kith, box) - before_records
    assert len(made_since) > 20
    accounts = count_accounts(box)

    # Going back while the board runs is refused: its database is about to be replaced.
    # (The board would be the new version, which `serving` cannot start: this kith refuses
    # the newer schema. Another process holding the file open is what rollback sees.)
    with holding(box / "kith.db"):
        busy = kith_update(release, root, box, "--rollback", ok=False)
    assert busy.returncode == 1 and "systemctl stop kith" in busy.stderr
    assert os.readlink(root / "current") == f"versions/{release.second_version}"

    # Something the old version cannot read makes it ask before losing it.
    lost = _own_record_v2_cannot_give_back(box)
    refused = kith_update(release, root, box, "--rollback", ok=False)
    assert refused.returncode == 1
    assert "1 record stored since the update" in refused.stderr and "--yes" in refused.stderr
    assert os.readlink(root / "current") == f"versions/{release.second_version}"
    assert user_version(box / "kith.db") == before_schema + 1

    out = kith_update(release, root, box, "--rollback", "--yes").stdout
    assert f"to kith {release.first_version}" in out and "systemctl start kith" in out
    assert os.readlink(root / "current") == f"versions/{release.first_version}"
    assert user_version(box / "kith.db") == before_schema
    old_kith = root / "current" / "bin" / "kith"
    assert exported(old_kith, box) == before_records | made_since  # nothing else lost
    run_kith("--data", str(box), "log", "verify")
    conn = sqlite3.connect(box / "kith.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM account").fetchone()[0] == accounts
        # The box's counter stays past the record it could not keep: no seq is reused.
        assert conn.execute("SELECT seq, last_id FROM box_state").fetchone() == (
            lost["seq"],
            lost["id"],
        )
    finally:
        conn.close()
    assert snapshot(root)["versions"] == [release.first_version]
    assert versions.read_state(root)["previous"] is None
    again = kith_update(release, root, box, "--rollback", ok=False)
    assert again.returncode == 1 and "no earlier version" in again.stderr


def test_rollback_without_a_schema_change_only_switches(release, box, tmp_path):
    root = tmp_path / "root"
    kith_update(release, root, box, str(release.second))
    # An older version is refused unless asked for: a stick left over from last year.
    older = kith_update(release, root, box, str(release.first), ok=False)
    assert older.returncode == 1 and "--allow-downgrade" in older.stderr
    older_than = f"kith {release.first_version}, which is older than kith {release.second_version}"
    assert older_than in older.stderr
    assert os.readlink(root / "current") == f"versions/{release.second_version}"
    kith_update(release, root, box, str(release.first), "--allow-downgrade")  # same schema
    state = versions.read_state(root)
    assert state["schema_after"] == state["schema_before"] and state["backup"] is None
    with serving("--data", str(box), log=tmp_path / "serve.log", env=env_for(release, root)):
        out = kith_update(release, root, box, "--rollback").stdout
    assert "systemctl restart kith" in out
    assert os.readlink(root / "current") == f"versions/{release.second_version}"


def test_an_update_cut_off_before_the_switch_can_still_be_rolled_back(
    release, box, tmp_path, monkeypatch
):
    root = tmp_path / "root"
    kith_update(release, root, box, str(release.first))
    keys = update.trusted_keys([release.keys])

    def power_cut(root, version):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(versions, "switch_current", power_cut)
    with pytest.raises(OSError):
        versions.install(release.second, root, box, keys, say=lambda line: None)
    monkeypatch.undo()
    # What was to be undone is written down before `current` could move.
    state = versions.read_state(root)
    assert (state["current"], state["previous"]) == (release.second_version, release.first_version)
    assert os.readlink(root / "current") == f"versions/{release.first_version}"

    out = kith_update(release, root, box, "--rollback").stdout
    assert f"to kith {release.first_version}" in out
    assert os.readlink(root / "current") == f"versions/{release.first_version}"
    assert snapshot(root)["versions"] == [release.first_version]  # nothing half-installed kept
    assert versions.read_state(root)["current"] == release.first_version
    # And the update can be made again.
    kith_update(release, root, box, str(release.second))
    assert os.readlink(root / "current") == f"versions/{release.second_version}"
