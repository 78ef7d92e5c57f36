"""The record format: canonical bytes, ids, signatures and strict parsing.

Everything here is pure (no database) so that the wire format can be checked against
the test vectors in sync/PROTOCOL.md by any implementation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT_VERSION = 1
SIGNING_PREFIX = b"kith/record/v1\n"
FIELDS = ("v", "origin", "seq", "prev", "hlc", "author", "kind", "subject", "scope", "body", "sig")
# A redacted record (sync/PROTOCOL.md, "Erasure"): the record without its body and
# signature, naming its own id and the erasure that removed its body.
STUB_FIELDS = (*FIELDS[:-2], "redacted")
SCOPES = ("federation", "local")
MAX_RECORD_BYTES = 64 * 1024
MAX_SAFE_INT = 2**53 - 1

_HEX_ID = re.compile(r"^[0-9a-f]{64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_KIND = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")


class RecordError(ValueError):
    """A record that must not be accepted, with the reason in plain words."""


def b64url(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode base64url without padding, refusing any other alphabet."""
    if not _B64URL.match(text):
        raise RecordError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Unused low bits would let one signature or key be spelled several ways; only the
    # canonical spelling is accepted so the signed bytes of a record are unique.
    if b64url(data) != text:
        raise RecordError("not canonical base64url")
    return data


def canonical(obj: dict) -> bytes:
    """Return the RFC 8785 bytes of a JSON object."""
    return rfc8785.dumps(obj)


