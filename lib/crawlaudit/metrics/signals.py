"""Per-document duplication signals, computed in one pass over each document's text on the executors.

One compiled pass over each batch of texts (``lines.scan_lines``) gives the word tokens (repetition signals),
the normalized lines (line hashes) and the normalized words (the MinHash signature), without making a string
of any of them. Only compact columns come
back to the JVM: the signature (num_perm ints), the line hashes and ten ratios per document, never the text.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, DoubleType, IntegerType, LongType, StringType, StructField, StructType

from crawlaudit import schemas as S
from crawlaudit.metrics.minhash import MinHasher
from crawlaudit.metrics.lines import scan_lines
from crawlaudit.metrics.repetition import SIGNAL_NAMES, repetition_signals
from crawlaudit.quality.validation import require_columns

SIGNALS_SCHEMA = StructType(
    [StructField(S.DOC_ID, StringType(), False),
     StructField(S.SIGNATURE, ArrayType(IntegerType(), False), True),
     StructField(S.LINE_HASHES, ArrayType(LongType(), False), False)]
    + [StructField(name, DoubleType(), False) for name in SIGNAL_NAMES]
)


def _list_array(values: np.ndarray, lengths: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    mask = None if valid is None else pa.array(~valid)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values), mask=mask)


def signals_batch(doc_ids: list[str], texts: list[str | None], hasher: MinHasher | None) -> pa.RecordBatch:
    """The ``SIGNALS_SCHEMA`` rows of one batch of documents (signature null without a ``hasher``)."""
    scan = scan_lines(texts)
    rep, line_hashes, n_lines = repetition_signals(scan)
    n = len(doc_ids)
    if hasher is not None:
        sigs, has_sig = hasher.hash_signatures(scan.word_hash, np.diff(scan.word_bounds[scan.line_bounds]))
        signature = _list_array(sigs.view(np.int32).reshape(-1), np.full(n, hasher.num_perm), has_sig)
    else:
        signature = pa.nulls(n, _ARROW_SCHEMA.field(S.SIGNATURE).type)
    columns = [
        pa.array(doc_ids, pa.string()),
        signature,
        _list_array(line_hashes, n_lines),
    ] + [pa.array(rep[:, i]) for i in range(rep.shape[1])]
    return pa.RecordBatch.from_arrays(columns, schema=_ARROW_SCHEMA)


MINHASH_SCHEMA = StructType([SIGNALS_SCHEMA[S.DOC_ID], SIGNALS_SCHEMA[S.SIGNATURE]])


def _arrow_schema(schema: StructType) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)


_ARROW_SCHEMA = _arrow_schema(SIGNALS_SCHEMA)
_MINHASH_ARROW_SCHEMA = _arrow_schema(MINHASH_SCHEMA)


def minhash_signatures(hasher: MinHasher) -> Callable[[DataFrame], DataFrame]:
    """Columns in: doc_id, text. Columns out: doc_id, signature only (the same signature as ``document_signals``): for
    near-duplicate work without the line and repetition signals (``scripts/bench_dedup.py``)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            sigs, has_sig = hasher.text_signatures(batch.column(S.TEXT).to_pylist())
            n = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [batch.column(S.DOC_ID),
                 _list_array(sigs.view(np.int32).reshape(-1), np.full(n, hasher.num_perm), has_sig)],
                schema=_MINHASH_ARROW_SCHEMA)

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [S.DOC_ID, S.TEXT], "minhash_signatures")
        return docs.select(S.DOC_ID, S.TEXT).mapInArrow(run, MINHASH_SCHEMA)

    return transform


def document_signals(hasher: MinHasher | None) -> Callable[[DataFrame], DataFrame]:
    """Columns in: doc_id, text. Columns out: ``SIGNALS_SCHEMA`` (signature null when the text has no token, or
    without a ``hasher``: the audit signs main contents, ``templates.main_documents``)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield signals_batch(batch.column(S.DOC_ID).to_pylist(), batch.column(S.TEXT).to_pylist(), hasher)

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [S.DOC_ID, S.TEXT], "document_signals")
        return docs.select(S.DOC_ID, S.TEXT).mapInArrow(run, SIGNALS_SCHEMA)

    return transform
