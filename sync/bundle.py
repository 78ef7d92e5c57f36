"""Bundles: records for one peer box in one file, for carrying on a USB stick.

A bundle is encrypted to the receiving box's key and signed by the sending box's key, so a
lost stick reveals nothing and a box only ingests what a paired box wrote for it. The
format is written down in sync/PROTOCOL.md ("Bundles"); in short:

    header line   canonical JSON + "\\n": format, from, to, eph(emeral X25519 key), created
    frame*        flag (1 byte) | length (4 bytes, big-endian) | ciphertext | signature (64)

Boxes only have Ed25519 keys; the X25519 keys for encryption are derived from them the
standard way (libsodium's crypto_sign_ed25519_{pk,sk}_to_curve25519, in appliance/sealing.py,
which seals ride addresses with the same keys). Each frame holds up to FRAME_BYTES of
JSON Lines, encrypted with ChaCha20-Poly1305 under a key derived (HKDF-SHA256) from an
ephemeral X25519 exchange with the recipient and the header, with the frame number as
nonce and the final-frame flag authenticated, and signed by the sender over a running
SHA-256 of the header and every frame so far. Memory stays bounded by a frame or two
whatever the size of the bundle.

API:

- `write_bundle(out, lines, sender, recipient_origin, now_ms)` streams record lines into
  a bundle and returns how many it wrote;
- `read_bundle(inp, recipient, trusted)` checks the header at once and returns an
  iterator of pages (lists of record lines), each yielded only once its frame is
  decrypted and its sender signature verified; the last page only once the end of the
  bundle has been verified too;
- `bundle_header(inp)` says who a bundle is from and for, without any key;
- every failure is a `BundleError` (a ValueError) with one sentence staff can read, and a
  short `code` for programs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container, Iterable, Iterator
from typing import BinaryIO

import rfc8785
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.records import b64url, unb64url
from appliance.sealing import x25519_private_from_ed25519, x25519_public_from_ed25519

FORMAT = "kith-bundle/1"
FORMAT_FAMILY = "kith-bundle/"
SIGNING_PREFIX = b"kith/bundle/v1\n"
KEY_INFO_PREFIX = b"kith/bundle/v1 key\n"
FRAME_BYTES = 1024 * 1024  # most plaintext bytes in one frame
MAX_HEADER_BYTES = 1024  # most bytes in the header line, newline included
HEADER_FIELDS = ("created", "eph", "format", "from", "to")
FLAG_MORE = 0
FLAG_FINAL = 1
TAG_BYTES = 16
SIG_BYTES = 64
FRAME_HEAD_BYTES = 5


class BundleError(ValueError):
    """A bundle that must not be written or ingested, with the reason in plain words.

    `code` is one of: not_bundle, version, wrong_recipient, untrusted, truncated,
    tampered, bad_input. `header` is the bundle's header (a dict) once it has been read,
    so a caller can name the boxes involved instead of showing their keys.
    """

    def __init__(self, message: str, code: str, header: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.header = header


def _origin(key: Ed25519PrivateKey) -> str:
    return b64url(key.public_key().public_bytes_raw())


def _frame_cipher(
    shared: bytes, eph_public: bytes, recipient_x: bytes, header_line: bytes
) -> ChaCha20Poly1305:
    if shared == bytes(32):
        raise ValueError("all-zero shared secret")
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=eph_public + recipient_x,
        info=KEY_INFO_PREFIX + hashlib.sha256(header_line).digest(),
    ).derive(shared)
    return ChaCha20Poly1305(key)


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


# --- writing ---------------------------------------------------------------------------


def write_bundle(
    out: BinaryIO,
    lines: Iterable[bytes],
    sender: Ed25519PrivateKey,
    recipient_origin: str,
    now_ms: int,
    *,
    frame_bytes: int = FRAME_BYTES,
) -> int:
    """Write `lines` (record wire bytes) as a bundle from `sender` to `recipient_origin`.

    Each line is one record's wire form, with or without one trailing newline; it may not
    be empty or contain another newline. Lines are read one at a time and written a frame
    at a time, so memory stays bounded. `frame_bytes` (at most FRAME_BYTES) only changes
    how many frames there are. Returns the number of records written.

    The output is complete only when this returns: a bundle whose writing stopped part
    way has no final frame and `read_bundle` refuses it as truncated. Flush and fsync the
    file before telling anyone the stick can be removed.
    """
    if isinstance(now_ms, bool) or not isinstance(now_ms, int) or not 0 <= now_ms < 2**53:
        raise BundleError("The bundle's creation time must be milliseconds ≥ 0.", "bad_input")
    if not 1 <= frame_bytes <= FRAME_BYTES:
        raise BundleError(f"A frame holds 1 to {FRAME_BYTES} bytes.", "bad_input")
    try:
        recipient_x = x25519_public_from_ed25519(unb64url(recipient_origin))
    except (ValueError, TypeError):
        raise BundleError(
            f"Cannot write a bundle for {recipient_origin!r}: it is not a box key.", "bad_input"
        ) from None
    eph = X25519PrivateKey.generate()
    eph_public = eph.public_key().public_bytes_raw()
    header = {
        "created": now_ms,
        "eph": b64url(eph_public),
        "format": FORMAT,
        "from": _origin(sender),
        "to": recipient_origin,
    }
    header_line = rfc8785.dumps(header) + b"\n"
    try:
        shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_x))
        cipher = _frame_cipher(shared, eph_public, recipient_x, header_line)
    except ValueError:
        raise BundleError(
            f"Cannot write a bundle for {recipient_origin!r}: it is not a usable box key.",
            "bad_input",
        ) from None
    return _write_frames(out, lines, header_line, cipher, sender, frame_bytes)


def _write_frames(
    out: BinaryIO,
    lines: Iterable[bytes],
    header_line: bytes,
    cipher: ChaCha20Poly1305,
    signer: Ed25519PrivateKey,
    frame_bytes: int,
) -> int:
    running = hashlib.sha256(header_line)
    out.write(header_line)
    index = 0

    def emit(plain: bytes, flag: int) -> None:
        nonlocal index
        head = bytes([flag]) + (len(plain) + TAG_BYTES).to_bytes(4, "big")
        sealed = cipher.encrypt(_nonce(index), plain, head)
        running.update(head)
        running.update(sealed)
        out.write(head)
        out.write(sealed)
        out.write(signer.sign(SIGNING_PREFIX + running.digest()))
        index += 1

    buf = bytearray()
    count = 0
    for line in lines:
        line = bytes(line)
        if line.endswith(b"\n"):
            line = line[:-1]
        if not line or b"\n" in line:
            raise BundleError(
                f"Record {count + 1} is empty or spans several lines; a bundle holds "
                "one record per line.",
                "bad_input",
            )
        if len(line) + 1 > frame_bytes:
            raise BundleError(
                f"Record {count + 1} is {len(line)} bytes, larger than a bundle frame.",
                "bad_input",
            )
        if buf and len(buf) + len(line) + 1 > frame_bytes:
            emit(bytes(buf), FLAG_MORE)
            buf.clear()
        buf += line
        buf += b"\n"
        count += 1
    emit(bytes(buf), FLAG_FINAL)
    return count


# --- reading ---------------------------------------------------------------------------

_NOT_BUNDLE = "This file is not a Kith bundle."
_TRUNCATED = (
    "The bundle is incomplete: the file was cut short (was the stick removed before "
    "copying finished?). Export it again."
)
_TAMPERED = (
    "The bundle has been altered or damaged: it does not match its sender's signature. "
    "Export it again."
)


def _read_exact(inp: BinaryIO, n: int) -> bytes:
    chunks = []
    need = n
    while need:
        chunk = inp.read(need)
        if not chunk:
            break
        chunks.append(chunk)
        need -= len(chunk)
    return b"".join(chunks)


def _read_header(inp: BinaryIO) -> tuple[bytes, dict]:
    line = inp.readline(MAX_HEADER_BYTES)
    if not line:
        raise BundleError("The file is empty: it is not a Kith bundle.", "not_bundle")
    if not line.endswith(b"\n"):
        # A header cut short by the end of the file still starts the way every header
        # does (canonical JSON sorts "created" first).
        start = b'{"created":'
        eof = len(line) < MAX_HEADER_BYTES
        if eof and (line.startswith(start) or start.startswith(line)):
            raise BundleError(_TRUNCATED, "truncated")
        raise BundleError(_NOT_BUNDLE, "not_bundle")
    try:
        header = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8 or not JSON
        raise BundleError(_NOT_BUNDLE, "not_bundle") from None
    fmt = header.get("format") if isinstance(header, dict) else None
    if not isinstance(fmt, str) or not fmt.startswith(FORMAT_FAMILY):
        raise BundleError(_NOT_BUNDLE, "not_bundle")
    if fmt != FORMAT:
        raise BundleError(
            f"This bundle was made by a newer version of Kith (format {fmt!r}); update "
            "this box to read it.",
            "version",
        )
    ok = sorted(header) == list(HEADER_FIELDS)
    created = header.get("created")
    ok = ok and isinstance(created, int) and not isinstance(created, bool) and created >= 0
    try:
        ok = ok and all(len(unb64url(header[name])) == 32 for name in ("eph", "from", "to"))
        # exactly the bytes the writer makes, so a header has one spelling only
        ok = ok and rfc8785.dumps(header) + b"\n" == line
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise BundleError(
            "The bundle's header is damaged or has been altered. Export it again.",
            "tampered",
        )
    return line, header


def bundle_header(inp: BinaryIO) -> dict:
    """Return a bundle's header without any key: {"format", "from", "to", "eph", "created"}.

    Enough to list which boxes the bundles on a stick are for. Nothing is verified beyond
    the header's shape: only `read_bundle` checks the signature.
    """
    return _read_header(inp)[1]


def read_bundle(
    inp: BinaryIO, recipient: Ed25519PrivateKey, trusted: Container[str]
) -> Iterator[list[bytes]]:
    """Open a bundle addressed to `recipient` from one of the `trusted` origins.

    The header is checked when this is called: a bundle for another box, from an
    untrusted box, or that is not a Kith bundle raises BundleError straight away. The
    returned iterator yields one page (a list of record lines without newlines) per
    frame, in order, each only after its frame has decrypted and its sender signature
    (over the header and every frame so far) has verified; so every page yielded is
    exactly what the sender wrote, in the order it wrote it.

    The final frame's page is yielded only after the end of the bundle has been verified
    as well (the final-frame flag, and nothing after it). A bundle with zero records
    yields no page. A truncated or altered bundle raises BundleError from the iterator,
    possibly after earlier pages were yielded: a caller that must apply all or nothing
    keeps one transaction open and commits only when the iterator is exhausted; a caller
    that commits page by page gets a verified prefix, like a dropped connection.
    """
    line, header = _read_header(inp)
    me = _origin(recipient)
    if header["to"] != me:
        raise BundleError(
            f"This bundle is for another box ({header['to']}), not this one ({me}).",
            "wrong_recipient",
            header,
        )
    if header["from"] not in trusted:
        raise BundleError(
            f"This bundle comes from a box this one does not trust ({header['from']}); "
            "pair the two boxes first.",
            "untrusted",
            header,
        )
    eph_public = unb64url(header["eph"])
    try:
        sender = Ed25519PublicKey.from_public_bytes(unb64url(header["from"]))
        own = x25519_private_from_ed25519(recipient)
        shared = own.exchange(X25519PublicKey.from_public_bytes(eph_public))
        cipher = _frame_cipher(shared, eph_public, own.public_key().public_bytes_raw(), line)
    except ValueError:
        raise BundleError(_TAMPERED, "tampered", header) from None
    return _read_frames(inp, line, header, cipher, sender)


def _read_frames(
    inp: BinaryIO,
    header_line: bytes,
    header: dict,
    cipher: ChaCha20Poly1305,
    sender: Ed25519PublicKey,
) -> Iterator[list[bytes]]:
    running = hashlib.sha256(header_line)
    index = 0
    while True:
        head = _read_exact(inp, FRAME_HEAD_BYTES)
        if len(head) < FRAME_HEAD_BYTES:
            raise BundleError(_TRUNCATED, "truncated", header)
        flag, size = head[0], int.from_bytes(head[1:], "big")
        if flag not in (FLAG_MORE, FLAG_FINAL) or not TAG_BYTES <= size <= FRAME_BYTES + TAG_BYTES:
            raise BundleError(_TAMPERED, "tampered", header)
        sealed = _read_exact(inp, size)
        sig = _read_exact(inp, SIG_BYTES)
        if len(sealed) < size or len(sig) < SIG_BYTES:
            raise BundleError(_TRUNCATED, "truncated", header)
        running.update(head)
        running.update(sealed)
        try:
            sender.verify(sig, SIGNING_PREFIX + running.digest())
            plain = cipher.decrypt(_nonce(index), sealed, head)
        except (InvalidSignature, InvalidTag):
            raise BundleError(_TAMPERED, "tampered", header) from None
        page = _split(plain, header, allow_empty=flag == FLAG_FINAL and index == 0)
        if flag == FLAG_FINAL:
            if inp.read(1):
                raise BundleError(
                    "The bundle has extra data after its end: it has been altered or "
                    "damaged. Export it again.",
                    "tampered",
                    header,
                )
            if page:
                yield page
            return
        yield page
        index += 1


def _split(plain: bytes, header: dict, allow_empty: bool) -> list[bytes]:
    if not plain and allow_empty:
        return []
    page = plain.split(b"\n")
    # A frame is one or more non-empty lines, each ending with a newline.
    if page.pop() != b"" or not page or not all(page):
        raise BundleError(
            "The bundle is malformed: its sender wrote something that is not records, "
            "one per line.",
            "tampered",
            header,
        )
    return page
