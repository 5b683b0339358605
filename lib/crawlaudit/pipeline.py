"""One audit, from WET files to published tables: read → annotate → measure → stage → validate → publish.

``audit_snapshot`` is the whole audit of one snapshot; ``Auditor`` audits a list of them in one Spark session with
one detector and one validation context (the jobs ``audit_snapshot.py`` and ``scheduled_audit.py`` are thin
wrappers around it). The transforms are pure (``audit``, ``dedup``, ``neardup``, ``synthetic`` …); this module
owns which tables feed them and the order of the steps.
"""
from __future__ import annotations

import logging
import uuid

from pyspark.sql import functions as F

from crawlaudit import audit, session
from crawlaudit.ingest import progress, wet as ingest
from crawlaudit.metrics import templates
from crawlaudit.quality import gate as quality
from crawlaudit import schemas as S
from crawlaudit.config import Config
from crawlaudit.errors import CrawlauditError
from crawlaudit.metrics.neardup import NearDupParams
from crawlaudit.session import checkpoint
from crawlaudit.synthetic.step import SyntheticStep
from crawlaudit.warehouse import Warehouse, publish, tables
from crawlaudit.warehouse.runs import AuditRun

log = logging.getLogger(__name__)


def audit_snapshot(wh: Warehouse, cfg: Config, snapshot: str, synthetic: SyntheticStep, gate: quality.Gate) -> None:
    """Read, measure, stage, validate and publish one snapshot (see the module docstring); raises
    CrawlauditError (ValidationFailed when the gate blocked it) after recording the run in audit_runs."""
    spark, near = wh.spark, NearDupParams.from_config(cfg.dedup)
    counters = progress.FileCounters(spark)
    with AuditRun(wh, cfg, snapshot) as run, session.Cached() as cache, \
            publish.Publication(wh, run, snapshot, gate) as pub:
        parsed, n_files = ingest.read_wet(spark, cfg.input, snapshot, cfg.domains.include_private_suffixes, counters,
                                           cfg.languages)
        with progress.FileProgress(counters, snapshot, n_files, cfg.spark.progress_interval_s):
            docs, errors, files = ingest.split_ingested(
                cache(parsed).coalesce(session.task_partitions(spark, n_files)))
            # narrow per-document results are checkpointed: later plans start from them instead of nesting plans;
            # the first of them reads the files. The page signals (line hashes, repetition) came with the documents.
            pages = docs.select(*templates.KEYS, S.DOC_ID, S.CONTENT_HASH, S.LINE_HASHES,
                                *S.REP_SIGNALS).transform(checkpoint)
        page_signals = pages.select(S.DOC_ID, S.LINE_HASHES, *S.REP_SIGNALS)
        # site templates, then each page's main content: what the exact hashes, signatures and matching use
        site_templates = pages.transform(templates.template_lines(near.templates)).transform(checkpoint)
        # one pass makes them (text, tokens, hash, signature), kept for the detector and verification
        main = cache(docs.transform(templates.main_documents(site_templates, near.hasher)))
        doc_signals = audit.with_main_signatures(page_signals, main)
        scores = synthetic.score(main)
        hashed_text = near.templates.hashed_text
        flagged = audit.flag_near_duplicates(
            audit.flag_documents(docs, main, wh.read_prior_hashes(snapshot, hashed_text)), main,
            doc_signals, wh.read_prior_signatures(snapshot, near.signature_params), near,
            cfg.dedup.line_min_repeats).transform(checkpoint)
        by_domain, pooled_synthetic, by_language = synthetic.group_rows(flagged, scores, snapshot)
        pub.stage(tables.INGEST_ERRORS, audit.ingest_error_rows(errors, run.run_id))
        pub.stage(tables.CONTENT_HASHES, audit.content_hash_rows(flagged, hashed_text))
        pub.stage(tables.DOC_SIGNATURES, audit.doc_signature_rows(flagged, doc_signals, near))
        pub.stage(tables.DOC_HASHES, audit.doc_hash_rows(flagged, hashed_text))
        pub.stage(tables.DOC_SCORES, synthetic.score_rows(flagged, scores))
        token_samples = pub.stage(tables.TOKEN_SAMPLES, audit.token_sample_rows(docs, cfg.metrics))
        language_rows = pub.stage(tables.LANGUAGE_STATS, audit.language_stats(flagged, token_samples, cfg.metrics,
                                                                              run.run_id, by_language))
        pub.stage(tables.DOMAIN_STATS, audit.domain_stats(flagged, docs, cfg.metrics, run.run_id, by_domain,
                                                          synthetic.languages))
        summary = pub.stage(tables.SNAPSHOT_STATS, audit.snapshot_stats(
            flagged, language_rows, files, errors, cfg.metrics, run.run_id, pooled_synthetic,
            synthetic.languages)).first().asDict()
        run.counts.update({k: summary[k] or 0 for k in ("n_files", "n_failed_files", "n_records", "n_error_records",
                                                        "n_docs", "n_domains")})
        year = summary["year"]
        pub.validate(year, year_rows(cfg, synthetic, snapshot, year),
                     n_docs_with_tokens=flagged.where(F.col(S.HAS_MAIN_CONTENT)).count())
        pub.publish()
        log.info("%s: %d docs in %d domains from %d files; %d damaged records, %d failed files; %d expectations "
                 "passed (%d warnings)", snapshot, summary["n_docs"], summary["n_domains"], summary["n_files"],
                 summary["n_error_records"], summary["n_failed_files"],
                 run.counts["n_expectations"] - run.counts["n_failed_warning"], run.counts["n_failed_warning"])


