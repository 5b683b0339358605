"""Quantifiers on closed-form populations: exact rates give exact α; simulated mixtures give covering intervals."""
import hashlib

import numpy as np
import pytest
from scipy import sparse

from crawlaudit.synthetic import quantify as Q
from crawlaudit.synthetic.detector import Calibration

CAL = Calibration(threshold=0.0, tpr=0.8, fpr=0.1, mean_p_ai=0.7, mean_p_human=0.2)


def _res(seed=0, b=300, **columns):
    return Q.resample_means(columns, b, np.random.default_rng(seed))


def test_acc_inverts_the_expected_count_exactly():
    # 1000 documents, 300 AI: 240 AI flagged (tpr 0.8), 70 of 700 human flagged (fpr 0.1)
    flags = np.r_[np.ones(240), np.zeros(60), np.ones(70), np.zeros(630)]
    est = Q.acc(_res(flag=flags), CAL, np.random.default_rng(1))
    assert est.value == pytest.approx(0.3)
    assert est.lo < 0.3 < est.hi
    # classify-and-count would have said 0.31; an all-human sample flagged at exactly fpr reads 0
    human = np.r_[np.ones(100), np.zeros(900)]
    assert Q.acc(_res(flag=human), CAL, np.random.default_rng(1)).value == pytest.approx(0.0)
    assert Q.classify_and_count(_res(flag=human)).value == pytest.approx(0.1)


def test_pacc_inverts_mean_probability_and_clips():
    probs = np.r_[np.full(200, 0.7), np.full(800, 0.2)]
    assert Q.pacc(_res(prob=probs), CAL, np.random.default_rng(2)).value == pytest.approx(0.2)
    assert Q.pacc(_res(prob=np.full(50, 0.05)), CAL, np.random.default_rng(2)).value == 0.0
    assert Q.pacc(_res(prob=np.full(50, 0.95)), CAL, np.random.default_rng(2)).value == 1.0


def _mixture(n, alpha, p, q, rng):
    k = int(round(alpha * n))
    occ = np.vstack([rng.random((k, p.size)) < q, rng.random((n - k, p.size)) < p])
    return sparse.csr_matrix(occ.astype(float)), k / n


def test_mixture_alpha_recovers_alpha_from_expected_counts():
    rng = np.random.default_rng(3)
    p, q = rng.uniform(0.01, 0.3, 300), rng.uniform(0.01, 0.3, 300)
    for alpha in (0.0, 0.2, 0.55, 1.0):
        counts = 10_000 * ((1 - alpha) * p + alpha * q)
        assert Q.mixture_alpha(counts, np.array([10_000]), p, q)[0] == pytest.approx(alpha, abs=1e-6)


def test_simulated_intervals_cover_at_the_nominal_rate():
    rng = np.random.default_rng(4)
    p, q = rng.uniform(0.02, 0.2, 150), rng.uniform(0.02, 0.2, 150)
    cover_mle, cover_acc, errors = [], [], []
    for i in range(120):
        alpha = (0.05, 0.25, 0.5)[i % 3]
        occ, truth = _mixture(400, alpha, p, q, rng)
        est = Q.mixture_mle(_res(i, 200, occ=occ), p, q)
        cover_mle.append(est.lo <= truth <= est.hi)
        errors.append(est.value - truth)
        is_ai = np.arange(400) < round(alpha * 400)
        flags = np.where(is_ai, rng.random(400) < CAL.tpr, rng.random(400) < CAL.fpr)
        a = Q.acc(_res(i, 200, flag=flags), CAL, rng)
        cover_acc.append(a.lo <= truth <= a.hi)
    assert abs(np.mean(errors)) < 0.01
    assert np.mean(cover_mle) >= 0.88
    assert np.mean(cover_acc) >= 0.88


def test_calibration_uncertainty_widens_the_interval():
    flags = np.r_[np.ones(240), np.zeros(60), np.ones(70), np.zeros(630)]
    narrow = Q.acc(_res(flag=flags), CAL, np.random.default_rng(5))
    wide = Q.acc(_res(flag=flags), Calibration(0.0, 0.8, 0.1, 0.7, 0.2, tpr_sd=0.1), np.random.default_rng(5))
    assert (wide.hi - wide.lo) > 1.5 * (narrow.hi - narrow.lo)


