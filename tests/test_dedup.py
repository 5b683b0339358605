"""Exact and cross-snapshot duplication on hand-made DataFrames (expected values computed on paper)."""
import pytest
from chispa import assert_approx_df_equality, assert_df_equality

from crawlaudit.metrics import dedup
from crawlaudit.quality.validation import MissingColumnsError

DOCS = [  # snapshot, registered_domain, doc_id, content_hash, url, n_tokens, n_chars
    ("CC-MAIN-2024-22", "a.com", "d1", "h1", "https://a.com/1", 10, 50),
    ("CC-MAIN-2024-22", "a.com", "d2", "h1", "https://a.com/2", 10, 52),   # copy of d1
    ("CC-MAIN-2024-22", "a.com", "d3", "h2", "https://a.com/3", 5, 20),
    ("CC-MAIN-2024-22", "a.com", "d4", None, "https://a.com/4", 0, 3),     # nothing left after normalization
    ("CC-MAIN-2024-22", "b.com", "d5", "h2", "https://b.com/1", 5, 20),    # syndicated from a.com
    ("CC-MAIN-2024-22", "b.com", "d6", "h0", "https://b.com/2", 7, 30),    # seen in 2019
    ("CC-MAIN-2024-22", "b.com", "d7", None, "https://b.com/3", 0, 2),
]
SCHEMA = "snapshot string, registered_domain string, doc_id string, content_hash string, url string, n_tokens int, n_chars int"


@pytest.fixture()
def docs(spark):
    return spark.createDataFrame(DOCS, SCHEMA)


@pytest.fixture()
def prior(spark):
    return spark.createDataFrame(
        [("h0", "CC-MAIN-2019-35"), ("h2", "CC-MAIN-2024-22"), ("h9", "CC-MAIN-2025-05")],
        "content_hash string, first_snapshot string")


def test_exact_dup_flag_counts_every_copy_across_domains_but_never_null_hashes(spark, docs):
    actual = docs.transform(dedup.with_exact_dup_flag).select("doc_id", "is_exact_dup")
    expected = spark.createDataFrame(
        [("d1", True), ("d2", True), ("d3", True), ("d4", False), ("d5", True), ("d6", False), ("d7", False)],
        "doc_id string, is_exact_dup boolean")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_cross_snapshot_flag_only_for_hashes_first_seen_earlier(spark, docs, prior):
    actual = docs.transform(dedup.with_cross_snapshot_flag(prior)).select("doc_id", "is_cross_snapshot_dup")
    expected = spark.createDataFrame(
        [("d1", False), ("d2", False), ("d3", False), ("d4", False), ("d5", False), ("d6", True), ("d7", False)],
        "doc_id string, is_cross_snapshot_dup boolean")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_duplication_stats_per_domain(spark, docs, prior):
    flagged = docs.transform(dedup.with_exact_dup_flag).transform(dedup.with_cross_snapshot_flag(prior))
    actual = flagged.transform(dedup.duplication_stats(["snapshot", "registered_domain"]))
    expected = spark.createDataFrame(
        [("CC-MAIN-2024-22", "a.com", 4, 25, 125, 3, 0, 3 / 4, 0.0),
         ("CC-MAIN-2024-22", "b.com", 3, 12, 52, 1, 1, 1 / 3, 1 / 3)],
        "snapshot string, registered_domain string, n_docs long, n_tokens long, n_chars long, "
        "n_exact_dup_docs long, n_cross_snapshot_dup_docs long, exact_dup_frac double, cross_snapshot_dup_frac double")
    assert_approx_df_equality(actual.select(*expected.columns), expected, precision=1e-12,
                              ignore_row_order=True, ignore_nullable=True)


def test_duplication_stats_do_not_depend_on_partitioning(spark, docs, prior):
    def run(df):
        return (df.transform(dedup.with_exact_dup_flag).transform(dedup.with_cross_snapshot_flag(prior))
                .transform(dedup.duplication_stats(["registered_domain"])))

    assert_df_equality(run(docs.repartition(1)), run(docs.repartition(7)), ignore_row_order=True)


def test_first_seen_hashes_pick_earliest_snapshot_then_smallest_url(spark, docs):
    more = docs.unionByName(spark.createDataFrame(
        [("CC-MAIN-2019-35", "c.com", "d8", "h1", "https://c.com/z", 1, 1)], SCHEMA))
    actual = dedup.first_seen_hashes(more)
    expected = spark.createDataFrame(
        [("h0", "CC-MAIN-2024-22", "https://b.com/2"), ("h1", "CC-MAIN-2019-35", "https://c.com/z"),
         ("h2", "CC-MAIN-2024-22", "https://a.com/3")],
        "content_hash string, first_snapshot string, first_url string")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_missing_columns_are_named(spark):
    with pytest.raises(MissingColumnsError, match=r"missing columns \['content_hash'\]"):
        dedup.with_exact_dup_flag(spark.createDataFrame([("s",)], "snapshot string"))
