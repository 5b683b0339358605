"""Labeled human / AI text (JSON lines: ``text``, ``label`` human|ai, optional ``group``, ``generator``, ``domain``).

Splits are by ``group`` (a source passage and all its rewrites), never by row: in l2r every AI text is a rewrite
of a human one, and a split by row would test the detector on passages it was trained on. Without a ``group``
field, l2r's ``domain`` + ``index_in_file`` is used when present, else every row is its own group. A directory is
read recursively, each file's set named by its folder (``source``); groups of different files that share a human
text (biscope's arXiv abstracts and Yelp reviews also occur in l2r) become one group, so a split never puts one
passage on both sides.

``family``: the generator's maker (OpenAI, Google, Anthropic, Meta, ...), the unit of leave-one-family-out
evaluation: generators of one maker share training data and style, so holding out one generator while its
siblings stay in training overstates transfer.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = {"human": 0, "ai": 1}
# generator name prefix (lower case) -> family
FAMILY_PREFIXES = (("gpt", "OpenAI"), ("o1", "OpenAI"), ("o3", "OpenAI"), ("davinci", "OpenAI"),
                   ("gemini", "Google"), ("palm", "Google"), ("gemma", "Google"), ("claude", "Anthropic"),
                   ("llama", "Meta"), ("opt", "Meta"), ("mistral", "Mistral"), ("mixtral", "Mistral"),
                   ("qwen", "Alibaba"), ("deepseek", "DeepSeek"))


def generator_family(generator: str) -> str:
    """The maker of a generator ("GPT-4o" -> "OpenAI"); "human" for human rows; the name itself when unknown."""
    g = generator.lower()
    if g == "human":
        return "human"
    for prefix, family in FAMILY_PREFIXES:
        if g.startswith(prefix):
            return family
    return generator


@dataclass
class LabeledSet:
    texts: list[str]
    is_ai: np.ndarray        # bool
    group: np.ndarray        # str
    generator: np.ndarray    # str ("human" for human rows, "unknown" when absent)
    domain: np.ndarray       # str ("unknown" when absent)
    source: np.ndarray | None = None   # str: the labeled set (folder) of each row

    def __post_init__(self):
        if self.source is None:
            self.source = np.full(len(self.texts), "unknown")

    @property
    def family(self) -> np.ndarray:
        return np.array([generator_family(g) for g in self.generator])

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def from_rows(cls, rows: list[dict]) -> "LabeledSet":
        """From in-memory rows shaped like the JSON lines (``corpus.labeled_texts``); every row needs a group."""
        return cls([r["text"] for r in rows], np.array([r["label"] == "ai" for r in rows], dtype=bool),
                   np.array([str(r["group"]) for r in rows]),
                   np.array(["human" if r["label"] == "human" else str(r.get("generator") or "unknown") for r in rows]),
                   np.array([str(r.get("domain") or "unknown") for r in rows]))

    def subset(self, mask: np.ndarray) -> "LabeledSet":
        idx = np.flatnonzero(mask)
        return LabeledSet([self.texts[i] for i in idx], self.is_ai[idx], self.group[idx], self.generator[idx],
                          self.domain[idx], self.source[idx])


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz", ".json.gz")))
        if not files:
            raise FileNotFoundError(f"{path}: no .jsonl or .jsonl.gz files")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"labeled data {path} not found")
    return [path]


def read_labeled(path: str | Path) -> LabeledSet:
    """Read a JSON-lines file (optionally gzipped) or a directory of them. Raises ValueError naming the line
    for a row without text or with a label other than human|ai."""
    texts, labels, groups, gens, doms, sources = [], [], [], [], [], []
    for f in _files(Path(path)):
        source = f.parent.name if Path(path).is_dir() else f.name.split(".")[0]
        opener = gzip.open if f.name.endswith(".gz") else open
        with opener(f, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{f}:{lineno}: not JSON ({e})") from None
                label = str(row.get("label", "")).lower()
                if label not in LABELS or not isinstance(row.get("text"), str):
                    raise ValueError(f"{f}:{lineno}: need a string 'text' and 'label' human|ai, got label {label!r}")
                group = row.get("group")
                if group is None:
                    group = (f"{row['domain']}/{row['index_in_file']}" if "index_in_file" in row and "domain" in row
                             else f"{f.name}:{lineno}")
                group = f"{source}:{group}"
                texts.append(row["text"])
                labels.append(LABELS[label])
                groups.append(str(group))
                gens.append("human" if label == "human" else str(row.get("generator") or "unknown"))
                doms.append(str(row.get("domain") or "unknown"))
                sources.append(source)
    if not texts:
        raise ValueError(f"{path}: no labeled rows")
    labels = np.array(labels, dtype=bool)
    return LabeledSet(texts, labels, merge_shared_passages(texts, labels, np.array(groups)), np.array(gens),
                      np.array(doms), np.array(sources))


def merge_shared_passages(texts: list[str], is_ai: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Groups whose human texts begin alike (first 30 words, case and white space aside: the two sets wrap and trim
    the same abstract or review differently) merged into the first such group."""
    first: dict[str, str] = {}
    alias: dict[str, str] = {}
    for text, ai, group in zip(texts, is_ai, groups):
        if ai:
            continue
        key = " ".join(text.lower().split()[:30])
        owner = first.setdefault(key, alias.get(group, group))
        if owner != group:
            alias.setdefault(group, owner)
    return np.array([alias.get(g, g) for g in groups])


def group_fraction(groups: np.ndarray, seed: int) -> np.ndarray:
    """A stable uniform number in [0, 1) per group (sha1 of seed and group): the same split on every machine."""
    cache: dict[str, float] = {}
    out = np.empty(len(groups))
    for i, g in enumerate(groups):
        if g not in cache:
            digest = hashlib.sha1(f"{seed}:{g}".encode("utf-8")).digest()
            cache[g] = int.from_bytes(digest[:8], "big") / 2.0**64
        out[i] = cache[g]
    return out


def split_by_group(data: LabeledSet, fractions: tuple[float, ...], seed: int = 0) -> list[np.ndarray]:
    """Boolean masks, one per fraction (summing to 1), assigning whole groups."""
    u = group_fraction(data.group, seed)
    edges = np.concatenate([[0.0], np.cumsum(fractions)])
    edges[-1] = 1.0 + 1e-12
    return [(u >= lo) & (u < hi) for lo, hi in zip(edges[:-1], edges[1:])]
