"""Bad input and faults against real boxes: a tampering corpus pushed over HTTP, requests
that are not properly signed, and `kith sync` killed with SIGKILL mid-way.

Box R is a `kith serve` process on loopback; box P is paired with it and pushes pages
to it. The corpus is signed by P's key from this process (sync.auth and
appliance.records are pure), and the records in it are made here with extra keys R
trusts (F, G, H, X) or does not know (U). R's database is read directly with sqlite3,
read-only, to check that nothing was applied.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import urllib.parse
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import kithtest
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kithtest import KITH, NO_BACKGROUND_SYNC, SNAPSHOT, init_args, kith, pair, serving

from appliance.records import (
    FORMAT_VERSION,
    MAX_RECORD_BYTES,
    encode,
    public_key_text,
    record_id,
    sign,
)
from sync.auth import MAX_SKEW_MS, sign_request

PASSWORD = "fault-box-password"
# Served boxes get NO_BACKGROUND_SYNC: only the test's own requests and rounds reach a box.
REQUEST_LIMIT = 256 * 1024  # the web app's MAX_CONTENT_LENGTH

# Runs in a child process with the box open as BOX; prints JSON.
PRELUDE = """
import json, sys
from pathlib import Path
from appliance.box import Box
from appliance.services import accounts, board, moderation, peers
BOX = Box.open(Path(sys.argv[1]))
"""


def on_box(data: Path, code: str, *args: str):
    """Run code in a child Python with the box open as BOX (argv[2:] = args); return JSON."""
    return kithtest.on_box(data, code, *args, prelude=PRELUDE)


def box_key(data: Path) -> Ed25519PrivateKey:
    return serialization.load_pem_private_key((data / "box.key").read_bytes(), password=None)


def query(data: Path, sql: str, *params, readonly: bool = True) -> list[tuple]:
    """Read a box's database; read-only unless told (a served box keeps it open).

    A box no process has open is opened read-write, as its next `kith` command would
    open it, so a crashed writer's journal is recovered first.
    """
    uri = f"file:{data / 'kith.db'}?mode={'ro' if readonly else 'rw'}"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        return db.execute(sql, params).fetchall()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- records made here, signed with keys the test holds ------------------------------


def key_of(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


F_KEY, G_KEY, H_KEY, X_KEY = key_of(0xF1), key_of(0xF2), key_of(0xF3), key_of(0xF4)
U_KEY = key_of(0xF5)  # R never trusts U


def record(key, seq, prev, kind, body, *, subject=None, hlc=None, scope="federation") -> dict:
    """Return a signed record as a dict (its wire bytes are encode(...))."""
    unsigned = {
        "v": FORMAT_VERSION,
        "origin": public_key_text(key),
        "seq": seq,
        "prev": prev,
        "hlc": hlc or [now_ms(), 0],
        "author": None,
        "kind": kind,
        "subject": subject,
        "scope": scope,
        "body": body,
    }
    return sign(unsigned, key)


def rid(signed: dict) -> str:
    return record_id({k: v for k, v in signed.items() if k != "sig"})


def chain(key, count: int, name: str) -> list[dict]:
    """A centre.created and count-1 member.joined records of one origin, linked by prev."""
    out = [record(key, 1, None, "centre.created", {"name": name, "timezone": "Europe/London"})]
    for seq in range(2, count + 1):
        out.append(
            record(key, seq, rid(out[-1]), "member.joined", {"name": f"{name} member {seq}"})
        )
    return out


def page(origin: str, lines: list[bytes], *, after=0, through=None, **header) -> bytes:
    """A push page: header line, then one line per record."""
    head = {
        "origin": origin,
        "after": after,
        "through": through if through is not None else after + len(lines),
        "count": len(lines),
        "more": False,
        **header,
    }
    return b"\n".join([json.dumps(head, sort_keys=True).encode(), *lines]) + b"\n"


# --- HTTP ------------------------------------------------------------------------------


def post(url: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(
            "POST", path, body=body, headers={"Content-Type": "application/json", **headers}
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def signed(key, path: str, body: bytes, at_ms: int | None = None) -> dict:
    return sign_request(key, "POST", path, body, now_ms() if at_ms is None else at_ms)


def as_json(answer: bytes):
    try:
        return json.loads(answer)
    except ValueError:
        return None


@dataclass
class Hub:
    r: Path
    url: str
    p: Path
    p_key: Ed25519PrivateKey

    def push(self, body: bytes) -> tuple[int, dict | None]:
        status, answer = post(
            self.url, "/sync/v1/push", body, signed(self.p_key, "/sync/v1/push", body)
        )
        return status, as_json(answer)

    def state(self) -> tuple:
        """Everything a refused request must leave alone at R."""
        return (
            query(self.r, "SELECT count(*) FROM stored_record")[0][0],
            sorted(query(self.r, "SELECT peer, origin, seq FROM peer_cursor")),
            sorted(query(self.r, "SELECT origin FROM quarantine")),
        )


TRUST = """
for origin, name in json.loads(sys.argv[2]):
    peers.remember(BOX, origin, name, None)
    peers.confirm(BOX, peers.pairing_code(BOX.origin, origin))
