"""Audit Common Crawl snapshots into Delta tables.

For each snapshot: read its WET files (manifest + base URL, or local paths), compute per registered domain and
pooled per snapshot the exact and cross-snapshot duplication and the vocabulary entropy at a fixed token
budget, and replace the snapshot's partitions of domain_stats, snapshot_stats and ingest_errors; extend
content_hashes; log the run in audit_runs. Exits 1 if any snapshot failed, 2 on a usage or config error.

Local mode:
  python jobs/audit_snapshot.py --config conf/local.yaml --snapshot all
Cluster (after scripts/package.sh):
  spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 --py-files dist/crawlaudit.zip
    jobs/audit_snapshot.py --config conf/cluster.yaml --snapshot CC-MAIN-2024-22 --sample-files 100
"""
import argparse
import logging
import sys

from pyspark import StorageLevel

from crawlaudit import audit, cli, dedup, ingest, quality, session, tables
from crawlaudit.errors import CrawlauditError
from crawlaudit.runs import AuditRun

log = logging.getLogger("audit_snapshot")


def audit_one(spark, cfg, snapshot: str) -> None:
    wh = cfg.output.warehouse
    with AuditRun(spark, cfg, snapshot) as run:
        parsed, n_files = ingest.read_wet(spark, cfg.input, snapshot, cfg.domains.include_private_suffixes)
        parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
        docs, errors, files = ingest.split_ingested(parsed)
        flagged = audit.flag_documents(docs, tables.read_prior_hashes(spark, wh, snapshot))
        per_domain = audit.domain_stats(flagged, docs, cfg.metrics, run.run_id).persist()
        pooled = audit.snapshot_stats(flagged, docs, files, errors, cfg.metrics, run.run_id).persist()
        tables.replace_snapshot(audit.ingest_error_rows(errors, run.run_id), wh, tables.INGEST_ERRORS, snapshot)
        summary = pooled.first().asDict()
        run.counts.update({k: summary[k] or 0 for k in ("n_files", "n_failed_files", "n_records", "n_error_records",
                                                        "n_docs", "n_domains")})
        quality.check_error_fraction(summary, cfg.quality.max_error_fraction)
        tables.merge_content_hashes(spark, dedup.first_seen_hashes(docs), wh)
        tables.replace_snapshot(per_domain, wh, tables.DOMAIN_STATS, snapshot)
        tables.replace_snapshot(pooled, wh, tables.SNAPSHOT_STATS, snapshot)
        tables.replace_snapshot(audit.token_sample_rows(docs, cfg.metrics), wh, tables.TOKEN_SAMPLES, snapshot)
        year = summary["year"]
        tables.replace_year(audit.year_stats(tables.read_year(spark, wh, tables.SNAPSHOT_STATS, year),
                                             tables.read_year(spark, wh, tables.TOKEN_SAMPLES, year), cfg.metrics),
                            wh, tables.YEAR_STATS, year)
        log.info("%s: %d docs in %d domains from %d files; %d damaged records, %d failed files",
                 snapshot, summary["n_docs"], summary["n_domains"], summary["n_files"],
                 summary["n_error_records"], summary["n_failed_files"])
        parsed.unpersist()


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
        for i, snapshot in enumerate(snapshots, 1):
            log.info("[%d/%d] auditing %s", i, len(snapshots), snapshot)
            try:
                audit_one(spark, cfg, snapshot)
            except CrawlauditError as e:
                log.error("%s failed: %s", snapshot, e)
                failed.append(snapshot)
    log.info("%d of %d snapshots audited into %s%s", len(snapshots) - len(failed), len(snapshots),
             cfg.output.warehouse, f"; failed: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
