"""The record format against sync/PROTOCOL.md: test vectors, kinds table, strict parsing."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from boxes import new_box, record_count, trust
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kithtest import Clock
from recordmaker import BASE_MS, Origin

from appliance.kinds import KINDS, check_body
from appliance.models import Category, Centre
from appliance.records import (
    MAX_RECORD_BYTES,
    RecordError,
    b64url,
    canonical,
    encode,
    parse,
    public_key_text,
    record_id,
    sign,
)

PROTOCOL = Path(__file__).resolve().parents[2] / "sync" / "PROTOCOL.md"


def protocol_text() -> str:
    return PROTOCOL.read_text(encoding="utf-8")


def vectors() -> dict[str, str]:
    """Return the labelled test-vector blocks of PROTOCOL.md, label -> content."""
    blocks = re.findall(r"^```vector:(\S+)\n(.*?)\n```$", protocol_text(), re.M | re.S)
    return dict(blocks)


VECTORS = vectors()
KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["seed"]))
RECORD_NUMBERS = sorted({label.split(":")[0] for label in VECTORS if ":" in label})


def raw_b64(text: str) -> bytes:
    """Decode base64url leniently (ignoring unused bits), as a reference."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vector_line() -> str:
    return VECTORS["1:wire"]


def test_protocol_has_every_vector_block():
    assert RECORD_NUMBERS == ["1", "2"]
    for n in RECORD_NUMBERS:
        for part in ("canonical", "id", "sig", "wire"):
            assert f"{n}:{part}" in VECTORS, f"record {n} has no {part} block"
    assert bytes.fromhex(VECTORS["seed"]) == bytes(range(32))


def test_origin_is_the_public_key_of_the_seed():
    assert public_key_text(KEY) == VECTORS["origin"]


@pytest.mark.parametrize("n", RECORD_NUMBERS)
def test_vector_matches_the_code(n):
    canonical_bytes = VECTORS[f"{n}:canonical"].encode("utf-8")
    unsigned = json.loads(canonical_bytes)
    assert unsigned["origin"] == VECTORS["origin"]
    assert "sig" not in unsigned
    assert canonical(unsigned) == canonical_bytes
    assert record_id(unsigned) == VECTORS[f"{n}:id"]
    signed = sign(unsigned, KEY)
    assert signed["sig"] == VECTORS[f"{n}:sig"]
    assert encode(signed) == VECTORS[f"{n}:wire"].encode("utf-8")
    rec = parse(VECTORS[f"{n}:wire"])
    assert rec.id == VECTORS[f"{n}:id"]
    assert rec.raw == VECTORS[f"{n}:wire"].encode("utf-8")
    check_body(rec.fields)


def test_vectors_form_a_chain():
    first, second = parse(VECTORS["1:wire"]), parse(VECTORS["2:wire"])
    assert (first.seq, first.prev, first.subject) == (1, None, None)
    assert (second.seq, second.prev, second.subject) == (2, first.id, first.id)
    assert first.kind == "centre.created"
    # The second vector carries a non-ASCII character written as raw UTF-8.
    assert "café".encode() in second.raw


def test_vectors_are_accepted_by_a_box(tmp_path):
    box = new_box(tmp_path / "box", Clock(BASE_MS))
    trust(box, VECTORS["origin"])
    before = record_count()
    result = box.log.ingest([VECTORS["1:wire"] + "\n", VECTORS["2:wire"] + "\n"])
    assert result.ok, result.rejected
    assert result.accepted == [VECTORS["1:id"], VECTORS["2:id"]]
    assert record_count() == before + 2
    assert Centre.get(Centre.origin == VECTORS["origin"]).name == "Millbrook Community Centre"
    food = Category.get((Category.origin == VECTORS["origin"]) & (Category.slug == "food"))
    assert (food.label, food.active) == ("Food and café", True)


# --- the kinds table of PROTOCOL.md ---------------------------------------------------


def kinds_table() -> dict[str, dict]:
    """Return the kinds table of PROTOCOL.md: kind -> entity, creates, body field names."""
    rows = {}
    for line in protocol_text().splitlines():
        m = re.match(r"^\| `([a-z_.]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \|([^|]+)\|([^|]+)\|$", line)
        if not m:
            continue
        kind, entity, subject, body, who, scope = (g.strip() for g in m.groups())
        rows[kind] = {
            "entity": entity,
            "creates": subject.startswith("null"),
            "body": set(re.findall(r"`(\w+)`:", body)),
            "who": who,
            "scope": scope,
        }
    return rows


