"""The signed daily open-data dump: every public dataset in one JSON file, signed with
the box's key, so anyone can prove which box published the figures and that not a
byte has changed since.

A day's dump is <data dir>/open-data/kith-open-data-YYYY-MM-DD.json, and beside it
the .sig: the Ed25519 signature (base64url, no padding) over SIGNING_PREFIX + the
file's exact bytes. The prefix keeps a dump's signature from ever passing for a record's
(records sign b"kith/record/v1\\n" + their bytes). The daily sweep writes today's dump
once; the last KEEP_DAYS days are kept.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.box import Box
from appliance.dates import local_day, local_time
from appliance.errors import N_, NotFound
from appliance.foldsql import chunks
from appliance.models import Post, Thanks
from appliance.records import b64url, unb64url
from appliance.services import open_data

FORMAT = "kith-open-data/1"
SIGNING_PREFIX = b"kith/open-data/v1\n"
FOLDER = "open-data"
PREFIX = "kith-open-data-"
KEEP_DAYS = 30
SUFFIXES = (".json", ".sig")
_NAME = re.compile(r"^kith-open-data-(\d{4}-\d{2}-\d{2})$")

# How to check a dump with nothing but Python and `cryptography` (shown on the dumps
# page with the file's name and the box's key filled in; a test runs it).
VERIFY_SNIPPET = """\
import base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

origin = "{origin}"  # the box's public key, as its open data page shows it
data = open("{name}.json", "rb").read()
signature = open("{name}.sig").read().strip()
key = Ed25519PublicKey.from_public_bytes(unb64(origin))
key.verify(unb64(signature), b"kith/open-data/v1\\n" + data)  # raises InvalidSignature if not
print("good signature")
"""


def dump_dir(box: Box) -> Path:
    """Return the folder the dumps are kept in."""
    return box.data_dir / FOLDER


def dump_name(day: datetime.date) -> str:
    """Return a day's dump name, without its suffix."""
    return f"{PREFIX}{day.isoformat()}"


def _day_of(name: str) -> datetime.date | None:
    match = _NAME.match(name)
    if not match:
        return None
    try:
        return datetime.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def dump_bytes(box: Box, day: datetime.date) -> bytes:
    """Return the bytes of a dump of every public dataset as they stand now."""
    centre = box.centre
    doc = {
        "format": FORMAT,
        "centre": centre.name if centre else None,
        "origin": box.origin,
        "day": day.isoformat(),
        "generated": local_time(box, box.log.now_ms()).isoformat(timespec="seconds"),
        "datasets": open_data.everything(box),
    }
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def sign_bytes(box: Box, data: bytes) -> str:
    """Return the box's signature over a dump's bytes, as base64url text."""
    return b64url(box.log.key.sign(SIGNING_PREFIX + data))


def _write(path: Path, data: bytes) -> None:
    # Write aside and rename: a reader (or a power cut) never meets half a file.
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_dump(box: Box, day: datetime.date | None = None) -> Path:
    """Write the day's signed dump (default: today at the centre); return the .json path.

    Dumps older than KEEP_DAYS days before that day are removed.
    """
    return _write_dump(box, day or local_day(box))[0]


def _write_dump(box: Box, day: datetime.date) -> tuple[Path, list[str]]:
    folder = dump_dir(box)
    folder.mkdir(exist_ok=True)
    data = dump_bytes(box, day)
    path = folder / f"{dump_name(day)}.json"
    _write(path, data)
    _write(path.with_suffix(".sig"), (sign_bytes(box, data) + "\n").encode("ascii"))
    return path, prune(box, day)


def prune(box: Box, day: datetime.date) -> list[str]:
    """Remove the dumps (and signatures) dated KEEP_DAYS days or more before day.

    Returns the names of the dumps removed.
    """
    folder = dump_dir(box)
    if not folder.is_dir():
        return []
    oldest = day - datetime.timedelta(days=KEEP_DAYS - 1)
    removed = set()
    for path in sorted(folder.iterdir()):
        dated = _day_of(path.stem) if path.suffix in SUFFIXES else None
        if dated is not None and dated < oldest:
            path.unlink()
            removed.add(path.stem)
    return sorted(removed)