print("null")
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """R served on loopback and paired with P; R also trusts F, G, H and X directly."""
    root = tmp_path_factory.mktemp("faults")
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    r, p = root / "R", root / "P"
    kith(*init_args(r, password, "Centre R"))
    kith(*init_args(p, password, "Centre P"))
    extra = [
        (public_key_text(k), f"Centre {n}")
        for k, n in ((F_KEY, "F"), (G_KEY, "G"), (H_KEY, "H"), (X_KEY, "X"))
    ]
    on_box(r, TRUST, json.dumps(extra))
    with serving("--data", str(r), log=root / "R.log", env=NO_BACKGROUND_SYNC) as (_, url):
        pair(p, r, url)
        yield Hub(r, url.rstrip("/"), p, box_key(p))


F = public_key_text(F_KEY)
F_CHAIN = chain(F_KEY, 6, "Centre F")
F1, F2 = encode(F_CHAIN[0]), encode(F_CHAIN[1])
F2_FIELDS = F_CHAIN[1]
G = public_key_text(G_KEY)
G_LINES = [encode(r) for r in chain(G_KEY, 2, "Centre G")]
H = public_key_text(H_KEY)
H_CHAIN = chain(H_KEY, 2, "Centre H")
H_LINES = [encode(r) for r in H_CHAIN]
H_TWIN = record(H_KEY, 2, rid(H_CHAIN[0]), "member.joined", {"name": "Another seq 2"})


def f2_variant(**changes) -> bytes:
    """F's seq 2 with some fields changed, properly signed again by F."""
    unsigned = {k: v for k, v in F2_FIELDS.items() if k != "sig"}
    return encode(sign({**unsigned, **changes}, F_KEY))


def flip_sig_char(raw: bytes) -> bytes:
    rec = json.loads(raw)
    sig = rec["sig"]
    i = 10
    rec["sig"] = sig[:i] + ("B" if sig[i] != "B" else "C") + sig[i + 1 :]
    return encode(rec)


def with_f1(line: bytes) -> bytes:
    """A page of F's genuine seq 1 followed by line: all or nothing, so neither may land."""
    return page(F, [F1, line])


