"""The `kith` command: the composition root that wires the core, web/ and sync/ together.

Every failure ends in one readable line on stderr and a non-zero exit, because the
person at the keyboard is often a centre's staff member with no IT support.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
from pathlib import Path

from appliance.box import Box, BoxError, default_data_dir, is_box
from appliance.errors import ServiceError
from appliance.settings import SettingsError


class CommandError(Exception):
    """A failure to report as one line."""


def _data_dir(args) -> Path:
    return Path(args.data) if args.data else default_data_dir()


def _read_password(args) -> str:
    if args.admin_password_file:
        try:
            text = Path(args.admin_password_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read the password file: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError("the password file is not UTF-8 text") from None
        return text.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for a password; use --admin-password-file FILE")
    first = getpass.getpass(f"Password for {args.admin_name} (8 characters or more): ")
    if first != getpass.getpass("Same password again: "):
        raise CommandError("the two passwords were different; nothing was created")
    return first


def init_box(data_dir: Path, centre_name: str, admin_name: str, password: str, now_ms=None) -> Box:
    """Create a box with its centre and first admin, checking every input first.

    `now_ms` replaces the box's clock (the demo stamps a fortnight of history).
    """
    from appliance.services import accounts, centre

    if is_box(data_dir):
        raise CommandError(f"{data_dir} already holds a box; choose another --data directory")
    try:
        centre.check_centre_name(centre_name)
        accounts.check_new_account(admin_name, password)
    except ServiceError as exc:
        raise CommandError(f"{exc}; nothing was created") from None
    box = Box.create(data_dir)
    if now_ms is not None:
        box.log.now_ms = now_ms
    centre.create_centre(box, centre_name)
    admin = accounts.sign_up(box, admin_name, password)
    box.log.append("role.granted", {"role": "admin", "expires": None}, subject=admin)
    box.log.append("member.verified", {}, subject=admin)
    return box


def cmd_init(args) -> None:
    data_dir = _data_dir(args)
    if is_box(data_dir):
        raise CommandError(f"{data_dir} already holds a box; choose another --data directory")
    box = init_box(data_dir, args.centre, args.admin_name, _read_password(args))
    print(f"Created the box for {box.centre.name} in {data_dir}")
    print(f"Log in as {args.admin_name!r}. Start the board with: kith --data {data_dir} serve")


def cmd_demo(args) -> None:
    from appliance import demo

    data_dir = _data_dir(args)
    if is_box(data_dir):
        # An existing box's clock only moves forward, so its demo posts are stamped now.
        box = Box.open(data_dir)
    else:
        box = init_box(
            data_dir,
            "Millbrook Community Centre",
            "Sam Patel",
            demo.DEMO_PASSWORD,
            now_ms=demo.history_clock(),
        )
    if demo.already_filled():
        # Not an error: the README's demo command can be run again and still serve.
        print(f"{data_dir} already has the demo content; nothing added.")
        return
    created = demo.fill(box)
    print(f"Added demo content to {data_dir}: {created} posts.")
    print(f"Every demo account's password is {demo.DEMO_PASSWORD!r}; staff: 'Sam Patel'.")


def _start_discovery(box: Box, port: int):
    """Advertise this box and look for others, as the discovery setting says (or not)."""
    setting = box.settings["discovery"].strip()
    if setting == "off":
        return None
    from sync.discovery import Discovery

    interfaces = None if setting == "default" else [a.strip() for a in setting.split(",")]
    try:
        return Discovery(box.centre.name, box.origin, port, interfaces=interfaces).start()
    except (OSError, ValueError) as exc:
        # Pairing by address still works without it; say so and carry on.
        print(f"kith: discovery is off: {exc}", file=sys.stderr, flush=True)
        return None


def cmd_serve(args) -> None:
    import waitress

    from sync import server as sync_server
    from sync.background import BackgroundSync
    from web import create_app

    box = Box.open(_data_dir(args))
    host = args.host or box.settings["host"]
    port = box.settings["port"] if args.port is None else args.port
    # A burst of phones briefly outnumbering threads is normal, not worth a warning line.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = create_app(box)
    sync_server.init_app(app)
    try:
        server = waitress.create_server(
            app, host=host, port=port, threads=box.settings["threads"], ident="kith"
        )
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    discovery = _start_discovery(box, int(server.effective_port))
    app.extensions["kith_discovery"] = discovery
    if box.settings["sync_interval_s"] > 0:
        BackgroundSync(box, box.settings["sync_interval_s"], discovery).start()
    # Printed after binding, with the real port, so `--port 0` can be used by scripts.
    print(
        f"Kith is serving {box.centre.name} on http://{host}:{server.effective_port}/", flush=True
    )
    # systemd stops the server with SIGTERM: end cleanly so discovery says goodbye.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    finally:
        if discovery is not None:
            discovery.close()


def cmd_log_export(args) -> None:
    box = Box.open(_data_dir(args))
    out = sys.stdout.buffer
    for raw in box.log.export():
        out.write(raw + b"\n")
    out.flush()


def cmd_log_verify(args) -> None:
    box = Box.open(_data_dir(args))
    problems = box.log.verify()
    count = sum(1 for _ in box.log.export())
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise CommandError(f"{len(problems)} of {count} records failed verification")
    print(f"All {count} records verify.")


def cmd_peer_list(args) -> None:
    from appliance.services import peers

    box = Box.open(_data_dir(args))
    print(f"This box: {box.centre.name}, fingerprint {peers.fingerprint(box.origin)}")
    listed = peers.list_peers(box)
    if not listed:
        print("No other boxes yet. Add one with: kith peer add http://ADDRESS:PORT")
    for p in listed:
        state = "paired" if p["paired"] else f"waiting: confirm code {p['code']} on both boxes"
        print(f"- {p['name']} ({p['fingerprint']}) {p['url'] or '(calls us)'}: {state}")
        if p["last_error"]:
            print(f"  last error: {p['last_error']}")
    print("Origins this box accepts records from:")
    for t in peers.trust_report(box):
        limit = "" if t["last_seq"] is None else f", up to seq {t['last_seq']}"
        print(f"- {t['name']}: {t['why']}{limit}")


def cmd_peer_nearby(args) -> None:
    import time

    box = Box.open(_data_dir(args))
    if box.settings["discovery"].strip() == "off":
        raise CommandError('discovery is off; set discovery = "default" in kith.toml first')
    # Port 0 in the advertisement is refused, so announce the port serve would use.
    discovery = _start_discovery(box, box.settings["port"])
    if discovery is None:
        raise CommandError("could not start discovery on this network")
    try:
        time.sleep(args.seconds)
        found = discovery.nearby()
    finally:
        discovery.close()
    if not found:
        print(f"No other box answered within {args.seconds} s.")
    for n in found:
        where = f"http://{n.addresses[0]}:{n.port}" if n.addresses else "(no address)"
        print(f"- {n.name} ({n.fp}) {where}")


def cmd_peer_add(args) -> None:
    from appliance.services import peers
    from sync.client import SyncError, request_pairing

    box = Box.open(_data_dir(args))
    if not args.address.startswith("http"):
        hello = _read_card(box, Path(args.address))
    else:
        try:
            hello = request_pairing(box, args.address)
        except SyncError as exc:
            raise CommandError(str(exc)) from None
    print(f"Met {hello['name']} (fingerprint {hello['fingerprint']}).")
    print(f"Pairing code: {peers.pairing_code(box.origin, hello['origin'])}")
    print("Check that both boxes show this code, then run `kith peer confirm CODE` on both.")


def _read_card(box: Box, path: Path) -> dict:
    """Meet a box through its card file (for boxes that only ever share a USB stick)."""
    import json

    from appliance.services import peers

    try:
        card = json.loads(path.read_text(encoding="utf-8"))
        peers.fingerprint(card["origin"])
        name = str(card["name"])
    except (OSError, ValueError, KeyError, TypeError):
        raise CommandError(f"{path} is neither an http:// address nor a box's card") from None
    peers.remember(box, card["origin"], name)
    return {
        "name": name,
        "origin": card["origin"],
        "fingerprint": peers.fingerprint(card["origin"]),
    }


def cmd_peer_card(args) -> None:
    import json

    from appliance.services import peers
    from sync.server import hello_body

    box = Box.open(_data_dir(args))
    Path(args.file).write_text(json.dumps(hello_body(box), indent=2) + "\n", encoding="utf-8")
    print(f"Wrote this box's card to {args.file} (fingerprint {peers.fingerprint(box.origin)}).")
    print("On the other box: kith peer add " + args.file)


def cmd_peer_confirm(args) -> None:
    from appliance.services import peers

    box = Box.open(_data_dir(args))
    peer = peers.confirm(box, args.code)
    print(f"Paired with {peer.name}. Run `kith sync` to exchange records.")


def cmd_peer_revoke(args) -> None:
    from appliance.services import peers

    box = Box.open(_data_dir(args))
    last = peers.revoke(box, args.peer)
    print(f"Revoked {args.peer}: records after seq {last} from it are refused from now on.")


def cmd_sync(args) -> None:
    from appliance.services import peers
    from sync.client import sync_round

    box = Box.open(_data_dir(args))
    targets = [peers.find(args.peer)] if args.peer else []
    if not targets:
        targets = [p for p in peers.list_peers(box) if p["paired"] and p["url"]]
    if not targets:
        raise CommandError("no paired peer with an address; see `kith peer list`")
    failed = 0
    for target in targets:
        origin = target["origin"] if isinstance(target, dict) else target.origin
        result = sync_round(box, origin)
        line = f"{result.name}: {result.pulled} in, {result.pushed} out, {result.pages} pages"
        if result.error:
            failed += 1
            print(f"{line}; stopped: {result.error}", flush=True)
        else:
            print(line, flush=True)
    if failed:
        raise CommandError(f"{failed} of {len(targets)} peers did not finish; run it again later")


def cmd_bundle_export(args) -> None:
    from sync.stick import StickError, export_for

    box = Box.open(_data_dir(args))
    try:
        path, count = export_for(box, args.peer, Path(args.file))
    except StickError as exc:
        raise CommandError(str(exc)) from None
    print(f"Wrote {count} records for {args.peer} to {path}")


def cmd_bundle_import(args) -> None:
    from appliance.services import peers
    from sync.stick import StickError, import_file

    box = Box.open(_data_dir(args))
    try:
        result = import_file(box, Path(args.file))
    except StickError as exc:
        raise CommandError(str(exc)) from None
    sender = next((p["name"] for p in peers.list_peers(box) if p["origin"] == result.sender), "")
    print(
        f"From {sender or result.sender[:8]}: {result.accepted} new records, "
        f"{result.duplicates} already here."
    )
    for origin, count in result.skipped.items():
        print(f"Skipped {count} records of a box this one does not trust ({origin[:8]}).")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for `kith`."""
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data",
        default=argparse.SUPPRESS,
        help="the box's data directory (default: $KITH_DATA, else ~/.local/share/kith)",
    )
    parser = argparse.ArgumentParser(
        prog="kith", description="Kith: a community notice board in a box.", parents=[data]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", parents=[data], help="create a new box with its first admin")
    p.add_argument("--centre", required=True, help="the community centre's name")
    p.add_argument("--admin-name", default="Admin", help="the first admin's display name")
    p.add_argument("--admin-password-file", help="read the admin password from this file")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", parents=[data], help="fill a box with demo content")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", parents=[data], help="serve the board with waitress")
    p.add_argument("--host", help="address to listen on (setting: host)")
    p.add_argument("--port", type=int, help="port to listen on, 0 for any free one (setting: port)")
    p.set_defaults(func=cmd_serve)

    peer = sub.add_parser("peer", help="other boxes: pair, list, revoke")
    peer_sub = peer.add_subparsers(dest="peer_command", required=True, metavar="COMMAND")
    p = peer_sub.add_parser("list", parents=[data], help="boxes met, paired, and trusted origins")
    p.set_defaults(func=cmd_peer_list)
    p = peer_sub.add_parser("nearby", parents=[data], help="list boxes seen on the LAN")
    p.add_argument("--seconds", type=float, default=5, help="how long to listen (default 5)")
    p.set_defaults(func=cmd_peer_nearby)
    p = peer_sub.add_parser("add", parents=[data], help="meet a box by address or card file")
    p.add_argument(
        "address", help="the other box's address (http://192.168.1.20:8080) or its card file"
    )
    p.set_defaults(func=cmd_peer_add)
    p = peer_sub.add_parser("card", parents=[data], help="write this box's card for a stick")
    p.add_argument("file", help="where to write the card")
    p.set_defaults(func=cmd_peer_card)
    p = peer_sub.add_parser("confirm", parents=[data], help="pair after checking the code")
    p.add_argument("code", help="the six-digit code both boxes show")
    p.set_defaults(func=cmd_peer_confirm)
    p = peer_sub.add_parser("revoke", parents=[data], help="stop trusting a peer")
    p.add_argument("peer", help="the peer's name or fingerprint")
    p.set_defaults(func=cmd_peer_revoke)

    bundle = sub.add_parser("bundle", help="carry records on a USB stick")
    bundle_sub = bundle.add_subparsers(dest="bundle_command", required=True, metavar="COMMAND")
    p = bundle_sub.add_parser("export", parents=[data], help="write a bundle for a peer")
    p.add_argument("--for", dest="peer", required=True, help="the peer's name or fingerprint")
    p.add_argument("file", help="the bundle file, or a folder (the stick) to write it into")
    p.set_defaults(func=cmd_bundle_export)
    p = bundle_sub.add_parser("import", parents=[data], help="apply a bundle made for this box")
    p.add_argument("file", help="the bundle file")
    p.set_defaults(func=cmd_bundle_import)

    p = sub.add_parser("sync", parents=[data], help="exchange records with paired peers now")
    p.add_argument("--peer", help="only this peer (name or fingerprint)")
    p.set_defaults(func=cmd_sync)

    log = sub.add_parser("log", help="the signed record log")
    log_sub = log.add_subparsers(dest="log_command", required=True, metavar="COMMAND")
    p = log_sub.add_parser("export", parents=[data], help="print every record as JSON Lines")
    p.set_defaults(func=cmd_log_export)
    p = log_sub.add_parser("verify", parents=[data], help="re-check every stored record")
    p.set_defaults(func=cmd_log_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the `kith` command; return the exit status."""
    args = build_parser().parse_args(argv)
    args.data = getattr(args, "data", None)
    try:
        args.func(args)
    except (CommandError, BoxError, SettingsError) as exc:
        print(f"kith: {exc}", file=sys.stderr)
        return 1
    except ServiceError as exc:
        print(f"kith: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
