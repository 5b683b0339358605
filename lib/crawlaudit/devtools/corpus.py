"""A Common Crawl-format sample corpus with planted, known ground truth (``crawlaudit sample-corpus``).

Each domain draws words from its own vocabulary (size V, Zipf-distributed, exponent 1.1), so a domain with a
larger planted V has a higher unigram entropy. Per (snapshot, domain) the generator plants exact duplicates
(copies that differ only in case, white space, digits and punctuation, which the cc_net normalization
removes), content reused from the domain's earlier snapshots, and a few copies syndicated from another
domain. Every page is wrapped in its domain's site template (header, menu, footer, cookie notice): the footer's
year changes every year and each domain redesigns its template every few years, so an article recrawled later
sits in a different page. The truth in ``ground_truth.json`` is computed from the generator's own content ids
and article texts, never from the audit's hashing, so the audit is checked against something independent of it.

Everything is seeded: the same spec gives byte-identical files.
"""
from __future__ import annotations

import base64
import dataclasses
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

import numpy as np

from crawlaudit.config import parse_snapshot
from crawlaudit.metrics.text import normalize_for_hash

DEFAULT_SNAPSHOTS = (
    "CC-MAIN-2019-35", "CC-MAIN-2020-34", "CC-MAIN-2021-31",
    "CC-MAIN-2022-33", "CC-MAIN-2024-22", "CC-MAIN-2025-26",
)
SUFFIXES = ("com", "org", "net", "co.uk", "de", "com.au", "fr", "io", "blogspot.com")
VOCAB_LEVELS = (150, 600, 2500, 10000)
DUP_RATES = (0.0, 0.05, 0.12, 0.25, 0.4)
REUSE_RATES = (0.0, 0.06, 0.15, 0.3)
NEAR_DUP_RATES = (0.0, 0.1, 0.25, 0.4)        # share of a domain's documents planted in near-duplicate families
REPOST_RATES = (0.0, 0.08, 0.2)               # lightly edited reposts of the domain's earlier pages
TEMPLATE_REDESIGN_YEARS = 3                    # a domain redesigns its site template every 3 years (phase per domain)
COOKIE_NOTICE = "We use cookies to improve your experience on our site. Accept"
EDIT_RATE_MAX = 0.06                          # per-word edit probability of a family member: Jaccard ≈ 0.5-1.0
REPOST_EDIT_RATE = (0.002, 0.008)             # light edits: reposts stay clear of the 0.8 threshold ...
REPOST_MIN_JACCARD = 0.92                     # ... by at least three standard errors of a 128-permutation estimate
SHINGLE_SIZE = 5
NEAR_DUP_THRESHOLD = 0.8
DOCUMENTS_FILE = "documents.jsonl.gz"   # per-document truth (``_document_truth``), beside ground_truth.json
VINTAGE_BEFORE_YEAR = 2023   # synthetic.vintage_before_year's default: content first seen before it is "vintage"
LINE_MIN_REPEATS = 3
ZIPF_EXPONENT = 1.1
# Planted AI-generated text. The sample corpus's "language models" write in the domain's vocabulary, drawn with the
# Zipf weights raised to ``sharpen`` (fewer rare words: the diversity loss of model output), and slip in their pet
# words (one fixed pool, whatever the corpus seed, like a real model's style) at ``style_rate`` of the words;
# human writers use those words too, at HUMAN_STYLE_RATE. Two models, so detectors meet a generator shift.
AI_GENERATORS = {"sample-lm-a": {"style_rate": 0.02, "sharpen": 1.3}, "sample-lm-b": {"style_rate": 0.014, "sharpen": 1.2}}
HUMAN_STYLE_RATE = 0.004
AI_STYLE_SEED, AI_STYLE_WORDS = 2023, 150
AI_DOMAIN_FACTORS = (0.0, 0.5, 1.0, 1.5, 2.0)   # a domain's AI share = the year's share × its factor
AI_SHARE_MAX = 0.9
DEFAULT_AI_SHARE = ((2024, 0.15), (2025, 0.3))  # by year; years before the first listed get 0
LARGE_DOMAIN_EVERY, LARGE_DOMAIN_DOCS = 10, (260, 340)  # every 10th domain: >= 200 documents per snapshot
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
# The sample corpus's languages. "eng" is the pseudo-English every domain wrote before languages were planted (its
# header says eng; the sample detector is trained on it); the others are pseudo-languages written with syllables of
# a script that, among Common Crawl's frequent languages (``languages.set``'s default), only that language uses:
# an offline detector can only answer the planted language, so records without a header have a known truth.
LANGUAGE_SYLLABLES = {
    "eng": _SYLLABLES,
    "ell": [c + v for c in "βγδζθκλμνπρστφχ" for v in "αεηιουω"],
    "kor": [chr(0xAC00 + i) for i in range(0, 11172, 37)],
    "tha": [c + v for c in "กขคงจฉชซดตถทนบปผพฟมยรลวสหอ" for v in ("า", "ี", "ู", "ะ", "ิ", "ุ", "ำ", "")],
}
# the demo corpus's other languages: (code, domains); their pages grow from half to twice the base size across the
# snapshots (the crawl's language mix shifts; each language's own vocabulary does not), 30% of their records have
# no language header, and one domain writes in two of them
DEMO_LANGUAGES = (("ell", 2), ("kor", 2), ("tha", 1))
DEMO_LANGUAGE_GROWTH = (0.5, 2.0)
DEMO_HEADERLESS_SHARE = 0.3


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate. ``docs_per_domain``: range of a domain's base size (it varies ±20% per snapshot); every
    ``LARGE_DOMAIN_EVERY``-th domain's is drawn from ``large_domain_docs`` instead (None: no large domains).
    ``ai_share``: the planted share of model-written new content by year (see ``year_ai_share``). ``templates``:
    wrap every page in its domain's site template (``site_template``). ``single_doc_share``: the share of domains
    with one document per snapshot, a crawl's long tail (domain i is one when ⌊(i + 1)·share⌋ > ⌊i·share⌋: chosen
    without random draws, so every other domain is generated as without a tail).
    ``languages``: further domains in other pseudo-languages (``LANGUAGE_SYLLABLES``), (code, n_domains) each, made
    by generators of their own after the ``n_domains`` pseudo-English ones, which stay byte-identical to a corpus
    without them; their sizes are scaled by ``language_growth`` (first, last snapshot; linear in between), a share
    ``headerless_share`` of their records has no language header, and with ``bilingual`` the first domain of the
    second language is the first domain of the first language too (one site, two languages)."""

    snapshots: tuple[str, ...] = DEFAULT_SNAPSHOTS
    n_domains: int = 40
    docs_per_domain: tuple[int, int] = (25, 130)
    doc_tokens: tuple[int, int] = (120, 420)
    files_per_snapshot: int = 3
    seed: int = 1729
    ai_share: tuple[tuple[int, float], ...] = DEFAULT_AI_SHARE
    large_domain_docs: tuple[int, int] | None = LARGE_DOMAIN_DOCS
    templates: bool = True
    single_doc_share: float = 0.0
    languages: tuple[tuple[str, int], ...] = ()
    language_growth: tuple[float, float] = (1.0, 1.0)
    headerless_share: float = 0.0
    bilingual: bool = False


def parse_ai_share(text: str) -> tuple[tuple[int, float], ...]:
    """``"2024=0.15,2025=0.3"`` → ((2024, 0.15), (2025, 0.3)). Raises ValueError with the offending item."""
    out = []
    for item in filter(None, (x.strip() for x in text.split(","))):
        year, sep, share = item.partition("=")
        try:
            y, v = int(year), float(share)
        except ValueError:
            raise ValueError(f"--ai-share item {item!r}: expected YEAR=SHARE, e.g. 2024=0.15") from None
        if not sep or not 0.0 <= v <= 1.0:
            raise ValueError(f"--ai-share item {item!r}: expected YEAR=SHARE with SHARE in [0, 1]")
        out.append((y, v))
    return tuple(sorted(out))


def year_ai_share(schedule: tuple[tuple[int, float], ...], year: int) -> float:
    """The share planted in ``year``: the latest scheduled year at or before it (0 before the first)."""
    share = 0.0
    for y, v in schedule:
        if y <= year:
            share = v
    return share


@dataclass
class _Doc:
    content_id: int
    text: str          # the page as written: the article, wrapped in the domain's template
    url: str
    domain: str
    article: str = ""  # the article alone (the text before wrapping): what the reuse truth compares
    language: str = "eng"
    has_language_header: bool = True
    record_id: str = ""  # its WARC-Record-ID, once written


@dataclass
class _Domain:
    registered_domain: str
    hosts: list[str]
    vocab_size: int
    dup_rate: float
    reuse_rate: float
    base_docs: int
    syndicates_from: int | None
    near_dup_rate: float = 0.0
    repost_rate: float = 0.0
    name: str = ""
    template_phase: int = 0
    ai_factor: float = 0.0
    words: list[str] = field(repr=False, default_factory=list)
    weights: np.ndarray | None = field(repr=False, default=None)


def _word_pool(rng: random.Random, n: int, syllables: list[str] = _SYLLABLES) -> list[str]:
    seen: set[str] = set()
    while len(seen) < n:
        seen.add("".join(rng.choice(syllables) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))))
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
            base_docs=rng.randint(*spec.docs_per_domain)
            if not spec.large_domain_docs or i % LARGE_DOMAIN_EVERY != LARGE_DOMAIN_EVERY - 1
            else rng.randint(*spec.large_domain_docs),
            syndicates_from=(i + 1) % spec.n_domains if i % 7 == 3 and spec.n_domains > 1 else None,
            words=rng.sample(pool, v), weights=weights / weights.sum(),
            near_dup_rate=NEAR_DUP_RATES[(i + i // 4) % len(NEAR_DUP_RATES)],
            repost_rate=REPOST_RATES[(i // 2 + 1) % len(REPOST_RATES)],
            name=name.capitalize(), template_phase=i % TEMPLATE_REDESIGN_YEARS,
            ai_factor=AI_DOMAIN_FACTORS[(i + i // 5) % len(AI_DOMAIN_FACTORS)],
        )
        if int((i + 1) * spec.single_doc_share) > int(i * spec.single_doc_share):
            d.base_docs = 1
        # the draws that once made the domain's header and footer lines (now site_template's): kept, so the
        # domains' vocabularies, and the shipped sample detector trained on them, stay what they were
        rng.sample(pool, 6), rng.choice(pool), rng.choice(pool)
        out.append(d)
    return out


ENGLISH_PHRASES = ("Skip to content", "Follow", "on", "All rights reserved.", COOKIE_NOTICE)


def _phrases(language: str) -> tuple[str, ...]:
    """The fixed phrases of a site template in ``language`` (pseudo-words of its script for the pseudo-languages)."""
    if language == "eng":
        return ENGLISH_PHRASES
    rng = random.Random(f"phrases/{language}")
    words = _word_pool(rng, 40, LANGUAGE_SYLLABLES[language])
    return tuple(" ".join(rng.sample(words, k)).capitalize() + end
                 for k, end in ((3, ""), (1, ""), (1, ""), (4, "."), (10, ".")))


def site_template(d: _Domain, year: int, language: str = "eng") -> tuple[str, str]:
    """(header, footer) of ``d``'s pages in ``year``: site name and tagline, "Skip to content", a menu; a social
    line, "© YEAR Name. All rights reserved." and a cookie notice (their words in ``language``). The design
    (tagline, menu, social line) changes every TEMPLATE_REDESIGN_YEARS years, at a year that depends on the domain;
    the footer's year every year."""
    skip, follow, on, reserved, cookies = _phrases(language)
    design = (year + d.template_phase) // TEMPLATE_REDESIGN_YEARS
    rng = random.Random(f"{d.registered_domain}/design/{design}" + ("" if language == "eng" else f"/{language}"))
    menu = " | ".join(w.capitalize() for w in rng.sample(d.words, 6))
    header = f"{d.name} {rng.choice(d.words).capitalize()} {rng.choice(d.words)}\n{skip}\n{menu}"
    social = rng.choice(("Facebook", "Twitter", "Instagram", "Mastodon"))
    footer = (f"{follow} {d.name} {on} {social} {rng.choice(d.words)}\n© {year} {d.name}. {reserved}\n"
              f"{cookies}")
    return header, footer


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


