"""Careful file work shared by setup, backups, restore and updates.

An SD card may lose power at any moment: a file is written beside its final name, flushed
and renamed into place, and the folder is flushed so the rename itself survives.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk where the filesystem allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (vfat on a stick) cannot sync a directory
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path, mode: int = 0o600):
    """Yield a binary file that appears at `path` whole or not at all.

    It is written beside its final name with `mode` from creation, synced, renamed, and
    the folder synced; if the block fails, nothing is left behind.
    """
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)  # left by a power cut; O_EXCL applies `mode` afresh
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a whole file or nothing: beside it with `mode` from creation, synced, renamed."""
    with atomic_file(path, mode) as f:
        f.write(data)


def sha256_file(path: Path) -> str:
    """Return the lowercase hex SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def match_owner(db: Path) -> None:
    """Give a database's -wal and -shm files its owner (root opening it may create them)."""
    if os.geteuid() != 0 or not db.exists():
        return
    st = db.stat()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chown(f"{db}{suffix}", st.st_uid, st.st_gid)


def database_in_use(db: Path) -> bool:
    """Return True if another process has the database open (the board or a kith command).

    A database SQLite cannot read is not "in use": it is what a restore is for.
    """
    db = Path(db)
    if not db.exists():
        return False
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        # In WAL mode an exclusive-mode lock cannot be had while any other connection,
        # even an idle one, is open: exactly the question "is the server running?".
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()
        match_owner(db)
