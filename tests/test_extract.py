"""Re-extraction (#19): a kept record read back on its own at its offset, locally and over HTTP with faults, and
every way it can fail becoming an error row (hand-made WET files; the e2e extraction is in test_curation)."""
import gzip

import pytest

from crawlaudit.config import HttpConfig, InputConfig
from crawlaudit.curation import extract
from crawlaudit.ingest.wet import make_doc_id
from tests.flaky_server import FlakyServer
from tests.wet import raw_member, record

SNAP = "CC-MAIN-2024-22"
FAST = InputConfig(http=HttpConfig(backoff_initial_s=0.001, backoff_max_s=0.005, max_retries=4))


def rid(i: int) -> str:
    return f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>"


@pytest.fixture
def wet(tmp_path):
    """A WET file of four records (one of them a long multi-chunk text); (path, offsets, texts)."""
    texts = {0: "first page", 1: "second page, é and 한국어 text", 2: "long " * 40_000, 3: "last page"}
    members = [record(i, text=t) for i, t in texts.items()]
    offsets = [sum(len(m) for m in members[:i]) for i in range(len(members))]
    path = tmp_path / "seg" / "f.warc.wet.gz"
    path.parent.mkdir()
    path.write_bytes(b"".join(members))
    return path, offsets, texts


def kept(path, offsets, which, snapshot=SNAP):
    return [{"snapshot": snapshot, "doc_id": make_doc_id(snapshot, rid(i)), "url": f"https://x/{i}",
             "registered_domain": "x", "language": "eng", "warc_file": str(path), "warc_offset": offsets[i],
             "warc_record_id": rid(i)} for i in which]


def test_records_are_read_at_their_offsets_byte_for_byte(wet):
    path, offsets, texts = wet
    rows = list(extract.extract_rows(kept(path, offsets, [3, 1, 2]), FAST))
    assert [r["row_kind"] for r in rows] == ["doc"] * 3
    assert [r["text"].encode() for r in rows] == [texts[i].encode() for i in (3, 1, 2)]
    assert rows[0]["url"] == "https://x/3" and rows[0]["warc_record_id"] == rid(3)


def test_a_changed_file_a_wrong_offset_and_a_missing_file_are_error_rows(wet, tmp_path):
    path, offsets, texts = wet
    wrong = kept(path, offsets, [0])
    wrong[0]["warc_offset"] = offsets[1]                      # another record sits there now
    inside = kept(path, offsets, [1])
    inside[0]["warc_offset"] = offsets[1] + 7                 # not the start of a member
    gone = kept(tmp_path / "nowhere.warc.wet.gz", offsets, [2])
    cut = tmp_path / "cut.warc.wet.gz"
    cut.write_bytes(path.read_bytes()[: offsets[3] - 20])     # the third record's member cut short
    truncated = kept(cut, offsets, [2])
    bad = tmp_path / "bad.warc.wet.gz"
    bad.write_bytes(raw_member("WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: 4", b"text"))
    headerless = kept(bad, [0], [0])
    rows = list(extract.extract_rows(wrong + inside + gone + truncated + headerless, FAST))
    assert [(r["row_kind"], r["error_kind"]) for r in rows] == [
        ("error", "record_mismatch"), ("error", "not_warc"), ("error", "unreadable_file"),
        ("error", "truncated_gzip"), ("error", "missing_header")]
    assert rid(1) in rows[0]["message"] and all(r["doc_id"] and r["warc_file"] for r in rows)


def test_an_uncompressed_warc_is_read_at_record_offsets(tmp_path):
    members = [gzip.decompress(record(i, text=f"plain {i}")) for i in range(3)]
    path = tmp_path / "plain.warc"
    path.write_bytes(b"".join(members))
    offsets = [sum(len(m) for m in members[:i]) for i in range(3)]
    rows = list(extract.extract_rows(kept(path, offsets, [2, 0]), FAST))
    assert [r.get("text") for r in rows] == ["plain 2", "plain 0"]


def test_ranged_reads_over_a_flaky_server_with_rebased_paths(wet):
    """The audit ran on a local copy; the records are read from a server that throttles and resets: each record is
    one ranged request (retried), and the texts are those of the local file."""
    path, offsets, texts = wet
    rel = "/seg/f.warc.wet.gz"
    with FlakyServer(path.parent.parent, per_path={rel: ["503", "reset", "429", "short", "ok", "reset"]}) as srv:
        rows = list(extract.extract_rows(kept(path, offsets, [0, 1, 2, 3]), FAST,
                                         {str(path.parent.parent) + "/": srv.url}))
        ranges = [r for p, r, _ in srv.requests if p == rel]
    assert [r["text"] for r in rows] == [texts[i] for i in range(4)]
    assert f"bytes={offsets[3]}-" in ranges and len(ranges) >= 4 + 5   # a range per record, faults retried
    with FlakyServer(path.parent.parent, per_path={rel: ["503"] * 10}) as srv:
        (row,) = extract.extract_rows(kept(path, offsets, [1]), FAST, {str(path.parent.parent) + "/": srv.url})
    assert row["error_kind"] == "fetch_failed" and "giving up after 4 retries" in row["message"]


def test_rebase_replaces_the_first_matching_prefix():
    rebase = {"/mnt/cc/": "https://data.commoncrawl.org/", "/mnt/": "s3://other/"}
    assert extract.rebased("/mnt/cc/crawl-data/a.gz", rebase) == "https://data.commoncrawl.org/crawl-data/a.gz"
    assert extract.rebased("/mnt/x.gz", rebase) == "s3://other/x.gz"
    assert extract.rebased("/elsewhere/x.gz", rebase) == "/elsewhere/x.gz"


def test_a_missing_export_is_one_line_before_spark_starts(tmp_path, capsys, monkeypatch):
    from crawlaudit import cli, session

    def no_spark(*a, **k):
        raise AssertionError("a Spark session was started")

    monkeypatch.setattr(session, "build", no_spark)
    assert cli.main(["extract", "--from", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere/curation: no export there; run crawlaudit export" in err[0]
