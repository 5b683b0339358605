"""Diversity estimators on closed-form distributions (numpy only)."""
import math

import numpy as np
import pytest

from crawlaudit.metrics import diversity as D


def zipf_sample(s, V, n, seed):
    p = 1.0 / np.arange(1, V + 1) ** s
    p /= p.sum()
    return np.random.default_rng(seed).choice(V, size=n, p=p), p


def test_chao_shen_on_uniform_is_within_one_percent_of_log2_v():
    V = 1000
    counts = np.bincount(np.random.default_rng(0).integers(V, size=20 * V), minlength=V)
    assert D.chao_shen_entropy(counts) == pytest.approx(math.log2(V), rel=0.01)


@pytest.mark.parametrize("s", [0.9, 1.1, 1.4])
def test_zipf_exponent_recovered_within_0_05(s):
    ids, _ = zipf_sample(s, 20_000, 200_000, seed=1)
    assert D.zipf_exponent(np.bincount(ids), 1, 1000) == pytest.approx(s, abs=0.05)


def test_corrected_entropy_is_stable_across_budgets_while_plug_in_drifts():
    """One Zipf(1.0) distribution over 2,000 types, budgets of 5,000 and 50,000 tokens (mean of 5 draws)."""
    def mean_estimates(budget):
        vals = []
        for seed in range(5):
            ids, _ = zipf_sample(1.0, 2000, budget, seed=100 + seed)
            c = np.bincount(ids)
            vals.append((D.plugin_entropy(c), D.chao_shen_entropy(c)))
        return np.mean(vals, axis=0)

    (plug_small, cs_small), (plug_big, cs_big) = mean_estimates(5_000), mean_estimates(50_000)
    assert abs(cs_small - cs_big) / cs_big < 0.02
    assert abs(plug_small - plug_big) / plug_big > 0.03  # the plug-in value drifts with sample size
    assert abs(plug_small - plug_big) > 2 * abs(cs_small - cs_big)


def test_entropy_closed_forms_and_miller_madow_term():
    assert D.plugin_entropy(np.array([5, 5, 5, 5])) == pytest.approx(2.0)
    assert D.plugin_entropy(np.array([9])) == 0.0
    assert D.miller_madow_entropy(np.array([5, 5, 5, 5])) == pytest.approx(2.0 + 3 / (2 * 20 * math.log(2)))


def test_bootstrap_interval_contains_estimate_and_is_deterministic():
    ids, _ = zipf_sample(1.1, 5000, 10_000, seed=3)
    c = np.bincount(ids)
    lo, hi = D.bootstrap_interval(c, D.chao_shen_entropy, 100, seed=7)
    assert lo <= D.chao_shen_entropy(c) <= hi and hi - lo < 0.5
    assert (lo, hi) == D.bootstrap_interval(c, D.chao_shen_entropy, 100, seed=7)


def test_mattr_matches_the_definition():
    ids = np.random.default_rng(4).integers(50, size=700)
    slow = np.mean([len(set(ids[i:i + 100])) / 100 for i in range(len(ids) - 99)])
    assert D.mattr(ids, 100) == pytest.approx(slow, abs=1e-12)
    assert D.mattr(np.array([1, 2, 3, 1, 2, 3]), 3) == 1.0 and D.mattr(np.array([1, 1]), 3) is None


def test_distinct_n_and_conditional_bigram_entropy():
    ids = np.array([0, 1, 0, 1, 0, 1])
    assert D.distinct_n(ids, 1) == pytest.approx(2 / 6) and D.distinct_n(ids, 2) == pytest.approx(2 / 5)
    assert D.conditional_bigram_entropy(ids) == pytest.approx(0.0, abs=1e-12)  # the next token is determined
    iid = np.random.default_rng(5).integers(4, size=200_000)
    assert D.conditional_bigram_entropy(iid) == pytest.approx(2.0, abs=0.01)  # independent: H(X2|X1) = H(X)


def test_heaps_exponent_of_uniform_draws_and_of_all_new_tokens():
    assert D.heaps_exponent(np.arange(5000)) == pytest.approx(1.0, abs=1e-9)
    ids, _ = zipf_sample(1.1, 50_000, 50_000, seed=6)
    assert 0.4 < D.heaps_exponent(ids) < 0.9


def test_tail_mass_and_gzip_ratio():
    assert D.tail_mass(np.array([50, 30, 10, 10]), rank=2) == pytest.approx(0.2)
    assert D.gzip_ratio(["la"] * 1000) < 0.05 < D.gzip_ratio([f"w{i}" for i in range(1000)])


def test_vectorized_chao_shen_equals_the_row_by_row_value():
    rng = np.random.default_rng(8)
    draws = rng.multinomial(3000, np.full(400, 1 / 400), size=5)
    assert np.allclose(D.chao_shen_entropy_rows(draws), [D.chao_shen_entropy(d[d > 0]) for d in draws], atol=1e-12)
    c = np.bincount(rng.integers(300, size=5000))
    assert D.bootstrap_interval(c, D.chao_shen_entropy, 50, 3) == pytest.approx(
        D.bootstrap_interval(c, D.chao_shen_entropy, 50, 3, rows_estimator=D.chao_shen_entropy_rows), abs=1e-9)
