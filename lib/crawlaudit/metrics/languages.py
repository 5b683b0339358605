"""Languages of a group of documents (pure DataFrame transforms): which one is primary, its share, how many, and
a pooled group's diversity from its languages' own.

A group's primary language is its most frequent known language (``ingest.language``; ``und`` only when no
document of the group has a known one), ties broken by the smaller code so that the answer does not depend on
partitioning; most domains write in one language, and per-domain measures that mix languages (the vocabulary
entropy) are taken on the primary language's documents. Pooled rows (a snapshot, a year) weigh their languages'
own entropy and diversity by documents (``language_weighted``) instead of measuring one sample of every language.
"""
from __future__ import annotations

from typing import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.ingest.language import UNDETERMINED
from crawlaudit.metrics.sums import exact_sum
from crawlaudit.quality.validation import require_columns


def primary_languages(group_cols: list[str], supported: tuple[str, ...] | None = None
                      ) -> Callable[[DataFrame], DataFrame]:
    """Per group: primary_language, primary_language_share (its documents / the group's), n_languages (distinct
    known languages, ``und`` not counted), n_docs_unsupported and synthetic_unsupported_frac (documents in
    languages outside ``supported``, the detector's: never scored; null without a detector).
    Columns in: group_cols, language."""

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [*group_cols, S.LANGUAGE], "primary_languages")
        known = F.col(S.LANGUAGE) != F.lit(UNDETERMINED)
        counts = docs.groupBy(*group_cols, S.LANGUAGE).agg(F.count(F.lit(1)).alias("_n"))
        rank = Window.partitionBy(*group_cols).orderBy(known.desc(), F.col("_n").desc(), F.col(S.LANGUAGE))
        group = Window.partitionBy(*group_cols)
        if supported is None:
            unsupported = F.lit(None).cast("long")
        else:
            outside = F.col(S.LANGUAGE).isNull() | ~F.col(S.LANGUAGE).isin(*supported)
            unsupported = F.sum(F.when(outside, F.col("_n")).otherwise(F.lit(0))).over(group).cast("long")
        return (
            counts.withColumn("_rank", F.row_number().over(rank))
            .withColumn("_total", F.sum("_n").over(group))
            .withColumn(S.N_LANGUAGES, F.sum(known.cast("long")).over(group))
            .withColumn(S.N_DOCS_UNSUPPORTED, unsupported)
            .where(F.col("_rank") == 1)
            .select(*group_cols, F.col(S.LANGUAGE).alias(S.PRIMARY_LANGUAGE),
                    (F.col("_n") / F.col("_total")).alias(S.PRIMARY_LANGUAGE_SHARE), S.N_LANGUAGES,
                    S.N_DOCS_UNSUPPORTED, (F.col(S.N_DOCS_UNSUPPORTED) / F.col("_total")).alias(
                        S.SYNTHETIC_UNSUPPORTED_FRAC))
        )

    return transform


POOLING_ONE, POOLING_WEIGHTED = "one-language", "language-weighted"


def language_weighted(group_cols: list[str]) -> Callable[[DataFrame], DataFrame]:
    """A pooled group's entropy and diversity from its languages' own (``entropy.entropy_at_budget`` per group and
    language): group_cols, ``DIVERSITY_COLUMNS``, entropy_budget_met, entropy_pooling. Over the languages that met
    the budget, each metric is their mean weighted by documents (the interval ends too: a conservative interval);
    one such language: its values as they are (``one-language``); none: null. A sample pooled over languages
    would read a shift of the language mix as a change of diversity that no text had.

    Columns in: group_cols, language, n_docs, ``DIVERSITY_COLUMNS``, entropy_budget_met. Sums are exact (decimal),
    so the result does not depend on the order of the rows."""
    from crawlaudit.metrics.entropy import DIVERSITY_COLUMNS

    def transform(rows: DataFrame) -> DataFrame:
        require_columns(rows, [*group_cols, S.LANGUAGE, S.N_DOCS, *DIVERSITY_COLUMNS, S.ENTROPY_BUDGET_MET],
                        "language_weighted")
        met = rows.where(F.col(S.ENTROPY_BUDGET_MET))
        n = F.col(S.N_DOCS).cast("double")
        agg = met.groupBy(*group_cols).agg(
            F.count(F.lit(1)).alias("_n_languages"), F.sum(S.N_DOCS).cast("double").alias("_n"),
            *[exact_sum(n * F.col(c)).alias(f"_w_{c}") for c in DIVERSITY_COLUMNS],
            *[F.max(c).alias(f"_one_{c}") for c in DIVERSITY_COLUMNS])
        one = F.col("_n_languages") == 1
        return rows.select(*group_cols).distinct().join(agg, group_cols, "left").select(
            *group_cols,
            *[F.when(one, F.col(f"_one_{c}")).otherwise(F.col(f"_w_{c}") / F.col("_n")).alias(c)
              for c in DIVERSITY_COLUMNS],
            F.col("_n_languages").isNotNull().alias(S.ENTROPY_BUDGET_MET),
            F.when(one, F.lit(POOLING_ONE)).when(F.col("_n_languages") > 1, F.lit(POOLING_WEIGHTED))
            .alias(S.ENTROPY_POOLING))

    return transform


def primary_language_keys(primary: DataFrame, group_cols: list[str]) -> DataFrame:
    """(group_cols, language) of each group's primary language: what ``entropy.entropy_at_budget(within=...)``
    restricts a group's sample to."""
    return primary.select(*group_cols, F.col(S.PRIMARY_LANGUAGE).alias(S.LANGUAGE))