def _edited(text: str, rate: float, words: list[str], rng: random.Random) -> str:
    """A near-duplicate: each word substituted, deleted or followed by an inserted word with probability ``rate``
    (one third each); line structure kept."""
    lines = []
    for line in text.split("\n"):
        out = []
        for w in line.split(" "):
            r = rng.random()
            if r >= rate:
                out.append(w)
            elif r < rate / 3:
                out.append(rng.choice(words))        # substitution
            elif r >= 2 * rate / 3:
                out.extend((w, rng.choice(words)))   # insertion
            # else: deletion
        lines.append(" ".join(out))
    return "\n".join(lines)


_STYLE_SYLLABLES = [c + v for c in ("th", "sh", "ch", "qu", "x") for v in ("a", "e", "i", "o", "u", "ea")]


def style_words() -> list[str]:
    """The sample language models' pet words (fixed, independent of the corpus seed). Built from syllables the
    domain vocabularies never use, as "delve" or "tapestry" stand apart from a site's own words."""
    rng = random.Random(AI_STYLE_SEED)
    seen: set[str] = set()
    while len(seen) < AI_STYLE_WORDS:
        seen.add("".join(rng.choice(_STYLE_SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4)))))
    return sorted(seen)


class _Generator:
    def __init__(self, spec: CorpusSpec, texts: list[str] | None = None, ai_texts: list[str] | None = None,
                 language: str = "eng", first_content: int = 0):
        self.spec, self.language = spec, language
        self.rng = random.Random(spec.seed)
        self.np_rng = np.random.default_rng(spec.seed)
        self.pool = _word_pool(self.rng, 30_000, LANGUAGE_SYLLABLES[language])
        self.domains = _domains(spec, self.rng, self.pool)
        self.size_factor = 1.0                   # the current snapshot's size multiplier (language_growth)
        self.texts = texts
        self.ai_texts = ai_texts
        self.style = style_words()
        self.ai_contents: set[int] = set()      # content ids written by a (sample) language model
        self.ai_p = 0.0                          # the current (snapshot, domain)'s planted AI share
        self.next_content = first_content
        self.contents: dict[int, str] = {}
        self.domain_contents: dict[str, list[int]] = defaultdict(list)
        self.url_counter = Counter()
        self.families: dict[str, list[list[_Doc]]] = defaultdict(list)  # snapshot → near-dup families, root first

    def _words(self, d: _Domain, model: str | None) -> list[str]:
        """A document's words: the domain's Zipf draw, sharpened for a model, with style words slipped in."""
        n = self.rng.randint(*self.spec.doc_tokens)
        weights, rate = d.weights, HUMAN_STYLE_RATE
        if model is not None:
            weights = d.weights ** AI_GENERATORS[model]["sharpen"]
            weights = weights / weights.sum()
            rate = AI_GENERATORS[model]["style_rate"]
        idx = self.np_rng.choice(d.vocab_size, size=n, p=weights)
        styled = self.np_rng.random(n) < rate
        picks = self.np_rng.integers(len(self.style), size=n)
        return [self.style[picks[j]] if styled[j] else d.words[k] for j, k in enumerate(idx)]

    def _fresh(self, d: _Domain, ai: bool | None = None) -> int:
        """New content; written by a sample language model with the current planted share (or as ``ai`` says)."""
        cid = self.next_content
        self.next_content += 1
        if ai is None:
            ai = self.ai_p > 0 and self.rng.random() < self.ai_p
        if ai:
            self.ai_contents.add(cid)
        pool = (self.ai_texts if ai else self.texts) if (self.texts or self.ai_texts) else None
        if pool:
            text = pool[cid % len(pool)] + ("" if cid < len(pool) else f"\n[{cid}]")
        else:
            model = sorted(AI_GENERATORS)[self.rng.randrange(len(AI_GENERATORS))] if ai else None
            text = _sentences(self._words(d, model), self.rng)
        self.contents[cid] = text
        return cid

    def _near_copy(self, d: _Domain, cid: int, rate: float, min_jaccard: float = 0.0) -> int:
        """New content: an edited copy of content ``cid`` that differs from it after normalization, and keeps at
        least ``min_jaccard`` of its shingles (drawn again until it does)."""
        original = normalize_for_hash(self.contents[cid])
        source = shingle_sets([self.contents[cid]])[0] if min_jaccard else None
        while True:
            text = _edited(self.contents[cid], rate, d.words, self.rng)
            if normalize_for_hash(text) == original:
                continue
            if source is None:
                break
            if set_jaccard(source, shingle_sets([text])[0]) >= min_jaccard:
                break
        new = self.next_content
        self.next_content += 1
        self.contents[new] = text
        if cid in self.ai_contents:
            self.ai_contents.add(new)
        return new

    def _url(self, d: _Domain, year: int) -> str:
        host = self.rng.choice(d.hosts)
        self.url_counter[d.registered_domain] += 1
        return f"https://{host}/{year}/{self.rng.choice(self.pool)}-{self.url_counter[d.registered_domain]}.html"

    def snapshot_docs(self, snapshot: str, index: int) -> list[_Doc]:
        year, _ = parse_snapshot(snapshot)
        per_domain: dict[str, list[_Doc]] = {}
        new_contents: dict[str, list[int]] = defaultdict(list)
        for d in self.domains:
            self.ai_p = min(AI_SHARE_MAX, year_ai_share(self.spec.ai_share, year) * d.ai_factor)
            n = 1 if d.base_docs == 1 else max(2, round(d.base_docs * self.size_factor * self.rng.uniform(0.8, 1.2)))
            earlier = list(self.domain_contents[d.registered_domain])
            n_reuse = min(round(d.reuse_rate * n), len(earlier)) if index > 0 else 0
            n_dup = round(d.dup_rate * n)
            docs: list[_Doc] = []
            for cid in self.rng.sample(earlier, n_reuse):
                docs.append(_Doc(cid, _variant(self.contents[cid], self.rng), self._url(d, year), d.registered_domain))
            if index > 0:  # lightly edited reposts of earlier pages (cross-snapshot near-duplicates)
                for cid in self.rng.sample(earlier, min(round(d.repost_rate * n), len(earlier))):
                    new = self._near_copy(d, cid, self.rng.uniform(*REPOST_EDIT_RATE), REPOST_MIN_JACCARD)
                    docs.append(_Doc(new, self.contents[new], self._url(d, year), d.registered_domain))
            fam_docs, n_fam = 0, round(d.near_dup_rate * n)
            while fam_docs + 2 <= n_fam and len(docs) + 2 <= n:  # near-duplicate families, Jaccard ~0.5-1.0
                size = min(self.rng.choice((2, 2, 3, 4)), n_fam - fam_docs)
                root = self._fresh(d)
                new_contents[d.registered_domain].append(root)
                family = [_Doc(root, self.contents[root], self._url(d, year), d.registered_domain)]
                for _ in range(size - 1):
                    new = self._near_copy(d, root, self.rng.uniform(0.005, EDIT_RATE_MAX))
                    family.append(_Doc(new, self.contents[new], self._url(d, year), d.registered_domain))
                docs.extend(family)
                self.families[snapshot].append(family)
                fam_docs += size
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
        self.ai_p = 0.0
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
        by_name = {d.registered_domain: d for d in self.domains}
        for doc in (doc for docs in per_domain.values() for doc in docs):
            doc.article, doc.language = doc.text, self.language
            if self.spec.templates:
                header, footer = site_template(by_name[doc.domain], year, self.language)
                doc.text = f"{header}\n{doc.article}\n{footer}"
        return [doc for docs in per_domain.values() for doc in docs]


