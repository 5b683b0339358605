"""Progress of the longest step, reading a snapshot's files: files done / total, documents and bytes per second.

The parse tasks add to a Spark accumulator as each file ends (one task per file, so the driver sees the counts as
tasks finish); a daemon thread on the driver logs them every ``interval_s`` while anything changed, and a last
line when the block ends. Works the same in local mode and on a cluster (accumulators travel with task results).
"""
from __future__ import annotations

import logging
import threading
import time

from pyspark.accumulators import AccumulatorParam

log = logging.getLogger(__name__)


class _PerFile(AccumulatorParam):
    """{file index: (documents, bytes)}: a file read twice (a retried task, a recomputed partition) counts once."""

    def zero(self, value):
        return {}

    def addInPlace(self, a, b):
        a.update(b)
        return a


class FileCounters:
    """The accumulator the parse tasks add to (picklable: it travels inside the task's closure)."""

    def __init__(self, spark):
        self.per_file = spark.sparkContext.accumulator({}, _PerFile())

    def add(self, file_index: int, n_docs: int, n_bytes: int) -> None:
        """Called by a task when one file is done."""
        self.per_file.add({file_index: (n_docs, n_bytes)})

    def values(self) -> tuple[int, int, int]:
        """(files read, documents, bytes) so far."""
        done = dict(self.per_file.value)
        return len(done), sum(d for d, _ in done.values()), sum(b for _, b in done.values())


def describe(label: str, n_total: int, files: int, docs: int, n_bytes: int, seconds: float) -> str:
    rate = max(seconds, 1e-9)
    return (f"{label}: read {files}/{n_total} files, {docs:,} documents, {n_bytes / 1e6:,.1f} MB in "
            f"{seconds:,.0f} s ({docs / rate:,.0f} docs/s, {n_bytes / 1e6 / rate:,.1f} MB/s)")


class FileProgress:
    """``with FileProgress(counters, label, n_files, interval_s):`` logs the counters while the block runs."""

    def __init__(self, counters: FileCounters, label: str, n_files: int, interval_s: float = 10.0):
        self.counters, self.label, self.n_files, self.interval_s = counters, label, n_files, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress-{label}", daemon=True)
        self._last: tuple | None = None
        self._start = 0.0

    def _report(self) -> None:
        values = self.counters.values()
        if values != self._last and values[0] > 0:
            self._last = values
            log.info(describe(self.label, self.n_files, *values, time.monotonic() - self._start))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._report()
            if self._last and self._last[0] >= self.n_files:
                return  # every file read: the rest of the audit has its own log lines

    def __enter__(self):
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if not (self._last and self._last[0] >= self.n_files):
            self._report()
        return False
