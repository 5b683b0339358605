"""Synthetic-share transforms on hand-made score rows: exact adjusted counts, low-n nulls, partition invariance,
the marker-excess projection, and the scoring pass."""
import dataclasses

import numpy as np
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.synthetic import estimates as synthetic
from crawlaudit.synthetic.detector import Calibration

CAL = Calibration(threshold=0.0, tpr=0.8, fpr=0.1, mean_p_ai=0.7, mean_p_human=0.2)
P, Q = (0.1, 0.3), (0.5, 0.1)
PARAMS = synthetic.EstimatorParams(CAL, P, Q, primary="acc", min_docs=30, replicates=100, seed=0)


def _scores(spark, groups):
    """groups: {domain: (n_docs, n_flagged)}; probabilities 0.7 for flagged, 0.2 otherwise."""
    rows = []
    for dom, (n, k) in groups.items():
        for i in range(n):
            flagged = i < k
            words = [0] if i < 0.2 * n else [1] if 0.5 * n <= i < 0.75 * n else []
            rows.append(("CC-MAIN-2024-22", dom, f"{dom}-{i:04d}", 0.7 if flagged else 0.2, flagged, i % 3 == 0,
                         words))
    return spark.createDataFrame(rows, f"{S.SNAPSHOT} string, {S.REGISTERED_DOMAIN} string, {S.DOC_ID} string, "
                                       f"{S.AI_PROB} double, {S.IS_AI_FLAGGED} boolean, {S.HAS_MARKER} boolean, "
                                       f"{S.REF_WORDS} array<int>")


def test_estimates_invert_the_rates_and_null_small_groups(spark):
    # a.com: 100 docs, 31 flagged → acc = (0.31 − 0.1) / 0.7 = 0.3; small.org: 10 docs → null, flagged low-n
    scored = _scores(spark, {"a.com": (100, 31), "small.org": (10, 5)})
    keys = [S.SNAPSHOT, S.REGISTERED_DOMAIN]
    rows = {r[S.REGISTERED_DOMAIN]: r for r in scored.transform(synthetic.synthetic_estimates(keys, PARAMS)).collect()}
    a = rows["a.com"]
    assert a[S.SYNTHETIC_ACC] == pytest.approx(0.3) and a[S.SYNTHETIC_RATIO] == a[S.SYNTHETIC_ACC]
    assert a[S.SYNTHETIC_CC] == pytest.approx(0.31)
    assert a[S.SYNTHETIC_PACC] == pytest.approx((0.31 * 0.7 + 0.69 * 0.2 - 0.2) / 0.5)
    assert a[S.SYNTHETIC_RATIO_LO] <= a[S.SYNTHETIC_RATIO] <= a[S.SYNTHETIC_RATIO_HI]
    assert a[S.SYNTHETIC_METHOD] == "acc" and a[S.N_DOCS_SCORED] == 100 and not a[S.SYNTHETIC_LOW_N]
    assert a[S.MARKER_DOC_FRAC] == pytest.approx(34 / 100)
    # occurrence shares (0.2, 0.25) = (1 − α)(0.1, 0.3) + α(0.5, 0.1) exactly at α = 0.25
    assert a[S.SYNTHETIC_MLE] == pytest.approx(0.25, abs=1e-6)
    small = rows["small.org"]
    assert small[S.SYNTHETIC_LOW_N] and small[S.SYNTHETIC_RATIO] is None and small[S.SYNTHETIC_ACC] is None
    assert small[S.N_DOCS_SCORED] == 10


def test_estimates_do_not_depend_on_partitioning(spark):
    scored = _scores(spark, {"a.com": (80, 20), "b.net": (60, 40), "c.org": (45, 5)})
    keys = [S.SNAPSHOT, S.REGISTERED_DOMAIN]
    one = scored.coalesce(1).transform(synthetic.synthetic_estimates(keys, PARAMS))
    many = scored.repartition(7, S.DOC_ID).transform(synthetic.synthetic_estimates(keys, PARAMS))
    assert_df_equality(one, many, ignore_row_order=True)


