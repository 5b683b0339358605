"""Per-document repetition signals (Gopher, Rae et al. 2021, table A1) and the normalized lines that line-level
duplication counts (cc_net), computed with numba over a batch of documents scanned by ``lines.scan_lines``.

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
from crawlaudit.metrics.lines import LineScan
from crawlaudit.metrics.minhash import _GOLDEN, _mix

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)
SIGNAL_NAMES = S.REP_SIGNALS  # in this order: dup line, top 2/3/4-gram, dup 5..10-gram


def normalized_line(line: str) -> tuple[list[str], str]:
    """(a line's lower-cased word tokens, the line normalized as for hashing; "" when nothing is left). The one
    definition of a line that line duplication and site templates (``templates``) share."""
    toks = T.TOKEN_RE.findall(line.lower())
    return toks, T.normalize_tokens(toks) if toks else ""


def split_lines(text: str | None) -> tuple[list[str], list[str]]:
    """(the document's lower-cased word tokens, its non-empty normalized lines): the definition, by regex, that
    the compiled scanner (``lines.scan_lines``) reproduces. Tokens never span a line break, so the tokens equal
    ``text.tokenize(text)``."""
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
def _longer_ngrams(acc, hashes, tok_off, n):
    """``minhash.ngram_hashes(hashes, lengths, n, False)`` given ``acc`` holding the (n-1)-grams' sums: its sum
    grows by the n-th token's term, so the sizes 1..10 cost one mix per token each instead of n."""
    n_docs = tok_off.size - 1
    bounds = np.zeros(n_docs + 1, dtype=np.int64)
    for d in range(n_docs):
        bounds[d + 1] = bounds[d] + max(0, tok_off[d + 1] - tok_off[d] - n + 1)
    out = np.empty(bounds[n_docs], dtype=np.uint64)
    for d in range(n_docs):
        for k in range(bounds[d + 1] - bounds[d]):
            p = tok_off[d] + k
            acc[p] += np.uint64(1) + _mix(hashes[p + n - 1] + np.uint64(n) * np.uint64(_GOLDEN))
            out[bounds[d] + k] = _mix(acc[p])
    return out, bounds


@numba.njit(cache=True, nogil=True)
def _table(bounds):
    """An open-addressing table (keys, used flags, counts, first positions) for the largest document's values,
    and its slot mask: each document's values are counted in it in O(values), then its slots are cleared."""
    most = 1
    for d in range(bounds.size - 1):
        most = max(most, bounds[d + 1] - bounds[d])
    cap = 1
    while cap < 2 * most:
        cap *= 2
    return (np.empty(cap, dtype=np.uint64), np.zeros(cap, dtype=np.bool_), np.zeros(cap, dtype=np.int64),
            np.zeros(cap, dtype=np.int64), np.uint64(cap - 1))


@numba.njit(cache=True, nogil=True)
def _count(seg, keys, used, counts, first, mask, slot, touched):
    """Count the values of ``seg`` in the table: slot[i] is the slot of seg[i]; the number of slots used (listed
    in ``touched``). ``first[s]``: the first position of the slot's value."""
    n_used = 0
    for i in range(seg.size):
        v = seg[i]
        s = np.int64(v & mask)
        while used[s] and keys[s] != v:
            s = np.int64((np.uint64(s) + np.uint64(1)) & mask)
        if not used[s]:
            used[s], keys[s], counts[s], first[s] = True, v, 0, i
            touched[n_used] = s
            n_used += 1
        counts[s] += 1
        slot[i] = s
    return n_used


@numba.njit(cache=True, nogil=True)
def _top_ngram_frac(h, bounds, tok_off, lengths, chars, chars_cum, total, n, out):
    keys, used, counts, first, mask = _table(bounds)
    slot = np.empty(keys.size, dtype=np.int64)
    touched = np.empty(keys.size, dtype=np.int64)
    for d in range(bounds.size - 1):
        lo, hi = bounds[d], bounds[d + 1]
        out[d] = 0.0
        if hi - lo < 2 or total[d] == 0:
            continue
        n_used = _count(h[lo:hi], keys, used, counts, first, mask, slot, touched)
        best, best_c, best_ch = -1, 1, 0
        for t in range(n_used):   # the most frequent n-gram; ties: more characters, then the smaller hash
            s = touched[t]
            c = counts[s]
            if c >= 2:
                pos = tok_off[d] + first[s]
                ch = chars_cum[pos + n] - chars_cum[pos]
                if (c > best_c or (c == best_c and ch > best_ch)
                        or (c == best_c and ch == best_ch and keys[s] < keys[best])):
                    best, best_c, best_ch = s, c, ch
        if best >= 0:  # characters of the words its occurrences cover (overlaps counted once)
            positions = np.empty(best_c, dtype=np.int64)
            k = 0
            for i in range(hi - lo):
                if slot[i] == best:
                    positions[k] = i
                    k += 1
            out[d] = _covered(positions, n, tok_off[d], lengths[d], chars) / total[d]
        for t in range(n_used):
            used[touched[t]] = False


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
    keys, used, counts, first, mask = _table(bounds)
    slot = np.empty(keys.size, dtype=np.int64)
    touched = np.empty(keys.size, dtype=np.int64)
    for d in range(bounds.size - 1):
        lo, hi = bounds[d], bounds[d + 1]
        out[d] = 0.0
        if hi - lo < 2 or total[d] == 0:
            continue
        n_used = _count(h[lo:hi], keys, used, counts, first, mask, slot, touched)
        dup = np.empty(hi - lo, dtype=np.int64)
        m = 0
        for i in range(hi - lo):
            if counts[slot[i]] >= 2:
                dup[m] = i
                m += 1
        out[d] = _covered(dup[:m], n, tok_off[d], lengths[d], chars) / total[d]
        for t in range(n_used):
            used[touched[t]] = False


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


def repetition_signals(scan: LineScan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signals float64 of shape (n_docs, len(SIGNAL_NAMES)), the non-empty normalized lines' hashes (int64) of
    every document one after another, lines per document) of a scanned batch (``lines.scan_lines``: its tokens
    and normalized lines are those of ``split_lines``)."""
    n_docs = scan.n_docs
    out = np.zeros((n_docs, len(SIGNAL_NAMES)), dtype=np.float64)
    hashes, chars, lengths, tok_off = scan.tok_hash, scan.tok_chars, scan.n_tokens, scan.tok_bounds
    chars_cum = np.concatenate([[0], np.cumsum(chars)])
    total = chars_cum[tok_off[1:]] - chars_cum[tok_off[:-1]]

    nonempty = scan.nonempty
    line_h = scan.line_hashes()[nonempty]
    line_chars = scan.line_chars[nonempty]
    kept_before = np.concatenate([[0], np.cumsum(nonempty)])
    line_bounds = kept_before[scan.line_bounds]
    col = np.empty(n_docs, dtype=np.float64)
    _dup_line_frac(line_h, line_bounds, line_chars, col)
    out[:, 0] = col
    acc = np.zeros(hashes.size, dtype=np.uint64)
    for n in range(1, max(DUP_NGRAM_SIZES) + 1):   # the n-gram hashes of every size, each from the one before
        h, bounds = _longer_ngrams(acc, hashes, tok_off, n)
        if n in TOP_NGRAM_SIZES:
            _top_ngram_frac(h, bounds, tok_off, lengths, chars, chars_cum, total, n, col)
            out[:, TOP_NGRAM_SIZES.index(n) + 1] = col
        elif n in DUP_NGRAM_SIZES:
            _dup_ngram_frac(h, bounds, tok_off, lengths, chars, total, n, col)
            out[:, DUP_NGRAM_SIZES.index(n) + 1 + len(TOP_NGRAM_SIZES)] = col
    return out, line_h.view(np.int64), np.diff(line_bounds)


def with_line_dup_counts(min_repeats: int):
    """Line-level duplication (cc_net): a normalized line is duplicated when it occurs at least ``min_repeats``
    times in the snapshot, in any documents (repeats inside one document count).

    Columns in: snapshot, doc_id, line_hashes. Columns out: + n_lines, n_dup_lines (the document's lines, with
    multiplicity, that are duplicated).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from crawlaudit.quality.validation import require_columns

    def transform(signals):
        require_columns(signals, [S.SNAPSHOT, S.DOC_ID, S.LINE_HASHES], "with_line_dup_counts")
        # one shuffle of the line rows (each line's count over its window); counting, then joining the counts back
        # onto the lines, shuffled them twice
        lines = signals.select(S.SNAPSHOT, S.DOC_ID, F.explode(S.LINE_HASHES).alias("_line"))
        per_doc = (lines.withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy(S.SNAPSHOT, "_line")))
                   .where(F.col("_n") >= min_repeats)
                   .groupBy(S.SNAPSHOT, S.DOC_ID).agg(F.count(F.lit(1)).alias(S.N_DUP_LINES)))
        return (
            signals.withColumn(S.N_LINES, F.size(S.LINE_HASHES))
            .join(per_doc, [S.SNAPSHOT, S.DOC_ID], "left")
            .withColumn(S.N_DUP_LINES, F.coalesce(F.col(S.N_DUP_LINES), F.lit(0)).cast("long"))
        )

    return transform