def shingle_sets(texts: list[str] | None, k: int = SHINGLE_SIZE,
                 tokens: list[list[str]] | None = None) -> list[np.ndarray]:
    """Word k-gram sets of the normalized texts (a text shorter than k words: its whole word sequence), each as
    the sorted distinct Python hashes of its k-gram tuples: independent of the audit's hashing, and exact up to
    64-bit collisions (only ever compared within one process). ``tokens``: the normalized words, if at hand."""
    out = []
    for toks in tokens if tokens is not None else (normalize_for_hash(t).split() for t in texts):
        grams = {hash(tuple(toks[j:j + k])) for j in range(max(len(toks) - k + 1, 1))} if toks else set()
        out.append(np.unique(np.fromiter(grams, dtype=np.int64, count=len(grams))))
    return out


def set_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two ``shingle_sets`` entries."""
    return len(np.intersect1d(a, b)) / len(np.union1d(a, b))


def jaccard_pairs(sets_a: list[np.ndarray], sets_b: list[np.ndarray] | None = None, min_jaccard: float = 0.0):
    """Exact Jaccard similarity of every pair of sets sharing an element, by brute force (a sparse product).

    Returns (rows, cols, jaccard) arrays: pairs (i, j) with i < j within ``sets_a`` when ``sets_b`` is None,
    else pairs of ``sets_a[i]`` and ``sets_b[j]``; only those with jaccard >= ``min_jaccard`` (and > 0).
    """
    from scipy import sparse

    groups = [sets_a] if sets_b is None else [sets_a, sets_b]
    values = np.concatenate([x for g in groups for x in g] + [np.zeros(0, np.int64)])
    _, cols = np.unique(values, return_inverse=True)
    n_cols = int(cols.max()) + 1 if cols.size else 0
    mats, start = [], 0
    for g in groups:
        sizes = np.fromiter((len(x) for x in g), dtype=np.int64, count=len(g))
        rows = np.repeat(np.arange(len(g)), sizes)
        c = cols[start:start + rows.size]
        start += rows.size
        mats.append((sparse.csr_matrix((np.ones(rows.size, np.float32), (rows, c)), shape=(len(g), n_cols)), sizes))
    (xa, size_a), (xb, size_b) = mats[0], mats[-1]
    inter = (xa @ xb.T).tocoo()
    i, j, n = inter.row, inter.col, inter.data
    if sets_b is None:
        keep = i < j
        i, j, n = i[keep], j[keep], n[keep]
    jac = n / (size_a[i] + size_b[j] - n)
    keep = jac >= max(min_jaccard, 1e-12)
    return i[keep], j[keep], jac[keep]


def _near_dup_truth(snapshots: list[tuple[str, list[_Doc]]]) -> tuple[dict, dict]:
    """Per snapshot and domain, by brute force on the written texts: near_dup_frac, near_dup_removable_frac,
    cross_snapshot_near_dup_frac (Jaccard >= NEAR_DUP_THRESHOLD on SHINGLE_SIZE-word shingles) and
    dup_line_frac (normalized lines occurring >= LINE_MIN_REPEATS times in the snapshot); and per snapshot, each
    document's (cluster label, has a near-duplicate in an earlier snapshot), in the order of its documents."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    out: dict = {}
    per_doc: dict = {}
    earlier: list[np.ndarray] = []
    for snapshot, docs in snapshots:
        doc_lines = [[x for x in (normalize_for_hash(line) for line in d.text.split("\n")) if x] for d in docs]
        sets = shingle_sets([d.article or d.text for d in docs])
        i, j, _ = jaccard_pairs(sets, min_jaccard=NEAR_DUP_THRESHOLD)
        n = len(docs)
        has_near = np.zeros(n, bool)
        has_near[i] = has_near[j] = True
        _, label = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
        cross = np.zeros(n, bool)
        if earlier:
            ci, _, _ = jaccard_pairs(sets, earlier, min_jaccard=NEAR_DUP_THRESHOLD)
            cross[ci] = True
        line_counts = Counter(x for lines in doc_lines for x in lines)
        by_domain: dict[str, list[int]] = defaultdict(list)
        for k, d in enumerate(docs):
            by_domain[d.domain].append(k)
        rows = {}
        for rd, idx in by_domain.items():
            n_lines = sum(len(doc_lines[k]) for k in idx)
            n_dup_lines = sum(line_counts[x] >= LINE_MIN_REPEATS for k in idx for x in doc_lines[k])
            rows[rd] = {
                "near_dup_frac": float(has_near[idx].mean()),
                "near_dup_removable_frac": (len(idx) - len(set(label[idx]))) / len(idx),
                "cross_snapshot_near_dup_frac": float(cross[idx].mean()),
                "dup_line_frac": n_dup_lines / n_lines if n_lines else 0.0,
            }
        out[snapshot] = rows
        per_doc[snapshot] = (label, cross)
        earlier.extend(sets)
    return out, per_doc


