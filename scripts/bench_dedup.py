#!/usr/bin/env python
"""Near-duplicate detection throughput: crawlaudit's Spark pipeline against a datasketch baseline.

On N generated documents (the planted corpus: near-duplicate families, exact copies, site templates), all in the
same run:
  parse-only     FastWARC reading the same documents from a WET file (the floor every stage is compared with)
  datasketch     single process: shingles → MinHash (update_batch) → MinHashLSH insert + query, same threshold
                 and permutations; its candidates are NOT verified
  crawlaudit     Spark local[P]: MinHash signatures → LSH banding → exact shingle Jaccard of every
                 candidate pair → connected components; and, for reference, the job's per-document pass,
                 which computes the signatures together with the line hashes and repetition signals
Prints docs/s per stage, per core, the ratio to datasketch per core, peak memory and pair counts.

  .venv/bin/pip install -e '.[bench]'   # datasketch
  .venv/bin/python scripts/bench_dedup.py --docs 100000 [--procs 2] [--work /tmp/bench_dedup]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import _peak_rss_mb, parse_only  # noqa: E402  (same directory)

SNAPSHOT = "CC-MAIN-2024-22"


def make_docs(n: int) -> list[tuple[str, str]]:
    from crawlaudit.devtools.corpus import CorpusSpec, generate_documents

    spec = CorpusSpec(snapshots=(SNAPSHOT,), n_domains=max(1, n // 80), docs_per_domain=(70, 90), seed=11)
    docs = generate_documents(spec)[SNAPSHOT][:n]
    return [(f"{i:08d}", text) for i, (_, _, text) in enumerate(docs)]


def write_wet(docs: list[tuple[str, str]], path: Path) -> None:
    from datetime import datetime, timezone

    from crawlaudit.devtools.corpus import wet_record

    date = datetime(2024, 5, 20, tzinfo=timezone.utc)
    with open(path, "wb") as f:
        for doc_id, text in docs:
            f.write(wet_record(f"https://example.com/{doc_id}", date, f"<urn:uuid:{doc_id}>", text))


def normalized_tokens(text: str) -> list[str]:
    from crawlaudit.metrics.repetition import split_lines

    return " ".join(split_lines(text)[1]).split()


def datasketch_baseline(docs, threshold: float, num_perm: int, k: int) -> tuple[float, int]:
    from datasketch import MinHash, MinHashLSH

    t = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    sigs = []
    for doc_id, text in docs:
        toks = normalized_tokens(text)
        grams = {" ".join(toks[j:j + k]) for j in range(max(len(toks) - k + 1, 1))} if toks else set()
        m = MinHash(num_perm=num_perm)
        m.update_batch([g.encode("utf-8") for g in grams])
        lsh.insert(doc_id, m)
        sigs.append((doc_id, m))
    pairs = set()
    for doc_id, m in sigs:
        for other in lsh.query(m):
            if other != doc_id:
                pairs.add((min(doc_id, other), max(doc_id, other)))
    return time.perf_counter() - t, len(pairs)


def crawlaudit_pipeline(docs, procs: int) -> dict:
    from pyspark import StorageLevel

    from crawlaudit import session
    from crawlaudit.metrics import neardup
    from crawlaudit import schemas as S
    from crawlaudit.config import DedupConfig, SparkConfig
    from crawlaudit.metrics.neardup import NearDupParams
    from crawlaudit.metrics.signals import document_signals, minhash_signatures

    params = NearDupParams.from_config(DedupConfig())
    out = {"bands": params.bands, "rows": params.rows}
    cfg = SparkConfig(master=f"local[{procs}]", shuffle_partitions=2 * procs, driver_memory="6g",
                      conf={"spark.databricks.delta.snapshotPartitions": 2})
    with session.spark_session(cfg) as spark:
        df = spark.createDataFrame(docs, "doc_id string, text string").repartition(4 * procs).persist(
            StorageLevel.MEMORY_AND_DISK)
        df.count()  # texts in the JVM before timing, as after ingest in the job
        spark.range(1).repartition(2).count()

        def timed(name, fn):
            t = time.perf_counter()
            value = fn()
            out[name] = time.perf_counter() - t
            return value

        full = df.transform(document_signals(params.hasher)).persist()
        timed("job_pass", full.count)  # what the job runs: signatures + line hashes + repetition signals
        full.unpersist()
        sigs = df.transform(minhash_signatures(params.hasher)).persist()
        timed("signatures", sigs.count)
        pairs = timed("banding", lambda: sigs.transform(
            neardup.candidate_pairs(params.bands, params.rows, params.bucket_window)).localCheckpoint())
        out["candidate_pairs"] = pairs.count()

        edges = timed("verification", lambda: neardup.verify_candidates(df, pairs, params).localCheckpoint())
        out["verified_pairs"] = edges.count()
        flagged = timed("components", lambda: df.select(S.DOC_ID).transform(
            neardup.with_near_dup_flags(edges, params.max_component_rounds)).localCheckpoint())
        out["near_dup_docs"] = flagged.where(flagged[S.IS_NEAR_DUP]).count()
        out["clusters"] = flagged.select(S.COMPONENT).distinct().count()
        out["jvm_peak_mb"] = _peak_rss_mb(spark.sparkContext._gateway.proc.pid)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=100_000, help="documents to generate (default 100,000)")
    p.add_argument("--procs", type=int, default=2, help="cores for Spark (local[P]); default 2")
    p.add_argument("--work", type=Path, default=Path("/tmp/bench_dedup"), help="scratch directory")
    p.add_argument("--skip-baseline", action="store_true", help="do not run datasketch (it is the slow part)")
    args = p.parse_args(argv)
    from crawlaudit.config import DedupConfig

    dd = DedupConfig()
    args.work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    docs = make_docs(args.docs)
    n = len(docs)
    mb = sum(len(text.encode("utf-8")) for _, text in docs) / 1e6
    print(f"generated {n} documents ({mb:.1f} MB of text) in {time.perf_counter() - t:.0f}s", flush=True)
    wet = args.work / "bench.warc.wet.gz"
    write_wet(docs, wet)
    t = time.perf_counter()
    parse_only(str(wet))
    parse_s = time.perf_counter() - t
    print(f"parse-only (FastWARC, 1 core):      {n / parse_s:10,.0f} docs/s  {mb / parse_s:7.1f} MB/s", flush=True)

    if not args.skip_baseline:
        base_s, base_pairs = datasketch_baseline(docs, dd.jaccard_threshold, dd.num_perm, dd.shingle_size)
        print(f"datasketch MinHash+LSH (1 core):    {n / base_s:10,.0f} docs/s  ({base_s:.1f}s, "
              f"{base_pairs} unverified candidate pairs; {base_s / parse_s:.0f}x parse-only time)", flush=True)
    r = crawlaudit_pipeline(docs, args.procs)
    total = sum(r[k] for k in ("signatures", "banding", "verification", "components"))
    print(f"crawlaudit (Spark local[{args.procs}], LSH {r['bands']} bands x {r['rows']} rows):")
    for stage in ("signatures", "banding", "verification", "components"):
        print(f"  {stage:13s} {n / r[stage]:10,.0f} docs/s  ({r[stage]:.1f}s)")
    per_core = n / total / args.procs
    print(f"  (the job's per-document pass, which adds line hashes and repetition signals: "
          f"{n / r['job_pass']:,.0f} docs/s, {r['job_pass']:.1f}s)")
    print(f"  {'all stages':13s} {n / total:10,.0f} docs/s  ({total:.1f}s); per core {per_core:,.0f} docs/s")
    print(f"  {r['candidate_pairs']} candidate pairs, {r['verified_pairs']} verified; "
          f"{r['near_dup_docs']} near-duplicate documents in {r['clusters']} clusters")
    if not args.skip_baseline:
        print(f"ratio crawlaudit per core / datasketch: {per_core / (n / base_s):.2f}x (target >= 2x)")
    print(f"ratio crawlaudit (all stages, all cores) / parse-only: {(n / total) / (n / parse_s):.3f}")
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: driver python {self_mb:.0f} MB (holds the documents and the baseline's index), "
          f"Spark JVM {r['jvm_peak_mb'] or float('nan'):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
