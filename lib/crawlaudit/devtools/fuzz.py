"""Mutations of valid WET files, with the oracle each mutation implies (used by tests and scripts/fuzz_ingest.py).

A mutant is built from a list of good records (one gzip member each). Each mutation knows which original
records it leaves untouched; the invariants checked on ``ingest.parse_file``'s output are:

1. no exception escapes, and the file finishes within a time bound;
2. every untouched record is read, with its exact text;
3. every document read is an original record with its original text, unless the mutation rewrote a
   header inside a valid member (then the document is legitimately different data);
4. when the mutation damaged anything, at least one error row is reported, and every original record
   that is in the file but not read is matched by an error row (nothing vanishes silently).
"""
from __future__ import annotations

import gzip
import random
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from crawlaudit.devtools.corpus import wet_record
from crawlaudit.ingest.language import SOURCES as LANGUAGE_SOURCES

LANGUAGE_RE = re.compile(r"^[a-z]{3}$")

DATE = datetime(2024, 5, 18, 1, 58, 10, tzinfo=timezone.utc)
BIG_RECORD_BYTES = 200 << 20


@dataclass
class Original:
    record_id: str
    url: str
    text: str
    member: bytes


@dataclass
class Mutant:
    kind: str
    data: bytes
    untouched: set[str]           # record ids whose member is byte-identical and complete
    present: set[str]             # record ids whose member (possibly damaged) is still in the file
    damaged: bool                 # the mutation can make the reader report an error
    rewrites_headers: bool = False
    extra: dict = field(default_factory=dict)


def originals(rng: random.Random, n: int) -> list[Original]:
    out = []
    for i in range(n):
        words = " ".join(rng.choice(("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa")) for _ in range(rng.randint(5, 60)))
        rid = f"<urn:uuid:00000000-0000-4000-8000-{rng.getrandbits(40):012x}>"
        url = f"https://site{i % 4}.example.org/p/{i}"
        text = f"Record {i}. {words}."
        out.append(Original(rid, url, text, wet_record(url, DATE, rid, text)))
    return out


def _offsets(recs: list[Original]) -> list[int]:
    offs, pos = [], 0
    for r in recs:
        offs.append(pos)
        pos += len(r.member)
    return offs


def _ids(recs) -> set[str]:
    return {r.record_id for r in recs}


def _rebuild(recs: list[Original], k: int, member: bytes) -> bytes:
    return b"".join(member if i == k else r.member for i, r in enumerate(recs))


def _raw(r: Original) -> bytes:
    return gzip.decompress(r.member)


