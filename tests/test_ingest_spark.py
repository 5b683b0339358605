"""The Spark side of ingestion: one task per file, the combined stream split, repeated record ids."""
from crawlaudit import ingest
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
