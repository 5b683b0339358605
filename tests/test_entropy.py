"""Entropy and type-token ratio at a fixed budget, checked on closed forms."""
import math

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.metrics import entropy
from crawlaudit.metrics.text import tokenize

SCHEMA = "g string, doc_id string, text string, n_tokens int"


def docs_df(spark, rows):
    return spark.createDataFrame([(g, d, t, len(tokenize(t))) for g, d, t in rows], SCHEMA)


def words(k, prefix="w"):
    return " ".join(f"{prefix}{i}" for i in range(k))


def test_k_distinct_tokens_give_log2_k_and_one_repeated_token_gives_zero(spark):
    df = docs_df(spark, [
        ("distinct", "a", words(64)),
        ("distinct", "b", words(64, "v")),   # beyond the budget of 64: never read
        ("same", "a", "la " * 40), ("same", "b", "la " * 40),
        ("small", "a", words(10)),           # 10 tokens < 64: null and flag
    ])
    actual = df.transform(entropy.entropy_at_budget(["g"], 64)).select(
        "g", "entropy_bits", "ttr", "entropy_budget_tokens", "entropy_budget_met")
    expected = spark.createDataFrame(
        [("distinct", 6.0, 1.0, 64, True), ("same", 0.0, 1 / 64, 64, True), ("small", None, None, 64, False)],
        "g string, entropy_bits double, ttr double, entropy_budget_tokens int, entropy_budget_met boolean")
    assert_approx_df_equality(actual, expected, precision=1e-12, ignore_row_order=True, ignore_nullable=True)


def test_budget_cuts_the_last_document_and_follows_doc_id_order(spark):
    # doc "a" (4 tokens of x) comes first; the budget of 6 takes 2 tokens of "b": counts x:4, y:2.
    df = docs_df(spark, [("g", "b", "y y y y y y"), ("g", "a", "x x x x")])
    samples = df.transform(entropy.budget_token_samples(["g"], 6))
    expected = spark.createDataFrame([("g", "a", ["x"] * 4), ("g", "b", ["y"] * 2)],
                                     "g string, doc_id string, tokens array<string>")
    assert_df_equality(samples, expected, ignore_row_order=True, ignore_nullable=True)
    h = -(4 / 6 * math.log2(4 / 6) + 2 / 6 * math.log2(2 / 6))
    row = df.transform(entropy.entropy_at_budget(["g"], 6)).first()
    assert row.entropy_bits == pytest.approx(h, abs=1e-12) and row.ttr == pytest.approx(2 / 6)
    assert row.entropy_chao_shen_lo <= row.entropy_chao_shen_bits <= row.entropy_chao_shen_hi


def test_uniform_distribution_at_a_large_budget(spark):
    # 50 docs cycling over 256 types: every type appears equally often within the 12,800-token budget.
    text = words(256)
    df = docs_df(spark, [("u", f"d{i:03d}", text) for i in range(50)])
    row = df.transform(entropy.entropy_at_budget(["g"], 256 * 50)).first()
    assert row.entropy_bits == pytest.approx(8.0, abs=1e-9) and row.ttr == pytest.approx(256 / 12800)


def test_kept_samples_give_the_documents_numbers_and_a_group_without_one_reads_unmet(spark):
    """``sample_entropy`` on the budget samples a snapshot keeps (token_samples) gives what ``entropy_at_budget``
    gives on the documents, so language_stats draws its sample once; a group with too few tokens has no sample and
    reads null metrics, budget not met."""
    rows = [("g%d" % (i % 3), f"d{i:02d}", words(7 + i % 5, "t%d_" % (i % 4))) for i in range(40)]
    df = docs_df(spark, rows + [("short", "z", "one two")])
    direct = df.transform(entropy.entropy_at_budget(["g"], 50))
    samples = df.transform(entropy.budget_token_samples(["g"], 50)).localCheckpoint()
    assert sorted(r.g for r in samples.select("g").distinct().collect()) == ["g0", "g1", "g2"]
    kept = samples.transform(entropy.sample_entropy(["g"], 50, df.select("g").distinct()))
    assert_approx_df_equality(kept, direct, precision=1e-12, ignore_row_order=True)
    short = kept.where("g = 'short'").first()
    assert short.entropy_bits is None and short.entropy_budget_met is False


def test_result_does_not_depend_on_partitioning(spark):
    rows = [("g%d" % (i % 3), f"d{i:02d}", words(7 + i % 5, "t%d_" % (i % 4))) for i in range(40)]
    df = docs_df(spark, rows)
    a = df.repartition(1).transform(entropy.entropy_at_budget(["g"], 50))
    b = df.repartition(7).transform(entropy.entropy_at_budget(["g"], 50))
    assert_approx_df_equality(a, b, precision=1e-12, ignore_row_order=True)


