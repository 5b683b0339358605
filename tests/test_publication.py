"""The gate and the publication semantics: planted violations block publication and are named, a killed driver
leaves every table at its previous version, reruns and concurrent audits land without duplicates, with the
same numbers. Runs on copies of the end-to-end warehouse (tests/e2e.py)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from pyspark.sql import functions as F

from crawlaudit import pipeline
from crawlaudit.quality import gate as quality
from crawlaudit.config import QualityConfig
from crawlaudit.errors import ValidationFailed
from crawlaudit.warehouse import Warehouse, publish, tables
from tests.e2e import DAMAGED, ROOT

SNAP = "CC-MAIN-2021-31"
PUBLISHED = ("domain_stats", "snapshot_stats", "language_stats", "year_stats", "year_language_stats", "doc_signatures",
             "doc_hashes", "doc_scores", "token_samples", "ingest_errors", "content_hashes")
YEAR_TABLES = ("year_language_stats", "year_stats")


def copy_warehouse(src: str, dst: Path) -> str:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_data_docs", "_quarantine"))
    return str(dst)


def versions(wh: str) -> dict:
    return {t: Warehouse.at(wh).version(t) for t in PUBLISHED}


def numbers(wh: str) -> dict:
    """Every published table as sorted JSON rows without run ids: equal means same rows, same numbers."""
    return {t: sorted(json.dumps({k: v for k, v in r.items() if k != "run_id"}, sort_keys=True, default=str)
                      for r in Warehouse.at(wh).read_arrow(t).to_pylist()) for t in PUBLISHED}


@pytest.fixture(scope="module")
def gate():
    return quality.Gate(QualityConfig(data_docs=False))


@pytest.fixture(scope="module")
def source(audited, tmp_path_factory):
    """A copy of the end-to-end warehouse and its original numbers."""
    wh = copy_warehouse(audited["wh"], tmp_path_factory.mktemp("gate") / "wh")
    return {"wh": wh, "numbers": numbers(wh)}


def frames(spark, wh: str, snapshot: str = SNAP) -> dict:
    """A snapshot's published results, as the job stages them (materialized: later writes do not change them)."""
    out = {t: spark.read.format("delta").load(f"{wh}/{t}").where(F.col("snapshot") == snapshot)
           for t in ("domain_stats", "snapshot_stats", "language_stats", "doc_signatures", "doc_hashes", "doc_scores",
                     "token_samples", "ingest_errors")}
    out["content_hashes"] = spark.read.format("delta").load(f"{wh}/content_hashes").where(
        F.col("first_snapshot") == snapshot)
    for t in YEAR_TABLES:
        out[t] = spark.read.format("delta").load(f"{wh}/{t}").where(F.col("year") == int(snapshot[8:12]))
    return {t: df.localCheckpoint() for t, df in out.items()}


GATED = ("doc_signatures", "doc_hashes", "doc_scores", "domain_stats", "snapshot_stats", "language_stats")   # suites


def stage_and_validate(spark, gate, wh: str, f: dict, snapshot: str = SNAP, n_docs_with_tokens: int | None = None,
                       year_rows=None, staged=PUBLISHED):
    run = SimpleNamespace(run_id=str(uuid.uuid4()), counts={})
    pub = publish.Publication(Warehouse.at(wh, spark), run, snapshot, gate)
    for t in staged:
        if t not in YEAR_TABLES:
            pub.stage(t, f[t])
    n = f["doc_signatures"].count() if n_docs_with_tokens is None else n_docs_with_tokens
    pub.validate(int(snapshot[8:12]), year_rows or (lambda view, stage: {t: stage(t, f[t]) for t in YEAR_TABLES}), n)
    return pub, run


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


