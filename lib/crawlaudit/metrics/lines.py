"""The compiled line scanner: one pass over a batch of texts gives every per-line and per-token quantity the
per-document metrics use, without making a string per token or per line.

For each document (lower-cased by Python, full case mapping, then scanned as UTF-8 bytes), split into lines at
``"\\n"`` as ``str.split("\\n")`` does:
- its ``text.TOKEN_RE`` tokens: FNV-1a hash of their UTF-8 bytes and their length in code points (repetition
  signals; the count is ``n_tokens``);
- each line's normalized form (``repetition.normalized_line``: the line's tokens with digits split off and
  apostrophes dropped, joined by single spaces), written into one buffer where the document's lines follow each
  other separated by a space, so a document's span of it is ``text.normalize_for_hash`` of the whole text and a
  line's span is its normalized line; the line's hash is FNV-1a of its span (= ``minhash.token_hashes`` of it);
- the normalized words (FNV-1a, as ``minhash.normalized_token_hashes``) per line: MinHash shingles of any subset
  of a document's lines without scanning it again.

The code-point classes come from ``text.code_point_classes`` (the regex module's own Unicode tables). Equality
with the regex definitions is tested on fuzzed texts (tests/test_lines.py).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa

from crawlaudit.metrics import text as T
from crawlaudit.metrics.minhash import _code_point, _fnv_bytes, utf8_buffers

_FNV0 = 0xCBF29CE484222325
_NEWLINE, _SPACE = 10, 32


@dataclass(frozen=True)
class LineScan:
    """The scanner's output for a batch of n documents (arrays; bounds are offsets with n + 1 or lines + 1
    entries)."""

    tok_hash: np.ndarray      # uint64 per TOKEN_RE token
    tok_chars: np.ndarray     # int64 code points per token
    tok_bounds: np.ndarray    # document d's tokens: tok_bounds[d]:tok_bounds[d + 1]
    line_bounds: np.ndarray   # document d's lines (every line, empty ones too)
    line_start: np.ndarray    # the line's normalized span in ``norm`` (start == end: nothing left)
    line_end: np.ndarray
    line_chars: np.ndarray    # code points of the normalized line without its spaces
    line_tokens: np.ndarray   # TOKEN_RE tokens on the line
    word_bounds: np.ndarray   # line l's normalized words: word_hash[word_bounds[l]:word_bounds[l + 1]]
    word_hash: np.ndarray     # uint64 per normalized word
    norm: np.ndarray          # uint8: normalized text of every document
    norm_bounds: np.ndarray   # document d's normalized text: norm[norm_bounds[d]:norm_bounds[d + 1]]

    @property
    def n_docs(self) -> int:
        return self.tok_bounds.size - 1

    @property
    def n_tokens(self) -> np.ndarray:
        return np.diff(self.tok_bounds)

    @property
    def nonempty(self) -> np.ndarray:
        """Per line: something is left once normalized (the lines line duplication and templates count)."""
        return self.line_end > self.line_start

    def line_hashes(self) -> np.ndarray:
        """uint64 FNV-1a of every line's normalized span (meaningful for non-empty lines)."""
        return _fnv_spans(self.norm, self.line_start, self.line_end)

    def content_hashes(self) -> list[str | None]:
        """``text.content_hash`` of each document: sha1 hex of its normalized text, None when nothing is left."""
        return sha1_spans(self.norm, self.norm_bounds)


def scan_lines(texts: list[str | None]) -> LineScan:
    """Scan a batch of texts (None reads as ""); see the module docstring."""
    buf, offsets = utf8_buffers([t.lower() if t else "" for t in texts])
    return LineScan(*_scan(buf, offsets, T.code_point_classes(), T.APOSTROPHES[0], T.APOSTROPHES[1]))


def sha1_spans(buf: np.ndarray, bounds: np.ndarray) -> list[str | None]:
    """sha1 hex of each span buf[bounds[i]:bounds[i + 1]]; None for an empty span."""
    mv = memoryview(buf)
    return [hashlib.sha1(mv[a:b]).hexdigest() if b > a else None for a, b in zip(bounds[:-1].tolist(),
                                                                                   bounds[1:].tolist())]


