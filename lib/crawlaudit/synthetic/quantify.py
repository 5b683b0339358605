"""Estimating the AI-generated share α of a population of documents (quantification), with bootstrap intervals.

Counting flagged documents is biased: E[cc] = fpr + (tpr − fpr)·α, so a human-only crawl reads as ``fpr``.
- ``acc``: adjusted classify-and-count, α = (cc − fpr) / (tpr − fpr) (Forman 2008).
- ``pacc``: the same with mean calibrated probabilities instead of 0/1 flags (Bella et al. 2010); less variance.
- ``mixture_mle``: the documents' word occurrences as a mixture (1 − α)·P + α·Q of human and AI occurrence
  probabilities (Liang et al. 2024); α maximizes the likelihood of the observed occurrence counts of each reference
  word (a composite likelihood over words: consistent whatever the dependence between words, which the bootstrap
  over documents then accounts for).
- ``marker_excess_lower_bound``: Kobak et al.'s excess-vocabulary bound, see there.

Intervals: percentile Poisson bootstrap over documents. In the audit each document's weight in replicate b is a
Poisson(1) draw from a hash of (seed, doc_id, b) (``hashed_poisson_sums``), and every resampled quantity is an
exact integer sum (probabilities in fixed point, ``FIXED_POINT``): a group's replicates are sums of any split of its
documents, in any order, so a snapshot is resampled as partial sums per Spark partition with the same result as
in one process, whatever the partitioning (``synthetic.pooled``). ``resample_means`` (numpy draws, chunked) serves
the evaluation harness. For acc and pacc each replicate also draws the calibration constants from normals
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
from fractions import Fraction
from math import factorial

import numba
import numpy as np
from scipy import sparse

from crawlaudit.metrics.minhash import _GOLDEN, _fnv_bytes, _mix, utf8_buffers
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


FIXED_POINT = float(1 << 32)   # probabilities summed as integers of 2^-32: exact, order-free sums
SUMMED = ("n", "flag", "prob", "marker", "fpr", "neg")   # the value columns of ``hashed_poisson_sums``, in order
SCALES = np.array([1.0, 1.0, FIXED_POINT, 1.0, FIXED_POINT, FIXED_POINT])


def _poisson_thresholds(top: int = 24) -> np.ndarray:
    """⌊2^53 · P(Poisson(1) ≤ k)⌋ for k < top (the last 2^53: no weight above top − 1), from exact rationals, so
    every platform draws the same weights."""
    e_inv = sum(Fraction((-1) ** j, factorial(j)) for j in range(40))     # e^-1 to ≈ 1e-48
    cdf, out = Fraction(0), []
    for k in range(top):
        cdf += e_inv / factorial(k)
        out.append(int(cdf * (1 << 53)))
    out[-1] = 1 << 53
    return np.array(out, dtype=np.uint64)


POISSON_THRESHOLDS = _poisson_thresholds()


def to_fixed_point(x) -> np.ndarray:
    """Probabilities in [0, 1] as int64 multiples of 2^-32, rounded half up (x·2^32 is exact in float64; Spark's
    ``floor(x * 2^32 + 0.5)`` gives the same integers)."""
    return np.floor(np.asarray(x, dtype=np.float64) * FIXED_POINT + 0.5).astype(np.int64)


@numba.njit(cache=True, nogil=True)
def _hashed_poisson_sums(buf, bounds, seed, values, word_bounds, words, n_words, replicates, thresholds):
    n, c = values.shape
    boot = np.zeros((c + n_words, replicates + 1), dtype=np.int64)   # last column: every weight 1 (the point)
    w = np.empty(replicates, dtype=np.int64)
    s = _mix(np.uint64(seed) ^ np.uint64(_GOLDEN))
    for d in range(n):
        h = _mix(_fnv_bytes(np.uint64(0xCBF29CE484222325), buf, bounds[d], bounds[d + 1] - bounds[d]) ^ s)
        for b in range(replicates):
            u = _mix(h + np.uint64(b + 1) * np.uint64(_GOLDEN)) >> np.uint64(11)
            k = 0
            while u >= thresholds[k]:
                k += 1
            w[b] = k
        for j in range(c):
            v = values[d, j]
            if v != 0:
                for b in range(replicates):
                    boot[j, b] += w[b] * v
                boot[j, replicates] += v
        for p in range(word_bounds[d], word_bounds[d + 1]):
            t = c + words[p]
            for b in range(replicates):
                boot[t, b] += w[b]
            boot[t, replicates] += 1
    return boot


def hashed_poisson_sums(doc_ids: list[str], values: np.ndarray, word_bounds: np.ndarray, words: np.ndarray,
                        n_words: int, replicates: int, seed: int) -> np.ndarray:
    """Integer sums over documents of each ``values`` column (int64, documents × ``SUMMED``) and of each reference
    word's occurrences (document d's word indices: ``words[word_bounds[d]:word_bounds[d + 1]]``), weighted by each
    document's Poisson(1) weight in every replicate, drawn from a hash of (seed, doc_id, replicate): an int64 array
    (columns + n_words) × (replicates + 1), the last column unweighted. Sums of two sets of documents add up."""
    buf, bounds = utf8_buffers(doc_ids)
    return _hashed_poisson_sums(buf, bounds, np.uint64(seed & 0xFFFFFFFFFFFFFFFF), np.ascontiguousarray(values, np.int64),
                                np.asarray(word_bounds, np.int64), np.asarray(words, np.int64), n_words, replicates,
                                POISSON_THRESHOLDS)


def resampled_from_sums(sums: np.ndarray, columns: tuple[str, ...]) -> "Resampled":
    """The ``Resampled`` means of ``hashed_poisson_sums`` output (summed over any split of a group's documents):
    ``columns`` of ``SUMMED`` (besides n) and the word occurrences as "occ"."""
    c = len(SUMMED)
    boot_n = sums[0, :-1].astype(np.float64)
    n = int(sums[0, -1])
    safe_n = np.maximum(boot_n, 1.0)
    point, boot = {}, {}
    for name in columns:
        j = SUMMED.index(name)
        point[name] = sums[j, -1] / SCALES[j] / n
        boot[name] = sums[j, :-1] / SCALES[j] / safe_n
    point["occ"] = sums[c:, -1] / n
    boot["occ"] = (sums[c:, :-1] / safe_n).T
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


@numba.njit(cache=True, nogil=True, inline="always")
def _mixture_slope(counts, n, p, d, alpha):
    """The log-likelihood's first and second derivatives in α at ``alpha`` (one row)."""
    g = h = 0.0
    for w in range(p.size):
        m = p[w] + alpha * d[w]
        k = counts[w]
        a, b = k / m, (n - k) / (1.0 - m)
        g += d[w] * (a - b)
        h -= d[w] * d[w] * (a / m + b / (1.0 - m))
    return g, h


@numba.njit(cache=True, nogil=True)
def _mixture_alpha_rows(counts, n_docs, p, q, tol):
    d = q - p
    out = np.empty(counts.shape[0])
    for r in range(counts.shape[0]):
        row, n = counts[r], n_docs[r]
        if _mixture_slope(row, n, p, d, 0.0)[0] <= 0.0:
            out[r] = 0.0
            continue
        if _mixture_slope(row, n, p, d, 1.0)[0] >= 0.0:
            out[r] = 1.0
            continue
        lo, hi, alpha = 0.0, 1.0, 0.5
        for _ in range(200):
            g, h = _mixture_slope(row, n, p, d, alpha)
            if g > 0.0:
                lo = alpha
            else:
                hi = alpha
            nxt = alpha - g / h if h < 0.0 else 0.5 * (lo + hi)
            if not lo < nxt < hi:
                nxt = 0.5 * (lo + hi)
            done = abs(nxt - alpha) < tol or hi - lo < tol
            alpha = nxt
            if done:
                break
        out[r] = alpha
    return out


def mixture_alpha(counts: np.ndarray, n_docs: np.ndarray, p: np.ndarray, q: np.ndarray, tol: float = 1e-13) -> np.ndarray:
    """Maximum-likelihood α per row of ``counts`` (rows × words: documents containing each reference word, out of
    ``n_docs`` per row). The log-likelihood Σ_w k_w log m_w + (n − k_w) log(1 − m_w), m = (1 − α)p + αq, is concave
    in α, so its derivative is decreasing: 0 or 1 where it does not change sign on [0, 1], else its root by Newton
    steps kept inside the bracket (bisection where a step would leave it), compiled, to ``tol``."""
    counts = np.ascontiguousarray(np.atleast_2d(np.asarray(counts, dtype=np.float64)))
    n_docs = np.ascontiguousarray(np.broadcast_to(np.asarray(n_docs, dtype=np.float64), (counts.shape[0],)))
    return _mixture_alpha_rows(counts, n_docs, np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64), tol)


def mixture_mle(res: Resampled, p: np.ndarray, q: np.ndarray, column: str = "occ") -> Estimate:
    """α of the word-occurrence mixture, from the documents × reference-words occurrence column."""
    boot = mixture_alpha(res.boot[column] * res.boot_n[:, None], res.boot_n, p, q)
    return _interval(mixture_mle_value(res, p, q, column), boot)


def mixture_mle_value(res: Resampled, p: np.ndarray, q: np.ndarray, column: str = "occ") -> float:
    """``mixture_mle(...).value`` without its replicates (one fit per replicate over every reference word): for
    when the interval is not wanted."""
    return float(np.clip(mixture_alpha(res.point[column] * res.n, np.array([res.n]), p, q)[0], 0.0, 1.0))


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
