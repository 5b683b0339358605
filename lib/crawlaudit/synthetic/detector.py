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
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numba
import numpy as np
import regex
from scipy import sparse
from scipy.special import expit

from crawlaudit.metrics.minhash import _mix, ngram_hashes, scan_word_punct, token_hashes, utf8_buffers
from crawlaudit.metrics.text import code_point_table

log = logging.getLogger(__name__)

WORD_RE = regex.compile(r"\w+|[^\w\s]")
OTHER_CP, WORD_CP, SPACE_CP = 0, 1, 2   # code-point classes of WORD_RE: a symbol or mark of its own, \w, \s


def word_classes() -> np.ndarray:
    """uint8 class of every code point for WORD_RE (\\w, \\s, other): the compiled tokenizer of ``margins``
    reproduces WORD_RE with it."""
    return code_point_table(((r"\w+", WORD_CP), (r"\s+", SPACE_CP)))


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
def _doc_byte_cols(buf, start, end, n_min, n_max, mask, cols):
    """The buckets of one document's byte n-grams (n in [n_min, n_max]; buf[start:end]) into ``cols``, position
    by position, shorter n first; how many. 64-bit FNV-1a over the n-gram's bytes, then splitmix64 of it xor n."""
    k = 0
    for i in range(start, end):
        h = np.uint64(0xCBF29CE484222325)
        for n in range(1, min(n_max, end - i) + 1):
            h = (h ^ np.uint64(buf[i + n - 1])) * np.uint64(0x100000001B3)
            if n >= n_min:
                cols[k] = np.int64(_mix(h ^ np.uint64(n)) & np.uint64(mask))
                k += 1
    return k


def _n_grams(size: int, n_min: int, n_max: int) -> int:
    return sum(size - n + 1 for n in range(n_min, n_max + 1) if size >= n)


@numba.njit(cache=True, nogil=True)
def _byte_ngram_buckets(buf, bounds, n_min, n_max, mask, total):
    """(doc index, bucket) of every byte n-gram, n in [n_min, n_max], of each document's bytes (``total`` of them)."""
    rows = np.empty(total, dtype=np.int32)
    cols = np.empty(total, dtype=np.int64)
    k = 0
    for d in range(bounds.size - 1):
        m = _doc_byte_cols(buf, bounds[d], bounds[d + 1], n_min, n_max, mask, cols[k:])
        rows[k:k + m] = d
        k += m
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


@numba.njit(cache=True, nogil=True)
def _doc_dot(cols, n_cols, scratch, touched, weights, log_tf, idf, coef):
    """One document's block term from its n-gram buckets ``cols[:n_cols]``: counted in ``scratch`` (columns in
    first-seen order, the CSR order of ``_count_rows``), sublinear tf × idf, L2-normalized, dot ``coef`` —
    ``_weighted_block(...) @ coef`` in the same float32 / float64 steps and order — and the scratch counts reset.
    Counting is written out in this loop: a call per n-gram (even one numba inlines) ran ≈ 5× slower."""
    n_touched = 0
    for j in range(n_cols):
        c = cols[j]
        if scratch[c] == 0:
            touched[n_touched] = c
            n_touched += 1
        scratch[c] += 1
    sq = 0.0
    for i in range(n_touched):
        c = touched[i]
        w = log_tf[np.int64(scratch[c])] * idf[c]
        scratch[c] = 0
        weights[i] = w
        sq += np.float64(w) * np.float64(w)
    norm = np.sqrt(sq) if sq > 0 else 1.0
    acc = np.float32(0.0)
    for i in range(n_touched):
        acc += np.float32(np.float64(weights[i]) / norm) * coef[touched[i]]
    return acc


@numba.njit(cache=True, nogil=True)
def _byte_margins(buf, bounds, n_min, n_max, mask, log_tf, idf, coef, out):
    """Add each document's byte-block term (the n-grams of ``_doc_byte_cols``) to ``out``, one document at a time."""
    longest = 0
    for d in range(bounds.size - 1):
        longest = max(longest, bounds[d + 1] - bounds[d])
    size = longest * (n_max - n_min + 1) + 1
    scratch = np.zeros(idf.size, dtype=np.int32)
    cols, touched, weights = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.float32)
    for d in range(bounds.size - 1):
        k = _doc_byte_cols(buf, bounds[d], bounds[d + 1], n_min, n_max, mask, cols)
        out[d] += np.float64(_doc_dot(cols, k, scratch, touched, weights, log_tf, idf, coef))