def test_marker_excess_projects_the_pre_llm_trend(spark):
    prior = spark.createDataFrame(
        [("a.com", 2019, 0.10), ("a.com", 2020, 0.12), ("a.com", 2021, 0.14), ("a.com", 2023, 0.9),
         ("b.net", 2020, 0.25)],
        f"{S.REGISTERED_DOMAIN} string, {S.YEAR} int, {S.MARKER_DOC_FRAC} double")
    stats = spark.createDataFrame(
        [("a.com", 2024, 0.30, None), ("b.net", 2024, 0.10, None), ("new.org", 2024, 0.5, None)],
        f"{S.REGISTERED_DOMAIN} string, {S.YEAR} int, {S.MARKER_DOC_FRAC} double, {S.MARKER_EXCESS_LB} double")
    out = {r[S.REGISTERED_DOMAIN]: r[S.MARKER_EXCESS_LB] for r in
           stats.transform(synthetic.with_marker_excess(prior, [S.REGISTERED_DOMAIN], 2023)).collect()}
    assert out["a.com"] == pytest.approx((0.30 - 0.20) / 0.80)   # line through 2019-2021 (2023 is after the cutoff)
    assert out["b.net"] == 0.0                                   # below its baseline: no excess
    assert out["new.org"] is None                                # no pre-LLM history
    pooled = stats.where(F.col(S.REGISTERED_DOMAIN) == "a.com").drop(S.REGISTERED_DOMAIN)
    lb = pooled.transform(synthetic.with_marker_excess(prior.drop(S.REGISTERED_DOMAIN), [], 2023)).first()
    # pooled baseline over every prior row before 2023: points (2019, .10), (2020, .12), (2020, .25), (2021, .14)
    years, fracs = np.array([2019, 2020, 2020, 2021]), np.array([0.10, 0.12, 0.25, 0.14])
    slope, icpt = np.polyfit(years, fracs, 1)
    expected = slope * 2024 + icpt
    assert lb[S.MARKER_EXCESS_LB] == pytest.approx((0.30 - expected) / (1 - expected))


def test_document_scores_pass(spark, tmp_path):
    from crawlaudit.devtools.corpus import CorpusSpec, labeled_texts
    from crawlaudit.synthetic.detector import FeatureSpec
    from crawlaudit.synthetic.labeled import LabeledSet
    from crawlaudit.synthetic.training import train_detector
    from crawlaudit.synthetic.vocabulary import build_reference

    rows = labeled_texts(24, CorpusSpec(n_domains=4, seed=2), seed=3)
    data = LabeledSet.from_rows(rows)
    det, _ = train_detector(data, FeatureSpec(word_bits=12, byte_bits=12), transfer=False)
    det.save(tmp_path)
    build_reference(data.texts, data.is_ai, min_docs=3).save(tmp_path / "reference.json")
    scorer = synthetic.Scorer.load(tmp_path)
    docs = spark.createDataFrame([(f"d{i}", t) for i, t in enumerate(data.texts[:20] + [None, ""])],
                                 f"{S.DOC_ID} string, {S.TEXT} string")
    out = {r[S.DOC_ID]: r for r in docs.transform(synthetic.document_scores(spark.sparkContext.broadcast(scorer))).collect()}
    assert len(out) == 22
    margins = det.margins(data.texts[:20])
    for i in range(20):
        r = out[f"d{i}"]
        assert r[S.AI_MARGIN] == pytest.approx(margins[i], rel=1e-6)
        assert r[S.IS_AI_FLAGGED] == (margins[i] >= det.calibration.threshold)
        assert 0 <= r[S.AI_PROB] <= 1
    assert out["d20"][S.REF_WORDS] == [] and out["d21"][S.HAS_MARKER] is False
    with pytest.raises(Exception, match="synthetic.model"):
        synthetic.Scorer.load(tmp_path / "missing")


def test_vintage_baseline_measures_the_human_side(spark):
    scores = spark.createDataFrame([([0, 2], 0.1, False), ([2], 0.9, True), ([], 0.2, False), ([2, 3], 0.4, False)],
                                   f"{S.REF_WORDS} array<int>, {S.AI_PROB} double, {S.IS_AI_FLAGGED} boolean")
    base = synthetic.vintage_baseline(scores, 5)
    assert base.n_docs == 4
    np.testing.assert_allclose(base.word_rates, np.array([1.5, 0.5, 3.5, 1.5, 0.5]) / 5.0)
    assert base.flagged_share == 0.25 and base.flagged_share_se == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    assert base.mean_prob == pytest.approx(0.4) and base.mean_prob_se == pytest.approx(np.std([0.1, 0.9, 0.2, 0.4]) / 2)


def test_without_a_model_every_group_gets_null_estimates(spark):
    from crawlaudit import audit

    flagged = _scores(spark, {"a.com": (5, 1), "b.net": (3, 0)}).select(S.SNAPSHOT, S.REGISTERED_DOMAIN, S.DOC_ID)
    rows = {r[S.REGISTERED_DOMAIN]: r for r in audit.synthetic_rows(
        flagged, None, [S.SNAPSHOT, S.REGISTERED_DOMAIN], None, None, 2023).collect()}
    assert set(rows) == {"a.com", "b.net"}
    for r in rows.values():
        assert r[S.N_DOCS_SCORED] == 0
        assert all(r[c] is None for c in S.SYNTHETIC_COLUMNS if c != S.N_DOCS_SCORED)


