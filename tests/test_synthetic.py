"""Synthetic-share transforms on hand-made score rows: exact adjusted counts, low-n nulls, partition invariance,
the marker-excess projection, and the scoring pass."""
import numpy as np
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit import synthetic
from crawlaudit.detector import Calibration

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
    from crawlaudit.corpus import CorpusSpec, labeled_texts
    from crawlaudit.detector import FeatureSpec
    from crawlaudit.labeled import LabeledSet
    from crawlaudit.training import train_detector
    from crawlaudit.vocabulary import build_reference

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
