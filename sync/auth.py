"""Authenticating one box's HTTP request to another with its box key.

Every request carries the caller's origin, the time, a random nonce and an Ed25519
signature over those, the method, the path and a hash of the body. The prefix differs
from the record prefix so a request signature can never pass for a record signature.
The receiver refuses a stale time or a nonce it has seen, so a captured request cannot
be replayed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.records import RecordError, b64url, public_key_text, unb64url

REQUEST_PREFIX = b"kith/sync-request/v1\n"
MAX_SKEW_MS = 15 * 60 * 1000
HEADERS = ("Kith-Origin", "Kith-Time", "Kith-Nonce", "Kith-Signature")


class AuthError(Exception):
    """A request whose signature, time or nonce does not hold."""


def _message(method: str, path: str, origin: str, at_ms: int, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    text = "\n".join([method.upper(), path, origin, str(at_ms), nonce, digest])
    return REQUEST_PREFIX + text.encode("ascii")


def sign_request(
    key: Ed25519PrivateKey, method: str, path: str, body: bytes, now_ms: int
) -> dict[str, str]:
    """Return the headers that authenticate a request as coming from this box."""
    origin = public_key_text(key)
    nonce = secrets.token_urlsafe(16)
    signature = key.sign(_message(method, path, origin, now_ms, nonce, body))
    return {
        "Kith-Origin": origin,
        "Kith-Time": str(now_ms),
        "Kith-Nonce": nonce,
        "Kith-Signature": b64url(signature),
    }


class NonceCache:
    """Nonces seen within the allowed clock skew, forgotten once they are too old to replay."""

    def __init__(self):
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def fresh(self, nonce: str) -> bool:
        """Return True the first time a nonce is seen."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                horizon = now - 2 * MAX_SKEW_MS / 1000
                self._seen = {n: t for n, t in self._seen.items() if t > horizon}
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


def verify_request(
    headers, method: str, path: str, body: bytes, now_ms: int, nonces: NonceCache
) -> str:
    """Return the origin that signed a request, or raise AuthError saying why not."""
    values = [headers.get(name) for name in HEADERS]
    if not all(values):
        raise AuthError("the request is not signed by a box")
    origin, at, nonce, signature = values
    try:
        at_ms = int(at)
    except ValueError:
        raise AuthError("Kith-Time is not a number") from None
    if abs(now_ms - at_ms) > MAX_SKEW_MS:
        raise AuthError("the request's time is too far from this box's clock")
    try:
        key = Ed25519PublicKey.from_public_bytes(unb64url(origin))
        key.verify(unb64url(signature), _message(method, path, origin, at_ms, nonce, body))
    except (InvalidSignature, ValueError, RecordError):
        raise AuthError("the request's signature does not verify") from None
    if not nonces.fresh(nonce):
        raise AuthError("the request was already used once")
    return origin
