"""Record-level ingestion without Spark: good files, every kind of damage, and the real CC samples."""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from crawlaudit.ingest import wet as ingest
from crawlaudit.config import HttpConfig, InputConfig
from tests.wet import DATE, good_file, raw_member, record

CC_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "cc_samples"


def parse(path, **cfg):
    rows = list(ingest.parse_file(str(path), "CC-MAIN-2024-22", InputConfig(**cfg)))
    docs = [r for r in rows if r["row_kind"] == "doc"]
    errors = [r for r in rows if r["row_kind"] == "error"]
    files = [r for r in rows if r["row_kind"] == "file"]
    assert len(files) == 1, "every file ends with exactly one file row"
    return docs, errors, files[0]


def kinds(errors):
    return sorted(e["error_kind"] for e in errors)


def test_good_file_yields_every_record_with_its_fields(tmp_path):
    f = tmp_path / "a.warc.wet.gz"
    texts = good_file(f, 5)
    docs, errors, file_row = parse(f)
    assert errors == []
    assert [d["text"] for d in docs] == texts
    assert file_row["n_records"] == 5 and file_row["n_bytes"] == f.stat().st_size
    d = docs[1]
    assert d["url"] == "https://www.example1.com/page/1"
    assert d["host"] == "www.example1.com" and d["registered_domain"] == "example1.com" and d["tld"] == "com"
    assert d["warc_date"] == DATE and d["language"] == "eng"
    assert d["n_chars"] == len(texts[1]) and d["n_tokens"] == 9 + 1  # "x" run counts as a token
    assert d["doc_id"] == ingest.make_doc_id("CC-MAIN-2024-22", "<urn:uuid:00000000-0000-4000-8000-000000000001>")
    assert len({x["doc_id"] for x in docs}) == 5


def test_doc_id_depends_on_snapshot_and_record_id_only():
    a = ingest.make_doc_id("CC-MAIN-2024-22", "<urn:uuid:1>")
    assert a == ingest.make_doc_id("CC-MAIN-2024-22", "<urn:uuid:1>")
    assert a != ingest.make_doc_id("CC-MAIN-2024-18", "<urn:uuid:1>")
    assert len(a) == 32 and int(a, 16) >= 0


