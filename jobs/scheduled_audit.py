"""Audit the snapshots that are due, as a scheduled job (cron, Airflow).

Due: every snapshot of the catalog (schedule.catalog: Common Crawl's collinfo.json, a file or URL) between
schedule.since and schedule.until that has no succeeded run in audit_runs (`crawlaudit plan` lists them, newest
first). They are audited oldest first, so that each is compared with the snapshots before it (cross-snapshot
reuse), each under a lease recorded in the warehouse: of two schedulers started at once, only one audits a
snapshot; the other skips it. Every audit is validated before it is published (see audit_snapshot.py). Then the
trend report is rewritten (report.out_dir, default <warehouse>/_report/index.html; `crawlaudit report`).
Exits 0 when nothing failed (also when nothing was due), 1 if any audit failed, 2 on a usage or config error.

Cron (daily at 06:00; Common Crawl publishes a snapshot every month or two):
  0 6 * * * cd /opt/crawlaudit && .venv/bin/python jobs/scheduled_audit.py --config conf/cluster.yaml
Cluster: spark-submit ... jobs/scheduled_audit.py --config conf/cluster.yaml --sample-files 100
"""
import argparse
import logging
import sys

from crawlaudit import cli, session
from crawlaudit.ops import schedule
from crawlaudit.errors import CrawlauditError
from crawlaudit.pipeline import Auditor

log = logging.getLogger("scheduled_audit")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_config_arguments(parser)
    parser.add_argument("--catalog", help="collinfo.json path or URL (default: schedule.catalog)")
    cli.add_input_arguments(parser)
    args = parser.parse_args(argv)
    cli.setup_logging(args.verbose)
    try:
        cfg = cli.config_from_args(args)
        wh = cli.preflight(cfg)
        due = sorted(e.id for e in schedule.plan(cfg.schedule, wh))
    except CrawlauditError as e:
        print(f"scheduled_audit: {e}", file=sys.stderr)
        return 2
    log.info("%d snapshot(s) due%s", len(due), f": {', '.join(due)}" if due else "")
    if not due:
        return 0
    failed, done = [], []
    with session.spark_session(cfg.spark, wh.location) as spark:
        wh = wh.with_spark(spark)
        auditor = Auditor(wh, cfg)
        for i, snapshot in enumerate(due, 1):
            with schedule.Lease(wh, snapshot, cfg.schedule.lease_minutes) as held:
                if not held:
                    continue
                if snapshot in wh.succeeded_snapshots():  # audited by another scheduler meanwhile
                    log.info("%s: already audited; skipped", snapshot)
                    continue
                log.info("[%d/%d] auditing %s", i, len(due), snapshot)
                (done if auditor.audit(snapshot) else failed).append(snapshot)
        auditor.finish(report=bool(done))  # the report follows the tables whenever this run changed them
    log.info("scheduled audit done: %d due, %d failed%s", len(due), len(failed),
             f" ({', '.join(failed)})" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
