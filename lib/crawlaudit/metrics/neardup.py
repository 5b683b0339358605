"""Near-duplicate documents: LSH candidates, every pair verified, clusters by connected components.

Why verification: the public pipelines (text-dedup's Spark MinHash, datatrove) treat every LSH bucket
collision as a duplicate and take the transitive closure, which inflates duplicate rates (text-dedup issues
#70, #71, #88). Here a candidate pair counts only if the exact Jaccard similarity of its shingle sets reaches
``dedup.jaccard_threshold`` (within a snapshot, where the texts are at hand), or, against earlier snapshots
whose texts are gone, if the signature agreement does (an unbiased estimate of the Jaccard similarity).

Band hashes are computed from the stored signatures (``minhash.lsh_band_hashes``), so an earlier snapshot's
``doc_signatures`` partition serves any later audit without rereading its texts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from crawlaudit import schemas as S
from crawlaudit.session import checkpoint
from crawlaudit.config import DedupConfig
from crawlaudit.metrics.graph import connected_components
from crawlaudit.metrics.minhash import MinHasher, lsh_band_hashes, optimal_bands
from crawlaudit.metrics.templates import TemplateParams
from crawlaudit.quality.validation import require_columns

log = logging.getLogger(__name__)

BAND, BAND_HASH = "band", "band_hash"
_FIXED_POINT = 1e12  # repetition ratios are summed as integers in units of 1e-12: float sums depend on order


@dataclass(frozen=True)
class NearDupParams:
    """Everything the near-duplicate steps need, derived once from ``DedupConfig``."""

    hasher: MinHasher
    threshold: float
    bands: int
    rows: int
    bucket_window: int
    max_component_rounds: int
    templates: TemplateParams = TemplateParams()

    @property
    def signature_params(self) -> str:
        """``doc_signatures.minhash_params``: the MinHash parameters and, for main-content signatures, the text
        signed (whole-page signatures, stored without the suffix, are never compared with main-content ones)."""
        return self.hasher.params + ("" if self.templates.hashed_text == "page" else ";text=main")

    @classmethod
    def from_config(cls, cfg: DedupConfig) -> "NearDupParams":
        bands, rows = optimal_bands(cfg.jaccard_threshold, cfg.num_perm, cfg.fp_weight, cfg.fn_weight)
        log.info("near-duplicates: Jaccard >= %.2f, MinHash %d permutations over %d-word shingles, LSH %d bands x %d rows",
                 cfg.jaccard_threshold, cfg.num_perm, cfg.shingle_size, bands, rows)
        return cls(MinHasher(cfg.num_perm, cfg.shingle_size, cfg.seed), cfg.jaccard_threshold, bands, rows,
                   cfg.bucket_window, cfg.max_component_rounds,
                   TemplateParams(cfg.templates, cfg.template_min_docs, cfg.template_min_frac))


BAND_HASHES_SCHEMA = StructType([StructField(S.DOC_ID, StringType(), False),
                                 StructField(BAND_HASH, ArrayType(LongType(), False), False)])
_BAND_HASHES_ARROW = to_arrow_schema(BAND_HASHES_SCHEMA)


def _buckets(sigs: DataFrame, bands: int, rows: int) -> DataFrame:
    """band, band_hash, doc_id for every document with a signature.

    The band hashes are computed with numpy on the executors (``minhash.lsh_band_hashes``) from the stored
    signatures, for the snapshot being audited and for earlier ones alike. On 10^5 documents the bucket stage
    took 1.7 s this way, 3.4 s with Spark expressions slicing and hashing (xxhash64) every band.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            flat = batch.column(S.SIGNATURE).flatten().to_numpy(zero_copy_only=False).view(np.uint32)
            hashes = lsh_band_hashes(flat.reshape(n, flat.size // n if n else 0), bands, rows)
            offsets = np.arange(0, (n + 1) * bands, bands, dtype=np.int32)
            yield pa.RecordBatch.from_arrays(
                [batch.column(S.DOC_ID), pa.ListArray.from_arrays(pa.array(offsets), pa.array(hashes.reshape(-1)))],
                schema=_BAND_HASHES_ARROW)

    return (
        sigs.where(F.col(S.SIGNATURE).isNotNull()).select(S.DOC_ID, S.SIGNATURE)
        .mapInArrow(run, BAND_HASHES_SCHEMA)
        .select(S.DOC_ID, F.posexplode(BAND_HASH).alias(BAND, BAND_HASH))
    )


PAIRS_SCHEMA = StructType([StructField(S.DOC_A, StringType(), False), StructField(S.DOC_B, StringType(), False)])
_PAIRS_ARROW = to_arrow_schema(PAIRS_SCHEMA)


def _bucket_pairs(window: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """mapInArrow over one partition of bucket rows (every row of a bucket in the same partition): sorts them by
    (band, band_hash, doc_id) with Arrow and pairs each member with the next ``window`` members of its bucket.
    Holds one partition's bucket rows (band, hash, doc_id) in memory."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = list(batches)
        table = pa.Table.from_batches(batches) if batches else None
        if table is None or table.num_rows < 2:
            return
        table = table.take(pc.sort_indices(table, sort_keys=[(BAND, "ascending"), (BAND_HASH, "ascending"),
                                                             (S.DOC_ID, "ascending")]))
        band = table.column(BAND).to_numpy()
        band_hash = table.column(BAND_HASH).to_numpy()
        doc_ids = table.column(S.DOC_ID).combine_chunks()
        for step in range(1, window + 1):
            same = (band[step:] == band[:-step]) & (band_hash[step:] == band_hash[:-step])
            if not same.any():  # no bucket has more than `step` members
                break
            first = np.flatnonzero(same)
            yield pa.RecordBatch.from_arrays([doc_ids.take(pa.array(first)), doc_ids.take(pa.array(first + step))],
                                             schema=_PAIRS_ARROW)

    return run


def candidate_pairs(bands: int, rows: int, window: int) -> Callable[[DataFrame], DataFrame]:
    """Distinct (doc_a, doc_b), doc_a < doc_b, sharing at least one LSH bucket.

    In a bucket sorted by doc_id each member is paired with the next ``window`` members: every pair of a bucket
    of up to window + 1 documents, and for larger ones (templated pages) a chain that still connects them all,
    at window × size pairs instead of size². Columns in: doc_id, signature.

    One shuffle brings each bucket's rows together; the pairing runs in Arrow on the executors. Spark's own
    grouping (collect_list per bucket) spends its time sorting the 21 × n bucket rows, nearly all singletons:
    on 10^5 documents (``scripts/bench_dedup.py``) banding took 9.4 s that way, 5.2 s this way.
    """

    def transform(sigs: DataFrame) -> DataFrame:
        require_columns(sigs, [S.DOC_ID, S.SIGNATURE], "candidate_pairs")
        return (
            _buckets(sigs, bands, rows).repartition(BAND, BAND_HASH)
            .mapInArrow(_bucket_pairs(window), PAIRS_SCHEMA)
            .distinct()
        )

    return transform


SHINGLES_SCHEMA = StructType([StructField(S.DOC_ID, StringType(), False),
                              StructField(S.SHINGLES, ArrayType(LongType(), False), False)])
_SHINGLES_ARROW = to_arrow_schema(SHINGLES_SCHEMA)


def shingle_sets(hasher: MinHasher) -> Callable[[DataFrame], DataFrame]:
    """Columns in: doc_id, text. Columns out: doc_id, shingles (distinct shingle hashes, sorted)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            sets = hasher.text_shingle_sets(batch.column(S.TEXT).to_pylist())
            offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int32)
            values = np.concatenate(sets) if sets else np.zeros(0, np.int64)
            yield pa.RecordBatch.from_arrays(
                [batch.column(S.DOC_ID), pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))],
                schema=_SHINGLES_ARROW)

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [S.DOC_ID, S.TEXT], "shingle_sets")
        return docs.select(S.DOC_ID, S.TEXT).mapInArrow(run, SHINGLES_SCHEMA)

    return transform


