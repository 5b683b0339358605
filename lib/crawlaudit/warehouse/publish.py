"""Stage, validate, then publish or quarantine one snapshot's results.

1. ``stage``: each result DataFrame is written once as Parquet under ``<warehouse>/_staging/<run_id>/<table>`` and
   read back, so validation and publication read the same materialized rows (no plan recomputed), and a run
   killed before step 3 leaves every published table at its previous version (only its staging directory stays).
2. ``validate``: domain_stats, snapshot_stats, language_stats, the year tables (this snapshot's year: the published
   snapshots of the year plus the staged one), the cross-table consistency row and the drift row against the
   previous audited snapshot; every outcome is appended to ``validation_results``. A failed critical expectation
   moves the staging directory to ``<warehouse>/_quarantine/<snapshot>/<run_id>`` and raises ``ValidationFailed``:
   nothing published.
3. ``publish``: one atomic Delta commit per table (replaceWhere on the snapshot's partition; MERGE into
   content_hashes), each retried on a concurrent-write conflict; the year tables last (``tables.YEAR_TABLES``),
   recomputed (and validated again) whenever another snapshot of the year was published meanwhile, and checked after
   their commit, so two audits of the same year running at once both end up counted.

Delta commits one table at a time. A run killed inside step 3 leaves the tables it reached at the new version
(complete and validated) and its audit_runs row at ``running``; rerunning the snapshot replaces them. A snapshot
counts as published when audit_runs holds a ``succeeded`` run for it.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crawlaudit.quality import gate as quality
from crawlaudit import schemas as S
from crawlaudit.errors import CrawlauditError, ValidationFailed
from crawlaudit.quality.expectations import Outcome
from crawlaudit.warehouse import tables
from crawlaudit.warehouse.store import Warehouse

log = logging.getLogger(__name__)

# publication order: the history later audits read, then the per-snapshot tables (the year tables follow)
SNAPSHOT_TABLES = (tables.DOC_SIGNATURES, tables.DOC_HASHES, tables.DOC_SCORES, tables.TOKEN_SAMPLES,
                   tables.INGEST_ERRORS, tables.LANGUAGE_STATS, tables.DOMAIN_STATS, tables.SNAPSHOT_STATS)
YEAR_ATTEMPTS = 6
# ``year_rows(view, stage)``: a year's rows of the year tables (table → rows). ``view(table)`` gives a table's rows
# of the year; ``stage(table, df)`` materializes ``df`` and returns it read back, so a table computed from another
# one (year_stats from year_language_stats) starts from its staged rows
YearRows = Callable[[Callable[[str], DataFrame], Callable[[str, DataFrame], DataFrame]], dict]


class Publication:
    """One snapshot's stage → validate → publish. A context manager: an error other than ``ValidationFailed``
    removes the staging directory (a kill leaves it; ``_staging`` holds nothing a reader uses)."""

    def __init__(self, wh: Warehouse, run, snapshot: str, gate: quality.Gate):
        self.spark, self.wh, self.run, self.snapshot, self.gate = wh.spark, wh, run, snapshot, gate
        self.staging = wh.staging_dir(run.run_id)
        self.staged: dict[str, DataFrame] = {}
        self.outcomes: list[Outcome] = []
        self.year_rows: YearRows | None = None
        self.year = None

    def __enter__(self) -> "Publication":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and not isinstance(exc, ValidationFailed):
            self.wh.drop_staging(self.run.run_id)
        return False

    def stage(self, table: str, df: DataFrame | None) -> DataFrame | None:
        """Write ``df`` to the staging directory and return it read back (None passes through)."""
        if df is None:
            return None
        t0 = time.monotonic()
        self.staged[table] = self.wh.stage(df, self.run.run_id, table)
        log.info("%s: staged %s (%.1f s)", self.snapshot, table, time.monotonic() - t0)
        return self.staged[table]

    def year_view(self, table: str) -> DataFrame:
        """``table``'s rows of this snapshot's year: the published other snapshots plus the staged one."""
        staged = self.staged[table]
        published = self.wh.read_year(table, self.year)
        if published is None:
            return staged
        return published.where(F.col(S.SNAPSHOT) != self.snapshot).unionByName(staged, allowMissingColumns=True)

    def validate(self, year: int, year_rows: YearRows, n_docs_with_tokens: int) -> None:
        """Run every suite on the staged results; record the outcomes; quarantine and raise on a critical failure.
        ``year_rows(view, stage)`` computes the year tables (see ``YearRows``)."""
        self.year, self.year_rows = year, year_rows
        staged, run_id = self.staged, self.run.run_id
        out = self.gate.validate(tables.DOMAIN_STATS, staged[tables.DOMAIN_STATS], run_id)
        out += self.gate.validate(tables.SNAPSHOT_STATS, staged[tables.SNAPSHOT_STATS], run_id)
        if tables.LANGUAGE_STATS in staged:
            out += self.gate.validate(tables.LANGUAGE_STATS, staged[tables.LANGUAGE_STATS], run_id)
        out += self._stage_year()
        out += self.gate.validate(quality.CONSISTENCY, quality.consistency_frame(
            self.spark, self.gate, self.snapshot, staged[tables.DOMAIN_STATS], staged[tables.SNAPSHOT_STATS],
            staged[tables.DOC_SIGNATURES], staged.get(tables.DOC_SCORES), n_docs_with_tokens,
            staged.get(tables.DOC_HASHES)), run_id)
        previous = self.wh.previous_snapshot_row(self.snapshot)
        current = staged[tables.SNAPSHOT_STATS].first()
        current = current.asDict() if current is not None else None
        if previous is not None and current is not None:
            out += self.gate.validate(quality.DRIFT, quality.drift_frame(self.spark, self.gate, current, previous),
                                      run_id)
        self._record(out)
        failed = quality.blocking(out)
        if failed:
            target = self._quarantine()
            raise ValidationFailed(quality.failure_message(self.snapshot, failed, target, current), target)

    def publish(self) -> None:
        """Commit every staged table, the year tables last; then drop the staging directory."""
        for table in SNAPSHOT_TABLES:
            if table in self.staged:
                t0 = time.monotonic()
                self.wh.replace_snapshot(self.staged[table], table, self.snapshot)
                log.info("%s: published %s (%.1f s)", self.snapshot, table, time.monotonic() - t0)
        if tables.CONTENT_HASHES in self.staged:
            self.wh.merge_content_hashes(self.staged[tables.CONTENT_HASHES])
        self._publish_year()
        self.wh.drop_staging(self.run.run_id)

    def _stage_year(self) -> list[Outcome]:
        """Compute, stage and validate the year tables from the year's published snapshots plus this one."""
        self.year_snapshots = sorted(set(self.wh.year_snapshots(self.year)) | {self.snapshot})
        frames = self.year_rows(self.year_view, self.stage)
        return [o for t in tables.YEAR_TABLES if t in frames for o in self.gate.validate(t, frames[t], self.run.run_id)]

    def _publish_year(self) -> None:
        """Replace the year's rows of the year tables, recomputing them while the year's published snapshots differ
        from the ones they were computed from (another audit of the same year landed in between)."""
        for attempt in range(1, YEAR_ATTEMPTS + 1):
            if self.wh.year_snapshots(self.year) != self.year_snapshots:
                log.info("%s: year %d changed meanwhile; recomputing year_stats", self.snapshot, self.year)
                out = self._stage_year()
                self._record(out)
                failed = quality.blocking(out)
                if failed:
                    raise ValidationFailed(quality.failure_message(self.snapshot, failed, None) +
                                           f" (the year tables of {self.year} left as they were)")
            try:
                for table in tables.YEAR_TABLES:
                    if table in self.staged:
                        self.wh.replace_year(self.staged[table], table, self.year)
            except tables.conflict_types() as e:
                log.warning("%s: year_stats %d conflict (%s), attempt %d", self.snapshot, self.year,
                            type(e).__name__, attempt)
                continue
            if self.wh.year_snapshots(self.year) == self.year_snapshots:
                return
        raise CrawlauditError(f"{self.snapshot}: year_stats {self.year} still changing after {YEAR_ATTEMPTS} attempts "
                              f"(rerun the snapshot to recompute its year)")

    def _record(self, outcomes: list[Outcome]) -> None:
        self.outcomes += outcomes
        self.wh.append_rows(quality.outcome_rows(self.spark, outcomes, self.run.run_id, self.snapshot),
                            tables.VALIDATION_RESULTS)
        self.run.counts.update({"n_expectations": len(self.outcomes),
                                "n_failed_critical": len(quality.blocking(self.outcomes)),
                                "n_failed_warning": len(quality.warnings(self.outcomes))})
        for o in quality.warnings(outcomes):
            log.warning("%s: warning: %s", self.snapshot, quality.describe(o))

    def _quarantine(self) -> str:
        target = self.wh.quarantine(self.run.run_id, self.snapshot)
        log.error("%s: rejected results quarantined in %s", self.snapshot, target)
        return target