def _document_truth(snapshots: list[tuple[str, list[_Doc]]], per_doc: dict, ai_contents: set[int]) -> list[dict]:
    """One row per written document (``DOCUMENTS_FILE``; the fields: ``_truth``'s definitions): what it is, and
    whether a curator keeping the human pre-LLM web once (``vintage-human-unique``) keeps it. Documents are named by snapshot and WARC-Record-ID;
    ties between copies go to the smallest doc id (``make_doc_id``), the rule of the curation view."""
    from crawlaudit.ingest.wet import make_doc_id

    rows, first_seen = [], {}
    for snapshot, docs in snapshots:
        label, cross = per_doc[snapshot]
        ids = [make_doc_id(snapshot, d.record_id) for d in docs]
        first_of_content, first_of_cluster = {}, {}
        for k in sorted(range(len(docs)), key=ids.__getitem__):
            first_of_content.setdefault(docs[k].content_id, k)
            first_of_cluster.setdefault(int(label[k]), k)
        for k, d in enumerate(docs):
            first_seen.setdefault(d.content_id, snapshot)
            row = {"snapshot": snapshot, "url": d.url, "warc_record_id": d.record_id, "doc_id": ids[k],
                   "registered_domain": d.domain, "language": d.language, "content_id": d.content_id,
                   "is_ai": d.content_id in ai_contents, "first_seen_snapshot": first_seen[d.content_id],
                   "is_first_copy": first_seen[d.content_id] == snapshot and first_of_content[d.content_id] == k,
                   "is_cluster_representative": first_of_cluster[int(label[k])] == k,
                   "is_reposted": bool(cross[k])}
            row["vintage"] = parse_snapshot(row["first_seen_snapshot"])[0] < VINTAGE_BEFORE_YEAR
            row["keep_vintage_human_unique"] = not row["is_ai"] and _kept_if_human(row)
            rows.append(row)
    return rows


