"""The gate and the publication semantics: clean results pass and republish the same rows, planted violations block
publication and are named, conflicts are retried. Runs on copies of the end-to-end warehouse (tests/e2e.py); the
concurrency cases are in test_reruns."""
from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import functions as F

from crawlaudit.quality import gate as quality
from crawlaudit.errors import ValidationFailed
from crawlaudit.warehouse import Warehouse, tables
from tests.published import GATED, SNAP, copy_warehouse, frames, numbers, stage_and_validate, versions

def test_clean_results_pass_and_republish_the_same_rows(spark, gate, source, tmp_path):
    wh = copy_warehouse(source["wh"], tmp_path / "wh")
    pub, run = stage_and_validate(spark, gate, wh, frames(spark, wh))
    assert not quality.blocking(pub.outcomes) and run.counts["n_failed_critical"] == 0
    assert {o.table for o in pub.outcomes} >= {"domain_stats", "snapshot_stats", "year_stats", "consistency", "drift"}
    pub.publish()
    assert numbers(wh) == source["numbers"] and not Path(pub.staging).exists()


def _set(df, col, value, where=None):
    cond = F.lit(True) if where is None else where
    return df.withColumn(col, F.when(cond, value).otherwise(F.col(col)))


def _first_domain(df):
    return F.col("registered_domain") == df.orderBy("registered_domain").first()["registered_domain"]


# (label, tamper(frames) -> frames, n_docs_with_tokens delta, (table, expectation named in validation_results))
VIOLATIONS = [
    ("fraction 1.3", lambda f: {**f, "domain_stats": _set(f["domain_stats"], "exact_dup_frac", F.lit(1.3),
                                                          _first_domain(f["domain_stats"]))},
     ("domain_stats", "between[0,1]:exact_dup_frac")),
    ("duplicated key", lambda f: {**f, "domain_stats": f["domain_stats"].unionByName(
        f["domain_stats"].where(_first_domain(f["domain_stats"])))},
     ("domain_stats", "unique:snapshot,registered_domain")),
    ("null domain", lambda f: {**f, "domain_stats": _set(f["domain_stats"], "registered_domain",
                                                         F.lit(None).cast("string"), _first_domain(f["domain_stats"]))},
     ("domain_stats", "not_null:registered_domain")),
    ("interval lo > hi", lambda f: {**f, "domain_stats": _set(f["domain_stats"], "synthetic_ratio_lo",
                                                              F.col("synthetic_ratio_hi") + 0.1,
                                                              _first_domain(f["domain_stats"]))},
     ("domain_stats", "ordered:synthetic_ratio_lo<=synthetic_ratio")),
    ("wrong year", lambda f: {**f, "domain_stats": _set(f["domain_stats"], "year", F.lit(2020))},
     ("domain_stats", "year_matches_snapshot")),
    ("missing column", lambda f: {**f, "snapshot_stats": f["snapshot_stats"].drop("tail_mass")},
     ("snapshot_stats", "columns:set")),
    ("wrong type", lambda f: {**f, "snapshot_stats": _set(f["snapshot_stats"], "n_docs",
                                                          F.col("n_docs").cast("double"))},
     ("snapshot_stats", "columns:types")),
    ("counts that don't add up", lambda f: {**f, "snapshot_stats": _set(f["snapshot_stats"], "n_docs",
                                                                        F.col("n_docs") + 5)},
     ("consistency", "equal:domain_n_docs==snapshot_n_docs")),
    ("two snapshot_stats rows", lambda f: {**f, "snapshot_stats": f["snapshot_stats"].unionByName(
        f["snapshot_stats"])}, ("snapshot_stats", "row_count")),
    ("entropy above log2 of the budget", lambda f: {**f, "domain_stats": _set(
        f["domain_stats"], "entropy_bits", F.log2("entropy_budget_tokens") + 0.5, F.col("entropy_bits").isNotNull())},
     ("domain_stats", "entropy_within_log2_budget")),
    ("no documents", lambda f: {**f, "domain_stats": _set(f["domain_stats"], "n_docs", F.lit(0).cast("long"),
                                                          _first_domain(f["domain_stats"]))},
     ("domain_stats", "between[1,]:n_docs")),
    ("error fraction over the threshold", lambda f: {**f, "snapshot_stats": _set(f["snapshot_stats"], "error_frac",
                                                                                 F.lit(0.2))},
     ("snapshot_stats", "error_frac_under_threshold")),
    ("removable share above the near-dup share", lambda f: {**f, "domain_stats": _set(
        f["domain_stats"], "near_dup_removable_frac", F.col("near_dup_frac") + 0.05, F.col("near_dup_frac") < 0.9)},
     ("domain_stats", "ordered:near_dup_removable_frac<=near_dup_frac")),
    ("lost signatures", lambda f: {**f, "doc_signatures": f["doc_signatures"].limit(10)},
     ("consistency", "equal:n_signature_rows==n_docs_with_tokens")),
    ("lost document hashes", lambda f: {**f, "doc_hashes": f["doc_hashes"].limit(10)},
     ("consistency", "equal:n_hash_rows==snapshot_n_docs")),
    ("year fraction 1.3", lambda f: {**f, "year_stats": _set(f["year_stats"], "dup_line_frac", F.lit(1.3))},
     ("year_stats", "between[0,1]:dup_line_frac")),
]


