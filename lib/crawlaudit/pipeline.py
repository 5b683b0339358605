"""One audit, from WET files to published tables: read → annotate → measure → stage → validate → publish.

``audit_snapshot`` is the whole audit of one snapshot; ``Auditor`` audits a list of them in one Spark session with
one detector and one validation context (the jobs ``audit_snapshot.py`` and ``scheduled_audit.py`` are thin
wrappers around it). The transforms are pure (``audit``, ``dedup``, ``neardup``, ``synthetic`` …); this module
owns which tables feed them and the order of the steps.
"""
from __future__ import annotations

import logging
import uuid

from crawlaudit import audit, dedup, ingest, progress, publish, quality, session, signals, tables
from crawlaudit import schemas as S
from crawlaudit.config import Config
from crawlaudit.errors import CrawlauditError
from crawlaudit.neardup import NearDupParams
from crawlaudit.runs import AuditRun
from crawlaudit.synthetic_step import SyntheticStep

log = logging.getLogger(__name__)


def audit_snapshot(spark, cfg: Config, snapshot: str, synthetic: SyntheticStep, gate: quality.Gate) -> None:
    """Read, measure, stage, validate and publish one snapshot (see the module docstring); raises
    CrawlauditError (ValidationFailed when the gate blocked it) after recording the run in audit_runs."""
    wh = cfg.output.warehouse
    near = NearDupParams.from_config(cfg.dedup)
    counters = progress.FileCounters(spark)
    with AuditRun(spark, cfg, snapshot) as run, session.Cached() as cache, \
            publish.Publication(spark, wh, run, snapshot, gate) as pub:
        parsed, n_files = ingest.read_wet(spark, cfg.input, snapshot, cfg.domains.include_private_suffixes, counters)
        with progress.FileProgress(counters, snapshot, n_files, cfg.spark.progress_interval_s):
            docs, errors, files = ingest.split_ingested(cache(parsed))
            # narrow per-document results are checkpointed: later plans start from them instead of nesting plans;
            # the first of them reads the files
            doc_signals = docs.transform(signals.document_signals(near.hasher)).localCheckpoint()
        scores = synthetic.score(docs)
        flagged = audit.flag_near_duplicates(
            audit.flag_documents(docs, tables.read_prior_hashes(spark, wh, snapshot)), docs, doc_signals,
            tables.read_prior_signatures(spark, wh, snapshot, near.hasher.params), near,
            cfg.dedup.line_min_repeats).localCheckpoint()
        by_domain, pooled_synthetic = synthetic.group_rows(flagged, scores, snapshot)
        pub.stage(tables.INGEST_ERRORS, audit.ingest_error_rows(errors, run.run_id))
        pub.stage(tables.CONTENT_HASHES, dedup.first_seen_hashes(docs))
        pub.stage(tables.DOC_SIGNATURES, audit.doc_signature_rows(flagged, doc_signals, near))
        pub.stage(tables.DOC_SCORES, synthetic.score_rows(flagged, scores))
        pub.stage(tables.TOKEN_SAMPLES, audit.token_sample_rows(docs, cfg.metrics))
        pub.stage(tables.DOMAIN_STATS, audit.domain_stats(flagged, docs, cfg.metrics, run.run_id, by_domain))
        summary = pub.stage(tables.SNAPSHOT_STATS, audit.snapshot_stats(
            flagged, docs, files, errors, cfg.metrics, run.run_id, pooled_synthetic)).first().asDict()
        run.counts.update({k: summary[k] or 0 for k in ("n_files", "n_failed_files", "n_records", "n_error_records",
                                                        "n_docs", "n_domains")})
        year = summary["year"]
        pub.validate(year, year_rows(cfg, synthetic, snapshot, year),
                     n_docs_with_tokens=flagged.where("n_tokens > 0").count())
        pub.publish()
        log.info("%s: %d docs in %d domains from %d files; %d damaged records, %d failed files; %d expectations "
                 "passed (%d warnings)", snapshot, summary["n_docs"], summary["n_domains"], summary["n_files"],
                 summary["n_error_records"], summary["n_failed_files"],
                 run.counts["n_expectations"] - run.counts["n_failed_warning"], run.counts["n_failed_warning"])


def year_rows(cfg: Config, synthetic: SyntheticStep, snapshot: str, year: int):
    """``view → year_stats row``: the year's row from ``view(table)``, the year's rows of a table."""
    return lambda view: audit.year_stats(view(tables.SNAPSHOT_STATS), view(tables.TOKEN_SAMPLES), cfg.metrics,
                                         synthetic.year_rows(snapshot, year, view))