REVALIDATED = (tables.DOMAIN_STATS, tables.SNAPSHOT_STATS, tables.YEAR_STATS)


def revalidate(wh: Warehouse, gate: quality.Gate, table: str, snapshot: str) -> tuple[str, list[Outcome]]:
    """Validate the published rows of ``snapshot`` (year_stats: its year's row; ``all``: the three stats tables and
    their consistency) against the current suites; record the outcomes in validation_results under a new run id
    ``validate-<uuid>``. Returns (run id, outcomes). Raises InputError when nothing is published for it."""
    import uuid

    from crawlaudit.config import parse_snapshot
    from crawlaudit.errors import InputError

    year = parse_snapshot(snapshot)[0]
    run_id = f"validate-{uuid.uuid4()}"
    wanted = REVALIDATED if table == "all" else (table,)
    frames = {}
    for t in wanted:
        df = wh.read_snapshot(t, snapshot) if t != tables.YEAR_STATS else wh.read_year(t, year)
        if df is None or df.isEmpty():
            raise InputError(f"{t}: nothing published for {snapshot} in {wh.display}")
        frames[t] = df
    out: list[Outcome] = []
    for t, df in frames.items():
        out += gate.validate(t, df, run_id)
    if table == "all":
        signatures = wh.read_snapshot(tables.DOC_SIGNATURES, snapshot)
        scores = wh.read_snapshot(tables.DOC_SCORES, snapshot)
        hashes = wh.read_snapshot(tables.DOC_HASHES, snapshot)
        out += gate.validate(quality.CONSISTENCY, quality.consistency_frame(
            wh.spark, gate, snapshot, frames[tables.DOMAIN_STATS], frames[tables.SNAPSHOT_STATS],
            signatures, scores, None, hashes if hashes is not None and not hashes.isEmpty() else None), run_id)
    wh.append_rows(quality.outcome_rows(wh.spark, out, run_id, snapshot), tables.VALIDATION_RESULTS)
    return run_id, out