# (id, page body, expected status, expected text in the refusal's JSON)
CORPUS = [
    ("flipped body byte", with_f1(F2.replace(b"member 2", b"member 3")), 400, "signature"),
    ("flipped signature char", with_f1(flip_sig_char(F2)), 400, "signature does not verify"),
    (
        "non-canonical whitespace",
        with_f1(json.dumps(F2_FIELDS, sort_keys=True).encode()),
        400,
        "not canonical",
    ),
    (
        "keys reordered",
        with_f1(json.dumps(F2_FIELDS, separators=(",", ":"), ensure_ascii=False).encode()),
        400,
        "not canonical",
    ),
    ("1.0 for 1", with_f1(F2.replace(b'"v":1}', b'"v":1.0}')), 400, "floats"),
    ("duplicate key", with_f1(F2[:-1] + b',"v":1}'), 400, "duplicate key"),
    ("truncated record", with_f1(F2[:-7]), 400, ("not JSON", "not a record")),
    ("record not an object", with_f1(b"[1, 2, 3]"), 400, ("JSON object", "not a record")),
    (
        "record not UTF-8",
        with_f1(F2.replace(b"Centre F", b"Centre \xff")),
        400,
        ("UTF-8", "not a record"),
    ),
    (
        "unknown origin",
        page(public_key_text(U_KEY), [encode(chain(U_KEY, 1, "Centre U")[0])]),
        400,
        "not trusted",
    ),
    (
        "hlc two days ahead",
        with_f1(f2_variant(hlc=[now_ms() + 2 * 86_400_000, 0])),
        400,
        "ahead of this box's clock",
    ),
    (
        "oversized record",
        with_f1(f2_variant(kind="pad.added", body={"pad": "x" * (MAX_RECORD_BYTES + 10)})),
        400,
        f"larger than {MAX_RECORD_BYTES}",
    ),
    ("scope local", with_f1(f2_variant(scope="local")), 400, "scope local"),
    ("body of the wrong shape", with_f1(f2_variant(body={})), 400, "body"),
    ("string not NFC", with_f1(f2_variant(body={"name": "Cafe\u0301"})), 400, "NFC"),
    ("malformed JSON page", b'{"origin": "' + F.encode() + b'", \n' + F1 + b"\n", 400, "malformed"),
    ("empty body", b"", 400, "malformed"),
    ("header not an object", b"[1, 2]\n" + F1 + b"\n", 400, "not an object"),
    ("header not UTF-8", b'{"origin": "\xff"}\n' + F1 + b"\n", 400, "malformed"),
    (
        "header without through",
        b'{"origin": "' + F.encode() + b'", "after": 0, "count": 1, "more": false}\n' + F1 + b"\n",
        400,
        "no through",
    ),
    ("header through before after", page(F, [F1], after=5, through=2), 400, "before its after"),
    ("header origin not a string", page(5, [F1]), 400, "origin"),
    ("header after not a number", page(F, [F1], after="0", through=1), 400, "numbers"),
    ("count says more", page(F, [F1, F2]).replace(b'"count": 2', b'"count": 3'), 400, "number"),
    ("count says fewer", page(F, [F1, F2]).replace(b'"count": 2', b'"count": 1'), 400, "number"),
    ("count as text", page(F, [F1, F2]).replace(b'"count": 2', b'"count": "2"'), 400, "number"),
    ("null origin", page(None, [], after=0, through=0), 400, "origin"),
    ("records of another origin", page(F, G_LINES, through=2), 400, "page's origin"),
    ("records outside the range", page(G, G_LINES, after=5, through=7), 400, "order"),
    ("records out of order", page(F, [F2, F1], through=2), 400, "order"),
    # Only F's own box may end a page of F past its last record (stepping over F's local
    # records); from P it would move R's cursor over seqs R never received.
    ("relayed page ends past its records", page(F, [F1, F2], through=50), 400, "last record"),
    (
        "fork within the page",
        page(H, [*H_LINES, encode(H_TWIN)], through=2),
        400,
        "fork",
    ),
    (
        "oversized page",
        page(F, [f2_variant(kind="pad.added", body={"pad": f"{i}" * 60_000}) for i in range(5)]),
        413,
        None,
    ),
]


