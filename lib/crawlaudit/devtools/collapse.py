"""Model-collapse simulator: train an n-gram model on a corpus, sample a corpus of the same shape from it,
retrain on the sample, and repeat (Shumailov et al., "AI models collapse when trained on recursively generated
data", Nature 2024). Each generation is written as a Common Crawl-format snapshot, so the ordinary audit job
measures it; a word the sampler misses in one generation is gone from every later one, so the tail erodes.

The model is an interpolated Kneser–Ney bigram model (absolute discount D, continuation-count unigram):
P(w | h) = max(c(h, w) − D, 0) / c(h) + D · N1+(h ·) / c(h) · P_cont(w), P_cont(w) ∝ N1+(· w).
Sampling draws the backoff with probability D · N1+(h ·) / c(h), else a successor of h with weight c(h, w) − D.
A sampling temperature T < 1, as language models are usually decoded, raises both components' weights to
the power 1/T (the mixture weight is kept), which sharpens each generation's output toward its head.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from crawlaudit.devtools.corpus import _Doc, _write_snapshot
from crawlaudit.metrics.text import tokenize

BOS = "\x02"  # start-of-document context


class KneserNeyBigram:
    """An interpolated Kneser–Ney bigram model trained on token lists."""

    def __init__(self, docs: list[list[str]], discount: float = 0.75, temperature: float = 1.0):
        if not 0 < discount < 1:
            raise ValueError("discount must be in (0, 1)")
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        inv_t = 1.0 / temperature
        self.discount = discount
        pairs: dict[str, Counter] = defaultdict(Counter)
        for toks in docs:
            prev = BOS
            for t in toks:
                pairs[prev][t] += 1
                prev = t
        continuation = Counter()
        for succ in pairs.values():
            continuation.update(succ.keys())  # N1+(· w): distinct predecessors of w
        self.vocab = np.array(sorted(continuation))
        index = {w: i for i, w in enumerate(self.vocab)}
        weights = np.array([continuation[w] for w in self.vocab], dtype=float) ** inv_t
        self._cont_cum = np.cumsum(weights / weights.sum())
        self._ctx = {}
        for h, succ in pairs.items():
            ids = np.array([index[w] for w in succ])
            c = np.array(list(succ.values()), dtype=float)
            total = c.sum()
            backoff = discount * len(c) / total
            cum = np.cumsum((c - discount) ** inv_t)
            self._ctx[h] = (ids, cum / cum[-1], backoff)

    def sample(self, length: int, rng: np.random.Generator) -> list[str]:
        out, prev = [], BOS
        draws = rng.random((length, 2))
        for k in range(length):
            ctx = self._ctx.get(prev)
            if ctx is None or draws[k, 0] < ctx[2]:
                i = int(np.searchsorted(self._cont_cum, draws[k, 1], side="right"))
                i = min(i, len(self.vocab) - 1)
            else:
                ids, cum, _ = ctx
                i = int(ids[min(int(np.searchsorted(cum, draws[k, 1], side="right")), len(ids) - 1)])
            w = str(self.vocab[i])
            out.append(w)
            prev = w
        return out


def simulate(seed_texts: list[str], generations: int, seed: int = 0, discount: float = 0.75,
             temperature: float = 1.0) -> list[list[list[str]]]:
    """Token lists per generation: generation 0 is the seed corpus, each next one is sampled from a model
    trained on the previous one, with the same number of documents and the same document lengths."""
    rng = np.random.default_rng(seed)
    current = [tokenize(t) for t in seed_texts]
    current = [d for d in current if d]
    out = [current]
    for _ in range(generations):
        model = KneserNeyBigram(current, discount, temperature)
        current = [model.sample(len(d), rng) for d in current]
        out.append(current)
    return out


def generation_snapshot(g: int, base_year: int = 2090) -> str:
    """Generation g's snapshot id: CC-MAIN-<base_year>-<g+1, two digits> (weeks 01..53)."""
    if not 0 <= g < 53:
        raise ValueError("at most 53 generations (one per ISO week of the base year)")
    return f"CC-MAIN-{base_year}-{g + 1:02d}"


def write_generations(out_dir: str | Path, generations: list[list[list[str]]], n_domains: int = 4,
                      files_per_snapshot: int = 2, seed: int = 0) -> list[str]:
    """Write each generation as a snapshot under ``out_dir`` (Common Crawl layout, one wet.paths.gz each).
    Documents are dealt round-robin to ``n_domains`` fixed domains. Returns the snapshot ids."""
    out = Path(out_dir)
    rng = random.Random(seed)
    domains = [f"collapse-site{i}.org" for i in range(n_domains)]
    ids = []
    for g, docs in enumerate(generations):
        snapshot = generation_snapshot(g)
        rows = [_Doc(content_id=k, text=" ".join(toks), url=f"https://www.{domains[k % n_domains]}/g{g}/{k}.html",
                     domain=domains[k % n_domains]) for k, toks in enumerate(docs)]
        _write_snapshot(out, snapshot, rows, files_per_snapshot, rng)
        ids.append(snapshot)
    return ids
