"""``crawlaudit extract``: the kept documents' text, re-read from the WET files at the offsets an export names.

Each kept row of an export (``view.CURATION_COLUMNS``) says where its record is: ``warc_file`` and ``warc_offset``
(the gzip member holding the record, as Common Crawl writes one record per member; or the record's start in an
uncompressed file). A record is read on its own (a ranged read of S3 or HTTP, a seek in a local file) through the
ingest's readers, so throttling and resets are retried as in an audit, and parsed by the ingest's record parser:
the text is the record's content exactly as the audit read it. A record that cannot be read, or whose WARC-Record-ID
is not the one the audit saw (the file changed since), becomes an error row, never a silent gap.

In Spark: the kept rows are spread over tasks by file and read in offset order, so no task holds more than a batch
of texts; the documents go out as JSONL or Parquet shards, the errors beside them.
"""
from __future__ import annotations

import io
import logging
import time
from typing import Iterable, Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.session import checkpoint
from crawlaudit.config import InputConfig, redact_url
from crawlaudit.curation import view as V
from crawlaudit.errors import FetchError, InputError
from crawlaudit.ingest import wet as ingest

log = logging.getLogger(__name__)

TEXT_COLUMNS = [S.SNAPSHOT, S.DOC_ID, S.URL, S.REGISTERED_DOMAIN, S.LANGUAGE, V.WARC_RECORD_ID, V.WARC_FILE,
                V.WARC_OFFSET, S.TEXT]
ERROR_COLUMNS = [S.SNAPSHOT, S.DOC_ID, V.WARC_FILE, V.WARC_OFFSET, V.WARC_RECORD_ID, S.ERROR_KIND, S.MESSAGE]
FORMATS = ("jsonl", "parquet")
_READ_CHUNK = 64 * 1024   # a WET record's gzip member is a few KB: read little past it
_FIELDS = {S.SNAPSHOT: pa.string(), S.DOC_ID: pa.string(), S.URL: pa.string(), S.REGISTERED_DOMAIN: pa.string(),
           S.LANGUAGE: pa.string(), V.WARC_RECORD_ID: pa.string(), V.WARC_FILE: pa.string(),
           V.WARC_OFFSET: pa.int64(), S.TEXT: pa.string(), S.ERROR_KIND: pa.string(), S.MESSAGE: pa.string()}
_SCHEMA = pa.schema([(S.ROW_KIND, pa.string())] + list(_FIELDS.items()))


def record_at(uri: str, offset: int, snapshot: str, input_cfg: InputConfig, sleep=time.sleep, s3=None) -> dict:
    """The ingest's row for the WET record at ``offset`` of ``uri`` (``ingest.wet.record_row``: a document with its
    text, or an error row saying what is wrong); fetch failures after the configured retries are error rows too."""
    label, cap = redact_url(uri), input_cfg.max_record_bytes
    try:
        with ingest.open_input(uri, input_cfg, sleep, s3, offset=offset, buffer=_READ_CHUNK) as stream:
            head = stream.peek(8)[:8]
            if head.startswith(ingest.GZIP_MAGIC):
                member = next(ingest.iter_gzip_members(stream, cap + 64 * 1024, _READ_CHUNK), None)
                if member is None or member.error_kind:
                    return ingest._error(snapshot, label, offset, None, member.error_kind if member else "not_warc",
                                         member.message if member else "nothing at this offset")
                rows = ingest._rows_from_warc(io.BytesIO(member.payload), snapshot, label, offset, cap, True,
                                              member.payload)
            elif head.startswith(b"WARC/"):
                rows = ingest._rows_from_warc(stream, snapshot, label, offset, cap, True)
            else:
                return ingest._error(snapshot, label, offset, None, "not_warc",
                                     f"no gzip member or WARC record at offset {offset} (starts with {head[:4]!r})")
            for row, is_conversion in rows:
                if is_conversion:
                    return row
            return ingest._error(snapshot, label, offset, None, "not_warc", f"no conversion record at offset {offset}")
    except FetchError as e:
        return ingest._error(snapshot, label, offset, None, "fetch_failed", str(e))
    except (OSError, ValueError) as e:
        return ingest._error(snapshot, label, offset, None, "unreadable_file", f"{type(e).__name__}: {e}")


def rebased(uri: str, rebase: dict[str, str]) -> str:
    """``uri`` with the first matching prefix of ``rebase`` (old → new) replaced: files read from where they are now
    when the crawl was audited from another copy."""
    for old, new in rebase.items():
        if uri.startswith(old):
            return new + uri[len(old):]
    return uri