@numba.njit(cache=True, nogil=True)
def _fnv_spans(buf, starts, ends):
    out = np.empty(starts.size, dtype=np.uint64)
    for k in range(starts.size):
        h = np.uint64(_FNV0)
        for j in range(starts[k], ends[k]):
            h = (h ^ np.uint64(buf[j])) * np.uint64(0x100000001B3)
        out[k] = h
    return out


@numba.njit(cache=True, nogil=True)
def _scan(buf, offsets, classes, apos1, apos2):
    n_docs = offsets.size - 1
    n_newlines = 0
    for i in range(buf.size):
        if buf[i] == _NEWLINE:
            n_newlines += 1
    cap_tok = (buf.size + n_docs) // 2 + 1   # a token or word takes a byte and needs one apart from the next
    cap_line = n_newlines + n_docs
    tok_hash = np.empty(cap_tok, dtype=np.uint64)
    tok_chars = np.empty(cap_tok, dtype=np.int64)
    tok_bounds = np.zeros(n_docs + 1, dtype=np.int64)
    line_bounds = np.zeros(n_docs + 1, dtype=np.int64)
    line_start = np.empty(cap_line, dtype=np.int64)
    line_end = np.empty(cap_line, dtype=np.int64)
    line_chars = np.empty(cap_line, dtype=np.int64)
    line_tokens = np.empty(cap_line, dtype=np.int64)
    word_bounds = np.zeros(cap_line + 1, dtype=np.int64)
    word_hash = np.empty(cap_tok, dtype=np.uint64)
    norm = np.empty(buf.size, dtype=np.uint8)
    norm_bounds = np.zeros(n_docs + 1, dtype=np.int64)
    nt, nl, nw, pos = 0, 0, 0, 0
    for d in range(n_docs):
        i, end = offsets[d], offsets[d + 1]
        doc_start = pos
        l_start, l_has_word, l_chars, l_tokens = pos, False, 0, 0
        in_tok, in_word = False, False
        tok_h, word_h = np.uint64(_FNV0), np.uint64(_FNV0)
        tok_cp = 0
        while True:
            at_end = i >= end
            if at_end:
                cp, width = _NEWLINE, 1   # the text's end closes its last line
            else:
                cp, width = _code_point(buf, i, end)
            cls = classes[cp] if cp != _NEWLINE else T.OTHER
            if cls != T.OTHER:
                if not in_tok:
                    in_tok, tok_h, tok_cp = True, np.uint64(_FNV0), 0
                tok_h = _fnv_bytes(tok_h, buf, i, width)
                tok_cp += 1
                if cls == T.LETTER:
                    if not in_word:
                        if pos > doc_start:
                            norm[pos] = _SPACE
                            pos += 1
                        if not l_has_word:
                            l_start, l_has_word = pos, True
                        in_word, word_h = True, np.uint64(_FNV0)
                    for j in range(i, i + width):
                        norm[pos] = buf[j]
                        pos += 1
                    word_h = _fnv_bytes(word_h, buf, i, width)
                    l_chars += 1
                elif in_word:   # a digit ends the word (digits are dropped)
                    word_hash[nw] = word_h
                    nw += 1
                    in_word = False
                i += width
                continue
            if in_tok and (cp == apos1 or cp == apos2):
                nxt, _ = _code_point(buf, i + width, end)
                if nxt >= 0 and nxt != _NEWLINE and classes[nxt] != T.OTHER:
                    tok_h = _fnv_bytes(tok_h, buf, i, width)   # an inner apostrophe: kept in the token,
                    tok_cp += 1                                # dropped from the normalized word
                    i += width
                    continue
            if in_word:
                word_hash[nw] = word_h
                nw += 1
                in_word = False
            if in_tok:
                tok_hash[nt] = tok_h
                tok_chars[nt] = tok_cp
                nt += 1
                l_tokens += 1
                in_tok = False
            if cp == _NEWLINE:
                line_start[nl] = l_start if l_has_word else pos
                line_end[nl] = pos
                line_chars[nl] = l_chars
                line_tokens[nl] = l_tokens
                nl += 1
                word_bounds[nl] = nw
                l_has_word, l_chars, l_tokens = False, 0, 0
                if at_end:
                    break
            i += width
        tok_bounds[d + 1] = nt
        line_bounds[d + 1] = nl
        norm_bounds[d + 1] = pos
    return (tok_hash[:nt], tok_chars[:nt], tok_bounds, line_bounds, line_start[:nl], line_end[:nl],
            line_chars[:nl], line_tokens[:nl], word_bounds[:nl + 1], word_hash[:nw], norm[:pos], norm_bounds)


