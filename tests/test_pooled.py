"""The pooled (snapshot, year) estimates as Spark aggregations: hashed Poisson weights with closed-form moments,
exact additivity of partial sums, the same numbers as one process and whatever the partitioning."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality
from scipy import stats

from crawlaudit import schemas as S
from crawlaudit.synthetic import estimates as synthetic
from crawlaudit.synthetic import quantify as Q
from crawlaudit.synthetic.detector import Calibration
from crawlaudit.synthetic.pooled import pooled_estimates

CAL = Calibration(threshold=0.5, tpr=0.8, fpr=0.1, mean_p_ai=0.7, mean_p_human=0.2, tpr_sd=0.02, fpr_sd=0.01,
                  mean_p_ai_sd=0.02, mean_p_human_sd=0.01)
N_WORDS = 12
P = tuple(np.linspace(0.05, 0.4, N_WORDS))
Q_AI = tuple(np.linspace(0.4, 0.05, N_WORDS))
PARAMS = synthetic.EstimatorParams(CAL, P, Q_AI, primary="pacc", min_docs=30, replicates=150, seed=11)   # distributed at any size


def test_hashed_poisson_weights_have_poisson_moments_and_add_up():
    np.testing.assert_allclose(Q.POISSON_THRESHOLDS[:10] / 2.0 ** 53, stats.poisson.cdf(np.arange(10), 1.0),
                               atol=1e-15)
    n, r = 20_000, 200
    ids = [f"d{i}" for i in range(n)]
    values = np.zeros((n, len(Q.SUMMED)), dtype=np.int64)
    values[:, 0] = 1
    bounds = np.arange(n + 1, dtype=np.int64)        # document i holds word i % 3
    words = np.arange(n, dtype=np.int64) % 3
    sums = Q.hashed_poisson_sums(ids, values, bounds, words, 3, r, seed=5)
    boot_n = sums[0, :-1]
    assert sums[0, -1] == n and sums[len(Q.SUMMED) + 1, -1] == np.sum(words == 1)
    # Σ of n Poisson(1) weights: mean n, sd √n (here 141), per replicate
    assert abs(boot_n.mean() - n) < 4 * np.sqrt(n / r) and 0.8 < boot_n.std() / np.sqrt(n) < 1.2
    # the same documents in two parts (any split, any order) sum to the same integers
    order = np.random.default_rng(0).permutation(n)
    a, b = order[:7000], order[7000:]

    def part(idx):
        return Q.hashed_poisson_sums([ids[i] for i in idx], values[idx], np.arange(idx.size + 1), words[idx], 3, r, 5)

    np.testing.assert_array_equal(part(a) + part(b), sums)
    assert not np.array_equal(Q.hashed_poisson_sums(ids, values, bounds, words, 3, r, seed=6), sums)


def _frame(n=3000, seed=3, domains=("a.com", "b.org", "c.net", "d.io")):
    rng = np.random.default_rng(seed)
    prob = rng.beta(1.2, 3.0, n)
    words = [sorted(rng.choice(N_WORDS, rng.integers(0, 6), replace=False).tolist()) for _ in range(n)]
    return pd.DataFrame({S.SNAPSHOT: "CC-MAIN-2024-22", S.REGISTERED_DOMAIN: rng.choice(domains, n),
                         S.DOC_ID: [f"{i:06d}" for i in range(n)], S.AI_PROB: prob, S.IS_AI_FLAGGED: prob >= 0.5,
                         S.HAS_MARKER: rng.random(n) < 0.1, S.REF_WORDS: words})


def _spark_frame(spark, pdf):
    return spark.createDataFrame(pdf, f"{S.SNAPSHOT} string, {S.REGISTERED_DOMAIN} string, {S.DOC_ID} string, "
                                      f"{S.AI_PROB} double, {S.IS_AI_FLAGGED} boolean, {S.HAS_MARKER} boolean, "
                                      f"{S.REF_WORDS} array<int>")


def test_pooled_equals_one_process_and_ignores_partitioning(spark):
    pdf = _frame()
    scored = _spark_frame(spark, pdf)
    keys = [S.SNAPSHOT]
    two = scored.repartition(2).transform(pooled_estimates(keys, PARAMS))
    sixteen = scored.repartition(16, S.DOC_ID).transform(pooled_estimates(keys, PARAMS))
    assert_df_equality(two, sixteen)
    row = two.first().asDict()
    # one process (the per-group path) on the same documents: the same row, interval ends included
    local = synthetic.estimate_group(pdf, ("CC-MAIN-2024-22",), PARAMS)
    assert {k: row[k] for k in local} == local
    # point estimates against the closed forms, to 1e-9
    flags, probs = pdf[S.IS_AI_FLAGGED].mean(), pdf[S.AI_PROB].mean()
    assert row[S.N_DOCS_SCORED] == len(pdf) and row[S.MARKER_DOC_FRAC] == pytest.approx(pdf[S.HAS_MARKER].mean())
    assert row[S.SYNTHETIC_CC] == pytest.approx(flags, abs=1e-9)
    assert row[S.SYNTHETIC_ACC] == pytest.approx(np.clip((flags - 0.1) / 0.7, 0, 1), abs=1e-9)
    assert row[S.SYNTHETIC_PACC] == pytest.approx(np.clip((probs - 0.2) / 0.5, 0, 1), abs=1e-9)
    counts = np.zeros(N_WORDS)
    for w in pdf[S.REF_WORDS]:
        counts[w] += 1
    mle = Q.mixture_alpha(counts, np.array([len(pdf)]), np.asarray(P), np.asarray(Q_AI))[0]
    assert row[S.SYNTHETIC_MLE] == pytest.approx(mle, abs=1e-9)
    assert row[S.SYNTHETIC_RATIO_LO] < row[S.SYNTHETIC_RATIO] < row[S.SYNTHETIC_RATIO_HI]


def test_pooled_rows_average_the_documents_own_baselines(spark):
    pdf = _frame(n=2400, seed=4)
    scored = _spark_frame(spark, pdf)
    vintage = _spark_frame(spark, _frame(n=1600, seed=5, domains=("a.com", "b.org", "z.com"))).drop(S.SNAPSHOT)
    pooled_base = synthetic.vintage_baseline(vintage, N_WORDS)
    domains = synthetic.domain_baselines(vintage, pooled_base, prior_docs=50)
    params = dataclasses.replace(PARAMS, baseline="vintage", baseline_n_docs=pooled_base.n_docs)
    with_base = scored.transform(synthetic.with_document_baselines(domains))
    keys = [S.SNAPSHOT]
    row = with_base.repartition(3).transform(pooled_estimates(keys, params)).first().asDict()
    again = with_base.repartition(11).transform(pooled_estimates(keys, params)).first().asDict()
    assert row == again
    local = synthetic.estimate_group(with_base.toPandas(), ("CC-MAIN-2024-22",), params)
    assert row[S.SYNTHETIC_BASELINE] == local[S.SYNTHETIC_BASELINE] == "vintage-domain"
    assert row[S.SYNTHETIC_BASELINE_N_DOCS] == 1600
    for k, v in local.items():   # the human side's sd sums over domains in another order: equal to rounding
        assert row[k] == (pytest.approx(v, abs=1e-12) if isinstance(v, float) else v), k
    # the human side is the documents' own: their domains' mean probability, not the labeled 0.2
    expected_neg = with_base.toPandas()[synthetic.BASE_NEG].mean()
    assert row[S.SYNTHETIC_PACC] == pytest.approx(
        np.clip((pdf[S.AI_PROB].mean() - expected_neg) / (0.7 - expected_neg), 0, 1), abs=1e-9)


def test_small_pooled_groups_get_null_estimates(spark):
    scored = _spark_frame(spark, _frame(n=20))
    row = scored.transform(pooled_estimates([S.SNAPSHOT], PARAMS)).first()
    assert row[S.SYNTHETIC_LOW_N] and row[S.N_DOCS_SCORED] == 20 and row[S.SYNTHETIC_RATIO] is None


def test_the_word_mixture_is_fitted_on_replicates_only_when_it_is_the_primary():
    """The secondary synthetic_mle is the point fit alone, the same number as when mle is the primary estimator."""
    pdf = _frame(400)
    by_pacc = synthetic.estimate_group(pdf, ("k",), PARAMS)
    by_mle = synthetic.estimate_group(pdf, ("k",), dataclasses.replace(PARAMS, primary="mle"))
    assert 0.0 < by_pacc[S.SYNTHETIC_MLE] == by_mle[S.SYNTHETIC_MLE] == by_mle[S.SYNTHETIC_RATIO] < 1.0
    assert by_mle[S.SYNTHETIC_RATIO_LO] < by_mle[S.SYNTHETIC_RATIO] < by_mle[S.SYNTHETIC_RATIO_HI]
    assert by_pacc[S.SYNTHETIC_RATIO] == by_pacc[S.SYNTHETIC_PACC]
    for column in (S.SYNTHETIC_CC, S.SYNTHETIC_ACC, S.SYNTHETIC_PACC, S.N_DOCS_SCORED, S.MARKER_DOC_FRAC):
        assert by_pacc[column] == by_mle[column]
