"""Per-document repetition signals (Gopher, Rae et al. 2021, table A1) and the normalized lines that line-level
duplication counts (cc_net), computed with numba over a batch of documents.

Definitions (characters are the characters of word tokens, so white space and markup do not dilute them):
- ``rep_dup_line_char_frac``: characters in lines that repeat an earlier line of the document (normalized
  lines: lower-case, digits and punctuation dropped; empty ones ignored) over all line characters.
- ``rep_top_{2,3,4}gram_char_frac``: characters of the words covered by the occurrences of the document's most
  frequent word n-gram (ties: the longer one; overlapping occurrences count a word once, so it stays ≤ 1), over
  all characters; 0 when no n-gram occurs twice.
- ``rep_dup_{5..10}gram_char_frac``: characters of the words covered by any n-gram that occurs at least twice
  (every occurrence, each word once), over all characters.
"""
from __future__ import annotations

import numba
import numpy as np

from crawlaudit import schemas as S
from crawlaudit.metrics import text as T
from crawlaudit.metrics.minhash import ngram_hashes, token_hashes

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)
SIGNAL_NAMES = S.REP_SIGNALS  # in this order: dup line, top 2/3/4-gram, dup 5..10-gram


def normalized_line(line: str) -> tuple[list[str], str]:
    """(a line's lower-cased word tokens, the line normalized as for hashing; "" when nothing is left). The one
    definition of a line that line duplication and site templates (``templates``) share."""
    toks = T.TOKEN_RE.findall(line.lower())
    return toks, T.normalize_tokens(toks) if toks else ""


def split_lines(text: str | None) -> tuple[list[str], list[str]]:
    """(the document's lower-cased word tokens, its non-empty normalized lines). One tokenizer pass per line;
    tokens never span a line break, so the tokens equal ``text.tokenize(text)``."""
    tokens: list[str] = []
    lines: list[str] = []
    for line in (text or "").split("\n"):
        toks, norm = normalized_line(line)
        tokens.extend(toks)
        if norm:
            lines.append(norm)
    return tokens, lines


@numba.njit(cache=True, nogil=True)
def _runs(seg):
    """(order, run bounds, number of runs) of equal values in ``seg`` once sorted: run r is
    order[starts[r]:starts[r + 1]]."""
    order = np.argsort(seg)
    starts = np.empty(order.size + 1, dtype=np.int64)
    k = 0
    for i in range(order.size):
        if i == 0 or seg[order[i]] != seg[order[i - 1]]:
            starts[k] = i
            k += 1
    starts[k] = order.size
    return order, starts, k


@numba.njit(cache=True, nogil=True)
def _top_ngram_frac(h, bounds, tok_off, lengths, chars, chars_cum, total, n, out):
    for d in range(bounds.size - 1):
        lo, hi = bounds[d], bounds[d + 1]
        out[d] = 0.0
        if hi - lo < 2 or total[d] == 0:
            continue
        order, starts, n_runs = _runs(h[lo:hi])
        best, best_c, best_ch = -1, 1, 0
        for r in range(n_runs):
            c = starts[r + 1] - starts[r]
            if c >= 2:
                pos = tok_off[d] + order[starts[r]]
                ch = chars_cum[pos + n] - chars_cum[pos]
                if c > best_c or (c == best_c and ch > best_ch):
                    best, best_c, best_ch = r, c, ch
        if best >= 0:  # characters of the words its occurrences cover (overlaps counted once)
            out[d] = _covered(order[starts[best]:starts[best + 1]], n, tok_off[d], lengths[d], chars) / total[d]


@numba.njit(cache=True, nogil=True)
def _covered(positions, n, off, length, chars):
    diff = np.zeros(length + 1, dtype=np.int64)
    for p in positions:
        diff[p] += 1
        diff[p + n] -= 1
    cover, covered = 0, 0
    for k in range(length):
        cover += diff[k]
        if cover > 0:
            covered += chars[off + k]
    return covered


@numba.njit(cache=True, nogil=True)
def _dup_ngram_frac(h, bounds, tok_off, lengths, chars, total, n, out):
    for d in range(bounds.size - 1):
        lo, hi = bounds[d], bounds[d + 1]
        out[d] = 0.0
        if hi - lo < 2 or total[d] == 0:
            continue
        order, starts, n_runs = _runs(h[lo:hi])
        dup = np.empty(hi - lo, dtype=np.int64)
        m = 0
        for r in range(n_runs):
            if starts[r + 1] - starts[r] >= 2:
                for i in range(starts[r], starts[r + 1]):
                    dup[m] = order[i]
                    m += 1
        out[d] = _covered(dup[:m], n, tok_off[d], lengths[d], chars) / total[d]


