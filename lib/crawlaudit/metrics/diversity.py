"""Vocabulary diversity estimators on one token sample (pure numpy; no Spark, no IO).

Plug-in entropy and type counts grow with sample size, so crawlaudit measures every group on the same token
budget and corrects the entropy for the unseen tail:

- Miller–Madow: plug-in + (K − 1) / (2n) nats, K observed types, n tokens (Miller 1955).
- Chao–Shen: coverage-adjusted Horvitz–Thompson estimator, C = 1 − f1/n, p̂ = C·c/n,
  H = −Σ p̂ log p̂ / (1 − (1 − p̂)^n) (Chao & Shen 2003). Interval: percentile bootstrap over multinomial
  resamples of the counts, seeded per group.
- MATTR: mean type-token ratio over sliding windows of W tokens (Covington & McFall 2010).
- distinct-n: distinct n-grams / n-grams (Li et al. 2016).
- Conditional bigram entropy H(X₂ | X₁) = H(bigrams) − H(first tokens of the bigrams), plug-in, bits.
- Zipf exponent: discrete power-law maximum likelihood over frequency ranks [r_min, r_max] of the sample
  (ranks by observed frequency), P(r) ∝ r^−s normalized over that range.
- Heaps exponent: slope of log V(t) against log t, t on a geometric grid of prefix lengths.
- gzip ratio: compressed / raw bytes of the sample's tokens joined by spaces (lower = more repetitive).

All entropies are in bits.
"""
from __future__ import annotations

import gzip
import math

import numba
import numpy as np

LN2 = math.log(2.0)


def plugin_entropy(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of the empirical distribution of ``counts``."""
    c = np.asarray(counts, dtype=float)
    c = c[c > 0]
    n = c.sum()
    return float(math.log2(n) - (c * np.log2(c)).sum() / n)


def miller_madow_entropy(counts: np.ndarray) -> float:
    c = np.asarray(counts)
    c = c[c > 0]
    return plugin_entropy(c) + (len(c) - 1) / (2.0 * c.sum() * LN2)


def chao_shen_entropy(counts: np.ndarray) -> float:
    return float(chao_shen_entropy_rows(np.asarray(counts, dtype=float)[None, :])[0])


def chao_shen_entropy_rows(counts: np.ndarray) -> np.ndarray:
    """Chao–Shen entropy (bits) of each row of a 2-D array of counts (zeros allowed), vectorized.

    A type's term depends only on its count (and the row's n and coverage), so each row is summed over its
    distinct counts, weighted by how many types have them: a bootstrap's few hundred distinct counts instead of
    its thousands of types."""
    c = np.asarray(counts).astype(np.int64)
    n_rows = c.shape[0]
    n = c.sum(axis=1).astype(float)
    width = int(c.max(initial=0)) + 1
    types = np.bincount((np.arange(n_rows)[:, None] * width + c).ravel(), minlength=n_rows * width).reshape(
        n_rows, width)                                         # per row, the types with each count 0..max
    f1 = types[:, 1].astype(float) if width > 1 else np.zeros(n_rows)
    f1 = np.where(f1 >= n, n - 1, f1)  # all singletons: coverage would be 0
    coverage = 1.0 - f1 / n
    present = np.flatnonzero(types[:, 1:].any(axis=0)) + 1   # the counts some row has
    p = coverage[:, None] * present.astype(float)[None, :] / n[:, None]
    inclusion = 1.0 - (1.0 - p) ** n[:, None]
    return -(types[:, present] * (p * np.log2(p) / inclusion)).sum(axis=1)


def bootstrap_interval(counts: np.ndarray, estimator, replicates: int, seed: int, level: float = 0.95,
                       rows_estimator=None):
    """Bias-corrected percentile bootstrap interval of ``estimator`` over resamples of the tokens behind ``counts``.

    Resamples of the empirical distribution have no unseen types, so a coverage-corrected estimator reads
    lower on them than on the sample; the percentiles are shifted by that bootstrap bias (mean of the
    replicates minus the estimate), and the interval always contains the estimate. ``rows_estimator``, when
    given, computes the estimator on all replicates at once (a 2-D array of counts).
    """
    c = np.asarray(counts, dtype=float)
    c = c[c > 0]
    n = int(c.sum())
    rng = np.random.default_rng(seed)
    # resample the n tokens with replacement: each replicate's counts of the drawn tokens' types
    token_types = np.repeat(np.arange(len(c)), c.astype(np.int64))
    draws = _replicate_counts(token_types, rng.integers(0, n, size=(replicates, n)), len(c))
    values = rows_estimator(draws) if rows_estimator else np.array([estimator(d) for d in draws])
    estimate = estimator(c)
    bias = values.mean() - estimate
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, alpha) - bias, np.quantile(values, 1.0 - alpha) - bias
    return float(min(lo, estimate)), float(max(hi, estimate))


@numba.njit(cache=True, nogil=True)
def _replicate_counts(token_types, picks, n_types):
    """Replicates × types counts of the drawn tokens (``picks``: token indices per replicate), counted in place
    instead of through replicate-sized temporaries."""
    draws = np.zeros((picks.shape[0], n_types), dtype=np.int64)
    for r in range(picks.shape[0]):
        for i in range(picks.shape[1]):
            draws[r, token_types[picks[r, i]]] += 1
    return draws


def _previous_occurrence(ids: np.ndarray) -> np.ndarray:
    """For each position, the index of the previous occurrence of the same token (−1 for the first)."""
    order = np.argsort(ids, kind="stable")
    prev = np.full(len(ids), -1, dtype=np.int64)
    same = ids[order[1:]] == ids[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    return prev


def mattr(ids: np.ndarray, window: int = 500) -> float | None:
    """Mean type-token ratio over every window of ``window`` consecutive tokens; None when shorter.

    Vectorized: position j adds one distinct type to each window that contains it but not the token's
    previous occurrence, i.e. to window starts in [max(j − W + 1, prev(j) + 1), min(j, N − W)].
    """
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    if n < window:
        return None
    prev = _previous_occurrence(ids)
    j = np.arange(n)
    lo = np.maximum(j - window + 1, prev + 1)
    hi = np.minimum(j, n - window)
    ok = lo <= hi
    diff = np.zeros(n - window + 2, dtype=np.int64)
    np.add.at(diff, lo[ok], 1)
    np.add.at(diff, hi[ok] + 1, -1)
    distinct = np.cumsum(diff)[: n - window + 1]
    return float(distinct.mean() / window)


def distinct_n(ids: np.ndarray, n: int) -> float | None:
    """Distinct n-grams / n-grams; n-grams are encoded as base-K integers (K = largest id + 1)."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < n:
        return None
    base = int(ids.max()) + 1
    if n * math.log2(max(base, 2)) > 62:  # would overflow int64: compare rows instead
        grams = np.stack([ids[i: len(ids) - n + 1 + i] for i in range(n)], axis=1)
        return len(np.unique(grams, axis=0)) / len(grams)
    code = np.zeros(len(ids) - n + 1, dtype=np.int64)
    for i in range(n):
        code = code * base + ids[i: len(ids) - n + 1 + i]
    return len(np.unique(code)) / len(code)