def _kept_if_human(t: dict) -> bool:
    """Whether vintage-human-unique keeps the document of truth row ``t`` when it is (or is taken as) human: the
    first copy of its text, its cluster's representative, not a repost, vintage."""
    return t["is_first_copy"] and t["is_cluster_representative"] and not t["is_reposted"] and t["vintage"]


def _family_truth(families: list[list[_Doc]]) -> list[dict]:
    """Each planted family: its domain, URLs (root first) and the exact Jaccard of each member's article to the
    root's."""
    out = []
    for fam in families:
        sets = shingle_sets([d.article or d.text for d in fam])
        jac = [set_jaccard(sets[0], st) for st in sets[1:]]
        out.append({"domain": fam[0].domain, "urls": [d.url for d in fam], "jaccard_to_root": [round(x, 4) for x in jac]})
    return out


def _truth(snapshots: list[tuple[str, list[_Doc]]], domains: list[_Domain],
           families: dict[str, list[list[_Doc]]] | None = None, ai_contents: set[int] = frozenset(),
           ai_share: tuple[tuple[int, float], ...] = ()) -> dict:
    vocab = {d.registered_domain: d for d in domains}
    seen_before: set[int] = set()
    out = {"definitions": {
        "exact_dup_frac": "share of the domain's documents whose article occurs in >= 2 documents of the snapshot",
        "cross_snapshot_dup_frac": "share of the domain's documents whose article occurs in an earlier snapshot "
                                   "(whatever template wrapped it there)",
        "vocab_size": "number of word types the domain's generator draws from (Zipf, exponent %.2f)" % ZIPF_EXPONENT,
        "near_dup_frac": "share of the domain's documents with another document of the snapshot at exact Jaccard "
                         f">= {NEAR_DUP_THRESHOLD} on {SHINGLE_SIZE}-word shingles of the normalized article (the "
                         "page without its site template; brute force)",
        "near_dup_removable_frac": "(documents - clusters among them) / documents; clusters: connected components "
                                   "of the near-duplicate pairs",
        "cross_snapshot_near_dup_frac": "share of the domain's documents whose article has a near-duplicate among "
                                        "the articles of an earlier snapshot",
        "dup_line_frac": f"share of the domain's normalized lines (whole pages, templates included) occurring >= "
                         f"{LINE_MIN_REPEATS} times in the snapshot",
        "template_phase": f"the domain redesigns its site template in the years y with (y + phase) divisible by "
                          f"{TEMPLATE_REDESIGN_YEARS}; the footer's year changes every year",
        "synthetic_ratio": "share of the domain's documents written by a (sample) language model, copies included",
        "planted_ai_share": "the probability with which new content of the domain was model-written that snapshot",
        "language_counts": "documents per planted language (ISO 639-3; pseudo-languages, see LANGUAGE_SYLLABLES)",
        "n_without_language_header": "records written without WARC-Identified-Content-Language (the audit must "
                                     "detect their language)",
        "ai_counts_by_language": "model-written documents per planted language",
        "documents_file": "one JSON line per document: snapshot, url, warc_record_id, doc_id, content_id, is_ai; "
                          "is_first_copy (the earliest snapshot's smallest doc_id of its article), "
                          "is_cluster_representative (the smallest doc_id of its near-duplicate cluster in the "
                          "snapshot, brute force), is_reposted (a near-duplicate in an earlier snapshot), "
                          "first_seen_snapshot, vintage (first seen before %d), keep_vintage_human_unique (human, "
                          "first copy, cluster representative, not reposted, vintage)" % VINTAGE_BEFORE_YEAR,
    }, "ai_share_schedule": {str(y): v for y, v in ai_share}, "snapshots": {}, "years": {}}
    year_ai: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    year_languages: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    near, per_doc = _near_dup_truth(snapshots)
    out["documents"] = _document_truth(snapshots, per_doc, ai_contents)
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
                "language_counts": dict(sorted(Counter(x.language for x in ds).items())),
                "ai_counts_by_language": dict(sorted(Counter(x.language for x in ds
                                                             if x.content_id in ai_contents).items())),
                "n_without_language_header": sum(not x.has_language_header for x in ds),
                "exact_dup_frac": sum(counts[x.content_id] >= 2 for x in ds) / n,
                "cross_snapshot_dup_frac": sum(x.content_id in seen_before for x in ds) / n,
                "vocab_size": d.vocab_size,
                "planted_dup_rate": d.dup_rate,
                "planted_reuse_rate": d.reuse_rate,
                "planted_near_dup_rate": d.near_dup_rate,
                "planted_repost_rate": d.repost_rate,
                "template_phase": d.template_phase,
                "synthetic_ratio": sum(x.content_id in ai_contents for x in ds) / n,
                "planted_ai_share": min(AI_SHARE_MAX, year_ai_share(ai_share, parse_snapshot(snapshot)[0]) * d.ai_factor),
                **near[snapshot][rd],
            }
        year = parse_snapshot(snapshot)[0]
        n_ai = sum(x.content_id in ai_contents for x in docs)
        year_ai[year][0] += n_ai
        year_ai[year][1] += len(docs)
        by_language = _by_language(docs, ai_contents)
        for lang, (n_lang, ai_lang) in by_language.items():
            year_languages[year][lang][0] += n_lang
            year_languages[year][lang][1] += ai_lang
        out["snapshots"][snapshot] = {"year": year, "n_docs": len(docs), "domains": rows,
                                      "synthetic_ratio": n_ai / len(docs),
                                      "language_counts": {k: v[0] for k, v in by_language.items()},
                                      "ai_counts_by_language": {k: v[1] for k, v in by_language.items()},
                                      "n_without_language_header": sum(not x.has_language_header for x in docs),
                                      "near_dup_families": _family_truth((families or {}).get(snapshot, []))}
        seen_before.update(counts)
    out["years"] = {str(y): {"synthetic_ratio": a / n, "n_docs": n,
                             "language_counts": {k: v[0] for k, v in sorted(year_languages[y].items())},
                             "ai_counts_by_language": {k: v[1] for k, v in sorted(year_languages[y].items())}}
                    for y, (a, n) in sorted(year_ai.items())}
    return out


