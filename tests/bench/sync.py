"""Benchmark: a full and an incremental sync between two real boxes, against raw Ed25519.

Run:  .venv/bin/python tests/bench/sync.py [--records 100000] [--profile N]

In one run: (1) the raw Ed25519 verify rate of this machine with the library records use
(cryptography), verifying real Kith record signatures (prefix + canonical bytes) in a
loop, measured just before and just after the full sync; (2) a full sync of --records
records from box A to an empty box B: both are real `kith serve` processes on 127.0.0.1,
paired with `kith peer add` and `kith peer confirm`, and B runs `kith sync` (B pulls
everything from A); records/s and its ratio to (1), the peak RSS (VmHWM) of both servers
and of the `kith sync` process, and the bytes on the wire; (3) an incremental sync of 10
new records made at A, and a round with nothing new: time and bytes. The servers run
with KITH_SYNC_INTERVAL_S=0, so no background round of theirs overlaps the timed one.

`kith sync` runs in a child (tests/bench/_sync_box.py sync) that calls the command's own
entry point, appliance.cli.main, after counting wrappers are put on its sockets: "bytes
on the wire" is every byte that process sent and received over TCP (request and status
lines, headers, bodies), without TCP/IP framing. Its time is taken around cli.main (the
round, opening the box included; Python start-up and imports not); the child's whole
wall time is printed beside it. A long pull starts page checkers (worker processes that
verify the next page while `kith sync` stores the current one, sync/checker.py): their
start-up and work fall inside that time, and their CPU and peak RSS are printed beside
the command's own.

Box A is built by `kith init` and then a child appending a mix of posts, comments, offers
of help, resolutions and thanks through box.log.append, 2000 records per transaction
(each touched entity refolded once per transaction rather than once per record).
With --data DIR, box A is built once in DIR/A and reused (each run syncs a copy of it).

`--profile N` ingests A's first N records page by page into a copy of B taken before the
full sync (in a child, without HTTP and in one process: Log.ingest, no page checkers),
prints how long parsing alone takes against the whole ingest, then the same under
cProfile; it also runs one more incremental round
under cProfile and prints where it goes. Targets (from the issue): full sync >= 60%
of the raw verify rate; incremental < 20 ms and < 20 KB. The script prints figures; it
asserts no timings. Only 127.0.0.1 is ever contacted.

Not a test: pytest does not collect it (its name does not start with test_).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import kithtest  # noqa: E402
from kithtest import KITH, SERVING, init_args  # noqa: E402

HELPER = str(Path(__file__).with_name("_sync_box.py"))
PASSWORD = "bench-password"
TARGET_RATIO = 0.6
TARGET_INCREMENTAL_S = 0.020  # 20 ms
TARGET_INCREMENTAL_BYTES = 20_000  # 20 KB
INCREMENTAL_RECORDS = 10
VERIFY_SECONDS = 3.0  # bound of each raw-verify measurement
VERIFY_SAMPLE = 2000  # distinct real records verified round and round
CHILD_TIMEOUT_S = 1800
PROGRESS_S = 20
MB = 1_000_000


# --- processes ----------------------------------------------------------------------------


def kith(*args: str) -> str:
    done = subprocess.run(
        [KITH, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise RuntimeError(f"kith {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def helper(
    *args: str, echo: bool = True, watch: Path | None = None
) -> tuple[dict, float, list[str]]:
    """Run tests/bench/_sync_box.py; return (its RESULT, wall seconds, its other lines).

    With `watch` (a box's data dir), print how many records that box holds every
    PROGRESS_S seconds while the child runs.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, HELPER, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    if watch is not None:
        threading.Thread(target=progress, args=(proc, watch, started), daemon=True).start()
    found, lines = None, []
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("RESULT "):
            found = json.loads(line[len("RESULT ") :])
        else:
            lines.append(line)
            if echo:
                print(line, flush=True)
    proc.wait(timeout=CHILD_TIMEOUT_S)
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"_sync_box.py {' '.join(args)} exited with {proc.returncode}")
    return found, seconds, lines


def progress(proc: subprocess.Popen, data: Path, started: float) -> None:
    """Print the number of records a box holds every PROGRESS_S seconds until proc ends."""
    while True:
        try:
            proc.wait(timeout=PROGRESS_S)
            return
        except subprocess.TimeoutExpired:
            pass
        held = sum(n for origin, n in stored(data).items() if origin != "self")
        print(f"  B holds {held:,} records ({time.perf_counter() - started:.0f} s)", flush=True)