def token_lists(texts: list[str | None], limits: np.ndarray | None = None) -> pa.ListArray:
    """``text.tokenize`` of each text (None reads as "") as an Arrow list<string>, the first ``limits[d]`` tokens
    of document d when given (negative: all). One compiled pass copies the tokens' bytes: no Python string per
    token, and no token past the limit is made."""
    buf, offsets = utf8_buffers([t.lower() if t else "" for t in texts])
    limits = np.full(len(texts), -1, np.int64) if limits is None else np.asarray(limits, dtype=np.int64)
    data, tok_offsets, doc_bounds = _token_bytes(buf, offsets, T.code_point_classes(), T.APOSTROPHES[0],
                                                 T.APOSTROPHES[1], limits)
    strings = pa.Array.from_buffers(pa.string(), tok_offsets.size - 1,
                                    [None, pa.py_buffer(tok_offsets.astype(np.int32)), pa.py_buffer(data)])
    return pa.ListArray.from_arrays(pa.array(doc_bounds.astype(np.int32)), strings)


@numba.njit(cache=True, nogil=True)
def _token_bytes(buf, offsets, classes, apos1, apos2, limits):
    """(the tokens' bytes one after another, token offsets into them, document bounds in tokens): ``_scan``'s
    token rule (runs of letters, marks and digits joined across an inner apostrophe)."""
    n_docs = offsets.size - 1
    data = np.empty(buf.size, dtype=np.uint8)
    tok_offsets = np.zeros((buf.size + n_docs) // 2 + 2, dtype=np.int64)
    doc_bounds = np.zeros(n_docs + 1, dtype=np.int64)
    nt, pos = 0, 0
    for d in range(n_docs):
        i, end, limit, count, in_tok = offsets[d], offsets[d + 1], limits[d], 0, False
        while i < end and (limit < 0 or count < limit):
            cp, width = _code_point(buf, i, end)
            joiner = False
            if classes[cp] == T.OTHER and in_tok and (cp == apos1 or cp == apos2):
                nxt, _ = _code_point(buf, i + width, end)
                joiner = nxt >= 0 and classes[nxt] != T.OTHER
            if classes[cp] != T.OTHER or joiner:
                for j in range(i, i + width):
                    data[pos] = buf[j]
                    pos += 1
                in_tok = True
            elif in_tok:
                nt += 1
                tok_offsets[nt] = pos
                count += 1
                in_tok = False
            i += width
        if in_tok:   # a token running to the text's end
            nt += 1
            tok_offsets[nt] = pos
        doc_bounds[d + 1] = nt
    return data[:pos], tok_offsets[:nt + 1], doc_bounds


# --- main content: a subset of each document's lines -------------------------------------------------------------

@dataclass(frozen=True)
class MainContent:
    """Each document's lines that are not in its template set (``main_content``)."""

    text: pa.Array              # string: the kept lines, joined by "\n" as in the page
    content_hash: list          # sha1 hex of the kept normalized lines (``text.content_hash`` of ``text``)
    n_template_lines: np.ndarray  # int32 lines dropped
    n_tokens: np.ndarray        # int64 TOKEN_RE tokens kept
    word_hash: np.ndarray       # uint64 normalized words kept (MinHash shingles of the main content)
    word_counts: np.ndarray     # int64 per document


def main_content(texts: list[str | None], template_values: np.ndarray, template_offsets: np.ndarray) -> MainContent:
    """The main content of each text (None reads as ""): its lines whose normalized hash is not among its
    template line hashes (int64 ``template_values[template_offsets[d]:template_offsets[d + 1]]``; none: the
    whole page)."""
    scan = scan_lines(texts)
    raw, raw_offsets = utf8_buffers([t or "" for t in texts])
    keep, dropped = _keep_lines(scan.line_bounds, scan.line_hashes().view(np.int64), scan.nonempty,
                                template_values.astype(np.int64), template_offsets.astype(np.int64))
    text_buf, text_bounds = _gather_raw_lines(raw, raw_offsets, scan.line_bounds, keep)
    norm_buf, norm_bounds = _gather_spans(scan.norm, scan.line_start, scan.line_end, scan.line_bounds,
                                          keep & scan.nonempty)
    words, word_counts = _gather_words(scan.word_hash, scan.word_bounds, scan.line_bounds, keep)
    n_tokens = _sum_per_doc(np.where(keep, scan.line_tokens, 0), scan.line_bounds)
    if text_buf.size < 2**31:
        main_text = pa.StringArray.from_buffers(len(texts), pa.py_buffer(text_bounds.astype(np.int32)),
                                                pa.py_buffer(text_buf))
    else:
        main_text = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(text_bounds), pa.py_buffer(text_buf))
    return MainContent(main_text, sha1_spans(norm_buf, norm_bounds), dropped, n_tokens, words,
                       word_counts)


