"""A few hundred fuzzed WET files through the ingest parser (scripts/fuzz_ingest.py runs thousands)."""
import collections

import pytest

from crawlaudit.devtools import fuzz
from crawlaudit.ingest import wet as ingest
from crawlaudit.config import InputConfig


@pytest.fixture()
def parse(tmp_path):
    path = tmp_path / "mutant.warc.wet.gz"
    cfg = InputConfig(max_record_bytes=1_000_000)

    def run(data: bytes):
        path.write_bytes(data)
        return list(ingest.parse_file(str(path), "CC-MAIN-2024-22", cfg))

    return run


def test_three_hundred_cheap_mutants_keep_every_invariant(parse):
    kinds, errors = collections.Counter(), collections.Counter()
    failures = []
    for seed in range(300):
        kind, problems, errs = fuzz.run_one(parse, seed, cheap_only=True, time_bound=10)
        kinds[kind] += 1
        errors.update(errs)
        if problems:
            failures.append((seed, kind, problems))
    assert failures == []
    assert set(kinds) == set(fuzz.MUTATIONS) - fuzz.EXPENSIVE
    for kind in ("corrupt_gzip", "truncated_gzip", "invalid_utf8", "missing_header", "empty_record", "not_warc"):
        assert errors[kind] > 0, kind


@pytest.mark.parametrize("kind", sorted(fuzz.EXPENSIVE))
def test_huge_records_and_gzip_bombs_are_skipped_in_bounded_time(parse, kind):
    for seed in range(2):
        got_kind, problems, errs = fuzz.run_one(parse, seed, kind=kind, time_bound=20)
        assert got_kind == kind and problems == [] and errs == ["oversized_record"]


@pytest.mark.parametrize("kind", sorted(set(fuzz.MUTATIONS) - fuzz.EXPENSIVE))
def test_the_oracle_catches_a_reader_that_drops_records(kind):
    """The harness must be able to fail: a parser that silently drops the first document is caught."""
    import tempfile, os

    path = os.path.join(tempfile.mkdtemp(), "m.warc.wet.gz")

    def lossy(data):
        with open(path, "wb") as f:
            f.write(data)
        rows = list(ingest.parse_file(path, "CC-MAIN-2024-22", InputConfig()))
        docs = [i for i, r in enumerate(rows) if r["row_kind"] == "doc"]
        return [r for i, r in enumerate(rows) if not docs or i != docs[0]]

    caught = [fuzz.run_one(lossy, seed, kind=kind)[1] for seed in range(40)]
    if kind in ("not_gzip", "empty_file"):
        assert all(p == [] for p in caught)  # nothing to drop
    else:
        assert any(p for p in caught)


def test_memory_stays_bounded_on_a_200_mb_record(tmp_path):
    """The 200 MB record is inflated in 1 MB steps and dropped past the cap: Python's peak stays far below it."""
    import tracemalloc

    recs, mutant = fuzz.make_mutant(1, kind="huge_record")
    path = tmp_path / "huge.warc.wet.gz"
    path.write_bytes(mutant.data)
    del mutant
    tracemalloc.start()
    rows = list(ingest.parse_file(str(path), "CC-MAIN-2024-22", InputConfig(max_record_bytes=1_000_000)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [r["error_kind"] for r in rows if r["row_kind"] == "error"] == ["oversized_record"]
    assert len([r for r in rows if r["row_kind"] == "doc"]) == len(recs)
    assert peak < 24 << 20, f"peak {peak / 2**20:.1f} MB"
