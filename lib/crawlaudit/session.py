"""Build the SparkSession from config: Delta's SQL extension and catalog, small-run defaults, and the
executors' Python pointed at the running interpreter in local mode (else they would run the system python,
which lacks fastwarc)."""
from __future__ import annotations

import contextlib
import logging
import os
import sys

from crawlaudit.config import SparkConfig

log = logging.getLogger(__name__)

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


ARROW_BATCH_ROWS = 2000
UNROLL_CHUNK = str(500 * 1024)  # bytes: the conf takes a plain number


@contextlib.contextmanager
def spark_session(cfg: SparkConfig, location=None):
    """``build(cfg, location)`` for the duration of a block; stops the session only if this block started it
    (a job called from a test, a notebook or another job leaves its caller's session running)."""
    from pyspark import SparkContext

    # the running context, not getActiveSession(): that one is per thread, and a job run in a second thread of
    # a process that already has a session must not stop it
    existing = SparkContext._active_spark_context
    spark = build(cfg, location)
    try:
        yield spark
    finally:
        if existing is None:
            spark.stop()


def build(cfg: SparkConfig, location=None):
    """A SparkSession with Delta. ``cfg.master`` null leaves the master to spark-submit. ``location``: the
    warehouse's ``Location``, whose Hadoop settings (S3A endpoint, region, path style) the session takes, and with
    ``delta_packages`` its jars too (hadoop-aws, resolved through Ivy like Delta's)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(cfg.app_name)
    if cfg.master:
        builder = builder.master(cfg.master)
        if cfg.master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = {
        **DELTA_CONF,
        "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        # plan descriptions kept for the UI are capped: the audit's plans are long, and Spark builds the string
        # for every query (unbounded by default)
        "spark.sql.maxPlanStringLength": "200000",
        "spark.databricks.delta.snapshotPartitions": str(cfg.delta_snapshot_partitions),
        # the per-page Python steps (scanning, scoring) hold arrays of a few words per token of their batch: a
        # bound on the batch bounds a Python worker's memory whatever the partitions hold (Spark's default: 10,000)
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
        # serialized cached blocks are built in chunks of this size; Spark's 1 MB default makes every chunk a G1
        # "humongous" object on heaps under 8 GB (2 MB regions), each wasting half its region: a 4 GB local driver
        # ran out of heap with its storage memory half used. Under half of G1's smallest region (1 MB) instead.
        "spark.storage.unrollMemoryThreshold": UNROLL_CHUNK,
    }
    if cfg.driver_memory:
        conf["spark.driver.memory"] = cfg.driver_memory
    if location is not None:
        conf.update(location.spark_conf())
    conf.update({k: str(v) for k, v in cfg.conf.items()})
    for k, v in conf.items():
        builder = builder.config(k, v)
    if cfg.delta_packages:
        from delta import configure_spark_with_delta_pip

        builder = configure_spark_with_delta_pip(builder, extra_packages=location.spark_packages() if location else [])
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


class Cached:
    """Persist DataFrames for the length of a ``with`` block and release them all at its end, also on error, so
    a long scheduled run auditing snapshot after snapshot does not accumulate cached data."""

    def __init__(self):
        self._frames = []

    def __call__(self, df):
        from pyspark import StorageLevel

        self._frames.append(df.persist(StorageLevel.MEMORY_AND_DISK))
        return self._frames[-1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for df in reversed(self._frames):
            df.unpersist()
        self._frames.clear()
        return False


def checkpoint(df):
    """``df`` computed now and kept for the rest of the job with its plan cut (``localCheckpoint``), its blocks
    stored serialized (memory, then disk): a checkpoint of per-document rows held deserialized is one Java object
    per row, which the heap carries at several times the rows' size and Spark's memory manager under-counts."""
    from pyspark import StorageLevel

    return df.localCheckpoint(storageLevel=StorageLevel.MEMORY_AND_DISK)


TASKS_PER_CORE = 4


def task_partitions(spark, n_files: int) -> int:
    """Partitions for the rows read from ``n_files`` files: one file per task until there are ``TASKS_PER_CORE``
    tasks per core of the session, then files share a task. Every later stage scans these partitions, and an audit
    runs hundreds of stages: a task per small file would pay the fixed cost of a task hundreds of times over."""
    return max(1, min(n_files, spark.sparkContext.defaultParallelism * TASKS_PER_CORE))
