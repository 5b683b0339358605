"""A Common Crawl-format sample corpus with planted, known ground truth (``crawlaudit sample-corpus``).

Each domain draws words from its own vocabulary (size V, Zipf-distributed, exponent 1.1), so a domain with a
larger planted V has a higher unigram entropy. Per (snapshot, domain) the generator plants exact duplicates
(copies that differ only in case, white space, digits and punctuation, which the cc_net normalization
removes), content reused from the domain's earlier snapshots, and a few copies syndicated from another
domain. The truth in ``ground_truth.json`` is computed from the generator's own content ids, never from the
audit's hashing, so the audit is checked against something independent of it.

Everything is seeded: the same spec gives byte-identical files.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from crawlaudit.config import parse_snapshot

DEFAULT_SNAPSHOTS = (
    "CC-MAIN-2019-35", "CC-MAIN-2020-34", "CC-MAIN-2021-31",
    "CC-MAIN-2022-33", "CC-MAIN-2024-22", "CC-MAIN-2025-26",
)
SUFFIXES = ("com", "org", "net", "co.uk", "de", "com.au", "fr", "io", "blogspot.com")
VOCAB_LEVELS = (150, 600, 2500, 10000)
DUP_RATES = (0.0, 0.05, 0.12, 0.25, 0.4)
REUSE_RATES = (0.0, 0.06, 0.15, 0.3)
ZIPF_EXPONENT = 1.1
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate. ``docs_per_domain``: range of a domain's base size (it varies ±20% per snapshot)."""

    snapshots: tuple[str, ...] = DEFAULT_SNAPSHOTS
    n_domains: int = 40
    docs_per_domain: tuple[int, int] = (25, 130)
    doc_tokens: tuple[int, int] = (120, 420)
    files_per_snapshot: int = 3
    seed: int = 1729


@dataclass
class _Doc:
    content_id: int
    text: str
    url: str
    domain: str


@dataclass
class _Domain:
    registered_domain: str
    hosts: list[str]
    vocab_size: int
    dup_rate: float
    reuse_rate: float
    base_docs: int
    syndicates_from: int | None
    words: list[str] = field(repr=False, default_factory=list)
    weights: np.ndarray | None = field(repr=False, default=None)


def _word_pool(rng: random.Random, n: int) -> list[str]:
    seen: set[str] = set()
    while len(seen) < n:
        seen.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))))
    return sorted(seen)


