"""Restoring a backup into a data dir, and giving a restored box a new key.

Nothing is trusted before it is checked: the manifest, every file's size (before a byte
of it is unpacked, so a crafted file cannot fill the disk), every file's checksum, and
that the key in the backup is the box the manifest names. Nothing is deleted either:
whatever the restore replaces is moved aside as `NAME.before-restore-STAMP`. The restored
box is marked (appliance.backup.RESTORED_FILE) before its database is put in place, so a
restore cut off half way never leaves a box that would sign again from the backup's seq,
and first-boot setup never discards a box while that mark is down.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.backup import (
    DAMAGED,
    MANIFEST,
    OPTIONAL,
    REQUIRED,
    UNREADABLE,
    BackupError,
    file_stamp,
    read_manifest,
)
from appliance.box import DB_FILE, KEY_FILE, RESTORED_FILE, SECRET_FILE, Box, new_key_pem
from appliance.db import database
from appliance.files import database_in_use, fsync_dir, write_atomic
from appliance.models import BoxState, Category, Centre, Place, Role
from appliance.records import public_key_text
from appliance.services.setup import UNFINISHED_FILE

MB = 1024 * 1024


@dataclass
class RestoreResult:
    manifest: dict
    moved_aside: list[Path] = field(default_factory=list)
    new_origin: str | None = None


def _check_files(path: Path, manifest: dict, data_dir: Path) -> dict:
    """Return the manifest's files once their names and sizes make sense and fit the disk."""
    wanted = manifest["files"]
    missing = [name for name in REQUIRED if name not in wanted]
    unknown = [name for name in wanted if name not in (*REQUIRED, *OPTIONAL)]
    sizes = [entry.get("size") if isinstance(entry, dict) else None for entry in wanted.values()]
    if missing or unknown or not all(type(size) is int and size >= 0 for size in sizes):
        raise BackupError(f"{path} has a damaged manifest; use another backup")
    # Unpacked beside the data, and whatever it replaces is kept: all of it must fit.
    free = shutil.disk_usage(data_dir).free
    if sum(sizes) >= free:
        raise BackupError(
            f"restoring {path} needs {sum(sizes) // MB + 1} MB free in {data_dir}, but only "
            f"{free // MB} MB is free; make room (delete old backups there) and try again"
        )
    return wanted


def _extract_verified(path: Path, wanted: dict, staging: Path) -> dict[str, Path]:
    """Extract every file of a backup into staging, checking each against the manifest."""
    out: dict[str, Path] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                if member.name not in wanted or member.name in out or not member.isfile():
                    raise BackupError(f"{path} holds something a Kith backup never does")
                # The size is known before anything is unpacked: a file bigger than the
                # manifest says is refused, never written out to find out.
                if member.size != wanted[member.name]["size"]:
                    raise BackupError(
                        f"{path}: {member.name} is bigger than its manifest says, so the "
                        "backup is damaged; use another backup"
                        if member.size > wanted[member.name]["size"]
                        else DAMAGED.format(path=path, why=f"{member.name} is cut short")
                    )
                target = staging / member.name
                digest = hashlib.sha256()
                source = tar.extractfile(member)
                with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                    while chunk := source.read(MB):
                        digest.update(chunk)
                        f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                if digest.hexdigest() != wanted[member.name].get("sha256"):
                    raise BackupError(
                        f"{path}: {member.name} does not match its checksum, so the backup "
                        "is damaged; use another backup"
                    )
                out[member.name] = target
    except UNREADABLE as exc:
        raise BackupError(DAMAGED.format(path=path, why=exc)) from None
    if set(out) != set(wanted):
        raise BackupError(DAMAGED.format(path=path, why="files are missing"))
    return out


def _check_key(path: Path, manifest: dict, files: dict[str, Path]) -> None:
    key = _load_key(files[KEY_FILE].read_bytes())
    if key is None or public_key_text(key) != manifest["origin"]:
        raise BackupError(f"{path}: the key in it is not the box its manifest names")


def _load_key(pem: bytes) -> Ed25519PrivateKey | None:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PrivateKey) else None


# --- restoring -----------------------------------------------------------------------


def _check_not_running(db_path: Path) -> None:
    """Refuse while a server or another kith command has the database open."""
    if database_in_use(db_path):
        raise BackupError(
            "the box is running, so it cannot be restored now; stop it first "
            "(sudo systemctl stop kith.service kith-sync.timer kith-backup.timer) "
            "and run kith restore again"
        )


def _check_same_box(data_dir: Path, manifest: dict, other_box_ok: bool) -> None:
    key_path = data_dir / KEY_FILE
    # A first boot cut off part way made a key that never signed anything that left the
    # box: replacing it needs no asking (it is still moved aside, like everything else).
    if other_box_ok or not key_path.exists() or (data_dir / UNFINISHED_FILE).exists():
        return
    try:
        key = _load_key(key_path.read_bytes())
    except OSError:
        key = None
    if key is not None and public_key_text(key) == manifest["origin"]:
        return
    centre = manifest.get("centre") or "another box"
    raise BackupError(
        f"this backup is of {centre} ({manifest.get('fingerprint', '?')}), but {data_dir} "
        "holds a different box; to replace that box with this backup, add --replace-other-box"
    )


