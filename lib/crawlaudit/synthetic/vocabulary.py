"""Reference word-occurrence tables for the mixture estimator, and the marker words for the excess bound.

``p_human[w]`` / ``q_ai[w]``: share of human / AI documents that contain word ``w`` (lower-cased tokens of
``text.tokenize``), add-½ smoothed. Only informative words are kept: a minimum document frequency, then the
``n_words`` largest (q − p)² / (m (1 − m)) among words used across domains, m = (p + q) / 2, each word's share of the Fisher information about α at
an even mixture. Markers: words far more common in AI text (q / p ≥ ``marker_min_ratio``), the ``n_markers`` with
the largest q − p; a lexicon such as Kobak et al.'s excess style words can seed the candidates.
Stored as one small JSON file, rebuilt by ``scripts/train_detector.py``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from scipy import sparse

from crawlaudit.metrics import text as T
from crawlaudit.metrics.minhash import scan_words, token_hashes, utf8_buffers
from crawlaudit.metrics.text import tokenize


@dataclass
class Reference:
    words: list[str]
    p_human: np.ndarray
    q_ai: np.ndarray
    markers: list[str]
    info: dict

    def __post_init__(self):
        self._index = {w: i for i, w in enumerate(self.words)}
        self._markers = frozenset(self.markers)
        hashes = token_hashes(list(self.words))
        if np.unique(hashes).size != hashes.size:
            raise ValueError("reference words with equal 64-bit hashes")   # never seen; scan_batch needs them apart
        self._table = _lookup_table(hashes, token_hashes(list(self.markers)))

    def occurrence_indices(self, text: str | None) -> list[int]:
        """Sorted indices of the reference words occurring in ``text``."""
        return self.scan(text)[0]

    def has_marker(self, text: str | None) -> bool:
        return self.scan(text)[1]

    def scan(self, text: str | None) -> tuple[list[int], bool]:
        """(occurrence_indices, has_marker) with one tokenizer pass."""
        types = set(tokenize(text))
        return sorted(self._index[t] for t in types if t in self._index), not self._markers.isdisjoint(types)

    def scan_batch(self, texts: list[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``scan`` of many texts in one compiled pass: (offsets, indices: text d's sorted reference-word indices are
        indices[offsets[d]:offsets[d + 1]], has_marker per text). Tokens are matched by their 64-bit FNV-1a hashes
        (a non-word whose hash equals a word's would count as it: odds ≈ 1e-16 per token)."""
        buf, bounds = utf8_buffers([t.lower() if t else "" for t in texts])
        hashes, counts = scan_words(buf, bounds, T.code_point_classes(), T.APOSTROPHES[0], T.APOSTROPHES[1])
        return _reference_hits(hashes, counts, *self._table, len(self.words))

    def save(self, path: str | Path) -> None:
        body = {"words": self.words, "p_human": [round(float(x), 7) for x in self.p_human],
                "q_ai": [round(float(x), 7) for x in self.q_ai], "markers": self.markers, "info": self.info}
        Path(path).write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Reference":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"reference tables {p} not found (build them with scripts/train_detector.py)")
        body = json.loads(p.read_text(encoding="utf-8"))
        return cls(body["words"], np.array(body["p_human"]), np.array(body["q_ai"]), body["markers"], body["info"])


