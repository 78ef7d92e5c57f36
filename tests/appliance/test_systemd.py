"""The appliance's systemd units (systemd/): checked by systemd's own tools, read for the
house rules, and their sandbox tried on the real `kith` command.

`systemd-analyze verify` exits 0 on unknown keys and bad values, so here every line it
prints is a failure. It runs with --root= a scratch tree holding the units, this machine's
own system units (sysinit.target and friends, which every service depends on) and
placeholder programs at the paths the units run, so the test machine needs neither cage
nor an installed appliance, while a typo in a directive, a value or an executable path is
still reported.
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import selectors
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from kithtest import KITH, SERVING, init_args, pair

from appliance import settings
from appliance.cli import build_parser

UNIT_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNITS = sorted(p.name for p in UNIT_DIR.iterdir() if p.suffix in {".service", ".timer"})
TIMERS = [name for name in UNITS if name.endswith(".timer")]
SYSUSERS = UNIT_DIR / "kith.sysusers"
# The installed `kith` of the appliance (see image/), and every program the units run
# that the test machine need not have: the scratch root gets a placeholder for each.
APPLIANCE_KITH = "/opt/kith/current/bin/kith"
PROGRAMS = (APPLIANCE_KITH, "/usr/bin/cage", "/bin/bash")
# Directives that say what they are without a comment (house rule: a comment on each
# non-default line saying why), and how many lines one comment may speak for.
SELF_EXPLANATORY = {"Description", "ExecStart", "WantedBy"}
MAX_LINES_PER_COMMENT = 6


def read(name: str) -> str:
    return (UNIT_DIR / name).read_text(encoding="utf-8")


def parse(text: str) -> dict[str, dict[str, list[str]]]:
    """Return {section: {key: [values in order]}} of a unit file, continuations joined."""
    sections: dict[str, dict[str, list[str]]] = {}
    section = None
    logical = ""
    for raw in text.splitlines():
        line = logical + raw.strip()
        if line.endswith("\\"):
            logical = line[:-1] + " "
            continue
        logical = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return sections


def service(name: str) -> dict[str, list[str]]:
    return parse(read(name))["Service"]


def tool(name: str) -> str:
    """Return the path of one of systemd's tools (Debian package systemd, see tests/setup)."""
    path = shutil.which(name)
    assert path, f"{name} is missing: install Debian's systemd package (tests/setup does)"
    return path


def host_unit_dir() -> Path:
    for path in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (path / "sysinit.target").exists():
            return path
    raise AssertionError("no systemd system units on this machine: install Debian's systemd")