def exact_jaccard(a: str, b: str) -> Column:
    inter = F.size(F.array_intersect(a, b))
    return inter / (F.size(a) + F.size(b) - inter)


def signature_agreement(a: str, b: str, num_perm: int) -> Column:
    """Share of equal signature positions: the MinHash estimate of the Jaccard similarity."""
    same = F.zip_with(a, b, lambda x, y: F.when(x == y, 1).otherwise(0))
    return F.aggregate(same, F.lit(0), lambda acc, x: acc + x) / F.lit(num_perm)


def verify_exact(pairs: DataFrame, shingles: DataFrame, threshold: float) -> DataFrame:
    """Verified edges: doc_a, doc_b, jaccard (exact, on shingle sets) ≥ threshold."""
    a = shingles.select(F.col(S.DOC_ID).alias(S.DOC_A), F.col(S.SHINGLES).alias("_sa"))
    b = shingles.select(F.col(S.DOC_ID).alias(S.DOC_B), F.col(S.SHINGLES).alias("_sb"))
    return (
        pairs.join(a, S.DOC_A).join(b, S.DOC_B)
        .select(S.DOC_A, S.DOC_B, exact_jaccard("_sa", "_sb").alias(S.JACCARD))
        .where(F.col(S.JACCARD) >= threshold)
    )


