"""Audit Common Crawl snapshots into Delta tables.

For each snapshot: read its WET files (manifest + base URL, or local paths), compute per registered domain and
pooled per snapshot the exact, near-duplicate, line-level and cross-snapshot duplication, the vocabulary
entropy at a fixed token budget and the AI-generated share (with its interval); stage the results and validate
them against the expectation suites (conf/expectations; outcomes in validation_results, HTML data docs under
<warehouse>/_data_docs). If every critical expectation passes, replace the snapshot's partitions of domain_stats,
snapshot_stats, doc_signatures, doc_scores, token_samples and ingest_errors, extend content_hashes and recompute
the year's year_stats; otherwise publish nothing and move the results to <warehouse>/_quarantine. Each run is
logged in audit_runs. Exits 1 if any snapshot failed, 2 on a usage or config error.

Local mode:
  python jobs/audit_snapshot.py --config conf/local.yaml --snapshot all
Cluster (after scripts/package.sh):
  spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 --py-files dist/crawlaudit.zip
    jobs/audit_snapshot.py --config conf/cluster.yaml --snapshot CC-MAIN-2024-22 --sample-files 100
"""
import argparse
import logging
import sys

from crawlaudit import audit, cli, dedup, ingest, publish, quality, session, signals, tables
from crawlaudit.synthetic_step import SyntheticStep
from crawlaudit.errors import CrawlauditError
from crawlaudit.neardup import NearDupParams
from crawlaudit.runs import AuditRun

log = logging.getLogger("audit_snapshot")


def audit_one(spark, cfg, snapshot: str, synthetic: SyntheticStep, gate: quality.Gate) -> None:
    wh = cfg.output.warehouse
    near = NearDupParams.from_config(cfg.dedup)
    with AuditRun(spark, cfg, snapshot) as run, session.Cached() as cache, \
            publish.Publication(spark, wh, run, snapshot, gate) as pub:
        parsed, n_files = ingest.read_wet(spark, cfg.input, snapshot, cfg.domains.include_private_suffixes)
        docs, errors, files = ingest.split_ingested(cache(parsed))
        # narrow per-document results are checkpointed: later plans start from them instead of nesting their plans
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
        pub.validate(year, lambda view: audit.year_stats(view(tables.SNAPSHOT_STATS), view(tables.TOKEN_SAMPLES),
                                                         cfg.metrics, synthetic.year_rows(snapshot, year, view)),
                     n_docs_with_tokens=flagged.where("n_tokens > 0").count())
        pub.publish()
        log.info("%s: %d docs in %d domains from %d files; %d damaged records, %d failed files; %d expectations "
                 "passed (%d warnings)", snapshot, summary["n_docs"], summary["n_domains"], summary["n_files"],
                 summary["n_error_records"], summary["n_failed_files"],
                 run.counts["n_expectations"] - run.counts["n_failed_warning"], run.counts["n_failed_warning"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_audit_arguments(parser)
    args = parser.parse_args(argv)
    cli.setup_logging(args.verbose)
    try:
        cfg, snapshots = cli.job_config_from_args(args)
    except CrawlauditError as e:
        print(f"audit_snapshot: {e}", file=sys.stderr)
        return 2
    failed = []
    with session.spark_session(cfg.spark) as spark:
        synthetic = SyntheticStep(spark, cfg.synthetic, cfg.output.warehouse)
        gate = quality.Gate(cfg.quality, cfg.output.warehouse)
        for i, snapshot in enumerate(snapshots, 1):
            log.info("[%d/%d] auditing %s", i, len(snapshots), snapshot)
            try:
                audit_one(spark, cfg, snapshot, synthetic, gate)
            except CrawlauditError as e:
                log.error("%s failed: %s", snapshot, e)
                failed.append(snapshot)
        docs = gate.build_docs()
        if docs:
            log.info("validation data docs: %s", docs)
    log.info("%d of %d snapshots audited into %s%s", len(snapshots) - len(failed), len(snapshots),
             cfg.output.warehouse, f"; failed: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
