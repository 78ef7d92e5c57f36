"""What staff must know about the box itself: is it well, and what to do if not.

Each check returns a `Check`: OK, WARN or FAIL, a finding in plain words and what to do.
`kith doctor` prints them (and fails on any FAIL); the staff health page shows them.
Messages are English source strings with %(name)s params, translated by web/.
"""

from __future__ import annotations

import datetime
import os
import pwd
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from appliance import backup
from appliance.box import KEY_FILE, SECRET_FILE, Box
from appliance.db import database
from appliance.errors import N_
from appliance.models import Quarantine, TrustedOrigin
from appliance.services import peers
from appliance.services.accounts import Actor
from appliance.services.members import require_staff

OK, WARN, FAIL = "ok", "warn", "fail"
MB = 1024 * 1024
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# Disk: below either figure is a warning, below either of the smaller ones a failure.
DISK_WARN = (0.15, 500 * MB)
DISK_FAIL = (0.05, 100 * MB)
BACKUP_WARN_MS = 2 * DAY_MS
BACKUP_FAIL_MS = 7 * DAY_MS
SYNC_WARN_MS = 7 * DAY_MS
# The clock: a little behind the newest record is normal (another box's clock runs
# fast); further behind means this box's clock is wrong.
CLOCK_WARN_MS = 5 * 60_000
CLOCK_FAIL_MS = DAY_MS
# This version of Kith was made after this moment, so a clock before it is surely wrong
# (a Raspberry Pi has no clock battery). Move it forward at each release.
BUILT_MS = int(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp() * 1000)
SET_CLOCK = N_(
    "Set the date and time: connect the box to the internet for a minute, or run "
    "sudo timedatectl set-time 'YYYY-MM-DD HH:MM'. Then run kith doctor again."
)


@dataclass(frozen=True)
class Check:
    """One finding about the box: name, status (ok, warn, fail), what is so, what to do."""

    name: str
    status: str
    finding: str
    todo: str = ""
    params: dict = field(default_factory=dict)

    def text(self) -> str:
        """Return the finding in English, params filled in."""
        return self.finding % self.params

    def todo_text(self) -> str:
        """Return what to do in English, params filled in."""
        return self.todo % self.params


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n // MB} MB"


def disk_check(total: int, free: int) -> Check:
    """Judge the free space of the data dir's filesystem."""
    share = free / total if total else 0
    params = {"free": _size(free), "total": _size(total), "percent": round(share * 100)}
    status = OK
    if share < DISK_WARN[0] or free < DISK_WARN[1]:
        status = WARN
    if share < DISK_FAIL[0] or free < DISK_FAIL[1]:
        status = FAIL
    return Check(
        N_("Storage"),
        status,
        N_("%(free)s free of %(total)s (%(percent)s%%)."),
        ""
        if status == OK
        else N_(
            "Free some space: delete old copies in the data folder's backups folder "
            "(keep the newest), or move the box's data to a bigger SD card. When the "
            "storage is full, nothing new can be posted."
        ),
        params,
    )


def disk_space(box: Box) -> Check:
    """Check the free space where the box keeps its database."""
    return disk_space_of(box.data_dir)


def disk_space_of(data_dir: Path) -> Check:
    """Check the free space of a data dir's filesystem (no box needs to be open)."""
    usage = shutil.disk_usage(data_dir)
    return disk_check(usage.total, usage.free)


def database_check(full: bool = False) -> Check:
    """Check the database file (full: PRAGMA integrity_check; else the faster quick_check)."""
    pragma = "integrity_check" if full else "quick_check"
    rows = [row[0] for row in database.execute_sql(f"PRAGMA {pragma}(5)").fetchall()]
    if rows == ["ok"]:
        return Check(N_("Database"), OK, N_("The database checks clean."))
    return Check(
        N_("Database"),
        FAIL,
        N_("The database is damaged: %(problem)s"),
        N_(
            "Stop the box (sudo systemctl stop kith.service), then restore the newest backup "
            "with kith restore FILE. The damaged files are kept beside it, not deleted."
        ),
        {"problem": "; ".join(rows)},
    )