def near_dup_edges(docs: DataFrame, sigs: DataFrame, params: NearDupParams) -> DataFrame:
    """Verified near-duplicate pairs within ``docs`` (one snapshot): doc_a, doc_b, jaccard.
    Columns in: docs: doc_id, text; sigs: doc_id, signature."""
    pairs = sigs.transform(candidate_pairs(params.bands, params.rows, params.bucket_window))
    return verify_candidates(docs, pairs, params)


def verify_candidates(docs: DataFrame, pairs: DataFrame, params: NearDupParams) -> DataFrame:
    """The candidate ``pairs`` (doc_a, doc_b) whose exact shingle Jaccard reaches the threshold: doc_a, doc_b,
    jaccard. Columns in: docs: doc_id, text.

    Every candidate is decided by the exact Jaccard of its shingle sets, recomputed (once) for the candidates'
    documents only. Deciding the clear cases by signature agreement first (identical → accept, far below →
    reject) needs a join of every pair with both signatures: on 10^5 planted documents that cost more than it
    saved (verification 7.4 s that way, 6.2 s exact for all, the same 16,156 edges).
    """
    ids = pairs.select(F.col(S.DOC_A).alias(S.DOC_ID)).union(pairs.select(F.col(S.DOC_B).alias(S.DOC_ID))).distinct()
    # the candidates' ids are broadcast to the texts, never the texts shuffled to the ids; the shingle sets are
    # computed once (both ends of the pairs read them)
    shingles = docs.join(F.broadcast(ids), S.DOC_ID, "left_semi").transform(shingle_sets(params.hasher)).transform(checkpoint)
    return verify_exact(pairs, shingles, params.threshold)


def with_near_dup_flags(edges: DataFrame, max_rounds: int) -> Callable[[DataFrame], DataFrame]:
    """Columns in: doc_id (+ anything). Columns out: + is_near_dup (has a verified near-duplicate in the
    snapshot), component (smallest doc_id of its cluster; its own doc_id when it has none)."""
    clusters = connected_components(edges.select(F.col(S.DOC_A).alias("src"), F.col(S.DOC_B).alias("dst")), max_rounds)
    clusters = clusters.select(F.col("vertex").alias(S.DOC_ID), F.col("component").alias("_component"))

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [S.DOC_ID], "with_near_dup_flags")
        return (
            docs.join(clusters, S.DOC_ID, "left")
            .withColumn(S.IS_NEAR_DUP, F.col("_component").isNotNull())
            .withColumn(S.COMPONENT, F.coalesce(F.col("_component"), F.col(S.DOC_ID)))
            .drop("_component")
        )

    return transform