@numba.njit(cache=True, nogil=True)
def _keep_lines(line_bounds, line_hash, nonempty, values, offsets):
    keep = np.ones(line_hash.size, dtype=np.bool_)
    dropped = np.zeros(line_bounds.size - 1, dtype=np.int32)
    for d in range(line_bounds.size - 1):
        if offsets[d + 1] == offsets[d]:
            continue
        tmpl = np.sort(values[offsets[d]:offsets[d + 1]])
        for ln in range(line_bounds[d], line_bounds[d + 1]):
            if nonempty[ln]:
                k = np.searchsorted(tmpl, line_hash[ln])
                if k < tmpl.size and tmpl[k] == line_hash[ln]:
                    keep[ln] = False
                    dropped[d] += 1
    return keep, dropped


@numba.njit(cache=True, nogil=True)
def _gather_raw_lines(raw, offsets, line_bounds, keep):
    """The kept lines of each text joined by "\\n" (the texts' lines are the scanner's, line for line)."""
    out = np.empty(raw.size, dtype=np.uint8)
    bounds = np.zeros(offsets.size, dtype=np.int64)
    pos = 0
    for d in range(offsets.size - 1):
        ln, start, first = line_bounds[d], offsets[d], True
        for i in range(offsets[d], offsets[d + 1] + 1):
            if i == offsets[d + 1] or raw[i] == _NEWLINE:
                if keep[ln]:
                    if not first:
                        out[pos] = _NEWLINE
                        pos += 1
                    for j in range(start, i):
                        out[pos] = raw[j]
                        pos += 1
                    first = False
                ln += 1
                start = i + 1
        bounds[d + 1] = pos
    return out[:pos], bounds


@numba.njit(cache=True, nogil=True)
def _gather_spans(buf, starts, ends, line_bounds, keep):
    """Per document, the kept spans joined by single spaces."""
    out = np.empty(buf.size + line_bounds.size, dtype=np.uint8)
    bounds = np.zeros(line_bounds.size, dtype=np.int64)
    pos = 0
    for d in range(line_bounds.size - 1):
        first = True
        for ln in range(line_bounds[d], line_bounds[d + 1]):
            if keep[ln]:
                if not first:
                    out[pos] = _SPACE
                    pos += 1
                for j in range(starts[ln], ends[ln]):
                    out[pos] = buf[j]
                    pos += 1
                first = False
        bounds[d + 1] = pos
    return out[:pos], bounds


@numba.njit(cache=True, nogil=True)
def _gather_words(word_hash, word_bounds, line_bounds, keep):
    out = np.empty(word_hash.size, dtype=np.uint64)
    counts = np.zeros(line_bounds.size - 1, dtype=np.int64)
    k = 0
    for d in range(line_bounds.size - 1):
        for ln in range(line_bounds[d], line_bounds[d + 1]):
            if keep[ln]:
                for w in range(word_bounds[ln], word_bounds[ln + 1]):
                    out[k] = word_hash[w]
                    k += 1
                counts[d] += word_bounds[ln + 1] - word_bounds[ln]
    return out[:k], counts


@numba.njit(cache=True, nogil=True)
def _sum_per_doc(values, bounds):
    out = np.zeros(bounds.size - 1, dtype=np.int64)
    for d in range(bounds.size - 1):
        for i in range(bounds[d], bounds[d + 1]):
            out[d] += values[i]
    return out
