"""Sealed ride addresses: only this box and the boxes it pairs with directly can read them."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import rfc8785
from boxes import activate, new_box, trust
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from recordmaker import Origin

from appliance import sealing
from appliance.kinds import check_body
from appliance.records import b64url, public_key_text, unb64url
from appliance.sealing import open_entry, open_sealed, seal_entry, seal_for
from sync import bundle

PROTOCOL = Path(__file__).resolve().parents[2] / "sync" / "PROTOCOL.md"
PAYLOAD = {
    "from_address": "12 Elm Road, Millbrook",
    "to_address": "City Hospital, Ward 4",
    "notes": "Ring twice; café entrance",
}
RIDE = "ab" * 32  # any ride id: the shape check of a record body needs a subject


def vector(label: str) -> str:
    text = PROTOCOL.read_text(encoding="utf-8")
    return re.search(rf"^```vector:{label}\n(.*?)\n```$", text, re.M | re.S).group(1)


def addresses_record_ok(sealed: dict) -> None:
    """Raise unless `sealed` is a valid body of a ride.addresses record."""
    check_body({"kind": "ride.addresses", "subject": RIDE, "body": {"sealed": sealed}})


@pytest.fixture
def other(tmp_path, clock):
    """A second real box, paired with nothing; leaves the first box's database active."""
    return new_box(tmp_path / "other", clock, centre_name="Other Centre")


# --- round trips -----------------------------------------------------------------------


def test_a_box_opens_what_it_sealed_for_itself(box):
    sealed = seal_for(box, PAYLOAD)
    assert list(sealed) == [box.origin]
    addresses_record_ok(sealed)
    assert open_sealed(box, sealed) == PAYLOAD
    # Ride.sealed keeps the map as JSON text: that opens too.
    assert open_sealed(box, json.dumps(sealed)) == PAYLOAD
    # Nothing of the plaintext shows in the entry.
    assert "Elm" not in json.dumps(sealed)
    assert b"Elm" not in unb64url(sealed[box.origin])


def test_sealed_to_own_and_directly_paired_boxes_only(box, other):
    activate(box)
    paired, relay, relayed, dropped = Origin("paired"), Origin("hub"), Origin("far"), Origin("old")
    trust(box, paired, relay)
    (gone,) = trust(box, dropped)
    box.log.append("trust.revoked", {"last_seq": 0}, subject=gone)
    # The hub pairs with a box this box only hears of through it (relayed trust).
    grant = relay.make("trust.granted", {"origin": relayed.origin, "name": "far"})
    assert box.log.ingest([grant.line]).ok
    assert relayed.origin in box.log.trusted_origins()
    trust(box, other)

    sealed = seal_for(box, PAYLOAD)
    assert set(sealed) == {box.origin, paired.origin, relay.origin, other.origin}
    assert next(iter(sealed)) == box.origin
    addresses_record_ok(sealed)
    # Each paired box opens its own entry with its own key, and only its own.
    for peer in (paired, relay):
        assert json.loads(open_entry(peer.key, sealed[peer.origin])) == PAYLOAD
        assert open_entry(peer.key, sealed[box.origin]) is None
    assert open_sealed(other, sealed) == PAYLOAD
    assert open_sealed(box, sealed) == PAYLOAD


def test_another_box_cannot_open_an_entry_not_for_it(box, other):
    sealed = seal_for(activate(box), PAYLOAD)  # other is not paired: no entry for it
    assert list(sealed) == [box.origin]
    assert open_sealed(other, sealed) is None
    # Not under its name, nor under its key: the entry was sealed to another box.
    assert open_sealed(other, {other.origin: sealed[box.origin]}) is None
    assert open_entry(other.log.key, sealed[box.origin]) is None


