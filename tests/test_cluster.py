"""Cluster submission (#9): the spark-submit commands for each target, and a real Spark standalone cluster (a master
and two workers on 127.0.0.1) running jobs/audit_snapshot.py submitted with spark-submit and the packaged artifacts,
from a directory where crawlaudit is not importable: same tables as the local-mode run, tasks on both workers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from crawlaudit import cli
from crawlaudit.ops import submit
from crawlaudit.config import SubmitConfig, load_config
from crawlaudit.errors import ConfigError
from crawlaudit.warehouse import Warehouse
from tests.cluster import SPARK_HOME, StandaloneCluster, tasks_per_worker
from tests.e2e import E2E_SNAPSHOT_BUDGET, ROOT, SPEC

FIRST = SPEC.snapshots[0]


def test_delta_package_follows_the_installed_pyspark():
    assert submit.delta_package() == "io.delta:delta-spark_4.2_2.13:4.4.0"       # the pins of setup.py
    assert submit.delta_package("4.1.1", "4.2.0") == "io.delta:delta-spark_4.1_2.13:4.2.0"
    assert submit.delta_package("3.5.3", "3.3.0") == "io.delta:delta-spark_2.13:3.3.0"   # before Delta 4.1


def _conf(cmd: list[str]) -> dict:
    return dict(cmd[i + 1].split("=", 1) for i, a in enumerate(cmd) if a == "--conf")


def _arg(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_submit_commands_for_yarn_kubernetes_and_emr(capsys):
    cluster = load_config(ROOT / "conf" / "cluster.yaml").submit
    yarn = submit.command(cluster, "audit_snapshot", ["--snapshot", "CC-MAIN-2024-22"])
    assert yarn[0] == "spark-submit" and _arg(yarn, "--master") == "yarn" and _arg(yarn, "--deploy-mode") == "cluster"
    assert _arg(yarn, "--packages") == "io.delta:delta-spark_4.2_2.13:4.4.0"
    assert _arg(yarn, "--py-files") == "dist/crawlaudit.zip"
    assert _arg(yarn, "--archives") == "dist/crawlaudit-env.tar.gz#environment,dist/crawlaudit-conf.zip#conf"
    conf = _conf(yarn)
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.pyspark.python"] == conf["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] == "./environment/bin/python"
    assert yarn[-3:] == ["dist/jobs/audit_snapshot.py", "--snapshot", "CC-MAIN-2024-22"]

    k8s = submit.command(SubmitConfig(target="k8s", master="k8s://https://k8s.example:443", deploy_mode="cluster",
                                      artifacts="s3a://b/dist", k8s_image="repo/spark-py:4.2.0",
                                      k8s_upload_path="s3a://b/uploads"), "scheduled_audit", [])
    assert _conf(k8s)["spark.kubernetes.container.image"] == "repo/spark-py:4.2.0"
    assert _conf(k8s)["spark.kubernetes.file.upload.path"] == "s3a://b/uploads"
    assert k8s[-1] == "s3a://b/dist/jobs/scheduled_audit.py" and "spark.yarn.appMasterEnv.PYSPARK_PYTHON" not in _conf(k8s)

    emr = submit.command(SubmitConfig(target="emr", deploy_mode="cluster", artifacts="s3://b/dist",
                                      emr_cluster_id="j-ABC"), "audit_snapshot", ["--snapshot", "CC-MAIN-2024-22"])
    assert emr[:5] == ["aws", "emr", "add-steps", "--cluster-id", "j-ABC"]
    step = json.loads(emr[-1])[0]
    assert step["Type"] == "Spark" and _arg(step["Args"], "--py-files") == "s3://b/dist/crawlaudit.zip"

    for bad, message in [(SubmitConfig(target="emr", emr_cluster_id="j-1"), "EMR steps read the artifacts from S3"),
                         (SubmitConfig(target="k8s", master="k8s://x"), "k8s_image is not set"),
                         (SubmitConfig(target="standalone"), "submit.master is not set"),
                         (SubmitConfig(target="standalone", master="spark://h:7077", deploy_mode="cluster"),
                          "client mode only")]:
        with pytest.raises(ConfigError, match=message):
            submit.command(bad, "audit_snapshot", [])
    with pytest.raises(ConfigError, match="submit.target"):
        SubmitConfig(target="mesos")

    # the CLI that scripts/submit.sh runs: the job gets the same profile
    assert cli.main(["submit-command", "--config", "conf/cluster.yaml", "--", "--snapshot", "CC-MAIN-2024-22"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("--config conf/cluster.yaml --snapshot CC-MAIN-2024-22")
    dry = subprocess.run(["bash", str(ROOT / "scripts" / "submit.sh"), "--dry-run", "--", "--snapshot", "CC-MAIN-2024-22"],
                         capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0 and dry.stdout.startswith("spark-submit --master yarn"), dry.stderr


def _executor_env(path: Path) -> Path:
    """A virtualenv whose Python has crawlaudit's dependencies (the test venv's site-packages on sys.path, without
    running that directory's .pth files, so crawlaudit's editable install stays invisible) but not crawlaudit:
    a stand-in for scripts/package.sh's full environment (≈ 1 GB), packed the same way with venv-pack."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    deps = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "pyspark").is_dir())
    site = next(path.glob("lib/python3*/site-packages"))
    (site / "sitecustomize.py").write_text(f"import sys\nsys.path.append({deps!r})\n")
    return path


