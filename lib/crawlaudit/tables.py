"""Every Delta read and write. Writes go through delta-spark; each is one atomic Delta commit.

- ``domain_stats``, ``snapshot_stats``, ``ingest_errors``: partitioned by snapshot; an audit replaces its
  snapshot's partition with ``replaceWhere`` (a rerun leaves no duplicate rows).
- ``doc_signatures``: each snapshot's MinHash signatures, partitioned by snapshot, read by later audits.
- ``doc_hashes``: each snapshot's content hashes per document, partitioned by snapshot, read when a snapshot's
  reuse of earlier ones is refreshed.
- ``content_hashes``: MERGE, keeping for each hash the earliest snapshot that contained it.
- ``audit_runs``: MERGE on run_id (the row goes from running to succeeded, failed or validation_failed).
- ``validation_results``: appended, one row per expectation per validation (partitioned by snapshot).

Concurrent audits of different snapshots write disjoint partitions; Delta's optimistic concurrency still rejects a
commit that raced another on the same table (first commit of a new table, a MERGE, the same year's year_stats),
so every write goes through ``retry_on_conflict``.
"""
from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timezone

import delta.exceptions  # noqa: F401  (imported first: it teaches pyspark to raise Delta's conflicts as Python types)
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from crawlaudit import schemas as S

DOMAIN_STATS = "domain_stats"
SNAPSHOT_STATS = "snapshot_stats"
INGEST_ERRORS = "ingest_errors"
CONTENT_HASHES = "content_hashes"
AUDIT_RUNS = "audit_runs"
YEAR_STATS = "year_stats"
TOKEN_SAMPLES = "token_samples"
DOC_SIGNATURES = "doc_signatures"
DOC_HASHES = "doc_hashes"
DOC_SCORES = "doc_scores"
VALIDATION_RESULTS = "validation_results"

log = logging.getLogger(__name__)


def table_path(warehouse: str, table: str) -> str:
    return warehouse.rstrip("/") + "/" + table


def _exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def _snapshot_literal(snapshot: str) -> str:
    from crawlaudit.config import parse_snapshot

    parse_snapshot(snapshot)  # a validated id: nothing but CC-MAIN-YYYY-WW reaches the predicate
    return f"{S.SNAPSHOT} = '{snapshot}'"


def conflict_types() -> tuple:
    X = delta.exceptions
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


def replace_snapshot(df: DataFrame, warehouse: str, table: str, snapshot: str) -> None:
    """Atomically replace ``snapshot``'s partition of ``table`` with ``df`` (which must hold only that snapshot)."""
    retry_on_conflict(lambda: (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", _snapshot_literal(snapshot))
        .option("mergeSchema", "true")
        .partitionBy(S.SNAPSHOT)
        .save(table_path(warehouse, table))
    ), f"{table} {snapshot}")


def replace_year(df: DataFrame, warehouse: str, table: str, year: int) -> None:
    """Atomically replace ``year``'s partition of ``table`` with ``df`` (which must hold only that year).
    Not retried here: a conflict means another snapshot of the year landed, and the caller recomputes."""
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"{S.YEAR} = {int(year)}")
        .option("mergeSchema", "true")
        .partitionBy(S.YEAR)
        .save(table_path(warehouse, table))
    )


def append_rows(df: DataFrame, warehouse: str, table: str) -> None:
    """Append ``df`` (partitioned by snapshot), e.g. validation_results."""
    retry_on_conflict(lambda: df.write.format("delta").mode("append").option("mergeSchema", "true")
                      .partitionBy(S.SNAPSHOT).save(table_path(warehouse, table)), table)


def read_snapshot(spark: SparkSession, warehouse: str, table: str, snapshot: str) -> DataFrame | None:
    """The published rows of ``snapshot`` in ``table`` (None when the table does not exist)."""
    path = table_path(warehouse, table)
    if not _exists(spark, path):
        return None
    return spark.read.format("delta").load(path).where(_snapshot_literal(snapshot))


def published_snapshots(spark: SparkSession, warehouse: str, year: int | None = None) -> list[str]:
    """The snapshots published in snapshot_stats (of ``year``, or all), sorted."""
    path = table_path(warehouse, SNAPSHOT_STATS)
    if not _exists(spark, path):
        return []
    rows = spark.read.format("delta").load(path) if year is None else read_year(spark, warehouse, SNAPSHOT_STATS, year)
    return sorted(r[0] for r in rows.select(S.SNAPSHOT).distinct().collect())


def year_snapshots(spark: SparkSession, warehouse: str, year: int) -> list[str]:
    """The snapshots of ``year`` published in snapshot_stats, sorted."""
    return published_snapshots(spark, warehouse, year)


