#!/usr/bin/env python
"""Scale benchmark (issue: scale out, no snapshot in one Python worker, cost that grows linearly), in one run.

Stage "audit": one planted snapshot of --sizes' largest N documents (≈ 5.5 KB pages, --tail of the domains with one
document, the rest 110–150; 64 files) is generated once; for each N of --sizes the snapshot made of the first
N/largest of its files is
  1. parsed by FastWARC alone (every conversion record's bytes, --procs processes): the floor to compare to;
  2. audited in full by the audit job's code on Spark local[--procs] (conf/local.yaml, the detector --model,
     Delta writes included),
printing per N the wall time, docs/s, the ratio to the parse-only pass, time(N)/time(previous N), and the peak RSS
of the JVM, the driver (cumulative over the run) and the largest Python worker (sampled from /proc while it runs).
With --curation, then ``crawlaudit export`` and ``crawlaudit extract`` of each audited snapshot (rows/s, MB/s).

Stage "pooled": --rows document score rows of one snapshot generated in Spark (no Python per row), then on Spark
local[--procs] with ``spark.executor.pyspark.memory`` = --worker-memory:
  1. parse-only      reading the Parquet rows (a full scan);
  2. pooled stage    ``synthetic.pooled.pooled_estimates`` over every row (the audit's snapshot_stats estimate);
  3. check           on the first --check-rows rows: the pooled estimates with 2 and with 16 partitions (interval
                     ends must be identical) and the one-process computation ``estimates.estimate_group`` (point
                     estimates must agree to 1e-9).
``--one-group N`` instead times the per-group path (``estimates.synthetic_estimates``: the group's rows in one Python
worker, as pooled rows were fitted before) on N rows, for comparison (its own process: peak memory is per process).

    .venv/bin/python scripts/bench_scale.py --stage all --out bench_out
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_ingest import SNAPSHOT, _peak_rss_mb, parse_only, timed_pool  # noqa: E402  (a sibling script)


def _hwm(pid: int) -> float:
    return _peak_rss_mb(pid) or 0.0


class PeakSampler:
    """Peak resident memory of the Spark JVM and of the largest PySpark worker process, sampled from /proc. Given
    the SparkContext, also the Spark stages running when the worker peak last rose (``worker_stages``): where to
    look when it grows."""

    def __init__(self, jvm_pid: int, every: float = 0.25, sc=None):
        self.jvm_pid, self.every, self.sc = jvm_pid, every, sc
        self.jvm_mb = self.worker_mb = 0.0
        self.worker_stages = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _active_stages(self) -> str:
        tracker = self.sc.statusTracker()
        infos = filter(None, map(tracker.getStageInfo, tracker.getActiveStageIds()))
        return "; ".join(f"stage {i.stageId}: {i.name}" for i in infos)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.jvm_mb = max(self.jvm_mb, _hwm(self.jvm_pid))
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = open(f"/proc/{pid}/cmdline", "rb").read()
                except OSError:
                    continue
                if b"pyspark.daemon" in cmd or b"pyspark.worker" in cmd:
                    mb = _hwm(int(pid))
                    if mb > self.worker_mb * 1.02 and self.sc is not None:
                        self.worker_stages = self._active_stages()
                    self.worker_mb = max(self.worker_mb, mb)
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def generate(spark, rows: int, n_words: int, path: Path) -> None:
    """Deterministic score rows from hashes of the row number: no Python per row, nothing on the driver."""
    from pyspark.sql import functions as F

    from crawlaudit import schemas as S

    def unit(*cols):   # a uniform [0, 1) from a hash
        return F.xxhash64(*cols).bitwiseAND(F.lit(0xFFFFFFFF)).cast("double") / F.lit(float(1 << 32))

    i = F.col("id")
    n_domains = max(1, rows // 50)
    # 60% of the domains hold one document each; the rest share the other rows with a skew toward the first
    singles = int(n_domains * 0.6)
    tail = F.concat(F.lit("single"), i.cast("string"), F.lit(".com"))
    head = F.concat(F.lit("site"), F.floor(F.pow(unit(i, F.lit(1)), F.lit(3.0)) * (n_domains - singles))
                    .cast("long").cast("string"), F.lit(".org"))
    prob = F.pow(unit(i, F.lit(2)), F.lit(2.5))
    k = (unit(i, F.lit(3)) * 41).cast("int")
    words = F.array_sort(F.array_distinct(F.transform(
        F.sequence(F.lit(1), F.greatest(k, F.lit(1))),
        lambda j: (F.floor(F.pow(unit(i, j + 10), F.lit(2.0)) * n_words)).cast("int"))))
    df = spark.range(rows).select(
        F.lit(SNAPSHOT).alias(S.SNAPSHOT),
        F.when(i < singles, tail).otherwise(head).alias(S.REGISTERED_DOMAIN),
        F.sha2(i.cast("string"), 256).substr(1, 24).alias(S.DOC_ID),
        prob.alias(S.AI_PROB), (prob >= 0.5).alias(S.IS_AI_FLAGGED), (unit(i, F.lit(4)) < 0.08).alias(S.HAS_MARKER),
        F.when(k > 0, words).otherwise(F.array().cast("array<int>")).alias(S.REF_WORDS))
    df.write.mode("overwrite").parquet(str(path))


def one_group(spark, rows, params, limit: str) -> int:
    from crawlaudit import schemas as S
    from crawlaudit.synthetic.estimates import synthetic_estimates

    rows = rows.localCheckpoint()
    n = rows.count()
    with PeakSampler(spark.sparkContext._gateway.proc.pid) as peak:
        t = time.perf_counter()
        try:
            rows.transform(synthetic_estimates([S.SNAPSHOT], params)).collect()
            outcome = f"{time.perf_counter() - t:.1f} s, {n / (time.perf_counter() - t):,.0f} rows/s"
        except Exception as e:   # the worker limit is the point of the comparison
            outcome = f"FAILED after {time.perf_counter() - t:.1f} s ({type(e).__name__})"
    print(f"one group of {n:,} rows in one Python worker: {outcome}; largest Python worker {peak.worker_mb:.0f} MB "
          f"(limit {limit}), Spark JVM {peak.jvm_mb:.0f} MB")
    return 0


FILES = 64


def make_corpus(out: Path, docs: int, tail: float) -> Path:
    """The largest snapshot, generated once (reused between runs)."""
    from crawlaudit.devtools.corpus import CorpusSpec, write_corpus

    corpus = out / f"corpus-{docs}-{tail}"
    if not (corpus / "ground_truth.json").exists():
        # a domain holds 130 documents on average, a tail domain one (plus the odd syndicated page)
        n_domains = max(1, round(docs / (130 * (1 - tail) + tail)))
        spec = CorpusSpec(snapshots=(SNAPSHOT,), n_domains=n_domains, docs_per_domain=(110, 150),
                          doc_tokens=(600, 1200), files_per_snapshot=FILES, seed=5, single_doc_share=tail)
        t = time.perf_counter()
        truth = write_corpus(corpus, spec)
        print(f"generated {truth['snapshots'][SNAPSHOT]['n_docs']:,} documents of {n_domains:,} domains in "
              f"{time.perf_counter() - t:.0f}s ({corpus})", flush=True)
    return corpus


def sub_manifest(corpus: Path, out: Path, n_files: int) -> tuple[Path, list[Path]]:
    """A manifest of the corpus's first ``n_files`` files (in manifest order): (manifest, local paths)."""
    lines = gzip.decompress((corpus / "crawl-data" / SNAPSHOT / "wet.paths.gz").read_bytes()).decode().split()
    manifest = out / f"manifest-{n_files}" / "wet.paths.gz"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_bytes(gzip.compress(("\n".join(lines[:n_files]) + "\n").encode()))
    return manifest, [corpus / rel for rel in lines[:n_files]]


