"""Backups of a box, and the guard that keeps a restored box from re-signing a used seq.

A backup is one gzip'd tar file: `manifest.json` first, then a snapshot of the database,
the box key, the web secret and kith.toml. It holds the box's private key: it is created
readable by its owner only, and the stick it lives on must be kept as safe as the box.

The snapshot is made with SQLite's online backup API (`sqlite3.Connection.backup`, every
page in one step) rather than `VACUUM INTO`: one step is one read transaction, so the
server keeps writing (WAL) and the copy is one consistent moment; and pages are copied
as they are, so implicit rowids survive. VACUUM may renumber those (SQLite's docs say
so), and Kith relies on them: the log's arrival order and the search index's link to
posts are rowids. A `quick_check` of the copy then makes a damaged database fail the
backup loudly instead of being archived.

A restored box may lag behind itself: peers may hold records it signed after the backup.
It is marked restored (the file `restored` in the data dir, JSON) and refuses to sign
until every paired peer it can call (one with an address) has completed a sync round
since the restore and told it its latest seq, or until it starts a new key (DESIGN.md,
"A box never reuses its own seq"). One peer is not enough: a peer switched off since the
backup knows less than the box signed, and writing after hearing only from it would sign
seqs another peer holds (a fork, and every peer quarantines the centre). A paired peer
with no address only ever calls this box, so it can never answer here: staff are told
that, and that `kith restore FILE --new-key` is the way out when it may hold newer
records. Restoring is in appliance/restore.py.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from appliance.box import DB_FILE, KEY_FILE, RESTORED_FILE, SECRET_FILE, Box
from appliance.db import database
from appliance.errors import N_, Conflict
from appliance.files import atomic_file, fsync_dir, sha256_file, write_atomic
from appliance.models import BoxState
from appliance.services import peers
from appliance.services.peers import fingerprint
from appliance.services.setup import CONDUCT_FILE, POSTER_FILE
from appliance.settings import CONFIG_FILE

FORMAT = "kith-backup/1"
SUFFIX = ".kithbackup"
MANIFEST = "manifest.json"
REQUIRED = (DB_FILE, KEY_FILE, SECRET_FILE)
# The first-boot texts (code of conduct, wifi poster) are the box's too: a restore onto a
# new card must bring them back.
OPTIONAL = (CONFIG_FILE, CONDUCT_FILE, POSTER_FILE)
DATA_BACKUPS = "backups"  # <data dir>/backups when no stick is mounted
STALE_PARTIAL_S = 24 * 3600  # a half-written backup this old was cut off by a power cut
MAX_MANIFEST_BYTES = 1 << 20  # a real one is a few hundred bytes

# What pages show anyone (visitors and members too) who tries to post on a restored box.
RESTORED_MESSAGE = N_(
    "The board cannot take new posts until staff finish restoring it; please ask staff."
)
# What staff read at the command line; kith doctor and the staff health page say more.
RESTORED_STAFF_MESSAGE = (
    "this box was restored from a backup and signs nothing until every paired box it can "
    "call has synced with it (kith sync), so it learns its latest records; if one of them "
    "is gone for good, or its paired boxes only call it, start a new key instead "
    "(kith restore FILE --new-key)"
)


class BackupError(Exception):
    """A backup that cannot be made or restored; the message says what to do."""


class RestoredBox(Conflict):
    """The box was restored and has not yet learnt its latest seq from its peers.

    `message` (what pages show, translated) is for anyone; str() is for staff at the
    command line and names the commands that end it.
    """

    def __init__(self) -> None:
        super().__init__(RESTORED_MESSAGE)

    def __str__(self) -> str:
        return RESTORED_STAFF_MESSAGE


@dataclass
class BackupResult:
    path: Path
    size: int
    seq: int
    on_stick: bool
    removed: list[Path] = field(default_factory=list)


# --- the restored guard --------------------------------------------------------------


def guard_restored(log, marker: Path) -> None:
    """Make a box's log refuse to sign while the restored marker exists."""

    def guard() -> None:
        if marker.exists():
            raise RestoredBox()
        # Another process (kith sync) learnt our seq and removed the marker after
        # committing it: from now on this log writes at no extra cost.
        log.write_guard = None

    log.write_guard = guard


