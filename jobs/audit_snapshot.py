"""Audit Common Crawl snapshots into Delta tables.

For each snapshot: read its WET files (manifest + base URL, or local paths), compute per registered domain and
pooled per snapshot the exact, near-duplicate, line-level and cross-snapshot duplication, the vocabulary
entropy at a fixed token budget and the AI-generated share (with its interval); stage the results and validate
them against the expectation suites (conf/expectations; outcomes in validation_results, HTML data docs under
<warehouse>/_data_docs). If every critical expectation passes, replace the snapshot's partitions of domain_stats,
snapshot_stats, doc_signatures, doc_hashes, doc_scores, token_samples and ingest_errors, extend content_hashes and
recompute the year's year_stats; otherwise publish nothing and move the results to <warehouse>/_quarantine. At the
end, published snapshots whose numbers this run's audits fed (the reuse of later ones, the vintage baselines) are
refreshed. Each run is logged in audit_runs. Exits 1 if any snapshot failed, 2 on a usage or config error.

Local mode:
  python jobs/audit_snapshot.py --config conf/local.yaml --snapshot all
Cluster (after scripts/package.sh):
  spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 --py-files dist/crawlaudit.zip
    jobs/audit_snapshot.py --config conf/cluster.yaml --snapshot CC-MAIN-2024-22 --sample-files 100
"""
import argparse
import sys

from crawlaudit import cli, session
from crawlaudit.errors import CrawlauditError
from crawlaudit.pipeline import Auditor


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_audit_arguments(parser)
    args = parser.parse_args(argv)
    cli.setup_logging(args.verbose)
    try:
        cfg, snapshots, wh = cli.job_config_from_args(args)
    except CrawlauditError as e:
        print(f"audit_snapshot: {e}", file=sys.stderr)
        return 2
    with session.spark_session(cfg.spark, wh.location) as spark:
        failed = Auditor(wh.with_spark(spark), cfg).audit_all(snapshots)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