@pytest.mark.parametrize(
    "body, status, reason", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_a_tampered_or_malformed_push_is_refused_and_applies_nothing(hub, body, status, reason):
    before = hub.state()
    got, answer = hub.push(body)
    assert got == status, answer
    if status == 413:
        assert len(body) > REQUEST_LIMIT
    else:
        assert isinstance(answer, dict) and answer.get("error"), answer
        text = json.dumps(answer)
        assert any(r in text for r in ([reason] if isinstance(reason, str) else reason)), answer
        if "rejected" in answer:  # a refused record says which line and why
            assert all(r["reason"] and isinstance(r["line"], int) for r in answer["rejected"])
    after = hub.state()
    if reason == "fork":
        # Nothing applied, but the fork is evidence for staff: its origin is quarantined.
        assert after[:2] == before[:2]
        assert len(after[2]) == len(before[2]) + 1
    else:
        assert after == before


def test_a_genuine_page_is_accepted_and_a_second_copy_is_duplicates(hub):
    """The control: the same records untampered are accepted, once."""
    body = page(F, [encode(r) for r in F_CHAIN[:3]])
    assert hub.push(body) == (200, {"accepted": 3, "duplicates": 0})
    count = hub.state()[0]
    assert hub.push(body) == (200, {"accepted": 0, "duplicates": 3})
    assert hub.state()[0] == count
    cursors = query(hub.r, "SELECT seq FROM peer_cursor WHERE origin = ?", F)
    assert cursors == [(3,)]


def test_a_fork_of_a_stored_record_is_refused_and_quarantines_its_origin(hub):
    assert hub.push(page(F, [encode(r) for r in F_CHAIN[:3]]))[0] == 200  # new or duplicates
    before = hub.state()
    other = f2_variant(body={"name": "A second seq 2"})
    status, answer = hub.push(page(F, [other], after=1, through=2))
    assert status == 400 and answer["rejected"][0]["line"] == 0
    assert answer["rejected"][0]["reason"].startswith("fork:")
    count, cursors, _ = hub.state()
    assert (count, cursors) == before[:2]  # nothing stored, cursor unmoved
    assert (F,) in query(hub.r, "SELECT origin FROM quarantine")
    # The quarantine holds: F's genuine next record is refused too, with its reason.
    status, answer = hub.push(page(F, [encode(F_CHAIN[3])], after=3, through=4))
    assert status == 400 and "quarantined" in answer["rejected"][0]["reason"]
    assert hub.state()[0] == count


def test_a_seq_beyond_the_revocation_point_is_refused(hub):
    x = [encode(r) for r in chain(X_KEY, 5, "Centre X")]
    assert hub.push(page(public_key_text(X_KEY), x[:3]))[0] == 200
    last = on_box(hub.r, 'print(json.dumps(peers.revoke(BOX, "Centre X")))')
    assert last == 3
    before = hub.state()
    status, answer = hub.push(page(public_key_text(X_KEY), x[3:4], after=3, through=4))
    assert status == 400 and "revoked after seq 3" in answer["rejected"][0]["reason"]
    assert hub.state() == before


# --- requests that are not properly signed ---------------------------------------------


def g_page() -> bytes:
    """A page R would accept from P (G's genuine first record) if the request were good."""
    return page(G, G_LINES[:1])


PULL_BODY = json.dumps({"have": {}, "accepts": {}}).encode()


def _unsigned(key, path, body):
    return {}


def _wrong_key(key, path, body):
    headers = signed(key_of(0xE0), path, body)
    headers["Kith-Origin"] = public_key_text(key)  # claims P, signed by someone else
    return headers


def _stranger(key, path, body):
    return signed(key_of(0xE1), path, body)  # a valid signature by a box R never paired


def _stale(key, path, body):
    return signed(key, path, body, now_ms() - MAX_SKEW_MS - 60_000)


def _future(key, path, body):
    return signed(key, path, body, now_ms() + MAX_SKEW_MS + 60_000)


def _other_path(key, path, body):
    return signed(key, "/sync/v1/pull" if path.endswith("push") else "/sync/v1/push", body)


def _time_not_a_number(key, path, body):
    return {**signed(key, path, body), "Kith-Time": "soon"}


BAD_AUTH = {
    "unsigned": _unsigned,
    "wrong key": _wrong_key,
    "unpaired box": _stranger,
    "stale time": _stale,
    "time far ahead": _future,
    "signed for another path": _other_path,
    "time not a number": _time_not_a_number,
}


@pytest.mark.parametrize("path", ["/sync/v1/push", "/sync/v1/pull"])
@pytest.mark.parametrize("how", list(BAD_AUTH))
def test_a_request_not_signed_by_a_paired_box_gets_403_and_nothing(hub, how, path):
    body = g_page() if path.endswith("push") else PULL_BODY
    before = hub.state()
    status, answer = post(hub.url, path, body, BAD_AUTH[how](hub.p_key, path, body))
    assert status == 403
    assert set(as_json(answer)) == {"error"}  # a reason, and no records or vectors
    assert hub.state() == before


@pytest.mark.parametrize("path", ["/sync/v1/push", "/sync/v1/pull"])
def test_a_body_changed_after_signing_gets_403(hub, path):
    body = g_page() if path.endswith("push") else PULL_BODY
    headers = signed(hub.p_key, path, body)
    before = hub.state()
    status, _ = post(hub.url, path, body + b" ", headers)
    assert status == 403
    assert hub.state() == before


@pytest.mark.parametrize("path", ["/sync/v1/pull", "/sync/v1/push"])
def test_a_replayed_request_gets_403(hub, path):
    body = g_page() if path.endswith("push") else PULL_BODY
    headers = signed(hub.p_key, path, body)
    status, first = post(hub.url, path, body, headers)
    assert status == 200, first
    before = hub.state()
    status, answer = post(hub.url, path, body, headers)
    assert status == 403 and "already used" in as_json(answer)["error"]
    assert hub.state() == before


# --- SIGKILL during a 20,000-record sync ------------------------------------------------

RECORDS = 20_000
LOCAL_EVERY = 997  # some of A's records are local: gaps B never sees (its last one too)

# Fills a box with member.joined records the fast way: signed here, inserted in bulk with
# the projection rows the member fold would write (B folds them for real; the final
# comparison of projections checks that the two agree).
BUILD = """
import hashlib
from appliance.db import database
from appliance.models import BoxState, Member, StoredRecord
from appliance.records import SIGNING_PREFIX, b64url

def canon(obj):  # RFC 8785 for ASCII keys and strings, integers only; B re-checks it
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

count, local_every = int(sys.argv[2]), int(sys.argv[3])
state = BOX.log.state()
seq, prev = state.seq, state.last_id
ms = max(BOX.log.now_ms(), state.hlc_ms + 1)
rows, members = [], []
for i in range(count):
    seq += 1
    # A local record is a kind no fold applies, so A's projections hold only what travels.
    local = seq % local_every == 0 or i == count - 1
    scope, kind = ("local", "note.kept") if local else ("federation", "member.joined")
    name = f"Member {i}"
    unsigned = {"v": 1, "origin": BOX.origin, "seq": seq, "prev": prev, "hlc": [ms, i],
                "author": None, "kind": kind, "subject": None, "scope": scope,
                "body": {"text": name} if local else {"name": name}}
    body = canon(unsigned)
    rid = hashlib.sha256(body).hexdigest()
    raw = canon({**unsigned, "sig": b64url(BOX.log.key.sign(SIGNING_PREFIX + body))})
    rows.append(dict(id=rid, origin=BOX.origin, seq=seq, kind=kind, aggregate=rid,
                     hlc_ms=ms, hlc_c=i, scope=scope, raw=raw))
    if not local:
        members.append(dict(id=rid, origin=BOX.origin, name=name, joined_ms=ms,
                            verified=False, verified_by=None))
    prev = rid
with database.atomic():
    for k in range(0, count, 500):
        StoredRecord.insert_many(rows[k:k + 500]).execute()
    for k in range(0, len(members), 500):
        Member.insert_many(members[k:k + 500]).execute()
    BoxState.update(seq=seq, last_id=prev, hlc_ms=ms, hlc_c=count - 1).where(
        BoxState.origin == BOX.origin).execute()
print(json.dumps(seq))
"""


def stored(data: Path, readonly: bool = True) -> dict[str, list[tuple[int, str, str]]]:
    """{origin: [(seq, id, scope), ...]} of a box's stored records."""
    out: dict[str, list] = {}
    sql = "SELECT origin, seq, id, scope FROM stored_record ORDER BY origin, seq"
    for origin, seq, ident, scope in query(data, sql, readonly=readonly):
        out.setdefault(origin, []).append((seq, ident, scope))
    return out


def check_resumable(a: Path, b: Path) -> None:
    """What a killed sync may leave at B: a sound file; A's records with no hole below the
    highest one B holds, none twice and none unknown to A; and no cursor ahead of what B
    holds (counting the records A keeps local, which no peer ever receives)."""
    assert query(b, "PRAGMA integrity_check", readonly=False) == [("ok",)]
    at_a, at_b = stored(a), stored(b, readonly=False)
    a_origin = public_key_text(box_key(a))
    a_ids = {ident for _, ident, _ in at_a[a_origin]}
    a_local = {seq for seq, _, scope in at_a[a_origin] if scope == "local"}
    b_rows = at_b.get(a_origin, [])
    b_ids = [ident for _, ident, _ in b_rows]
    assert len(b_ids) == len(set(b_ids)) and set(b_ids) <= a_ids
    b_seqs = {seq for seq, _, _ in b_rows}
    assert not b_seqs & a_local
    # Pages are applied in order, so B holds every federation record of A up to its highest.
    assert set(range(1, max(b_seqs, default=0) + 1)) - b_seqs <= a_local
    for peer, origin, seq in query(b, "SELECT peer, origin, seq FROM peer_cursor", readonly=False):
        held = {s for s, _, _ in at_b.get(origin, [])}
        gaps = a_local if origin == a_origin else set()
        missing = sorted(set(range(1, seq + 1)) - held - gaps)
        assert not missing, (
            f"B's cursor ({peer[:8]}, {origin[:8]}) is at {seq}: lacks {missing[:5]}"
        )


def run_killing(command: list[str], points: list, holding, check) -> int:
    """Run command until it exits 0, SIGKILLing a run at each of `points` and calling
    check() after each kill; return how many runs were killed.

    A point is ("seconds", s): s seconds after the start; or ("records", n, s): s seconds
    after holding() first reaches n, so kills land mid-page all through a long sync.
    """
    points, killed = list(points), 0
    for _ in range(len(points) + 5):
        with subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            if points:
                point = points.pop(0)
                if point[0] == "records":
                    while proc.poll() is None and holding() < point[1]:
                        time.sleep(0.05)
                try:
                    proc.wait(timeout=point[-1])
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=300)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            check()
            continue
        assert proc.returncode == 0, (out, err)
        return killed
    raise AssertionError("the sync never finished")


