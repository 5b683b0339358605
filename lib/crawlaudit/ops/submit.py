"""spark-submit command lines for clusters (YARN, Kubernetes, EMR, Spark standalone), from the ``submit`` config.

What every target gets: the Delta artifact that matches the installed pyspark (``delta_package``), Delta's SQL
extension and catalog, the package as ``--py-files`` and, with ``submit.python_env``, the executors' Python
environment packed by ``scripts/package.sh`` (venv-pack) as ``--archives crawlaudit-env.tar.gz#environment`` with
``spark.pyspark.python=./environment/bin/python`` (Spark's guide, "Python Package Management"). In cluster deploy
mode the driver runs on the cluster too: the conf directory (profiles, expectation suites, model) travels as
``--archives crawlaudit-conf.zip#conf``, so ``conf/...`` paths resolve in the driver's working directory.
"""
from __future__ import annotations

import json
import sys
from importlib import metadata

from crawlaudit.config import SubmitConfig
from crawlaudit.errors import ConfigError
from crawlaudit.session import DELTA_CONF

PACKAGE_ZIP, CONF_ZIP, ENV_ARCHIVE = "crawlaudit.zip", "crawlaudit-conf.zip", "crawlaudit-env.tar.gz"
ENV_PYTHON = "./environment/bin/python"
JOBS = ("audit_snapshot", "scheduled_audit")


def delta_package(pyspark_version: str | None = None, delta_version: str | None = None) -> str:
    """Maven coordinates of the Delta jar for this pyspark: from Delta 4.1 on the artifact carries the Spark
    major.minor (``delta-spark_4.2_2.13``), before it only the Scala version (``delta-spark_2.13``)."""
    pyspark_version = pyspark_version or metadata.version("pyspark")
    delta_version = delta_version or metadata.version("delta-spark")
    spark_mm = ".".join(pyspark_version.split(".")[:2])
    delta_mm = tuple(int(x) for x in delta_version.split(".")[:2])
    artifact = f"delta-spark_{spark_mm}_2.13" if delta_mm >= (4, 1) else "delta-spark_2.13"
    return f"io.delta:{artifact}:{delta_version}"


def _uri(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def spark_submit_spec(cfg: SubmitConfig, job: str, job_args: list[str],
                      extra_packages: tuple[str, ...] = ()) -> dict:
    """What to submit, as named parts (master, deploy_mode, name, packages, py_files, archives, conf, application,
    application_args): ``spark_submit_args`` renders them for spark-submit; the Airflow DAG gives them to
    SparkSubmitOperator (scripts/package.sh saves them as dist/submit.json). ``extra_packages``: further Maven
    coordinates, e.g. hadoop-aws for a warehouse on S3 (``Location.spark_packages``; EMR brings its own S3A)."""
    if job not in JOBS:
        raise ConfigError(f"job {job!r}: expected one of {', '.join(JOBS)}")
    master = cfg.master or {"yarn": "yarn", "emr": "yarn"}.get(cfg.target)
    if master is None:
        raise ConfigError(f"submit.master is not set: target {cfg.target} needs it "
                          f"({'k8s://https://HOST:443' if cfg.target == 'k8s' else 'spark://HOST:7077'})")
    if cfg.target == "k8s" and not cfg.k8s_image:
        raise ConfigError("submit.k8s_image is not set: Kubernetes executors need a container image with Java and "
                          "Python (the packed environment brings the Python packages)")
    cluster_mode = cfg.deploy_mode == "cluster"
    if cluster_mode and cfg.target == "standalone":
        raise ConfigError("submit.deploy_mode = 'cluster': Spark standalone runs Python applications in client mode "
                          "only")
    art = cfg.artifacts
    conf = dict(DELTA_CONF)
    archives = []
    if cfg.python_env:
        archives.append(f"{_uri(art, ENV_ARCHIVE)}#environment")
        conf["spark.pyspark.python"] = ENV_PYTHON
        # spark.pyspark.python would also name the driver's Python; in client mode the archive is not unpacked
        # where the driver runs, so it keeps a local interpreter with the dependencies
        conf["spark.pyspark.driver.python"] = ENV_PYTHON if cluster_mode else (cfg.driver_python or sys.executable)
        if cluster_mode:
            if master == "yarn":
                conf["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] = ENV_PYTHON
    if cluster_mode:
        archives.append(f"{_uri(art, CONF_ZIP)}#conf")
    if cfg.target == "k8s":
        conf["spark.kubernetes.container.image"] = cfg.k8s_image
        if cfg.k8s_upload_path:
            conf["spark.kubernetes.file.upload.path"] = cfg.k8s_upload_path
    if cfg.executor_memory:
        conf["spark.executor.memory"] = cfg.executor_memory
    if cfg.executor_cores:
        conf["spark.executor.cores"] = str(cfg.executor_cores)
    if cfg.num_executors:
        conf["spark.executor.instances"] = str(cfg.num_executors)
    conf.update({k: str(v) for k, v in cfg.conf.items()})
    return {"master": master, "deploy_mode": cfg.deploy_mode, "name": f"crawlaudit-{job}",
            "packages": ",".join([delta_package(), *(() if cfg.target == "emr" else extra_packages)]),
            "py_files": _uri(art, PACKAGE_ZIP), "archives": ",".join(archives),
            "conf": conf, "application": _uri(art, f"jobs/{job}.py"), "application_args": list(job_args)}


def spark_submit_args(cfg: SubmitConfig, job: str, job_args: list[str],
                      extra_packages: tuple[str, ...] = ()) -> list[str]:
    """The arguments after ``spark-submit`` for ``jobs/<job>.py`` with ``job_args``."""
    spec = spark_submit_spec(cfg, job, job_args, extra_packages)
    args = ["--master", spec["master"], "--deploy-mode", spec["deploy_mode"], "--name", spec["name"],
            "--packages", spec["packages"], "--py-files", spec["py_files"]]
    if spec["archives"]:
        args += ["--archives", spec["archives"]]
    for key, value in spec["conf"].items():
        args += ["--conf", f"{key}={value}"]
    return [*args, spec["application"], *spec["application_args"]]


def command(cfg: SubmitConfig, job: str, job_args: list[str], extra_packages: tuple[str, ...] = ()
            ) -> list[str]:
    """The whole command: ``spark-submit ...``, or for EMR ``aws emr add-steps`` with the same arguments as a
    Spark step (EMR runs spark-submit on the cluster's primary node; artifacts must be on S3)."""
    args = spark_submit_args(cfg, job, job_args, extra_packages)
    if cfg.target != "emr":
        return ["spark-submit", *args]
    if not cfg.emr_cluster_id:
        raise ConfigError("submit.emr_cluster_id is not set (j-XXXXXXXXXXXXX): the EMR cluster to add the step to")
    if not cfg.artifacts.startswith("s3://"):
        raise ConfigError(f"submit.artifacts = {cfg.artifacts!r}: EMR steps read the artifacts from S3; upload "
                          f"dist/ (scripts/package.sh) and set submit.artifacts to its s3:// prefix")
    step = {"Type": "Spark", "Name": f"crawlaudit-{job}", "ActionOnFailure": "CONTINUE", "Args": args}
    return ["aws", "emr", "add-steps", "--cluster-id", cfg.emr_cluster_id, "--steps", json.dumps([step])]
