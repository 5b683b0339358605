"""Vocabulary entropy and type-token ratio on a fixed token budget (pure DataFrame transforms).

Plug-in entropy and type counts grow with sample size, so every group is measured on the same number of
tokens B: documents are taken in doc_id order (a hash, so a deterministic pseudo-random order that does not
depend on partitioning) and their tokens concatenated until B tokens are reached; the last document is cut.
A group with fewer than B tokens gets null metrics and ``entropy_budget_met = false``, never a biased number.

entropy_bits = -sum_w p(w) log2 p(w) over the B tokens (Shannon, plug-in); ttr = distinct types / B.
"""
from __future__ import annotations

from typing import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.text import tokens_udf
from crawlaudit.validation import require_columns


def budget_token_counts(group_cols: list[str], budget: int) -> Callable[[DataFrame], DataFrame]:
    """Token counts of each group's budget sample: group_cols, token, count.

    Columns in: group_cols, doc_id, text, n_tokens. Only groups with at least ``budget`` tokens appear.
    The cut-off document of each group is found on narrow rows (group, doc_id, n_tokens); the texts are then
    filtered in place against a broadcast of one row per group, so no text is shuffled.
    """

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [*group_cols, S.DOC_ID, S.TEXT, S.N_TOKENS], "budget_token_counts")
        upto = Window.partitionBy(*group_cols).orderBy(S.DOC_ID).rowsBetween(Window.unboundedPreceding, 0)
        cutoffs = (
            docs.select(*group_cols, S.DOC_ID, S.N_TOKENS)
            .withColumn("_upto", F.sum(S.N_TOKENS).over(upto).cast("long"))
            .where(F.col("_upto") >= budget)
            .groupBy(*group_cols)
            .agg(F.min(F.struct(F.col(S.DOC_ID), (F.col("_upto") - F.col(S.N_TOKENS)).alias("before"))).alias("_cut"))
            .select(*group_cols, F.col("_cut.doc_id").alias("_cut_doc"), F.col("_cut.before").alias("_cut_before"))
        )
        selected = docs.select(*group_cols, S.DOC_ID, S.TEXT).join(F.broadcast(cutoffs), group_cols)
        selected = selected.where(F.col(S.DOC_ID) <= F.col("_cut_doc")).select(
            *group_cols,
            F.when(F.col(S.DOC_ID) == F.col("_cut_doc"), F.lit(budget) - F.col("_cut_before")).alias("_take"),
            S.TEXT,
        )
        tokens = selected.select(*group_cols, "_take", F.posexplode(tokens_udf(F.col(S.TEXT))).alias("_pos", "token"))
        return (
            tokens.where(F.col("_take").isNull() | (F.col("_pos") < F.col("_take")))
            .groupBy(*group_cols, "token")
            .agg(F.count(F.lit(1)).alias("count"))
        )

    return transform


def entropy_at_budget(group_cols: list[str], budget: int) -> Callable[[DataFrame], DataFrame]:
    """Per group: entropy_bits (double, bits), ttr (double), entropy_budget_tokens (int, = budget),
    entropy_budget_met (bool). Columns in: group_cols, doc_id, text, n_tokens."""

    def transform(docs: DataFrame) -> DataFrame:
        counts = docs.transform(budget_token_counts(group_cols, budget))
        c = F.col("count").cast("double")
        measured = counts.groupBy(*group_cols).agg(
            F.sum("count").alias("_n"),
            F.count(F.lit(1)).alias("_types"),
            F.sum(c * F.log2(c)).alias("_clogc"),
        )
        groups = docs.select(*group_cols).distinct()
        met = F.col("_n").isNotNull()
        return groups.join(measured, group_cols, "left").select(
            *group_cols,
            F.when(met, F.greatest(F.log2(F.col("_n")) - F.col("_clogc") / F.col("_n"), F.lit(0.0))).alias(S.ENTROPY_BITS),
            F.when(met, F.col("_types") / F.lit(float(budget))).alias(S.TTR),
            F.lit(budget).cast("int").alias(S.ENTROPY_BUDGET_TOKENS),
            met.alias(S.ENTROPY_BUDGET_MET),
        )

    return transform