def previous_snapshot_row(spark: SparkSession, warehouse: str, snapshot: str) -> dict | None:
    """The snapshot_stats row of the latest audited snapshot before ``snapshot`` (None when there is none)."""
    path = table_path(warehouse, SNAPSHOT_STATS)
    if not _exists(spark, path):
        return None
    rows = (spark.read.format("delta").load(path).where(F.col(S.SNAPSHOT) < F.lit(snapshot))
            .orderBy(F.col(S.SNAPSHOT).desc()).limit(1).collect())
    return rows[0].asDict() if rows else None


def read_year(spark: SparkSession, warehouse: str, table: str, year: int) -> DataFrame:
    """The rows of a snapshot-partitioned table whose snapshot falls in ``year``."""
    return spark.read.format("delta").load(table_path(warehouse, table)).where(
        F.col(S.SNAPSHOT).startswith(f"CC-MAIN-{int(year)}-"))


def read_prior_signatures(spark: SparkSession, warehouse: str, snapshot: str, minhash_params: str) -> DataFrame:
    """doc_id, signature of the documents of snapshots before ``snapshot`` signed with ``minhash_params``
    (empty when none). Snapshots signed with other parameters cannot be compared and are left out, with a warning."""
    import logging

    path = table_path(warehouse, DOC_SIGNATURES)
    if not _exists(spark, path):
        return spark.createDataFrame([], f"{S.DOC_ID} string, {S.SIGNATURE} array<int>")
    earlier = spark.read.format("delta").load(path).where(F.col(S.SNAPSHOT) < snapshot)
    other = [r[0] for r in earlier.where(F.col(S.MINHASH_PARAMS) != minhash_params)
             .select(S.SNAPSHOT).distinct().collect()]
    if other:
        logging.getLogger(__name__).warning(
            "doc_signatures of %s were made with other dedup parameters than %s: not compared (re-audit them)",
            ", ".join(sorted(other)), minhash_params)
    return earlier.where(F.col(S.MINHASH_PARAMS) == minhash_params).select(S.DOC_ID, S.SIGNATURE)


def read_marker_history(spark: SparkSession, warehouse: str, table: str, snapshot: str, key_cols: list[str]) -> DataFrame:
    """key_cols, year, marker_doc_frac of the audited snapshots before ``snapshot`` in ``table`` (the pre-LLM
    baseline of the marker-excess bound, so a result never depends on snapshots audited later; empty when none,
    or when the table predates the column)."""
    empty = spark.createDataFrame([], ", ".join([f"{c} string" for c in key_cols] + [f"{S.YEAR} int",
                                                                                      f"{S.MARKER_DOC_FRAC} double"]))
    path = table_path(warehouse, table)
    if not _exists(spark, path):
        return empty
    df = spark.read.format("delta").load(path)
    if S.MARKER_DOC_FRAC not in df.columns:
        return empty
    return df.where(F.col(S.SNAPSHOT) < F.lit(snapshot)).select(*key_cols, S.YEAR, S.MARKER_DOC_FRAC)


def read_vintage_scores(spark: SparkSession, warehouse: str, exclude: list[str], detector: str,
                        before_year: int) -> DataFrame:
    """doc_scores rows of ``detector`` from every audited snapshot whose year is before ``before_year`` except
    those in ``exclude`` (the crawl's own pre-LLM documents, whenever they were audited; empty when none)."""
    path = table_path(warehouse, DOC_SCORES)
    if not _exists(spark, path):
        return spark.createDataFrame([], f"{S.REGISTERED_DOMAIN} string, {S.AI_PROB} double, "
                                         f"{S.IS_AI_FLAGGED} boolean, {S.REF_WORDS} array<int>")
    return (spark.read.format("delta").load(path)
            .where(~F.col(S.SNAPSHOT).isin(list(exclude)) & (F.col(S.DETECTOR) == detector)
                   & (F.substring(S.SNAPSHOT, 9, 4).cast("int") < before_year)))


def _hashed_text(df: DataFrame) -> Column:
    """A hash table's hashed_text; rows written before the column existed hashed whole pages."""
    return F.coalesce(F.col(S.HASHED_TEXT), F.lit("page")) if S.HASHED_TEXT in df.columns else F.lit("page")


def read_prior_hashes(spark: SparkSession, warehouse: str, snapshot: str, hashed_text: str) -> DataFrame:
    """content_hash, first_snapshot of hashes of ``hashed_text`` (main | page) first seen before ``snapshot``
    (empty when none). Hashes of the other kind are left out, with a warning naming their snapshots."""
    path = table_path(warehouse, CONTENT_HASHES)
    if not _exists(spark, path):
        return spark.createDataFrame([], f"{S.CONTENT_HASH} string, {S.FIRST_SNAPSHOT} string")
    earlier = spark.read.format("delta").load(path).where(F.col(S.FIRST_SNAPSHOT) < F.lit(snapshot))
    kind = _hashed_text(earlier)
    other = [r[0] for r in earlier.where(kind != hashed_text).select(S.FIRST_SNAPSHOT).distinct().limit(20).collect()]
    if other:
        log.warning("content_hashes of %s hash other text (%s) than this audit (%s): not compared; re-audit those "
                    "snapshots to compare them", ", ".join(sorted(other)), "page" if hashed_text == "main" else "main",
                    hashed_text)
    return earlier.where(kind == hashed_text).select(S.CONTENT_HASH, S.FIRST_SNAPSHOT)


