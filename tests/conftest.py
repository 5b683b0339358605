"""Shared fixtures: one local[2] Spark session with Delta, no network beyond loopback, planted corpora.

``scripts/test.sh`` runs the suite in two pytest-xdist workers (``--dist loadfile``): each test module is one
unit of work (its module fixtures are built once), the modules that audit go out first, longest first, and the
end-to-end audit (``audited``) is run once per suite, by whichever worker needs it first, and read by the other.
"""
from __future__ import annotations

import json
import os
import socket
import sys

import pytest

from crawlaudit.devtools.corpus import CorpusSpec, write_corpus

LOOPBACK = ("127.0.0.1", "localhost", "::1")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # an xdist worker's __main__ is execnet's `python -c` bootstrap: pyspark.sql.connect (which Great Expectations
    # imports) takes a main module without a file for a doctest run and exits the process
    vars(sys.modules["__main__"]).setdefault("__file__", "<pytest-xdist worker>")

# Every driver JVM the tests start (this process's, and the jobs they run as subprocesses) compiles with C1 only:
# a test JVM lives minutes on tiny data, and measured on the end-to-end audit C2 took 103 of the JVM's 288 CPU
# seconds (C1 only: 225 s in all, the same wall time alone and less contention with a second worker)
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=400m")

# Test modules that audit, in the order they are handed out: the one that builds the end-to-end audit and the
# longest one that does not need it first, then the others longest first (scripts/test.sh's --durations), so the
# two workers end together; the rest follow in file order. (Three workers on the 2 cores were not faster: 14:37
# against 14:54-17:07, and the busier ports made the cluster test's master UI collide once.)
FIRST_MODULES = ("test_publication", "test_audit_order", "test_s3_warehouse", "test_reruns", "test_cluster",
                 "test_job_audit_snapshot", "test_collapse", "test_schedule")


def pytest_collection_modifyitems(config, items):
    """The auditing modules first (see ``FIRST_MODULES``)."""
    def rank(item):
        module = item.module.__name__.rsplit(".", 1)[-1]
        return FIRST_MODULES.index(module) if module in FIRST_MODULES else len(FIRST_MODULES)

    items.sort(key=rank)   # stable: file order within a rank


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection to a host other than loopback fails the test (cc_net's tests do the same)."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise RuntimeError(f"test tried to reach the network: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def spark(tmp_path_factory, worker_id):
    """The workers' sessions start one at a time: the first one resolves Delta's jars into the Ivy cache, which is
    not safe for two processes at once (on a cold cache, concurrent resolutions corrupt each other's downloads)."""
    from filelock import FileLock

    from crawlaudit import session
    from crawlaudit.config import SparkConfig

    warehouse_dir = tmp_path_factory.mktemp("spark-warehouse")
    lock = tmp_path_factory.getbasetemp() / "ivy.lock" if worker_id == "master" else \
        tmp_path_factory.getbasetemp().parent / "ivy.lock"
    with FileLock(str(lock)):
        s = session.build(SparkConfig(
            master="local[2]", shuffle_partitions=2, driver_memory="2g",
            conf={
                "spark.databricks.delta.snapshotPartitions": 1,
                "spark.sql.warehouse.dir": str(warehouse_dir),
                "spark.default.parallelism": 2,
            },
        ))
    yield s
    s.stop()


SMALL_SPEC = CorpusSpec(
    snapshots=("CC-MAIN-2019-35", "CC-MAIN-2021-31", "CC-MAIN-2024-22"),
    n_domains=8, docs_per_domain=(40, 90), files_per_snapshot=2, seed=7,
)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """A 3-snapshot, 8-domain planted corpus: (directory, ground truth)."""
    out = tmp_path_factory.mktemp("corpus")
    truth = write_corpus(out, SMALL_SPEC)
    return out, truth


@pytest.fixture(scope="session")
def audited(spark, tmp_path_factory, worker_id):
    """The job run once on the planted end-to-end corpus (see tests/e2e.py); once per suite also with xdist: the
    first worker to need it runs it under a file lock and leaves its result beside the workers' directories."""
    from filelock import FileLock

    from tests.e2e import load_job, run_audit

    if worker_id == "master":
        return run_audit(tmp_path_factory)
    shared = tmp_path_factory.getbasetemp().parent
    with FileLock(str(shared / "e2e.lock")):
        done = shared / "e2e.json"
        if not done.is_file():
            result = run_audit(tmp_path_factory)
            done.write_text(json.dumps({k: v if k != "corpus" else str(v) for k, v in result.items() if k != "job"}))
            return result
    from pathlib import Path

    result = json.loads(done.read_text())
    return {**result, "corpus": Path(result["corpus"]), "job": load_job()}


@pytest.fixture(scope="module")
def gate():
    """The expectation gate of the publication tests (no data docs)."""
    from crawlaudit.config import QualityConfig
    from crawlaudit.quality import gate as quality

    return quality.Gate(QualityConfig(data_docs=False))


@pytest.fixture(scope="module")
def source(audited, tmp_path_factory):
    """A copy of the end-to-end warehouse (one per test module) and its original numbers (tests/published.py)."""
    from tests.published import copy_warehouse, numbers

    wh = copy_warehouse(audited["wh"], tmp_path_factory.mktemp("published") / "wh")
    return {"wh": wh, "numbers": numbers(wh)}