def _vintage(spark, groups):
    """groups: {domain: (n_docs, n_flagged, prob)}: vintage doc_scores rows."""
    rows = [(dom, prob, i < k, []) for dom, (n, k, prob) in groups.items() for i in range(n)]
    return spark.createDataFrame(rows, f"{S.REGISTERED_DOMAIN} string, {S.AI_PROB} double, "
                                       f"{S.IS_AI_FLAGGED} boolean, {S.REF_WORDS} array<int>")


def test_domain_baselines_shrink_toward_the_pool_and_fill_new_domains(spark):
    vintage = _vintage(spark, {"a.com": (100, 20, 0.4), "b.com": (100, 0, 0.1), "c.com": (2, 2, 0.9)})
    pooled = synthetic.vintage_baseline(vintage, 2)
    f0, p0 = 22 / 202, (100 * 0.4 + 100 * 0.1 + 2 * 0.9) / 202
    assert pooled.flagged_share == pytest.approx(f0) and pooled.mean_prob == pytest.approx(p0)
    fixed = synthetic.domain_baselines(vintage, pooled, prior_docs=50)
    rows = {r[S.REGISTERED_DOMAIN]: r for r in fixed.rows.collect()}
    a = rows["a.com"]
    assert a[synthetic.BASE_N] == 100
    assert a[synthetic.BASE_FPR] == pytest.approx((20 + 50 * f0) / 150)
    assert a[synthetic.BASE_FPR_VAR] == pytest.approx(a[synthetic.BASE_FPR] * (1 - a[synthetic.BASE_FPR]) / 150)
    assert a[synthetic.BASE_NEG] == pytest.approx((100 * 0.4 + 50 * p0) / 150)
    # two documents barely move the pooled value
    assert rows["c.com"][synthetic.BASE_FPR] == pytest.approx((2 + 50 * f0) / 52)
    # empirical Bayes: these domains disagree far beyond sampling error, so the pool weighs few documents
    eb = synthetic.domain_baselines(vintage, pooled)
    assert 1 < eb.prior_fpr < 50 and 0 < eb.prior_neg < 5
    # domains that agree within sampling error all take the pooled value (k capped at the pooled documents)
    same = _vintage(spark, {"x.com": (100, 10, 0.3), "y.com": (100, 10, 0.3)})
    agree = synthetic.domain_baselines(same, synthetic.vintage_baseline(same, 2))
    assert agree.prior_fpr == 200 and agree.prior_neg == 200
    assert synthetic._prior_strength(spread=0.02, sampling=0.01, within=0.09, cap=1e6) == pytest.approx(9.0)
    # the evaluation harness's in-memory twin gives the same baselines, fixed or empirical-Bayes k
    local = vintage.toPandas()
    for prior, spark_rows in ((50, fixed), (None, eb)):
        arrays = synthetic.domain_baseline_arrays(local[S.REGISTERED_DOMAIN].to_numpy(), local[S.AI_PROB].to_numpy(),
                                                  local[S.IS_AI_FLAGGED].to_numpy(), prior)
        for r in spark_rows.rows.collect():
            assert arrays[r[S.REGISTERED_DOMAIN]] == pytest.approx(
                (r[synthetic.BASE_FPR], r[synthetic.BASE_FPR_VAR], r[synthetic.BASE_NEG], r[synthetic.BASE_NEG_VAR]),
                rel=1e-9, abs=1e-12)
        assert arrays[None] == pytest.approx((f0, f0 * (1 - f0) / spark_rows.prior_fpr, p0,
                                              pooled.prob_sd ** 2 / spark_rows.prior_neg))

    # documents get their domain's baseline; a domain without vintage documents the pooled one, with the
    # between-domain variance (value·(1 − value)/k) as its uncertainty
    docs = spark.createDataFrame([("a.com", "1"), ("new.org", "2")], f"{S.REGISTERED_DOMAIN} string, {S.DOC_ID} string")
    out = {r[S.REGISTERED_DOMAIN]: r for r in docs.transform(synthetic.with_document_baselines(fixed)).collect()}
    assert out["a.com"][synthetic.BASE_FPR] == pytest.approx(a[synthetic.BASE_FPR])
    new = out["new.org"]
    assert new[synthetic.BASE_N] == 0 and new[synthetic.BASE_FPR] == pytest.approx(f0)
    assert new[synthetic.BASE_FPR_VAR] == pytest.approx(f0 * (1 - f0) / 50)