def _by_language(docs: list[_Doc], ai_contents: set[int]) -> dict[str, tuple[int, int]]:
    """language → (documents, model-written documents)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for x in docs:
        out[x.language][0] += 1
        out[x.language][1] += x.content_id in ai_contents
    return {k: (n, a) for k, (n, a) in sorted(out.items())}


def planted_share(counts: dict, languages) -> float | None:
    """The planted AI share among the documents in ``languages`` of a truth row holding ``language_counts`` and
    ``ai_counts_by_language`` (None when it has none of them)."""
    n = sum(counts["language_counts"].get(lang, 0) for lang in languages)
    return sum(counts["ai_counts_by_language"].get(lang, 0) for lang in languages) / n if n else None


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


def _language_generators(spec: CorpusSpec, main: _Generator) -> list[_Generator]:
    """One generator per further language of ``spec`` (``CorpusSpec.languages``), each with its own seed and
    content ids, so the pseudo-English generator's draws are those of a corpus without them."""
    gens: list[_Generator] = []
    taken = {d.registered_domain for d in main.domains}
    for k, (code, n) in enumerate(spec.languages):
        if code not in LANGUAGE_SYLLABLES or code == "eng":
            raise ValueError(f"corpus language {code!r}: expected one of {', '.join(sorted(LANGUAGE_SYLLABLES)[1:])}")
        sub = dataclasses.replace(spec, n_domains=n, seed=spec.seed * 7919 + k + 1, large_domain_docs=None,
                                  single_doc_share=0.0, languages=())
        gen = _Generator(sub, language=code, first_content=(k + 1) * 10**9)
        for d in gen.domains:
            while d.registered_domain in taken:   # a name another generator drew: deterministic, rare
                d.registered_domain = "x" + d.registered_domain
                d.hosts = [f"www.{d.registered_domain}", d.registered_domain]
            taken.add(d.registered_domain)
        gens.append(gen)
    if spec.bilingual and len(gens) >= 2:
        a, b = gens[0].domains[0], gens[1].domains[0]
        b.registered_domain, b.hosts, b.name = a.registered_domain, a.hosts, a.name
    return gens