def audit_stage(args) -> None:
    import shutil

    from crawlaudit import session
    from crawlaudit.config import load_config
    from crawlaudit.pipeline import Auditor
    from crawlaudit.warehouse import Warehouse

    sizes = sorted(int(x) for x in args.sizes.split(","))
    out = Path(args.out)
    corpus = make_corpus(out, sizes[-1], args.tail)
    truth_docs = json.loads((corpus / "ground_truth.json").read_text())["snapshots"][SNAPSHOT]
    print(f"{'N':>8}{'docs':>9}{'domains':>9}{'seconds':>9}{'docs/s':>9}{'parse/s':>10}{'vs parse':>10}"
          f"{'t/t(prev)':>11}{'JVM MB':>8}{'driver MB':>11}{'worker MB':>11}", flush=True)
    previous, curation, peaks = None, [], []
    for n in sizes:
        manifest, files = sub_manifest(corpus, out, max(1, round(FILES * n / sizes[-1])))
        parsed, parse_s = timed_pool(parse_only, files, args.procs)
        wh = out / f"warehouse-{n}"
        shutil.rmtree(wh, ignore_errors=True)
        cfg = load_config(ROOT / "conf" / "local.yaml", [
            f"input.manifest={manifest}", f"input.base_url={corpus}", f"output.warehouse={wh}",
            f"spark.master=local[{args.procs}]", f"synthetic.model={args.model}", "quality.data_docs=false",
            *args.set])
        if args.event_log:
            Path(args.event_log).mkdir(parents=True, exist_ok=True)
            cfg = dataclasses.replace(cfg, spark=dataclasses.replace(cfg.spark, conf={
                **cfg.spark.conf, "spark.eventLog.enabled": "true", "spark.eventLog.compress": "false",
                "spark.eventLog.dir": Path(args.event_log).resolve().as_uri()}))
        with session.spark_session(cfg.spark) as spark:
            spark.range(1).count()   # JVM warm-up outside the timing
            auditor = Auditor(Warehouse.from_config(cfg.output, spark), cfg)
            with PeakSampler(spark.sparkContext._gateway.proc.pid, sc=spark.sparkContext) as peak:
                t = time.perf_counter()
                if not auditor.audit(SNAPSHOT):
                    raise SystemExit(f"the audit of {SNAPSHOT} at N = {n} failed: see the log above")
                elapsed = time.perf_counter() - t
            if args.curation:
                curation.append((n, *curation_pass(spark, cfg, out / f"export-{n}")))
        rows = Warehouse.at(str(wh)).read_arrow("snapshot_stats").to_pylist()
        docs = sum(r["n_docs"] for r in rows)
        domains = len(Warehouse.at(str(wh)).read_arrow("domain_stats").to_pylist())
        ratio = f"{elapsed / previous:.2f}" if previous else "-"
        print(f"{n:>8,}{docs:>9,}{domains:>9,}{elapsed:>9.1f}{docs / elapsed:>9.0f}{parsed / parse_s:>10.0f}"
              f"{(docs / elapsed) / (parsed / parse_s):>10.4f}{ratio:>11}{peak.jvm_mb:>8.0f}"
              f"{_hwm(os.getpid()):>11.0f}{peak.worker_mb:>11.0f}", flush=True)
        previous = elapsed
        peaks.append((n, peak.worker_mb, peak.worker_stages))
    print(f"(corpus: {truth_docs['n_docs']:,} documents in {FILES} files; N uses the first N/{sizes[-1]:,} of them)")
    for n, mb, stages in peaks:
        print(f"N = {n:,}: the largest Python worker reached {mb:.0f} MB during {stages or '(no stage seen)'}")
    if curation:
        print(f"\ncuration, preset dedup-only (the bench snapshot is post-2023: vintage-human-unique would keep none)\n"
              f"{'N':>8}{'rows':>9}{'export s':>10}{'rows/s':>9}{'kept':>9}{'extract s':>11}{'docs/s':>9}{'MB':>8}"
              f"{'MB/s':>7}{'errors':>8}")
        for n, n_rows, export_s, totals, extract_s in curation:
            print(f"{n:>8,}{n_rows:>9,}{export_s:>10.1f}{n_rows / export_s:>9.0f}{totals['n_docs']:>9,}"
                  f"{extract_s:>11.1f}{totals['n_docs'] / extract_s:>9.0f}{totals['n_bytes'] / 1e6:>8.1f}"
                  f"{totals['n_bytes'] / 1e6 / extract_s:>7.1f}{sum(totals['errors'].values()):>8}", flush=True)
    if args.event_log:
        print_profile(Path(args.event_log))