def _member(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def _replace_header(raw: bytes, name: bytes, new_line: bytes | None) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    out = [l for l in lines if not l.startswith(name + b":")]
    if new_line is not None:
        out.insert(2, new_line)
    return b"\r\n".join(out) + sep + body


def m_truncate(rng, recs):
    data = b"".join(r.member for r in recs)
    cut = rng.randrange(1, len(data))
    offs = _offsets(recs) + [len(data)]
    untouched = {r.record_id for r, end in zip(recs, offs[1:]) if end <= cut}
    present = {r.record_id for r, start in zip(recs, offs) if start < cut}
    return Mutant("truncate", data[:cut], untouched, present, damaged=cut not in offs)


def m_flip_in_member(rng, recs):
    k = rng.randrange(len(recs))
    m = bytearray(recs[k].member)
    for _ in range(rng.randint(1, 8)):
        m[rng.randrange(10, len(m))] ^= rng.randrange(1, 256)  # past the gzip header: data, CRC or length
    return Mutant("flip_in_member", _rebuild(recs, k, bytes(m)), _ids(recs) - {recs[k].record_id}, _ids(recs),
                  damaged=True)


def m_flip_in_header(rng, recs):
    k = rng.randrange(len(recs))
    raw = bytearray(_raw(recs[k]))
    end = raw.find(b"\r\n\r\n")
    for _ in range(rng.randint(1, 4)):
        raw[rng.randrange(0, end)] ^= rng.randrange(1, 256)
    return Mutant("flip_in_header", _rebuild(recs, k, _member(bytes(raw))), _ids(recs) - {recs[k].record_id},
                  _ids(recs), damaged=True, rewrites_headers=True)


def m_content_length(rng, recs):
    k = rng.randrange(len(recs))
    raw = _raw(recs[k])
    true_len = len(recs[k].text.encode())
    wrong = rng.choice([0, max(0, true_len - rng.randint(1, 20)), true_len + rng.randint(1, 50), 10 ** 12, -5])
    raw = _replace_header(raw, b"Content-Length", b"Content-Length: " + str(wrong).encode())
    return Mutant("content_length", _rebuild(recs, k, _member(raw)), _ids(recs) - {recs[k].record_id}, _ids(recs),
                  damaged=True, rewrites_headers=True)


def m_missing_header(rng, recs):
    k = rng.randrange(len(recs))
    name = rng.choice([b"WARC-Target-URI", b"WARC-Date", b"WARC-Record-ID"])
    raw = _replace_header(_raw(recs[k]), name, None)
    return Mutant("missing_header", _rebuild(recs, k, _member(raw)), _ids(recs) - {recs[k].record_id}, _ids(recs),
                  damaged=True)


# WARC-Identified-Content-Language values and the header language each must give (None: not from the header;
# the detector's answer or "und")
LANGUAGE_HEADERS = [
    (b"", None), (b" ", None), (b",", None), (b"und", None), (b"zxx,eng", None), (b"e", None), (b"english", None),
    (b"\xff\xfe\x80garbage", None), (b"<script>", None), (b"12a", None), (b"x" * 5000, None),
    (b",".join([b"fra"] * 20), "fra"), (b"DEU,eng", "deu"), (b" spa , eng", "spa"), (b"en", "eng"), (b"qqq", "qqq"),
]


def m_language_header(rng, recs):
    k = rng.randrange(len(recs))
    value, expected = rng.choice(LANGUAGE_HEADERS)
    raw = _replace_header(_raw(recs[k]), b"WARC-Identified-Content-Language",
                          b"WARC-Identified-Content-Language: " + value)
    return Mutant("language_header", _rebuild(recs, k, _member(raw)), _ids(recs), _ids(recs), damaged=False,
                  extra={"language": (recs[k].record_id, expected)})


def m_bad_encoding(rng, recs):
    k = rng.randrange(len(recs))
    r = recs[k]
    body = rng.choice([r.text.encode("latin-1", "replace") + b"\xe9\xe8",
                       r.text.encode() + b"\xff\xfe\x00" + "日本".encode("shift_jis"),
                       r.text.encode("utf-16")])
    member = wet_record(r.url, DATE, r.record_id, body)
    return Mutant("bad_encoding", _rebuild(recs, k, member), _ids(recs) - {r.record_id}, _ids(recs), damaged=True)


def m_nul_bytes(rng, recs):
    k = rng.randrange(len(recs))
    r = recs[k]
    text = r.text[:5] + "\x00" * rng.randint(1, 50) + r.text[5:]
    member = wet_record(r.url, DATE, r.record_id, text)
    # NUL is valid UTF-8: the record is read, its text keeps the NULs (data, not damage)
    return Mutant("nul_bytes", _rebuild(recs, k, member), _ids(recs) - {r.record_id}, _ids(recs), damaged=False,
                  rewrites_headers=True, extra={"nul_text": (r.record_id, text)})


def m_empty_record(rng, recs):
    k = rng.randrange(len(recs))
    r = recs[k]
    member = wet_record(r.url, DATE, r.record_id, b"")
    return Mutant("empty_record", _rebuild(recs, k, member), _ids(recs) - {r.record_id}, _ids(recs), damaged=True)


_BIG = {}


def _big_member(r: Original) -> bytes:
    if "m" not in _BIG:  # 200 MB of text compresses to ~200 KB; build it once per process
        head = (b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: https://huge.example.org/\r\n"
                b"WARC-Date: 2024-05-18T01:58:10Z\r\nWARC-Record-ID: <urn:uuid:big>\r\n"
                b"Content-Length: %d\r\n\r\n" % BIG_RECORD_BYTES)
        c = zlib.compressobj(1, zlib.DEFLATED, 31)
        parts = [c.compress(head)]
        chunk = b"lorem ipsum dolor sit amet " * 40000
        written = 0
        while written < BIG_RECORD_BYTES:
            n = min(len(chunk), BIG_RECORD_BYTES - written)
            parts.append(c.compress(chunk[:n]))
            written += n
        parts.append(c.compress(b"\r\n\r\n") + c.flush())
        _BIG["m"] = b"".join(parts)
    return _BIG["m"]


def m_huge_record(rng, recs):
    k = rng.randrange(len(recs) + 1)
    member = _big_member(recs[0])
    data = b"".join(r.member for r in recs[:k]) + member + b"".join(r.member for r in recs[k:])
    return Mutant("huge_record", data, _ids(recs), _ids(recs), damaged=True)


def m_gzip_bomb(rng, recs):
    k = rng.randrange(len(recs) + 1)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # streamed, so the harness itself stays small
    zeros = b"\x00" * (1 << 20)
    bomb = c.compress(b"WARC/1.0\r\n") + b"".join(c.compress(zeros) for _ in range(rng.randint(20, 120))) + c.flush()
    data = b"".join(r.member for r in recs[:k]) + bomb + b"".join(r.member for r in recs[k:])
    return Mutant("gzip_bomb", data, _ids(recs), _ids(recs), damaged=True)


def m_not_gzip(rng, recs):
    data = rng.choice([b"<html><body>not a warc</body></html>" * 10, bytes(rng.getrandbits(8) for _ in range(500)),
                       b"PK\x03\x04" + b"\x00" * 100])
    if data[:3] == b"\x1f\x8b\x08":
        data = b"x" + data
    return Mutant("not_gzip", data, set(), set(), damaged=True)


def m_empty_file(rng, recs):
    return Mutant("empty_file", b"", set(), set(), damaged=True)


def m_duplicate_ids(rng, recs):
    # Within one file both occurrences are read by parse_file; the Spark step keeps the first (tested apart).
    k = rng.randrange(len(recs))
    data = b"".join(r.member for r in recs) + recs[k].member
    return Mutant("duplicate_ids", data, _ids(recs), _ids(recs), damaged=False, extra={"repeated": recs[k].record_id})


def m_garbage_between(rng, recs):
    k = rng.randrange(1, len(recs)) if len(recs) > 1 else 1
    junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))).replace(b"\x1f\x8b", b"\x1f\x00")
    data = b"".join(r.member for r in recs[:k]) + junk + b"".join(r.member for r in recs[k:])
    return Mutant("garbage_between", data, _ids(recs), _ids(recs), damaged=True)


