"""`kith init`, `demo`, `serve` and `log`: making, filling, serving and checking a box."""

from __future__ import annotations

import getpass
import logging
import signal
import sys
from pathlib import Path

from appliance.box import Box, is_box
from appliance.commands import CommandError, box_dir
from appliance.errors import ServiceError


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
    data_dir = box_dir(args)
    if is_box(data_dir):
        raise CommandError(f"{data_dir} already holds a box; choose another --data directory")
    box = init_box(data_dir, args.centre, args.admin_name, _read_password(args))
    print(f"Created the box for {box.centre.name} in {data_dir}")
    print(f"Log in as {args.admin_name!r}. Start the board with: kith --data {data_dir} serve")


def cmd_demo(args) -> None:
    from appliance import demo

    data_dir = box_dir(args)
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


def start_discovery(box: Box, port: int):
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

    box = Box.open(box_dir(args))
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
    discovery = start_discovery(box, int(server.effective_port))
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
    box = Box.open(box_dir(args))
    out = sys.stdout.buffer
    for raw in box.log.export():
        out.write(raw + b"\n")
    out.flush()


def cmd_log_verify(args) -> None:
    box = Box.open(box_dir(args))
    problems = box.log.verify()
    count = sum(1 for _ in box.log.export())
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise CommandError(f"{len(problems)} of {count} records failed verification")
    print(f"All {count} records verify.")


def register(sub, data) -> None:
    """Add this module's subcommands to the `kith` parser."""
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

    log = sub.add_parser("log", help="the signed record log")
    log_sub = log.add_subparsers(dest="log_command", required=True, metavar="COMMAND")
    p = log_sub.add_parser("export", parents=[data], help="print every record as JSON Lines")
    p.set_defaults(func=cmd_log_export)
    p = log_sub.add_parser("verify", parents=[data], help="re-check every stored record")
    p.set_defaults(func=cmd_log_verify)
