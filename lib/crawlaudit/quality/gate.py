"""The gate before publication: a snapshot's results against the expectation suites of ``conf/expectations``.

``Gate.validate`` runs one table's suite (``expectations.Validator``); ``consistency_frame`` and ``drift_frame``
build the one-row frames of the cross-table and drift suites; ``blocking`` picks the failed critical outcomes and
``failure_message`` says what failed. Pure except for the Great Expectations context (and its data docs) the gate
holds.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.config import QualityConfig
from crawlaudit.errors import ConfigError
from crawlaudit.quality.expectations import Outcome, Validator, load_suites

log = logging.getLogger(__name__)

CONSISTENCY, DRIFT = "consistency", "drift"
REQUIRED_SUITES = ("domain_stats", "snapshot_stats", "language_stats", "year_stats", "year_language_stats",
                   CONSISTENCY, DRIFT)
DRIFT_SHARES = (S.EXACT_DUP_FRAC, S.NEAR_DUP_FRAC, S.DUP_LINE_FRAC, S.CROSS_SNAPSHOT_NEAR_DUP_FRAC, S.SYNTHETIC_RATIO)


class Gate:
    """The suites and one Great Expectations context, reused for every snapshot of a job."""

    def __init__(self, quality: QualityConfig, data_docs_dir: str | None = None):
        """``data_docs_dir``: where the HTML data docs go when ``quality.data_docs`` (a local directory;
        ``Warehouse.data_docs_dir``); None renders none (validation_results has every outcome)."""
        self.quality = quality
        self.suites = load_suites(quality)
        missing = [t for t in REQUIRED_SUITES if t not in self.suites]
        if missing:
            raise ConfigError(f"expectation suites missing for {', '.join(missing)} (quality.expectations)")
        if quality.data_docs and data_docs_dir is None:
            log.warning("data docs are rendered for local warehouses only: skipped (validation_results has every "
                        "outcome)")
        self.validator = Validator(data_docs_dir if quality.data_docs else None)

    def validate(self, table: str, df: DataFrame, run_id: str) -> list[Outcome]:
        t0 = time.monotonic()
        out = self.validator.validate(self.suites[table], df, self.quality.validation_engine, run_id,
                                      self.quality.pandas_max_rows)
        log.info("validated %s: %d expectations, %d failed (%.1f s)", table, len(out),
                 sum(not o.success for o in out), time.monotonic() - t0)
        return out

    def build_docs(self) -> str | None:
        """Render the data docs; a rendering failure is logged, never fatal (validation_results holds the outcomes)."""
        try:
            return self.validator.build_docs()
        except Exception:
            log.warning("could not render the data docs", exc_info=True)
            return None


_PY_TYPES = {"long": int, "integer": int, "double": float, "string": str}


def _one_row(spark: SparkSession, suite_columns: dict, row: dict) -> DataFrame:
    """A one-row frame with the suite's columns and types (values converted: a count read from a column of the
    wrong type must still reach the checks, not fail the frame's construction)."""
    ddl = ", ".join(f"`{c}` {t}" for c, t in suite_columns.items())
    values = tuple(None if row.get(c) is None else _PY_TYPES.get(t, lambda v: v)(row[c])
                   for c, t in suite_columns.items())
    return spark.createDataFrame([values], ddl)


def consistency_frame(spark: SparkSession, gate: Gate, snapshot: str, domain_stats: DataFrame,
                      snapshot_stats: DataFrame, doc_signatures: DataFrame | None, doc_scores: DataFrame | None,
                      n_docs_with_tokens: int | None, doc_hashes: DataFrame | None = None) -> DataFrame:
    """One row of the counts that must agree between one snapshot's tables (suite ``consistency``). A count
    given as None is left null, and the checks comparing it are skipped (re-validation has no documents)."""
    d = domain_stats.agg(F.count(F.lit(1)).alias("rows"), F.sum(S.N_DOCS).alias("docs")).first()
    s = snapshot_stats.agg(F.count(F.lit(1)).alias("rows"), F.first(S.N_DOCS).alias("docs"),
                           F.first(S.N_DOMAINS).alias("domains"), F.first(S.N_DOCS_SCORED).alias("scored")).first()
    return _one_row(spark, gate.suites[CONSISTENCY].columns, {
        S.SNAPSHOT: snapshot, "n_snapshot_rows": s["rows"], "snapshot_n_docs": s["docs"],
        "domain_n_docs": d["docs"], "snapshot_n_domains": s["domains"], "n_domain_rows": d["rows"],
        "n_signature_rows": doc_signatures.count() if doc_signatures is not None else None,
        "n_docs_with_tokens": n_docs_with_tokens,
        "n_hash_rows": doc_hashes.count() if doc_hashes is not None else None,
        "n_score_rows": doc_scores.count() if doc_scores is not None else 0, "snapshot_n_docs_scored": s["scored"],
    })


def drift_frame(spark: SparkSession, gate: Gate, current: dict, previous: dict) -> DataFrame:
    """One row comparing a snapshot's pooled row with the previous audited snapshot's (suite ``drift``)."""
    def change(col):
        a, b = current.get(col), previous.get(col)
        return None if a is None or b is None else abs(float(a) - float(b))

    row = {S.SNAPSHOT: current[S.SNAPSHOT], "previous_snapshot": previous[S.SNAPSHOT],
           "domain_count_ratio": current[S.N_DOMAINS] / previous[S.N_DOMAINS] if previous[S.N_DOMAINS] else None,
           "abs_change_entropy_bits": change(S.ENTROPY_BITS),
           **{f"abs_change_{c}": change(c) for c in DRIFT_SHARES}}
    return _one_row(spark, gate.suites[DRIFT].columns, row)


def outcome_rows(spark: SparkSession, outcomes: list[Outcome], run_id: str, snapshot: str) -> DataFrame:
    """``validation_results`` rows of ``outcomes``."""
    now = datetime.now(timezone.utc)
    return spark.createDataFrame(
        [(run_id, snapshot, o.table, o.suite_version, o.expectation, o.expectation_type, o.severity, o.success,
          o.observed, now) for o in outcomes], S.VALIDATION_RESULTS_SCHEMA)


def blocking(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.success and o.severity == "critical"]


def warnings(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.success and o.severity == "warning"]


def describe(o: Outcome) -> str:
    return f"{o.table}: {o.expectation} failed" + (f" ({o.observed[:300]})" if o.observed else "")


ERROR_FRAC_CHECK = "error_frac_under_threshold"


def failure_message(snapshot: str, failed: list[Outcome], quarantine: str | None, summary: dict | None = None) -> str:
    """What blocked publication, one clause per failed expectation, and where the rejected results are; for
    the ingest error threshold, the counts behind it (``summary``: the snapshot_stats row)."""
    head = "; ".join(describe(o) for o in failed[:8]) + (f"; and {len(failed) - 8} more" if len(failed) > 8 else "")
    if summary and any(o.expectation == ERROR_FRAC_CHECK for o in failed):
        head += (f"; {summary[S.N_FAILED_FILES]} of {summary[S.N_FILES]} files failed, {summary[S.N_ERROR_RECORDS]}"
                 f" of {summary[S.N_RECORDS]} records damaged (ingest_errors shows each)")
    return (f"{snapshot}: {len(failed)} critical expectation(s) failed, nothing published: {head}"
            + (f"; rejected results in {quarantine}" if quarantine else ""))
