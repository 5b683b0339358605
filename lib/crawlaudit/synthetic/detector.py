"""The AI-text detector: hashed word and byte n-gram features, a linear model, Platt-calibrated probabilities.

Features: word 1–3-grams (tokens ``\\w+`` or one punctuation mark) and UTF-8 byte 1–5-grams of the lower-cased text, each hashed
into its own block of ``2^bits`` buckets, sublinear tf × idf, each block L2-normalized. Hashing is our own
(64-bit FNV-1a and splitmix64, compiled with numba): stable across processes, and ≈ 20× faster than
scikit-learn's ``HashingVectorizer(analyzer="char")`` — the detector scores every document of a crawl.

The artifact is two files, no pickle: ``model.npz`` (weights, idf, Platt constants, as float32) and ``model.json``
(feature spec, training summary, and the calibration the quantifiers need: threshold, tpr, fpr, mean calibrated
probability per class, and their standard deviations including the transfer to unseen generators and domains).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numba
import numpy as np
import regex
from scipy import sparse
from scipy.special import expit

from crawlaudit.metrics.minhash import _mix, ngram_hashes, token_hashes

WORD_RE = regex.compile(r"\w+|[^\w\s]")
FORMAT_VERSION = 1


def _tuples(d: dict) -> dict:
    """JSON lists back to the tuples the frozen dataclasses hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


@dataclass(frozen=True)
class FeatureSpec:
    word_ngrams: tuple[int, int] = (1, 3)
    byte_ngrams: tuple[int, int] = (1, 5)
    word_bits: int = 18
    byte_bits: int = 18
    max_chars: int = 20_000       # a document is scored on its first max_chars characters
    lowercase: bool = True        # web pages come in upper case too (headlines, shouting copies)

    @property
    def n_features(self) -> int:
        return (1 << self.word_bits) + (1 << self.byte_bits)


@numba.njit(cache=True, nogil=True)
def _byte_ngram_buckets(buf, bounds, n_min, n_max, mask):
    """(doc index, bucket) of every byte n-gram, n in [n_min, n_max], of each document's bytes."""
    n_docs = bounds.size - 1
    total = 0
    for d in range(n_docs):
        size = bounds[d + 1] - bounds[d]
        for n in range(n_min, n_max + 1):
            if size >= n:
                total += size - n + 1
    rows = np.empty(total, dtype=np.int32)
    cols = np.empty(total, dtype=np.int64)
    k = 0
    for d in range(n_docs):
        end = bounds[d + 1]
        for i in range(bounds[d], end):
            h = np.uint64(0xCBF29CE484222325)
            for n in range(1, n_max + 1):
                if i + n > end:
                    break
                h = (h ^ np.uint64(buf[i + n - 1])) * np.uint64(0x100000001B3)
                if n >= n_min:
                    rows[k] = d
                    cols[k] = np.int64(_mix(h ^ np.uint64(n)) & np.uint64(mask))
                    k += 1
    return rows, cols


@numba.njit(cache=True, nogil=True)
def _count_rows(rows, cols, n_docs, width):
    """CSR (indptr, indices, counts) from (row, col) pairs whose rows are non-decreasing: per row, counts in a
    dense scratch array; columns in first-seen order (CSR allows unsorted indices; 10x faster than scipy's
    COO → CSR)."""
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    indices = np.empty(cols.size, dtype=np.int32)
    counts = np.empty(cols.size, dtype=np.float32)
    scratch = np.zeros(width, dtype=np.float32)
    touched = np.empty(cols.size, dtype=np.int64)
    k = 0
    start = 0
    for d in range(n_docs):
        end = start
        n_touched = 0
        while end < rows.size and rows[end] == d:
            c = cols[end]
            if scratch[c] == 0:
                touched[n_touched] = c
                n_touched += 1
            scratch[c] += 1
            end += 1
        for i in range(n_touched):
            c = touched[i]
            indices[k] = c
            counts[k] = scratch[c]
            scratch[c] = 0
            k += 1
        indptr[d + 1] = k
        start = end
    return indptr, indices[:k], counts[:k]


def _tf_matrix(rows: np.ndarray, cols: np.ndarray, n_docs: int, width: int) -> sparse.csr_matrix:
    if rows.size and np.any(rows[1:] < rows[:-1]):
        order = np.argsort(rows, kind="stable")
        rows, cols = rows[order], cols[order]
    indptr, indices, counts = _count_rows(rows, cols, n_docs, width)
    m = sparse.csr_matrix((counts, indices, indptr), shape=(n_docs, width))
    m.has_sorted_indices = False
    return m