def year_rows(cfg: Config, synthetic: SyntheticStep, snapshot: str, year: int) -> publish.YearRows:
    """The year tables of ``year`` from the year's rows of the per-snapshot tables (``publish.YearRows``):
    year_language_stats, then year_stats from its staged rows."""

    def rows(view, stage) -> dict:
        by_year, by_language = synthetic.year_rows(snapshot, year, view)
        snapshots = view(tables.SNAPSHOT_STATS)
        languages = stage(tables.YEAR_LANGUAGE_STATS, audit.year_language_stats(
            snapshots, view(tables.LANGUAGE_STATS), view(tables.TOKEN_SAMPLES), cfg.metrics, by_language))
        pooled = audit.year_stats(snapshots, languages, cfg.metrics, by_year)
        return {tables.YEAR_LANGUAGE_STATS: languages, tables.YEAR_STATS: stage(tables.YEAR_STATS, pooled)}

    return rows


def reuse_rows(wh: Warehouse, near: NearDupParams, snapshot: str):
    """(per-domain, pooled, per-language) ``REUSE_COLUMNS`` of a published snapshot recomputed from its doc_hashes and
    doc_signatures against the earlier snapshots the warehouse holds now; None (with a warning) when it was
    audited before doc_hashes existed or with other dedup parameters (re-audit it to refresh it)."""
    hashed_text = near.templates.hashed_text
    hashes = wh.read_snapshot(tables.DOC_HASHES, snapshot)
    signatures = wh.read_snapshot(tables.DOC_SIGNATURES, snapshot)
    if hashes is None or signatures is None or hashes.isEmpty() or hashes.where(
            F.col(S.HASHED_TEXT) != hashed_text).limit(1).count() or signatures.where(
            F.col(S.MINHASH_PARAMS) != near.signature_params).limit(1).count():
        log.warning("%s: content reused from earlier snapshots not refreshed (no doc_hashes, or hashed with other "
                    "dedup parameters): re-audit it to measure it against every earlier snapshot", snapshot)
        return None
    flags = audit.reuse_flags(hashes, wh.read_prior_hashes(snapshot, hashed_text),
                              signatures.select(S.DOC_ID, S.SIGNATURE),
                              wh.read_prior_signatures(snapshot, near.signature_params), near
                              ).transform(checkpoint)
    return (flags.transform(audit.reuse_stats([S.SNAPSHOT, S.REGISTERED_DOMAIN])),
            flags.transform(audit.reuse_stats([S.SNAPSHOT])), flags.transform(audit.reuse_stats([S.SNAPSHOT, S.LANGUAGE])))