def _compact(obj: dict) -> bytes:
    return json.dumps(
        obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def record_id(unsigned: dict) -> str:
    """Return the id of a record: SHA-256 of its canonical bytes without `sig`."""
    return hashlib.sha256(canonical(unsigned)).hexdigest()


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the origin text (base64url raw public key) for a key."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return b64url(key.public_bytes_raw())


def sign(unsigned: dict, key: Ed25519PrivateKey) -> dict:
    """Return the record with its Ed25519 signature over prefix + canonical bytes."""
    sig = key.sign(SIGNING_PREFIX + canonical(unsigned))
    return {**unsigned, "sig": b64url(sig)}


@dataclass(frozen=True)
class Record:
    """A verified record: its fields, its id and the exact bytes that were signed."""

    id: str
    raw: bytes
    fields: dict

    def __getattr__(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def hlc_key(self) -> tuple:
        """The total order used for last-writer-wins: (hlc, origin, id)."""
        return (self.fields["hlc"][0], self.fields["hlc"][1], self.fields["origin"], self.id)


def encode(record: dict) -> bytes:
    """Return the wire bytes of a signed record (RFC 8785, no trailing newline)."""
    return canonical(record)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise RecordError("duplicate key")
    return dict(pairs)


def _reject_float(text: str) -> Any:
    raise RecordError("floats are not allowed (use integers)")


def _reject_constant(text: str) -> Any:
    raise RecordError(f"{text} is not JSON")


def _check_value(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise RecordError(f"{path}: integer outside ±2^53")
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError(f"{path}: string is not valid Unicode") from None
        if unicodedata.normalize("NFC", value) != value:
            raise RecordError(f"{path}: string is not NFC")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, item in value.items():
            if not k.isascii():
                raise RecordError(f"{path}: keys must be ASCII")
            _check_value(item, f"{path}.{k}")


def is_stub(fields: dict) -> bool:
    """Return True if parsed record fields are a redacted stub (no body, no signature)."""
    return "redacted" in fields and "body" not in fields and "sig" not in fields


def check_fields(rec: dict) -> None:
    """Raise RecordError unless the record has exactly the v1 fields with valid types."""
    _check_shape(rec, FIELDS)
    if not isinstance(rec["body"], dict):
        raise RecordError("body must be an object")
    if not isinstance(rec["sig"], str):
        raise RecordError("sig must be a string")
    _check_value(rec, "record")


def check_stub_fields(rec: dict) -> None:
    """Raise RecordError unless a redacted stub has exactly its fields with valid types."""
    _check_shape(rec, STUB_FIELDS)
    redacted = rec["redacted"]
    if not isinstance(redacted, dict) or set(redacted) != {"id", "erasure"}:
        raise RecordError('redacted must be an object {"id", "erasure"}')
    for name in ("id", "erasure"):
        if not (isinstance(redacted[name], str) and _HEX_ID.match(redacted[name])):
            raise RecordError(f"redacted.{name} must be a record id")
    _check_value(rec, "record")


def _check_shape(rec: dict, names: tuple[str, ...]) -> None:
    """Raise RecordError unless rec has exactly `names` and the fields common to records
    and stubs are valid."""
    missing = [f for f in names if f not in rec]
    if missing:
        raise RecordError(f"missing field(s): {', '.join(missing)}")
    extra = sorted(set(rec) - set(names))
    if extra:
        raise RecordError(f"unknown field(s): {', '.join(extra)}")
    if rec["v"] != FORMAT_VERSION or isinstance(rec["v"], bool):
        raise RecordError(f"unsupported format version {rec['v']!r}")
    if not isinstance(rec["origin"], str):
        raise RecordError("origin must be a string")
    try:
        if len(unb64url(rec["origin"])) != 32:
            raise RecordError("origin must be a 32-byte Ed25519 public key")
    except (ValueError, RecordError) as exc:
        raise RecordError(f"origin is not a public key: {exc}") from None
    seq = rec["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise RecordError("seq must be a positive integer")
    prev = rec["prev"]
    if seq == 1 and prev is not None:
        raise RecordError("prev must be null for seq 1")
    if seq > 1 and not (isinstance(prev, str) and _HEX_ID.match(prev)):
        raise RecordError("prev must be the id of the origin's previous record")
    hlc = rec["hlc"]
    if not (
        isinstance(hlc, list)
        and len(hlc) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in hlc)
    ):
        raise RecordError("hlc must be [milliseconds, counter]")
    for name in ("author", "subject"):
        val = rec[name]
        if val is not None and not (isinstance(val, str) and _HEX_ID.match(val)):
            raise RecordError(f"{name} must be null or a record id")
    if not (isinstance(rec["kind"], str) and _KIND.match(rec["kind"])):
        raise RecordError("kind must look like 'thing.happened'")
    if rec["scope"] not in SCOPES:
        raise RecordError(f"scope must be one of {', '.join(SCOPES)}")


def parse(line: bytes | str) -> Record:
    """Parse and verify one wire record; raise RecordError saying why it is refused.

    The bytes must already be canonical: a receiver stores and forwards exactly what
    was signed, so any re-serialisation (whitespace, key order, 1.0) is refused.
    """
    raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
    raw = raw.rstrip(b"\n")
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordError(f"record larger than {MAX_RECORD_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        rec = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
        )
    except UnicodeDecodeError:
        raise RecordError("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc.msg}") from None
    if not isinstance(rec, dict):
        raise RecordError("a record must be a JSON object")
    if is_stub(rec):
        return _parse_stub(rec, raw)
    check_fields(rec)
    # check_fields has confined the values to RFC 8785's easy case (ASCII keys, integers
    # within 2^53, no floats, valid strings), where the standard library's sorted,
    # compact, non-ASCII-preserving JSON is byte for byte RFC 8785 (escapes included),
    # in C. rfc8785 itself judges anything that does not match.
    if _compact(rec) != raw and canonical(rec) != raw:
        raise RecordError("bytes are not canonical (RFC 8785)")
    unsigned = {k: v for k, v in rec.items() if k != "sig"}
    body = _compact(unsigned)
    try:
        sig = unb64url(rec["sig"])
        Ed25519PublicKey.from_public_bytes(unb64url(rec["origin"])).verify(
            sig, SIGNING_PREFIX + body
        )
    except (InvalidSignature, ValueError, RecordError):
        raise RecordError("signature does not verify") from None
    return Record(id=hashlib.sha256(body).hexdigest(), raw=raw, fields=rec)


def _parse_stub(rec: dict, raw: bytes) -> Record:
    """Check a redacted stub's fields and bytes; its id is the one it names.

    Nothing proves a stub's id: its body and signature are gone. The log accepts it
    only where a valid erasure covers it (appliance/erasure.py).
    """
    check_stub_fields(rec)
    if _compact(rec) != raw and canonical(rec) != raw:
        raise RecordError("bytes are not canonical (RFC 8785)")
    return Record(id=rec["redacted"]["id"], raw=raw, fields=rec)


def make_stub(rec: Record, erasure_id: str) -> Record:
    """Return the redacted stub of a record: its fields without body and sig, plus
    {"redacted": {"id", "erasure"}}, as RFC 8785 bytes under the same id."""
    fields = {k: v for k, v in rec.fields.items() if k not in ("body", "sig", "redacted")}
    fields["redacted"] = {"id": rec.id, "erasure": erasure_id}
    return Record(id=rec.id, raw=canonical(fields), fields=fields)