def republish(wh: Warehouse, gate: quality.Gate, snapshot: str, frames, run_id: str, year: int | None = None
              ) -> bool:
    """Stage, validate and commit replacement rows of published tables, as a refresh does when an audit changed
    the inputs of other snapshots' numbers. ``frames``: table → rows of ``snapshot`` (of ``year`` for the year
    tables), or a function of ``stage(table, df)`` returning them (see ``YearRows``). Outcomes go to
    validation_results under ``run_id``; a critical failure publishes nothing (logged, False): the rows stay as
    they were."""
    staged, outcomes = {}, []

    def stage(table: str, df: DataFrame) -> DataFrame:
        staged[table] = wh.stage(df, run_id, snapshot, table)
        return staged[table]

    try:
        frames = frames(stage) if callable(frames) else frames
        for table, df in frames.items():
            if table not in staged:
                stage(table, df)
            outcomes += gate.validate(table, staged[table], run_id)
        wh.append_rows(quality.outcome_rows(wh.spark, outcomes, run_id, snapshot), tables.VALIDATION_RESULTS)
        failed = quality.blocking(outcomes)
        if failed:
            log.error("refresh of %s not published: %s", snapshot, quality.failure_message(snapshot, failed, None))
            return False
        for table, df in staged.items():
            if table in tables.YEAR_TABLES:
                tables.retry_on_conflict(lambda: wh.replace_year(df, table, year), f"{table} {year}")
            else:
                wh.replace_snapshot(df, table, snapshot)
        return True
    finally:
        wh.drop_staging(run_id, snapshot)
