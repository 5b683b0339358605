"""The collapse simulator's model and generations (the audit of generations comes with its CLI)."""
import gzip

import numpy as np

from crawlaudit.devtools import collapse
from crawlaudit.devtools.corpus import generated_texts


def seed_texts(n_docs=120):
    return generated_texts(n_docs, seed=2)  # the 10,000-type vocabulary: a long tail to lose


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


def test_audit_of_simulated_generations_shows_collapse(spark, tmp_path, capsys):
    """End to end: simulate-collapse writes a generation after the seed, the audit job measures both, and every
    collapse signal moves the right way (the eight-generation evidence is scripts/bench_diversity.py's)."""
    import importlib.util
    from pathlib import Path

    from crawlaudit import cli
    from crawlaudit.warehouse import Warehouse

    out = tmp_path / "collapse"
    assert cli.main(["simulate-collapse", "--out", str(out), "--generations", "1", "--max-docs", "200",
                     "--seed", "1"]) == 0
    spec = importlib.util.spec_from_file_location("job", Path(__file__).resolve().parents[1] / "jobs" / "audit_snapshot.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    wh = str(tmp_path / "wh")
    assert job.main(["--snapshot", "all", "--manifest", str(out / "crawl-data/{snapshot}/wet.paths.gz"),
                     "--input-base-url", str(out), "--warehouse", wh, "--set", "spark.shuffle_partitions=2",
                     "--set", "metrics.snapshot_entropy_budget_tokens=40000", "--set", "synthetic.model=null",
                     "--set", "quality.data_docs=false"]) == 0
    rows = sorted(Warehouse.at(wh).read_arrow("snapshot_stats").to_pylist(), key=lambda r: r["snapshot"])
    assert [r["snapshot"] for r in rows] == ["CC-MAIN-2090-01", "CC-MAIN-2090-02"]
    assert all(r["entropy_budget_met"] for r in rows)
    for a, b in zip(rows, rows[1:]):
        assert b["entropy_chao_shen_bits"] < a["entropy_chao_shen_bits"]   # corrected entropy falls
        assert b["ttr"] < a["ttr"]                                         # fewer types at the budget
        assert b["tail_mass"] < a["tail_mass"]                             # the tail erodes
        assert b["distinct_2"] < a["distinct_2"]                           # repeated bigrams rise
    capsys.readouterr()
    assert cli.main(["summary", "--warehouse", wh, "--by", "snapshot"]) == 0
    assert "CC-MAIN-2090-02" in capsys.readouterr().out


def test_generation_documents_are_spread_over_distinct_registered_domains(tmp_path):
    from crawlaudit.ingest import wet as ingest
    from crawlaudit.config import InputConfig

    gens = collapse.simulate(seed_texts(12), 0, seed=1)
    collapse.write_generations(tmp_path, gens, n_domains=4)
    files = ingest.resolve_files(InputConfig(manifest=str(tmp_path / "crawl-data/{snapshot}/wet.paths.gz"),
                                             base_url=str(tmp_path)), "CC-MAIN-2090-01")
    domains = {r["registered_domain"] for f in files for r in ingest.parse_file(f, "CC-MAIN-2090-01", InputConfig())
               if r["row_kind"] == "doc"}
    assert len(domains) == 4