@pytest.fixture(scope="module")
def clean(spark, source):
    f = frames(spark, source["wh"])
    return f, f["doc_signatures"].count()


@pytest.mark.parametrize("label,tamper,named", VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_planted_violation_blocks_publication(spark, gate, source, clean, label, tamper, named):
    wh = source["wh"]
    before = versions(wh)
    f, n_docs_with_tokens = clean
    with pytest.raises(ValidationFailed) as err:
        stage_and_validate(spark, gate, wh, tamper(f), n_docs_with_tokens=n_docs_with_tokens, staged=GATED)
    assert versions(wh) == before                                   # nothing published
    quarantine = Path(err.value.quarantine)
    assert quarantine.parent.name == SNAP and (quarantine / "domain_stats").is_dir()
    run_id = quarantine.name
    failed = [(r["table_name"], r["expectation"]) for r in Warehouse.at(wh).read_arrow("validation_results").to_pylist()
              if r["run_id"] == run_id and not r["success"] and r["severity"] == "critical"]
    assert named in failed, failed
    assert named[1] in str(err.value)


def test_conflicts_are_retried_and_other_errors_are_not(monkeypatch):
    from delta.exceptions import ConcurrentAppendException

    monkeypatch.setattr(tables.time, "sleep", lambda s: None)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentAppendException("Files were added to partition [snapshot=...] by a concurrent update")
        return "done"

    assert tables.retry_on_conflict(flaky, "test") == "done" and len(calls) == 3

    def broken():
        calls.append(1)
        raise ValueError("not a conflict")

    calls.clear()
    with pytest.raises(ValueError):
        tables.retry_on_conflict(broken, "test")
    assert len(calls) == 1


def test_validate_command_rechecks_published_data(spark, source, tmp_path, capsys):
    from crawlaudit import cli

    wh = copy_warehouse(source["wh"], tmp_path / "wh")
    assert cli.main(["validate", "--snapshot", SNAP, "--warehouse", wh, "--set", "quality.data_docs=false"]) == 0
    out = capsys.readouterr().out
    assert f"{SNAP}: " in out and " 0 critical" in out
    bad = frames(spark, wh)["domain_stats"]
    Warehouse.at(wh, spark).replace_snapshot(
        _set(bad, "exact_dup_frac", F.lit(1.3), _first_domain(bad)).localCheckpoint(), "domain_stats", SNAP)
    assert cli.main(["validate", "--table", "domain_stats", "--snapshot", SNAP, "--warehouse", wh]) == 1
    out = capsys.readouterr().out
    assert "CRITICAL domain_stats: between[0,1]:exact_dup_frac failed" in out and "data docs:" in out
    assert (Path(wh) / "_data_docs" / "index.html").is_file()
    recorded = [r for r in Warehouse.at(wh).read_arrow("validation_results").to_pylist()
                if r["run_id"].startswith("validate-") and not r["success"]]
    assert [r["expectation"] for r in recorded] == ["between[0,1]:exact_dup_frac"]
    assert cli.main(["validate", "--snapshot", "CC-MAIN-2030-01", "--warehouse", wh]) == 2
    assert "nothing published for CC-MAIN-2030-01" in capsys.readouterr().err


def test_data_docs_go_under_the_warehouse_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Warehouse.at("warehouse").data_docs_dir() == str(tmp_path / "warehouse" / "_data_docs")  # GE: absolute
    assert Warehouse.at("s3a://bucket/wh").data_docs_dir() is None