def test_truncated_file_reports_truncation_and_keeps_earlier_records(tmp_path):
    good = b"".join(record(i) for i in range(4))
    last = record(4)
    f = tmp_path / "t.warc.wet.gz"
    f.write_bytes(good + last[: len(last) // 2])
    docs, errors, file_row = parse(f)
    assert len(docs) == 4
    assert kinds(errors) == ["truncated_gzip"]
    assert errors[0]["offset"] == len(good)
    assert file_row["n_records"] == 5


def test_garbage_between_members_is_one_error_and_later_records_survive(tmp_path):
    f = tmp_path / "g.warc.wet.gz"
    f.write_bytes(record(0) + b"\x00garbage\xff" * 50 + record(1) + record(2))
    docs, errors, _ = parse(f)
    assert [d["record_id"][-3:-1] for d in docs] == ["00", "01", "02"]
    assert kinds(errors) == ["corrupt_gzip"]


def test_flipped_bytes_inside_a_member_lose_only_that_record(tmp_path):
    members = [record(i) for i in range(5)]
    bad = bytearray(members[2])
    for k in range(20, len(bad) - 12, 7):
        bad[k] ^= 0x5A
    members[2] = bytes(bad)
    f = tmp_path / "f.warc.wet.gz"
    f.write_bytes(b"".join(members))
    docs, errors, _ = parse(f)
    assert sorted(d["url"] for d in docs) == sorted(f"https://www.example{i % 3}.com/page/{i}" for i in (0, 1, 3, 4))
    assert kinds(errors) == ["corrupt_gzip"]


def test_invalid_utf8_record_is_an_error_and_others_are_kept(tmp_path):
    f = tmp_path / "u.warc.wet.gz"
    f.write_bytes(record(0) + record(1, text=b"caf\xe9 au lait \xff\xfe") + record(2))
    docs, errors, file_row = parse(f)
    assert len(docs) == 2 and kinds(errors) == ["invalid_utf8"]
    assert errors[0]["record_id"].endswith("000000000001>")
    assert file_row["n_records"] == 3


def test_missing_headers_empty_and_oversized_records(tmp_path):
    no_uri = raw_member("WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n"
                        "WARC-Record-ID: <urn:uuid:x1>\r\nContent-Length: 5\r\n", b"hello")
    bad_date = raw_member("WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: https://a.org/\r\nWARC-Date: yesterday\r\n"
                          "WARC-Record-ID: <urn:uuid:x2>\r\nContent-Length: 5\r\n", b"hello")
    f = tmp_path / "h.warc.wet.gz"
    f.write_bytes(record(0) + no_uri + bad_date + record(1, text="  \n\t ") + record(2, text="word " * 400) + record(3))
    docs, errors, file_row = parse(f, max_record_bytes=1000)
    assert len(docs) == 2
    assert kinds(errors) == ["bad_header", "empty_record", "missing_header", "oversized_record"]
    assert file_row["n_records"] == 6


def test_gzip_bomb_is_skipped_quickly_with_bounded_memory(tmp_path):
    bomb_body = b"A" * (50 << 20)  # 50 MB of one byte: ~50 KB compressed
    bomb = gzip.compress(b"WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: 52428800\r\n\r\n" + bomb_body, mtime=0)
    f = tmp_path / "b.warc.wet.gz"
    f.write_bytes(record(0) + bomb + record(1))
    docs, errors, _ = parse(f, max_record_bytes=10_000)
    assert len(docs) == 2 and kinds(errors) == ["oversized_record"]


def test_content_length_beyond_the_member_is_a_truncated_record(tmp_path):
    lying = raw_member("WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: https://a.org/\r\n"
                       "WARC-Date: 2024-05-18T01:58:10Z\r\nWARC-Record-ID: <urn:uuid:x3>\r\nContent-Length: 500\r\n",
                       b"only a few bytes")
    f = tmp_path / "l.warc.wet.gz"
    f.write_bytes(record(0) + lying + record(1))
    docs, errors, _ = parse(f)
    assert len(docs) == 2 and kinds(errors) == ["truncated_record"]


@pytest.mark.parametrize("content, kind", [(b"", "not_warc"), (b"this is not gzip at all\n" * 10, "not_warc")])
def test_empty_and_non_gzip_files_are_file_errors(tmp_path, content, kind):
    f = tmp_path / "x.warc.wet.gz"
    f.write_bytes(content)
    docs, errors, file_row = parse(f)
    assert docs == [] and kinds(errors) == [kind] and file_row["n_records"] == 0


def test_missing_file_is_unreadable(tmp_path):
    docs, errors, _ = parse(tmp_path / "nope.warc.wet.gz")
    assert docs == [] and kinds(errors) == ["unreadable_file"]


def test_uncompressed_warc_is_read(tmp_path):
    f = tmp_path / "plain.warc"
    f.write_bytes(b"".join(gzip.decompress(record(i)) for i in range(3)))
    docs, errors, _ = parse(f)
    assert len(docs) == 3 and errors == []


def test_members_split_across_read_chunks_are_reassembled(tmp_path):
    f = tmp_path / "c.warc.wet.gz"
    texts = good_file(f, 20)
    rows = list(ingest.parse_file(str(f), "CC-MAIN-2024-22", InputConfig(http=HttpConfig(chunk_bytes=1024))))
    with open(f, "rb") as fh:
        members = list(ingest.iter_gzip_members(fh, 1 << 20, chunk=37))
    assert [m.error_kind for m in members] == [None] * 20
    assert len([r for r in rows if r["row_kind"] == "doc"]) == len(texts)


def test_inflater_reports_member_offsets():
    members = [record(i) for i in range(3)]
    data = b"".join(members)
    offsets = [m.offset for m in ingest.iter_gzip_members(io.BytesIO(data), 1 << 20)]
    assert offsets == [0, len(members[0]), len(members[0]) + len(members[1])]


@pytest.mark.skipif(not (CC_SAMPLES / "whirlwind_CC-MAIN-2024-22").is_dir(), reason="shared CC samples absent")
def test_genuine_common_crawl_wet_file_parses():
    docs, errors, file_row = parse(CC_SAMPLES / "whirlwind_CC-MAIN-2024-22" / "whirlwind.warc.wet.gz")
    assert errors == [] and len(docs) == 1 and file_row["n_records"] == 1
    d = docs[0]
    assert d["registered_domain"] == "wikipedia.org" and d["host"] == "an.wikipedia.org"
    assert d["language"] == "spa" and d["n_chars"] > 4000 and d["snapshot"] == "CC-MAIN-2024-22"


@pytest.mark.skipif(not (CC_SAMPLES / "resiliparse_CC-MAIN-2020-34").is_dir(), reason="shared CC samples absent")
def test_genuine_warc_with_no_conversion_records_yields_no_docs_and_no_errors():
    docs, errors, file_row = parse(CC_SAMPLES / "resiliparse_CC-MAIN-2020-34" / "warcfile.warc.gz")
    assert docs == [] and errors == [] and file_row["n_records"] == 0


def test_each_of_two_adjacent_corrupt_members_is_counted(tmp_path):
    members = [bytearray(record(i)) for i in range(4)]
    for m in (members[1], members[2]):
        for k in range(20, len(m) - 12, 5):
            m[k] ^= 0xA5
    f = tmp_path / "two.warc.wet.gz"
    f.write_bytes(b"".join(bytes(m) for m in members))
    docs, errors, file_row = parse(f)
    assert len(docs) == 2 and kinds(errors) == ["corrupt_gzip", "corrupt_gzip"]
    assert file_row["n_records"] == 4