def last_backup(box: Box) -> Check:
    """Check the age of the newest backup of this box where `kith backup` writes them."""
    places = [box.data_dir / backup.DATA_BACKUPS]
    stick, on_stick = backup.default_destination(box)
    if on_stick:
        places.insert(0, stick)
    found = [item for folder in places for item in backup.backups_in(folder, box.origin)]
    where = " or ".join(str(p) for p in places)
    todo = N_(
        "Run kith backup now (the backup timer does it every night). Keep a USB stick "
        "mounted at %(stick)s so a copy leaves the box."
    )
    params = {"where": where, "stick": box.settings["backup_stick"]}
    if not found:
        return Check(
            N_("Last backup"),
            FAIL,
            N_("No backup of this box was found in %(where)s."),
            todo,
            params,
        )
    path, manifest = max(found, key=lambda item: item[1]["created_ms"])
    age = max(0, box.log.now_ms() - manifest["created_ms"])
    status = OK if age <= BACKUP_WARN_MS else WARN if age <= BACKUP_FAIL_MS else FAIL
    params.update(file=str(path), hours=age // HOUR_MS, days=age // DAY_MS)
    finding = (
        N_("The newest backup is %(hours)d hours old: %(file)s.")
        if age < BACKUP_WARN_MS
        else N_("The newest backup is %(days)d days old: %(file)s.")
    )
    return Check(N_("Last backup"), status, finding, "" if status == OK else todo, params)


def last_sync(box: Box) -> list[Check]:
    """Check, for each paired box, when a sync round with it last finished."""
    paired = [p for p in peers.list_peers(box) if p["paired"]]
    if not paired:
        return [Check(N_("Last sync"), OK, N_("This box is not paired with another box."))]
    checks = []
    now = box.log.now_ms()
    todo = N_(
        "Check that %(name)s is switched on and reachable, then press Sync now on the Other "
        "centres page or run kith sync. A box reached only by USB stick needs a bundle."
    )
    for p in paired:
        params = {"name": p["name"], "error": p["last_error"] or ""}
        if p["last_sync_ms"] is None:
            finding, status = N_("Never synced with %(name)s."), WARN
        else:
            age = max(0, now - p["last_sync_ms"])
            params["days"] = age // DAY_MS
            params["hours"] = age // HOUR_MS
            status = OK if age <= SYNC_WARN_MS else WARN
            finding = (
                N_("Last synced with %(name)s %(hours)d hours ago.")
                if age < 2 * DAY_MS
                else N_("Last synced with %(name)s %(days)d days ago.")
            )
        if p["last_error"]:
            status = WARN
            finding = N_("The last sync with %(name)s stopped: %(error)s")
        checks.append(Check(N_("Last sync"), status, finding, "" if status == OK else todo, params))
    return checks


def clock(box: Box) -> Check:
    """Check the clock is not behind this version's making or the newest record held."""
    now = box.log.now_ms()
    newest = box.log.state().hlc_ms  # our clock: our own stamps and the newest received
    behind = newest - now
    stamp = datetime.datetime.fromtimestamp(now / 1000, datetime.UTC)
    params = {"now": stamp.strftime("%Y-%m-%d %H:%M UTC"), "minutes": behind // 60_000}
    if now < BUILT_MS:
        return Check(
            N_("Clock"),
            FAIL,
            N_("The clock says %(now)s, before this version of Kith was made."),
            SET_CLOCK,
            params,
        )
    if behind > CLOCK_WARN_MS:
        return Check(
            N_("Clock"),
            FAIL if behind > CLOCK_FAIL_MS else WARN,
            N_("The clock says %(now)s, %(minutes)d minutes behind the newest record here."),
            SET_CLOCK,
            params,
        )
    return Check(N_("Clock"), OK, N_("The clock says %(now)s."), params=params)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def key_files(box: Box) -> Check:
    """Check the box key and web secret are readable by the box's user only."""
    return key_files_in(box.data_dir)


def key_files_in(data_dir: Path) -> Check:
    """Check a data dir's key files (no box needs to be open: a bad key stops it opening).

    They must belong to whoever owns the data dir, the user the box runs as (kith on the
    appliance), whoever asks: root running kith doctor must not be told to take them.
    """
    data_dir = Path(data_dir)
    try:
        uid = data_dir.stat().st_uid
    except OSError:
        uid = os.geteuid()
    for name in (KEY_FILE, SECRET_FILE):
        path = data_dir / name
        try:
            info = path.stat()
        except OSError:
            return Check(
                N_("Key files"),
                FAIL,
                N_("%(path)s is missing."),
                N_("Restore the box from its newest backup: kith restore FILE."),
                {"path": str(path)},
            )
        if info.st_mode & 0o077:
            return Check(
                N_("Key files"),
                FAIL,
                N_("%(path)s can be read by other users."),
                N_("Run: chmod 600 %(path)s"),
                {"path": str(path)},
            )
        if info.st_uid != uid:
            return Check(
                N_("Key files"),
                FAIL,
                N_(
                    "%(path)s belongs to %(owner)s, but the box runs as %(user)s (the owner "
                    "of its data folder), so it may not be able to read it."
                ),
                N_("Run: sudo chown %(user)s %(path)s"),
                {"path": str(path), "user": _user_name(uid), "owner": _user_name(info.st_uid)},
            )
    return Check(N_("Key files"), OK, N_("The box key can be read by the box only."))


def checks_before_opening(data_dir: Path) -> list[Check]:
    """Run the checks that need no open box, for when the box cannot be opened."""
    return [disk_space_of(data_dir), key_files_in(data_dir)]


def restored(box: Box) -> Check:
    """Check whether the box still waits to learn its latest records after a restore."""
    state = backup.restored_state(box.data_dir)
    if state is None:
        return Check(N_("Restore"), OK, N_("The box is not waiting after a restore."))
    paired = [p for p in peers.list_peers(box) if p["paired"]]
    # Empty only if the mark outlived the last answer (a sync cut off): any round lifts it.
    waiting = backup.waiting_for(box, state.get("answered", [])) or [p for p in paired if p["url"]]
    callers = [p["name"] for p in paired if not p["url"]]
    params = {
        "seq": state.get("seq", "?"),
        "waiting": ", ".join(p["name"] for p in waiting),
        "callers": ", ".join(callers),
    }
    if not any(p["url"] for p in paired):
        return Check(
            N_("Restore"),
            FAIL,
            N_(
                "The box was restored from a backup (up to record %(seq)s) and takes no new "
                "posts. kith sync cannot teach it its latest records: it has no paired box "
                "it can call."
            ),
            N_(
                "Run kith restore FILE --new-key with the same backup; then pair the other "
                "boxes again."
            ),
            params,
        )
    finding = N_(
        "The box was restored from a backup (up to record %(seq)s) and takes no new posts "
        "until each paired box it can call has synced with it; still to sync: %(waiting)s."
    )
    if callers:
        todo = N_(
            "Run kith sync (or press Sync now on the Other centres page). %(callers)s only "
            "call this box, so they cannot tell it what it wrote after the backup. If they "
            "may hold newer records from it, or a box it calls is gone for good, run "
            "kith restore FILE --new-key with the same backup instead."
        )
    else:
        todo = N_(
            "Run kith sync (or press Sync now on the Other centres page). If one of those "
            "boxes is gone for good, run kith restore FILE --new-key with the same backup "
            "instead."
        )
    return Check(N_("Restore"), FAIL, finding, todo, params)


def quarantine_checks() -> list[Check]:
    """Report each origin whose records are refused after a fork, in words for people."""
    names = {t.origin: t.name for t in TrustedOrigin.select()}
    return [
        Check(
            N_("Refused box"),
            WARN,
            N_(
                "%(name)s's box sent two different records for the same place in its "
                "history — its records are held back until staff decide; see Other centres."
            ),
            N_(
                "Its box may have been restored from an old backup or its key copied. "
                "Contact that centre before trusting it again."
            ),
            {"name": names.get(q.origin, q.origin[:12])},
        )
        for q in Quarantine.select().order_by(Quarantine.at_ms)
    ]


def checks(box: Box, *, full: bool = False) -> list[Check]:
    """Run every check (full: the slow whole-database integrity check too)."""
    return [
        disk_space(box),
        database_check(full),
        last_backup(box),
        *last_sync(box),
        clock(box),
        key_files(box),
        restored(box),
        *quarantine_checks(),
    ]


def report(box: Box, actor: Actor | None) -> list[Check]:
    """Return the checks for the staff health page (staff only)."""
    require_staff(actor)
    return checks(box)


def quarantined(actor: Actor | None) -> list[dict]:
    """Return the origins whose records are refused after a fork, for staff."""
    require_staff(actor)
    names = {t.origin: t.name for t in TrustedOrigin.select()}
    return [
        {
            "origin": q.origin,
            "name": names.get(q.origin, q.origin[:12]),
            "reason": q.reason,
            "at_ms": q.at_ms,
        }
        for q in Quarantine.select().order_by(Quarantine.at_ms)
    ]
