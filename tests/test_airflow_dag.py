"""The Airflow DAG (scripts/airflow/crawlaudit_dag.py), loaded with Airflow's DagBag in the Airflow environment that
scripts/test.sh builds from setup.py's ``airflow`` extra (.venv-airflow: Airflow lives apart from the Spark job's
environment, as it does where it runs)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import yaml

from tests.e2e import ROOT

AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"

PROBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    tasks = {}
    for t in dag.tasks:
        attrs = {k.lstrip("_"): v for k, v in vars(t).items() if k.lstrip("_") in (
            "application", "application_args", "conf", "packages", "py_files", "archives", "deploy_mode", "conn_id",
            "name", "op_args")}
        tasks[t.task_id] = {"type": type(t).__name__, "downstream": sorted(t.downstream_task_ids), "attrs": attrs}
    out["dags"][dag_id] = {"schedule": str(dag.schedule), "timetable": type(dag.timetable).__name__,
                           "catchup": dag.catchup, "max_active_runs": dag.max_active_runs, "tasks": tasks}
    due = dag.get_task("snapshots_due")
    out["dags"][dag_id]["snapshots_due"] = due.python_callable(*due.op_args)   # runs `crawlaudit plan`
print(json.dumps(out, default=str))
"""


def test_dag_loads_with_its_tasks_schedule_and_submission(tmp_path):
    assert AIRFLOW_PYTHON.exists(), "no .venv-airflow: scripts/test.sh builds it from setup.py's airflow extra"
    home = tmp_path / "crawlaudit"                     # CRAWLAUDIT_HOME: dist/ from scripts/package.sh, conf/
    subprocess.run(["bash", str(ROOT / "scripts" / "package.sh"), "--no-env"], cwd=ROOT, check=True,
                   env={**os.environ, "DIST": str(home / "dist")}, capture_output=True, timeout=120)
    (home / "conf").mkdir()
    catalog = tmp_path / "collinfo.json"
    catalog.write_text(json.dumps([{"id": s, "name": s} for s in ("CC-MAIN-2025-05", "CC-MAIN-2024-51")]))
    profile = yaml.safe_load((ROOT / "conf" / "cluster.yaml").read_text())
    profile["schedule"]["catalog"] = str(catalog)
    profile["output"]["warehouse"] = str(tmp_path / "wh")           # nothing audited yet: both are due
    (home / "conf" / "cluster.yaml").write_text(yaml.safe_dump(profile))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "PYTHON"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               CRAWLAUDIT_HOME=str(home), CRAWLAUDIT_CLI=str(shutil.which("crawlaudit", path=str(ROOT / ".venv" / "bin"))))
    probe = subprocess.run([str(AIRFLOW_PYTHON), "-c", PROBE, str(ROOT / "scripts" / "airflow")], env=env,
                           capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    bag = json.loads(probe.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    dag = bag["dags"]["crawlaudit_scheduled_audit"]
    assert dag["schedule"] == "0 6 * * *" and dag["timetable"] == "CronTriggerTimetable"
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert {t: v["type"] for t, v in dag["tasks"].items()} == {"snapshots_due": "ShortCircuitOperator",
                                                               "scheduled_audit": "SparkSubmitOperator"}
    assert dag["tasks"]["snapshots_due"]["downstream"] == ["scheduled_audit"]
    assert dag["snapshots_due"] is True                                  # the plan listed the two snapshots

    submit = dag["tasks"]["scheduled_audit"]["attrs"]
    assert submit["application"] == str(home / "dist" / "jobs" / "scheduled_audit.py")
    assert submit["application_args"] == ["--config", "conf/cluster.yaml"]
    # Delta, and hadoop-aws for the profile's s3a:// warehouse
    assert submit["packages"] == "io.delta:delta-spark_4.2_2.13:4.4.0,org.apache.hadoop:hadoop-aws:3.5.0"
    assert submit["py_files"] == str(home / "dist" / "crawlaudit.zip")
    assert submit["archives"] == f"{home}/dist/crawlaudit-env.tar.gz#environment,{home}/dist/crawlaudit-conf.zip#conf"
    assert submit["conf"]["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert submit["conf"]["spark.pyspark.python"] == "./environment/bin/python"
    assert submit["deploy_mode"] == "cluster" and submit["conn_id"] == "spark_default"

    # without dist/submit.json the DAG does not load, and says what to do
    (home / "dist" / "submit.json").unlink()
    probe = subprocess.run([str(AIRFLOW_PYTHON), "-c", PROBE, str(ROOT / "scripts" / "airflow")], env=env,
                           capture_output=True, text=True, timeout=300)
    errors = json.loads(probe.stdout.strip().splitlines()[-1])["errors"]
    assert any("run scripts/package.sh" in e for e in errors.values()), errors
