"""Sealing: text only chosen boxes can read, carried in records every box holds.

A ride's exact addresses travel in its `ride.addresses` record, but only as entries
sealed separately to this box and to each box it pairs with directly, so a box that
merely relays the record (or a stick that is lost) learns nothing from it. Boxes only
have Ed25519 keys; the X25519 keys are derived from them the standard way (libsodium's
crypto_sign_ed25519_{pk,sk}_to_curve25519), as bundles do too (sync/bundle.py).

One entry (sync/PROTOCOL.md, "Sealed addresses"):

    entry = base64url(eph (32 bytes) || ChaCha20-Poly1305 ciphertext with its 16-byte tag)
    shared = X25519(eph private, recipient's X25519 public)
    key = HKDF-SHA256(shared, salt = eph, info = "kith/seal/v1\\n" || recipient X25519 public)
    nonce = 12 zero bytes; associated data = the recipient's origin (ASCII)

Every entry has its own fresh ephemeral key, so every key encrypts exactly one message
and the zero nonce is never reused under a key.
"""

from __future__ import annotations

import hashlib
import json

import rfc8785
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.records import b64url, unb64url

SEAL_INFO_PREFIX = b"kith/seal/v1\n"
ENTRY_TEXT_MAX = 4000  # characters of one entry: the limit of ride.addresses (kinds._sealed)
ENTRIES_MAX = 64  # entries in one record: the same limit
KEY_BYTES = 32
TAG_BYTES = 16
# base64url of n bytes takes ceil(4n / 3) characters, so an entry holds at most 3000
# bytes: the ephemeral key, the tag and this much canonical JSON.
PLAINTEXT_MAX = ENTRY_TEXT_MAX * 3 // 4 - KEY_BYTES - TAG_BYTES
_NONCE = bytes(12)

_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
# The u coordinates of the points of order 2, 4 and 8: X25519 with them gives all zeros.
_LOW_ORDER_U = frozenset(
    {
        0,
        1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
    }
)


# --- keys ------------------------------------------------------------------------------


def x25519_public_from_ed25519(public: bytes) -> bytes:
    """Return the X25519 public key (u coordinate, 32 bytes) of a raw Ed25519 public key.

    u = (1 + y) / (1 - y) mod 2^255 - 19, where y is the Edwards y coordinate (the key
    read little-endian with the sign bit cleared). Raise ValueError unless the bytes are
    a canonical encoding of a point on the curve of more than small order (libsodium
    also refuses points outside the prime-order subgroup; X25519 clears the cofactor, so
    accepting them here changes no shared secret an honest box computes).
    """
    if len(public) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    y = int.from_bytes(public, "little") & ((1 << 255) - 1)
    sign = public[31] >> 7
    if y >= _P:
        raise ValueError("not a canonical Ed25519 public key")
    yy = y * y % _P
    x2 = (yy - 1) * pow(_D * yy + 1, -1, _P) % _P
    if x2 == 0 and sign:
        raise ValueError("not a canonical Ed25519 public key")
    if x2 != 0 and pow(x2, (_P - 1) // 2, _P) != 1:
        raise ValueError("not a point on the Ed25519 curve")
    if y == 1:
        raise ValueError("the identity point is not a key")
    u = (1 + y) * pow(1 - y, -1, _P) % _P
    if u in _LOW_ORDER_U:
        raise ValueError("a point of small order is not a key")
    return u.to_bytes(32, "little")


def x25519_private_from_ed25519(key: Ed25519PrivateKey) -> X25519PrivateKey:
    """Return the X25519 private key of an Ed25519 key: the first 32 bytes of
    SHA-512(seed), clamped (X25519 clamps them itself)."""
    scalar = hashlib.sha512(key.private_bytes_raw()).digest()[:32]
    return X25519PrivateKey.from_private_bytes(scalar)


def _cipher(shared: bytes, eph_public: bytes, recipient_x: bytes) -> ChaCha20Poly1305:
    if shared == bytes(32):
        raise ValueError("all-zero shared secret")
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=eph_public,
        info=SEAL_INFO_PREFIX + recipient_x,
    ).derive(shared)
    return ChaCha20Poly1305(key)