def refresh_published(wh: Warehouse, cfg: Config, synthetic: SyntheticStep, gate: quality.Gate,
                      stale_synthetic: set[str], stale_reuse: set[str]) -> list[str]:
    """Recompute, validate and republish the columns of published snapshots that this run's audits changed the
    inputs of, then their years' rows, each snapshot once: the synthetic columns of ``stale_synthetic``
    (``SyntheticStep.affected_by``, from doc_scores) and the reuse columns of ``stale_reuse`` (later snapshots
    than one audited, from doc_hashes and doc_signatures). No crawl is re-read; whatever order the snapshots
    were audited in, the same published snapshots give the same numbers. The refreshed ones."""
    stale = sorted(set(stale_synthetic) | set(stale_reuse))
    if not stale:
        return []
    near = NearDupParams.from_config(cfg.dedup)
    run_id = f"refresh-{uuid.uuid4()}"
    log.info("refreshing %d published snapshots whose inputs this run's audits changed (synthetic estimates: %s; "
             "content reused from earlier snapshots: %s) as %s", len(stale), ", ".join(sorted(stale_synthetic)) or "-",
             ", ".join(sorted(stale_reuse)) or "-", run_id)
    done = []
    keyed = {tables.DOMAIN_STATS: [S.SNAPSHOT, S.REGISTERED_DOMAIN], tables.SNAPSHOT_STATS: [S.SNAPSHOT],
             tables.LANGUAGE_STATS: [S.SNAPSHOT, S.LANGUAGE]}
    for other in stale:
        replacements = []   # ((per-domain, pooled, per-language rows), how to put them in)
        rows = synthetic.refreshed_rows(other) if other in stale_synthetic else None
        if rows is not None:
            replacements.append((rows, audit.with_synthetic_columns))
        rows = reuse_rows(wh, near, other) if other in stale_reuse else None
        if rows is not None:
            replacements.append((rows, lambda new, keys: audit.with_replaced_columns(new, keys, S.REUSE_COLUMNS)))
        if not replacements:
            continue
        # a snapshot audited before languages were recorded has no language_stats rows to refresh
        frames = {t: df for t in keyed if (df := wh.read_snapshot(t, other)) is not None
                  and (t != tables.LANGUAGE_STATS or not df.isEmpty())}
        for new_rows, put in replacements:
            for table, new in zip(keyed, new_rows):
                if table in frames:
                    frames[table] = frames[table].transform(put(new, keyed[table]))
        if publish.republish(wh, gate, other, frames, run_id):
            done.append(other)
    for year in sorted({int(s[8:12]) for s in done}):
        def view(table, year=year):
            return wh.read_year(table, year)
        last = wh.year_snapshots(year)[-1]
        publish.republish(wh, gate, last, lambda stage, view=view: year_rows(cfg, synthetic, last, year)(view, stage),
                          run_id, year=year)
    log.info("refreshed %d snapshots: %s", len(done), ", ".join(done))
    return done


class Auditor:
    """The session-wide parts of an audit (detector, expectation suites) and the loop over snapshots."""

    def __init__(self, wh: Warehouse, cfg: Config):
        self.wh, self.cfg = wh, cfg
        self.synthetic = SyntheticStep(wh.spark, cfg.synthetic, wh)
        self.gate = quality.Gate(cfg.quality, wh.data_docs_dir())
        self.stale_synthetic: set[str] = set()   # published snapshots whose synthetic columns this run's audits fed
        self.stale_reuse: set[str] = set()       # published snapshots later than one this run audited

    def audit(self, snapshot: str) -> bool:
        """Audit one snapshot; False (logged, recorded in audit_runs) when it failed or was blocked. The published
        snapshots it feeds are refreshed by ``finish``, once per run however many pre-LLM snapshots fed them."""
        try:
            audit_snapshot(self.wh, self.cfg, snapshot, self.synthetic, self.gate)
        except CrawlauditError as e:
            log.error("%s failed: %s", snapshot, e)
            return False
        finally:
            self.synthetic.forget()   # its doc_scores may be published: vintage baselines are measured anew
        published = self.wh.published_snapshots()
        self.stale_synthetic.update(self.synthetic.affected_by(snapshot, published))
        self.stale_reuse.discard(snapshot)   # just measured against every earlier snapshot
        self.stale_reuse.update(s for s in published if s > snapshot)
        return True

    def refresh(self) -> list[str]:
        """Refresh the columns this run's audits made stale (see ``refresh_published``). A failure is logged,
        never fatal: the audits stand and the older numbers stay until a later run refreshes them."""
        synthetic, reuse = self.stale_synthetic, self.stale_reuse
        self.stale_synthetic, self.stale_reuse = set(), set()
        try:
            return refresh_published(self.wh, self.cfg, self.synthetic, self.gate, synthetic, reuse)
        except Exception as e:  # noqa: BLE001 - see the docstring
            log.error("%s not refreshed (%s: %s); rerun this run's earliest snapshot to refresh them",
                      ", ".join(sorted(synthetic | reuse)), type(e).__name__, e)
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
                 self.wh.display, f"; failed: {', '.join(failed)}" if failed else "")
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
            from crawlaudit.ops import report as trend

            try:
                index, _ = trend.refresh(self.cfg, self.wh)
                log.info("trend report: %s", index)
            except Exception as e:  # noqa: BLE001 - the audits stand; say why the report did not follow
                log.error("trend report not refreshed (%s: %s); rerun: crawlaudit report --warehouse %s",
                          type(e).__name__, e, self.wh.display)
