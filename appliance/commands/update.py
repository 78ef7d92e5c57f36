"""`kith update`: install an update bundle from a USB stick, go back, or build a bundle."""

from __future__ import annotations

from pathlib import Path

from appliance import update, versions
from appliance.commands import CommandError, box_dir


def _root(args) -> Path:
    return Path(args.install_root) if args.install_root else versions.default_install_root()


def cmd_update(args) -> None:
    actions = [args.file, args.build, args.rollback or None, args.new_release_key]
    if sum(a is not None for a in actions) > 1:
        raise CommandError("give one of FILE, --build, --rollback or --new-release-key")
    try:
        if args.new_release_key:
            _new_key(args)
        elif args.build:
            _build(args)
        elif args.rollback:
            _rollback(args)
        elif args.file:
            _install(args)
        else:
            _status(args)
    except update.UpdateError as exc:
        raise CommandError(str(exc)) from None


def _new_key(args) -> None:
    path = Path(args.new_release_key)
    line = update.new_release_key(path, comment=path.stem)
    print(f"Wrote the private release key {path} (keep it secret and safe).")
    print("Its public key, to put in a .pub file in /etc/kith/release-keys on each box:")
    print(line)


def _build(args) -> None:
    if not args.key:
        raise CommandError("--build needs --key RELEASE_KEY_FILE (make one: --new-release-key)")
    key = update.load_release_key(Path(args.key))
    try:
        update.build_bundle(
            Path(args.build), key, args.source, args.platform, args.python_version, say=print
        )
    except OSError as exc:
        raise CommandError(f"cannot write the bundle: {exc.strerror}: {exc.filename}") from None


def _bundle(path: Path) -> Path:
    """Return the bundle to install: the file itself, or the one bundle in a folder (a stick)."""
    if not path.is_dir():
        return path
    found = sorted(path.glob("kith-update-*.tar"))
    if not found:
        raise CommandError(f"there is no kith update (kith-update-*.tar) in {path}")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise CommandError(f"{path} holds several updates; name the one to install: {names}")
    return found[0]


def _install(args) -> None:
    data = box_dir(args)
    keys = update.trusted_keys(update.key_dirs(data), say=print)
    root = _root(args)
    state = versions.install(
        _bundle(Path(args.file)), root, data, keys, say=print, allow_downgrade=args.allow_downgrade
    )
    version, previous = state["current"], state["previous"]
    kept = f" (kith {previous} is kept, to go back to)" if previous else ""
    print(f"kith {version} is installed and is now the current version{kept}.")
    if state["schema_after"] != state["schema_before"]:
        print("It changes the database when it first starts.")
        if state["backup"]:
            print(f"A copy of the database from before is kept in {root / state['backup']}.")
    if previous:
        print(f"The board runs kith {previous} until it restarts. Restart it now with:")
    else:
        print("Start (or restart) the board to run it:")
    print("    systemctl restart kith")
    if previous:
        print("If something is wrong after that, go back with: kith update --rollback")


def _rollback(args) -> None:
    state = versions.rollback(_root(args), lose_ok=args.yes, say=print)
    print(f"Went back from kith {state['rolled_back_from']} to kith {state['current']}.")
    if state["database_restored"]:
        print("Start the board again with: systemctl start kith")
    else:
        print("Restart the board with: systemctl restart kith")


def _status(args) -> None:
    root = _root(args)
    current = versions.current_version(root)
    if current is None:
        print(f"No kith version is installed in {root}.")
    else:
        state = versions.read_state(root)
        print(f"Installed in {root}: kith {current}.")
        if state.get("previous") and state.get("current") == current:
            print(f"kith update --rollback goes back to kith {state['previous']}.")
    dirs = update.key_dirs(box_dir(args))
    keys = update.trusted_keys(dirs)
    print(f"Release keys trusted: {len(keys)} (in {', '.join(map(str, dirs))}).")
    print("Install an update with: kith update FILE")


def register(sub, data) -> None:
    """Add `kith update` to the `kith` parser."""
    p = sub.add_parser(
        "update",
        parents=[data],
        help="install a signed update bundle (FILE), go back (--rollback) or build a bundle",
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="the update bundle to install")
    p.add_argument("--rollback", action="store_true", help="go back to the previous version")
    p.add_argument(
        "--yes",
        action="store_true",
        help="with --rollback: go back even if some things stored since the update are lost",
    )
    p.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="with FILE: install it even if it is older than the installed version",
    )
    p.add_argument("--build", metavar="OUT", help="build a bundle into this file or folder")
    p.add_argument("--key", metavar="RELEASE_KEY_FILE", help="with --build: the key to sign with")
    p.add_argument("--source", help="with --build: the kith source tree (default: this one)")
    p.add_argument(
        "--platform", help="with --build: a pip platform tag, e.g. manylinux2014_aarch64"
    )
    p.add_argument("--python-version", help="with --platform: the box's Python, e.g. 3.11")
    p.add_argument(
        "--new-release-key", metavar="FILE", help="write a new private release key to FILE"
    )
    p.add_argument(
        "--install-root",
        help="where versions are installed (default: $KITH_INSTALL_ROOT, else /opt/kith)",
    )
    p.set_defaults(func=cmd_update)