def _snapshot_rows(wh: str) -> dict:
    """The rows FIRST put in each published table, without run ids."""
    def rows(table, keep):
        return sorted(json.dumps({k: v for k, v in r.items() if k != "run_id"}, sort_keys=True, default=str)
                      for r in Warehouse.at(wh).read_arrow(table).to_pylist() if keep(r))

    of_first = lambda r: r["snapshot"] == FIRST  # noqa: E731
    out = {t: rows(t, of_first) for t in ("domain_stats", "snapshot_stats", "doc_signatures", "doc_scores",
                                          "token_samples", "ingest_errors")}
    out["content_hashes"] = rows("content_hashes", lambda r: r["first_snapshot"] == FIRST)
    out["year_stats"] = rows("year_stats", lambda r: r["year"] == int(FIRST.split("-")[2]))
    return out


def test_standalone_cluster_audit_equals_local_mode(audited, tmp_path):
    dist, events, cwd = tmp_path / "dist", tmp_path / "events", tmp_path / "elsewhere"
    events.mkdir()
    cwd.mkdir()
    subprocess.run(["bash", str(ROOT / "scripts" / "package.sh"), "--no-env"], env={**os.environ, "DIST": str(dist)},
                   check=True, capture_output=True, timeout=120)
    import zipfile

    shipped = zipfile.ZipFile(dist / "crawlaudit.zip").namelist()   # the generators stay home
    assert "crawlaudit/warehouse/store.py" in shipped and not [n for n in shipped if "/devtools/" in n]
    env = _executor_env(tmp_path / "env")
    subprocess.run([str(Path(sys.executable).parent / "venv-pack"), "-p", str(env), "-o",
                    str(dist / submit.ENV_ARCHIVE), "--quiet"], check=True, timeout=120)
    python = str(env / "bin" / "python")
    probe = subprocess.run([python, "-c", "import crawlaudit"], cwd=cwd, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'crawlaudit'" in probe.stderr   # only --py-files brings it

    model = audited["model_args"][1].split("=", 1)[1]
    (cwd / "job.yaml").write_text(yaml.safe_dump({
        "spark": {"master": None, "delta_packages": False, "shuffle_partitions": 2},
        "input": {"manifest": str(audited["corpus"] / "crawl-data/{snapshot}/wet.paths.gz"),
                  "base_url": str(audited["corpus"])},
        "output": {"warehouse": str(tmp_path / "wh")},
        "synthetic": {"model": model}, "metrics": {"snapshot_entropy_budget_tokens": E2E_SNAPSHOT_BUDGET},
        "quality": {"expectations": str(ROOT / "conf" / "expectations"), "data_docs": False}}))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "PYTHON"))}
    child_env.update(SPARK_HOME=str(SPARK_HOME), SPARK_LOCAL_IP="127.0.0.1")

    with StandaloneCluster(tmp_path / "cluster") as cluster:
        cfg = SubmitConfig(target="standalone", master=cluster.master_url, deploy_mode="client", artifacts=str(dist),
                           python_env=True, driver_python=python, executor_memory="1g", executor_cores=1,
                           conf={"spark.cores.max": 2, "spark.eventLog.enabled": "true",
                                 "spark.eventLog.dir": events.as_uri(), "spark.eventLog.compress": "false",
                                 "spark.ui.enabled": "false"})
        cmd = submit.command(cfg, "audit_snapshot", ["--config", "job.yaml", "--snapshot", FIRST])
        cmd[0] = str(SPARK_HOME / "bin" / "spark-submit")
        started = time.monotonic()
        run = subprocess.run(cmd, cwd=cwd, env=child_env, capture_output=True, text=True, timeout=900)
        print(f"spark-submit on the standalone cluster: {time.monotonic() - started:.1f} s")
        (tmp_path / "driver.log").write_text(run.stdout + run.stderr)   # the driver's Python logs to stdout
        assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        workers = tasks_per_worker(events)
    assert all(p.poll() is not None for p in cluster.procs)                 # stopped: master and both workers
    assert sorted(workers) == sorted(str(p) for p in cluster.worker_ui_ports), workers   # both workers ran tasks
    assert min(workers.values()) >= 5, workers
    assert f"{FIRST}: read 2/2 files" in run.stdout                         # progress of the read, on the driver

    cluster_rows, local_rows = _snapshot_rows(str(tmp_path / "wh")), _snapshot_rows(audited["wh"])
    assert {t: len(r) for t, r in cluster_rows.items()} == {t: len(r) for t, r in local_rows.items()}
    assert len(cluster_rows["domain_stats"]) >= 8 and len(cluster_rows["doc_signatures"]) > 300
    assert cluster_rows == local_rows                                       # same tables as the local-mode run


def test_submit_command_adds_hadoop_aws_for_a_warehouse_on_s3(capsys):
    """conf/cluster.yaml writes to s3a://: spark-submit gets hadoop-aws of pyspark's Hadoop beside Delta (not on
    EMR, which brings its own S3A)."""
    from crawlaudit import cli

    assert cli.main(["submit-command", "--config", "conf/cluster.yaml", "--json"]) == 0
    packages = json.loads(capsys.readouterr().out)["packages"].split(",")
    assert packages == ["io.delta:delta-spark_4.2_2.13:4.4.0", "org.apache.hadoop:hadoop-aws:3.5.0"]
    assert cli.main(["submit-command", "--config", "conf/cluster.yaml", "--target", "emr", "--artifacts", "s3://b/d",
                     "--set", "submit.emr_cluster_id=j-TEST", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["packages"] == "io.delta:delta-spark_4.2_2.13:4.4.0"
