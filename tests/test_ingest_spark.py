"""The Spark side of ingestion: one task per file, the combined stream split, repeated record ids."""
from crawlaudit.ingest import wet as ingest
from crawlaudit.config import InputConfig
from tests.wet import good_file, record

SNAP = "CC-MAIN-2024-22"


def test_read_wet_splits_documents_errors_and_files(spark, tmp_path):
    good_file(tmp_path / "a.warc.wet.gz", 4)
    # b.warc.wet.gz: a record repeating a's record id 2, two new records, then garbage
    (tmp_path / "b.warc.wet.gz").write_bytes(record(2) + record(10) + record(11) + b"\xde\xad" * 30)
    (tmp_path / "c.warc.wet.gz").write_bytes(b"")
    parsed, n_files = ingest.read_wet(spark, InputConfig(paths=str(tmp_path)), SNAP)
    docs, errors, files = ingest.split_ingested(parsed)
    assert n_files == 3
    got = docs.select("url", "file", "year").collect()
    assert sorted(r.url for r in got) == sorted(
        [f"https://www.example{i % 3}.com/page/{i}" for i in (0, 1, 2, 3, 10, 11)])
    assert {r.year for r in got} == {2024}
    kept_2 = [r for r in got if r.url.endswith("/page/2")]
    assert len(kept_2) == 1 and kept_2[0].file.endswith("a.warc.wet.gz")  # first occurrence by (file, offset)
    assert sorted((r.error_kind, r.file.rsplit("/", 1)[1]) for r in errors.collect()) == [
        ("corrupt_gzip", "b.warc.wet.gz"), ("duplicate_record_id", "b.warc.wet.gz"), ("not_warc", "c.warc.wet.gz")]
    assert sorted((r.file.rsplit("/", 1)[1], r.n_records) for r in files.collect()) == [
        ("a.warc.wet.gz", 4), ("b.warc.wet.gz", 4), ("c.warc.wet.gz", 0)]


def test_reading_logs_files_done_and_rates(spark, tmp_path, caplog):
    """Progress of the read: the tasks' counters reach the driver as files finish (#9: files done / total, docs/s)."""
    import logging

    from crawlaudit.ingest import progress

    for i in range(3):
        good_file(tmp_path / f"f{i}.warc.wet.gz", 5 + i, start=100 * i)
    counters = progress.FileCounters(spark)
    parsed, n_files = ingest.read_wet(spark, InputConfig(paths=str(tmp_path)), SNAP, counters=counters)
    with caplog.at_level(logging.INFO, logger="crawlaudit.ingest.progress"):
        # parsed is not persisted here, so the split reads every file twice: each still counts once
        with progress.FileProgress(counters, SNAP, n_files, interval_s=0.05):
            n_docs = ingest.split_ingested(parsed)[0].count()
    files, docs, n_bytes = counters.values()
    assert (files, docs, n_docs) == (3, 5 + 6 + 7, 18)
    assert n_bytes == sum(p.stat().st_size for p in tmp_path.iterdir())
    last = [r.getMessage() for r in caplog.records][-1]
    assert last.startswith(f"{SNAP}: read 3/3 files, 18 documents") and "docs/s" in last and "MB/s" in last