def verify_dump(path: Path | str, origin: str | None = None) -> bool:
    """Return True if the .sig beside a dump is the signature of `origin` over its bytes.

    Without origin, the key the file itself names: that proves the file is unchanged
    since that key signed it; compare the key with the one the centre publishes.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        signature = path.with_suffix(".sig").read_text(encoding="ascii").strip()
        if origin is None:
            origin = json.loads(data)["origin"]
        key = Ed25519PublicKey.from_public_bytes(unb64url(origin))
        key.verify(unb64url(signature), SIGNING_PREFIX + data)
    except (OSError, ValueError, KeyError, TypeError, InvalidSignature):
        return False
    return True


def outdated(path: Path) -> bool:
    """Return True if a kept dump names a post or thanks no longer public here.

    A dump is signed as written, so it cannot be edited: once something in it is hidden
    by moderation or goes with an erasure, the whole dump is withdrawn (the next sweep
    writes today's again from what stands then).
    """
    try:
        sets = json.loads(path.read_bytes())["datasets"]
    except (OSError, ValueError, KeyError, TypeError):
        return True
    rows = lambda name: sets.get(name, {}).get("rows", [])  # noqa: E731
    posts = {r["id"] for name in ("posts", "should") for r in rows(name)}
    posts |= {r["post"] for r in rows("thanks")}
    thanks = {r["id"] for r in rows("thanks")}
    public = set()
    for chunk in chunks(sorted(posts)):
        query = Post.select(Post.id).where(Post.id.in_(chunk) & (Post.hidden == False))  # noqa: E712
        public |= {p.id for p in query}
    held = set()
    for chunk in chunks(sorted(thanks)):
        held |= {t.id for t in Thanks.select(Thanks.id).where(Thanks.id.in_(chunk))}
    return public != posts or held != thanks


def withdraw_outdated(box: Box) -> list[str]:
    """Delete the kept dumps (and signatures) that are outdated; return their names."""
    folder = dump_dir(box)
    if not folder.is_dir():
        return []
    gone = []
    for path in sorted(folder.glob(f"{PREFIX}*.json")):
        if outdated(path):
            path.unlink()
            path.with_suffix(".sig").unlink(missing_ok=True)
            gone.append(path.stem)
    return gone


def daily(box: Box) -> dict[str, int]:
    """Write today's dump unless it is already there; return what was written and removed.

    Dumps holding something hidden or erased since are withdrawn first (`outdated`).
    """
    withdrawn = len(withdraw_outdated(box))
    day = local_day(box)
    path = dump_dir(box) / f"{dump_name(day)}.json"
    if path.exists() and path.with_suffix(".sig").exists():
        return {"written": 0, "removed": len(prune(box, day)) + withdrawn}
    _path, removed = _write_dump(box, day)
    return {"written": 1, "removed": len(removed) + withdrawn}


def list_dumps(box: Box) -> list[dict]:
    """Return the dumps kept, newest first: name, day and size in bytes."""
    withdraw_outdated(box)
    folder = dump_dir(box)
    if not folder.is_dir():
        return []
    dumps = []
    for path in folder.glob(f"{PREFIX}*.json"):
        day = _day_of(path.stem)
        if day is not None and path.with_suffix(".sig").exists():
            dumps.append({"name": path.stem, "day": day.isoformat(), "size": path.stat().st_size})
    return sorted(dumps, key=lambda d: d["day"], reverse=True)


def dump_file(box: Box, name: str, suffix: str) -> Path:
    """Return the path of a kept dump's .json or .sig, or raise NotFound."""
    path = dump_dir(box) / f"{name}{suffix}"
    if suffix not in SUFFIXES or _day_of(name) is None or not path.is_file():
        raise NotFound(N_("There is no such dump: see the list of daily dumps."))
    if outdated(path.with_suffix(".json")):
        # Hidden or erased since it was signed: withdrawn at once, not at the next sweep.
        withdraw_outdated(box)
        raise NotFound(N_("That dump was withdrawn: something in it was hidden or erased."))
    return path


def example_name(box: Box) -> str:
    """Return the newest kept dump's name, or today's name when none is kept yet."""
    kept = list_dumps(box)
    return kept[0]["name"] if kept else dump_name(local_day(box))


def verify_snippet(box: Box, name: str) -> str:
    """Return the Python that checks a dump's signature, with the names filled in."""
    return VERIFY_SNIPPET.format(origin=box.origin, name=name)
