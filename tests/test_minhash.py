"""MinHash signatures and LSH parameters against closed forms and exact Jaccard."""
import random

import numpy as np
import pytest

from crawlaudit.minhash import MinHasher, collision_probability, optimal_bands


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
    assert [len(s) for s in hasher.shingle_sets([["home"], [], ["a", "b", "c", "d", "e", "f"]])] == [1, 0, 2]


def test_shingle_sets_give_exact_jaccard():
    hasher = MinHasher(shingle_size=2)
    a = "the cat sat on the mat".split()
    b = "the cat sat on a mat".split()
    sa, sb = hasher.shingle_sets([a, b])
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
    from crawlaudit.minhash import token_hashes

    h = token_hashes(["a", "", "été", "a"])
    assert int(h[0]) == 0xAF63DC4C8601EC8C            # FNV-1a 64 of b"a" (published test vector)
    assert int(h[1]) == 0xCBF29CE484222325            # of the empty string: the offset basis
    assert h[0] == h[3] and h[2] != h[0]
    assert token_hashes([]).size == 0
    with pytest.raises(ValueError, match="NUL"):
        token_hashes(["a\x00b"])