def verify(tmp_path: Path, name: str, replace: dict[str, str] | None = None) -> list[str]:
    """Run `systemd-analyze verify` on one of the units; return every line it printed.

    The scratch root holds all the units (those in `replace` with the text given there),
    so a timer finds its service. A non-zero exit adds a line of its own.
    """
    root = tmp_path / "root"
    shutil.copytree(host_unit_dir(), root / "usr/lib/systemd/system", symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        text = (replace or {}).get(unit, read(unit))
        (units / unit).write_text(text, encoding="utf-8")
    for program in PROGRAMS:
        placeholder = root / program.lstrip("/")
        placeholder.parent.mkdir(parents=True, exist_ok=True)
        placeholder.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        placeholder.chmod(0o755)
    done = subprocess.run(
        [tool("systemd-analyze"), "verify", f"--root={root}", "--man=no", str(units / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = (done.stdout + done.stderr).splitlines()
    return lines + ([f"exit status {done.returncode}"] if done.returncode else [])


@pytest.mark.parametrize("name", UNITS)
def test_unit_verifies_without_a_word(tmp_path, name):
    assert verify(tmp_path, name) == []


# (unit, a line as written, the same line broken, what systemd-analyze must say about it)
BROKEN = [
    ("kith.service", "ProtectHome=yes", "ProtectHme=yes", "Unknown key 'ProtectHme'"),
    ("kith.service", "RestartSec=5s", "RestartSec=5 parsecs", "Failed to parse sec value"),
    ("kith.service", "Type=exec", "Type=exe", "Failed to parse service type"),
    (
        "kith.service",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=@system-servce",
        "Unknown system call group",
    ),
    (
        "kith.service",
        f"ExecStart={APPLIANCE_KITH} serve",
        "ExecStart=/opt/kith/curent/bin/kith serve",
        "is not executable",
    ),
    ("kith-backup.service", "[Unit]\n", "[Unit]\nUser=kith\n", "Unknown key 'User' in section"),
    ("kith-kiosk.service", "TTYPath=/dev/tty1", "TTYPath=tty1", "not absolute"),
    ("kith-sync.timer", "Persistent=true", "Persistant=true", "Unknown key 'Persistant'"),
    (
        "kith-backup.timer",
        "OnCalendar=*-*-* 04:00",
        "OnCalendar=*-*-* 04:61",
        "Failed to parse calendar specification",
    ),
]


@pytest.mark.parametrize(
    ("name", "good", "bad", "said"), BROKEN, ids=[f"{b[0]}:{b[2].splitlines()[-1]}" for b in BROKEN]
)
def test_verify_reports_a_misspelt_directive_or_bad_value(tmp_path, name, good, bad, said):
    text = read(name)
    assert text.count(good) == 1, f"{name} no longer has exactly one {good!r}"
    lines = verify(tmp_path, name, {name: text.replace(good, bad)})
    assert any(said in line for line in lines), lines


def uncommented(text: str, directive=lambda line: "=" in line) -> list[str]:
    """Return the directive lines that no comment speaks for.

    A comment speaks for the directives right below it, up to MAX_LINES_PER_COMMENT of
    them, until a blank line or a section header; `directive` tells a directive line.
    """
    found = []
    count = None  # directives since the last comment; None: no comment in force
    continued = False
    for raw in text.splitlines():
        line = raw.strip()
        if continued:
            continued = line.endswith("\\")
            continue
        continued = line.endswith("\\")
        if line.startswith(("#", ";")):
            count = 0
        elif not line or line.startswith("["):
            count = None
        elif directive(line):
            if line.partition("=")[0].strip() in SELF_EXPLANATORY:
                continue
            count = None if count is None else count + 1
            if count is None or count > MAX_LINES_PER_COMMENT:
                found.append(line)
    return found


@pytest.mark.parametrize("name", UNITS)
def test_every_non_default_directive_says_why(name):
    assert uncommented(read(name)) == []


def test_every_sysusers_line_says_why():
    assert uncommented(SYSUSERS.read_text(encoding="utf-8"), directive=bool) == []


def test_the_comment_check_finds_a_bare_directive():
    text = "[Service]\n# Why.\nUser=kith\n\nRestart=always\nExecStart=/bin/true\n[Install]\nA=1\n"
    assert uncommented(text) == ["Restart=always", "A=1"]
    crowded = "[Service]\n# One comment for too many lines.\n" + "".join(
        f"K{i}=1\n" for i in range(MAX_LINES_PER_COMMENT + 1)
    )
    assert uncommented(crowded) == [f"K{MAX_LINES_PER_COMMENT}=1"]


@pytest.mark.parametrize("timer", TIMERS)
def test_timer_starts_its_own_oneshot_service_and_catches_up(timer):
    spec = parse(read(timer))
    target = spec["Timer"].get("Unit", [timer.removesuffix(".timer") + ".service"])[-1]
    assert target in UNITS, f"{timer} starts {target}, which is not in systemd/"
    started = parse(read(target))
    assert started["Service"]["Type"] == ["oneshot"]
    # Only its timer starts it: enabled on its own it would run at every boot.
    assert "Install" not in started
    assert spec["Timer"]["Persistent"] == ["true"]
    assert spec["Timer"]["RandomizedDelaySec"]
    assert spec["Install"]["WantedBy"] == ["timers.target"]


def kith_commands() -> list[tuple[str, list[str]]]:
    """Return (unit, arguments) of every command line that runs the appliance's kith."""
    found = []
    for name in UNITS:
        for key, values in parse(read(name)).get("Service", {}).items():
            for value in values if key.startswith("Exec") else []:
                argv = shlex.split(value)
                if argv[0] == APPLIANCE_KITH:
                    found.append((name, argv[1:]))
    return found


@pytest.mark.parametrize(
    "argv", [argv for _, argv in kith_commands()], ids=[n for n, _ in kith_commands()]
)
def test_unit_runs_a_real_kith_command(argv):
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"the kith command line does not parse: kith {' '.join(argv)}")
    assert args.command == argv[0]


def test_units_run_serve_sync_and_backup():
    assert sorted(argv[0] for _, argv in kith_commands()) == ["backup", "serve", "sync"]


def unit_environment(name: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in service(name).get("Environment", []))
    return dict(pairs)


@pytest.mark.parametrize("name", [name for name, _ in kith_commands()])
def test_kith_units_share_the_data_directory_and_name_real_settings(name):
    env = unit_environment(name)
    assert env["KITH_DATA"] == "/var/lib/kith"
    assert service(name)["StateDirectory"] == ["kith"]
    assert service(name)["User"] == ["kith"]
    # An unknown KITH_ name is a SettingsError, as it would be on the box.
    settings.load(None, environ=env)


def test_kiosk_and_readiness_check_use_the_port_the_server_is_given():
    port = settings.load(None, environ=unit_environment("kith.service"))["port"]
    assert f"/dev/tcp/127.0.0.1/{port}" in service("kith.service")["ExecStartPost"][0]
    kiosk = shlex.split(service("kith-kiosk.service")["ExecStart"][0])
    assert kiosk[:3] == ["/usr/bin/cage", "--", "/usr/bin/chromium"]
    assert "--kiosk" in kiosk
    assert kiosk[-1] == f"http://127.0.0.1:{port}/kiosk"


def test_kiosk_url_is_the_kiosk_page(box):
    from web import create_app

    url = shlex.split(service("kith-kiosk.service")["ExecStart"][0])[-1]
    path = urllib.parse.urlsplit(url).path
    endpoint, _ = create_app(box).url_map.bind("127.0.0.1").match(path, method="GET")
    assert endpoint.startswith("kiosk.")


def sysusers(tmp_path: Path, text: str) -> tuple[list[str], dict, dict]:
    """Apply a sysusers.d file to an empty scratch root; return (lines printed, users, groups).

    users: {name: passwd fields}; groups: {name: member names}.
    """
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    conf = tmp_path / "kith.conf"
    conf.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [tool("systemd-sysusers"), f"--root={root}", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # It reports every user and group it creates; anything else is a complaint.
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "Creating " not in line]
    lines += [f"exit status {done.returncode}"] if done.returncode else []

    def table(name: str) -> list[list[str]]:
        path = root / "etc" / name
        return [row.split(":") for row in path.read_text().splitlines()] if path.exists() else []

    users = {row[0]: row for row in table("passwd")}
    groups = {row[0]: set(filter(None, row[3].split(","))) for row in table("group")}
    return lines, users, groups


def test_sysusers_creates_the_users_the_units_run_as(tmp_path):
    lines, users, groups = sysusers(tmp_path, SYSUSERS.read_text(encoding="utf-8"))
    assert lines == []
    assert users["kith"][5] == "/var/lib/kith"
    kiosk_home = service("kith-kiosk.service")["StateDirectory"][0]
    assert users["kiosk"][5] == f"/var/lib/{kiosk_home}"
    for group in ("video", "input", "render"):
        assert "kiosk" in groups[group]
    assert "kith" not in groups["video"]
    for name in UNITS:
        for user in parse(read(name)).get("Service", {}).get("User", []):
            assert user in users, f"{name} runs as {user}, whom kith.sysusers does not create"


def test_sysusers_check_reports_a_bad_line(tmp_path):
    lines, _, _ = sysusers(tmp_path, 'u kith - "Kith" /var/lib/kith\nm kiosk\n')
    assert any("require a group name" in line for line in lines), lines


# -- The units' seccomp sandbox, tried on the real `kith` ---------------------------------
#
# SystemCallFilter=, SystemCallErrorNumber=, MemoryDenyWriteExecute= and
# RestrictAddressFamilies= are seccomp filters, which need no systemd to try: the filters
# below are built (with libseccomp, which systemd itself uses) the way systemd 252 builds
# them from a unit's values. Mount namespaces, users and the rest are left to the image's
# boot test.


def syscall_names(items: list[str], seen: set[str] | None = None) -> set[str]:
    """Expand system call names and @groups the way this machine's systemd does."""
    seen = set() if seen is None else seen
    names = set()
    for item in items:
        if not item.startswith("@"):
            names.add(item)
        elif item not in seen:
            seen.add(item)
            listing = subprocess.run(
                [tool("systemd-analyze"), "syscall-filter", item],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout.splitlines()[1:]
            entries = [e.strip() for e in listing if e.strip() and not e.strip().startswith("#")]
            names |= syscall_names(entries, seen)
    return names


def sandbox_of(name: str) -> dict:
    """Return the seccomp settings of a unit as the child below takes them."""
    svc = service(name)
    allowed = " ".join(svc.get("SystemCallFilter", [])).split()
    assert allowed and not allowed[0].startswith("~"), "only allow-lists are emulated here"
    # These are always allowed (systemd.exec(5), SystemCallFilter=).
    allowed.append("@default")
    families = " ".join(svc["RestrictAddressFamilies"]).split()
    return {
        "allow": sorted(syscall_names(allowed)),
        "errno": getattr(errno, svc["SystemCallErrorNumber"][-1]),
        "mdwe": svc["MemoryDenyWriteExecute"] == ["yes"],
        "families": [getattr(socket, family) for family in families],
    }


def _enter_sandbox_and_exec() -> None:
    """In a child: load the seccomp filters given as JSON in argv[1], then exec argv[2:]."""
    import ctypes
    import ctypes.util
    import errno
    import json
    import mmap
    import os
    import sys

    spec = json.loads(sys.argv[1])
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp"), use_errno=True)

    class Arg(ctypes.Structure):  # struct scmp_arg_cmp
        _fields_ = [
            ("arg", ctypes.c_uint),
            ("op", ctypes.c_int),
            ("datum_a", ctypes.c_uint64),
            ("datum_b", ctypes.c_uint64),
        ]

    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(Arg),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    allow, cmp_eq, cmp_ge, cmp_masked_eq = 0x7FFF0000, 4, 5, 7

    def refuse(code: int) -> int:  # SCMP_ACT_ERRNO
        return 0x00050000 | code

    def rule(ctx, action: int, name: str, *args: Arg) -> None:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # not a system call on this architecture
            return
        array = (Arg * max(1, len(args)))(*args)
        assert lib.seccomp_rule_add_array(ctx, action, number, len(args), array) == 0, name

    filters = []
    # MemoryDenyWriteExecute=: no W+X mappings, nothing made executable later, no SHM_EXEC.
    if spec["mdwe"]:
        ctx = lib.seccomp_init(allow)
        wx = mmap.PROT_WRITE | mmap.PROT_EXEC
        for name in ("mmap", "mmap2"):
            rule(ctx, refuse(errno.EPERM), name, Arg(2, cmp_masked_eq, wx, wx))
        for name in ("mprotect", "pkey_mprotect"):
            x = mmap.PROT_EXEC
            rule(ctx, refuse(errno.EPERM), name, Arg(2, cmp_masked_eq, x, x))
        shm_exec = 0o100000
        rule(ctx, refuse(errno.EPERM), "shmat", Arg(2, cmp_masked_eq, shm_exec, shm_exec))
        filters.append(ctx)
    # RestrictAddressFamilies=: socket(2) of any other family fails with EAFNOSUPPORT.
    ctx = lib.seccomp_init(allow)
    for family in range(64):
        if family not in spec["families"]:
            rule(ctx, refuse(errno.EAFNOSUPPORT), "socket", Arg(0, cmp_eq, family, 0))
    rule(ctx, refuse(errno.EAFNOSUPPORT), "socket", Arg(0, cmp_ge, 64, 0))
    filters.append(ctx)
    # SystemCallFilter= with SystemCallErrorNumber=: loaded last, as it forbids seccomp(2).
    ctx = lib.seccomp_init(refuse(spec["errno"]))
    for name in spec["allow"]:
        rule(ctx, allow, name)
    filters.append(ctx)
    for ctx in filters:
        assert lib.seccomp_load(ctx) == 0
    os.execvp(sys.argv[2], sys.argv[2:])


SANDBOX = inspect.getsource(_enter_sandbox_and_exec) + "\n_enter_sandbox_and_exec()\n"


def sandboxed(unit: str | None, *command: str) -> list[str]:
    """Return the command line running `command` under the unit's filters (None: without)."""
    if unit is None:
        return list(command)
    return [sys.executable, "-c", SANDBOX, json.dumps(sandbox_of(unit)), *command]


def run(unit: str | None, *command: str, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        sandboxed(unit, *command),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert done.returncode == 0, f"{' '.join(command)} under {unit}: {done.stdout}{done.stderr}"
    return done


# Tries what each filter refuses; prints {probe: "ok" or the errno name}.
PROBE = """
import ctypes, errno, json, mmap, socket
def attempt(call):
    try:
        call()
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]
def interfaces():
    import ifaddr
    assert ifaddr.get_adapters()
def outside_system_service():
    # adjtimex(2) that only reads the clock: allowed for anyone, but in @clock.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.adjtimex(ctypes.create_string_buffer(1024)) < 0:
        raise OSError(ctypes.get_errno(), "adjtimex")
print(json.dumps({
    "wx": attempt(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)),
    "netlink": attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW).close()),
    "interfaces": attempt(interfaces),
    "clock": attempt(outside_system_service),
}))
"""


def probe(unit: str | None) -> dict[str, str]:
    return json.loads(run(unit, sys.executable, "-c", PROBE).stdout)


def test_the_sandbox_refuses_what_the_units_forbid():
    # Unconfined, every probe succeeds, so each refusal below is the filters' doing.
    assert probe(None) == dict.fromkeys(["wx", "netlink", "interfaces", "clock"], "ok")
    # The server lists interfaces for discovery through netlink; the sync round may not.
    assert probe("kith.service") == {
        "wx": "EPERM",
        "netlink": "ok",
        "interfaces": "ok",
        "clock": "EPERM",
    }
    assert probe("kith-sync.service") == {
        "wx": "EPERM",
        "netlink": "EAFNOSUPPORT",
        "interfaces": "EAFNOSUPPORT",
        "clock": "EPERM",
    }


def serve_first_line(proc: subprocess.Popen, timeout: float = 60) -> str:
    """Return the first line `kith serve` prints ('' if it ends or says nothing in time)."""
    deadline = time.monotonic() + timeout
    out = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in out and time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    return out.decode(errors="replace").partition("\n")[0]


def test_kith_serves_and_syncs_inside_its_units_sandbox(tmp_path):
    """CPython, cryptography, waitress, zeroconf, urllib and SQLite's backup API under the
    units' own filters."""
    password = tmp_path / "password"
    password.write_text("correct horse battery\n", encoding="utf-8")
    here, there = tmp_path / "here", tmp_path / "there"
    run("kith.service", KITH, *init_args(here, password, "Here Centre"))
    run("kith.service", KITH, *init_args(there, password, "There Centre"))
    # Discovery on loopback only: nothing leaves the machine.
    env = {**os.environ, "KITH_DISCOVERY": "127.0.0.1", "KITH_SYNC_INTERVAL_S": "0"}
    command = [KITH, "--data", str(there), "serve", "--host", "127.0.0.1", "--port", "0"]
    with (
        open(tmp_path / "serve.log", "wb") as log,
        subprocess.Popen(
            sandboxed("kith.service", *command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        ) as server,
    ):
        try:
            match = SERVING.match(serve_first_line(server))
            assert match, (tmp_path / "serve.log").read_text()
            with urllib.request.urlopen(match["url"], timeout=30) as page:
                assert page.status == 200
                assert "There Centre" in page.read().decode("utf-8")
            # Pairing is staff at a terminal, outside any unit.
            pair(here, there, match["url"], run=lambda *a: run(None, KITH, *a).stdout)
            done = run("kith-sync.service", KITH, "--data", str(here), "sync")
            assert done.stdout.startswith("There Centre: ")
            # No stick mounted here: it goes to the data directory, as on a box without one.
            run("kith-backup.service", KITH, "--data", str(here), "backup")
            assert len(list((here / "backups").iterdir())) == 1
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert server.returncode == 0
    assert (tmp_path / "serve.log").read_text() == ""
    verified = run("kith.service", KITH, "--data", str(here), "log", "verify")
    assert "records verify" in verified.stdout
