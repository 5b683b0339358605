#!/usr/bin/env python
"""Ingestion benchmark: parse-only baseline vs crawlaudit's ingest pass vs the full Spark audit, in one run.

Generates (or reuses) a planted corpus of at least --docs documents in one snapshot, then measures:
  1. parse-only   FastWARC over the files, reading every conversion record's bytes (the floor to compare to);
  2. ingest pass  crawlaudit.ingest.wet.parse_file (member-level inflation, checks, UTF-8, hash, tokens, PSL),
                  in --procs worker processes;
     no headers   the ingest pass with every record's language header dropped: each document's language is
                  detected (conf default languages.set, low-accuracy models, first 1,000 characters); the
                  difference to 2. is the detector's documents per second per core;
  3. + templates  the ingest pass, then the template pass in Python on each file's pages (normalized line
                  hashes, template lines per domain, main content and its hash): the difference to 2. is the
                  template pass's cost per document;
     + scoring    the ingest pass, then the detector and reference scan (conf/models/l2r-biscope) on every page:
                  the difference to 2. is the scoring step's MB of text per second per core;
  4. full audit   jobs/audit_snapshot.py's audit of the snapshot on Spark local[--procs], Delta writes included;
  5. the same with dedup.templates false (whole pages): the audit's cost of templates in the same run.
Prints docs/s, MB/s (compressed input), the ratios to the parse-only baseline, and peak memory.

    .venv/bin/python scripts/bench_ingest.py --docs 50000 --out bench_out
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = "CC-MAIN-2024-22"


def make_corpus(out: Path, docs: int) -> list[Path]:
    from crawlaudit.devtools.corpus import CorpusSpec, write_corpus

    if not (out / "ground_truth.json").exists():
        n_domains = max(1, docs // 125)
        spec = CorpusSpec(snapshots=(SNAPSHOT,), n_domains=n_domains, docs_per_domain=(110, 150),
                          doc_tokens=(600, 1200), files_per_snapshot=16, seed=5)
        t = time.time()
        truth = write_corpus(out, spec)
        print(f"generated {truth['snapshots'][SNAPSHOT]['n_docs']} docs in {time.time() - t:.0f}s")
    return sorted((out / "crawl-data" / SNAPSHOT).rglob("*.warc.wet.gz"))


def parse_only(path: str) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    n = 0
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.conversion, parse_http=False):
            rec.reader.read()
            n += 1
    return n


def ingest_pass(path: str) -> int:
    from crawlaudit.ingest import wet as ingest
    from crawlaudit.config import InputConfig

    return sum(1 for r in ingest.parse_file(path, SNAPSHOT, InputConfig()) if r["row_kind"] == "doc")


def ingest_without_language_headers(path: str) -> int:
    """The ingest pass as if no record had a language header (crawls before late 2018): every document detected."""
    from crawlaudit.config import InputConfig, LanguagesConfig
    from crawlaudit.ingest import wet as ingest
    from crawlaudit.ingest.language import LanguageIdentifier

    def headerless(rows):
        for r in rows:
            if r["row_kind"] == "doc":
                r["language"] = r["language_source"] = None
            yield r

    rows = ingest._file_rows(path, SNAPSHOT, InputConfig(), True, time.sleep)
    docs = [r for r in ingest.with_doc_features(headerless(rows), LanguageIdentifier(LanguagesConfig()))
            if r["row_kind"] == "doc"]
    assert all(r["language_source"] != "header" for r in docs)
    return len(docs)


def template_pass(path: str) -> int:
    """The ingest pass, then what templates add per page (one file's pages stand for each domain's)."""
    import numpy as np

    from crawlaudit.ingest import wet as ingest
    from crawlaudit.metrics import templates
    from crawlaudit.config import InputConfig
    from crawlaudit.metrics.minhash import token_hashes
    from crawlaudit.metrics.repetition import split_lines

    docs = [r for r in ingest.parse_file(path, SNAPSHOT, InputConfig()) if r["row_kind"] == "doc"]
    params = templates.TemplateParams()
    lines = [set(token_hashes(split_lines(d["text"])[1]).view(np.int64).tolist()) for d in docs]
    by_domain: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        by_domain.setdefault(d["registered_domain"], []).append(i)
    found = {}
    for domain, idx in by_domain.items():
        pages = {docs[i]["content_hash"]: lines[i] for i in idx if docs[i]["content_hash"]}
        counts: dict[int, int] = {}
        for hs in pages.values():
            for h in hs:
                counts[h] = counts.get(h, 0) + 1
        if len(pages) >= params.min_docs:
            need = params.threshold(len(pages))
            found[domain] = sorted(h for h, c in counts.items() if c >= need)
    templates.main_contents([d["text"] for d in docs], [found.get(d["registered_domain"]) for d in docs])
    return len(docs)


MODEL = ROOT / "conf" / "models" / "l2r-biscope"
SCORE_BATCH = 2000


def _pages(path: str) -> list[str]:
    from crawlaudit.config import InputConfig
    from crawlaudit.ingest import wet as ingest

    return [r["text"] for r in ingest.parse_file(path, SNAPSHOT, InputConfig()) if r["row_kind"] == "doc"]


def text_bytes(path: str) -> int:
    return sum(len(t.encode("utf-8")) for t in _pages(path))


def score_pass(path: str) -> int:
    """The ingest pass, then the detector and reference scan on every page (Scorer.score_batch, as the audit's
    scoring step runs it per Arrow batch)."""
    from crawlaudit.synthetic.estimates import Scorer

    scorer = Scorer.load(MODEL)
    pages = _pages(path)
    for i in range(0, len(pages), SCORE_BATCH):
        scorer.score_batch([str(j) for j in range(i, i + len(pages[i:i + SCORE_BATCH]))], pages[i:i + SCORE_BATCH])
    return len(pages)


def timed_pool(fn, files: list[Path], procs: int) -> tuple[int, float]:
    t = time.perf_counter()
    with mp.get_context("fork").Pool(procs) as pool:
        n = sum(pool.map(fn, [str(f) for f in files], chunksize=1))
    return n, time.perf_counter() - t


def full_audit(corpus: Path, warehouse: Path, procs: int, templates: bool = True) -> tuple[int, float]:
    from crawlaudit import session
    from crawlaudit.pipeline import Auditor
    from crawlaudit.config import load_config
    from crawlaudit.warehouse import Warehouse

    cfg = load_config(ROOT / "conf" / "local.yaml", [
        f"input.manifest={corpus}/crawl-data/{{snapshot}}/wet.paths.gz", f"input.base_url={corpus}",
        f"output.warehouse={warehouse}", f"spark.master=local[{procs}]", f"dedup.templates={str(templates).lower()}",
    ])
    with session.spark_session(cfg.spark) as spark:
        spark.range(1).count()  # JVM warm-up outside the timing
        # detector and expectation suites loaded outside the timing, as in a job
        auditor = Auditor(Warehouse.from_config(cfg.output, spark), cfg)
        t = time.perf_counter()
        if not auditor.audit(SNAPSHOT):
            raise SystemExit(f"the audit of {SNAPSHOT} failed: see the log above")
        elapsed = time.perf_counter() - t
        jvm_peak_mb = _peak_rss_mb(spark.sparkContext._gateway.proc.pid)
    n = sum(r["n_docs"] for r in Warehouse.at(str(warehouse)).read_arrow("snapshot_stats").to_pylist())
    return n, elapsed, jvm_peak_mb


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, from /proc (Linux)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=50_000, help="documents to generate (default 50,000)")
    p.add_argument("--out", default="bench_out", help="work directory (corpus is reused between runs)")
    p.add_argument("--procs", type=int, default=2, help="worker processes / Spark local threads (default 2)")
    p.add_argument("--skip-spark", action="store_true", help="only the parse-only and ingest-pass measurements")
    args = p.parse_args(argv)

    out = Path(args.out)
    corpus = out / "corpus"
    files = make_corpus(corpus, args.docs)
    mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"corpus: {len(files)} files, {mb:.1f} MB compressed, procs={args.procs}")

    rows, jvm_peak_mb = [], None
    n, s = timed_pool(parse_only, files, args.procs)
    base = n / s
    rows.append(("parse-only (FastWARC)", n, s))
    n, s = timed_pool(ingest_pass, files, args.procs)
    rows.append(("crawlaudit ingest pass", n, s))
    n, s_detect = timed_pool(ingest_without_language_headers, files, args.procs)
    rows.append(("ingest, no language headers", n, s_detect))
    detect_per_core = n / ((s_detect - s) * args.procs)
    n, s_templates = timed_pool(template_pass, files, args.procs)
    rows.append(("ingest + template pass", n, s_templates))
    template_ms = (s_templates - s) * args.procs / n * 1000
    n, s_score = timed_pool(score_pass, files, args.procs)
    rows.append(("ingest + detector scoring", n, s_score))
    text_mb = timed_pool(text_bytes, files, args.procs)[0] / 1e6
    score_mb_per_core = text_mb / ((s_score - s) * args.procs)
    if not args.skip_spark:
        for name, on in (("full audit (Spark + Delta)", True), ("full audit, templates off", False)):
            wh = out / "warehouse"
            shutil.rmtree(wh, ignore_errors=True)
            n, s, peak = full_audit(corpus, wh, args.procs, on)
            jvm_peak_mb = max(jvm_peak_mb or 0, peak or 0) or None
            rows.append((name, n, s))

    print(f"{'stage':28}{'docs':>9}{'seconds':>9}{'docs/s':>10}{'MB/s':>8}{'vs parse':>10}")
    for name, n, s in rows:
        print(f"{name:28}{n:>9}{s:>9.1f}{n / s:>10.0f}{mb / s:>8.1f}{(n / s) / base:>10.3f}")
    print(f"language detection: {detect_per_core:.0f} documents per second per core (ingest without language "
          f"headers minus ingest pass)")
    print(f"template pass: {template_ms:.3f} ms per document per core (ingest + template pass minus ingest pass)")
    print(f"detector scoring ({MODEL.name}): {score_mb_per_core:.1f} MB of text per second per core "
          f"({text_mb:.0f} MB of page text; ingest + scoring minus ingest pass)")
    if not args.skip_spark:
        print(f"full audit with templates / without: {rows[-2][2] / rows[-1][2]:.2f}x the time")
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: driver python {self_mb:.0f} MB, largest pool worker {child_mb:.0f} MB"
          + ("" if args.skip_spark or jvm_peak_mb is None else f", Spark JVM {jvm_peak_mb:.0f} MB"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
