"""Pooled estimates (per snapshot, per year) as Spark aggregations: no group is ever held in one Python worker.

Each partition sums its documents' bootstrap quantities per group (``quantify.hashed_poisson_sums``: integers,
each document's replicate weights drawn from a hash of (seed, doc_id, replicate)); Spark adds the partial sums
per (group, replicate) as exact long arrays, and the driver turns one array per replicate into the estimates
(``estimates.estimates_from_sums``, the code of the per-domain path). Integer sums do not depend on the split or
the order of the documents, so the numbers equal a one-process computation's and do not move with the partition
count. The pattern of partial aggregates combined once is Spark's own (``treeAggregate``); the per-document
bootstrap weights follow the Poisson bootstrap of Hanley & MacGibbon (2006), hashed instead of drawn.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, LongType, StructField, StructType

from crawlaudit import schemas as S
from crawlaudit.quality.validation import require_columns
from crawlaudit.synthetic import quantify as Q
from crawlaudit.synthetic.estimates import (BASE_FPR, BASE_FPR_VAR, BASE_N, BASE_NEG, BASE_NEG_VAR,
                                            SCORE_INPUT_COLUMNS, EstimatorParams, _summed_values, estimates_from_sums,
                                            estimates_schema, human_side,
                                            synthetic_estimates)

REPLICATE, SUMS = "_replicate", "_sums"


def _partial_sums(group_cols: list[str], params: EstimatorParams, per_document: bool):
    """mapInArrow function: one row per (group in the partition, replicate), the partition's integer sums."""
    n_words = len(params.p_human)

    def batch_sums(batch: pa.RecordBatch) -> np.ndarray:
        words = batch.column(S.REF_WORDS)
        base = ([batch.column(c).to_numpy(zero_copy_only=False) for c in (BASE_FPR, BASE_NEG)]
                if per_document else [])
        values = _summed_values(batch.num_rows, batch.column(S.IS_AI_FLAGGED).to_numpy(zero_copy_only=False),
                                batch.column(S.AI_PROB).to_numpy(zero_copy_only=False),
                                batch.column(S.HAS_MARKER).to_numpy(zero_copy_only=False), *base)
        return Q.hashed_poisson_sums(batch.column(S.DOC_ID).to_pylist(), values,
                                     words.offsets.to_numpy(), words.values.to_numpy(zero_copy_only=False),
                                     n_words, params.replicates, params.seed)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        totals: dict[tuple, np.ndarray] = {}
        for batch in batches:
            keys = batch.select(group_cols).to_pandas()
            for key, idx in keys.groupby(group_cols, sort=False, dropna=False).indices.items():
                key = key if isinstance(key, tuple) else (key,)
                part = batch_sums(batch if len(idx) == batch.num_rows else batch.take(pa.array(idx)))
                totals[key] = part if key not in totals else totals[key] + part
        for key, sums in totals.items():
            r = sums.shape[1]
            columns = [pa.array([k] * r, batch.schema.field(c).type) for k, c in zip(key, group_cols)]
            flat = pa.ListArray.from_arrays(pa.array(np.arange(r + 1, dtype=np.int32) * sums.shape[0]),
                                            pa.array(np.ascontiguousarray(sums.T).ravel()))
            yield pa.RecordBatch.from_arrays([*columns, pa.array(np.arange(r, dtype=np.int32)), flat],
                                             names=[*group_cols, REPLICATE, SUMS])

    return run


def _domain_summary(scored: DataFrame, group_cols: list[str]) -> dict[tuple, tuple]:
    """Per group: (n domains, largest own vintage count, Σ_d n_d² fpr var_d, Σ_d n_d² neg var_d),
    each sum exact in decimal (so it does not depend on the order of the domains)."""
    per = scored.groupBy(*group_cols, S.REGISTERED_DOMAIN).agg(
        F.count(F.lit(1)).alias("n"), F.first(BASE_N).alias("own"), F.first(BASE_FPR_VAR).alias("vf"),
        F.first(BASE_NEG_VAR).alias("vn"))
    exact = "decimal(38,18)"
    rows = per.groupBy(*group_cols).agg(
        F.count(F.lit(1)).alias("domains"), F.max("own").alias("own"),
        F.sum((F.col("n") * F.col("n") * F.col("vf")).cast(exact)).alias("vf"),
        F.sum((F.col("n") * F.col("n") * F.col("vn")).cast(exact)).alias("vn")).collect()
    return {tuple(r[c] for c in group_cols): (r["domains"], r["own"], float(r["vf"]), float(r["vn"]))
            for r in rows}


def pooled_estimates(group_cols: list[str], params: EstimatorParams,
                     n_docs: Callable[[], int] | None = None) -> Callable[[DataFrame], DataFrame]:
    """Columns in: ``group_cols`` + ``SCORE_INPUT_COLUMNS`` (+ registered_domain and ``BASELINE_COLUMNS``).
    Columns out: those of ``estimates.synthetic_estimates``, one row per group. Runs two Spark jobs (the sums;
    with baselines, a per-domain summary) and brings (replicates + 1) × (6 + reference words) integers per group to
    the driver: for the few large groups (snapshot, year), not for domains. Fewer than
    ``params.distributed_min_docs`` documents (``n_docs()`` when the caller has a cheaper count, else counted
    first; neither runs when the threshold is 0):
    ``synthetic_estimates``, the same numbers."""

    def transform(scored: DataFrame) -> DataFrame:
        require_columns(scored, group_cols + SCORE_INPUT_COLUMNS, "pooled_estimates")
        if params.distributed_min_docs and (scored.count() if n_docs is None else n_docs()) \
                < params.distributed_min_docs:
            return scored.transform(synthetic_estimates(group_cols, params))
        per_document = BASE_FPR in scored.columns
        extra = [S.REGISTERED_DOMAIN, BASE_N, BASE_FPR, BASE_FPR_VAR, BASE_NEG, BASE_NEG_VAR] if per_document else []
        inputs = scored.select(*group_cols, *SCORE_INPUT_COLUMNS, *extra)
        width = len(Q.SUMMED) + len(params.p_human)
        partial_schema = StructType([inputs.schema[c] for c in group_cols] + [
            StructField(REPLICATE, IntegerType(), False), StructField(SUMS, ArrayType(LongType(), False), False)])
        zero = F.array_repeat(F.lit(0).cast("long"), width)
        summed = (inputs.mapInArrow(_partial_sums(group_cols, params, per_document), partial_schema)
                  .groupBy(*group_cols, REPLICATE)
                  .agg(F.aggregate(F.collect_list(SUMS), zero,
                                   lambda acc, x: F.zip_with(acc, x, lambda a, b: a + b)).alias(SUMS)))
        groups: dict[tuple, np.ndarray] = {}
        for row in summed.collect():
            key = tuple(row[c] for c in group_cols)
            sums = groups.setdefault(key, np.zeros((width, params.replicates + 1), dtype=np.int64))
            sums[:, row[REPLICATE]] = row[SUMS]
        summary = _domain_summary(inputs, group_cols) if per_document else {}
        schema = estimates_schema(scored, group_cols)
        out = []
        for key in sorted(groups, key=lambda k: tuple(map(str, k))):
            sums = groups[key]
            domains, own, vf, vn = summary.get(key, (0, 0, 0.0, 0.0))
            side = human_side(params, int(sums[0, -1]), domains, own or 0, vf, vn)
            row = {**dict(zip(group_cols, key)), **estimates_from_sums(sums, key, params, side)}
            out.append([row[f.name] for f in schema.fields])
        return scored.sparkSession.createDataFrame(out, schema)

    return transform
