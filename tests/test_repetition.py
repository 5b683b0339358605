"""Gopher repetition signals and line hashes on hand-made documents (values computed on paper)."""
import numpy as np
import pytest

from crawlaudit.metrics.lines import scan_lines
from crawlaudit.metrics.repetition import SIGNAL_NAMES, repetition_signals


def signals(*texts):
    values, line_hashes, n_lines = repetition_signals(scan_lines(list(texts)))
    bounds = np.concatenate([[0], np.cumsum(n_lines)])
    return [dict(zip(SIGNAL_NAMES, row)) for row in values], [line_hashes[a:b] for a, b in zip(bounds, bounds[1:])]


def test_duplicate_lines_count_every_repeat_after_the_first():
    (s,), (lines,) = signals("aa bb cc\nAA  bb, cc!\nxyz\n\n42")
    # normalized lines: "aa bb cc" (6 chars), again (6), "xyz" (3); "42" normalizes to nothing
    assert s["rep_dup_line_char_frac"] == pytest.approx(6 / 15)
    assert len(lines) == 3 and lines[0] == lines[1] != lines[2]


def test_top_ngram_covers_overlapping_occurrences_once():
    (s,), _ = signals("one two one two one two")
    assert s["rep_top_2gram_char_frac"] == pytest.approx(1.0)         # "one two" ×3 covers all 18 chars
    assert s["rep_top_3gram_char_frac"] == pytest.approx(15 / 18)     # "one two one" at 0 and 2: words 0-4
    assert s["rep_top_4gram_char_frac"] == pytest.approx(1.0)         # at 0 and 2: words 0-5
    assert s["rep_dup_5gram_char_frac"] == 0.0                        # the two 5-grams differ


def test_duplicated_ngrams_5_to_10():
    (s,), _ = signals("a b c d e f a b c d e f g")
    # 13 one-char words; the 5- and 6-grams starting at 0 and 6 repeat: words 0-11 covered → 12/13
    assert s["rep_dup_5gram_char_frac"] == pytest.approx(12 / 13)
    assert s["rep_dup_6gram_char_frac"] == pytest.approx(12 / 13)
    assert s["rep_dup_7gram_char_frac"] == 0.0
    assert s["rep_top_2gram_char_frac"] == pytest.approx(4 / 13)      # "a b" twice (ties: all length 2)


def test_no_repetition_and_empty_documents_give_zeros():
    rows, lines = signals("the quick brown fox jumps over the lazy dog", "", "word")
    assert all(v == 0.0 for row in rows for v in row.values())
    assert [len(x) for x in lines] == [1, 0, 1]


def test_line_hashes_ignore_case_digits_and_punctuation():
    _, (a, b, c) = signals("Price: 42 EUR!", "price eur", "price usd")
    assert a[0] == b[0] != c[0]
    assert a.dtype == np.int64
