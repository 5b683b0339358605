"""The one tokenizer and the one normalizer every metric shares.

Tokens: maximal runs of Unicode letters, combining marks and digits (``[\\p{L}\\p{M}\\p{N}]+``), joined across
an inner apostrophe (``don't`` is one token), lower-cased. Scripts written without spaces (Chinese, Japanese,
Thai) yield one token per run; entropy over such text measures runs, not words.

Normalization for exact-duplicate hashing follows cc_net (facebookresearch/cc_net, text_normalizer.py):
lower-case, drop digits, punctuation and symbols, collapse white space, so that pages differing only in
dates, counters or punctuation hash alike. It is computed from the tokens (one regex pass per document
serves both the token count and the hash): the tokens with their digits and apostrophes removed, joined by
single spaces.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import regex
from pyspark.sql import functions as F

from pyspark.sql.types import ArrayType, StringType


TOKEN_RE = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*")
_DIGITS_RE = regex.compile(r"\p{N}+")
_APOSTROPHES = str.maketrans({"'": None, "’": None})


def tokenize(text: str | None) -> list[str]:
    """Lower-cased word tokens of ``text`` ([] for None or empty)."""
    if not text:
        return []
    return TOKEN_RE.findall(text.lower())


def normalize_tokens(tokens: list[str]) -> str:
    """cc_net-style normalized text from ``tokenize`` output: digits and apostrophes dropped, single spaces."""
    joined = _DIGITS_RE.sub(" ", " ".join(tokens)).translate(_APOSTROPHES)
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


def doc_features(text: str | None) -> tuple[str | None, int]:
    """(content_hash, n_tokens) with one tokenizer pass: what the ingest pass computes per document."""
    tokens = tokenize(text)
    return hash_normalized(normalize_tokens(tokens)), len(tokens)


@F.pandas_udf(ArrayType(StringType()))
def tokens_udf(texts: pd.Series) -> pd.Series:
    """Vectorized ``tokenize`` for Spark: text → array of tokens."""
    return pd.Series([tokenize(t) for t in texts])
