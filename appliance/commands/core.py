"""`kith init`, `demo`, `serve` and `log`: making, filling, serving and checking a box."""

from __future__ import annotations

import getpass
import logging
import signal
import sys
from pathlib import Path

from appliance import settings as settings_mod
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
    from appliance.services import setup

    if is_box(data_dir):
        raise CommandError(f"{data_dir} already holds a box; choose another --data directory")
    try:
        box, _ = setup.create_box(data_dir, centre_name, admin_name, password, now_ms)
    except ServiceError as exc:
        raise CommandError(f"{exc}; nothing was created") from None
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
    print(
        "Rides: sign in as 'Maria Costa' (coordinator) for /coordinate, 'Kwame Asante' "
        "(minibus driver) for /driving, 'Edna Hughes' (rider) for /rides."
    )
    print(
        "Rules: /conduct is the code of conduct, /proposals a vote still open, /moderation "
        "the public log; two members reported 'Designer handbags half price', so a third "
        "report (sign up and report it) hides it pending review."
    )


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


def _start_beside(box: Box, app, port: int) -> None:
    """Start what runs beside a box's board: LAN discovery, background sync rounds and
    the hourly sweeps (appliance/sweeps.py)."""
    from appliance.sweeps import Sweeper
    from sync.background import BackgroundSync

    discovery = start_discovery(box, port)
    app.extensions["kith_discovery"] = discovery
    if box.settings["sync_interval_s"] > 0:
        BackgroundSync(box, box.settings["sync_interval_s"], discovery).start()
    if box.settings["sweep_interval_s"] > 0:
        sweeper = Sweeper(box, interval_s=box.settings["sweep_interval_s"])
        app.extensions["kith_sweeper"] = sweeper.start()


def _board_app(box: Box):
    from sync import server as sync_server
    from web import create_app

    app = create_app(box)
    sync_server.init_app(app)
    return app


def _listen(app, host: str, port: int, threads: int):
    import waitress

    # A burst of phones briefly outnumbering threads is normal, not worth a warning line.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    try:
        return waitress.create_server(app, host=host, port=port, threads=threads, ident="kith")
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _run(server, live_app) -> None:
    # systemd stops the server with SIGTERM: end cleanly so discovery says goodbye.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    finally:
        app = live_app()
        extensions = app.extensions if app is not None else {}
        sweeper = extensions.get("kith_sweeper")
        if sweeper is not None:
            sweeper.stop()  # lets a sweep in progress finish its transaction
        discovery = extensions.get("kith_discovery")
        if discovery is not None:
            discovery.close()


def _serve_setup(args, data_dir: Path) -> None:
    """Serve the first-boot setup page until it creates the box, then the board."""
    from web.setup import FirstBoot

    if data_dir.exists() and not data_dir.is_dir():
        raise CommandError(f"{data_dir} is a file, not a directory; choose another --data")
    conf = settings_mod.load(data_dir if data_dir.is_dir() else None)
    host = args.host or conf["host"]
    port = conf["port"] if args.port is None else args.port
    listening = {}

    def go_live(box: Box):
        app = _board_app(box)
        _start_beside(box, app, listening["port"])
        print(f"Kith is serving {box.centre.name} on {listening['url']}", flush=True)
        return app

    first_boot = FirstBoot(data_dir, go_live, conf)
    server = _listen(first_boot, host, port, conf["threads"])
    listening["port"] = int(server.effective_port)
    url = listening["url"] = f"http://{host}:{server.effective_port}/"
    where = url
    if host in ("0.0.0.0", "::"):
        # Every address of this machine: name the one a Kith box answers to (kith.local).
        where = f"http://kith.local:{server.effective_port}/ (or this machine's address)"
    print(
        f"There is no box in {data_dir} yet: open {where} from a phone or computer on the "
        "same network to set it up.",
        file=sys.stderr,
        flush=True,
    )
    # The same line as for a box, last (scripts wait for it and read the port from it).
    print(f"Kith is serving the first-boot setup on {url}", flush=True)
    _run(server, lambda: first_boot.board)


def cmd_serve(args) -> None:
    from appliance.services import setup

    data_dir = box_dir(args)
    if setup.discard_unfinished(data_dir):
        print(
            "kith: the last setup did not finish (was the power cut?); starting it again.",
            file=sys.stderr,
            flush=True,
        )
    if not is_box(data_dir):
        _serve_setup(args, data_dir)
        return
    box = Box.open(data_dir)
    host = args.host or box.settings["host"]
    port = box.settings["port"] if args.port is None else args.port
    app = _board_app(box)
    server = _listen(app, host, port, box.settings["threads"])
    _start_beside(box, app, int(server.effective_port))
    # Printed after binding, with the real port, so `--port 0` can be used by scripts.
    print(
        f"Kith is serving {box.centre.name} on http://{host}:{server.effective_port}/", flush=True
    )
    _run(server, lambda: app)


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
