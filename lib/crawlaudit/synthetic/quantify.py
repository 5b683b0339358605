"""Estimating the AI-generated share α of a population of documents (quantification), with bootstrap intervals.

Counting flagged documents is biased: E[cc] = fpr + (tpr − fpr)·α, so a human-only crawl reads as ``fpr``.
- ``acc``: adjusted classify-and-count, α = (cc − fpr) / (tpr − fpr) (Forman 2008).
- ``pacc``: the same with mean calibrated probabilities instead of 0/1 flags (Bella et al. 2010); less variance.
- ``mixture_mle``: the documents' word occurrences as a mixture (1 − α)·P + α·Q of human and AI occurrence
  probabilities (Liang et al. 2024); α maximizes the likelihood of the observed occurrence counts of each reference
  word (a composite likelihood over words: consistent whatever the dependence between words, which the bootstrap
  over documents then accounts for).
- ``marker_excess_lower_bound``: Kobak et al.'s excess-vocabulary bound, see there.

Intervals: percentile Poisson bootstrap over documents (``resample_means``: chunked, so a snapshot of millions of
documents needs no more memory than a domain; seeded per group, documents in doc_id order, so results do not
depend on partitioning). For acc and pacc each replicate also draws the calibration constants from normals
with the detector's ``*_sd`` (sampling error of the validation data). The AI side (tpr, mean AI probability) of
a crawl's generators is unknown: when the detector measured it on K ≥ 3 generator families held out of its
training (``Calibration.unseen_*_shift``), the estimate assumes a family it never saw, centred on the median
held-out shift (robust to one family far harder than the rest, as GPT rewrites are once no OpenAI text is in
training; the mean let that one family bias every other), and each replicate draws the shift from the predictive
distribution of one more family, median + sd·√(1 + 1/K)·t(K − 1): few or disagreeing families give wide
intervals, as they should.
All estimates are clipped to [0, 1].
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from crawlaudit.synthetic.detector import Calibration

CONFIDENCE = 0.95
MIN_FAMILIES = 3    # held-out families needed for the predictive spread (t(1) has no variance to speak of)


@dataclass(frozen=True)
class Estimate:
    value: float
    lo: float
    hi: float


def group_seed(seed: int, *key: str) -> int:
    """A bootstrap seed from the config seed and a group key (snapshot, domain): stable across processes."""
    digest = hashlib.sha1("\x1f".join([str(seed), *key]).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass
class Resampled:
    """Means of per-document columns over the documents (``point``) and over each bootstrap resample (``boot``,
    one row per replicate), and each resample's size ``boot_n``."""

    n: int
    point: dict
    boot: dict
    boot_n: np.ndarray


def resample_means(columns: dict, replicates: int, rng: np.random.Generator, chunk: int = 20_000) -> Resampled:
    """Poisson bootstrap (each document drawn Poisson(1) times per replicate) of the columns' means: 1-D arrays, or
    sparse documents × words matrices. Documents are taken ``chunk`` at a time, so memory stays at
    replicates × chunk whatever the group's size; with the documents in a fixed order the result is deterministic."""
    n = next(iter(columns.values())).shape[0]
    sums = {k: 0.0 for k in columns}
    boot_n = np.zeros(replicates)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        w = rng.poisson(1.0, size=(replicates, hi - lo)).astype(np.float64)
        boot_n += w.sum(axis=1)
        for k, col in columns.items():
            part = col[lo:hi]
            sums[k] = sums[k] + (np.asarray(part.T @ w.T).T if sparse.issparse(part) else w @ np.asarray(part, dtype=np.float64))
    safe_n = np.maximum(boot_n, 1.0)
    point = {k: (np.asarray(col.mean(axis=0)).ravel() if sparse.issparse(col) else float(np.mean(col))) if n else np.nan
             for k, col in columns.items()}
    boot = {k: v / (safe_n[:, None] if np.ndim(v) == 2 else safe_n) for k, v in sums.items()}
    return Resampled(n, point, boot, boot_n)


def _interval(point: float, boot: np.ndarray) -> Estimate:
    tail = (1.0 - CONFIDENCE) / 2.0
    lo, hi = np.quantile(np.clip(boot, 0.0, 1.0), [tail, 1.0 - tail])
    value = float(np.clip(point, 0.0, 1.0))
    # a percentile interval of a skewed statistic can miss the estimate itself: widened to contain it, so that
    # lo <= estimate <= hi always holds (an expectation of the published tables)
    return Estimate(value, min(float(lo), value), max(float(hi), value))


def _adjusted(observed, pos, neg):
    gap = np.maximum(pos - neg, 1e-6)
    return (observed - neg) / gap


def classify_and_count(res: Resampled, column: str = "flag") -> Estimate:
    """The share of flagged documents: biased (E = fpr + (tpr − fpr)·α), reported for comparison only."""
    return _interval(res.point[column], res.boot[column])