def test_marker_excess_and_projection():
    assert Q.marker_excess_lower_bound(0.3, 0.1) == pytest.approx(0.2 / 0.9)
    assert Q.marker_excess_lower_bound(0.05, 0.1) == 0.0
    assert Q.marker_excess_lower_bound(None, 0.1) is None
    assert Q.projected_share(np.array([2019, 2020, 2021]), np.array([0.10, 0.12, 0.14]), 2024) == pytest.approx(0.20)
    assert Q.projected_share(np.array([2021]), np.array([0.3]), 2024) == pytest.approx(0.3)
    assert Q.projected_share(np.array([]), np.array([]), 2024) is None


def test_group_seed_is_stable():
    assert Q.group_seed(0, "CC-MAIN-2024-22", "example.com") == Q.group_seed(0, "CC-MAIN-2024-22", "example.com")
    assert Q.group_seed(0, "CC-MAIN-2024-22", "example.com") != Q.group_seed(1, "CC-MAIN-2024-22", "example.com")
    assert Q.group_seed(0, "a", "b") == int.from_bytes(hashlib.sha1(b"0\x1fa\x1fb").digest()[:8], "big")


def test_chunked_resampling_matches_its_point_and_scales():
    rng = np.random.default_rng(6)
    x = rng.random(5000)
    occ = sparse.csr_matrix((rng.random((5000, 7)) < 0.3).astype(float))
    res = Q.resample_means({"x": x, "occ": occ}, 100, np.random.default_rng(7), chunk=1000)
    assert res.point["x"] == pytest.approx(x.mean())
    np.testing.assert_allclose(res.point["occ"], occ.mean(axis=0).A1)
    assert res.boot["x"].shape == (100,) and res.boot["occ"].shape == (100, 7)
    # bootstrap sd of a mean ≈ sd / sqrt(n)
    assert res.boot["x"].std() == pytest.approx(x.std() / np.sqrt(5000), rel=0.25)
    again = Q.resample_means({"x": x, "occ": occ}, 100, np.random.default_rng(7), chunk=1000)
    np.testing.assert_array_equal(again.boot["x"], res.boot["x"])


def test_unseen_family_spread_makes_intervals_cover_new_generators():
    # Each trial: a detector whose seen families average mean AI probability 0.93; four held-out families measured
    # at N(0.85, 0.06) (their shifts stored), and the crawl's generator one more draw from the same distribution.
    rng = np.random.default_rng(11)
    seen, n, alpha = 0.93, 500, 0.3
    cover_family, cover_seen, errors = [], [], []
    for trial in range(150):
        shifts = tuple(rng.normal(0.85, 0.06, 4) - seen)
        pos = float(np.clip(rng.normal(0.85, 0.06), 0.5, 1.0))
        k = int(alpha * n)
        probs = np.clip(np.r_[rng.normal(pos, 0.05, k), rng.normal(0.2, 0.05, n - k)], 0, 1)
        cal = Calibration(0.0, 0.9, 0.05, seen, 0.2, unseen_mean_p_ai_shift=shifts, unseen_tpr_shift=shifts)
        est = Q.pacc(_res(trial, 200, prob=probs), cal, rng)
        cover_family.append(est.lo <= alpha <= est.hi)
        errors.append(est.value - alpha)
        legacy = Q.pacc(_res(trial, 200, prob=probs), Calibration(0.0, 0.9, 0.05, seen, 0.2), rng)
        cover_seen.append(legacy.lo <= alpha <= legacy.hi)
    assert np.mean(cover_family) >= 0.9
    assert np.mean(cover_seen) < 0.6          # the seen families' rate alone claims a precision it does not have
    assert abs(np.mean(errors)) < 0.02        # centred on the held-out families, not on the seen ones


def test_unseen_ai_side_needs_three_families():
    rng = np.random.default_rng(3)
    value, draws = Q.unseen_ai_side(0.9, 0.01, (-0.1, 0.0), 1000, rng)
    assert value == 0.9 and abs(draws.mean() - 0.9) < 0.002          # two families: the sd only, as before
    value, draws = Q.unseen_ai_side(0.9, 0.0, (-0.02, 0.0, -0.01), 40000, rng)
    assert value == pytest.approx(0.89)
    # t(2) scaled by sd(shifts)·√(1 + 1/3) = 0.01·1.1547: its 97.5% quantile is 4.303
    assert np.quantile(draws, 0.975) == pytest.approx(0.89 + 4.303 * 0.01 * np.sqrt(4 / 3), abs=0.003)
    assert np.median(draws) == pytest.approx(0.89, abs=0.001)
    _, wide = Q.unseen_ai_side(0.9, 0.0, (-0.3, 0.0, -0.15), 1000, rng)
    assert wide.max() <= 1.0 and wide.min() >= 0.0
