"""Labeled human / AI text (JSON lines: ``text``, ``label`` human|ai, optional ``group``, ``generator``, ``domain``).

Splits are by ``group`` (a source passage and all its rewrites), never by row: in l2r every AI text is a rewrite
of a human one, and a split by row would test the detector on passages it was trained on. Without a ``group``
field, l2r's ``domain`` + ``index_in_file`` is used when present, else every row is its own group.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = {"human": 0, "ai": 1}


@dataclass
class LabeledSet:
    texts: list[str]
    is_ai: np.ndarray        # bool
    group: np.ndarray        # str
    generator: np.ndarray    # str ("human" for human rows, "unknown" when absent)
    domain: np.ndarray       # str ("unknown" when absent)

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
                          self.domain[idx])


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz", ".json.gz")))
        if not files:
            raise FileNotFoundError(f"{path}: no .jsonl or .jsonl.gz files")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"labeled data {path} not found")
    return [path]


def read_labeled(path: str | Path) -> LabeledSet:
    """Read a JSON-lines file (optionally gzipped) or a directory of them. Raises ValueError naming the line
    for a row without text or with a label other than human|ai."""
    texts, labels, groups, gens, doms = [], [], [], [], []
    for f in _files(Path(path)):
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
                texts.append(row["text"])
                labels.append(LABELS[label])
                groups.append(str(group))
                gens.append("human" if label == "human" else str(row.get("generator") or "unknown"))
                doms.append(str(row.get("domain") or "unknown"))
    if not texts:
        raise ValueError(f"{path}: no labeled rows")
    return LabeledSet(texts, np.array(labels, dtype=bool), np.array(groups), np.array(gens), np.array(doms))


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