def test_each_domain_is_measured_against_its_own_vintage(spark):
    # a.com's pages were flagged at 0.3 before LLMs; b.com's at 0.0. Today both are flagged at their old rates:
    # human. A pooled baseline (0.15) would read a.com as AI and b.com as below zero.
    vintage = _vintage(spark, {"a.com": (400, 120, 0.5), "b.com": (400, 0, 0.1)})
    pooled = synthetic.vintage_baseline(vintage, 2)
    base = synthetic.domain_baselines(vintage, pooled, prior_docs=10)
    params = dataclasses.replace(PARAMS, baseline="vintage", baseline_n_docs=800,
                                 calibration=dataclasses.replace(CAL, fpr=pooled.flagged_share,
                                                                 mean_p_human=pooled.mean_prob))
    now = _scores(spark, {"a.com": (200, 60), "b.com": (200, 0)})
    keys = [S.SNAPSHOT, S.REGISTERED_DOMAIN]
    by_domain = {r[S.REGISTERED_DOMAIN]: r for r in now.transform(synthetic.with_document_baselines(base))
                 .transform(synthetic.synthetic_estimates(keys, params)).collect()}
    a, b = by_domain["a.com"], by_domain["b.com"]
    assert a[S.SYNTHETIC_ACC] == pytest.approx(0.0, abs=0.01) and b[S.SYNTHETIC_ACC] == 0.0
    assert a[S.SYNTHETIC_BASELINE] == "vintage-domain" and a[S.SYNTHETIC_BASELINE_N_DOCS] == 400
    pooled_rows = now.transform(synthetic.synthetic_estimates(keys, params)).collect()
    assert {r[S.REGISTERED_DOMAIN]: r[S.SYNTHETIC_ACC] for r in pooled_rows}["a.com"] > 0.2
    assert {r[S.SYNTHETIC_BASELINE] for r in pooled_rows} == {"vintage"}
    # the snapshot's pooled row averages its documents' own baselines: human as well
    snap = now.transform(synthetic.with_document_baselines(base)).transform(
        synthetic.synthetic_estimates([S.SNAPSHOT], params)).first()
    assert snap[S.SYNTHETIC_ACC] == pytest.approx(0.0, abs=0.01)
    assert snap[S.SYNTHETIC_BASELINE] == "vintage-domain" and snap[S.SYNTHETIC_BASELINE_N_DOCS] == 800
    # same numbers whatever the partitioning
    again = now.repartition(5, S.DOC_ID).transform(synthetic.with_document_baselines(base)).transform(
        synthetic.synthetic_estimates(keys, params))
    assert_df_equality(again, now.transform(synthetic.with_document_baselines(base)).transform(
        synthetic.synthetic_estimates(keys, params)), ignore_row_order=True)


def test_documents_without_usable_text_are_counted_apart(spark):
    from pathlib import Path

    from crawlaudit import audit
    from crawlaudit.config import SyntheticConfig
    from crawlaudit.synthetic.step import SyntheticStep

    model = Path(__file__).resolve().parents[1] / "conf" / "models" / "sample"
    step = SyntheticStep(spark, SyntheticConfig(model=str(model), min_doc_tokens=3), None)
    assert step.languages == ("eng",)
    words = "one two three four five six"
    docs = spark.createDataFrame(
        [("d1", words, 6, "eng"), ("d2", "", 0, "eng"), ("d3", "  \n ", 0, "eng"), ("d4", "two words", 2, "eng"),
         ("d5", words, 6, "deu"), ("d6", words, 6, "und"), ("d7", words, 6, None)],
        f"{S.DOC_ID} string, {S.TEXT} string, {S.N_TOKENS} long, {S.LANGUAGE} string")
    # only the model's languages are scored: a German, undetermined or language-less page is never human or AI
    assert sorted(r[S.DOC_ID] for r in step.score(docs).collect()) == ["d1"]
    # a domain whose documents were all unscorable: 0 scored, all counted apart, estimates null
    rows = spark.createDataFrame([("a.com", 5, 3), ("b.com", 4, None)],
                                 f"{S.REGISTERED_DOMAIN} string, {S.N_DOCS} long, {S.N_DOCS_SCORED} long")
    out = {r[S.REGISTERED_DOMAIN]: r for r in audit.with_unscored_count(rows).collect()}
    assert (out["a.com"][S.N_DOCS_SCORED], out["a.com"][S.N_DOCS_UNSCORED]) == (3, 2)
    assert (out["b.com"][S.N_DOCS_SCORED], out["b.com"][S.N_DOCS_UNSCORED]) == (0, 4)