MUTATIONS = {
    "truncate": m_truncate, "flip_in_member": m_flip_in_member, "flip_in_header": m_flip_in_header,
    "content_length": m_content_length, "missing_header": m_missing_header, "bad_encoding": m_bad_encoding,
    "nul_bytes": m_nul_bytes, "empty_record": m_empty_record, "huge_record": m_huge_record,
    "gzip_bomb": m_gzip_bomb, "not_gzip": m_not_gzip, "empty_file": m_empty_file,
    "duplicate_ids": m_duplicate_ids, "garbage_between": m_garbage_between, "language_header": m_language_header,
}
EXPENSIVE = {"huge_record", "gzip_bomb"}


def make_mutant(seed: int, kind: str | None = None, cheap_only: bool = False) -> tuple[list[Original], Mutant]:
    rng = random.Random(seed)
    recs = originals(rng, rng.randint(1, 12))
    kinds = [k for k in MUTATIONS if not (cheap_only and k in EXPENSIVE)]
    kind = kind or rng.choice(kinds)
    return recs, MUTATIONS[kind](rng, recs)


def check(recs: list[Original], mutant: Mutant, rows: list[dict], elapsed: float, time_bound: float) -> list[str]:
    """The invariants broken by ``rows`` (empty when all hold)."""
    problems = []
    if elapsed > time_bound:
        problems.append(f"took {elapsed:.1f}s > {time_bound}s")
    docs = [r for r in rows if r["row_kind"] == "doc"]
    errors = [r for r in rows if r["row_kind"] == "error"]
    by_id = {r.record_id: r for r in recs}
    read = {}
    for d in docs:
        read.setdefault(d["record_id"], []).append(d)
    for rid in mutant.untouched:
        got = read.get(rid)
        if not got or got[0]["text"] != by_id[rid].text or got[0]["url"] != by_id[rid].url:
            problems.append(f"untouched record {rid} not read intact")
    for d in docs:
        o = by_id.get(d["record_id"])
        if o is None or d["text"] != o.text:
            allowed = mutant.rewrites_headers or mutant.extra.get("nul_text", (None,))[0] == d["record_id"]
            if not allowed:
                problems.append(f"document {d['record_id']} is not an original record")
    for d in docs:
        if not LANGUAGE_RE.match(d.get("language") or "") or d.get("language_source") not in LANGUAGE_SOURCES:
            problems.append(f"document {d['record_id']}: language {d.get('language')!r} "
                            f"from {d.get('language_source')!r}")
    if "language" in mutant.extra:
        rid, expected = mutant.extra["language"]
        got = [(d["language"], d["language_source"]) for d in read.get(rid, [])]
        if len(got) != 1 or (expected and got[0] != (expected, "header")) or (not expected and got[0][1] == "header"):
            problems.append(f"language header of {rid}: read as {got}, expected {expected or 'no header language'}")
    if not errors and mutant.kind in ("not_gzip", "empty_file"):
        problems.append("damage reported no error")
    lost = {rid for rid in mutant.present if rid not in read}
    renamed = sum(1 for d in docs if d["record_id"] not in by_id) if mutant.rewrites_headers else 0
    if len(lost) > len(errors) + renamed:
        problems.append(f"{len(lost)} records lost but only {len(errors)} errors")
    return problems


def run_one(parse, seed: int, kind: str | None = None, time_bound: float = 30.0, cheap_only: bool = False):
    """Build mutant ``seed``, parse it with ``parse(bytes) -> rows``; return (kind, problems, error kinds)."""
    recs, mutant = make_mutant(seed, kind, cheap_only)
    t = time.monotonic()
    try:
        rows = list(parse(mutant.data))
    except Exception as e:  # a crash is exactly what the harness looks for
        return mutant.kind, [f"crash: {type(e).__name__}: {e}"], []
    problems = check(recs, mutant, rows, time.monotonic() - t, time_bound)
    return mutant.kind, problems, [r["error_kind"] for r in rows if r["row_kind"] == "error"]
