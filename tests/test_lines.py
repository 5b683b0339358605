"""The compiled line scanner equals the regex definitions it replaces, on fuzzed texts built from the characters
where they could part: apostrophes, digits of several scripts, marks, case mappings that change length, NBSP,
zero-width space, carriage returns, astral characters."""
import random

import numpy as np
import pytest

from crawlaudit.metrics import lines as L
from crawlaudit.metrics import text as T
from crawlaudit.metrics.minhash import MinHasher, normalized_token_hashes, token_hashes
from crawlaudit.metrics.repetition import normalized_line, split_lines
from crawlaudit.metrics.templates import main_contents

ALPHABET = list("abcXYZ019 '’\n\r\t.-,İΣσςéß\u0301\u00a0\u200b日本٣Ⅻ") + ["ǅ", "\U0001F600", "𝟘", "a'b", "x'1"]
EDGES = [None, "", "\n", "a'", "'a", "a'1", "1'a", "don't\nstop", "a''b", "x\n\n y", "ΣΑΣ\nΣ", "İ'İ", "1 2 3"]


@pytest.fixture(scope="module")
def texts():
    rng = random.Random(7)
    return EDGES + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60))) for _ in range(2000)]


def test_tokens_lines_words_and_hashes_equal_the_regex_definitions(texts):
    scan = L.scan_lines(texts)
    line_hash, hashes = scan.line_hashes(), scan.content_hashes()
    assert scan.n_docs == len(texts)
    for d, text in enumerate(texts):
        toks, norm_lines = split_lines(text)
        t0, t1 = scan.tok_bounds[d], scan.tok_bounds[d + 1]
        assert scan.tok_hash[t0:t1].tolist() == token_hashes(toks).tolist(), repr(text)
        assert scan.tok_chars[t0:t1].tolist() == [len(t) for t in toks]
        raw = (text or "").split("\n")
        l0, l1 = scan.line_bounds[d], scan.line_bounds[d + 1]
        assert l1 - l0 == len(raw)
        spans = [bytes(scan.norm[scan.line_start[k]:scan.line_end[k]]).decode() for k in range(l0, l1)]
        assert spans == [normalized_line(r)[1] for r in raw], repr(text)
        assert scan.line_tokens[l0:l1].tolist() == [len(normalized_line(r)[0]) for r in raw]
        assert scan.line_chars[l0:l1].tolist() == [len(s) - s.count(" ") for s in spans]
        assert line_hash[l0:l1][scan.nonempty[l0:l1]].tolist() == token_hashes(norm_lines).tolist()
        words = scan.word_hash[scan.word_bounds[l0]:scan.word_bounds[l1]]
        assert words.tolist() == normalized_token_hashes([text])[0].tolist()
        assert hashes[d] == T.content_hash(text) and scan.n_tokens[d] == len(T.tokenize(text))


def test_main_content_keeps_exactly_the_lines_outside_the_template(texts):
    rng = random.Random(11)
    tmpl = []
    for text in texts:   # a random subset of each page's own lines, a fifth of the pages without a template
        own = token_hashes(split_lines(text)[1]).view(np.int64).tolist()
        tmpl.append(sorted({h for h in own if rng.random() < 0.4}) if rng.random() < 0.8 else None)
    main = main_contents(texts, tmpl)
    mains = main.text.to_pylist()
    hasher = MinHasher()
    sigs, has_sig = hasher.hash_signatures(main.word_hash, main.word_counts)
    ref_sigs, ref_has = hasher.text_signatures(mains)
    assert (has_sig == ref_has).all() and (sigs[has_sig] == ref_sigs[has_sig]).all()
    for d, text in enumerate(texts):
        kept, dropped = [], 0
        for raw in (text or "").split("\n"):
            norm = normalized_line(raw)[1]
            if norm and int(token_hashes([norm]).view(np.int64)[0]) in set(tmpl[d] or ()):
                dropped += 1
            else:
                kept.append(raw)
        body = "\n".join(kept)
        assert mains[d] == body and main.n_template_lines[d] == dropped, repr(text)
        assert main.content_hash[d] == T.content_hash(body) and main.n_tokens[d] == len(T.tokenize(body))


def test_token_lists_equal_tokenize_and_stop_at_each_documents_limit(texts):
    assert L.token_lists(texts).to_pylist() == [T.tokenize(t) for t in texts]
    limits = np.array([(d % 7) - 1 for d in range(len(texts))])   # -1 (all), 0, 1, ... 5
    cut = L.token_lists(texts, limits).to_pylist()
    assert cut == [T.tokenize(t)[:k] if k >= 0 else T.tokenize(t) for t, k in zip(texts, limits)]
    assert sum(map(len, cut)) < sum(len(T.tokenize(t)) for t in texts)   # the limits did cut
