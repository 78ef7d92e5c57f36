"""Bundles for a USB stick: round trips, memory, and every way a file can be wrong."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import tracemalloc

import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance import records
from sync import bundle
from sync.bundle import BundleError, bundle_header, read_bundle, write_bundle

NOW = 1767225600000
A = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
B = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
C = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
MALLORY = Ed25519PrivateKey.from_private_bytes(bytes(range(96, 128)))


def origin(key: Ed25519PrivateKey) -> str:
    return records.public_key_text(key)


def make(lines, sender=A, to=B, **kw) -> bytes:
    out = io.BytesIO()
    count = write_bundle(out, lines, sender, origin(to), NOW, **kw)
    assert count == len(lines)
    return out.getvalue()


def read(data: bytes, recipient=B, trusted=None) -> list[bytes]:
    trusted = {origin(A)} if trusted is None else trusted
    return [line for page in read_bundle(io.BytesIO(data), recipient, trusted) for line in page]


def refusal(data: bytes, recipient=B, trusted=None) -> BundleError:
    with pytest.raises(BundleError) as info:
        read(data, recipient, trusted)
    assert str(info.value) and "\n" not in str(info.value)
    return info.value


def sample(n: int, seed: int = 1) -> list[bytes]:
    rnd = random.Random(seed)
    return [
        json.dumps({"n": i, "text": "é" * rnd.randrange(0, 40) + "x" * rnd.randrange(0, 300)})
        .encode()
        .replace(b"\n", b"")
        for i in range(n)
    ]


def split(data: bytes) -> tuple[bytes, list[bytes]]:
    """Cut a bundle into its header line and frames, from the documented layout alone."""
    end = data.index(b"\n") + 1
    header, frames, pos = data[:end], [], end
    while pos < len(data):
        size = int.from_bytes(data[pos + 1 : pos + 5], "big")
        frames.append(data[pos : pos + 5 + size + 64])
        pos += 5 + size + 64
    assert b"".join([header, *frames]) == data
    return header, frames


# --- keys ------------------------------------------------------------------------------


def test_ed25519_to_x25519_agrees_with_the_private_key_for_random_keys():
    for _ in range(64):
        key = Ed25519PrivateKey.generate()
        derived = bundle.x25519_public_from_ed25519(key.public_key().public_bytes_raw())
        assert derived == bundle.x25519_private_from_ed25519(key).public_key().public_bytes_raw()


def test_ed25519_to_x25519_matches_libsodium_vector():
    # libsodium test/default/ed25519_convert.c and .exp
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex("421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee")
    )
    public = bundle.x25519_public_from_ed25519(key.public_key().public_bytes_raw())
    assert public.hex() == "f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50"
    scalar = bytearray(bundle.x25519_private_from_ed25519(key).private_bytes_raw())
    scalar[0] &= 248
    scalar[31] = (scalar[31] & 127) | 64
    assert scalar.hex() == "8052030376d47112be7f73ed7a019293dd12ad910b654455798b4667d73de166"


@pytest.mark.parametrize(
    "hex_key",
    [
        "01" + "00" * 31,  # the identity
        "ec" + "ff" * 30 + "7f",  # y = -1, order 2
        "00" * 32,  # y = 0, order 4
        "02" + "00" * 31,  # not on the curve
        "ed" + "ff" * 30 + "7f",  # y = p, not canonical
        "00" * 31 + "80",  # x = 0 with the sign bit set
    ],
)
def test_invalid_and_low_order_keys_are_refused(hex_key):
    with pytest.raises(ValueError):
        bundle.x25519_public_from_ed25519(bytes.fromhex(hex_key))
    with pytest.raises(BundleError) as info:
        write_bundle(io.BytesIO(), [], A, records.b64url(bytes.fromhex(hex_key)), NOW)
    assert info.value.code == "bad_input"


def test_a_low_order_ephemeral_key_is_refused():
    header, frames = split(make([b"{}"]))
    fields = json.loads(header)
    fields["eph"] = records.b64url(bytes(32))
    forged = rfc8785.dumps(fields) + b"\n" + b"".join(frames)
    assert refusal(forged).code == "tampered"


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 250])
def test_round_trip(n):
    lines = sample(n)
    assert read(make(lines)) == lines


def test_round_trip_varied_sizes_and_frame_boundaries():
    rnd = random.Random(7)
    lines = [b"x" * rnd.choice([1, 2, 63, 64, 65, 4095, 65536]) for _ in range(120)]
    lines += [b"y" * 1023, b"z" * 1023, b"w" * 1021, b"v"]  # exactly fill a 1 KiB frame
    for frame_bytes in (1024 * 1024, 65537, 1024 * 70):
        data = make(lines, frame_bytes=frame_bytes)
        pages = list(read_bundle(io.BytesIO(data), B, {origin(A)}))
        assert [line for page in pages for line in page] == lines
        assert all(page for page in pages)
        assert all(sum(len(x) + 1 for x in page) <= frame_bytes for page in pages)
    small = [b"y" * 1023, b"z" * 1023, b"w" * 1021, b"v"]
    pages = list(read_bundle(io.BytesIO(make(small, frame_bytes=1024)), B, {origin(A)}))
    assert pages == [[b"y" * 1023], [b"z" * 1023], [b"w" * 1021, b"v"]]


def test_lines_may_end_with_one_newline_and_real_records_survive():
    unsigned = {
        "v": 1,
        "origin": origin(A),
        "seq": 1,
        "prev": None,
        "hlc": [NOW, 0],
        "author": None,
        "kind": "centre.created",
        "subject": None,
        "scope": "federation",
        "body": {"name": "Millbrook Community Centre", "timezone": "Europe/London"},
    }
    wire = records.encode(records.sign(unsigned, A))
    (line,) = read(make([wire + b"\n"]))
    assert line == wire
    assert records.parse(line).fields["body"]["name"] == "Millbrook Community Centre"


def test_a_third_party_box_reads_its_own_bundle_on_a_shared_stick(tmp_path):
    """One stick, bundles for two boxes: each reads its own, the listing needs no key."""
    for name, to in (("b.kith", B), ("c.kith", C)):
        with open(tmp_path / name, "wb") as out:
            write_bundle(out, [name.encode()], A, origin(to), NOW)
    listing = {}
    for name in ("b.kith", "c.kith"):
        with open(tmp_path / name, "rb") as inp:
            head = bundle_header(inp)
        assert head["format"] == "kith-bundle/1" and head["from"] == origin(A)
        assert head["created"] == NOW
        listing[name] = head["to"]
    assert listing == {"b.kith": origin(B), "c.kith": origin(C)}
    with open(tmp_path / "c.kith", "rb") as inp:
        assert list(read_bundle(inp, C, {origin(A)})) == [[b"c.kith"]]


def test_ciphertext_reveals_no_plaintext():
    lines = [
        f'{{"secret":"Mrs Jones at 14 Mill Lane needs insulin {i}","n":{i}}}'.encode()
        for i in range(50)
    ]
    data = make(lines)
    _, frames = split(data)
    body = b"".join(frames)
    for line in lines:
        for start in range(0, len(line) - 8):
            assert line[start : start + 8] not in body
    assert b"insulin" not in data and b"Jones" not in data
    assert make(lines) != data  # a fresh ephemeral key every time


def test_hundred_thousand_records_in_bounded_memory(tmp_path):
    record = b'{"kind":"post.created","title":"%06d","details":"' + b"d" * 250 + b'"}'
    path = tmp_path / "big.kith"
    tracemalloc.start()
    try:
        with open(path, "wb") as out:
            n = write_bundle(
                out,
                (record.replace(b"%06d", b"%06d" % i) for i in range(100_000)),
                A,
                origin(B),
                NOW,
            )
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        count, digest = 0, hashlib.sha256()
        with open(path, "rb") as inp:
            for page in read_bundle(inp, B, {origin(A)}):
                count += len(page)
                for line in page:
                    digest.update(line)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = hashlib.sha256()
    for i in range(100_000):
        expected.update(record.replace(b"%06d", b"%06d" % i))
    size = os.path.getsize(path)
    assert n == count == 100_000
    assert digest.digest() == expected.digest()
    assert size > 25_000_000
    assert write_peak < 8 * 1024 * 1024 and write_peak < size / 4, write_peak
    assert read_peak < 8 * 1024 * 1024 and read_peak < size / 4, read_peak


def test_reads_through_a_stream_that_returns_short_reads():
    class Dribble(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data, self.pos = data, 0

        def readable(self) -> bool:
            return True

        def readinto(self, buf) -> int:
            n = min(len(buf), 7, len(self.data) - self.pos)
            buf[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    lines = sample(40)
    data = make(lines, frame_bytes=2048)
    pages = read_bundle(Dribble(data), B, {origin(A)})
    assert [line for page in pages for line in page] == lines


def test_independent_reader_from_the_documented_format():
    """Decrypt and verify a bundle with nothing but the layout in PROTOCOL.md."""
    lines = sample(30)
    data = make(lines, frame_bytes=2000)
    header_line, frames = split(data)
    header = json.loads(header_line)
    assert rfc8785.dumps(header) + b"\n" == header_line
    assert sorted(header) == ["created", "eph", "format", "from", "to"]
    scalar = hashlib.sha512(B.private_bytes_raw()).digest()[:32]
    own = X25519PrivateKey.from_private_bytes(scalar)
    eph = records.unb64url(header["eph"])
    shared = own.exchange(X25519PublicKey.from_public_bytes(eph))
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=eph + own.public_key().public_bytes_raw(),
        info=b"kith/bundle/v1 key\n" + hashlib.sha256(header_line).digest(),
    ).derive(shared)
    sender = Ed25519PublicKey.from_public_bytes(records.unb64url(header["from"]))
    running = hashlib.sha256(header_line)
    plain = b""
    for index, frame in enumerate(frames):
        head, sealed, sig = frame[:5], frame[5:-64], frame[-64:]
        assert head[0] == (1 if index == len(frames) - 1 else 0)
        running.update(head + sealed)
        sender.verify(sig, b"kith/bundle/v1\n" + running.digest())
        plain += ChaCha20Poly1305(key).decrypt(index.to_bytes(12, "big"), sealed, head)
    assert plain == b"".join(line + b"\n" for line in lines)
    assert len(frames) > 3


# --- refusals --------------------------------------------------------------------------


def test_bundle_for_another_box_is_refused_before_anything_is_read():
    data = make([b"{}"], to=C)
    with pytest.raises(BundleError) as info:
        read_bundle(io.BytesIO(data), B, {origin(A)})  # the call itself, not the iteration
    assert info.value.code == "wrong_recipient"
    assert "for another box" in str(info.value) and origin(C) in str(info.value)
    assert info.value.header["to"] == origin(C)


def test_untrusted_sender_is_refused():
    data = make([b"{}"], sender=MALLORY)
    err = refusal(data, trusted={origin(A), origin(C)})
    assert err.code == "untrusted" and origin(MALLORY) in str(err)
    assert refusal(make([b"{}"]), trusted=set()).code == "untrusted"


def test_a_bundle_forged_in_a_trusted_boxs_name_is_refused():
    """Anyone can encrypt to B; only A can sign as A."""
    eph = X25519PrivateKey.generate()
    eph_public = eph.public_key().public_bytes_raw()
    recipient_x = bundle.x25519_public_from_ed25519(B.public_key().public_bytes_raw())
    header = {
        "created": NOW,
        "eph": records.b64url(eph_public),
        "format": "kith-bundle/1",
        "from": origin(A),
        "to": origin(B),
    }
    line = rfc8785.dumps(header) + b"\n"
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_x))
    cipher = bundle._frame_cipher(shared, eph_public, recipient_x, line)
    out = io.BytesIO()
    bundle._write_frames(out, [b'{"evil":1}'], line, cipher, MALLORY, bundle.FRAME_BYTES)
    err = refusal(out.getvalue())
    assert err.code == "tampered"


def test_every_single_byte_flip_is_refused():
    lines = [b'{"a":1}', b'{"b":"two"}', b'{"c":[3]}', b'{"d":4}']
    data = make(lines, frame_bytes=16)  # one record a frame
    assert len(split(data)[1]) == 4
    codes = set()
    for pos in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[pos] ^= mask
            seen: list[bytes] = []
            with pytest.raises(BundleError) as info:
                for page in read_bundle(io.BytesIO(bytes(damaged)), B, {origin(A)}):
                    seen.extend(page)
            codes.add(info.value.code)
            # whatever was yielded before the refusal is exactly what A wrote
            assert seen == lines[: len(seen)] and len(seen) < len(lines)
    assert "tampered" in codes


def test_truncation_at_every_offset_is_refused():
    lines = sample(12)
    data = make(lines, frame_bytes=1500)
    assert len(split(data)[1]) > 2
    for cut in range(1, len(data)):
        seen: list[bytes] = []
        with pytest.raises(BundleError) as info:
            for page in read_bundle(io.BytesIO(data[:cut]), B, {origin(A)}):
                seen.extend(page)
        assert info.value.code == "truncated", cut
        assert "incomplete" in str(info.value)
        assert seen == lines[: len(seen)] and len(seen) < len(lines)


def test_truncated_empty_bundle_is_refused():
    data = make([])
    for cut in range(1, len(data)):
        assert refusal(data[:cut]).code == "truncated"


def test_frames_swapped_dropped_duplicated_or_spliced_are_refused():
    lines = sample(40)
    data = make(lines, frame_bytes=2048)
    header, frames = split(data)
    assert len(frames) >= 4
    f = frames
    variants = {
        "swapped": [f[1], f[0], *f[2:]],
        "dropped": [f[0], *f[2:]],
        "duplicated": [f[0], f[0], *f[1:]],
        "last two swapped": [*f[:-2], f[-1], f[-2]],
        "last dropped": f[:-1],
    }
    for name, frames_ in variants.items():
        err = refusal(header + b"".join(frames_))
        assert err.code in ("tampered", "truncated"), name
    # the final frame flag set on a shortened bundle
    cut = bytearray(f[-2])
    cut[0] = 1
    assert refusal(header + b"".join([*f[:-2], bytes(cut)])).code == "tampered"
    # frames from another bundle between the same two boxes
    other_header, other = split(make(lines, frame_bytes=2048))
    assert refusal(header + b"".join([f[0], *other[1:]])).code == "tampered"
    assert refusal(other_header + b"".join(f)).code == "tampered"


def test_appended_data_is_refused():
    for lines in ([], [b"{}"], sample(20)):
        data = make(lines)
        for extra in (b"\0", b"x", b"\n", data):
            err = refusal(data + extra)
            assert err.code == "tampered" and "extra data" in str(err)


def test_empty_file_is_refused():
    err = refusal(b"")
    assert err.code == "not_bundle" and "empty" in str(err)
    with pytest.raises(BundleError):
        bundle_header(io.BytesIO(b""))


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        bytes(range(256)) * 8,
        b"a" * 5000,
        b"{}\n",
        b"[1,2,3]\n",
        b"\xff\xfe{}\n",
        b'{"format":"kith-log/1"}\n',
        b"hello, world\n",
        b"PK\x03\x04" + os.urandom(300),
    ],
)
def test_a_file_that_is_not_a_bundle_is_refused(data):
    err = refusal(data)
    assert err.code == "not_bundle" and "not a Kith bundle" in str(err)


def test_a_records_export_is_not_a_bundle():
    unsigned = {
        "v": 1,
        "origin": origin(A),
        "seq": 1,
        "prev": None,
        "hlc": [NOW, 0],
        "author": None,
        "kind": "centre.created",
        "subject": None,
        "scope": "federation",
        "body": {"name": "Millbrook", "timezone": "Europe/London"},
    }
    export = records.encode(records.sign(unsigned, A)) + b"\n"
    assert refusal(export).code == "not_bundle"


def test_a_newer_format_is_refused_as_unsupported():
    header, frames = split(make([b"{}"]))
    fields = json.loads(header)
    fields["format"] = "kith-bundle/2"
    err = refusal(rfc8785.dumps(fields) + b"\n" + b"".join(frames))
    assert err.code == "version" and "newer version of Kith" in str(err)
    with pytest.raises(BundleError):
        bundle_header(io.BytesIO(rfc8785.dumps(fields) + b"\n"))


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h.update(created=-1),
        lambda h: h.update(created="now"),
        lambda h: h.update(created=2**60),
        lambda h: h.update(created=1.5),
        lambda h: h.update(to=None),
        lambda h: h.update(eph=records.b64url(bytes(31))),
        lambda h: h.update(eph="short"),
        lambda h: h.update(extra=1),
        lambda h: h.pop("eph"),
    ],
)
def test_a_malformed_header_is_refused(change):
    header, frames = split(make([b"{}"]))
    fields = json.loads(header)
    change(fields)
    line = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    err = refusal(line.encode() + b"\n" + b"".join(frames))
    assert err.code == "tampered"


def test_a_non_canonical_header_is_refused():
    header, frames = split(make([b"{}"]))
    spaced = json.dumps(json.loads(header)).encode() + b"\n"
    assert refusal(spaced + b"".join(frames)).code == "tampered"
    nan = header.replace(b'"created":%d' % NOW, b'"created":NaN')
    assert refusal(nan + b"".join(frames)).code == "tampered"
    nested = b"[" * 600 + b"]" * 600 + b"\n"
    assert refusal(nested).code == "not_bundle"


def test_writer_refuses_bad_input():
    for lines in ([b""], [b"a\nb"], [b"\n"]):
        with pytest.raises(BundleError) as info:
            write_bundle(io.BytesIO(), lines, A, origin(B), NOW)
        assert info.value.code == "bad_input"
    with pytest.raises(BundleError):
        write_bundle(io.BytesIO(), [b"x" * 10], A, origin(B), NOW, frame_bytes=8)
    for bad_origin in ("nope", "", "A" * 43 + "="):
        with pytest.raises(BundleError):
            write_bundle(io.BytesIO(), [], A, bad_origin, NOW)
    for bad_time in (-1, 2**53, True, 1.0):
        with pytest.raises(BundleError):
            write_bundle(io.BytesIO(), [], A, origin(B), bad_time)
    with pytest.raises(BundleError):
        write_bundle(io.BytesIO(), [], A, origin(B), NOW, frame_bytes=bundle.FRAME_BYTES + 1)


def test_an_interrupted_write_leaves_a_truncated_bundle():
    def lines():
        yield from sample(30)
        raise OSError("stick removed")

    out = io.BytesIO()
    with pytest.raises(OSError):
        write_bundle(out, lines(), A, origin(B), NOW, frame_bytes=1024)
    assert refusal(out.getvalue()).code == "truncated"