def test_a_domain_is_measured_on_its_primary_language_only(spark):
    """A domain whose main language's pages all read the same word and whose second language's pages are all
    distinct words: 0 bits on the primary language, where the mixed sample would read above 5."""
    from crawlaudit.metrics import languages

    rows = [("mixed", f"a{i}", "la " * 20, "deu") for i in range(6)] + [
        ("mixed", f"b{i}", words(20, f"x{i}_"), "fra") for i in range(4)] + [
        ("und-only", "c0", words(30), "und"), ("tie", "d0", words(30), "spa"), ("tie", "d1", words(30, "v"), "eng"),
        ("tie", "d2", "1 2 3", "und")]
    df = spark.createDataFrame([(g, d, t, len(tokenize(t)), lang) for g, d, t, lang in rows],
                               SCHEMA + ", language string")
    primary = df.transform(languages.primary_languages(["g"], supported=("eng", "fra")))
    expected = spark.createDataFrame(
        [("mixed", "deu", 0.6, 2, 6, 0.6), ("und-only", "und", 1.0, 0, 1, 1.0), ("tie", "eng", 1 / 3, 2, 2, 2 / 3)],
        "g string, primary_language string, primary_language_share double, n_languages long, "
        "n_docs_unsupported long, synthetic_unsupported_frac double")
    assert_approx_df_equality(primary, expected, precision=1e-12, ignore_row_order=True, ignore_nullable=True)
    no_model = df.transform(languages.primary_languages(["g"])).collect()
    assert {(r.n_docs_unsupported, r.synthetic_unsupported_frac) for r in no_model} == {(None, None)}
    within = languages.primary_language_keys(primary, ["g"])
    got = {r.g: r for r in df.transform(entropy.entropy_at_budget(["g"], 30, within=within)).collect()}
    assert got["mixed"].entropy_bits == 0.0 and got["und-only"].entropy_bits == pytest.approx(math.log2(30))
    assert got["tie"].entropy_bits == pytest.approx(math.log2(30))     # the eng page only (v0..v29)
    mixed_all = df.where("g = 'mixed'").transform(entropy.budget_token_samples(["g"], 130)).collect()
    assert {r.doc_id[0] for r in mixed_all} == {"a", "b"}                # without ``within``: both languages
    assert set(got) == {"mixed", "und-only", "tie"}


def test_pooled_rows_weigh_the_languages_own_entropy_so_a_mix_shift_is_not_a_diversity_change(spark):
    """Two languages with fixed vocabularies (64 and 16 distinct words: 6 and 4 bits); from one year to the next
    the mix moves from 1:3 to 3:1. A sample pooled over languages reads the shift as a diversity change; the
    per-language figures stay at 6 and 4 bits and the document-weighted figure moves only with the weights."""
    from crawlaudit.metrics import languages

    def year(y, n_a, n_b):   # the majority language's pages come first in doc_id order
        a = [(words(64, "a"), "aaa")] * n_a
        b = [(words(16, "b") + " " + words(16, "b"), "bbb")] * n_b
        return [(y, f"{y}-{k:03d}", t, lang) for k, (t, lang) in enumerate(b + a if n_b > n_a else a + b)]

    rows = year("2021", 4, 12) + year("2022", 12, 4)
    df = spark.createDataFrame([(g, d, t, len(tokenize(t)), lang) for g, d, t, lang in rows],
                               SCHEMA + ", language string")
    per = df.transform(entropy.entropy_at_budget(["g", "language"], 128))
    got = {(r.g, r.language): r.entropy_bits for r in per.collect()}
    assert got == {("2021", "aaa"): 6.0, ("2022", "aaa"): 6.0, ("2021", "bbb"): 4.0, ("2022", "bbb"): 4.0}
    pooled = {r.g: r.entropy_bits for r in df.transform(entropy.entropy_at_budget(["g"], 128)).collect()}
    assert pooled["2021"] != pooled["2022"]                              # what a mixed sample would report
    counts = df.groupBy("g", "language").count().withColumnRenamed("count", "n_docs")
    weighted = {r.g: r for r in per.join(counts, ["g", "language"]).transform(
        languages.language_weighted(["g"])).collect()}
    assert weighted["2021"].entropy_bits == pytest.approx((4 * 6 + 12 * 4) / 16)
    assert weighted["2022"].entropy_bits == pytest.approx((12 * 6 + 4 * 4) / 16)
    assert weighted["2021"].entropy_pooling == "language-weighted" and weighted["2021"].entropy_budget_met
    # one language over the budget: its own values, bit for bit; none: null
    one = per.join(counts, ["g", "language"]).withColumn(
        "entropy_budget_met", (F.col("language") == "aaa") | (F.col("g") == "2022"))
    one = one.withColumn("entropy_budget_met", F.col("entropy_budget_met") & (F.col("g") == "2021"))
    out = {r.g: r for r in one.transform(languages.language_weighted(["g"])).collect()}
    assert (out["2021"].entropy_bits, out["2021"].entropy_pooling) == (6.0, "one-language")
    assert (out["2022"].entropy_bits, out["2022"].entropy_pooling, out["2022"].entropy_budget_met) == (
        None, None, False)