def refresh_synthetic(spark, cfg: Config, synthetic: SyntheticStep, gate: quality.Gate,
                      snapshots: list[str]) -> list[str]:
    """Recompute, validate and republish the synthetic columns of the published ``snapshots`` (those an audit fed:
    ``SyntheticStep.affected_by``), then their years' rows, from doc_scores (no crawl re-read), each once: whatever
    order the snapshots were audited in, the same published snapshots give the same numbers. The refreshed ones."""
    if not snapshots:
        return []
    wh = cfg.output.warehouse
    run_id = f"refresh-{uuid.uuid4()}"
    log.info("refreshing the synthetic estimates of %d published snapshots fed by this run's pre-LLM audits (%s)",
             len(snapshots), run_id)
    done = []
    for other in sorted(snapshots):
        rows = synthetic.refreshed_rows(other)
        if rows is None:
            continue
        by_domain, pooled = rows
        frames = {tables.DOMAIN_STATS: tables.read_snapshot(spark, wh, tables.DOMAIN_STATS, other).transform(
                      audit.with_synthetic_columns(by_domain, [S.SNAPSHOT, S.REGISTERED_DOMAIN])),
                  tables.SNAPSHOT_STATS: tables.read_snapshot(spark, wh, tables.SNAPSHOT_STATS, other).transform(
                      audit.with_synthetic_columns(pooled, [S.SNAPSHOT]))}
        if publish.republish(spark, wh, gate, other, frames, run_id):
            done.append(other)
    for year in sorted({int(s[8:12]) for s in done}):
        def view(table, year=year):
            return tables.read_year(spark, wh, table, year)
        last = tables.year_snapshots(spark, wh, year)[-1]
        publish.republish(spark, wh, gate, last, {tables.YEAR_STATS: year_rows(cfg, synthetic, last, year)(view)},
                          run_id, year=year)
    log.info("refreshed the synthetic estimates of %d snapshots: %s", len(done), ", ".join(done))
    return done


class Auditor:
    """The session-wide parts of an audit (detector, expectation suites) and the loop over snapshots."""

    def __init__(self, spark, cfg: Config):
        self.spark, self.cfg = spark, cfg
        self.synthetic = SyntheticStep(spark, cfg.synthetic, cfg.output.warehouse)
        self.gate = quality.Gate(cfg.quality, cfg.output.warehouse)
        self.stale: set[str] = set()   # published snapshots whose synthetic columns this run's audits fed

    def audit(self, snapshot: str) -> bool:
        """Audit one snapshot; False (logged, recorded in audit_runs) when it failed or was blocked. The published
        snapshots it feeds are refreshed by ``finish``, once per run however many pre-LLM snapshots fed them."""
        try:
            audit_snapshot(self.spark, self.cfg, snapshot, self.synthetic, self.gate)
        except CrawlauditError as e:
            log.error("%s failed: %s", snapshot, e)
            return False
        finally:
            self.synthetic.forget()   # its doc_scores may be published: vintage baselines are measured anew
        self.stale.update(self.synthetic.affected_by(snapshot))
        return True

    def refresh(self) -> list[str]:
        """Refresh the synthetic columns this run's audits made stale (see ``refresh_synthetic``). A failure is
        logged, never fatal: the audits stand and the older numbers stay until the next run of a pre-LLM
        snapshot refreshes them."""
        stale, self.stale = sorted(self.stale), set()
        try:
            return refresh_synthetic(self.spark, self.cfg, self.synthetic, self.gate, stale)
        except Exception as e:  # noqa: BLE001 - see the docstring
            log.error("synthetic estimates of %s not refreshed (%s: %s); rerun one of this run's pre-%d snapshots "
                      "to refresh them", ", ".join(stale), type(e).__name__, e, self.cfg.synthetic.vintage_before_year)
            return []

    def audit_all(self, snapshots: list[str]) -> list[str]:
        """Audit each snapshot in order, showing progress; the failed ones."""
        failed = []
        for i, snapshot in enumerate(snapshots, 1):
            log.info("[%d/%d] auditing %s", i, len(snapshots), snapshot)
            if not self.audit(snapshot):
                failed.append(snapshot)
        self.finish()
        log.info("%d of %d snapshots audited into %s%s", len(snapshots) - len(failed), len(snapshots),
                 self.cfg.output.warehouse, f"; failed: {', '.join(failed)}" if failed else "")
        return failed

    def finish(self, report: bool = False) -> None:
        """Refresh what this run's audits made stale, render the validation data docs; with ``report``, rewrite the
        trend report too. None of it is fatal: the audits are published by now, and a failure here is logged with
        what to do."""
        self.refresh()
        docs = self.gate.build_docs()
        if docs:
            log.info("validation data docs: %s", docs)
        if report:
            from crawlaudit import report as trend

            try:
                index, _ = trend.refresh(self.cfg)
                log.info("trend report: %s", index)
            except Exception as e:  # noqa: BLE001 - the audits stand; say why the report did not follow
                log.error("trend report not refreshed (%s: %s); rerun: crawlaudit report --warehouse %s",
                          type(e).__name__, e, self.cfg.output.warehouse)