def test_protocol_documents_every_kind_exactly():
    table = kinds_table()
    assert sorted(table) == sorted(KINDS)
    for name, kind in KINDS.items():
        row = table[name]
        assert row["entity"] == kind.entity, name
        assert row["creates"] == kind.creates, name
        assert row["body"] == set(kind.body), name
        assert row["who"], name
        assert row["scope"] in ("federation", "local"), name


# --- tampering -------------------------------------------------------------------------


def test_flipped_byte_in_the_body_is_refused():
    line = vector_line()
    tampered = line.replace("Millbrook", "Millbrooc")
    assert tampered != line
    with pytest.raises(RecordError, match="signature does not verify"):
        parse(tampered)


def test_flipped_character_in_the_signature_is_refused():
    line = vector_line()
    sig = VECTORS["1:sig"]
    # The first character carries six bits of the signature, so this changes its bytes.
    other = ("B" if sig[0] != "B" else "C") + sig[1:]
    assert raw_b64(other) != raw_b64(sig)
    with pytest.raises(RecordError, match="signature does not verify"):
        parse(line.replace(sig, other))


def test_signature_of_another_key_is_refused():
    line = vector_line()
    unsigned = {k: v for k, v in json.loads(line).items() if k != "sig"}
    forged = sign(unsigned, Origin("mallory").key)
    with pytest.raises(RecordError, match="signature does not verify"):
        parse(encode(forged))


def test_signature_without_the_prefix_is_refused():
    unsigned = {k: v for k, v in json.loads(vector_line()).items() if k != "sig"}
    bare = KEY.sign(canonical(unsigned))
    with pytest.raises(RecordError, match="signature does not verify"):
        parse(encode({**unsigned, "sig": b64url(bare)}))


def test_non_canonical_base64url_signature_is_refused():
    sig = VECTORS["1:sig"]
    # 64 bytes need 86 characters; the last one has 4 unused bits. 'x' differs from
    # 'w' only in those bits, so it decodes to the same signature bytes.
    assert sig[-1] == "w"
    alias = sig[:-1] + "x"
    assert raw_b64(alias) == raw_b64(sig)
    with pytest.raises(RecordError):
        parse(vector_line().replace(sig, alias))


# --- non-canonical and malformed variants ----------------------------------------------


def resigned(mutate) -> bytes:
    """Return a validly signed wire line of the vector record after mutate(unsigned)."""
    unsigned = {k: v for k, v in json.loads(vector_line()).items() if k != "sig"}
    mutate(unsigned)
    return encode(sign(unsigned, KEY))


def test_extra_whitespace_is_refused():
    line = vector_line()
    with pytest.raises(RecordError, match="not canonical"):
        parse(line.replace('"seq":1,', '"seq": 1,'))
    with pytest.raises(RecordError, match="not canonical"):
        parse(" " + line)


def test_trailing_newline_is_allowed_but_not_other_whitespace():
    assert parse(vector_line() + "\n").id == VECTORS["1:id"]
    with pytest.raises(RecordError, match="not canonical"):
        parse(vector_line() + " \n")