def test_year_language_rows_pool_each_language_over_the_years_snapshots(spark):
    """Two 2021 snapshots with language rows (eng, ell) and one audited before languages were recorded (its
    documents and sample count as und): year_language_stats sums each language's counts over the snapshots, takes
    its entropy from its own samples (64, 16 and 8 distinct words: 6, 4 and 3 bits) and its share of the year;
    year_stats weighs those figures by documents."""
    from crawlaudit import audit
    from crawlaudit.config import MetricsConfig

    summed = ["n_docs", "n_docs_detected", "n_tokens", "n_chars", "n_exact_dup_docs", "n_cross_snapshot_dup_docs",
              "n_near_dup_docs", "n_cross_snapshot_near_dup_docs", "n_lines", "n_dup_lines"]
    lang = [("CC-MAIN-2021-10", "eng", 30, 0, 3), ("CC-MAIN-2021-10", "ell", 10, 4, 1),
            ("CC-MAIN-2021-31", "eng", 20, 0, 2), ("CC-MAIN-2021-31", "ell", 20, 6, 0)]
    language_rows = spark.createDataFrame(
        [(s, code, n, det, 100 * n, 600 * n, dup, 0, dup, 0, 10 * n, dup) for s, code, n, det, dup in lang],
        "snapshot string, language string, " + ", ".join(f"{c} long" for c in summed))
    snap_cols = [c for c in summed if c != "n_docs_detected"]
    snapshot_rows = spark.createDataFrame(
        [("CC-MAIN-2021-10", 2021, 40, 100 * 40, 600 * 40, 4, 0, 4, 0, 400, 4, 10),
         ("CC-MAIN-2021-31", 2021, 40, 100 * 40, 600 * 40, 2, 0, 2, 0, 400, 2, 20),
         ("CC-MAIN-2021-43", 2021, 10, 100 * 10, 600 * 10, 1, 0, 1, 0, 100, 1, 10)],
        "snapshot string, year int, " + ", ".join(f"{c} long" for c in snap_cols) + ", n_docs_unsupported long")

    def sample(snapshot, code, vocab, prefix, n_docs):
        return [(snapshot, code, f"{snapshot}-{code}-{k}", words(vocab, prefix).split()) for k in range(n_docs)]

    samples = spark.createDataFrame(
        sample("CC-MAIN-2021-10", "eng", 64, "a", 2) + sample("CC-MAIN-2021-31", "eng", 64, "a", 2)
        + sample("CC-MAIN-2021-10", "ell", 16, "b", 4) + sample("CC-MAIN-2021-31", "ell", 16, "b", 4)
        + sample("CC-MAIN-2021-43", None, 8, "c", 16),
        "snapshot string, language string, doc_id string, tokens array<string>")
    metrics = MetricsConfig(snapshot_entropy_budget_tokens=128)
    null_synthetic = audit.year_synthetic_rows(language_rows, None, None, 2023, keys=["language"])
    rows = audit.year_language_stats(snapshot_rows, language_rows, samples, metrics, null_synthetic).localCheckpoint()
    got = {r.language: r for r in rows.collect()}
    assert set(got) == {"eng", "ell", "und"}
    assert {k: (r.year, r.n_snapshots, r.n_docs, r.n_docs_detected, r.n_exact_dup_docs) for k, r in got.items()} == {
        "eng": (2021, 2, 50, 0, 5), "ell": (2021, 2, 30, 10, 1), "und": (2021, 1, 10, 0, 1)}
    shares = {k: r.language_share for k, r in got.items()}
    assert shares == pytest.approx({"eng": 50 / 90, "ell": 30 / 90, "und": 10 / 90})
    assert got["eng"].exact_dup_frac == pytest.approx(5 / 50) and got["ell"].dup_line_frac == pytest.approx(1 / 300)
    assert {k: r.entropy_bits for k, r in got.items()} == {"eng": 6.0, "ell": 4.0, "und": 3.0}
    assert all(r.entropy_budget_met and r.n_docs_scored == 0 and r.synthetic_ratio is None for r in got.values())
    assert rows.columns == S.YEAR_LANGUAGE_STATS_COLUMNS
    (year,) = audit.year_stats(snapshot_rows, rows, metrics,
                               audit.year_synthetic_rows(snapshot_rows, None, None, 2023)).collect()
    assert (year.n_docs, year.n_snapshots, year.entropy_pooling) == (90, 3, "language-weighted")
    assert year.entropy_bits == pytest.approx((50 * 6 + 30 * 4 + 10 * 3) / 90, abs=1e-12)
