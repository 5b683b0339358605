"""Publication under concurrency (split from test_publication so the two share the suite's workers): a killed
driver leaves every table at its previous version, a rerun and a concurrent audit land without duplicates and with
the same numbers, and two audits of one year both count in its year rows. Runs on copies of the end-to-end
warehouse (tests/e2e.py)."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pyspark.sql import functions as F

from crawlaudit import pipeline
from crawlaudit.quality import gate as quality
from crawlaudit.warehouse import Warehouse
from tests.e2e import DAMAGED, ROOT
from tests.published import GATED, SNAP, copy_warehouse, frames, numbers, stage_and_validate, versions


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
