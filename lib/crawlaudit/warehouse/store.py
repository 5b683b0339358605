"""``Warehouse``: every access to the warehouse's storage. Built once from ``output`` and passed in.

- Delta reads and writes through Spark (each write one atomic Delta commit, retried on a concurrent-write
  conflict), staging, quarantine and leases: the methods that take or return DataFrames; they need ``spark``.
- Reads outside Spark (CLI, planning, report, tests): ``read_arrow`` and ``version`` through delta-rs, with the
  storage options of ``Location``; no Spark, no JVM.

No other module builds a table path or touches the JVM; table names are in ``tables``.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

from crawlaudit import schemas as S
from crawlaudit.config import OutputConfig, parse_snapshot
from crawlaudit.warehouse import tables as T
from crawlaudit.warehouse.location import Location

log = logging.getLogger(__name__)

STAGING = "_staging"
QUARANTINE = "_quarantine"
DATA_DOCS = "_data_docs"
REPORT = "_report"
LEASE_SCHEMA = "snapshot string, holder string, acquired_at timestamp, expires_at timestamp"


class TableMissing(LookupError):
    """The table does not exist (yet) in the warehouse."""


def _snapshot_predicate(snapshot: str) -> str:
    parse_snapshot(snapshot)  # a validated id: nothing but CC-MAIN-YYYY-WW reaches the predicate
    return f"{S.SNAPSHOT} = '{snapshot}'"


class Warehouse:
    """The warehouse at ``location``; ``spark`` for the Spark-side methods (None: reads outside Spark only)."""

    def __init__(self, location: Location, spark=None):
        self.location, self.spark = location, spark
        if spark is not None:
            T.conflict_types()   # Delta's conflicts raised as Python types from the first write on

    @classmethod
    def from_config(cls, output: OutputConfig, spark=None) -> "Warehouse":
        return cls(Location.from_config(output), spark)

    @classmethod
    def at(cls, uri: str, spark=None) -> "Warehouse":
        """A warehouse with default S3 settings (local paths, or S3 reached through the AWS chain)."""
        return cls.from_config(OutputConfig(warehouse=str(uri)), spark)

    def with_spark(self, spark) -> "Warehouse":
        return Warehouse(self.location, spark)

    def __repr__(self) -> str:
        return f"Warehouse({self.location.display})"

    @property
    def display(self) -> str:
        """The root as messages show it (credentials in the URL redacted)."""
        return self.location.display

    # ------------------------------------------------------------------ locations
    def _path(self, *parts: str) -> str:
        return self.location.spark_uri(*parts)

    def data_docs_dir(self) -> str | None:
        """``<warehouse>/_data_docs`` for a local warehouse (Great Expectations writes it with plain file IO)."""
        local = self.location.local_dir
        return None if local is None else str((local / DATA_DOCS).absolute())

    def report_dir(self) -> str | None:
        """``<warehouse>/_report`` for a local warehouse; None on object storage."""
        local = self.location.local_dir
        return None if local is None else str(local / REPORT)

    def check(self) -> None:
        """Preflight before Spark starts (see ``Location.check``)."""
        self.location.check()

    # ------------------------------------------------------------------ Spark: reads
    def _spark(self):
        if self.spark is None:
            raise RuntimeError("this Warehouse has no Spark session (Warehouse.with_spark)")
        return self.spark

    def exists(self, table: str) -> bool:
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(self._spark(), self._path(table))

    def read(self, table: str):
        """The whole table (None when it does not exist)."""
        if not self.exists(table):
            return None
        return self._spark().read.format("delta").load(self._path(table))

    def read_snapshot(self, table: str, snapshot: str):
        """The published rows of ``snapshot`` in ``table`` (None when the table does not exist)."""
        df = self.read(table)
        return None if df is None else df.where(_snapshot_predicate(snapshot))

    def read_year(self, table: str, year: int):
        """The rows of ``table`` in ``year``: by its year column (``tables.YEAR_TABLES``), else by the snapshot's
        year."""
        from pyspark.sql import functions as F

        df = self.read(table)
        if df is None:
            return None
        if table in T.YEAR_TABLES:
            return df.where(F.col(S.YEAR) == int(year))
        return df.where(F.col(S.SNAPSHOT).startswith(f"CC-MAIN-{int(year)}-"))

    def published_snapshots(self, year: int | None = None) -> list[str]:
        """The snapshots published in snapshot_stats (of ``year``, or all), sorted."""
        rows = self.read(T.SNAPSHOT_STATS) if year is None else self.read_year(T.SNAPSHOT_STATS, year)
        if rows is None:
            return []
        return sorted(r[0] for r in rows.select(S.SNAPSHOT).distinct().collect())

    def year_snapshots(self, year: int) -> list[str]:
        return self.published_snapshots(year)

    def previous_snapshot_row(self, snapshot: str) -> dict | None:
        """The snapshot_stats row of the latest audited snapshot before ``snapshot`` (None when there is none)."""
        from pyspark.sql import functions as F

        df = self.read(T.SNAPSHOT_STATS)
        if df is None:
            return None
        rows = df.where(F.col(S.SNAPSHOT) < F.lit(snapshot)).orderBy(F.col(S.SNAPSHOT).desc()).limit(1).collect()
        return rows[0].asDict() if rows else None

    def read_prior_signatures(self, snapshot: str, minhash_params: str):
        """doc_id, signature of the documents of snapshots before ``snapshot`` signed with ``minhash_params``
        (empty when none). Snapshots signed with other parameters cannot be compared and are left out, warned."""
        from pyspark.sql import functions as F

        df = self.read(T.DOC_SIGNATURES)
        if df is None:
            return self._spark().createDataFrame([], f"{S.DOC_ID} string, {S.SIGNATURE} array<int>")
        earlier = df.where(F.col(S.SNAPSHOT) < snapshot)
        other = [r[0] for r in earlier.where(F.col(S.MINHASH_PARAMS) != minhash_params)
                 .select(S.SNAPSHOT).distinct().collect()]
        if other:
            log.warning("doc_signatures of %s were made with other dedup parameters than %s: not compared "
                        "(re-audit them)", ", ".join(sorted(other)), minhash_params)
        return earlier.where(F.col(S.MINHASH_PARAMS) == minhash_params).select(S.DOC_ID, S.SIGNATURE)

    def read_marker_history(self, table: str, snapshot: str, key_cols: list[str]):
        """key_cols, year, marker_doc_frac of the audited snapshots before ``snapshot`` in ``table`` (the pre-LLM
        baseline of the marker-excess bound, so a result never depends on snapshots audited later; empty when
        none, or when the table predates the column)."""
        from pyspark.sql import functions as F

        df = self.read(table)
        if df is None or S.MARKER_DOC_FRAC not in df.columns:
            return self._spark().createDataFrame([], ", ".join(
                [f"{c} string" for c in key_cols] + [f"{S.YEAR} int", f"{S.MARKER_DOC_FRAC} double"]))
        return df.where(F.col(S.SNAPSHOT) < F.lit(snapshot)).select(*key_cols, S.YEAR, S.MARKER_DOC_FRAC)

    def read_vintage_scores(self, exclude: list[str], detector: str, before_year: int):
        """doc_scores rows of ``detector`` from every audited snapshot whose year is before ``before_year`` except
        those in ``exclude`` (the crawl's own pre-LLM documents, whenever they were audited; empty when none)."""
        from pyspark.sql import functions as F

        df = self.read(T.DOC_SCORES)
        if df is None:
            return self._spark().createDataFrame([], f"{S.REGISTERED_DOMAIN} string, {S.AI_PROB} double, "
                                                     f"{S.IS_AI_FLAGGED} boolean, {S.REF_WORDS} array<int>")
        return df.where(~F.col(S.SNAPSHOT).isin(list(exclude)) & (F.col(S.DETECTOR) == detector)
                        & (F.substring(S.SNAPSHOT, 9, 4).cast("int") < before_year))

    def read_prior_hashes(self, snapshot: str, hashed_text: str):
        """content_hash, first_snapshot of hashes of ``hashed_text`` (main | page) first seen before ``snapshot``
        (empty when none). Hashes of the other kind are left out, with a warning naming their snapshots."""
        from pyspark.sql import functions as F

        df = self.read(T.CONTENT_HASHES)
        if df is None:
            return self._spark().createDataFrame([], f"{S.CONTENT_HASH} string, {S.FIRST_SNAPSHOT} string")
        earlier = df.where(F.col(S.FIRST_SNAPSHOT) < F.lit(snapshot))
        kind = (F.coalesce(F.col(S.HASHED_TEXT), F.lit("page")) if S.HASHED_TEXT in earlier.columns
                else F.lit("page"))  # rows written before the column existed hashed whole pages
        other = [r[0] for r in earlier.where(kind != hashed_text).select(S.FIRST_SNAPSHOT).distinct().limit(20)
                 .collect()]
        if other:
            log.warning("content_hashes of %s hash other text (%s) than this audit (%s): not compared; re-audit "
                        "those snapshots to compare them", ", ".join(sorted(other)),
                        "page" if hashed_text == "main" else "main", hashed_text)
        return earlier.where(kind == hashed_text).select(S.CONTENT_HASH, S.FIRST_SNAPSHOT)

    # ------------------------------------------------------------------ Spark: writes
    def replace_snapshot(self, df, table: str, snapshot: str) -> None:
        """Atomically replace ``snapshot``'s partition of ``table`` with ``df`` (which holds only that snapshot)."""
        T.retry_on_conflict(lambda: (
            df.write.format("delta").mode("overwrite").option("replaceWhere", _snapshot_predicate(snapshot))
            .option("mergeSchema", "true").partitionBy(S.SNAPSHOT).save(self._path(table))
        ), f"{table} {snapshot}")

    def replace_year(self, df, table: str, year: int) -> None:
        """Atomically replace ``year``'s partition of ``table`` with ``df`` (which holds only that year).
        Not retried here: a conflict means another snapshot of the year landed, and the caller recomputes."""
        (df.write.format("delta").mode("overwrite").option("replaceWhere", f"{S.YEAR} = {int(year)}")
         .option("mergeSchema", "true").partitionBy(S.YEAR).save(self._path(table)))

    def append_rows(self, df, table: str) -> None:
        """Append ``df`` (partitioned by snapshot), e.g. validation_results."""
        T.retry_on_conflict(lambda: df.write.format("delta").mode("append").option("mergeSchema", "true")
                            .partitionBy(S.SNAPSHOT).save(self._path(table)), table)

    def merge_content_hashes(self, hashes) -> None:
        """Insert new hashes; where a hash (of the same hashed_text) is known from a later snapshot, make this
        (earlier) one its first. A table written before hashed_text existed gains the column (old rows: page)."""
        from delta.tables import DeltaTable

        path = self._path(T.CONTENT_HASHES)

        def merge():
            if not self.exists(T.CONTENT_HASHES):
                hashes.select(*S.CONTENT_HASHES_COLUMNS).write.format("delta").mode("append").save(path)
                return
            target = DeltaTable.forPath(self._spark(), path)
            kind = f"coalesce(t.{S.HASHED_TEXT}, 'page')" if S.HASHED_TEXT in target.toDF().columns else "'page'"
            (target.alias("t")
             .merge(hashes.alias("s"), f"t.{S.CONTENT_HASH} = s.{S.CONTENT_HASH} AND {kind} = s.{S.HASHED_TEXT}")
             .withSchemaEvolution()
             .whenMatchedUpdate(condition=f"s.{S.FIRST_SNAPSHOT} < t.{S.FIRST_SNAPSHOT}",
                                set={S.FIRST_SNAPSHOT: f"s.{S.FIRST_SNAPSHOT}", S.FIRST_URL: f"s.{S.FIRST_URL}"})
             .whenNotMatchedInsertAll()
             .execute())

        T.retry_on_conflict(merge, T.CONTENT_HASHES)

    def record_run(self, run_id: str, snapshot: str, status: str, started_at: datetime, config: dict | None = None,
                   code_version: str | None = None, counts: dict | None = None, message: str | None = None,
                   finished: bool = False) -> None:
        """Insert or update the ``audit_runs`` row of ``run_id``."""
        from delta.tables import DeltaTable

        row = [(run_id, snapshot, started_at, datetime.now(timezone.utc) if finished else None, status,
                json.dumps(config, sort_keys=True, default=str) if config is not None else None, code_version,
                {k: int(v) for k, v in (counts or {}).items()}, message)]
        df = self._spark().createDataFrame(row, S.AUDIT_RUNS_SCHEMA)
        path = self._path(T.AUDIT_RUNS)

        def write():
            if not finished or not self.exists(T.AUDIT_RUNS):  # a new run_id (uuid4): a blind append is enough
                df.write.format("delta").mode("append").save(path)
                return
            (DeltaTable.forPath(self._spark(), path).alias("t")
             .merge(df.alias("s"), f"t.{S.RUN_ID} = s.{S.RUN_ID}")
             .whenMatchedUpdate(set={c: f"s.{c}" for c in ("finished_at", "status", "counts", S.MESSAGE)})
             .whenNotMatchedInsertAll()
             .execute())

        T.retry_on_conflict(write, f"{T.AUDIT_RUNS} {run_id}")

    # ------------------------------------------------------------------ staging and quarantine
    def _fs(self, path: str):
        spark = self._spark()
        jpath = spark._jvm.org.apache.hadoop.fs.Path(path)
        return jpath.getFileSystem(spark._jsc.hadoopConfiguration()), jpath

    def stage(self, df, run_id: str, *name: str):
        """``df`` written once as Parquet under ``_staging/<run_id>/<name…>`` and read back: validation and
        publication read the same materialized rows (no plan recomputed)."""
        path = self._path(STAGING, run_id, *name)
        df.write.mode("overwrite").parquet(path)
        return self._spark().read.parquet(path)

    def staging_dir(self, run_id: str) -> str:
        return self.location.spark_uri(STAGING, run_id)

    def drop_staging(self, run_id: str, *name: str) -> None:
        """Delete a run's staging directory (or one part of it); never raises: cleanup must not hide the run's
        own outcome."""
        path = self._path(STAGING, run_id, *name)
        try:
            fs, p = self._fs(path)
            fs.delete(p, True)
        except Exception:  # noqa: BLE001
            log.warning("could not remove %s", path, exc_info=True)

    def quarantine(self, run_id: str, snapshot: str) -> str:
        """Move a run's staging directory to ``_quarantine/<snapshot>/<run_id>``; the path it is in now."""
        source = self._path(STAGING, run_id)
        target = self._path(QUARANTINE, snapshot, run_id)
        fs, src = self._fs(source)
        _, dst = self._fs(target)
        fs.mkdirs(dst.getParent())
        if not fs.rename(src, dst):
            log.error("could not move %s to %s; the rejected results stay there", source, target)
            return source
        return target

    # ------------------------------------------------------------------ leases
    def take_lease(self, snapshot: str, holder: str, minutes: float) -> dict | None:
        """Take the lease of ``snapshot`` for ``holder`` unless another holder's lease is unexpired: a MERGE that
        inserts the row or takes over an expired (or own) one; Delta's optimistic concurrency makes it a mutex.
        Returns the lease row as it stands after the MERGE (holder, expires_at)."""
        from delta.tables import DeltaTable

        spark, path = self._spark(), self._path(T.LEASES)
        now = datetime.now(timezone.utc)
        row = spark.createDataFrame([(snapshot, holder, now, now + timedelta(minutes=minutes))], LEASE_SCHEMA)
        predicate = _snapshot_predicate(snapshot)
        T.retry_on_conflict(lambda: None if self.exists(T.LEASES) else
                            row.limit(0).write.format("delta").mode("append").save(path), T.LEASES)
        T.retry_on_conflict(lambda: (
            DeltaTable.forPath(spark, path).alias("t")
            .merge(row.alias("s"), "t.snapshot = s.snapshot")
            .whenMatchedUpdateAll(condition="t.expires_at < s.acquired_at OR t.holder = s.holder")
            .whenNotMatchedInsertAll()
            .execute()), f"{T.LEASES} {snapshot}")
        current = spark.read.format("delta").load(path).where(predicate).select("holder", "expires_at").first()
        return None if current is None else current.asDict()

    def release_lease(self, snapshot: str, holder: str) -> None:
        """Expire ``holder``'s lease of ``snapshot`` now."""
        from delta.tables import DeltaTable

        predicate = _snapshot_predicate(snapshot)
        holder = holder.replace("'", "")
        T.retry_on_conflict(lambda: DeltaTable.forPath(self._spark(), self._path(T.LEASES)).update(
            condition=f"{predicate} AND holder = '{holder}'", set={"expires_at": "current_timestamp()"}),
            f"{T.LEASES} {snapshot}")

    # ------------------------------------------------------------------ outside Spark (delta-rs)
    def _delta_rs(self, table: str):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.location.delta_rs_uri(table), storage_options=self.location.storage_options())
        except TableNotFoundError:
            raise TableMissing(f"{self.display}/{table} does not exist (run an audit first)") from None

    def read_arrow(self, table: str):
        """The current version of a Delta table as a pyarrow Table, without Spark (CLI, planning, report, tests).

        Through delta-rs's own query engine (``QueryBuilder``, DataFusion), which resolves partition columns and
        reads the files with the table's storage options. Not ``to_pyarrow_table`` / ``to_pyarrow_dataset``: their
        pyarrow scan over delta-rs's filesystem handler can abort the interpreter at exit (delta-io/delta-rs#2184;
        tests/test_warehouse.py keeps that tested). Raises TableMissing when the table does not exist."""
        import pyarrow as pa
        from deltalake import QueryBuilder

        dt = self._delta_rs(table)
        schema = pa.schema(dt.schema().to_arrow())
        reader = QueryBuilder().register("t", dt).execute("SELECT * FROM t")
        batches = pa.table(reader.read_all())
        if batches.num_rows == 0:
            return schema.empty_table()
        return batches.select(schema.names).cast(schema)  # DataFusion returns string views; the table's types

    def version(self, table: str) -> int:
        return self._delta_rs(table).version()

    def succeeded_snapshots(self) -> set[str]:
        """Snapshots with at least one succeeded run in audit_runs (empty when the table does not exist yet)."""
        try:
            runs = self.read_arrow(T.AUDIT_RUNS)
        except TableMissing:
            return set()
        return {s for s, status in zip(runs.column(S.SNAPSHOT).to_pylist(), runs.column("status").to_pylist())
                if status == "succeeded"}