def test_two_audits_of_one_year_are_both_counted_in_year_stats(spark, gate, source, tmp_path):
    """B (a second 2021 snapshot) publishes between A's validation and A's publication: A recomputes the year."""
    from crawlaudit import audit
    from crawlaudit.config import MetricsConfig

    wh = copy_warehouse(source["wh"], tmp_path / "wh")
    other = "CC-MAIN-2021-43"

    def year_rows(view, stage):
        languages = stage("year_language_stats", audit.year_language_stats(
            view("snapshot_stats"), view("language_stats"), view("token_samples"), MetricsConfig(),
            audit.year_synthetic_rows(view("language_stats"), None, None, 2023, keys=["language"])))
        return {"year_language_stats": languages, "year_stats": stage("year_stats", audit.year_stats(
            view("snapshot_stats"), languages, MetricsConfig(),
            audit.year_synthetic_rows(view("snapshot_stats"), None, None, 2023)))}

    fa = frames(spark, wh)
    fb = {t: (df.withColumn("snapshot", F.lit(other)) if "snapshot" in df.columns else df)
          for t, df in frames(spark, wh).items()}
    needed = GATED + ("token_samples",)
    pub_a, _ = stage_and_validate(spark, gate, wh, fa, year_rows=year_rows, staged=needed)
    pub_b, _ = stage_and_validate(spark, gate, wh, fb, other, year_rows=year_rows, staged=needed)
    pub_b.publish()
    pub_a.publish()
    (year,) = [r for r in Warehouse.at(wh).read_arrow("year_stats").to_pylist() if r["year"] == 2021]
    snaps = {r["snapshot"]: r for r in Warehouse.at(wh).read_arrow("snapshot_stats").to_pylist()}
    assert year["n_snapshots"] == 2 and year["n_docs"] == snaps[SNAP]["n_docs"] + snaps[other]["n_docs"]
    by_language = [r for r in Warehouse.at(wh).read_arrow("year_language_stats").to_pylist() if r["year"] == 2021]
    assert {r["n_snapshots"] for r in by_language} == {2} and sum(r["n_docs"] for r in by_language) == year["n_docs"]


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


def _job_args(audited, wh, snapshot, partitions=2):
    args = [a if a != "all" else snapshot for a in audited["args"]]
    args[args.index(audited["wh"])] = wh
    args[args.index("spark.shuffle_partitions=2")] = f"spark.shuffle_partitions={partitions}"
    return args + ["--set", "quality.data_docs=false"]


def test_kill_rerun_and_concurrent_reruns_leave_the_same_numbers(spark, audited, source, tmp_path):
    """SIGKILL while the results are being written: every table stays at its previous version and readable.
    Then the snapshot rerun concurrently with another snapshot's audit, both with 16 shuffle partitions instead of
    2: no duplicate rows, the same numbers."""
    wh = copy_warehouse(source["wh"], tmp_path / "wh")
    before = versions(wh)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")])}
    killed_args = _job_args(audited, wh, SNAP) + ["--set", "synthetic.model=null"]   # no scoring: it dies anyway
    proc = subprocess.Popen([sys.executable, str(ROOT / "jobs" / "audit_snapshot.py"), *killed_args],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not list(Path(wh, "_staging").glob("*/doc_signatures/_SUCCESS")):
            assert proc.poll() is None, "the job ended before it was killed"
            assert time.monotonic() < deadline, "the job never started writing"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)                     # the driver and its JVM, mid-write
        proc.wait()
    assert versions(wh) == before and numbers(wh) == source["numbers"]
    killed = [r for r in Warehouse.at(wh).read_arrow("audit_runs").to_pylist() if r["status"] == "running"]
    assert len(killed) == 1 and killed[0]["snapshot"] == SNAP

    from crawlaudit import cli
    from crawlaudit.synthetic.step import SyntheticStep

    parser = argparse.ArgumentParser()
    cli.add_audit_arguments(parser)
    cfg, _, checked = cli.job_config_from_args(parser.parse_args(_job_args(audited, wh, SNAP)))
    errors = []

    def audit(snapshot):
        try:
            w = checked.with_spark(spark)
            pipeline.audit_snapshot(w, cfg, snapshot, SyntheticStep(spark, cfg.synthetic, w),
                                    quality.Gate(cfg.quality, w.data_docs_dir()))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((snapshot, e))

    threads = [threading.Thread(target=audit, args=(s,)) for s in (SNAP, DAMAGED)]  # the rerun, beside another audit
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "16")
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", partitions)
    assert not errors, errors
    assert numbers(wh) == source["numbers"]
    runs = [r for r in Warehouse.at(wh).read_arrow("audit_runs").to_pylist() if r["snapshot"] == SNAP]
    assert sum(r["status"] == "succeeded" for r in runs) >= 2 and sum(r["status"] == "running" for r in runs) == 1


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