def merge_content_hashes(spark: SparkSession, hashes: DataFrame, warehouse: str) -> None:
    """Insert new hashes; where a hash (of the same hashed_text) is known from a later snapshot, make this
    (earlier) one its first. A table written before hashed_text existed gains the column (old rows: null = page)."""
    from delta.tables import DeltaTable

    path = table_path(warehouse, CONTENT_HASHES)

    def merge():
        if not _exists(spark, path):
            hashes.select(*S.CONTENT_HASHES_COLUMNS).write.format("delta").mode("append").save(path)
            return
        target = DeltaTable.forPath(spark, path)
        kind = (f"coalesce(t.{S.HASHED_TEXT}, 'page')" if S.HASHED_TEXT in target.toDF().columns else "'page'")
        (
            target.alias("t")
            .merge(hashes.alias("s"), f"t.{S.CONTENT_HASH} = s.{S.CONTENT_HASH} AND {kind} = s.{S.HASHED_TEXT}")
            .withSchemaEvolution()
            .whenMatchedUpdate(
                condition=f"s.{S.FIRST_SNAPSHOT} < t.{S.FIRST_SNAPSHOT}",
                set={S.FIRST_SNAPSHOT: f"s.{S.FIRST_SNAPSHOT}", S.FIRST_URL: f"s.{S.FIRST_URL}"},
            )
            .whenNotMatchedInsertAll()
            .execute()
        )

    retry_on_conflict(merge, CONTENT_HASHES)


def record_run(spark: SparkSession, warehouse: str, run_id: str, snapshot: str, status: str,
               started_at: datetime, config: dict | None = None, code_version: str | None = None,
               counts: dict | None = None, message: str | None = None, finished: bool = False) -> None:
    """Insert or update the ``audit_runs`` row of ``run_id``."""
    from delta.tables import DeltaTable

    row = [(
        run_id, snapshot, started_at, datetime.now(timezone.utc) if finished else None, status,
        json.dumps(config, sort_keys=True, default=str) if config is not None else None, code_version,
        {k: int(v) for k, v in (counts or {}).items()}, message,
    )]
    df = spark.createDataFrame(row, S.AUDIT_RUNS_SCHEMA)
    path = table_path(warehouse, AUDIT_RUNS)

    def write():
        if not finished or not _exists(spark, path):  # a new run_id (uuid4): a blind append is enough
            df.write.format("delta").mode("append").save(path)
            return
        (
            DeltaTable.forPath(spark, path).alias("t")
            .merge(df.alias("s"), f"t.{S.RUN_ID} = s.{S.RUN_ID}")
            .whenMatchedUpdate(set={c: f"s.{c}" for c in ("finished_at", "status", "counts", MESSAGE_COL)})
            .whenNotMatchedInsertAll()
            .execute()
        )

    retry_on_conflict(write, f"{AUDIT_RUNS} {run_id}")


MESSAGE_COL = S.MESSAGE


def read_table_arrow(warehouse: str, table: str):
    """The current version of a Delta table as a pyarrow Table, without Spark (CLI summaries, tests).

    delta-rs replays the log and lists the live files; pyarrow reads them. delta-rs's own scan
    (``to_pyarrow_table``) can abort the interpreter at exit (delta-io/delta-rs#2184), so it is not used.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import DeltaTable
    from urllib.parse import unquote

    dt = DeltaTable(table_path(warehouse, table))
    schema = pa.schema(dt.schema().to_arrow())
    partition_cols = list(dt.metadata().partition_columns)
    actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    base = dt.table_uri.rstrip("/")
    if base.startswith("file://"):
        base = base[len("file://"):]
    pieces = []
    for action in actions:
        piece = pq.ParquetFile(f"{base}/{unquote(action['path'])}").read()
        for col in partition_cols:
            if col in piece.column_names:  # some writers materialize partition columns in the files
                continue
            value = action.get(f"partition.{col}")
            arr = pa.array([value] * piece.num_rows, pa.string()).cast(schema.field(col).type)
            piece = piece.append_column(col, arr)
        pieces.append(piece)
    if not pieces:
        return schema.empty_table()
    return pa.concat_tables(pieces, promote_options="default").select(schema.names).cast(schema)