def _language_docs(spec: CorpusSpec, gens: list[_Generator], snapshot: str, index: int) -> list[_Doc]:
    """The further languages' documents of a snapshot (``_language_generators``), shuffled, each with or without
    its language header."""
    n = len(spec.snapshots)
    lo, hi = spec.language_growth
    out: list[_Doc] = []
    for gen in gens:
        gen.size_factor = lo + (hi - lo) * (index / (n - 1) if n > 1 else 0.0)
        docs = gen.snapshot_docs(snapshot, index)
        for d in docs:
            d.has_language_header = gen.rng.random() >= spec.headerless_share
        out.extend(docs)
    random.Random(f"{spec.seed}/languages/{snapshot}/order").shuffle(out)
    return out


def generate_documents(spec: CorpusSpec = CorpusSpec()) -> dict[str, list[tuple[str, str, str]]]:
    """The documents ``write_corpus`` would write, in memory: snapshot → [(url, registered_domain, text)]."""
    gen = _Generator(spec)
    others = _language_generators(spec, gen)
    out = {}
    for i, snapshot in enumerate(sorted(spec.snapshots)):
        docs = gen.snapshot_docs(snapshot, i)
        gen.rng.shuffle(docs)
        out[snapshot] = [(d.url, d.domain, d.text) for d in docs + _language_docs(spec, others, snapshot, i)]
    return out


def write_corpus(out_dir: str | Path, spec: CorpusSpec = CorpusSpec(), texts: list[str] | None = None,
                 ai_texts: list[str] | None = None) -> dict:
    """Write the WET files, a ``wet.paths.gz`` per snapshot and ``ground_truth.json`` under ``out_dir``.

    Layout mirrors Common Crawl: ``crawl-data/<snapshot>/segments/<seg>/wet/<file>.warc.wet.gz`` with
    ``crawl-data/<snapshot>/wet.paths.gz`` listing paths relative to ``out_dir``.
    ``texts`` / ``ai_texts``: human and AI document texts to use instead of the generators.
    Returns the ground truth (also written to ``ground_truth.json``).
    """
    out = Path(out_dir)
    gen = _Generator(spec, texts, ai_texts)
    others = _language_generators(spec, gen)
    produced = []
    for i, snapshot in enumerate(sorted(spec.snapshots)):
        docs = gen.snapshot_docs(snapshot, i)
        gen.rng.shuffle(docs)
        extra = _language_docs(spec, others, snapshot, i)
        produced.append((snapshot, docs + extra))
        _write_snapshot(out, snapshot, docs, spec.files_per_snapshot, gen.rng, extra,
                        random.Random(f"{spec.seed}/languages/{snapshot}"))
    families: dict[str, list[list[_Doc]]] = defaultdict(list)
    for g in [gen, *others]:
        for snapshot, fams in g.families.items():
            families[snapshot].extend(fams)
    truth = _truth(produced, [d for g in [gen, *others] for d in g.domains], families,
                   set().union(*(g.ai_contents for g in [gen, *others])), spec.ai_share)
    truth["spec"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()}
    truth["source"] = "texts" if (texts or ai_texts) else "zipf"
    truth["documents_file"] = DOCUMENTS_FILE
    documents = truth.pop("documents")
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")
    (out / DOCUMENTS_FILE).write_bytes(gzip.compress("".join(json.dumps(r, sort_keys=True) + "\n"
                                                             for r in documents).encode(), mtime=0))
    return {**truth, "documents": documents}


