"""MinHash signatures and LSH parameters against closed forms and exact Jaccard."""
import random

import numpy as np
import pytest

from crawlaudit.metrics.minhash import MinHasher, collision_probability, optimal_bands


def _pair_with_jaccard(rng, n_shared, n_only, vocab=50_000):
    """Two token lists whose 1-shingle sets share n_shared elements and differ in n_only each: J = s / (s + 2o)."""
    words = rng.sample(range(vocab), n_shared + 2 * n_only)
    shared, a_only, b_only = words[:n_shared], words[n_shared:n_shared + n_only], words[n_shared + n_only:]
    return [f"w{x}" for x in shared + a_only], [f"w{x}" for x in shared + b_only], n_shared / (n_shared + 2 * n_only)


def test_signature_agreement_is_an_unbiased_jaccard_estimate():
    hasher = MinHasher(num_perm=128, shingle_size=1, seed=3)
    rng = random.Random(0)
    errors, zs = [], []
    for n_only in (0, 5, 20, 50, 100, 200):
        for _ in range(20):
            a, b, j = _pair_with_jaccard(rng, 200, n_only)
            sig, ok = hasher.signatures([a, b])
            est = float((sig[0] == sig[1]).mean())
            errors.append(est - j)
            zs.append((est - j) / max(np.sqrt(j * (1 - j) / 128), 1e-9))
    # mean error ~0 (unbiased); spread as the binomial standard error says
    assert abs(np.mean(errors)) < 0.01
    assert np.std([z for z in zs if np.isfinite(z)]) == pytest.approx(1.0, abs=0.25)
    assert max(abs(e) for e in errors[:20]) == 0.0  # identical sets agree everywhere


def test_signatures_are_deterministic_and_seeded():
    docs = [["alpha", "beta", "gamma", "delta", "epsilon", "zeta"], ["one", "two", "three", "four", "five"]]
    s1, _ = MinHasher(seed=42).signatures(docs)
    s2, _ = MinHasher(seed=42).signatures(list(reversed(docs)))
    s3, _ = MinHasher(seed=43).signatures(docs)
    assert np.array_equal(s1, s2[::-1])
    assert not np.array_equal(s1, s3)
    assert MinHasher(seed=42).params != MinHasher(seed=43).params


def test_short_and_empty_documents():
    """Fewer than k tokens: one shingle of the whole sequence, so different short pages do not collide
    (text-dedup #77); no tokens: no signature."""
    hasher = MinHasher(num_perm=64, shingle_size=5)
    sig, ok = hasher.signatures([["home"], ["contact", "us"], ["home"], [], ["a", "b", "c", "d", "e"]])
    assert ok.tolist() == [True, True, True, False, True]
    assert (sig[0] == sig[2]).all()
    assert (sig[0] == sig[1]).mean() < 0.1
    assert [len(s) for s in hasher.text_shingle_sets(["Home", "", "a b c d e f"])] == [1, 0, 2]


def test_shingle_sets_give_exact_jaccard():
    hasher = MinHasher(shingle_size=2)
    sa, sb = hasher.text_shingle_sets(["The cat sat on the mat.", "the cat, sat on a mat"])
    # bigrams a: the-cat cat-sat sat-on on-the the-mat; b: the-cat cat-sat sat-on on-a a-mat → 3 / 7
    assert len(np.intersect1d(sa, sb)) / len(np.union1d(sa, sb)) == pytest.approx(3 / 7)


def test_lsh_parameters_minimize_the_weighted_error():
    # the classic choice for threshold 0.8, 128 permutations, equal weights (datasketch gives the same)
    assert optimal_bands(0.8, 128, 0.5, 0.5) == (9, 13)
    b, r = optimal_bands(0.8, 128, 0.05, 0.95)
    assert b * r <= 128
    assert collision_probability(0.85, b, r) > collision_probability(0.85, 9, 13)
    assert collision_probability(np.array([0.0, 1.0]), b, r).tolist() == [0.0, 1.0]
    assert collision_probability(0.8, 1, 1) == pytest.approx(0.8)


def test_token_hashes_are_fnv1a_of_the_utf8_bytes():
    from crawlaudit.metrics.minhash import token_hashes

    h = token_hashes(["a", "", "été", "a"])
    assert int(h[0]) == 0xAF63DC4C8601EC8C            # FNV-1a 64 of b"a" (published test vector)
    assert int(h[1]) == 0xCBF29CE484222325            # of the empty string: the offset basis
    assert h[0] == h[3] and h[2] != h[0]
    assert token_hashes([]).size == 0
    with pytest.raises(ValueError, match="NUL"):
        token_hashes(["a\x00b"])


# letters, marks, digits of several scripts, both apostrophes, punctuation, white space, case pairs, the special
# lower-casing of İ, astral code points, NUL: where a tokenizer reimplementation would go wrong
_ALPHABET = list("aZéÉßİıŞ") + ["\u0301", "\u093e", "न", "中", "٣", "²", "7", "'", "’", "''", "-", ".", " ", "\n", "\t",
                                 "\u00a0", "\U0001d400", "\U0001f600", "\x00", "_", "Σ", "ς"]


def test_text_signatures_equal_the_regex_tokenizer():
    """The compiled scanner reproduces ``normalize_for_hash(t).split()`` exactly: same token hashes, same
    signatures, on fuzzed strings from an alphabet of awkward characters and on generated pages."""
    from crawlaudit.devtools.corpus import CorpusSpec, generate_documents
    from crawlaudit.metrics.minhash import normalized_token_hashes, token_hashes
    from crawlaudit.metrics.text import normalize_for_hash

    rng = random.Random(7)
    texts = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    texts += ["don't", "a'b'c'd", "a''b", "'quoted'", "x'1y", "1'a", "rock ’n’ roll", "İstanbul", None, ""]
    texts += ["a", "b", "x y", "é"] * 500  # one-letter texts: more tokens than half the bytes of the batch
    docs = generate_documents(CorpusSpec(snapshots=("CC-MAIN-2024-22",), n_domains=3, docs_per_domain=(20, 30)))
    texts += [text for _, _, text in docs["CC-MAIN-2024-22"]]
    tokens = [normalize_for_hash(t).split() for t in texts]
    hashes, counts = normalized_token_hashes(texts)
    assert counts.tolist() == [len(t) for t in tokens]
    assert np.array_equal(hashes, token_hashes([tok for toks in tokens for tok in toks]))
    hasher = MinHasher()
    sig_regex, ok_regex = hasher.signatures(tokens)
    sig_text, ok_text = hasher.text_signatures(texts)
    assert np.array_equal(ok_regex, ok_text) and np.array_equal(sig_regex, sig_text)
    assert sum(counts) > 10_000 and ok_text.sum() > 15_000  # the fuzz made tokens, not just separators


def test_band_hashes_are_equal_exactly_when_a_whole_band_is():
    from crawlaudit.metrics.minhash import lsh_band_hashes

    sigs = np.array([[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 9, 5, 6, 7], [4, 5, 6, 1, 2, 3, 0]], dtype=np.uint32)
    h = lsh_band_hashes(sigs, bands=2, rows=3)  # the 7th row is left out, as 128 = 21 × 6 + 2
    assert h.shape == (3, 2) and h.dtype == np.int64
    assert h[0, 0] == h[1, 0] and h[0, 1] != h[1, 1]          # band 0 equal, band 1 differs in one row
    assert h[2, 0] != h[0, 1] and h[2, 1] != h[0, 0]          # the same rows in another band: another bucket
    assert np.array_equal(h, lsh_band_hashes(sigs.copy(), 2, 3))
