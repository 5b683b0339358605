"""Shared fixtures: one local[2] Spark session with Delta, no network beyond loopback, planted corpora."""
from __future__ import annotations

import socket

import pytest

from crawlaudit.devtools.corpus import CorpusSpec, write_corpus

LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
def spark(tmp_path_factory):
    from crawlaudit import session
    from crawlaudit.config import SparkConfig

    warehouse_dir = tmp_path_factory.mktemp("spark-warehouse")
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
def audited(spark, tmp_path_factory):
    """The job run once on the planted end-to-end corpus (see tests/e2e.py)."""
    from tests.e2e import run_audit

    return run_audit(tmp_path_factory)