def _word_pairs(texts: list[str], spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, bucket) of every word n-gram, grouped by n."""
    docs = [WORD_RE.findall(t) for t in texts]
    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    hashes = token_hashes([tok for d in docs for tok in d])
    mask = np.uint64((1 << spec.word_bits) - 1)
    rows, cols = [], []
    for n in range(spec.word_ngrams[0], spec.word_ngrams[1] + 1):
        grams, bounds = ngram_hashes(hashes, lengths, n, False)
        rows.append(np.repeat(np.arange(len(texts), dtype=np.int32), np.diff(bounds)))
        cols.append((grams & mask).astype(np.int64))
    return np.concatenate(rows), np.concatenate(cols)


def _word_counts(texts: list[str], spec: FeatureSpec) -> sparse.csr_matrix:
    rows, cols = _word_pairs(texts, spec)
    return _tf_matrix(rows, cols, len(texts), 1 << spec.word_bits)


def _utf8(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [t.encode("utf-8") for t in texts]
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    bounds[1:] = np.cumsum([len(b) for b in encoded])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if bounds[-1] else np.zeros(0, dtype=np.uint8)
    return buf, bounds


def _byte_counts(texts: list[str], spec: FeatureSpec) -> sparse.csr_matrix:
    buf, bounds = _utf8(texts)
    rows, cols = _byte_ngram_buckets(buf, bounds, spec.byte_ngrams[0], spec.byte_ngrams[1], (1 << spec.byte_bits) - 1)
    return _tf_matrix(rows, cols, len(texts), 1 << spec.byte_bits)


def _l2_rows(m: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags((1.0 / norms).astype(np.float32)) @ m


def _clean(texts: list[str | None], spec: FeatureSpec) -> list[str]:
    """First max_chars characters, white space collapsed to single spaces (page layout is not style), NUL
    dropped, lower-cased unless the spec says otherwise."""
    out = [" ".join((t or "")[: spec.max_chars].replace("\x00", "").split()) for t in texts]
    return [t.lower() for t in out] if spec.lowercase else out


def term_counts(texts: list[str | None], spec: FeatureSpec) -> sparse.csr_matrix:
    """Raw hashed counts, word block then byte block (n_docs × spec.n_features)."""
    clean = _clean(texts, spec)
    return sparse.hstack([_word_counts(clean, spec), _byte_counts(clean, spec)], format="csr")


def fit_idf(counts: sparse.csr_matrix) -> np.ndarray:
    """Smooth idf, ln((1 + n) / (1 + df)) + 1, as scikit-learn's TfidfTransformer."""
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0).astype(np.float32)


def _weighted_block(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear tf × idf, rows L2-normalized, on the CSR arrays directly."""
    data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    row_len = np.diff(counts.indptr)
    sq = np.zeros(counts.shape[0])
    nonempty = row_len > 0
    sq[nonempty] = np.add.reduceat(data.astype(np.float64) ** 2, counts.indptr[:-1][nonempty])
    norms = np.sqrt(sq)
    norms[norms == 0] = 1.0
    data = data / np.repeat(norms, row_len)
    return sparse.csr_matrix((data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape)


def weighted(counts: sparse.csr_matrix, idf: np.ndarray, spec: FeatureSpec) -> sparse.csr_matrix:
    """Sublinear tf × idf, each block L2-normalized."""
    split = 1 << spec.word_bits
    return sparse.hstack([_weighted_block(counts[:, :split], idf[:split]),
                          _weighted_block(counts[:, split:], idf[split:])], format="csr")


@dataclass(frozen=True)
class Calibration:
    """What the quantifiers need from validation data (see ``quantify``).

    ``threshold`` on the margin (chosen to maximize tpr − fpr); ``tpr``/``fpr`` at it; ``mean_p_ai``/``mean_p_human``:
    mean calibrated probability per class; ``*_sd``: standard deviation of each constant (sampling error; models
    without family shifts also fold the rms shift to held-out generators into the AI side's).
    ``unseen_*_shift``: per generator family held out of training, its tpr (mean probability) minus the seen
    families' under a model refitted without it: the spread of detection rates a new generator family brings,
    which ``quantify`` carries into every interval (empty: unknown, the sds alone are used).
    """

    threshold: float
    tpr: float
    fpr: float
    mean_p_ai: float
    mean_p_human: float
    tpr_sd: float = 0.0
    fpr_sd: float = 0.0
    mean_p_ai_sd: float = 0.0
    mean_p_human_sd: float = 0.0
    unseen_tpr_shift: tuple[float, ...] = ()
    unseen_mean_p_ai_shift: tuple[float, ...] = ()

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        return cls(**_tuples(d))


@dataclass
class Detector:
    spec: FeatureSpec
    idf: np.ndarray
    coef: np.ndarray
    intercept: float
    platt: tuple[float, float]          # p = sigmoid(a · margin + b)
    calibration: Calibration
    info: dict = field(default_factory=dict)

    def margins(self, texts: list[str | None]) -> np.ndarray:
        """Decision values (log-odds before calibration). Block by block, without assembling the full matrix."""
        clean = _clean(texts, self.spec)
        split = 1 << self.spec.word_bits
        out = np.full(len(clean), self.intercept, dtype=np.float64)
        for counts, sl in ((_word_counts(clean, self.spec), slice(0, split)),
                           (_byte_counts(clean, self.spec), slice(split, None))):
            out += np.asarray(_weighted_block(counts, self.idf[sl]) @ self.coef[sl], dtype=np.float64).ravel()
        return out

    def probabilities(self, margins: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return expit(a * np.asarray(margins, dtype=np.float64) + b)

    def save(self, directory: str | Path) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(d / "model.npz", idf=self.idf.astype(np.float32), coef=self.coef.astype(np.float32))
        meta = {"format_version": FORMAT_VERSION, "spec": asdict(self.spec), "intercept": self.intercept,
                "platt": list(self.platt), "calibration": asdict(self.calibration), "info": self.info}
        (d / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "Detector":
        d = Path(directory)
        for name in ("model.json", "model.npz"):
            if not (d / name).is_file():
                raise FileNotFoundError(f"detector {d}: {name} is missing (train one with scripts/train_detector.py)")
        meta = json.loads((d / "model.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"detector {d}: format_version {meta.get('format_version')}, expected {FORMAT_VERSION}")
        spec = FeatureSpec(**_tuples(meta["spec"]))
        arrays = np.load(d / "model.npz")
        return cls(spec=spec, idf=arrays["idf"], coef=arrays["coef"], intercept=float(meta["intercept"]),
                   platt=tuple(meta["platt"]), calibration=Calibration.from_dict(meta["calibration"]), info=meta["info"])