def restore_backup(
    file: Path, data_dir: Path, *, other_box_ok: bool = False, new_key: bool = False
) -> RestoreResult:
    """Restore a backup into a data dir; the box then signs nothing until it has synced.

    Everything it replaces is moved aside (`NAME.before-restore-STAMP`), never deleted.
    With new_key the box starts a new key at once and may write straight away.
    """
    file, data_dir = Path(file), Path(data_dir)
    if not file.is_file():
        raise BackupError(f"there is no backup file {file}")
    manifest = read_manifest(file)
    _check_same_box(data_dir, manifest, other_box_ok)
    _check_not_running(data_dir / DB_FILE)
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BackupError(f"cannot create {data_dir}: {exc.strerror}") from None
    wanted = _check_files(file, manifest, data_dir)
    result = RestoreResult(manifest)
    stamp = file_stamp(int(time.time() * 1000))
    try:
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as staging:
            files = _extract_verified(file, wanted, Path(staging))
            _check_key(file, manifest, files)
            # The mark goes down first: a restore cut off half way never leaves a box that
            # would sign again from the backup's seq. Its "answered" lists the paired
            # peers heard from since (appliance.backup.learned_from_peer).
            marker = {
                "seq": manifest["seq"],
                "backup": file.name,
                "made": manifest["created_ms"],
                "answered": [],
            }
            write_atomic(data_dir / RESTORED_FILE, json.dumps(marker).encode())
            result.moved_aside = _move_aside(data_dir, files, stamp)
            for name, staged in files.items():
                os.replace(staged, data_dir / name)
            # A first boot cut off before the restore left this; the next `kith serve`
            # would take the restored box for that half-made one and delete it.
            (data_dir / UNFINISHED_FILE).unlink(missing_ok=True)
            fsync_dir(data_dir)
        if new_key:
            result.new_origin = start_new_key(data_dir, manifest["origin"])
    except OSError as exc:
        raise BackupError(f"could not restore into {data_dir}: {exc.strerror or exc}") from None
    _give_to_owner(data_dir)
    return result


def _give_to_owner(data_dir: Path) -> None:
    """Run as root (sudo kith restore), hand what we made to the data dir's owner (kith).

    Otherwise the service, which runs as that user, could not read its own key.
    """
    if os.geteuid() != 0:
        return
    owner = data_dir.stat()
    if owner.st_uid == 0:
        return
    for path in data_dir.iterdir():
        if path.lstat().st_uid == 0:
            os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)


def _move_aside(data_dir: Path, files: dict[str, Path], stamp: str) -> list[Path]:
    moved = []
    db = data_dir / DB_FILE
    if db.exists():
        aside = data_dir / f"{DB_FILE}.before-restore-{stamp}"
        os.replace(db, aside)
        moved.append(aside)
        wal = data_dir / f"{DB_FILE}-wal"
        if wal.exists():  # kept with its database, under the name SQLite looks for
            os.replace(wal, Path(f"{aside}-wal"))
    # The shared-memory index of the old WAL must never be read with the new database.
    (data_dir / f"{DB_FILE}-shm").unlink(missing_ok=True)
    for name in (KEY_FILE, SECRET_FILE, *OPTIONAL):
        current = data_dir / name
        if name in files and current.exists():
            if current.read_bytes() != files[name].read_bytes():
                aside = data_dir / f"{name}.before-restore-{stamp}"
                os.replace(current, aside)
                moved.append(aside)
    return moved


# --- a new key -----------------------------------------------------------------------


def start_new_key(data_dir: Path, old_origin: str) -> str:
    """Give a restored box a new key and carry its centre and roles over; return the origin.

    The old origin's records stay; the box trusts them still (so what the old key signed
    after the backup still arrives from peers), but never signs with that key again.
    """
    write_atomic(data_dir / KEY_FILE, new_key_pem())
    box = Box.open(data_dir)
    # A new origin has no seqs to reuse: it may write at once.
    box.log.write_guard = None
    with database.atomic():
        old = BoxState.get_or_none(BoxState.origin == old_origin)
        if old is not None:  # never stamp earlier than the old key already did
            BoxState.update(hlc_ms=old.hlc_ms, hlc_c=old.hlc_c).where(
                BoxState.origin == box.origin
            ).execute()
        _refound(box, old_origin)
    (data_dir / RESTORED_FILE).unlink(missing_ok=True)
    fsync_dir(data_dir)
    return box.origin


def _refound(box: Box, old: str) -> None:
    """Write the old origin's centre, lists and roles again under the box's new key."""
    centre = Centre.get_or_none(Centre.origin == old)
    if centre is not None:
        rec = box.log.append("centre.created", {"name": centre.name, "timezone": centre.timezone})
        for c in Category.select().where(Category.origin == old).order_by(Category.slug):
            body = {"slug": c.slug, "label": c.label, "active": c.active}
            box.log.append("category.set", body, subject=rec.id)
        places = Place.select().where((Place.origin == old) & (Place.active == True))  # noqa: E712
        for p in places.order_by(Place.name):
            box.log.append("place.set", {"name": p.name, "active": True}, subject=rec.id)
    now = box.log.now_ms()
    for role in Role.select().where(Role.origin == old).order_by(Role.member, Role.role):
        if role.expires_ms is None or role.expires_ms > now:
            body = {"role": role.role, "expires": role.expires_ms}
            box.log.append("role.granted", body, subject=role.member)
    name = f"{centre.name} (before restore)" if centre else "this box before restore"
    box.log.append("trust.granted", {"origin": old, "name": name[:100]})
