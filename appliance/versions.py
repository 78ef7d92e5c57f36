"""The installed versions of kith: install an update bundle, switch, and roll back.

Layout of the install root (default /opt/kith, or $KITH_INSTALL_ROOT):

- `versions/<version>/`: one venv per version; only the running one and the one before
  it are kept.
- `versions/<previous>.db`: the database as it was before the update, kept only when the
  update changes the schema (rollback restores it).
- `current`: a relative symlink to `versions/<version>`, switched with one rename.
- `update-state.json`: which version came before, the schema versions, the backup and
  the data directory, so `rollback` knows what to undo. An install writes it before it
  switches `current`: a power cut between the two leaves a state that names the version
  still running as the previous one, and `rollback` finishes going back to it.

Rollback after a schema change restores the backup and then carries into it, with the
previous version's own code, every record stored since (posts, comments, pairings: all
records) and the rows of every table the box keeps for itself (appliance.models
LOCAL_STATE: accounts, logins, peers, visitors' details), so in the normal
case nothing made after the update is lost, and the box's own seq never goes backwards.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from appliance.files import database_in_use, fsync_dir, match_owner, write_atomic
from appliance.update import Say, UpdateError, _run, last_line, open_bundle

DEFAULT_INSTALL_ROOT = Path("/opt/kith")
STATE_FILE = "update-state.json"
DB_FILE = "kith.db"
# Files of a box the new version needs to open a copy of its database.
_BOX_FILES = ("box.key", "web-secret", "kith.toml")
_CARRY = "from appliance.versions import carry_main; carry_main()"
_STEPS = "from appliance.db import STEPS; print(len(STEPS))"


def _env() -> dict[str, str]:
    """The environment for another version's commands: without update-only variables, which
    a version that predates them would take for unknown settings."""
    drop = {"KITH_INSTALL_ROOT", "KITH_RELEASE_KEYS_DIR"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def default_install_root() -> Path:
    """Return where versions are installed: $KITH_INSTALL_ROOT, else /opt/kith."""
    return Path(os.environ.get("KITH_INSTALL_ROOT") or DEFAULT_INSTALL_ROOT)


def current_version(root: Path) -> str | None:
    """Return the version `current` points at, or None."""
    link = Path(root) / "current"
    return Path(os.readlink(link)).name if link.is_symlink() else None


def read_state(root: Path) -> dict:
    """Return what the last update or rollback recorded."""
    try:
        return json.loads((Path(root) / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_state(root: Path, state: dict) -> None:
    body = json.dumps(state, indent=1, sort_keys=True).encode("utf-8")
    write_atomic(root / STATE_FILE, body, 0o644)


def switch_current(root: Path, version: str) -> None:
    """Point `current` at versions/<version> in one atomic rename."""
    temp = root / ".current.partial"
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    os.symlink(Path("versions") / version, temp)
    os.replace(temp, root / "current")
    fsync_dir(root)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold the install root's lock: two updates at once would fight over `current`."""
    try:
        (root / "versions").mkdir(parents=True, exist_ok=True)
        lock = open(root / ".update.lock", "w")  # closed by the with below
    except OSError as exc:
        raise UpdateError(f"cannot write to {root}: {exc.strerror} (run it as root)") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateError("another kith update is running; wait for it to finish") from None
        # Work folders a power cut left behind (they may hold a copy of the box key).
        for leftover in root.glob(".work-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        yield


# --- the database ----------------------------------------------------------------------


def copy_database(src: Path, dest: Path) -> None:
    """Copy a SQLite database consistently with the backup API, even while it is written.

    The copy holds people's details: it is readable by its owner only from its first byte
    (SQLite gives its journal the same mode).
    """
    Path(dest).unlink(missing_ok=True)
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect(src)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
        match_owner(src)


def schema_version(db: Path) -> int:
    """Return a database file's PRAGMA user_version."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
        match_owner(db)


# --- install ---------------------------------------------------------------------------


def install(
    bundle: Path,
    root: Path,
    data_dir: Path,
    keys: list,
    say: Say = print,
    allow_downgrade: bool = False,
) -> dict:
    """Install a verified bundle as a new version and make it current; return the new state.

    Nothing under root changes unless the signature and every hash hold, the bundle is
    not older than the running version (unless allow_downgrade), the new version starts,
    and it opens (and migrates) a copy of the database.
    """
    root, data_dir = Path(root), Path(data_dir)
    db = data_dir / DB_FILE
    if not db.exists():
        raise UpdateError(
            f"there is no box in {data_dir}; say where the box's data is with --data "
            "(on the appliance: kith --data /var/lib/kith update FILE)"
        )
    with _locked(root):
        work = Path(tempfile.mkdtemp(prefix=".work-", dir=root))
        try:
            say("Checking the update's signature and every file in it...")
            manifest = open_bundle(bundle, keys, work)
            version = manifest["kith_version"]
            return _install_checked(root, data_dir, work, version, say, allow_downgrade)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _install_checked(
    root: Path, data_dir: Path, work: Path, version: str, say: Say, allow_downgrade: bool
) -> dict:
    versions, running, state = root / "versions", current_version(root), read_state(root)
    if version == running:
        raise UpdateError(f"kith {version} is already installed and current; nothing was changed")
    if version == state.get("previous") and state.get("current") == running:
        raise UpdateError(
            f"kith {version} is the version before this one; to go back to it, run: "
            "kith update --rollback"
        )
    if running and is_older(version, running) and not allow_downgrade:
        raise UpdateError(
            f"this update is kith {version}, which is older than kith {running}, the version "
            "installed (an old stick?); nothing was changed. To install the older version "
            "anyway: kith update FILE --allow-downgrade"
        )
    target = versions / version
    shutil.rmtree(target, ignore_errors=True)  # a leftover of an install that failed
    backup = versions / f"{running}.db" if running else work / "backup.db"
    try:
        say(f"Installing kith {version} (this takes a minute or two)...")
        _make_venv(target, work / "wheels", version)
        _run([str(target / "bin" / "kith"), "--help"], f"starting kith {version}", env=_env())
        say("Trying the new version on a copy of the database...")
        copy_database(data_dir / DB_FILE, backup)
        before, after = _check_database(target, data_dir, backup, work)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            backup.unlink()
        raise
    if after == before and backup.exists():
        backup.unlink()  # rollback will not need it: no copy of people's data kept for nothing
    new_state = {
        "current": version,
        "previous": running,
        "backup": str(backup.relative_to(root)) if backup.exists() and running else None,
        "schema_before": before,
        "schema_after": after,
        "data": str(data_dir.resolve()),
        "updated": _now(),
    }
    # What rollback needs is on disk before `current` moves: a power cut in between
    # leaves the old version running and a state rollback can finish (see rollback).
    _write_state(root, new_state)
    switch_current(root, version)
    _prune(versions, keep={version, running})
    return new_state


_RELEASE = re.compile(
    r"^v?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|rc)(\d*))?(?:[-_.]?post(\d*))?(?:[-_.]?dev(\d*))?"
    r"(?:\+([0-9a-z.]+))?$"
)


def _version_key(version: str) -> tuple | None:
    """Return a sort key ordering versions as PEP 440 does, or None if it is not one."""
    match = _RELEASE.match(version.lower())
    if match is None:
        return None
    release, pre, pre_n, post, dev, local = match.groups()
    numbers = [int(n) for n in release.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()  # 1.0 == 1.0.0
    if pre:
        pre_key = ({"a": 0, "b": 1, "rc": 2}[pre], int(pre_n or 0))
    elif dev is not None and post is None:
        pre_key = (-1, 0)  # 1.0.dev1 comes before 1.0a1
    else:
        pre_key = (3, 0)  # the release itself
    post_key = -1 if post is None else int(post or 0)
    dev_key = float("inf") if dev is None else int(dev or 0)
    # A local label (+next) sorts after the same public version; numbers after words.
    local_key = tuple(
        (1, int(part), "") if part.isdigit() else (0, 0, part)
        for part in (local or "").split(".")
        if part
    )
    return (tuple(numbers), pre_key, post_key, dev_key, local_key)


def is_older(version: str, than: str) -> bool:
    """Return True if `version` is an earlier release than `than` (False if unknown)."""
    mine, theirs = _version_key(version), _version_key(than)
    return mine is not None and theirs is not None and mine < theirs


def _make_venv(target: Path, wheels: Path, version: str) -> None:
    _run([sys.executable, "-I", "-m", "venv", str(target)], "making a Python environment")
    # Only the bundle's wheels: no index, no pip settings of this machine, no cache.
    env = {k: v for k, v in _env().items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    _run(
        [str(target / "bin" / "python"), "-I", "-m", "pip", "install", "--quiet", "--no-index"]
        + ["--find-links", str(wheels), "--no-cache-dir", "--disable-pip-version-check"]
        + [f"kith=={version}"],
        f"installing kith {version}",
        env=env,
    )


def _check_database(target: Path, data_dir: Path, backup: Path, work: Path) -> tuple[int, int]:
    """Open a copy of the database with the new version; return (schema before, after)."""
    check = work / "box"
    check.mkdir(mode=0o700)
    for name in _BOX_FILES:
        if (data_dir / name).exists():
            shutil.copy2(data_dir / name, check / name)
    shutil.copyfile(backup, check / DB_FILE)
    before = schema_version(backup)
    # `log export` opens the box (migrating its schema) and reads back every record.
    done = subprocess.run(
        [str(target / "bin" / "kith"), "--data", str(check), "log", "export"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    if done.returncode != 0:
        raise UpdateError(
            "the new version could not open a copy of this box's database, so it was not "
            f"installed; the board keeps running as before. It said: {last_line(done.stderr)}"
        )
    after = schema_version(check / DB_FILE)
    steps = [str(target / "bin" / "python"), "-I", "-c", _STEPS]
    known = int(_run(steps, "reading the schema", env=_env()).stdout)
    if after > known:
        raise UpdateError(
            "this box's database is newer than the version in this update, so it was not "
            "installed; ask for a newer update"
        )
    return before, after


def _prune(versions: Path, keep: set) -> None:
    """Delete versions older than the previous one, and their database copies."""
    for entry in versions.iterdir():
        name = entry.name.removesuffix(".db") if entry.is_file() else entry.name
        if name not in keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()


# --- rollback --------------------------------------------------------------------------


def rollback(root: Path, lose_ok: bool = False, say: Say = print) -> dict:
    """Make the previous version current again, restoring its database if the schema changed.

    Refuses if the board is running while the database must be restored, and (unless
    lose_ok) if anything stored since the update could not be carried back.
    """
    root = Path(root)
    with _locked(root):
        state, running = read_state(root), current_version(root)
        previous = state.get("previous")
        if previous and previous == running and state.get("current") not in (None, running):
            return _finish_cut_off(root, state)
        if not previous or state.get("current") != running:
            raise UpdateError("there is no earlier version to go back to; nothing was changed")
        if not (root / "versions" / previous / "bin" / "kith").exists():
            raise UpdateError(f"kith {previous} is no longer installed; nothing was changed")
        restored = state["schema_after"] != state["schema_before"]
        if restored:
            _restore_database(root, state, running, previous, lose_ok, say)
        switch_current(root, previous)
        return _went_back(root, state, previous, running, database_restored=restored)


def _finish_cut_off(root: Path, state: dict) -> dict:
    """Go back after an update or rollback cut off between writing the state and switching.

    `current` still (or already) points at the previous version. An update cut off there
    never ran the new version, so the database is as it was; a rollback cut off there had
    already put the database back. What is left is the state and the new version's files.
    """
    return _went_back(root, state, state["previous"], state["current"], database_restored=False)


def _went_back(root: Path, state: dict, previous: str, left: str, database_restored: bool) -> dict:
    """Record that `previous` runs again, then drop the database copy and `left`'s files."""
    new_state = {"current": previous, "previous": None, "rolled_back_from": left}
    new_state.update(data=state.get("data"), updated=_now(), database_restored=database_restored)
    _write_state(root, new_state)
    if state.get("backup"):
        with contextlib.suppress(FileNotFoundError):
            (root / state["backup"]).unlink()
    _prune(root / "versions", keep={previous})
    return new_state


def _restore_database(root, state, running, previous, lose_ok: bool, say: Say) -> None:
    data = Path(state["data"])
    db, backup = data / DB_FILE, root / (state["backup"] or "missing")
    if not backup.exists():
        raise UpdateError(
            f"the copy of the database from before the update is missing ({backup}), so "
            "going back is not safe; nothing was changed"
        )
    if database_in_use(db):
        raise UpdateError(
            "the board is still running and its database must be put back; stop it first "
            "(systemctl stop kith), then run kith update --rollback again"
        )
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=root))
    try:
        records = work / "records.jsonl"
        _export_records(root / "versions" / running, data, records)
        copy_database(backup, work / DB_FILE)
        say(f"Carrying what was stored since the update back into kith {previous}'s database...")
        done = _run(
            [str(root / "versions" / previous / "bin" / "python"), "-I", "-c", _CARRY]
            + [str(work / DB_FILE), str(db), str(data / "box.key"), str(records)],
            f"carrying records back with kith {previous}",
            env=_env(),
        )
        match_owner(db)
        carried = json.loads(done.stdout)
        if carried["lost"] or carried["not_carried"]:
            count, tables = carried["lost"], carried["not_carried"]
            parts = []
            if count:
                parts.append(f"{count} record{'s' if count != 1 else ''} stored since the update")
            if tables:
                parts.append(f"the local tables {', '.join(tables)}")
            lost = f"{' and '.join(parts)} cannot be read by kith {previous} and would be lost"
            if not lose_ok:
                raise UpdateError(f"{lost}. To go back anyway: kith update --rollback --yes")
            say(f"Warning: {lost}.")
        source, target = sqlite3.connect(work / DB_FILE), sqlite3.connect(db)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
            match_owner(db)
        say(f"Put back the database with {carried['carried']} records carried over.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _export_records(version_dir: Path, data: Path, out: Path) -> None:
    """Write every stored record to out, by the running version or, failing that, by SQL."""
    with open(out, "wb") as f:
        done = subprocess.run(
            [str(version_dir / "bin" / "kith"), "--data", str(data), "log", "export"],
            stdout=f,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=_env(),
        )
    match_owner(data / DB_FILE)
    if done.returncode == 0:
        return
    # The version being left may be too broken to run: read its records table directly.
    conn = sqlite3.connect(data / DB_FILE)
    try:
        rows = conn.execute("SELECT raw FROM stored_record ORDER BY rowid").fetchall()
    except sqlite3.Error:
        raise UpdateError(
            "cannot read the records stored since the update, so going back would lose "
            "them; nothing was changed"
        ) from None
    finally:
        conn.close()
        match_owner(data / DB_FILE)
    out.write_bytes(b"".join(bytes(raw) + b"\n" for (raw,) in rows))


def carry_main() -> None:
    """Entry point run by the previous version: carry(*argv), printing the result as JSON."""
    restored, live, key, records = (Path(a) for a in sys.argv[1:5])
    print(json.dumps(carry(restored, live, key, records)))


def carry(restored: Path, live: Path, key_path: Path, records: Path) -> dict:
    """Ingest every record of `records` and copy the local tables of `live` into `restored`.

    Runs in the version being returned to, so its own code decides what it can read.
    Returns {"carried": records added, "lost": records refused, "not_carried": tables}.
    """
    from cryptography.hazmat.primitives import serialization

    from appliance.db import database, open_database
    from appliance.log import Log

    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    open_database(restored)
    # These records were already accepted by this box: no clock horizon applies again.
    log = Log(key, max_clock_ahead_ms=1 << 62)
    lines = [line for line in records.read_bytes().splitlines() if line.strip()]
    carried, lost = 0, []
    # Arrival order: a peer's records came after the pairing that made them trusted.
    for start in range(0, len(lines), 500):
        chunk = lines[start : start + 500]
        result = log.ingest(chunk)
        if result.ok:
            carried += len(result.accepted)
            continue
        for line in chunk:
            one = log.ingest([line])
            carried += len(one.accepted)
            if not one.ok:
                lost.append(line)
    _keep_own_seq(log, lost)
    not_carried = _carry_local_tables(database, live)
    database.close()
    return {"carried": carried, "lost": len(lost), "not_carried": not_carried}


def _keep_own_seq(log, lost: list[bytes]) -> None:
    """Move the box's own counter past its own records that could not be carried.

    The box may have sent them to peers already: writing another record with one of
    their seqs would be a fork, and every peer would quarantine this centre.
    """
    from appliance.models import BoxState
    from appliance.records import record_id

    state = log.state()
    newest = None
    for line in lost:
        fields = json.loads(line)
        if fields.get("origin") == log.origin and fields.get("seq", 0) > state.seq:
            if newest is None or fields["seq"] > newest["seq"]:
                newest = fields
    if newest is not None:
        unsigned = {k: v for k, v in newest.items() if k != "sig"}
        BoxState.update(seq=newest["seq"], last_id=record_id(unsigned)).where(
            BoxState.origin == log.origin
        ).execute()


def _carry_local_tables(database, live: Path) -> list[str]:
    """Copy this version's own tables (accounts, peers, visitors...) from live; return misses."""
    from peewee import DatabaseError

    from appliance import models

    names = [m._meta.table_name for m in models.LOCAL_STATE]
    database.execute_sql("ATTACH DATABASE ? AS live", (str(live),))
    missed = []
    try:
        for name in names:
            mine = [r[1] for r in database.execute_sql(f'PRAGMA main.table_info("{name}")')]
            theirs = [r[1] for r in database.execute_sql(f'PRAGMA live.table_info("{name}")')]
            if not theirs:
                continue  # the newer version dropped it: what was there before stays
            if set(mine) - set(theirs):
                missed.append(name)
                continue
            cols = ", ".join(f'"{c}"' for c in mine)
            try:
                with database.atomic():
                    database.execute_sql(f'DELETE FROM main."{name}"')
                    database.execute_sql(
                        f'INSERT INTO main."{name}" ({cols}) SELECT {cols} FROM live."{name}"'
                    )
            except (sqlite3.Error, DatabaseError):
                missed.append(name)
    finally:
        database.execute_sql("DETACH DATABASE live")
    return missed
