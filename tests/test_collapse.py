"""The collapse simulator's model and generations (the audit of generations comes with its CLI)."""
import gzip

import numpy as np

from crawlaudit import collapse
from crawlaudit.corpus import CorpusSpec, _Generator


def seed_texts(n_docs=120):
    gen = _Generator(CorpusSpec(n_domains=4, docs_per_domain=(n_docs, n_docs), seed=2))
    rich = gen.domains[3]  # the 10,000-type vocabulary: a long tail to lose
    assert rich.vocab_size == 10_000
    return [gen.contents[gen._fresh(rich)] for _ in range(n_docs)]


def test_generations_keep_shape_and_only_lose_words():
    gens = collapse.simulate(seed_texts(), generations=5, seed=3)
    assert len(gens) == 6
    lengths = [len(d) for d in gens[0]]
    vocabs = []
    for g in gens:
        assert [len(d) for d in g] == lengths  # same documents, same lengths
        vocabs.append({t for d in g for t in d})
    for before, after in zip(vocabs, vocabs[1:]):
        assert after <= before  # a word missed once is gone for good
    assert len(vocabs[-1]) < 0.9 * len(vocabs[0])


def test_simulation_is_deterministic():
    texts = seed_texts(30)
    assert collapse.simulate(texts, 2, seed=5) == collapse.simulate(texts, 2, seed=5)
    assert collapse.simulate(texts, 2, seed=5) != collapse.simulate(texts, 2, seed=6)


def test_model_backs_off_to_continuation_counts():
    m = collapse.KneserNeyBigram([["a", "b"], ["a", "c"], ["d", "b"]], discount=0.5)
    # P_cont: b has two predecessors (a, d), a/c/d one each -> 2/5, 1/5, 1/5, 1/5
    assert np.allclose(np.diff(np.concatenate([[0], m._cont_cum])), [0.2, 0.4, 0.2, 0.2])
    ids, cum, backoff = m._ctx["a"]
    assert backoff == 0.5 * 2 / 2  # D * N1+(a .) / c(a)
    sample = m.sample(2000, np.random.default_rng(0))
    assert set(sample) <= {"a", "b", "c", "d"}


def test_generations_are_written_as_snapshots(tmp_path):
    gens = collapse.simulate(seed_texts(20), 2, seed=1)
    ids = collapse.write_generations(tmp_path, gens)
    assert ids == ["CC-MAIN-2090-01", "CC-MAIN-2090-02", "CC-MAIN-2090-03"]
    for s in ids:
        assert gzip.decompress((tmp_path / "crawl-data" / s / "wet.paths.gz").read_bytes()).split()
