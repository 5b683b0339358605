"""The one tokenizer and the one normalizer every metric shares.

Tokens: maximal runs of Unicode letters, combining marks and digits (``[\\p{L}\\p{M}\\p{N}]+``), joined across
an inner apostrophe (``don't`` is one token), lower-cased. Scripts written without spaces (Chinese, Japanese,
Thai) yield one token per run; entropy over such text measures runs, not words.

Normalization for exact-duplicate hashing follows cc_net (facebookresearch/cc_net, text_normalizer.py):
lower-case, drop digits, punctuation and symbols, collapse white space, so that pages differing only in
dates, counters or punctuation hash alike. It is computed from the tokens: the tokens with their digits and
apostrophes removed, joined by single spaces. These regex definitions are the reference; the audit computes
them with the compiled scanner of ``lines``, tested equal.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import regex

TOKEN_RE = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*")
_DIGITS_RE = regex.compile(r"\p{N}+")
APOSTROPHES = (ord("'"), ord("’"))  # the inner joiners of TOKEN_RE, dropped by normalize_tokens
_DROP_APOSTROPHES = dict.fromkeys(APOSTROPHES)

# classes of code points, for the compiled scanner that reproduces TOKEN_RE + normalize_tokens without regex
OTHER, LETTER, DIGIT = 0, 1, 2  # LETTER: \p{L} or \p{M}; DIGIT: \p{N}


@lru_cache(maxsize=4)
def code_point_table(patterns: tuple[tuple[str, int], ...]) -> np.ndarray:
    """uint8 class of every code point: ``cls`` where ``regex`` matches its ``pattern`` (later pairs win), else 0;
    from the same ``regex`` module and Unicode tables as the patterns' regexes (≈ 0.3 s, once per process)."""
    cps = np.array([c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF], dtype=np.int64)
    every = "".join(map(chr, cps))
    classes = np.zeros(0x110000, dtype=np.uint8)
    for pattern, cls in patterns:
        for m in regex.finditer(pattern, every):
            classes[cps[m.start():m.end()]] = cls
    return classes


def code_point_classes() -> np.ndarray:
    """uint8 class (OTHER / LETTER / DIGIT) of every code point, as TOKEN_RE sees it."""
    return code_point_table(((r"[\p{L}\p{M}]+", LETTER), (r"\p{N}+", DIGIT)))


def tokenize(text: str | None) -> list[str]:
    """Lower-cased word tokens of ``text`` ([] for None or empty)."""
    if not text:
        return []
    return TOKEN_RE.findall(text.lower())


def normalize_tokens(tokens: list[str]) -> str:
    """cc_net-style normalized text from ``tokenize`` output: digits and apostrophes dropped, single spaces."""
    joined = _DIGITS_RE.sub(" ", " ".join(tokens)).translate(_DROP_APOSTROPHES)
    return " ".join(joined.split())


def normalize_for_hash(text: str | None) -> str:
    """cc_net-style normalization: lower-case, digits/punctuation/symbols removed, white space collapsed."""
    return normalize_tokens(tokenize(text))


def hash_normalized(norm: str) -> str | None:
    """sha1 hex of a normalized text; None when nothing is left (such documents are never duplicates)."""
    return hashlib.sha1(norm.encode("utf-8")).hexdigest() if norm else None


def content_hash(text: str | None) -> str | None:
    """sha1 hex of the normalized text; None when nothing is left."""
    return hash_normalized(normalize_for_hash(text))

