#!/usr/bin/env python
"""Diversity-stage benchmark: docs/s of the per-domain entropy/diversity stage beside parse-only docs/s.

Uses the corpus of scripts/bench_ingest.py (generated, or reused from --out). In one run it measures the
FastWARC parse-only baseline, then, on the parsed documents persisted in Spark, the diversity stage alone
(budget samples, tokenization of the sampled documents, per-domain estimators with the bootstrap).

    .venv/bin/python scripts/bench_diversity.py --docs 50000 --out bench_out
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench_ingest():
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "scripts" / "bench_ingest.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_ingest"] = mod  # so the worker pool can pickle its functions by name
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=50_000)
    p.add_argument("--out", default="bench_out")
    p.add_argument("--procs", type=int, default=2)
    args = p.parse_args(argv)

    bi = _bench_ingest()
    corpus = Path(args.out) / "corpus"
    files = bi.make_corpus(corpus, args.docs)
    n_parse, s_parse = bi.timed_pool(bi.parse_only, files, args.procs)

    from pyspark import StorageLevel

    from crawlaudit import audit, session
    from crawlaudit.ingest import wet as ingest
    from crawlaudit.metrics import entropy
    from crawlaudit.config import load_config

    cfg = load_config(ROOT / "conf" / "local.yaml", [
        f"input.manifest={corpus}/crawl-data/{{snapshot}}/wet.paths.gz", f"input.base_url={corpus}",
        f"spark.master=local[{args.procs}]"])
    with session.spark_session(cfg.spark) as spark:
        parsed, _ = ingest.read_wet(spark, cfg.input, bi.SNAPSHOT)
        parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
        docs, _, _ = ingest.split_ingested(parsed)
        n_docs = docs.count()
        keys = ["snapshot", "registered_domain"]
        stage = entropy.entropy_at_budget(keys, cfg.metrics.entropy_budget_tokens, audit.diversity_params(cfg.metrics))
        docs.transform(stage).count()  # warm-up: Python workers, broadcast, code paths
        t = time.perf_counter()
        n_groups = docs.transform(stage).where("entropy_budget_met").count()
        s_div = time.perf_counter() - t

    print(f"{'stage':34}{'docs':>9}{'seconds':>9}{'docs/s':>10}{'vs parse':>10}")
    base = n_parse / s_parse
    for name, n, s in (("parse-only (FastWARC)", n_parse, s_parse),
                       (f"diversity stage ({n_groups} domains at budget)", n_docs, s_div)):
        print(f"{name:34}{n:>9}{s:>9.1f}{n / s:>10.0f}{(n / s) / base:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
