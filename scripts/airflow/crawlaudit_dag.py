"""Airflow DAG: crawlaudit's scheduled, incremental audit, daily, submitted with SparkSubmitOperator.

Tasks: ``snapshots_due`` runs ``crawlaudit plan --json`` and skips the rest when no snapshot is due (Common Crawl
publishes one every month or two, so most days no cluster time is spent); ``scheduled_audit`` submits
jobs/scheduled_audit.py, which audits each due snapshot under a lease (a second run, or a cron job, never audits
the same snapshot at once), validates, publishes and rewrites the trend report; it fails when any snapshot failed.

Setup where Airflow runs (its own environment): ``pip install 'crawlaudit[airflow]'`` (or the two packages of
setup.py's ``airflow`` extra), a crawlaudit checkout with ``scripts/package.sh`` run in it (dist/, including
dist/submit.json: what to submit, from the profile's ``submit`` section), and an Airflow connection whose host is
the cluster's master (``yarn``, ``spark://HOST:7077`` or ``k8s://https://HOST:443``). Settings, from the
environment of the scheduler and workers:

  CRAWLAUDIT_HOME        the checkout (default /opt/crawlaudit); relative paths of dist/submit.json are under it
  CRAWLAUDIT_CLI         the crawlaudit command for ``plan`` (default $CRAWLAUDIT_HOME/.venv/bin/crawlaudit)
  CRAWLAUDIT_SPARK_CONN  the Spark connection id (default spark_default)
  CRAWLAUDIT_SCHEDULE    cron expression (default daily at 06:00 UTC)
"""
from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator

HOME = Path(os.environ.get("CRAWLAUDIT_HOME", "/opt/crawlaudit"))
CLI = os.environ.get("CRAWLAUDIT_CLI", str(HOME / ".venv" / "bin" / "crawlaudit"))
SCHEDULE = os.environ.get("CRAWLAUDIT_SCHEDULE", "0 6 * * *")


def _absolute(path: str) -> str:
    """A path of dist/submit.json as the submitting machine sees it (URIs and #aliases kept)."""
    if not path or "://" in path or path.startswith("/"):
        return path
    return str(HOME / path)


def load_spec() -> dict:
    """dist/submit.json, with its local paths made absolute; a clear import error when it is missing."""
    path = HOME / "dist" / "submit.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run scripts/package.sh in {HOME} (CRAWLAUDIT_HOME)")
    spec = json.loads(path.read_text())
    spec["py_files"] = _absolute(spec["py_files"])
    spec["archives"] = ",".join(_absolute(a) for a in spec["archives"].split(",") if a)
    spec["application"] = _absolute(spec["application"])
    return spec


def snapshots_due(config: str) -> bool:
    """True when ``crawlaudit plan`` lists a snapshot to audit; the plan is logged. A plan that fails fails the
    task (a wrong catalog URL or an unreadable warehouse must be seen, not skipped)."""
    out = subprocess.run([CLI, "plan", "--config", config, "--json"], cwd=HOME, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"crawlaudit plan failed ({out.returncode}): {out.stderr.strip()}")
    due = json.loads(out.stdout)
    print(f"{len(due)} snapshot(s) due: {', '.join(e['id'] for e in due) or 'none'}")
    return bool(due)


SPEC = load_spec()
CONFIG = SPEC["application_args"][SPEC["application_args"].index("--config") + 1]

with DAG(
    dag_id="crawlaudit_scheduled_audit",
    description="Audit newly published Common Crawl snapshots (crawlaudit)",
    schedule=SCHEDULE,
    start_date=datetime(2025, 1, 1),
    catchup=False,                    # the plan covers every due snapshot: missed days need no backfill
    max_active_runs=1,
    default_args={"owner": "crawlaudit", "retries": 1, "retry_delay": timedelta(minutes=30)},
    tags=["crawlaudit", "common-crawl"],
) as dag:
    due = ShortCircuitOperator(task_id="snapshots_due", python_callable=snapshots_due, op_args=[CONFIG])
    audit = SparkSubmitOperator(
        task_id="scheduled_audit",
        conn_id=os.environ.get("CRAWLAUDIT_SPARK_CONN", "spark_default"),
        application=SPEC["application"],
        application_args=SPEC["application_args"],
        name=SPEC["name"],
        deploy_mode=SPEC["deploy_mode"],
        packages=SPEC["packages"],
        py_files=SPEC["py_files"],
        archives=SPEC["archives"] or None,
        conf=SPEC["conf"],
        execution_timeout=timedelta(hours=6),  # schedule.lease_minutes (360): a lease outliving its task expires
    )
    due >> audit