@numba.njit(cache=True, nogil=True)
def _dup_line_frac(h, bounds, line_chars, out):
    for d in range(bounds.size - 1):
        lo, hi = bounds[d], bounds[d + 1]
        out[d] = 0.0
        total = 0
        for i in range(lo, hi):
            total += line_chars[i]
        if hi - lo < 2 or total == 0:
            continue
        order, starts, n_runs = _runs(h[lo:hi])
        dup = 0
        for r in range(n_runs):
            for i in range(starts[r] + 1, starts[r + 1]):  # every occurrence after the first
                dup += line_chars[lo + order[i]]
        out[d] = dup / total


def repetition_signals(docs_tokens: list[list[str]], docs_lines: list[list[str]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(signals float64 of shape (n_docs, len(SIGNAL_NAMES)), each document's line hashes as int64 arrays)."""
    n_docs = len(docs_tokens)
    out = np.zeros((n_docs, len(SIGNAL_NAMES)), dtype=np.float64)
    lengths = np.fromiter((len(t) for t in docs_tokens), dtype=np.int64, count=n_docs)
    flat = [tok for toks in docs_tokens for tok in toks]
    hashes = token_hashes(flat)
    chars = np.fromiter((len(t) for t in flat), dtype=np.int64, count=len(flat))
    chars_cum = np.concatenate([[0], np.cumsum(chars)])
    tok_off = np.concatenate([[0], np.cumsum(lengths)])
    total = chars_cum[tok_off[1:]] - chars_cum[tok_off[:-1]]

    n_lines = np.fromiter((len(x) for x in docs_lines), dtype=np.int64, count=n_docs)
    flat_lines = [line for lines in docs_lines for line in lines]
    line_h = token_hashes(flat_lines)
    line_chars = np.fromiter((len(x) - x.count(" ") for x in flat_lines), dtype=np.int64, count=len(flat_lines))
    line_bounds = np.concatenate([[0], np.cumsum(n_lines)])
    col = np.empty(n_docs, dtype=np.float64)
    _dup_line_frac(line_h, line_bounds, line_chars, col)
    out[:, 0] = col
    for i, n in enumerate(TOP_NGRAM_SIZES, start=1):
        h, bounds = ngram_hashes(hashes, lengths, n, False)
        _top_ngram_frac(h, bounds, tok_off, lengths, chars, chars_cum, total, n, col)
        out[:, i] = col
    for i, n in enumerate(DUP_NGRAM_SIZES, start=1 + len(TOP_NGRAM_SIZES)):
        h, bounds = ngram_hashes(hashes, lengths, n, False)
        _dup_ngram_frac(h, bounds, tok_off, lengths, chars, total, n, col)
        out[:, i] = col
    line_hashes = [line_h[line_bounds[i]:line_bounds[i + 1]].view(np.int64) for i in range(n_docs)]
    return out, line_hashes


def with_line_dup_counts(min_repeats: int):
    """Line-level duplication (cc_net): a normalized line is duplicated when it occurs at least ``min_repeats``
    times in the snapshot, in any documents (repeats inside one document count).

    Columns in: snapshot, doc_id, line_hashes. Columns out: + n_lines, n_dup_lines (the document's lines, with
    multiplicity, that are duplicated).
    """
    from pyspark.sql import functions as F

    from crawlaudit.quality.validation import require_columns

    def transform(signals):
        require_columns(signals, [S.SNAPSHOT, S.DOC_ID, S.LINE_HASHES], "with_line_dup_counts")
        lines = signals.select(S.SNAPSHOT, S.DOC_ID, F.explode(S.LINE_HASHES).alias("_line"))
        frequent = lines.groupBy(S.SNAPSHOT, "_line").count().where(F.col("count") >= min_repeats).drop("count")
        per_doc = (lines.join(frequent, [S.SNAPSHOT, "_line"], "left_semi")
                   .groupBy(S.SNAPSHOT, S.DOC_ID).agg(F.count(F.lit(1)).alias(S.N_DUP_LINES)))
        return (
            signals.withColumn(S.N_LINES, F.size(S.LINE_HASHES))
            .join(per_doc, [S.SNAPSHOT, S.DOC_ID], "left")
            .withColumn(S.N_DUP_LINES, F.coalesce(F.col(S.N_DUP_LINES), F.lit(0)).cast("long"))
        )

    return transform
