"""Password hashing with scrypt from the standard library.

scrypt (RFC 7914) is memory-hard like argon2 but needs no extra package; n=2**14, r=8
costs 16 MiB and tens of milliseconds on a Pi, which keeps the server inside its
memory budget while making a stolen hash expensive to crack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

N, R, P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """Return a salted scrypt hash in the form scrypt$n$r$p$salt$hash."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    enc = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${N}${R}${P}${enc(salt)}${enc(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Return True if the password matches the stored hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
