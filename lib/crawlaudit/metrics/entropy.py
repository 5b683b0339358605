"""Vocabulary entropy and diversity on a fixed token budget (pure DataFrame transforms).

Plug-in entropy and type counts grow with sample size, so every group is measured on the same number of
tokens B: documents are taken in doc_id order (a hash, so a deterministic pseudo-random order that does not
depend on partitioning) and their tokens concatenated until B tokens are reached; the last document is cut.
A group with fewer than B tokens gets null metrics and ``entropy_budget_met = false``, never a biased number.

Per group, on that sample (estimators in ``diversity``): entropy_bits (plug-in), entropy_miller_madow_bits,
entropy_chao_shen_bits with its bootstrap interval entropy_chao_shen_lo/_hi, ttr (= distinct_1, types / B),
distinct_2, mattr, bigram_cond_entropy_bits, zipf_exponent, heaps_exponent, gzip_ratio, tail_mass.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BooleanType, DoubleType, IntegerType, StringType, StructField, StructType

from crawlaudit.metrics import diversity as D
from crawlaudit import schemas as S
from crawlaudit.metrics.groups import per_group
from crawlaudit.metrics.lines import token_lists
from crawlaudit.quality.validation import require_columns

DIVERSITY_COLUMNS = [
    S.ENTROPY_BITS, S.ENTROPY_MM_BITS, S.ENTROPY_CS_BITS, S.ENTROPY_CS_LO, S.ENTROPY_CS_HI, S.TTR,
    S.DISTINCT_1, S.DISTINCT_2, S.MATTR, S.BIGRAM_COND_ENTROPY_BITS, S.ZIPF_EXPONENT, S.HEAPS_EXPONENT,
    S.GZIP_RATIO, S.TAIL_MASS,
]


@dataclass(frozen=True)
class DiversityParams:
    """Estimator settings (from ``metrics`` in config): bootstrap replicates and seed, MATTR window, the Zipf
    rank range, and the rank beyond which tokens count as the tail."""

    bootstrap_replicates: int = 100
    seed: int = 0
    mattr_window: int = 500
    zipf_rank_min: int = 1
    zipf_rank_max: int = 1000
    tail_rank: int = 100


def budget_token_samples(group_cols: list[str], budget: int,
                         within: DataFrame | None = None) -> Callable[[DataFrame], DataFrame]:
    """Each group's budget sample as documents: group_cols, doc_id, tokens (array, the last one cut).

    Columns in: group_cols, doc_id, text, n_tokens (and ``within``'s other columns). Only groups with at least
    ``budget`` tokens appear. ``within``: one row per group, group_cols and further columns of the documents
    (e.g. its primary language), restricting each group's sample to its documents with those values.
    The cut-off document of each group is found on narrow rows (group, doc_id, n_tokens); the texts are then
    filtered in place against a broadcast of one row per group, so no text is shuffled.
    """
    extra = [c for c in within.columns if c not in group_cols] if within is not None else []
    keys = [*group_cols, *extra]

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [*keys, S.DOC_ID, S.TEXT, S.N_TOKENS], "budget_token_samples")
        upto = Window.partitionBy(*group_cols).orderBy(S.DOC_ID).rowsBetween(Window.unboundedPreceding, 0)
        narrow = docs.select(*keys, S.DOC_ID, S.N_TOKENS)
        if within is not None:
            narrow = narrow.join(within.select(*keys), keys)
        cutoffs = (
            narrow
            .withColumn("_upto", F.sum(S.N_TOKENS).over(upto).cast("long"))
            .where(F.col("_upto") >= budget)
            .groupBy(*keys)
            .agg(F.min(F.struct(F.col(S.DOC_ID), (F.col("_upto") - F.col(S.N_TOKENS)).alias("before"))).alias("_cut"))
            .select(*keys, F.col("_cut.doc_id").alias("_cut_doc"), F.col("_cut.before").alias("_cut_before"))
        )
        selected = docs.select(*keys, S.DOC_ID, S.TEXT).join(F.broadcast(cutoffs), keys)
        take = F.when(F.col(S.DOC_ID) == F.col("_cut_doc"), F.lit(budget) - F.col("_cut_before")).otherwise(
            F.lit(2**31 - 1)).cast("int")
        return selected.where(F.col(S.DOC_ID) <= F.col("_cut_doc")).select(
            *group_cols, S.DOC_ID, token_prefixes(F.col(S.TEXT), take).alias("tokens"))

    return transform


@F.arrow_udf(ArrayType(StringType()))
def token_prefixes(texts: pa.Array, limits: pa.Array) -> pa.Array:
    """The first ``limits`` tokens (``text.tokenize``) of each text, in one compiled pass (``lines.token_lists``)."""
    return token_lists(texts.to_pylist(), limits.to_numpy(zero_copy_only=False))


def sample_diversity(tokens: list[str], params: DiversityParams, seed: int) -> dict:
    """Every diversity metric of one token sample (``DIVERSITY_COLUMNS``)."""
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int64, count=len(tokens))
    counts = np.bincount(ids)
    lo, hi = D.bootstrap_interval(counts, D.chao_shen_entropy, params.bootstrap_replicates, seed,
                                  rows_estimator=D.chao_shen_entropy_rows)
    return {
        S.ENTROPY_BITS: max(D.plugin_entropy(counts), 0.0),
        S.ENTROPY_MM_BITS: D.miller_madow_entropy(counts),
        S.ENTROPY_CS_BITS: D.chao_shen_entropy(counts),
        S.ENTROPY_CS_LO: lo, S.ENTROPY_CS_HI: hi,
        S.TTR: len(counts) / len(ids), S.DISTINCT_1: len(counts) / len(ids),
        S.DISTINCT_2: D.distinct_n(ids, 2),
        S.MATTR: D.mattr(ids, params.mattr_window),
        S.BIGRAM_COND_ENTROPY_BITS: D.conditional_bigram_entropy(ids),
        S.ZIPF_EXPONENT: D.zipf_exponent(counts, params.zipf_rank_min, params.zipf_rank_max),
        S.HEAPS_EXPONENT: D.heaps_exponent(ids),
        S.GZIP_RATIO: D.gzip_ratio(tokens),
        S.TAIL_MASS: D.tail_mass(counts, params.tail_rank),
    }


def _group_seed(values, seed: int) -> int:
    key = "\x1f".join(str(v) for v in values) + f"\x1f{seed}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")


def entropy_at_budget(group_cols: list[str], budget: int, params: DiversityParams = DiversityParams(),
                      within: DataFrame | None = None) -> Callable[[DataFrame], DataFrame]:
    """Per group: ``DIVERSITY_COLUMNS`` (doubles; entropies in bits), entropy_budget_tokens (int, = budget),
    entropy_budget_met (bool). Columns in: group_cols (strings), doc_id, text, n_tokens. ``within``: measure
    each group on its documents matching its row there (``budget_token_samples``); every group keeps its row.
    ``budget_token_samples`` then ``sample_entropy``.
    """
    def transform(docs: DataFrame) -> DataFrame:
        return docs.transform(budget_token_samples(group_cols, budget, within)).transform(
            sample_entropy(group_cols, budget, docs.select(*group_cols).distinct(), params))

    return transform


def sample_entropy(group_cols: list[str], budget: int, groups: DataFrame, params: DiversityParams = DiversityParams()
                   ) -> Callable[[DataFrame], DataFrame]:
    """Per row of ``groups`` (group_cols, strings): ``DIVERSITY_COLUMNS``, entropy_budget_tokens, entropy_budget_met
    of its budget sample. Columns in: ``budget_token_samples`` rows (group_cols, doc_id, tokens), e.g. the
    ``token_samples`` a snapshot keeps, so the sample is drawn once; a group without a sample gets null metrics and
    entropy_budget_met false.

    The per-group work runs in ``groups.per_group`` (numpy on one group's B tokens); the bootstrap is seeded by
    the group's key, so the numbers do not depend on partitioning.
    """
    out_schema = StructType([StructField(c, StringType()) for c in group_cols]
                            + [StructField(c, DoubleType()) for c in DIVERSITY_COLUMNS])

    def measure(key: tuple, pdf: pd.DataFrame) -> dict:   # the group's documents in doc_id order
        tokens = [t for row in pdf[S.TOKENS] for t in row]
        return sample_diversity(tokens, params, _group_seed(key, params.seed))

    def transform(samples: DataFrame) -> DataFrame:
        measured = samples.select(*group_cols, S.DOC_ID, S.TOKENS).transform(
            per_group(group_cols, [S.DOC_ID], measure, out_schema))
        joined = groups.join(measured, group_cols, "left")
        return joined.select(
            *group_cols, *DIVERSITY_COLUMNS,
            F.lit(budget).cast(IntegerType()).alias(S.ENTROPY_BUDGET_TOKENS),
            F.col(S.ENTROPY_BITS).isNotNull().cast(BooleanType()).alias(S.ENTROPY_BUDGET_MET),
        )

    return transform