@numba.njit(cache=True, nogil=True)
def _word_margins(grams, bounds, mask, log_tf, idf, coef, out):
    """Add each document's word-block term to ``out``; ``grams``: the n-gram hashes of ``ngram_hashes`` for each n
    one after another, ``bounds[k]``: document d's n-grams of the k-th n are grams[bounds[k, d]:bounds[k, d + 1]]
    (counted n by n, as the sparse path orders them)."""
    longest = 0
    for d in range(out.size):
        total = 0
        for k in range(bounds.shape[0]):
            total += bounds[k, d + 1] - bounds[k, d]
        longest = max(longest, total)
    scratch = np.zeros(idf.size, dtype=np.int32)
    cols, touched, weights = np.empty(longest + 1, np.int64), np.empty(longest + 1, np.int64), \
        np.empty(longest + 1, np.float32)
    for d in range(out.size):
        n = 0
        for k in range(bounds.shape[0]):
            for j in range(bounds[k, d], bounds[k, d + 1]):
                cols[n] = np.int64(grams[j] & np.uint64(mask))
                n += 1
        out[d] += np.float64(_doc_dot(cols, n, scratch, touched, weights, log_tf, idf, coef))


def _log_tf(n: int) -> np.ndarray:
    """1 + ln(count) for counts 0..n, computed by numpy in float32 as ``_weighted_block`` computes it."""
    counts = np.arange(n + 1, dtype=np.float32)
    counts[0] = 1.0
    return (1.0 + np.log(counts)).astype(np.float32)


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
    n_min, n_max = spec.byte_ngrams
    total = sum(_n_grams(int(size), n_min, n_max) for size in np.diff(bounds))
    rows, cols = _byte_ngram_buckets(buf, bounds, n_min, n_max, (1 << spec.byte_bits) - 1, total)
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
    # ISO 639-3 codes of the languages the model was trained on: only documents in them are scored
    languages: tuple[str, ...] = ("eng",)

    def margins(self, texts: list[str | None]) -> np.ndarray:
        """Decision values (log-odds before calibration): ``weighted(term_counts(texts)) @ coef + intercept``, each
        block counted, weighted and dotted per document by a compiled pass without building the sparse matrix
        (the same float32 steps and summation order as that matrix product, block by block)."""
        spec = self.spec
        clean = _clean(texts, spec)
        split = 1 << spec.word_bits
        idf, coef = self.idf.astype(np.float32), self.coef.astype(np.float32)
        out = np.full(len(clean), self.intercept, dtype=np.float64)
        buf, bounds = utf8_buffers(clean)
        log_tf = _log_tf(int(np.diff(bounds).max(initial=0)) + 1)
        hashes, lengths = scan_word_punct(buf, bounds, word_classes(), WORD_CP, SPACE_CP)   # WORD_RE's tokens
        per_n = [ngram_hashes(hashes, lengths, n, False)
                 for n in range(spec.word_ngrams[0], spec.word_ngrams[1] + 1)]
        starts = np.cumsum([0] + [g.size for g, _ in per_n[:-1]])
        _word_margins(np.concatenate([g for g, _ in per_n]), np.stack([b + s for (_, b), s in zip(per_n, starts)]),
                      (1 << spec.word_bits) - 1, log_tf, idf[:split], coef[:split], out)
        _byte_margins(buf, bounds, spec.byte_ngrams[0], spec.byte_ngrams[1], (1 << spec.byte_bits) - 1, log_tf,
                      idf[split:], coef[split:], out)
        return out

    def probabilities(self, margins: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return expit(a * np.asarray(margins, dtype=np.float64) + b)

    def save(self, directory: str | Path) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(d / "model.npz", idf=self.idf.astype(np.float32), coef=self.coef.astype(np.float32))
        meta = {"format_version": FORMAT_VERSION, "spec": asdict(self.spec), "intercept": self.intercept,
                "platt": list(self.platt), "calibration": asdict(self.calibration), "info": self.info,
                "languages": list(self.languages)}
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
        languages = meta.get("languages")
        if not languages:
            log.warning("detector %s declares no languages (model.json \"languages\"): taken as English only", d)
        elif not isinstance(languages, list) or not all(isinstance(x, str) and re.fullmatch("[a-z]{3}", x)
                                                        for x in languages):
            raise ValueError(f"detector {d}: languages must be a list of ISO 639-3 codes, got {languages!r}")
        return cls(spec=spec, idf=arrays["idf"], coef=arrays["coef"], intercept=float(meta["intercept"]),
                   platt=tuple(meta["platt"]), calibration=Calibration.from_dict(meta["calibration"]), info=meta["info"],
                   languages=tuple(languages or ("eng",)))