def test_an_entry_moved_to_another_origin_does_not_open(box):
    """The associated data binds the entry to its box, whatever key reads it."""
    data = unb64url(seal_for(box, PAYLOAD)[box.origin])
    own = sealing.x25519_private_from_ed25519(box.log.key)
    shared = own.exchange(X25519PublicKey.from_public_bytes(data[:32]))
    key = HKDF(
        hashes.SHA256(),
        32,
        salt=data[:32],
        info=b"kith/seal/v1\n" + own.public_key().public_bytes_raw(),
    ).derive(shared)
    cipher = ChaCha20Poly1305(key)
    assert json.loads(cipher.decrypt(bytes(12), data[32:], box.origin.encode())) == PAYLOAD
    with pytest.raises(InvalidTag):
        cipher.decrypt(bytes(12), data[32:], Origin("elsewhere").origin.encode())


def test_the_same_payload_sealed_twice_differs(box):
    trust(box, Origin("paired"))
    first, second = seal_for(box, PAYLOAD), seal_for(box, PAYLOAD)
    assert set(first) == set(second)
    entries = [*first.values(), *second.values()]
    assert len(set(entries)) == len(entries)
    # A fresh ephemeral key for every entry, even entries of the one call.
    assert len({unb64url(e)[:32] for e in entries}) == len(entries)
    assert open_sealed(box, first) == open_sealed(box, second) == PAYLOAD


# --- garbage and tampering -------------------------------------------------------------


def test_any_changed_byte_of_an_entry_gives_none(box):
    data = bytearray(unb64url(seal_for(box, PAYLOAD)[box.origin]))
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            data[i] ^= flip
            assert open_sealed(box, {box.origin: b64url(bytes(data))}) is None, i
            data[i] ^= flip
    assert open_sealed(box, {box.origin: b64url(bytes(data))}) == PAYLOAD


@pytest.mark.parametrize(
    "sealed",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        "[" * 100_000,  # deeper than the JSON parser goes
        b"\xff\xfe",
        [],
        42,
        {},
        {"someone-else": "AAAA"},
    ],
)
def test_garbage_maps_give_none(box, sealed):
    assert open_sealed(box, sealed) is None


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "AAAA",
        "not base64url!",
        "QQ=",  # padded
        "QR",  # unused bits set: not canonical
        b64url(bytes(47)),  # shorter than a key and a tag
        b64url(bytes(32) + bytes(16)),  # an all-zero (low order) ephemeral key
        b64url(bytes(80)),
        None,
        7,
        ["x"],
    ],
)
def test_garbage_entries_give_none(box, entry):
    assert open_sealed(box, {box.origin: entry}) is None


def test_truncated_and_extended_entries_give_none(box):
    data = unb64url(seal_for(box, PAYLOAD)[box.origin])
    for cut in range(len(data)):
        assert open_sealed(box, {box.origin: b64url(data[:cut])}) is None
    assert open_sealed(box, {box.origin: b64url(data + b"\0")}) is None


def test_sealed_text_that_is_not_a_json_object_gives_none(box):
    for plaintext in (b"[1]", b'"text"', b"\xff", b"{", b"null"):
        assert open_sealed(box, {box.origin: seal_entry(box.origin, plaintext)}) is None


# --- limits ----------------------------------------------------------------------------


def test_the_longest_details_fit_a_record(box):
    """200-character addresses and 500 characters of notes, in three-byte characters."""
    trust(box, Origin("paired"))
    longest = {"from_address": "語" * 200, "to_address": "語" * 200, "notes": "語" * 500}
    sealed = seal_for(box, longest)
    addresses_record_ok(sealed)
    assert max(len(e) for e in sealed.values()) <= sealing.ENTRY_TEXT_MAX
    assert open_sealed(box, sealed) == longest