def test_a_sync_killed_at_random_points_finishes_with_nothing_lost_or_doubled(tmp_path):
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    a, b = tmp_path / "A", tmp_path / "B"
    kith(*init_args(a, password, "Centre A"))
    kith(*init_args(b, password, "Centre B"))
    with serving("--data", str(a), log=tmp_path / "A.log", env=NO_BACKGROUND_SYNC) as (_, url):
        pair(b, a, url)
        # Built after pairing, so A's newest record is one of its local ones.
        last_seq = on_box(a, BUILD, str(RECORDS), str(LOCAL_EVERY))
        assert last_seq > RECORDS
        rnd = random.Random(20_000)
        # One kill early (maybe before any page lands), then at random points of the sync.
        points = [("seconds", rnd.uniform(0.2, 1.5))] + [
            ("records", n, rnd.uniform(0.0, 0.3))
            for n in sorted(rnd.sample(range(RECORDS * 9 // 10), 4))
        ]
        killed = run_killing(
            [KITH, "--data", str(b), "sync"],
            points,
            lambda: query(b, "SELECT count(*) FROM stored_record", readonly=False)[0][0],
            lambda: check_resumable(a, b),
        )
        assert killed >= 3, "the sync finished before it could be killed often enough"
        # One more round moves nothing: B asks for nothing again and has nothing to send.
        assert "0 in, 0 out" in kith("--data", str(b), "sync")
        check_resumable(a, b)
        federation = "SELECT id FROM stored_record WHERE scope = 'federation' ORDER BY id"
        at_a, at_b = query(a, federation), query(b, federation, readonly=False)
        assert at_a == at_b  # B holds all of A's, and A got B's few records by push
        local_at_a = query(a, "SELECT id FROM stored_record WHERE scope = 'local'")
        assert len(local_at_a) > RECORDS // LOCAL_EVERY
        assert not set(local_at_a) & set(query(b, "SELECT id FROM stored_record", readonly=False))
        # A's last record is local: B's cursor steps over it, so B asks for nothing below it.
        a_origin = public_key_text(box_key(a))
        cursor = "SELECT seq FROM peer_cursor WHERE origin = ?"
        assert query(b, cursor, a_origin, readonly=False) == [(last_seq,)]
        assert on_box(a, SNAPSHOT) == on_box(b, SNAPSHOT)