def learned_from_peer(box: Box, peer_origin: str, their_have: dict) -> bool:
    """Note a completed round with a paired peer; lift the restored mark once all answered.

    `their_have` is the peer's vector. Its seq for our origin covers every record of ours
    the peer holds and those it stepped over because we kept them local, so our next seq
    goes past it at once. The records themselves came in the round (Log._observe moved
    past them). The mark goes only when every paired peer with an address has answered
    since the restore (restored_state()["answered"]). Returns True if this call lifted it.
    """
    marker = box.data_dir / RESTORED_FILE
    if not marker.exists() or not peers.is_paired(box, peer_origin):
        return False
    theirs = their_have.get(box.origin, 0)
    # The write lock also keeps two sync runs (the server's and `kith sync`) from each
    # rewriting the marker with only its own answer.
    with database.atomic():
        state = box.log.state()
        # A seq past 2^53 could never be signed (DESIGN.md): a peer claiming one is wrong.
        if type(theirs) is int and state.seq < theirs < 2**53:
            BoxState.update(seq=theirs).where(BoxState.origin == box.origin).execute()
        mark = restored_state(box.data_dir)
        if mark is None:
            return False  # another process lifted it meanwhile
        answered = sorted({*mark.get("answered", []), peer_origin})
        # Written even when it is about to go, so a process that reads it before the
        # unlink below finds every answer and comes to the same conclusion.
        write_atomic(marker, json.dumps({**mark, "answered": answered}).encode())
        if waiting_for(box, answered):
            return False
    # Only after the new seq is committed: a guard in another process that finds the
    # marker gone reads the new seq.
    marker.unlink(missing_ok=True)
    fsync_dir(box.data_dir)
    box.log.write_guard = None
    return True


def waiting_for(box: Box, answered: list[str]) -> list[dict]:
    """Return the paired peers with an address that have not answered since the restore."""
    return [
        p for p in peers.list_peers(box) if p["paired"] and p["url"] and p["origin"] not in answered
    ]


def restored_state(data_dir: Path) -> dict | None:
    """Return what the restored marker says (backup seq, when, peers that answered since).

    None if the box is not restored; {} if the marker cannot be read.
    """
    marker = Path(data_dir) / RESTORED_FILE
    try:
        state = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict):
        return {}
    if not isinstance(state.get("answered"), list):
        state["answered"] = []
    return state


# --- making a backup -----------------------------------------------------------------


def default_destination(box: Box) -> tuple[Path, bool]:
    """Return where `kith backup` writes with no folder given, and whether it is the stick."""
    stick = Path(box.settings["backup_stick"])
    if os.path.ismount(stick) and os.access(stick, os.W_OK):
        return stick, True
    return box.data_dir / DATA_BACKUPS, False


def _slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:40].strip("-") or "box"