def extract_rows(kept: Iterable[dict], input_cfg: InputConfig, rebase: dict[str, str] | None = None,
                 sleep=time.sleep) -> Iterator[dict]:
    """Per kept export row (snapshot, doc_id, url, registered_domain, language, warc_file, warc_offset,
    warc_record_id): a ``doc`` row with its text, or an ``error`` row (``ERROR_COLUMNS``)."""
    s3 = None
    for k in kept:
        uri = rebased(k[V.WARC_FILE], rebase or {})
        if uri.startswith("s3://") and s3 is None:
            s3 = ingest.s3_client(input_cfg.s3_anonymous)
        row = record_at(uri, k[V.WARC_OFFSET], k[S.SNAPSHOT], input_cfg, sleep, s3)
        where = {S.SNAPSHOT: k[S.SNAPSHOT], S.DOC_ID: k[S.DOC_ID], V.WARC_FILE: k[V.WARC_FILE],
                 V.WARC_OFFSET: k[V.WARC_OFFSET], V.WARC_RECORD_ID: k[V.WARC_RECORD_ID]}
        if row[S.ROW_KIND] != S.KIND_DOC:
            yield {S.ROW_KIND: S.KIND_ERROR, **where, S.ERROR_KIND: row[S.ERROR_KIND], S.MESSAGE: row[S.MESSAGE]}
        elif row[S.DOC_ID] != k[S.DOC_ID]:
            yield {S.ROW_KIND: S.KIND_ERROR, **where, S.ERROR_KIND: "record_mismatch",
                   S.MESSAGE: f"the record at offset {k[V.WARC_OFFSET]} is {row[S.RECORD_ID]}, not the audited "
                              f"{k[V.WARC_RECORD_ID]}: the file changed since the audit"}
        else:
            yield {S.ROW_KIND: S.KIND_DOC, **where, S.URL: k[S.URL], S.REGISTERED_DOMAIN: k[S.REGISTERED_DOMAIN],
                   S.LANGUAGE: k[S.LANGUAGE], S.TEXT: row[S.TEXT]}


def kept_rows(spark, export_dir: str) -> DataFrame:
    """The kept rows of the export under ``export_dir`` (``<export_dir>/curation``, as ``crawlaudit export`` wrote)."""
    path = f"{export_dir.rstrip('/')}/curation"
    try:
        rows = spark.read.parquet(path)
    except Exception as e:  # noqa: BLE001 - Spark's AnalysisException for a missing path; say what to run
        raise InputError(f"{path}: no export there ({type(e).__name__}); run crawlaudit export first") from None
    lacking = [c for c in (V.KEEP, V.WARC_FILE, V.WARC_OFFSET, V.WARC_RECORD_ID, S.DOC_ID, S.SNAPSHOT)
               if c not in rows.columns]
    if lacking:
        raise InputError(f"{path} is not a curation export (no {', '.join(lacking)})")
    return rows.where(F.col(V.KEEP)).select(S.SNAPSHOT, S.DOC_ID, S.URL, S.REGISTERED_DOMAIN, S.LANGUAGE, V.WARC_FILE,
                                            V.WARC_OFFSET, V.WARC_RECORD_ID)


def extract(kept: DataFrame, input_cfg: InputConfig, partitions: int, rebase: dict[str, str] | None = None
            ) -> DataFrame:
    """The kept rows read back: ``row_kind`` doc (``TEXT_COLUMNS``) or error (``ERROR_COLUMNS``), checkpointed.
    Each task reads its files' records in offset order, a batch of rows at a time."""
    rebase = dict(rebase or {})

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = list(extract_rows(batch.to_pylist(), input_cfg, rebase))
            yield pa.RecordBatch.from_pylist([{c: r.get(c) for c in _SCHEMA.names} for r in out], schema=_SCHEMA)

    from pyspark.sql.pandas.types import from_arrow_schema

    return (kept.repartition(max(partitions, 1), V.WARC_FILE).sortWithinPartitions(V.WARC_FILE, V.WARC_OFFSET)
            .mapInArrow(run, from_arrow_schema(_SCHEMA)).transform(checkpoint))


def write(rows: DataFrame, out: str, fmt: str = "jsonl", shard_docs: int | None = None) -> dict:
    """The documents as ``fmt`` shards under ``out/documents`` (at most ``shard_docs`` each) and the errors as Parquet
    under ``out/errors``, replacing what was there; returns n_docs, n_bytes (UTF-8 text), errors by kind."""
    if fmt not in FORMATS:
        raise InputError(f"extract format {fmt!r}: expected one of {', '.join(FORMATS)}")
    docs = rows.where(F.col(S.ROW_KIND) == S.KIND_DOC).select(*TEXT_COLUMNS)
    writer = docs.write.mode("overwrite")
    if shard_docs:
        writer = writer.option("maxRecordsPerFile", shard_docs)
    (writer.json if fmt == "jsonl" else writer.parquet)(f"{out}/documents")
    errors = rows.where(F.col(S.ROW_KIND) == S.KIND_ERROR).select(*ERROR_COLUMNS)
    errors.write.mode("overwrite").parquet(f"{out}/errors")
    totals = docs.agg(F.count(F.lit(1)), F.sum(F.octet_length(S.TEXT))).first()
    by_kind = {r[0]: r[1] for r in errors.groupBy(S.ERROR_KIND).count().collect()}
    return {"n_docs": totals[0], "n_bytes": totals[1] or 0, "errors": dict(sorted(by_kind.items()))}


def extract_export(spark, source: str, input_cfg: InputConfig, out: str, fmt: str = "jsonl",
                   shard_docs: int | None = None, rebase: dict[str, str] | None = None) -> dict:
    """``crawlaudit extract``: the kept rows of the export under ``source`` read back and written under ``out``
    (``write``'s totals, with n_files: the WET files read), at most 4 tasks per core, none idle."""
    kept = kept_rows(spark, source)
    n_files = kept.select(V.WARC_FILE).distinct().count()
    log.info("extract: reading the kept records of %d files from %s", n_files, source)
    rows = extract(kept, input_cfg, min(n_files, spark.sparkContext.defaultParallelism * 4), rebase)
    return {**write(rows, out, fmt, shard_docs), "n_files": n_files}