def _domains(spec: CorpusSpec, rng: random.Random, pool: list[str]) -> list[_Domain]:
    out, names = [], set()
    for i in range(spec.n_domains):
        while True:
            name = "".join(rng.choice(_SYLLABLES) for _ in range(3)) + rng.choice(("news", "blog", "wiki", "shop", "hub", ""))
            if name not in names:
                names.add(name)
                break
        rd = f"{name}.{SUFFIXES[i % len(SUFFIXES)]}"
        hosts = [f"www.{rd}", rd] if i % 3 else [f"www.{rd}", f"news.{rd}", f"m.{rd}"]
        v = VOCAB_LEVELS[i % len(VOCAB_LEVELS)]
        weights = 1.0 / np.arange(1, v + 1) ** ZIPF_EXPONENT
        d = _Domain(
            registered_domain=rd, hosts=hosts, vocab_size=v,
            dup_rate=DUP_RATES[(i // 2) % len(DUP_RATES)], reuse_rate=REUSE_RATES[(i // 3) % len(REUSE_RATES)],
            base_docs=rng.randint(*spec.docs_per_domain),
            syndicates_from=(i + 1) % spec.n_domains if i % 7 == 3 and spec.n_domains > 1 else None,
            words=rng.sample(pool, v), weights=weights / weights.sum(),
        )
        out.append(d)
    return out


def _sentences(tokens: list[str], rng: random.Random) -> str:
    lines, i = [], 0
    while i < len(tokens):
        sentences = []
        for _ in range(rng.randint(1, 3)):
            n = rng.randint(6, 18)
            words = tokens[i: i + n]
            i += n
            if not words:
                break
            sentences.append(" ".join([words[0].capitalize()] + words[1:]) + rng.choice((".", ".", ".", "?", "!")))
        lines.append(" ".join(sentences))
    return "\n".join(lines)


def _variant(text: str, rng: random.Random) -> str:
    """A copy that the cc_net normalization maps back to ``text``: case, white space, digits, punctuation."""
    choice = rng.randrange(4)
    if choice == 0:
        return text.upper()
    if choice == 1:
        return "  " + text.replace(" ", "   ").replace("\n", "\n\n") + "\n"
    if choice == 2:
        return text.replace(".", "!!").replace("?", ";") + f" ({rng.randint(1, 9999)})"
    return f"{rng.randint(1, 28)}.{rng.randint(1, 12)}.{rng.randint(1990, 2030)} - " + text


class _Generator:
    def __init__(self, spec: CorpusSpec, texts: list[str] | None = None):
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.np_rng = np.random.default_rng(spec.seed)
        self.pool = _word_pool(self.rng, 30_000)
        self.domains = _domains(spec, self.rng, self.pool)
        self.texts = texts
        self.next_content = 0
        self.contents: dict[int, str] = {}
        self.domain_contents: dict[str, list[int]] = defaultdict(list)
        self.url_counter = Counter()

    def _fresh(self, d: _Domain) -> int:
        cid = self.next_content
        self.next_content += 1
        if self.texts:
            text = self.texts[cid % len(self.texts)] + ("" if cid < len(self.texts) else f"\n[{cid}]")
        else:
            n = self.rng.randint(*self.spec.doc_tokens)
            idx = self.np_rng.choice(d.vocab_size, size=n, p=d.weights)
            text = _sentences([d.words[k] for k in idx], self.rng)
        self.contents[cid] = text
        return cid

    def _url(self, d: _Domain, year: int) -> str:
        host = self.rng.choice(d.hosts)
        self.url_counter[d.registered_domain] += 1
        return f"https://{host}/{year}/{self.rng.choice(self.pool)}-{self.url_counter[d.registered_domain]}.html"

    def snapshot_docs(self, snapshot: str, index: int) -> list[_Doc]:
        year, _ = parse_snapshot(snapshot)
        per_domain: dict[str, list[_Doc]] = {}
        new_contents: dict[str, list[int]] = defaultdict(list)
        for d in self.domains:
            n = max(2, round(d.base_docs * self.rng.uniform(0.8, 1.2)))
            earlier = list(self.domain_contents[d.registered_domain])
            n_reuse = min(round(d.reuse_rate * n), len(earlier)) if index > 0 else 0
            n_dup = round(d.dup_rate * n)
            docs: list[_Doc] = []
            for cid in self.rng.sample(earlier, n_reuse):
                docs.append(_Doc(cid, _variant(self.contents[cid], self.rng), self._url(d, year), d.registered_domain))
            dup_docs = 0
            while dup_docs + 2 <= n_dup and len(docs) + 2 <= n:
                size = 3 if n_dup - dup_docs >= 5 and self.rng.random() < 0.4 else 2
                cid = self._fresh(d)
                new_contents[d.registered_domain].append(cid)
                docs.append(_Doc(cid, self.contents[cid], self._url(d, year), d.registered_domain))
                for _ in range(size - 1):
                    docs.append(_Doc(cid, _variant(self.contents[cid], self.rng), self._url(d, year), d.registered_domain))
                dup_docs += size
            while len(docs) < n:
                cid = self._fresh(d)
                new_contents[d.registered_domain].append(cid)
                docs.append(_Doc(cid, self.contents[cid], self._url(d, year), d.registered_domain))
            per_domain[d.registered_domain] = docs
        # Syndication: a few domains republish one page of another domain in the same snapshot.
        for d in self.domains:
            if d.syndicates_from is not None:
                src = self.domains[d.syndicates_from]
                singles = [x for x in per_domain[src.registered_domain] if x.content_id in new_contents[src.registered_domain]]
                if singles:
                    cid = singles[0].content_id
                    per_domain[d.registered_domain].append(
                        _Doc(cid, _variant(self.contents[cid], self.rng), self._url(d, year), d.registered_domain))
        for rd, cids in new_contents.items():
            self.domain_contents[rd].extend(cids)
        return [doc for docs in per_domain.values() for doc in docs]


def _truth(snapshots: list[tuple[str, list[_Doc]]], domains: list[_Domain]) -> dict:
    vocab = {d.registered_domain: d for d in domains}
    seen_before: set[int] = set()
    out = {"definitions": {
        "exact_dup_frac": "share of the domain's documents whose content occurs in >= 2 documents of the snapshot",
        "cross_snapshot_dup_frac": "share of the domain's documents whose content occurs in an earlier snapshot",
        "vocab_size": "number of word types the domain's generator draws from (Zipf, exponent %.2f)" % ZIPF_EXPONENT,
    }, "snapshots": {}}
    for snapshot, docs in snapshots:
        counts = Counter(doc.content_id for doc in docs)
        by_domain: dict[str, list[_Doc]] = defaultdict(list)
        for doc in docs:
            by_domain[doc.domain].append(doc)
        rows = {}
        for rd, ds in sorted(by_domain.items()):
            n = len(ds)
            d = vocab[rd]
            rows[rd] = {
                "n_docs": n,
                "exact_dup_frac": sum(counts[x.content_id] >= 2 for x in ds) / n,
                "cross_snapshot_dup_frac": sum(x.content_id in seen_before for x in ds) / n,
                "vocab_size": d.vocab_size,
                "planted_dup_rate": d.dup_rate,
                "planted_reuse_rate": d.reuse_rate,
            }
        out["snapshots"][snapshot] = {"year": parse_snapshot(snapshot)[0], "n_docs": len(docs), "domains": rows}
        seen_before.update(counts)
    return out


def _b32_sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _member(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + f"Content-Length: {len(body)}\r\n\r\n"
    return gzip.compress(head.encode("utf-8") + body + b"\r\n\r\n", compresslevel=6, mtime=0)


def wet_record(url: str, date: datetime, record_id: str, text: str | bytes, language: str | None = "eng",
               refers_to: str | None = None) -> bytes:
    """One gzip member holding one WET conversion record with Common Crawl's headers."""
    body = text.encode("utf-8") if isinstance(text, str) else text
    headers = [
        ("WARC-Type", "conversion"), ("WARC-Target-URI", url),
        ("WARC-Date", date.strftime("%Y-%m-%dT%H:%M:%SZ")), ("WARC-Record-ID", record_id),
        ("WARC-Refers-To", refers_to or record_id), ("WARC-Block-Digest", _b32_sha1(body)),
    ]
    if language:
        headers.append(("WARC-Identified-Content-Language", language))
    headers.append(("Content-Type", "text/plain"))
    return _member(headers, body)


def warcinfo_record(filename: str, snapshot: str, date: datetime, record_id: str) -> bytes:
    body = (f"Software-Info: crawlaudit sample-corpus\r\nisPartOf: {snapshot}\r\n"
            f"description: crawlaudit planted sample corpus\r\n").encode()
    headers = [("WARC-Type", "warcinfo"), ("WARC-Date", date.strftime("%Y-%m-%dT%H:%M:%SZ")),
               ("WARC-Filename", filename), ("WARC-Record-ID", record_id), ("Content-Type", "application/warc-fields")]
    return _member(headers, body)


def _uuid(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def write_corpus(out_dir: str | Path, spec: CorpusSpec = CorpusSpec(), texts: list[str] | None = None) -> dict:
    """Write the WET files, a ``wet.paths.gz`` per snapshot and ``ground_truth.json`` under ``out_dir``.

    Layout mirrors Common Crawl: ``crawl-data/<snapshot>/segments/<seg>/wet/<file>.warc.wet.gz`` with
    ``crawl-data/<snapshot>/wet.paths.gz`` listing paths relative to ``out_dir``.
    Returns the ground truth (also written to ``ground_truth.json``).
    """
    out = Path(out_dir)
    gen = _Generator(spec, texts)
    produced = []
    for i, snapshot in enumerate(sorted(spec.snapshots)):
        docs = gen.snapshot_docs(snapshot, i)
        gen.rng.shuffle(docs)
        produced.append((snapshot, docs))
        _write_snapshot(out, snapshot, docs, spec.files_per_snapshot, gen.rng)
    truth = _truth(produced, gen.domains)
    truth["spec"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()}
    truth["source"] = "texts" if texts else "zipf"
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")
    return truth


def _write_snapshot(out: Path, snapshot: str, docs: list[_Doc], n_files: int, rng: random.Random) -> None:
    year, week = parse_snapshot(snapshot)
    start = datetime.fromisocalendar(year, week, 1).replace(tzinfo=timezone.utc)
    segment = f"{int(start.timestamp())}.{week:02d}"
    rel_paths = []
    for f in range(n_files):
        name = f"{snapshot}-{start:%Y%m%d}000000-{f:05d}.warc.wet.gz"
        rel = f"crawl-data/{snapshot}/segments/{segment}/wet/{name}"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        buf.write(warcinfo_record(name, snapshot, start, _uuid(rng)))
        for doc in docs[f::n_files]:
            date = start + timedelta(seconds=rng.randrange(7 * 86400))
            buf.write(wet_record(doc.url, date, _uuid(rng), doc.text, refers_to=_uuid(rng)))
        path.write_bytes(buf.getvalue())
        rel_paths.append(rel)
    manifest = out / "crawl-data" / snapshot / "wet.paths.gz"
    manifest.write_bytes(gzip.compress(("\n".join(rel_paths) + "\n").encode(), mtime=0))


def read_texts(path: str | Path, label: str | None = None) -> list[str]:
    """Texts from JSON lines (``text``, ``label``), optionally one label only; a .gz file or a directory of them."""
    p = Path(path)
    files = sorted(p.glob("*.jsonl*")) if p.is_dir() else [p]
    texts = []
    for f in files:
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    if label is None or row.get("label") == label:
                        texts.append(row["text"])
    return texts


def generated_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` documents from the generator's richest vocabulary level (10,000 Zipf types): a seed corpus with a
    long tail, used by ``simulate-collapse`` when no real texts are given."""
    gen = _Generator(CorpusSpec(n_domains=len(VOCAB_LEVELS), seed=seed))
    rich = gen.domains[len(VOCAB_LEVELS) - 1]
    return [gen.contents[gen._fresh(rich)] for _ in range(n)]


def compare_with_truth(domain_rows: list[dict], truth: dict, min_docs: int = 50) -> dict:
    """Compare audited ``domain_stats`` rows with a corpus's ground truth.

    Returns the largest absolute deviations of exact_dup_frac and cross_snapshot_dup_frac over the
    (snapshot, domain) pairs with at least ``min_docs`` documents, the pairs whose n_docs differ, and the mean
    entropy per planted vocabulary size (which should increase with it).
    """
    worst = {"exact_dup_frac": 0.0, "cross_snapshot_dup_frac": 0.0}
    n_checked, n_docs_mismatch, missing = 0, [], []
    entropy_by_vocab: dict[int, list[float]] = defaultdict(list)
    audited = {(r["snapshot"], r["registered_domain"]): r for r in domain_rows}
    for snapshot, info in truth["snapshots"].items():
        for domain, t in info["domains"].items():
            r = audited.get((snapshot, domain))
            if r is None:
                if any(s == snapshot for s, _ in audited):
                    missing.append((snapshot, domain))
                continue
            if r["n_docs"] != t["n_docs"]:
                n_docs_mismatch.append((snapshot, domain, r["n_docs"], t["n_docs"]))
            if r["n_docs"] >= min_docs:
                n_checked += 1
                for k in worst:
                    worst[k] = max(worst[k], abs(r[k] - t[k]))
            if r.get("entropy_budget_met") and t.get("vocab_size"):
                entropy_by_vocab[t["vocab_size"]].append(r["entropy_bits"])
    return {
        "checked_pairs": n_checked, "max_abs_error": worst, "n_docs_mismatch": n_docs_mismatch,
        "missing": missing,
        "mean_entropy_by_vocab": {v: sum(e) / len(e) for v, e in sorted(entropy_by_vocab.items())},
    }