def unseen_ai_side(value: float, sd: float, shifts: tuple[float, ...], b: int,
                   rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """An AI-side constant (tpr or mean AI probability) for generators outside the training families: its centre
    and ``b`` draws (see the module docstring), within [0, 1]. Without three family shifts: the value and normal
    draws of its sd (unclipped, as models trained before the family shifts were measured always had)."""
    noise = rng.normal(0.0, sd, b)
    if len(shifts) < MIN_FAMILIES:
        return value, value + noise
    s = np.asarray(shifts, dtype=np.float64)
    k = s.size
    centre = float(np.clip(value + np.median(s), 0.0, 1.0))
    spread = s.std(ddof=1) * np.sqrt(1.0 + 1.0 / k)
    return centre, np.clip(centre + spread * rng.standard_t(k - 1, b) + noise, 0.0, 1.0)


def _human_side(res: Resampled, column: str, value: float, sd: float, b: int, rng: np.random.Generator):
    """A human-side constant (fpr or mean human probability): ``value``, or, when ``res`` carries a per-document
    ``column`` (each document's own baseline, e.g. its domain's vintage rate), the mean over the documents and
    over each resample; plus normal draws of ``sd``."""
    if column in res.point:
        return res.point[column], res.boot[column] + rng.normal(0.0, sd, b)
    return value, value + rng.normal(0.0, sd, b)


def acc(res: Resampled, cal: Calibration, rng: np.random.Generator, column: str = "flag") -> Estimate:
    """Adjusted classify-and-count from the 0/1 ``flag`` column (margin ≥ threshold); a ``fpr`` column in ``res``
    gives each document's own false-positive rate."""
    b = res.boot_n.size
    tpr0, tpr = unseen_ai_side(cal.tpr, cal.tpr_sd, cal.unseen_tpr_shift, b, rng)
    fpr0, fpr = _human_side(res, "fpr", cal.fpr, cal.fpr_sd, b, rng)
    return _interval(_adjusted(res.point[column], tpr0, fpr0), _adjusted(res.boot[column], tpr, fpr))


def pacc(res: Resampled, cal: Calibration, rng: np.random.Generator, column: str = "prob") -> Estimate:
    """Probabilistic adjusted classify-and-count from the calibrated-probability column; a ``neg`` column in
    ``res`` gives each document's own mean human probability."""
    b = res.boot_n.size
    pos0, pos = unseen_ai_side(cal.mean_p_ai, cal.mean_p_ai_sd, cal.unseen_mean_p_ai_shift, b, rng)
    neg0, neg = _human_side(res, "neg", cal.mean_p_human, cal.mean_p_human_sd, b, rng)
    return _interval(_adjusted(res.point[column], pos0, neg0), _adjusted(res.boot[column], pos, neg))


def mixture_alpha(counts: np.ndarray, n_docs: np.ndarray, p: np.ndarray, q: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Maximum-likelihood α per row of ``counts`` (rows × words: documents containing each reference word, out of
    ``n_docs`` per row). The log-likelihood Σ_w k_w log m_w + (n − k_w) log(1 − m_w), m = (1 − α)p + αq, is concave
    in α, so its derivative is decreasing: bisection on [0, 1], vectorized over rows."""
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    n_docs = np.broadcast_to(np.asarray(n_docs, dtype=np.float64), (counts.shape[0],))[:, None]
    d = q - p

    def slope(alpha):
        m = p + alpha[:, None] * d
        return (d * (counts / m - (n_docs - counts) / (1.0 - m))).sum(axis=1)

    lo = np.zeros(counts.shape[0])
    hi = np.ones(counts.shape[0])
    for _ in range(iterations):
        mid = (lo + hi) / 2.0
        up = slope(mid) > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    alpha = (lo + hi) / 2.0
    alpha = np.where(slope(np.zeros_like(alpha)) <= 0, 0.0, alpha)
    return np.where(slope(np.ones_like(alpha)) >= 0, 1.0, alpha)


def mixture_mle(res: Resampled, p: np.ndarray, q: np.ndarray, column: str = "occ") -> Estimate:
    """α of the word-occurrence mixture, from the documents × reference-words occurrence column."""
    point = mixture_alpha(res.point[column] * res.n, np.array([res.n]), p, q)[0]
    boot = mixture_alpha(res.boot[column] * res.boot_n[:, None], res.boot_n, p, q)
    return _interval(point, boot)


def marker_excess_lower_bound(share: float | None, expected: float | None) -> float | None:
    """Kobak et al.: if documents written with an LLM contain a marker word with probability at most 1, the share
    of such documents is at least (observed − expected) / (1 − expected), where ``expected`` is the marker share
    projected from years before LLMs. Clipped at 0; None when either share is unknown."""
    if share is None or expected is None or np.isnan(share) or np.isnan(expected):
        return None
    if expected >= 1.0:
        return 0.0
    return float(max(0.0, (share - expected) / (1.0 - expected)))


def projected_share(years: np.ndarray, shares: np.ndarray, target_year: int) -> float | None:
    """Marker share expected in ``target_year`` from earlier years: a least-squares line through the per-year
    shares (the mean when there is one year), clipped to [0, 1]; None without data."""
    years = np.asarray(years, dtype=np.float64)
    shares = np.asarray(shares, dtype=np.float64)
    keep = ~np.isnan(shares)
    years, shares = years[keep], shares[keep]
    if years.size == 0:
        return None
    if np.unique(years).size == 1:
        return float(np.clip(shares.mean(), 0.0, 1.0))
    slope, intercept = np.polyfit(years, shares, 1)
    return float(np.clip(slope * target_year + intercept, 0.0, 1.0))
