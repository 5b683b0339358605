"""Helpers of the publication tests (test_publication, test_reruns): copies of the end-to-end warehouse, their
versions and numbers, a snapshot's results staged and validated as the job does (their fixtures, ``gate`` and
``source``, are conftest's)."""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from types import SimpleNamespace

from pyspark.sql import functions as F

from crawlaudit.warehouse import Warehouse, publish

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