def curation_pass(spark, cfg, out: Path) -> tuple[int, float, dict, float]:
    """``crawlaudit export`` (preset dedup-only) and ``crawlaudit extract`` of the audited snapshot, timed apart:
    (export rows, export seconds, extract totals, extract seconds)."""
    from crawlaudit import cli
    from crawlaudit.curation import export, extract
    from crawlaudit.metrics.neardup import NearDupParams
    from crawlaudit.warehouse import Warehouse

    cfg = dataclasses.replace(cfg, export=dataclasses.replace(cfg.export, preset="dedup-only"))
    wh = Warehouse.from_config(cfg.output, spark)
    t = time.perf_counter()
    result = export.curate(wh, [SNAPSHOT], cli.export_policy(cfg), NearDupParams.from_config(cfg.dedup), None,
                           cfg.report.min_docs, cfg.report.vintage_min_years)
    export.write(result, str(out))
    export_s = time.perf_counter() - t
    n_rows = sum(r["n_docs"] for r in result.summary)
    t = time.perf_counter()
    totals = extract.extract_export(spark, str(out), cfg.input, str(out / "text"))
    return n_rows, export_s, totals, time.perf_counter() - t


def print_profile(events: Path, top: int = 20) -> None:
    """The newest event log's SQL executions grouped by description (the call site), longest first: where an
    audit's time went, query by query."""
    from collections import Counter

    logs = sorted((d for d in events.iterdir() if d.name.startswith("eventlog_v2_")), key=lambda d: d.stat().st_mtime)
    if not logs:
        return
    started, total, count = {}, Counter(), Counter()
    for part in sorted(logs[-1].glob("events_*"), key=lambda f: int(f.name.split("_")[1])):
        for line in part.open(encoding="utf-8"):
            if "SQLExecution" not in line:
                continue
            e = json.loads(line)
            if e["Event"].endswith("SQLExecutionStart"):
                started[e["executionId"]] = (e["time"], e["description"][:90])
            elif e["Event"].endswith("SQLExecutionEnd") and e["executionId"] in started:
                t0, desc = started.pop(e["executionId"])
                total[desc] += (e["time"] - t0) / 1000
                count[desc] += 1
    print(f"SQL executions of the last audited run, by call site ({sum(count.values())} in all, "
          f"{sum(total.values()):.0f} s summed; nested executions overlap):")
    for desc, seconds in total.most_common(top):
        print(f"{seconds:9.1f} s {count[desc]:5d}x  {desc}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=("audit", "pooled", "all"), default="all", help="what to run (default all)")
    p.add_argument("--sizes", default="50000,100000,200000", help="documents per audited snapshot (default "
                   "50000,100000,200000)")
    p.add_argument("--tail", type=float, default=0.6, help="share of the domains with one document (default 0.6)")
    p.add_argument("--rows", type=int, default=3_000_000, help="score rows to generate (default 3,000,000)")
    p.add_argument("--check-rows", type=int, default=50_000, help="rows of the equality checks (default 50,000)")
    p.add_argument("--replicates", type=int, default=200, help="bootstrap replicates (default 200, the profiles')")
    p.add_argument("--procs", type=int, default=2, help="Spark local[N] (default 2)")
    p.add_argument("--worker-memory", default="2g", help="spark.executor.pyspark.memory (default 2g)")
    p.add_argument("--model", default=str(ROOT / "conf" / "models" / "l2r-biscope"),
                   help="model directory whose calibration and reference words are used")
    p.add_argument("--out", default="bench_out", help="work directory (the generated rows are reused)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for the audited runs, as the jobs' --set (repeatable), e.g. "
                        "synthetic.distributed_min_docs=0")
    p.add_argument("--event-log", metavar="DIR", help="write Spark's event log of the audited runs to DIR (for a "
                   "per-query profile: each SQL execution's description and time)")
    p.add_argument("--curation", action="store_true", help="after each audit, time crawlaudit export (preset "
                   "dedup-only) and crawlaudit extract of the snapshot: export rows/s, extract docs/s and MB/s")
    p.add_argument("--one-group", type=int, default=0, metavar="N",
                   help="time the one-worker-per-group path on N rows instead (for comparison)")
    args = p.parse_args(argv)
    from crawlaudit import cli

    cli.setup_logging()   # the audit's own log: each step and its time
    if args.stage in ("audit", "all") and not args.one_group:
        audit_stage(args)
    if args.stage in ("pooled", "all") or args.one_group:
        return pooled_stage(args)
    return 0


def pooled_stage(args) -> int:
    from pyspark.sql import functions as F

    from crawlaudit import schemas as S
    from crawlaudit import session
    from crawlaudit.config import SparkConfig
    from crawlaudit.synthetic import estimates
    from crawlaudit.synthetic.pooled import pooled_estimates

    scorer = estimates.Scorer.load(args.model)
    params = estimates.EstimatorParams(scorer.detector.calibration, tuple(scorer.reference.p_human),
                                       tuple(scorer.reference.q_ai), "pacc", 30, args.replicates, 1729)
    out = Path(args.out)
    data = out / f"scores-{args.rows}"
    cfg = SparkConfig(master=f"local[{args.procs}]", shuffle_partitions=max(2, args.procs), driver_memory="4g",
                      conf={"spark.executor.pyspark.memory": args.worker_memory})
    with session.spark_session(cfg) as spark:
        if not (data / "_SUCCESS").exists():
            t = time.perf_counter()
            generate(spark, args.rows, len(params.p_human), data)
            print(f"generated {args.rows:,} score rows in {time.perf_counter() - t:.0f}s ({data})")
        rows = spark.read.parquet(str(data))
        if args.one_group:
            return one_group(spark, rows.orderBy(S.DOC_ID).limit(args.one_group), params, args.worker_memory)
        with PeakSampler(spark.sparkContext._gateway.proc.pid) as peak:
            t = time.perf_counter()
            n = rows.select(S.DOC_ID, S.REF_WORDS).where(F.size(S.REF_WORDS) >= 0).count()
            parse_s = time.perf_counter() - t
            t = time.perf_counter()
            row = rows.transform(pooled_estimates([S.SNAPSHOT], params)).first()
            pooled_s = time.perf_counter() - t
        print(f"{'stage':34}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'vs parse':>10}")
        for name, s in (("parse-only (Parquet scan)", parse_s), ("pooled estimation", pooled_s)):
            print(f"{name:34}{n:>11,}{s:>9.1f}{n / s:>11,.0f}{(n / s) / (n / parse_s):>10.3f}")
        print(f"pooled: n_docs_scored {row[S.N_DOCS_SCORED]:,}, synthetic_ratio {row[S.SYNTHETIC_RATIO]:.4f} "
              f"[{row[S.SYNTHETIC_RATIO_LO]:.4f}, {row[S.SYNTHETIC_RATIO_HI]:.4f}], mle {row[S.SYNTHETIC_MLE]:.4f}")
        print(f"peak RSS: Spark JVM {peak.jvm_mb:.0f} MB, largest Python worker {peak.worker_mb:.0f} MB "
              f"(limit {args.worker_memory}), driver python "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

        subset = rows.orderBy(S.DOC_ID).limit(args.check_rows).localCheckpoint()
        two = subset.repartition(2).transform(pooled_estimates([S.SNAPSHOT], params)).first().asDict()
        sixteen = subset.repartition(16).transform(pooled_estimates([S.SNAPSHOT], params)).first().asDict()
        local = estimates.estimate_group(subset.toPandas(), (SNAPSHOT,), params)
        ends = [S.SYNTHETIC_RATIO_LO, S.SYNTHETIC_RATIO_HI]
        point = [S.SYNTHETIC_CC, S.SYNTHETIC_ACC, S.SYNTHETIC_PACC, S.SYNTHETIC_MLE, S.MARKER_DOC_FRAC]
        worst = max(abs(two[c] - local[c]) for c in point)
        same = all(two[c] == sixteen[c] for c in ends)
        print(f"check on {args.check_rows:,} rows: interval ends with 2 and 16 partitions "
              f"{'identical' if same else 'DIFFER'} ({two[ends[0]]!r}, {two[ends[1]]!r}); "
              f"point estimates vs one process: max |diff| {worst:.2e}")
        return 0 if same and worst <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