def status_of(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM of a process, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def cpu_of(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_env() -> dict[str, str]:
    """The servers' environment: no background sync rounds of their own (if `kith serve`
    has them), so the only round during a measurement is the `kith sync` being timed."""
    from appliance.settings import DEFAULTS

    env = dict(os.environ)
    if "sync_interval_s" in DEFAULTS:
        env["KITH_SYNC_INTERVAL_S"] = "0"
    return env


class Server:
    """`kith --data DIR serve --host 127.0.0.1 --port 0`, with its pid for /proc."""

    def __init__(self, data: Path, log: Path):
        self.err = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [KITH, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
            env=server_env(),
        )
        line = self.proc.stdout.readline().rstrip("\n")
        match = SERVING.match(line)
        if not match:
            self.stop()
            raise RuntimeError(f"kith serve did not start: {line!r}; see {log}")
        self.url = match["url"]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


# --- (1) raw Ed25519 ----------------------------------------------------------------------


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_messages(data: Path, count: int) -> list[tuple[bytes, bytes, bytes]]:
    """Return (public key, signature, signed bytes) of a box's first records: the bytes a
    record's signature covers are the prefix and the canonical record without `sig`."""
    from appliance.records import SIGNING_PREFIX, canonical

    db = sqlite3.connect(f"file:{data / 'kith.db'}?mode=ro", uri=True)
    rows = db.execute("SELECT raw FROM stored_record ORDER BY rowid LIMIT ?", (count,)).fetchall()
    db.close()
    messages = []
    for (raw,) in rows:
        fields = json.loads(raw)
        sig = unb64url(fields.pop("sig"))
        messages.append((unb64url(fields["origin"]), sig, SIGNING_PREFIX + canonical(fields)))
    return messages


def verify_rate(messages, seconds: float) -> float:
    """Verify the messages round and round for about `seconds`; return verifications/s."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = {k: Ed25519PublicKey.from_public_bytes(k) for k, _, _ in messages}
    work = [(keys[k], sig, msg) for k, sig, msg in messages]
    done, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for key, sig, msg in work:
            key.verify(sig, msg)
        done += len(work)
    return done / (time.perf_counter() - started)


def parse_rate(data: Path, count: int) -> float:
    """Return how many records/s appliance.records.parse (bytes checks + verify) takes."""
    from appliance.records import parse

    db = sqlite3.connect(f"file:{data / 'kith.db'}?mode=ro", uri=True)
    rows = [bytes(r) for (r,) in db.execute("SELECT raw FROM stored_record LIMIT ?", (count,))]
    db.close()
    started = time.perf_counter()
    for raw in rows:
        parse(raw)
    return len(rows) / (time.perf_counter() - started)


# --- the boxes ----------------------------------------------------------------------------


def origin_of(data: Path) -> str:
    db = sqlite3.connect(f"file:{data / 'kith.db'}?mode=ro", uri=True)
    origin = db.execute("SELECT origin FROM box_state").fetchone()[0]
    db.close()
    return origin


def stored(data: Path) -> dict[str, int]:
    """Return {origin: records stored} of a box, read with plain sqlite3."""
    db = sqlite3.connect(f"file:{data / 'kith.db'}?mode=ro", uri=True)
    rows = db.execute("SELECT origin, COUNT(*) FROM stored_record GROUP BY origin").fetchall()
    origin = db.execute("SELECT origin FROM box_state").fetchone()[0]
    db.close()
    counts = dict(rows)
    counts["self"] = counts.get(origin, 0)
    return counts


def current_schema(data: Path) -> bool:
    """Return True if a box's stored_record table has the columns the code now expects."""
    from appliance.models import StoredRecord

    db = sqlite3.connect(f"file:{data / 'kith.db'}?mode=ro", uri=True)
    columns = {row[1] for row in db.execute("PRAGMA table_info(stored_record)")}
    db.close()
    return columns == {field.column_name for field in StoredRecord._meta.sorted_fields}


def backup(source: Path, target: Path) -> None:
    """Copy a box (key, secret, and a consistent copy of its live database)."""
    target.mkdir(mode=0o700)
    for name in ("box.key", "web-secret"):
        shutil.copy2(source / name, target / name)
    src = sqlite3.connect(f"file:{source / 'kith.db'}?mode=ro", uri=True)
    dst = sqlite3.connect(target / "kith.db")
    src.backup(dst)
    src.close()
    dst.close()


def pair(b: Path, a: Path, a_url: str) -> str:
    """Pair B with A as staff would: B introduces itself to A, both confirm the code."""
    return kithtest.pair(b, a, a_url, run=kith)


def sync_b(b: Path, what: str, watch: bool = False, profile_to: Path | None = None) -> dict:
    extra = ["--cprofile", str(profile_to)] if profile_to else []
    found, wall, lines = helper("sync", str(b), *extra, echo=False, watch=b if watch else None)
    found["wall"] = wall
    found["output"] = " | ".join(lines)
    if found["status"] != 0:
        raise RuntimeError(f"{what}: kith sync failed: {found['output']}")
    return found


def wire(found: dict) -> str:
    total = found["sent"] + found["received"]
    return (
        f"{total:,} bytes on the wire ({found['sent']:,} sent, {found['received']:,} received, "
        f"{found['requests']} requests)"
    )


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records in box A")
    parser.add_argument("--data", help="build box A once in DIR/A and reuse it")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile ingesting N records"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kith-bench-sync-") as tmp:
        tmp = Path(tmp)
        password = tmp / "password"
        password.write_text(PASSWORD + "\n")
        built = Path(args.data) / "A" if args.data else tmp / "A"
        a, b = tmp / "A-run", tmp / "B"
        load = os.getloadavg()
        print(
            f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}  "
            f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )

        if (built / "kith.db").exists() and not current_schema(built):
            print(f"box A in {built} has an older stored_record table; building it again")
            shutil.rmtree(built)
        if (built / "kith.db").exists() and stored(built)["self"] >= args.records:
            print(f"box A: reusing {built} ({stored(built)['self']} records of its own)")
        else:
            if not (built / "kith.db").exists():
                kith(*init_args(built, password, "Centre A"))
            print(f"seeding box A with {args.records} records (posts, comments, help, thanks)")
            found, _, _ = helper("seed", str(built), str(args.records))
            print(f"seeding: {found['records']} records in {found['seconds']:.1f} s")
        # Every run pairs and adds records, so it works on a copy and `built` stays as built.
        backup(built, a)
        kith(*init_args(b, password, "Centre B"))

        servers = {}
        try:
            servers["A"] = Server(a, tmp / "A.log")
            servers["B"] = Server(b, tmp / "B.log")
            idle = {name: status_of(s.pid) for name, s in servers.items()}
            code = pair(b, a, servers["A"].url)
            print(f"paired B with A (code {code}); A at {servers['A'].url}")
            if args.profile:  # copies of B before it syncs, one per ingest measurement
                backup(b, tmp / "B-timed")
                backup(b, tmp / "B-profiled")
            counts_a = stored(a)
            db_bytes = sum(p.stat().st_size for p in a.glob("kith.db*"))
            print(
                f"box A: {counts_a['self']} records of its own, database {db_bytes / MB:.1f} MB; "
                f"box B: {stored(b)['self']} records of its own"
            )

            # (1) the raw verify rate, on the records about to be synced.
            messages = signed_messages(a, VERIFY_SAMPLE)
            before = verify_rate(messages, VERIFY_SECONDS)
            parsed = parse_rate(a, VERIFY_SAMPLE)

            # (2) the full sync.
            cpu = {name: cpu_of(s.pid) for name, s in servers.items()}
            print("full sync: B runs `kith sync` (pulling from A)", flush=True)
            full = sync_b(b, "full sync", watch=True)
            cpu = {name: cpu_of(s.pid) - cpu[name] for name, s in servers.items()}
            after = verify_rate(messages, VERIFY_SECONDS)
            raw = (before + after) / 2
            counts_b = stored(b)
            pulled = counts_b.get(origin_of(a), 0)
            rss_full = {name: status_of(s.pid) for name, s in servers.items()}

            # (3) incremental: 10 new records at A, then a round with nothing new.
            helper("add", str(a), str(INCREMENTAL_RECORDS), echo=False)
            incremental = sync_b(b, "incremental sync")
            nothing = sync_b(b, "empty sync")
            if args.profile:  # once more, under cProfile: where an incremental round goes
                helper("add", str(a), str(INCREMENTAL_RECORDS), echo=False)
                profiled = sync_b(b, "profiled sync", profile_to=tmp / "incremental.prof")
            rss_end = {name: status_of(s.pid) for name, s in servers.items()}
        finally:
            for server in servers.values():
                server.stop()

        print()
        print(
            f"(1) raw Ed25519 verify (cryptography, real record signatures, {len(messages)} "
            f"records round and round): {before:,.0f}/s before the sync, {after:,.0f}/s after; "
            f"mean {raw:,.0f}/s"
        )
        print(
            f"    appliance.records.parse (JSON, field and canonical checks, verify): "
            f"{parsed:,.0f} records/s = {parsed / raw:.2f} of raw verify"
        )
        rate = pulled / full["seconds"]
        print(
            f"(2) full sync, B pulls from A: {pulled:,} of A's records reached B in "
            f"{full['seconds']:.1f} s = {rate:,.0f} records/s; ratio to raw verify "
            f"{rate / raw:.3f} (target >= {TARGET_RATIO})"
        )
        print(f"    kith sync printed: {full['output']}")
        print(
            f"    child wall {full['wall']:.1f} s; CPU: kith sync {full['cpu']:.1f} s "
            f"(+ {full['workers_cpu']:.1f} s in its {full['workers']} page checkers), "
            f"server A {cpu['A']:.1f} s, server B {cpu['B']:.1f} s"
        )
        print(f"    {wire(full)} = {(full['sent'] + full['received']) / pulled:.0f} bytes/record")
        print(
            f"    peak RSS (VmHWM): kith sync {full['peak_rss'] / MB:.1f} MB "
            f"(+ page checkers {full['workers_rss'] / MB:.1f} MB each at most); "
            f"server A {rss_full['A']['VmHWM'] / MB:.1f} MB "
            f"(idle {idle['A']['VmRSS'] / MB:.1f}), "
            f"server B {rss_full['B']['VmHWM'] / MB:.1f} MB (idle {idle['B']['VmRSS'] / MB:.1f})"
        )
        print(
            f"(3) incremental sync of {INCREMENTAL_RECORDS} new records: "
            f"{incremental['seconds'] * 1000:.1f} ms (target < {TARGET_INCREMENTAL_S * 1000:.0f}"
            f" ms; child wall {incremental['wall'] * 1000:.0f} ms), {wire(incremental)} "
            f"(target < {TARGET_INCREMENTAL_BYTES // 1000} KB)"
        )
        print(f"    kith sync printed: {incremental['output']}")
        print(f"    a round with nothing new: {nothing['seconds'] * 1000:.1f} ms, {wire(nothing)}")
        print(
            f"    peak RSS at the end: server A {rss_end['A']['VmHWM'] / MB:.1f} MB, "
            f"server B {rss_end['B']['VmHWM'] / MB:.1f} MB; incremental kith sync "
            f"{incremental['peak_rss'] / MB:.1f} MB"
        )
        misses = []
        if rate / raw < TARGET_RATIO:
            misses.append("full sync rate")
        if incremental["seconds"] >= TARGET_INCREMENTAL_S:
            misses.append("incremental time")
        if incremental["sent"] + incremental["received"] >= TARGET_INCREMENTAL_BYTES:
            misses.append("incremental bytes")
        if pulled != counts_a["self"]:
            misses.append(f"completeness ({pulled} of {counts_a['self']} records reached B)")
        print("targets: " + (f"missed: {', '.join(misses)}" if misses else "all met"))

        if args.profile:
            print(f"\nprofile: ingesting A's first {args.profile} records into a copy of B")
            found, _, _ = helper("profile", str(a), str(tmp / "B-timed"), str(args.profile))
            ingest_rate = found["records"] / found["ingest"]
            print(
                f"without profiler: {found['records']} records in {found['pages']} pages; "
                f"parse alone {found['parse']:.2f} s ({found['records'] / found['parse']:,.0f}/s)"
                f", whole Log.ingest {found['ingest']:.2f} s ({ingest_rate:,.0f}/s): "
                f"parse is {found['parse'] / found['ingest']:.0%} of ingest"
            )
            print(
                f"sync.exchange.held() on the box then holding {found['records']} records: "
                f"{found['held'] * 1000:.1f} ms (paid at the client for every page it pulls, "
                f"twice at the server for every page it sends)"
            )
            helper("profile", str(a), str(tmp / "B-profiled"), str(args.profile), "--cprofile")
            print(
                f"\ncProfile of one more incremental `kith sync` round ({INCREMENTAL_RECORDS} "
                f"new records; {profiled['seconds'] * 1000:.0f} ms under the profiler):"
            )
            stats = pstats.Stats(str(tmp / "incremental.prof"), stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(r"/(appliance|sync)/", 30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