def test_a_plaintext_too_long_for_one_entry_is_refused(box):
    fits = {"notes": "x" * (sealing.PLAINTEXT_MAX - len(b'{"notes":""}'))}
    assert len(rfc8785.dumps(fits)) == sealing.PLAINTEXT_MAX
    entry = seal_for(box, fits)[box.origin]
    assert len(entry) == sealing.ENTRY_TEXT_MAX
    addresses_record_ok({box.origin: entry})
    with pytest.raises(ValueError, match="at most 2952 bytes"):
        seal_for(box, {"notes": fits["notes"] + "x"})
    with pytest.raises(ValueError):
        seal_entry(box.origin, bytes(sealing.PLAINTEXT_MAX + 1))
    with pytest.raises(TypeError):
        seal_for(box, ["not", "an", "object"])


def test_a_paired_key_unusable_for_x25519_gets_no_entry(box):
    paired = Origin("paired")
    trust(box, b64url(bytes(32)), paired)  # 32 bytes, but a point of small order
    assert set(seal_for(box, PAYLOAD)) == {box.origin, paired.origin}
    with pytest.raises(ValueError):
        seal_entry(b64url(bytes(32)), b"{}")
    with pytest.raises(ValueError):
        seal_entry("not a key", b"{}")


def test_at_most_64_entries(box):
    peers = [Origin(f"peer {n}") for n in range(70)]
    trust(box, *peers)
    sealed = seal_for(box, PAYLOAD)
    assert len(sealed) == sealing.ENTRIES_MAX
    assert next(iter(sealed)) == box.origin
    assert list(sealed)[1:] == sorted(p.origin for p in peers)[: sealing.ENTRIES_MAX - 1]
    addresses_record_ok(sealed)


# --- known answers ---------------------------------------------------------------------


def test_ed25519_to_x25519_matches_libsodium_vector():
    # libsodium test/default/ed25519_convert.c and .exp (the bundles' check, on the
    # functions' new home).
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex("421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee")
    )
    public = sealing.x25519_public_from_ed25519(key.public_key().public_bytes_raw())
    assert public.hex() == "f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50"
    scalar = bytearray(sealing.x25519_private_from_ed25519(key).private_bytes_raw())
    scalar[0] &= 248
    scalar[31] = (scalar[31] & 127) | 64
    assert scalar.hex() == "8052030376d47112be7f73ed7a019293dd12ad910b654455798b4667d73de166"
    # Bundles use the very same functions.
    assert bundle.x25519_public_from_ed25519 is sealing.x25519_public_from_ed25519
    assert bundle.x25519_private_from_ed25519 is sealing.x25519_private_from_ed25519


def test_protocol_vector_matches_the_code():
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector("seed")))
    origin = public_key_text(key)
    eph = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector("seal-eph")))
    plaintext = vector("seal-plaintext").encode("utf-8")
    assert plaintext == rfc8785.dumps(json.loads(plaintext))
    entry = vector("seal-entry")
    assert seal_entry(origin, plaintext, eph) == entry
    assert open_entry(key, entry) == plaintext
    assert open_entry(Ed25519PrivateKey.generate(), entry) is None


def test_protocol_vector_from_the_documented_steps_alone():
    """An independent reader: X25519, HKDF and ChaCha20-Poly1305 as section 5.2 says."""
    seed = bytes.fromhex(vector("seed"))
    origin = public_key_text(Ed25519PrivateKey.from_private_bytes(seed))
    recipient_x = bytes.fromhex("4701d08488451f545a409fb58ae3e58581ca40ac3f7f114698cd71deac73ca01")
    entry = vector("seal-entry")
    data = base64.urlsafe_b64decode(entry + "=" * (-len(entry) % 4))
    eph = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector("seal-eph")))
    assert data[:32] == eph.public_key().public_bytes_raw()
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_x))
    key = HKDF(hashes.SHA256(), 32, salt=data[:32], info=b"kith/seal/v1\n" + recipient_x)
    plain = ChaCha20Poly1305(key.derive(shared)).decrypt(bytes(12), data[32:], origin.encode())
    assert plain == vector("seal-plaintext").encode("utf-8")
    assert "café".encode() in plain