def test_different_key_order_is_refused():
    rec = json.loads(vector_line())
    reordered = json.dumps({"v": rec.pop("v"), **rec}, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(reordered) == json.loads(vector_line())
    with pytest.raises(RecordError, match="not canonical"):
        parse(reordered)


def test_integer_written_as_float_is_refused():
    line = vector_line().replace('"seq":1,', '"seq":1.0,')
    with pytest.raises(RecordError, match="floats are not allowed"):
        parse(line)
    with pytest.raises(RecordError, match="floats are not allowed"):
        parse(vector_line().replace("[1767225600000,0]", "[1.7672256e12,0]"))


def test_escaped_character_that_rfc8785_writes_raw_is_refused():
    line = VECTORS["2:wire"].replace("café", "caf\\u00e9")
    assert json.loads(line) == json.loads(VECTORS["2:wire"])
    with pytest.raises(RecordError, match="not canonical"):
        parse(line)


def test_duplicate_key_is_refused():
    line = vector_line().replace('"v":1}', '"v":1,"v":1}')
    with pytest.raises(RecordError, match="duplicate key"):
        parse(line)
    body_dup = vector_line().replace('"body":{', '"body":{"name":"X",')
    with pytest.raises(RecordError, match="duplicate key"):
        parse(body_dup)


def test_non_nfc_string_is_refused():
    def decompose(rec):
        rec["body"]["name"] = "Cafe\u0301 Centre"  # e + combining acute: NFD

    with pytest.raises(RecordError, match="not NFC"):
        parse(resigned(decompose))


def test_missing_field_is_refused():
    with pytest.raises(RecordError, match="missing field"):
        parse(resigned(lambda rec: rec.pop("scope")))
    rec = json.loads(vector_line())
    del rec["sig"]
    with pytest.raises(RecordError, match="missing field.*sig"):
        parse(canonical(rec))


def test_unknown_field_is_refused():
    with pytest.raises(RecordError, match="unknown field.*colour"):
        parse(resigned(lambda rec: rec.update(colour="blue")))


def test_integer_beyond_2_53_is_refused():
    def big(value):
        return lambda rec: rec["body"].update(name="x", size=value)

    assert parse(resigned(big(2**53 - 1))).body["size"] == 2**53 - 1
    assert parse(resigned(big(-(2**53 - 1)))).body["size"] == -(2**53 - 1)
    line = vector_line().replace('"hlc":[1767225600000,0]', f'"hlc":[{2**53},0]')
    with pytest.raises(RecordError, match="outside"):
        parse(line)
    line = vector_line().replace('"hlc":[1767225600000,0]', f'"hlc":[1767225600000,{-(2**53)}]')
    with pytest.raises(RecordError):
        parse(line)


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda r: r.update(v=2), "unsupported format version"),
        (lambda r: r.update(v=True), "unsupported format version"),
        (lambda r: r.update(seq=0), "seq must be a positive integer"),
        (lambda r: r.update(prev="0" * 64), "prev must be null"),
        (lambda r: r.update(seq=2), "prev must be the id"),
        (lambda r: r.update(hlc=[1, 2, 3]), "hlc must be"),
        (lambda r: r.update(hlc=[-1, 0]), "hlc must be"),
        (lambda r: r.update(author="Alice"), "author must be null or a record id"),
        (lambda r: r.update(subject="A" * 64), "subject must be null or a record id"),
        (lambda r: r.update(kind="Centre.Created"), "kind must look like"),
        (lambda r: r.update(kind="centre"), "kind must look like"),
        (lambda r: r.update(scope="world"), "scope must be one of"),
        (lambda r: r.update(body=[]), "body must be an object"),
        (lambda r: r.update(origin="short"), "origin is not a public key"),
        (lambda r: r["body"].update(nämé="x"), "keys must be ASCII"),
    ],
)
def test_malformed_fields_are_refused(mutate, reason):
    with pytest.raises(RecordError, match=reason):
        parse(resigned(mutate))


@pytest.mark.parametrize(
    "text, reason",
    [
        (b"\xff\xfe", "not UTF-8"),
        ("[1,2]", "must be a JSON object"),
        ("{not json", "not JSON"),
        ('{"v":NaN}', "not JSON"),
        ("", "not JSON"),
    ],
)
def test_not_a_record_is_refused(text, reason):
    with pytest.raises(RecordError, match=reason):
        parse(text)


def test_oversized_record_is_refused():
    line = resigned(lambda rec: rec["body"].update(name="x" * MAX_RECORD_BYTES))
    with pytest.raises(RecordError, match="larger than"):
        parse(line)


def test_lone_surrogate_is_refused_as_a_record_error():
    line = vector_line().replace('"name":"Millbrook', '"name":"\\ud800Millbrook')
    with pytest.raises(RecordError):
        parse(line)


# --- the fast canonical check ----------------------------------------------------------

import rfc8785  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from appliance.records import _compact  # noqa: E402

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(max_codepoint=127), max_size=6), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), _json_values))
def test_the_fast_canonical_form_is_rfc8785_for_every_value_a_record_may_hold(obj):
    """parse() trusts json.dumps where values are ASCII-keyed, integral and float-free."""
    assert _compact(obj) == rfc8785.dumps(obj)
