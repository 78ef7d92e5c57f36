"""Helpers for every test folder: a settable clock, the installed `kith` command, and
running a box's own Python in a child process.

Importable as `import kithtest` from any test module: see tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The venv's `kith` command (tests/setup installs the project with `pip install -e`).
KITH = shutil.which("kith", path=str(Path(sys.executable).parent)) or str(
    Path(sys.executable).parent / "kith"
)
# The first line `kith serve --host 127.0.0.1` prints once its socket is bound.
SERVING = re.compile(r"^Kith is serving (?P<name>.+) on (?P<url>http://127\.0\.0\.1:\d+/)$")
SERVE_START_TIMEOUT = 30.0
# A served box runs the hourly sweeps (still needed?, votes, retention) only when a test
# says so: a sweep a minute in would write records under a test's feet.
NO_SWEEPS = {**os.environ, "KITH_SWEEP_INTERVAL_S": "0"}
# The environment of a served box that runs sync rounds only when a test says so.
NO_BACKGROUND_SYNC = {**NO_SWEEPS, "KITH_SYNC_INTERVAL_S": "0"}

# For on_box: prints every projection table of the box and its search index as JSON.
SNAPSHOT = """
from appliance import models
from appliance.db import database
out = {}
for model in models.PROJECTIONS:
    # Row numbers (integer ids) depend on arrival order; everything else must match.
    rows = [sorted((k, v) for k, v in r.items() if not (k == "id" and isinstance(v, int)))
            for r in model.select().dicts()]
    out[model.__name__] = sorted(json.dumps(r, default=str) for r in rows)
out["fts"] = sorted(map(str, database.execute_sql(
    "SELECT post_id, title, details, place FROM post_fts").fetchall()))
print(json.dumps(out))
"""


class Clock:
    """A settable clock for box.log.now_ms: call it for the time, advance it by hand.

    Each test folder starts it at its own time.
    """

    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> int:
        """Move the clock forward by ms; return the new time."""
        self.ms += ms
        return self.ms


def init_args(data: Path, password_file: Path, centre: str, *extra: str) -> list[str]:
    """The arguments of `kith --data DATA init --centre CENTRE --admin-password-file FILE`."""
    return [
        "--data",
        str(data),
        "init",
        "--centre",
        centre,
        "--admin-password-file",
        str(password_file),
        *extra,
    ]


def run_kith(
    *args: str, ok: bool = True, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run `kith ARGS` (stdin closed, text output); unless ok=False, assert it exited 0."""
    done = subprocess.run(
        [KITH, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    if ok:
        assert done.returncode == 0, f"kith {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def kith(*args: str) -> str:
    """Run `kith ARGS`, assert it exited 0 and return its stdout."""
    return run_kith(*args).stdout


def pairing_code(out: str) -> str:
    """The code from the "Pairing code: CODE" line that `kith peer add` prints."""
    line = next(line for line in out.splitlines() if line.startswith("Pairing code:"))
    return line.split(":", 1)[1].strip()


def pair(left: Path, right: Path, right_url: str, run=kith) -> str:
    """Pair two boxes as staff would: left introduces itself, both confirm; return the code.

    `run` runs one `kith` command and returns its stdout (and fails if the command does).
    """
    code = pairing_code(run("--data", str(left), "peer", "add", right_url))
    run("--data", str(right), "peer", "confirm", code)
    run("--data", str(left), "peer", "confirm", code)
    return code


def on_box(data: Path, code: str, *args: str, prelude: str = ""):
    """Run prelude + code in a child Python (argv: data, *args); return its stdout as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", prelude + code, str(data), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "null")


def _first_line(proc: subprocess.Popen, timeout: float) -> tuple[str | None, str]:
    """Wait for the first whole line on proc's stdout; return (that line or None, all read)."""
    deadline = time.monotonic() + timeout
    out = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in out and time.monotonic() < deadline:
            if not sel.select(timeout=0.2):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:  # EOF: the server exited
                break
            out += chunk
    text = out.decode(errors="replace")
    line, newline, _ = text.partition("\n")
    return (line if newline else None), text


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def serving(
    *args: str,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = SERVE_START_TIMEOUT,
    port: int = 0,
) -> Iterator[tuple[str, str]]:
    """Run `kith [args] serve --host 127.0.0.1 --port PORT`; yield (centre name, base URL).

    PORT 0 (the default) picks a free port; a test that restarts a server passes the
    port it had, so pages open in a browser reach it again.

    The server's first line must be "Kith is serving NAME on URL" with URL on 127.0.0.1,
    within `timeout` seconds. Its stderr goes to the file `log`; `env` (default: this
    process's environment, without the hourly sweeps) is its environment. The server is
    always stopped, whatever happens at start-up or in the block.
    """
    command = [KITH, *args, "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = NO_SWEEPS if env is None else env
    with (
        open(log, "wb") as err,
        subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env
        ) as proc,
    ):
        try:
            line, out = _first_line(proc, timeout)
            match = SERVING.match(line or "")
            if not match:
                status = proc.poll()
                why = f"exited with status {status}" if status is not None else "is still running"
                raise AssertionError(
                    f"`kith serve` did not report its URL ({why} after {timeout:.0f}s at most); "
                    f"its output: {out!r}; its stderr:\n{log.read_text(errors='replace')}"
                )
            yield match["name"], match["url"]
        finally:
            _stop(proc)