def file_stamp(ms: int) -> str:
    """Return a UTC time for a file name (sorts in time order; no colons for FAT sticks)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.strftime("%Y%m%d-%H%M%SZ")


def _snapshot(source: Path, target: Path, origin: str) -> int:
    """Copy the box's database to target (one read transaction); return the box's seq."""
    try:
        with closing(sqlite3.connect(str(source), timeout=10)) as src:
            with closing(sqlite3.connect(str(target))) as copy:
                src.backup(copy)  # every page in one step: one consistent moment
                # One self-contained file, whatever journal mode the page header says.
                copy.execute("PRAGMA journal_mode=DELETE")
                check = copy.execute("PRAGMA quick_check").fetchone()[0]
                row = copy.execute(
                    "SELECT seq FROM box_state WHERE origin = ?", (origin,)
                ).fetchone()
    except sqlite3.DatabaseError as exc:
        # e.g. "database or disk is full" when the stick has no room left
        raise BackupError(f"could not copy the database: {exc}") from None
    if check != "ok":
        raise BackupError(f"the copy of the database is damaged ({check}); run kith doctor")
    return row[0] if row else 0


def _tar_info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o600
    return info


def _write_archive(path: Path, manifest: dict, files: dict[str, Path]) -> None:
    """Write the archive beside its final name, sync it, then rename it into place."""
    mtime = manifest["created_ms"] / 1000
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    # 0600 from creation: the file holds the private key.
    with atomic_file(path, 0o600) as raw:
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
            tar.addfile(_tar_info(MANIFEST, len(body), mtime), io.BytesIO(body))
            for name, src in files.items():
                with open(src, "rb") as f:
                    tar.addfile(_tar_info(name, src.stat().st_size, mtime), f)


def _free_name(folder: Path, base: str) -> Path:
    path, n = folder / f"{base}{SUFFIX}", 1
    while path.exists() or path.with_name(path.name + ".partial").exists():
        n += 1
        path = folder / f"{base}-{n}{SUFFIX}"
    return path


def make_backup(box: Box, dest_dir: Path | None = None) -> BackupResult:
    """Write a backup of a running box into a folder (default: the stick, else the data dir)."""
    if dest_dir is None:
        dest, on_stick = default_destination(box)
        if not on_stick:
            dest.mkdir(mode=0o700, exist_ok=True)
    else:
        dest, on_stick = Path(dest_dir), False
        if not dest.is_dir():
            raise BackupError(f"there is no folder {dest}; is the USB stick plugged in?")
    if not os.access(dest, os.W_OK | os.X_OK):
        raise BackupError(f"cannot write to {dest}; check the folder's owner and permissions")
    now = box.log.now_ms()
    centre = box.centre
    centre_name = centre.name if centre else ""
    path = _free_name(dest, f"kith-backup-{_slug(centre_name)}-{file_stamp(now)}")
    try:
        # Staged beside the backup: a full data partition is a good reason to back up.
        with tempfile.TemporaryDirectory(prefix=".kith-backup-staging-", dir=dest) as staging:
            snapshot = Path(staging) / DB_FILE
            seq = _snapshot(box.data_dir / DB_FILE, snapshot, box.origin)
            files = {DB_FILE: snapshot}
            for name in (KEY_FILE, SECRET_FILE, *OPTIONAL):
                if (box.data_dir / name).exists():
                    # Copied first, so what is hashed is exactly what is archived.
                    files[name] = Path(staging) / name
                    shutil.copyfile(box.data_dir / name, files[name])
            manifest = {
                "format": FORMAT,
                "origin": box.origin,
                "fingerprint": fingerprint(box.origin),
                "centre": centre_name,
                "created_ms": now,
                "created": datetime.datetime.fromtimestamp(now / 1000, datetime.UTC).isoformat(),
                "seq": seq,
                "files": {
                    name: {"sha256": sha256_file(src), "size": src.stat().st_size}
                    for name, src in files.items()
                },
            }
            _write_archive(path, manifest, files)
    except OSError as exc:
        raise BackupError(f"could not write the backup to {dest}: {exc.strerror or exc}") from None
    removed = prune(box, dest)
    return BackupResult(path, path.stat().st_size, seq, on_stick, removed)


# --- reading backups -----------------------------------------------------------------


DAMAGED = "{path} is damaged or cut short ({why}); use another backup"
# What reading a damaged gzip'd tar raises (BadGzipFile is an OSError: name it first).
UNREADABLE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def read_manifest(path: Path) -> dict:
    """Return a backup file's manifest (cheap: reads only the start of the file)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupError(f"{path} is not a Kith backup (it has no manifest)")
            if first.size > MAX_MANIFEST_BYTES:  # never read a gzip bomb into memory
                raise BackupError(f"{path} is not a Kith backup (its manifest is too big)")
            manifest = json.loads(tar.extractfile(first).read())
    except (*UNREADABLE, ValueError) as exc:
        raise BackupError(DAMAGED.format(path=path, why=exc)) from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(manifest, dict) or not str(manifest.get("format", "")).startswith(
        "kith-backup/"
    ):
        raise BackupError(f"{path} is not a Kith backup")
    if manifest["format"] != FORMAT:
        raise BackupError(f"{path} was made by a newer Kith ({manifest['format']}); update first")
    for name, kind in (("origin", str), ("seq", int), ("created_ms", int), ("files", dict)):
        if not isinstance(manifest.get(name), kind):
            raise BackupError(f"{path} has a damaged manifest (no {name}); use another backup")
    return manifest


def backups_in(folder: Path, origin: str | None = None) -> list[tuple[Path, dict]]:
    """Return the backups in a folder (only one box's if origin is given), newest first."""
    found = []
    try:
        paths = sorted(Path(folder).glob("*" + SUFFIX))
    except OSError:
        return []
    for path in paths:
        try:
            manifest = read_manifest(path)
        except BackupError:
            continue  # not ours to judge or delete
        if origin is None or manifest["origin"] == origin:
            found.append((path, manifest))
    found.sort(key=lambda item: (item[1]["created_ms"], _mtime(item[0])), reverse=True)
    return found


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def prune(box: Box, folder: Path) -> list[Path]:
    """Delete this box's backups in a folder beyond the `backups_kept` newest; return them."""
    keep = max(1, box.settings["backups_kept"])
    removed = [path for path, _ in backups_in(folder, box.origin)[keep:]]
    for path in removed:
        path.unlink(missing_ok=True)
    # Left by a power cut during a backup: they never look finished, but take room.
    cutoff = time.time() - STALE_PARTIAL_S
    for leftover in [*folder.glob("kith-backup-*.partial"), *folder.glob(".kith-backup-staging-*")]:
        try:
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        except OSError:
            pass
    return removed