def compare_curation(rows: list[dict], documents: list[dict], max_examples: int = 5) -> dict:
    """A curation export's rows (``crawlaudit export``, preset vintage-human-unique) against the per-document truth:
    a planted document agrees when its row exists and ``keep`` equals ``keep_vintage_human_unique``, except that
    model-written text planted before the vintage year (a corpus may plant it; the web had little) is expected
    kept: the preset takes vintage text as human by its date (``n_vintage_ai`` counts them). Rows of documents the
    corpus did not plant (added by hand) are not compared."""
    by_id = {r["doc_id"]: r for r in rows}
    n_agree, n_vintage_ai, examples = 0, 0, []
    for t in documents:
        r = by_id.get(t["doc_id"])
        expected = t["keep_vintage_human_unique"]
        if t["is_ai"] and t["vintage"]:
            n_vintage_ai += 1
            expected = _kept_if_human(t)
        if r is not None and r["keep"] == expected:
            n_agree += 1
        elif len(examples) < max_examples:
            examples.append({"snapshot": t["snapshot"], "url": t["url"], "planted_keep": expected,
                             "keep": None if r is None else r["keep"], "drop_reason": None if r is None else
                             r["drop_reason"]})
    return {"n_planted": len(documents), "n_agree": n_agree, "n_vintage_ai": n_vintage_ai,
            "n_kept": sum(bool(r["keep"]) for r in rows), "examples": examples}


def read_document_truth(corpus_dir: str | Path) -> list[dict]:
    """The per-document ground truth ``write_corpus`` wrote beside ground_truth.json (``DOCUMENTS_FILE``)."""
    path = Path(corpus_dir) / DOCUMENTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the corpus was generated before per-document truth was written "
                                f"(regenerate it: crawlaudit sample-corpus --force)")
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]


def _write_snapshot(out: Path, snapshot: str, docs: list[_Doc], n_files: int, rng: random.Random,
                    extra: list[_Doc] = (), extra_rng: random.Random | None = None) -> None:
    """The snapshot's files: ``docs`` (record ids and dates drawn from ``rng``), then ``extra`` (the further
    languages' documents, drawn from ``extra_rng``: the first part is what a corpus without them writes)."""
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
            doc.record_id = _uuid(rng)
            buf.write(wet_record(doc.url, date, doc.record_id, doc.text, refers_to=_uuid(rng)))
        for doc in extra[f::n_files]:
            date = start + timedelta(seconds=extra_rng.randrange(7 * 86400))
            doc.record_id = _uuid(extra_rng)
            buf.write(wet_record(doc.url, date, doc.record_id, doc.text,
                                 language=doc.language if doc.has_language_header else None,
                                 refers_to=_uuid(extra_rng)))
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


def labeled_texts(n_per_domain: int, spec: CorpusSpec = CorpusSpec(), seed: int = 7) -> list[dict]:
    """Labeled documents from the sample generators for training the demo's detector: human and each sample
    model in equal numbers, for every domain of ``spec`` (the domains' vocabularies are the corpus's: a pseudo-word
    domain shares no words with another, so a detector must have seen a domain's writing to judge it, as a real
    detector must have seen a language). The documents are new: drawn with their own ``seed``. JSON-lines rows
    with text, label, generator, domain and group."""
    gen = _Generator(spec)
    gen.rng, gen.np_rng = random.Random(seed), np.random.default_rng(seed)
    writers = [None] + sorted(AI_GENERATORS)
    rows = []
    for d in gen.domains:
        for i in range(n_per_domain):
            model = writers[i % len(writers)]
            text = _sentences(gen._words(d, model), gen.rng)   # articles: the audit scores main contents
            rows.append({"text": text, "label": "human" if model is None else "ai", "generator": model,
                         "domain": d.registered_domain, "group": f"{d.registered_domain}/{i}"})
    return rows


TRUTH_METRICS = ("exact_dup_frac", "cross_snapshot_dup_frac", "near_dup_frac", "near_dup_removable_frac",
                 "cross_snapshot_near_dup_frac", "dup_line_frac")


def compare_with_truth(domain_rows: list[dict], truth: dict, min_docs: int = 50) -> dict:
    """Compare audited ``domain_stats`` rows with a corpus's ground truth.

    Returns the largest absolute deviations of the duplication shares (``TRUTH_METRICS``) over the
    (snapshot, domain) pairs with at least ``min_docs`` documents, the pairs whose n_docs differ, and the mean
    entropy per planted vocabulary size (which should increase with it). A truth file written before a metric
    was planted simply lacks it: that metric is not compared.
    """
    worst = {k: 0.0 for k in TRUTH_METRICS}
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
                    if k in t:
                        worst[k] = max(worst[k], abs(r[k] - t[k]))
            if r.get("entropy_budget_met") and t.get("vocab_size"):
                entropy_by_vocab[t["vocab_size"]].append(r["entropy_bits"])
    return {
        "checked_pairs": n_checked, "max_abs_error": worst, "n_docs_mismatch": n_docs_mismatch,
        "missing": missing,
        "mean_entropy_by_vocab": {v: sum(e) / len(e) for v, e in sorted(entropy_by_vocab.items())},
    }
