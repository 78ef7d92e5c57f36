"""`kith peer`, `sync` and `bundle`: pairing with other boxes and exchanging records."""

from __future__ import annotations

from pathlib import Path

from appliance.box import Box
from appliance.commands import CommandError, box_dir
from appliance.commands.core import start_discovery


def cmd_peer_list(args) -> None:
    from appliance.services import peers

    box = Box.open(box_dir(args))
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

    box = Box.open(box_dir(args))
    if box.settings["discovery"].strip() == "off":
        raise CommandError('discovery is off; set discovery = "default" in kith.toml first')
    # Port 0 in the advertisement is refused, so announce the port serve would use.
    discovery = start_discovery(box, box.settings["port"])
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

    box = Box.open(box_dir(args))
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

    box = Box.open(box_dir(args))
    Path(args.file).write_text(json.dumps(hello_body(box), indent=2) + "\n", encoding="utf-8")
    print(f"Wrote this box's card to {args.file} (fingerprint {peers.fingerprint(box.origin)}).")
    print("On the other box: kith peer add " + args.file)


def cmd_peer_confirm(args) -> None:
    from appliance.services import peers

    box = Box.open(box_dir(args))
    peer = peers.confirm(box, args.code)
    print(f"Paired with {peer.name}. Run `kith sync` to exchange records.")


def cmd_peer_revoke(args) -> None:
    from appliance.services import peers

    box = Box.open(box_dir(args))
    last = peers.revoke(box, args.peer)
    print(f"Revoked {args.peer}: records after seq {last} from it are refused from now on.")


def cmd_sync(args) -> None:
    from appliance.services import peers
    from sync.client import sync_round

    box = Box.open(box_dir(args))
    targets = [peers.find(args.peer)] if args.peer else []
    if not targets:
        targets = [p for p in peers.list_peers(box) if p["paired"] and p["url"]]
    if not targets:
        # Not a failure: a box that works alone is normal, and the nightly timer must not
        # show up in `systemctl --failed` every morning because of it.
        print("Nothing to sync: no paired box with an address (see `kith peer list`).")
        return
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

    box = Box.open(box_dir(args))
    try:
        path, count = export_for(box, args.peer, Path(args.file))
    except StickError as exc:
        raise CommandError(str(exc)) from None
    print(f"Wrote {count} records for {args.peer} to {path}")


def cmd_bundle_import(args) -> None:
    from appliance.services import peers
    from sync.stick import StickError, import_file

    box = Box.open(box_dir(args))
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


def register(sub, data) -> None:
    """Add this module's subcommands to the `kith` parser."""
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
