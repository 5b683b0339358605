"""Audit Common Crawl snapshots into Delta tables.

For each snapshot: read its WET files (manifest + base URL, or local paths), compute per registered domain and
pooled per snapshot the exact, near-duplicate, line-level and cross-snapshot duplication, the vocabulary
entropy at a fixed token budget and the AI-generated share (with its interval), and replace the snapshot's
partitions of domain_stats, snapshot_stats, doc_signatures, doc_scores and ingest_errors; extend content_hashes;
recompute the year's year_stats; log the run in audit_runs. Exits 1 if any snapshot failed, 2 on a usage or config error.

Local mode:
  python jobs/audit_snapshot.py --config conf/local.yaml --snapshot all
Cluster (after scripts/package.sh):
  spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 --py-files dist/crawlaudit.zip
    jobs/audit_snapshot.py --config conf/cluster.yaml --snapshot CC-MAIN-2024-22 --sample-files 100
"""
import argparse
import logging
import sys

from crawlaudit import audit, cli, dedup, ingest, quality, session, signals, tables
from crawlaudit.synthetic_step import SyntheticStep
from crawlaudit.errors import CrawlauditError
from crawlaudit.neardup import NearDupParams
from crawlaudit.runs import AuditRun

log = logging.getLogger("audit_snapshot")


def audit_one(spark, cfg, snapshot: str, synthetic: SyntheticStep) -> None:
    wh = cfg.output.warehouse
    near = NearDupParams.from_config(cfg.dedup)
    with AuditRun(spark, cfg, snapshot) as run, session.Cached() as cache:
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
        per_domain = cache(audit.domain_stats(flagged, docs, cfg.metrics, run.run_id, by_domain))
        pooled = cache(audit.snapshot_stats(flagged, docs, files, errors, cfg.metrics, run.run_id, pooled_synthetic))
        tables.replace_snapshot(audit.ingest_error_rows(errors, run.run_id), wh, tables.INGEST_ERRORS, snapshot)
        summary = pooled.first().asDict()
        run.counts.update({k: summary[k] or 0 for k in ("n_files", "n_failed_files", "n_records", "n_error_records",
                                                        "n_docs", "n_domains")})
        quality.check_error_fraction(summary, cfg.quality.max_error_fraction)
        tables.merge_content_hashes(spark, dedup.first_seen_hashes(docs), wh)
        tables.replace_snapshot(audit.doc_signature_rows(flagged, doc_signals, near), wh, tables.DOC_SIGNATURES, snapshot)
        synthetic.publish_scores(flagged, scores, snapshot)
        tables.replace_snapshot(per_domain, wh, tables.DOMAIN_STATS, snapshot)
        tables.replace_snapshot(pooled, wh, tables.SNAPSHOT_STATS, snapshot)
        tables.replace_snapshot(audit.token_sample_rows(docs, cfg.metrics), wh, tables.TOKEN_SAMPLES, snapshot)
        year = summary["year"]
        tables.replace_year(audit.year_stats(tables.read_year(spark, wh, tables.SNAPSHOT_STATS, year),
                                             tables.read_year(spark, wh, tables.TOKEN_SAMPLES, year), cfg.metrics,
                                             synthetic.year_rows(snapshot, year)), wh, tables.YEAR_STATS, year)
        log.info("%s: %d docs in %d domains from %d files; %d damaged records, %d failed files",
                 snapshot, summary["n_docs"], summary["n_domains"], summary["n_files"],
                 summary["n_error_records"], summary["n_failed_files"])


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
        for i, snapshot in enumerate(snapshots, 1):
            log.info("[%d/%d] auditing %s", i, len(snapshots), snapshot)
            try:
                audit_one(spark, cfg, snapshot, synthetic)
            except CrawlauditError as e:
                log.error("%s failed: %s", snapshot, e)
                failed.append(snapshot)
    log.info("%d of %d snapshots audited into %s%s", len(snapshots) - len(failed), len(snapshots),
             cfg.output.warehouse, f"; failed: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