def cross_snapshot_matches(prior_sigs: DataFrame, params: NearDupParams) -> Callable[[DataFrame], DataFrame]:
    """Documents with a near-duplicate in an earlier snapshot: doc_id (distinct).

    ``prior_sigs``: doc_id, signature of earlier snapshots' documents (``doc_signatures``, same minhash_params);
    when it has a snapshot column too, the result has ``REPOST_OF_SNAPSHOT``: the earliest snapshot among the
    verified matches (of the ``bucket_window`` candidates per bucket). Candidates share a band; a pair counts when
    the signatures agree on ≥ threshold of their positions. Columns in: doc_id, signature (the snapshot being
    audited).
    """

    def transform(sigs: DataFrame) -> DataFrame:
        require_columns(sigs, [S.DOC_ID, S.SIGNATURE], "cross_snapshot_matches")
        cur = _buckets(sigs, params.bands, params.rows)
        # at most bucket_window earlier documents per bucket (the smallest doc_ids): one verified match is all a
        # document needs, and a template repeated across snapshots must not make a current × prior explosion
        old = (
            _buckets(prior_sigs, params.bands, params.rows).groupBy(BAND, BAND_HASH)
            .agg(F.slice(F.array_sort(F.collect_list(S.DOC_ID)), 1, params.bucket_window).alias("_priors"))
            .select(BAND, BAND_HASH, F.explode("_priors").alias("_prior"))
        )
        pairs = cur.join(old, [BAND, BAND_HASH]).select(S.DOC_ID, "_prior").distinct()
        where = [F.col(S.SNAPSHOT).alias("_prior_snapshot")] if S.SNAPSHOT in prior_sigs.columns else []
        with_sigs = (
            pairs.join(sigs.select(S.DOC_ID, F.col(S.SIGNATURE).alias("_s")), S.DOC_ID)
            .join(prior_sigs.select(F.col(S.DOC_ID).alias("_prior"), F.col(S.SIGNATURE).alias("_p"), *where),
                  "_prior")
        )
        matched = with_sigs.where(signature_agreement("_s", "_p", params.hasher.num_perm) >= params.threshold)
        if where:
            return matched.groupBy(S.DOC_ID).agg(F.min("_prior_snapshot").alias(S.REPOST_OF_SNAPSHOT))
        return matched.select(S.DOC_ID).distinct()

    return transform


def near_dup_stats(group_cols: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Per group: ``schemas.NEAR_DUP_COLUMNS``.

    Columns in: group_cols, doc_id, is_near_dup, component, is_cross_snapshot_near_dup, n_lines, n_dup_lines and
    the repetition signals. near_dup_removable_frac = (documents − clusters among them) / documents: the share a
    deduplication keeping one document per cluster would remove. Repetition signals are means over documents.
    """

    def transform(flagged: DataFrame) -> DataFrame:
        require_columns(flagged, [*group_cols, S.IS_NEAR_DUP, S.COMPONENT, S.IS_CROSS_SNAPSHOT_NEAR_DUP,
                                  S.N_LINES, S.N_DUP_LINES, *S.REP_SIGNALS], "near_dup_stats")
        n = F.count(F.lit(1))
        out = flagged.groupBy(*group_cols).agg(
            n.alias("_n"),
            F.sum(F.col(S.IS_NEAR_DUP).cast("long")).alias(S.N_NEAR_DUP_DOCS),
            F.countDistinct(S.COMPONENT).alias(S.N_NEAR_DUP_CLUSTERS),
            F.sum(F.col(S.IS_CROSS_SNAPSHOT_NEAR_DUP).cast("long")).alias(S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS),
            F.sum(S.N_LINES).cast("long").alias(S.N_LINES),
            F.sum(S.N_DUP_LINES).cast("long").alias(S.N_DUP_LINES),
            *[F.sum(F.round(F.col(c) * _FIXED_POINT).cast("long")).alias(c) for c in S.REP_SIGNALS],
        )
        for c in S.REP_SIGNALS:  # exact integer sums: the same mean whatever the partitioning
            out = out.withColumn(c, F.col(c) / F.lit(_FIXED_POINT) / F.col("_n"))
        return (
            out.withColumn(S.NEAR_DUP_FRAC, F.col(S.N_NEAR_DUP_DOCS) / F.col("_n"))
            .withColumn(S.NEAR_DUP_REMOVABLE_FRAC, (F.col("_n") - F.col(S.N_NEAR_DUP_CLUSTERS)) / F.col("_n"))
            .withColumn(S.CROSS_SNAPSHOT_NEAR_DUP_FRAC, F.col(S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS) / F.col("_n"))
            .withColumn(S.DUP_LINE_FRAC, F.when(F.col(S.N_LINES) > 0, F.col(S.N_DUP_LINES) / F.col(S.N_LINES))
                        .otherwise(F.lit(0.0)))
            .select(*group_cols, *S.NEAR_DUP_COLUMNS)
        )

    return transform