# --- one entry -------------------------------------------------------------------------


def seal_entry(origin: str, plaintext: bytes, eph: X25519PrivateKey | None = None) -> str:
    """Seal bytes to one box (by origin); return the entry text.

    `eph` is for test vectors only: a real entry always gets a fresh ephemeral key.
    Raise ValueError if the origin is not a usable box key or the text is too long.
    """
    if len(plaintext) > PLAINTEXT_MAX:
        raise ValueError(f"at most {PLAINTEXT_MAX} bytes can be sealed in one entry")
    recipient_x = x25519_public_from_ed25519(unb64url(origin))
    eph = eph or X25519PrivateKey.generate()
    eph_public = eph.public_key().public_bytes_raw()
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_x))
    sealed = _cipher(shared, eph_public, recipient_x).encrypt(
        _NONCE, plaintext, origin.encode("ascii")
    )
    return b64url(eph_public + sealed)


def open_entry(key: Ed25519PrivateKey, entry: str) -> bytes | None:
    """Return the bytes sealed to `key`'s box in one entry, or None if it cannot be opened."""
    try:
        data = unb64url(entry)
        if len(data) < KEY_BYTES + TAG_BYTES:
            return None
        own = x25519_private_from_ed25519(key)
        recipient_x = own.public_key().public_bytes_raw()
        eph_public = data[:KEY_BYTES]
        shared = own.exchange(X25519PublicKey.from_public_bytes(eph_public))
        origin = b64url(key.public_key().public_bytes_raw())
        return _cipher(shared, eph_public, recipient_x).decrypt(
            _NONCE, data[KEY_BYTES:], origin.encode("ascii")
        )
    except (ValueError, TypeError, InvalidTag):
        return None


# --- a box's view ----------------------------------------------------------------------


def recipients(box) -> list[str]:
    """Return the origins a box seals to: its own, then those it trusts directly.

    Directly means this box's own unrevoked pairings (a grant it signed, without a last
    seq), not boxes it only hears of through a peer. At most ENTRIES_MAX, the rest in
    the order of their keys (a centre paired with 63 others is not a real case).
    """
    direct = sorted(o for o, limit in box.log.granted_here().items() if limit is None)
    return [box.origin, *direct][:ENTRIES_MAX]


def seal_for(box, payload: dict) -> dict[str, str]:
    """Seal a JSON object separately to this box and every box it pairs with directly.

    Returns {origin: entry}, the body's `sealed` of a `ride.addresses` record. Raise
    ValueError if the payload's canonical JSON is longer than PLAINTEXT_MAX bytes (a
    service checks its fields' lengths first, so a person sees a friendly message).
    A paired box whose key cannot take part in X25519 (never a real box) gets no entry.
    """
    if not isinstance(payload, dict):
        raise TypeError("the payload must be a JSON object")
    plaintext = rfc8785.dumps(payload)
    if len(plaintext) > PLAINTEXT_MAX:
        raise ValueError(f"at most {PLAINTEXT_MAX} bytes can be sealed in one entry")
    sealed = {}
    for origin in recipients(box):
        try:
            sealed[origin] = seal_entry(origin, plaintext)
        except ValueError:
            continue
    return sealed


def open_sealed(box, sealed: dict | str | None) -> dict | None:
    """Open this box's entry of a `sealed` map (or its JSON text, as in Ride.sealed).

    Return the payload, or None if there is no entry for this box or it cannot be
    opened (tampered, for another box, not JSON): the caller then says where the
    addresses are held. Never raises on bad input.
    """
    if isinstance(sealed, str | bytes):
        try:
            sealed = json.loads(sealed)
        except (ValueError, RecursionError):
            return None
    if not isinstance(sealed, dict):
        return None
    entry = sealed.get(box.origin)
    if not isinstance(entry, str):
        return None
    plaintext = open_entry(box.log.key, entry)
    if plaintext is None:
        return None
    try:
        payload = json.loads(plaintext)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None
