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
        self._hash_order = np.argsort(hashes)
        self._hashes = hashes[self._hash_order]
        self._marker_hashes = np.unique(token_hashes(list(self.markers)))

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
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
        pos = np.minimum(np.searchsorted(self._hashes, hashes), max(self._hashes.size - 1, 0))
        hit = self._hashes[pos] == hashes if self._hashes.size else np.zeros(hashes.size, dtype=bool)
        keys = np.unique(doc[hit] * len(self.words) + self._hash_order[pos[hit]])   # sorted by (text, index)
        offsets = np.zeros(len(texts) + 1, dtype=np.int32)
        offsets[1:] = np.cumsum(np.bincount(keys // max(len(self.words), 1), minlength=len(texts)))
        markers = np.zeros(len(texts), dtype=bool)
        if self._marker_hashes.size:
            markers[np.unique(doc[np.isin(hashes, self._marker_hashes)])] = True
        return offsets, (keys % max(len(self.words), 1)).astype(np.int32), markers

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