def _lookup_table(word_hashes: np.ndarray, marker_hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An open-addressing table (linear probing, at most a quarter full) of the reference words' and the markers'
    token hashes, for ``_reference_hits``: (keys, word index, −1 for a marker only, −2 for an empty slot; is a
    marker)."""
    all_hashes = np.unique(np.concatenate([word_hashes, marker_hashes]).astype(np.uint64))
    size = 1 << max(4, int(4 * all_hashes.size).bit_length())
    keys = np.zeros(size, dtype=np.uint64)
    word = np.full(size, -2, dtype=np.int32)
    marker = np.zeros(size, dtype=bool)
    index = {int(h): i for i, h in enumerate(word_hashes)}
    markers = {int(h) for h in marker_hashes}
    for h in all_hashes.tolist():
        slot = h & (size - 1)
        while word[slot] != -2:
            slot = (slot + 1) & (size - 1)
        keys[slot], word[slot], marker[slot] = h, index.get(h, -1), h in markers
    return keys, word, marker


@numba.njit(cache=True, nogil=True)
def _reference_hits(hashes, counts, keys, word, marker, n_words):
    """``Reference.scan_batch``'s (offsets, indices, markers) from the token hashes of ``scan_words``: each token
    looked up in the table of ``_lookup_table`` (``word`` −2: an empty slot), each document's distinct word
    indices sorted: one compiled pass instead of numpy's searchsorted, unique and isin over every token of the
    batch."""
    n_docs, mask = counts.size, np.uint64(keys.size - 1)
    offsets = np.zeros(n_docs + 1, dtype=np.int32)
    indices = np.empty(min(hashes.size, n_docs * n_words), dtype=np.int32)
    markers = np.zeros(n_docs, dtype=np.bool_)
    seen = np.full(max(n_words, 1), -1, dtype=np.int64)     # the last document each word was found in
    k, start = 0, 0
    for d in range(n_docs):
        first = k
        for j in range(start, start + counts[d]):
            h = hashes[j]
            slot = h & mask
            while word[slot] != -2 and keys[slot] != h:
                slot = (slot + np.uint64(1)) & mask
            w = word[slot]
            if w == -2:
                continue
            if w >= 0 and seen[w] != d:
                seen[w] = d
                indices[k] = w
                k += 1
            if marker[slot]:
                markers[d] = True
        indices[first:k] = np.sort(indices[first:k])
        offsets[d + 1] = k
        start += counts[d]
    return offsets, indices[:k], markers


def occurrence_matrix(index_lists: list[list[int]], n_words: int) -> sparse.csr_matrix:
    """Documents × reference words, 1 where the word occurs, from ``occurrence_indices`` lists."""
    indptr = np.zeros(len(index_lists) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(x) for x in index_lists])
    indices = np.fromiter((i for x in index_lists for i in x), dtype=np.int32, count=int(indptr[-1]))
    return sparse.csr_matrix((np.ones(indices.size), indices, indptr), shape=(len(index_lists), n_words))


def build_reference(texts: list[str], is_ai: np.ndarray, n_words: int = 2000, min_docs: int = 20,
                    n_markers: int = 100, marker_min_ratio: float = 3.0, lexicon: list[str] | None = None,
                    info: dict | None = None, domains: np.ndarray | None = None,
                    min_domain_spread: float = 0.5) -> Reference:
    """Reference tables from labeled texts (``is_ai`` boolean per text). With ``domains``, only words occurring in
    at least ``min_domain_spread`` of the domains are candidates: a topic word's occurrence rate depends on the
    audited population's mix of topics, which the reference cannot know, and biases α."""
    is_ai = np.asarray(is_ai, dtype=bool)
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, t in enumerate(texts):
        for w in set(tokenize(t)):
            cols.append(vocab.setdefault(w, len(vocab)))
            rows.append(i)
    occ = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab)))
    df_ai = np.asarray(occ[is_ai].sum(axis=0)).ravel()
    df_h = np.asarray(occ[~is_ai].sum(axis=0)).ravel()
    n_ai, n_h = int(is_ai.sum()), int((~is_ai).sum())
    if n_ai == 0 or n_h == 0:
        raise ValueError("reference tables need both human and AI texts")
    q = (df_ai + 0.5) / (n_ai + 1.0)
    p = (df_h + 0.5) / (n_h + 1.0)
    words = np.array(sorted(vocab, key=vocab.get))
    frequent = (df_ai + df_h) >= min_docs
    if domains is not None:
        labels, dom_idx = np.unique(np.asarray(domains), return_inverse=True)
        per_domain = sparse.csr_matrix((np.ones(len(texts)), (dom_idx, np.arange(len(texts)))),
                                       shape=(labels.size, len(texts))) @ occ
        spread = np.asarray((per_domain > 0).sum(axis=0)).ravel() / labels.size
        frequent &= spread >= min_domain_spread
    m = (p + q) / 2.0
    info_score = np.where(frequent, (q - p) ** 2 / (m * (1.0 - m)), -1.0)
    keep = np.argsort(-info_score, kind="stable")[: min(n_words, int(frequent.sum()))]
    keep = keep[np.argsort(words[keep], kind="stable")]
    candidates = frequent & (q / p >= marker_min_ratio)
    if lexicon is not None:
        lex = set(lexicon)
        candidates &= np.array([w in lex for w in words]) | (q / p >= 2 * marker_min_ratio)
    marker_idx = np.flatnonzero(candidates)
    marker_idx = marker_idx[np.argsort(-(q - p)[marker_idx], kind="stable")][:n_markers]
    summary = dict(info or {}, n_ai_docs=n_ai, n_human_docs=n_h, n_words=int(keep.size),
                   marker_share_ai=float((occ[is_ai][:, marker_idx].sum(axis=1) > 0).mean()),
                   marker_share_human=float((occ[~is_ai][:, marker_idx].sum(axis=1) > 0).mean()))
    return Reference(words[keep].tolist(), p[keep], q[keep], sorted(words[marker_idx].tolist()), summary)