def conditional_bigram_entropy(ids: np.ndarray) -> float | None:
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        return None
    pairs = ids[:-1] * (int(ids.max()) + 1) + ids[1:]
    _, pair_counts = np.unique(pairs, return_counts=True)
    _, first_counts = np.unique(ids[:-1], return_counts=True)
    return plugin_entropy(pair_counts) - plugin_entropy(first_counts)


def zipf_exponent(counts: np.ndarray, r_min: int = 1, r_max: int = 1000) -> float | None:
    """MLE of s for P(r) ∝ r^−s over observed-frequency ranks r_min..r_max (fewer if fewer types)."""
    c = np.sort(np.asarray(counts, dtype=float)[np.asarray(counts) > 0])[::-1]
    hi = min(r_max, len(c))
    if hi - r_min + 1 < 10:
        return None
    ranks = np.arange(r_min, hi + 1, dtype=float)
    freq = c[r_min - 1: hi]
    log_r = np.log(ranks)
    weighted = (freq * log_r).sum()
    n = freq.sum()

    def neg_ll(s):
        return s * weighted + n * math.log(np.exp(-s * log_r).sum())

    lo, hi_s = 0.01, 6.0  # golden-section search: the log-likelihood is concave in s
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi_s
    x1, x2 = b - g * (b - a), a + g * (b - a)
    f1, f2 = neg_ll(x1), neg_ll(x2)
    for _ in range(80):
        if f1 < f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - g * (b - a)
            f1 = neg_ll(x1)
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + g * (b - a)
            f2 = neg_ll(x2)
    return (a + b) / 2


def heaps_exponent(ids: np.ndarray, points: int = 20, start: int = 100) -> float | None:
    ids = np.asarray(ids)
    if len(ids) < 4 * start:
        return None
    ts = np.unique(np.geomspace(start, len(ids), points).astype(int))
    vocab = np.cumsum(_previous_occurrence(np.asarray(ids, dtype=np.int64)) < 0)
    slope, _ = np.polyfit(np.log(ts), np.log(vocab[ts - 1]), 1)
    return float(slope)


def gzip_ratio(tokens: list[str]) -> float | None:
    raw = " ".join(tokens).encode("utf-8")
    if not raw:
        return None
    return len(gzip.compress(raw, compresslevel=6, mtime=0)) / len(raw)


def tail_mass(counts: np.ndarray, rank: int = 100) -> float:
    """Share of tokens whose type is below the ``rank`` most frequent types (the tail that collapse erodes)."""
    c = np.sort(np.asarray(counts, dtype=float))[::-1]
    return float(c[rank:].sum() / c.sum()) if c.sum() else 0.0
