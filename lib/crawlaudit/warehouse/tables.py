"""The warehouse's tables, and the retry every write goes through (``store.Warehouse`` reads and writes them).

- ``domain_stats``, ``snapshot_stats``, ``language_stats``, ``ingest_errors``: partitioned by snapshot; an audit replaces its
  snapshot's partition with ``replaceWhere`` (a rerun leaves no duplicate rows).
- ``doc_signatures``: each snapshot's MinHash signatures, partitioned by snapshot, read by later audits.
- ``doc_hashes``: each snapshot's content hashes per document, partitioned by snapshot, read when a snapshot's
  reuse of earlier ones is refreshed.
- ``year_stats``, ``year_language_stats``: partitioned by year; each audit recomputes its year's rows from the year's
  published snapshots and replaces them.
- ``content_hashes``: MERGE, keeping for each hash the earliest snapshot that contained it.
- ``audit_runs``: MERGE on run_id (the row goes from running to succeeded, failed or validation_failed).
- ``validation_results``: appended, one row per expectation per validation (partitioned by snapshot).

Concurrent audits of different snapshots write disjoint partitions; Delta's optimistic concurrency still rejects a
commit that raced another on the same table (first commit of a new table, a MERGE, the same year's year_stats),
so every write goes through ``retry_on_conflict``.
"""
from __future__ import annotations

import logging
import random
import time


DOMAIN_STATS = "domain_stats"
SNAPSHOT_STATS = "snapshot_stats"
LANGUAGE_STATS = "language_stats"
INGEST_ERRORS = "ingest_errors"
CONTENT_HASHES = "content_hashes"
AUDIT_RUNS = "audit_runs"
YEAR_STATS = "year_stats"
YEAR_LANGUAGE_STATS = "year_language_stats"
# the tables keyed by year (partitioned by year, replaced a year at a time); year_stats last: its weighted entropy
# is computed from the year's year_language_stats rows
YEAR_TABLES = (YEAR_LANGUAGE_STATS, YEAR_STATS)
TOKEN_SAMPLES = "token_samples"
DOC_SIGNATURES = "doc_signatures"
DOC_HASHES = "doc_hashes"
DOC_SCORES = "doc_scores"
VALIDATION_RESULTS = "validation_results"
LEASES = "leases"

log = logging.getLogger(__name__)


def conflict_types() -> tuple:
    """Delta's concurrent-modification errors. Imported here, not at module load, so that reads outside Spark
    never load pyspark; importing delta.exceptions teaches pyspark to raise these conflicts as Python types, and
    every write goes through ``retry_on_conflict``, which asks for them before it runs the write."""
    import delta.exceptions as X

    return (X.ConcurrentWriteException, X.MetadataChangedException, X.ProtocolChangedException,
            X.ConcurrentAppendException, X.ConcurrentDeleteReadException, X.ConcurrentDeleteDeleteException,
            X.ConcurrentTransactionException, X.DeltaConcurrentModificationException)


def retry_on_conflict(action, what: str, attempts: int = 8, base_delay_s: float = 0.5):
    """``action()``, retried with jittered exponential backoff while Delta reports a concurrent-modification
    conflict (another writer committed first): the retry re-reads the table, so it commits against the winner's
    version. Other errors propagate at once."""
    conflicts = conflict_types()
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except conflicts as e:
            if attempt == attempts:
                raise
            delay = base_delay_s * 2 ** (attempt - 1) * (0.5 + random.random())
            log.warning("%s: concurrent write conflict (%s); retry %d of %d in %.1f s", what, type(e).__name__,
                        attempt, attempts - 1, delay)
            time.sleep(delay)
