"""`kith backup`, `restore`, `doctor`, `sweep` and `dump`: keeping a box alive for years."""

from __future__ import annotations

import datetime
from pathlib import Path

from appliance.box import Box
from appliance.commands import CommandError, box_dir


def _open(args) -> Box:
    """Open the box, turning a database SQLite cannot read into one line saying what to do."""
    import peewee

    try:
        return Box.open(box_dir(args))
    except peewee.DatabaseError as exc:
        raise CommandError(
            f"the database cannot be read ({exc}); stop the box "
            "(sudo systemctl stop kith.service) and restore the newest backup: kith restore FILE"
        ) from None


def cmd_backup(args) -> None:
    from appliance.backup import BackupError, make_backup

    box = _open(args)
    try:
        result = make_backup(box, Path(args.dir) if args.dir else None)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    if args.dir:
        where = f"{result.path.parent}"
    elif result.on_stick:
        where = f"the USB stick at {result.path.parent}"
    else:
        where = (
            f"the data partition ({result.path.parent}): no USB stick is mounted at "
            f"{box.settings['backup_stick']}"
        )
    print(f"Backed up {box.centre.name if box.centre else 'the box'} to {where}.")
    print(f"Wrote {result.path.name} ({_size(result.size)}, up to record {result.seq}).")
    for old in result.removed:
        print(f"Removed the older backup {old.name}.")
    print("This file holds the box's private key: keep the stick somewhere safe.")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def cmd_restore(args) -> None:
    from appliance.backup import BackupError
    from appliance.restore import restore_backup

    data_dir = box_dir(args)
    try:
        result = restore_backup(
            Path(args.file),
            data_dir,
            other_box_ok=args.replace_other_box,
            new_key=args.new_key,
        )
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    m = result.manifest
    made = datetime.datetime.fromtimestamp(m["created_ms"] / 1000, datetime.UTC)
    print(
        f"Restored {m.get('centre') or 'the box'} ({m.get('fingerprint', '?')}) into {data_dir} "
        f"from its backup of {made:%Y-%m-%d %H:%M} UTC, up to record {m['seq']}."
    )
    for path in result.moved_aside:
        print(f"Kept what it replaced as {path.name} (delete it once the box works).")
    if result.new_origin:
        from appliance.services.peers import fingerprint

        print(f"This box now signs with a new key, fingerprint {fingerprint(result.new_origin)}.")
        print(
            "Every box it was paired with must pair with it again: run "
            "`kith peer add http://THIS-BOX:8080` on one side and `kith peer confirm CODE` "
            "on both."
        )
    else:
        print(
            "Before it takes new posts, the box must learn its latest records from every "
            "paired box it can call: run `kith sync` (each of them must answer; kith doctor "
            "says which are still to). If it has no paired box it can call, or one of them "
            "is gone for good, or its paired boxes only call it and may hold newer records, "
            f"run `kith restore {args.file} --new-key` instead."
        )


def cmd_doctor(args) -> None:
    from appliance.box import KEY_FILE, BoxError
    from appliance.services import health

    try:
        box = _open(args)
    except BoxError:
        # Box.open refuses a key others can read; say so as a check does, with the checks
        # that need no open box, rather than stop at the first thing wrong.
        data_dir = box_dir(args)
        results = health.checks_before_opening(data_dir) if (data_dir / KEY_FILE).exists() else []
        if not any(c.status == health.FAIL for c in results):
            raise
        failed = _print_checks(results)
        raise CommandError(
            f"{failed} of {len(results)} checks failed and the box cannot be opened until "
            "they are fixed; see what to do above, then run kith doctor again"
        ) from None
    results = health.checks(box, full=True)
    failed = _print_checks(results)
    if failed:
        raise CommandError(f"{failed} of {len(results)} checks failed; see what to do above")


def _print_checks(results) -> int:
    """Print a line per check; return how many failed."""
    from appliance.services import health

    labels = {health.OK: "ok  ", health.WARN: "WARN", health.FAIL: "FAIL"}
    for check in results:
        line = f"{labels[check.status]}  {check.name}: {check.text()}"
        if check.todo:
            line += f" What to do: {check.todo_text()}"
        print(line, flush=True)
    return sum(1 for c in results if c.status == health.FAIL)


def cmd_sweep(args) -> None:
    import logging

    from appliance import sweeps

    box = _open(args)
    # The failures are in the one line below; no traceback on the terminal as well.
    logging.getLogger("kith.sweep").addHandler(logging.NullHandler())
    results = sweeps.run_all(box)
    line = sweeps.summary(results)
    if results["errors"]:
        raise CommandError(f"not every sweep ran: {line}")
    print(f"Swept: {line}")


def cmd_dump(args) -> None:
    from appliance.services import open_dump

    if args.verify:
        _verify_dump(Path(args.verify))
        return
    box = _open(args)
    path = open_dump.write_dump(box)
    print(
        f"Wrote the signed open data dump {path} and its signature {path.with_suffix('.sig').name}."
    )


def _verify_dump(path: Path) -> None:
    """Check a dump's signature without any box: the key is the one the file names."""
    import json

    from appliance.services import open_dump
    from appliance.services.peers import fingerprint

    if not path.is_file():
        raise CommandError(f"there is no file {path}")
    if not path.with_suffix(".sig").is_file():
        raise CommandError(f"there is no signature {path.with_suffix('.sig')} beside {path.name}")
    if not open_dump.verify_dump(path):
        raise CommandError(
            f"the signature does not match {path.name}: it was changed after the box signed "
            "it, or it is not a Kith open data dump"
        )
    doc = json.loads(path.read_bytes())
    print(
        f"Good signature: {path.name} is exactly as signed by the box of "
        f"{doc.get('centre') or 'an unnamed centre'}, key {doc['origin']} "
        f"(fingerprint {fingerprint(doc['origin'])})."
    )
    print("Check that this key is the one the centre shows on its open data page.")


def register(sub, data) -> None:
    """Add this module's subcommands to the `kith` parser."""
    p = sub.add_parser("backup", parents=[data], help="write a backup of the box (key included)")
    p.add_argument(
        "dir",
        nargs="?",
        help="folder to write it to (default: the USB stick at the backup_stick setting's "
        "path when one is mounted, else the data dir's backups folder)",
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", parents=[data], help="restore the box from a backup file")
    p.add_argument("file", help="the .kithbackup file")
    p.add_argument(
        "--replace-other-box",
        action="store_true",
        help="restore even though the data dir holds a different box (it is kept aside)",
    )
    p.add_argument(
        "--new-key",
        action="store_true",
        help="start a new key at once instead of syncing first (peers must pair again)",
    )
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("doctor", parents=[data], help="check the box's health and say what to do")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "sweep",
        parents=[data],
        help="run the sweeps now: still-needed checks, closing votes, retention",
    )
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "dump",
        parents=[data],
        help="write today's signed open data dump now (the sweeps write it daily)",
    )
    p.add_argument(
        "--verify",
        metavar="FILE",
        help="check a dump's signature (the .sig beside it) instead; needs no box",
    )
    p.set_defaults(func=cmd_dump)
