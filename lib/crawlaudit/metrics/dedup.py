"""Exact duplication within a snapshot and content reused from earlier snapshots (pure DataFrame transforms).

A document is an exact duplicate when its normalized-text hash (``text.content_hash``, cc_net-style) occurs
in at least two documents of the snapshot, whatever their domains: a page syndicated from another domain
counts in both. Documents whose text normalizes to nothing have a null hash and never count.
"""
from __future__ import annotations

from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.quality.validation import require_columns


def with_exact_dup_flag(docs: DataFrame) -> DataFrame:
    """Columns in: snapshot, content_hash. Columns out: + is_exact_dup (bool)."""
    require_columns(docs, [S.SNAPSHOT, S.CONTENT_HASH], "with_exact_dup_flag")
    counts = (
        docs.where(F.col(S.CONTENT_HASH).isNotNull())
        .groupBy(S.SNAPSHOT, S.CONTENT_HASH)
        .agg(F.count(F.lit(1)).alias("_n_same"))
    )
    return (
        docs.join(counts, [S.SNAPSHOT, S.CONTENT_HASH], "left")
        .withColumn(S.IS_EXACT_DUP, F.coalesce(F.col("_n_same") >= 2, F.lit(False)))
        .drop("_n_same")
    )


def with_cross_snapshot_flag(prior_hashes: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Flag documents whose content was first seen in an earlier snapshot.

    ``prior_hashes``: content_hash, first_snapshot (the ``content_hashes`` table, any extent).
    Columns in: snapshot, content_hash. Columns out: + is_cross_snapshot_dup (bool): the hash's
    first_snapshot sorts before the document's snapshot (CC-MAIN-YYYY-WW ids sort chronologically).
    """
    require_columns(prior_hashes, [S.CONTENT_HASH, S.FIRST_SNAPSHOT], "with_cross_snapshot_flag")
    prior = prior_hashes.select(S.CONTENT_HASH, F.col(S.FIRST_SNAPSHOT).alias("_first"))

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [S.SNAPSHOT, S.CONTENT_HASH], "with_cross_snapshot_flag")
        return (
            docs.join(prior, S.CONTENT_HASH, "left")
            .withColumn(S.IS_CROSS_SNAPSHOT_DUP, F.coalesce(F.col("_first") < F.col(S.SNAPSHOT), F.lit(False)))
            .drop("_first")
        )

    return transform


def duplication_stats(group_cols: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Per group: n_docs, n_tokens, n_chars, n_exact_dup_docs, exact_dup_frac, n_cross_snapshot_dup_docs,
    cross_snapshot_dup_frac (fractions of the group's documents, in [0, 1]).

    Columns in: group_cols, n_tokens, n_chars, is_exact_dup, is_cross_snapshot_dup.
    """

    def transform(flagged: DataFrame) -> DataFrame:
        require_columns(flagged, [*group_cols, S.N_TOKENS, S.N_CHARS, S.IS_EXACT_DUP, S.IS_CROSS_SNAPSHOT_DUP],
                        "duplication_stats")
        n = F.count(F.lit(1))
        return (
            flagged.groupBy(*group_cols)
            .agg(
                n.alias(S.N_DOCS),
                F.sum(S.N_TOKENS).cast("long").alias(S.N_TOKENS),
                F.sum(S.N_CHARS).cast("long").alias(S.N_CHARS_TOTAL),
                F.sum(F.col(S.IS_EXACT_DUP).cast("long")).alias(S.N_EXACT_DUP_DOCS),
                F.sum(F.col(S.IS_CROSS_SNAPSHOT_DUP).cast("long")).alias(S.N_CROSS_SNAPSHOT_DUP_DOCS),
            )
            .withColumn(S.EXACT_DUP_FRAC, F.col(S.N_EXACT_DUP_DOCS) / F.col(S.N_DOCS))
            .withColumn(S.CROSS_SNAPSHOT_DUP_FRAC, F.col(S.N_CROSS_SNAPSHOT_DUP_DOCS) / F.col(S.N_DOCS))
        )

    return transform


def first_seen_hashes(docs: DataFrame) -> DataFrame:
    """One row per distinct content hash of ``docs``: content_hash, first_snapshot, first_url.

    The earliest snapshot, and in it the smallest URL, so the choice is deterministic.
    Columns in: snapshot, content_hash, url.
    """
    require_columns(docs, [S.SNAPSHOT, S.CONTENT_HASH, S.URL], "first_seen_hashes")
    first = F.min(F.struct(F.col(S.SNAPSHOT), F.col(S.URL))).alias("_first")
    return (
        docs.where(F.col(S.CONTENT_HASH).isNotNull())
        .groupBy(S.CONTENT_HASH)
        .agg(first)
        .select(S.CONTENT_HASH, F.col("_first.snapshot").alias(S.FIRST_SNAPSHOT), F.col("_first.url").alias(S.FIRST_URL))
    )
