"""Command line: the shared audit arguments used by ``jobs/``, and the ``crawlaudit`` console command.

``crawlaudit`` subcommands never start Spark unless they must: ``sample-corpus``, ``summary`` and
``check-config`` run in plain Python (tables are read with delta-rs).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from crawlaudit import __version__
from crawlaudit.config import SUBMIT_TARGETS, Config, config_to_dict, load_config, parse_snapshot
from crawlaudit.errors import ConfigError, CrawlauditError, InputError
from crawlaudit.ops.submit import JOBS

DEFAULT_CONFIG = "conf/local.yaml"


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "--conf-file", dest="config", default=None,
                   help=f"YAML profile (default: {DEFAULT_CONFIG} when it exists, else built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable), e.g. --set metrics.entropy_budget_tokens=5000")


def add_audit_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of the audit jobs. Flags override the config file; ``--set`` overrides both."""
    add_config_arguments(p)
    p.add_argument("--snapshot", action="append", default=[], metavar="CC-MAIN-YYYY-WW",
                   help="snapshot to audit (repeatable); 'all' audits every snapshot found under the local input")
    add_input_arguments(p)


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    """Where the audit reads and writes (shared by the audit and the scheduled jobs)."""
    p.add_argument("--manifest", help="wet.paths(.gz) path or URL; {snapshot} is replaced by the snapshot id")
    p.add_argument("--input-base-url", help="prefix for the manifest's relative paths: a local directory, "
                                            "s3://commoncrawl/ or https://data.commoncrawl.org/")
    p.add_argument("--input-paths", help="local directory or glob of *.warc.wet.gz (instead of a manifest)")
    p.add_argument("--sample-files", type=int, help="audit N files, picked deterministically per snapshot")
    p.add_argument("--warehouse", help="root of the Delta tables")
    p.add_argument("--master", help="Spark master (default from config; omit under spark-submit)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def config_from_args(args: argparse.Namespace) -> Config:
    """The effective config: file, then flags, then --set. Raises ConfigError."""
    path = args.config or (DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None)
    flags = {
        "input.manifest": getattr(args, "manifest", None),
        "input.base_url": getattr(args, "input_base_url", None),
        "input.paths": getattr(args, "input_paths", None),
        "input.sample_files": getattr(args, "sample_files", None),
        "output.warehouse": getattr(args, "warehouse", None),
        "spark.master": getattr(args, "master", None),
        "schedule.catalog": getattr(args, "catalog", None),
    }
    overrides = [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]
    if getattr(args, "input_paths", None):
        overrides.append("input.manifest=null")
    elif getattr(args, "manifest", None):
        overrides.append("input.paths=null")
    return load_config(path, overrides + list(args.overrides))


def job_config_from_args(args: argparse.Namespace):
    """Everything a job checks before starting Spark: (the config, the snapshot ids, the checked Warehouse)."""
    cfg = config_from_args(args)
    snapshots = snapshots_from_args(args, cfg)
    return cfg, snapshots, preflight(cfg)


def warehouse_from_args(args: argparse.Namespace):
    """The config's Warehouse (``--warehouse``, ``--config``, ``--set``), for the commands that read it outside
    Spark."""
    from crawlaudit.warehouse import Warehouse

    return Warehouse.from_config(config_from_args(args).output)


def preflight(cfg: Config):
    """What fails before Spark starts: an unwritable or unreachable warehouse, a malformed expectation suite, a
    missing model. Returns the checked ``Warehouse`` (without Spark: ``with_spark`` once the session runs)."""
    from crawlaudit.warehouse import Warehouse

    wh = Warehouse.from_config(cfg.output)
    wh.check()
    from crawlaudit.quality.expectations import load_suites

    load_suites(cfg.quality)
    if cfg.synthetic.model:
        from crawlaudit.synthetic.estimates import Scorer

        Scorer.load(cfg.synthetic.model)
    return wh


def snapshots_from_args(args: argparse.Namespace, cfg: Config) -> list[str]:
    """Validated snapshot ids in chronological order (so cross-snapshot reuse sees earlier snapshots first)."""
    from crawlaudit.ingest import wet as ingest

    if not args.snapshot:
        raise ConfigError("no snapshot given: pass --snapshot CC-MAIN-YYYY-WW (repeatable) or --snapshot all")
    if "all" in args.snapshot:
        return ingest.discover_snapshots(cfg.input)
    for s in args.snapshot:
        parse_snapshot(s)
    return sorted(set(args.snapshot))


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "urllib3", "botocore", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- crawlaudit subcommands --------------------------------------------------------------------------------------


def _corpus_spec(args):
    from crawlaudit.devtools.corpus import (DEFAULT_AI_SHARE, DEMO_HEADERLESS_SHARE, DEMO_LANGUAGE_GROWTH,
                                            DEMO_LANGUAGES, CorpusSpec, parse_ai_share)

    ai_share = parse_ai_share(args.ai_share) if args.ai_share is not None else DEFAULT_AI_SHARE
    if args.small:
        return CorpusSpec(snapshots=("CC-MAIN-2019-35", "CC-MAIN-2021-31", "CC-MAIN-2024-22"), n_domains=8,
                          docs_per_domain=(20, 70), files_per_snapshot=2, seed=args.seed, ai_share=ai_share)
    return CorpusSpec(seed=args.seed, ai_share=ai_share, languages=DEMO_LANGUAGES, language_growth=DEMO_LANGUAGE_GROWTH,
                      headerless_share=DEMO_HEADERLESS_SHARE, bilingual=True)


def _cmd_sample_labeled(args) -> int:
    from crawlaudit.devtools.corpus import CorpusSpec, labeled_texts

    rows = labeled_texts(args.per_domain, CorpusSpec(seed=args.seed), args.text_seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    print(f"wrote {len(rows)} labeled texts to {out}")
    return 0


def _cmd_sample_corpus(args) -> int:
    from crawlaudit.devtools.corpus import DOCUMENTS_FILE, read_texts, write_corpus

    out = Path(args.out)
    if (out / "ground_truth.json").exists() and (out / DOCUMENTS_FILE).exists() and not args.force:
        print(f"{out}/ground_truth.json exists; keeping it (use --force to regenerate)")
        return 0
    try:
        spec = _corpus_spec(args)
    except ValueError as e:
        print(f"crawlaudit: {e}", file=sys.stderr)
        return 2
    texts = ai_texts = None
    if args.texts:
        texts = read_texts(args.texts, args.label or "human")
        ai_texts = read_texts(args.texts, "ai") if args.label is None else None
        if args.label is not None:  # every document from one label: nothing is planted
            spec = dataclasses.replace(spec, ai_share=())
        if not texts:
            print(f"crawlaudit: {args.texts} has no human texts", file=sys.stderr)
            return 2
        if spec.ai_share and any(v > 0 for _, v in spec.ai_share) and not ai_texts:
            print(f"crawlaudit: {args.texts} has no texts labeled ai; pass --ai-share '' for a human-only corpus",
                  file=sys.stderr)
            return 2
    truth = write_corpus(out, spec, texts, ai_texts)
    n_docs = sum(s["n_docs"] for s in truth["snapshots"].values())
    print(f"wrote {len(truth['snapshots'])} snapshots, {spec.n_domains} domains, {n_docs} documents to {out}/ "
          f"(ground truth: {out}/ground_truth.json)")
    return 0


def _synthetic_cell(r) -> str | None:
    """``synthetic_ratio [lo, hi]`` of a row, or None (no model, too few documents, or an older table)."""
    v = r.get("synthetic_ratio")
    if v is None or v != v:
        return None
    return f"{v:.3f} [{r['synthetic_ratio_lo']:.3f},{r['synthetic_ratio_hi']:.3f}]"


def year_summary_rows(snapshot_stats, year_stats=None) -> list[dict]:
    """Per-year pooled view of ``snapshot_stats`` rows (a pandas DataFrame): fractions weighted by documents,
    entropy averaged over the year's snapshots that met the budget; the synthetic share from ``year_stats``
    (estimated over the year's documents) when given."""
    synthetic = {}
    if year_stats is not None and "synthetic_ratio" in year_stats:
        synthetic = {int(r["year"]): _synthetic_cell(r) for r in year_stats.to_dict("records")}
    rows = []
    for year, g in snapshot_stats.groupby("year", sort=True):
        n = g["n_docs"].sum()
        ent = g.loc[g["entropy_budget_met"].astype(bool), "entropy_bits"]
        rows.append({
            "year": int(year), "snapshots": len(g), "n_docs": int(n), "domains": int(g["n_domains"].max()),
            "exact_dup_frac": float(g["n_exact_dup_docs"].sum() / n) if n else None,
            "cross_snapshot_dup_frac": float(g["n_cross_snapshot_dup_docs"].sum() / n) if n else None,
            "near_dup_frac": _ratio(g, "n_near_dup_docs", n),
            "cross_snapshot_near_dup_frac": _ratio(g, "n_cross_snapshot_near_dup_docs", n),
            "dup_line_frac": _ratio(g, "n_dup_lines", g["n_lines"].sum() if "n_lines" in g else 0),
            "entropy_bits": float(ent.mean()) if len(ent) else None,
            "synthetic_ratio [95% CI]": synthetic.get(int(year)),
            "error_frac": float(g["error_frac"].max()),
        })
    return rows


def _ratio(g, column: str, denominator) -> float | None:
    """Sum of ``column`` over the group / denominator; None when the column is absent (tables audited before it
    existed) or the denominator is 0."""
    if column not in g or not denominator:
        return None
    return float(g[column].sum() / denominator)


def _fmt(v, width: int) -> str:
    if v is None or (isinstance(v, float) and v != v):  # null or NaN
        return "-".rjust(width)
    if isinstance(v, float):
        return f"{v:.4f}".rjust(width)
    return str(v).rjust(width)


def _snapshot_summary_rows(stats) -> list[dict]:
    return [{
        "snapshot": r["snapshot"], "n_docs": int(r["n_docs"]), "domains": int(r["n_domains"]),
        "exact_dup_frac": r["exact_dup_frac"], "cross_snapshot_dup_frac": r["cross_snapshot_dup_frac"],
        "near_dup_frac": r.get("near_dup_frac"), "cross_snapshot_near_dup_frac": r.get("cross_snapshot_near_dup_frac"),
        "dup_line_frac": r.get("dup_line_frac"), "entropy_chao_shen_bits": r["entropy_chao_shen_bits"], "ttr": r["ttr"], "tail_mass": r["tail_mass"],
        "distinct_2": r["distinct_2"], "synthetic_ratio [95% CI]": _synthetic_cell(r), "error_frac": r["error_frac"],
    } for r in sorted(stats.to_dict("records"), key=lambda r: r["snapshot"])]


def _cmd_summary(args) -> int:
    from crawlaudit.warehouse import TableMissing
    from crawlaudit.warehouse.tables import SNAPSHOT_STATS, YEAR_STATS

    wh = warehouse_from_args(args)
    try:
        stats = wh.read_arrow(SNAPSHOT_STATS).to_pandas()
    except TableMissing as e:
        print(f"crawlaudit: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - an unreachable store or refused credentials: one line, not a traceback
        print(f"crawlaudit: cannot read {wh.display}/{SNAPSHOT_STATS}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if args.by == "snapshot":
        rows = _snapshot_summary_rows(stats)
        cols = [("snapshot", 17), ("n_docs", 9), ("domains", 8), ("exact_dup_frac", 15),
                ("cross_snapshot_dup_frac", 24), ("near_dup_frac", 14), ("cross_snapshot_near_dup_frac", 29),
                ("dup_line_frac", 14), ("entropy_chao_shen_bits", 23), ("ttr", 8), ("tail_mass", 10),
                ("distinct_2", 11), ("synthetic_ratio [95% CI]", 26), ("error_frac", 11)]
    else:
        try:
            years = wh.read_arrow(YEAR_STATS).to_pandas()
        except Exception:  # audited before year_stats existed: the rest of the summary still stands
            years = None
        rows = year_summary_rows(stats, years)
        cols = [("year", 6), ("snapshots", 10), ("n_docs", 9), ("domains", 8), ("exact_dup_frac", 15),
                ("cross_snapshot_dup_frac", 24), ("near_dup_frac", 14), ("cross_snapshot_near_dup_frac", 29),
                ("dup_line_frac", 14), ("entropy_bits", 13), ("synthetic_ratio [95% CI]", 26), ("error_frac", 11)]
    print("".join(name.rjust(w) for name, w in cols))
    for r in rows:
        print("".join(_fmt(r[name], w) for name, w in cols))
    return 0


def _model_languages(args) -> tuple[str, ...] | None:
    """The configured detector's languages (None without one, or when it cannot be read)."""
    from crawlaudit.synthetic.detector import Detector

    model = config_from_args(args).synthetic.model
    try:
        return Detector.load(model).languages if model else None
    except (OSError, ValueError):
        return None


def _check_synthetic(args, wh, truth: dict, domain_rows: list[dict]) -> bool:
    """Planted vs audited AI share: per year (pooled) within --synthetic-tolerance, and the share of domains with
    >= --synthetic-min-docs documents whose 95% interval covers the planted value (>= 0.9 required); both among
    the documents in the detector's languages (the others are never scored), and domains with none of them must
    have null estimates. True when the truth or the tables predate the synthetic share (nothing to compare)."""
    from crawlaudit.devtools.corpus import planted_share
    from crawlaudit.warehouse.tables import YEAR_STATS

    languages = _model_languages(args)

    def planted(t: dict) -> float | None:
        return planted_share(t, languages) if languages and "language_counts" in t else t["synthetic_ratio"]

    years = {y: planted(t) for y, t in truth.get("years", {}).items()}
    try:
        audited = {str(r["year"]): r for r in wh.read_arrow(YEAR_STATS).to_pylist()}
    except Exception:
        audited = {}
    if not years or not any(r.get("synthetic_ratio") is not None for r in audited.values()):
        print("  synthetic share: not compared (no planted share in the truth, or no estimates in the tables)")
        return True
    ok = True
    for y, share in sorted(years.items()):
        got = audited.get(y, {}).get("synthetic_ratio")
        good = got is not None and abs(got - share) <= args.synthetic_tolerance
        ok &= good
        print(f"  {y}: planted synthetic share {share:.4f}, audited {_fmt(got, 0).strip()} "
              f"[{_fmt(audited.get(y, {}).get('synthetic_ratio_lo'), 0).strip()}, "
              f"{_fmt(audited.get(y, {}).get('synthetic_ratio_hi'), 0).strip()}]{'' if good else '  <-- off'}")
    if languages:
        unsupported = [r for r in domain_rows if r.get("synthetic_ratio") is not None and not set(
            truth["snapshots"].get(r["snapshot"], {}).get("domains", {}).get(r["registered_domain"], {}).get(
                "language_counts", {"eng": 1})) & set(languages)]
        ok &= not unsupported
        print(f"  domains with no document in the detector's languages ({', '.join(languages)}): "
              + ("estimates null" if not unsupported else f"{len(unsupported)} with estimates  <-- wrong"))
    big = [r for r in domain_rows if r["n_docs"] >= args.synthetic_min_docs and r.get("synthetic_ratio") is not None
           and r["registered_domain"] in truth["snapshots"].get(r["snapshot"], {}).get("domains", {})]
    covered = [r["synthetic_ratio_lo"] <= planted(truth["snapshots"][r["snapshot"]]["domains"][r["registered_domain"]])
               <= r["synthetic_ratio_hi"] for r in big]
    if covered:
        share = sum(covered) / len(covered)
        ok &= share >= 0.9
        print(f"  per-domain 95% intervals cover the planted share for {sum(covered)} of {len(covered)} "
              f"(snapshot, domain) pairs with >= {args.synthetic_min_docs} documents ({share:.0%}; >= 90% required)")
    return ok


def _check_languages(wh, truth: dict, domain_rows: list[dict]) -> bool:
    """Planted vs audited languages: documents per (snapshot, language) (``doc_hashes``), every record without a
    language header detected, and each domain's primary language and language count. True when the truth
    predates planted languages."""
    from collections import Counter

    from crawlaudit.warehouse.tables import DOC_HASHES

    snaps = {s: t for s, t in truth["snapshots"].items() if "language_counts" in t}
    if not snaps:
        print("  languages: not compared (the truth predates planted languages)")
        return True
    # documents of the planted domains (a file added to a corpus by hand, as the tests' damaged one, is not planted)
    docs = [d for d in wh.read_arrow(DOC_HASHES).select(["snapshot", "registered_domain", "language",
                                                          "language_source"]).to_pylist()
            if d["registered_domain"] in snaps.get(d["snapshot"], {}).get("domains", {})]
    counts = Counter((d["snapshot"], d["language"]) for d in docs)
    sources = Counter((d["snapshot"], d["language_source"]) for d in docs)
    wrong = [(s, lang, counts[(s, lang)], n) for s, t in snaps.items() for lang, n in t["language_counts"].items()
             if counts[(s, lang)] != n]
    undetected = [(s, t["n_without_language_header"], sources[(s, "detected")]) for s, t in snaps.items()
                  if sources[(s, "detected")] != t["n_without_language_header"]]
    audited = {(r["snapshot"], r["registered_domain"]): r for r in domain_rows}
    primary_wrong = []
    for s, t in snaps.items():
        for domain, d in t["domains"].items():
            r = audited.get((s, domain))
            top = min(d["language_counts"].items(), key=lambda kv: (-kv[1], kv[0]))[0]
            if r is not None and (r.get("primary_language"), r.get("n_languages")) != (top, len(d["language_counts"])):
                primary_wrong.append((s, domain, r.get("primary_language"), top))
    n_langs = sorted({lang for t in snaps.values() for lang in t["language_counts"]})
    print(f"  languages ({', '.join(n_langs)}): documents per (snapshot, language) "
          + ("equal the planted counts" if not wrong else f"differ: {wrong[:5]}  <-- wrong")
          + f"; {sum(t['n_without_language_header'] for t in snaps.values())} records without a language header "
          + ("all detected" if not undetected else f"not all detected: {undetected}  <-- wrong")
          + "; primary language and language count per domain "
          + ("as planted" if not primary_wrong else f"differ: {primary_wrong[:5]}  <-- wrong"))
    return not (wrong or undetected or primary_wrong)


def _cmd_check_truth(args) -> int:
    from crawlaudit.devtools.corpus import compare_with_truth
    from crawlaudit.warehouse.tables import DOMAIN_STATS

    truth_path = Path(args.corpus) / "ground_truth.json"
    if not truth_path.is_file():
        print(f"crawlaudit: {truth_path} not found (generate it with crawlaudit sample-corpus)", file=sys.stderr)
        return 2
    wh = warehouse_from_args(args)
    rows = wh.read_arrow(DOMAIN_STATS).to_pylist()
    r = compare_with_truth(rows, json.loads(truth_path.read_text()), args.min_docs)
    print(f"{r['checked_pairs']} (snapshot, domain) pairs with >= {args.min_docs} documents checked")
    for k, v in r["max_abs_error"].items():
        print(f"  max |{k} - planted| = {v:.4f}")
    means = list(r["mean_entropy_by_vocab"].items())
    print("  mean entropy_bits by planted vocabulary: " + ", ".join(f"V={v}: {e:.3f}" for v, e in means))
    increasing = all(a[1] < b[1] for a, b in zip(means, means[1:]))
    ok = (r["checked_pairs"] > 0 and max(r["max_abs_error"].values()) <= args.tolerance
          and not r["n_docs_mismatch"] and not r["missing"] and increasing)
    if r["n_docs_mismatch"] or r["missing"]:
        print(f"  n_docs mismatches: {r['n_docs_mismatch'][:5]}; missing: {r['missing'][:5]}")
    ok = _check_languages(wh, json.loads(truth_path.read_text()), rows) and ok
    ok = _check_synthetic(args, wh, json.loads(truth_path.read_text()), rows) and ok
    if args.export:
        ok = _check_curation(args.export, args.corpus) and ok
    print("ground truth: " + ("MATCHES" if ok else "DOES NOT MATCH") + f" (tolerance {args.tolerance})")
    return 0 if ok else 1


def _check_curation(export_dir: str, corpus: str) -> bool:
    """An export's keep (vintage-human-unique) against the corpus's per-document truth; prints what differs."""
    import pyarrow.dataset as ds

    from crawlaudit.devtools.corpus import compare_curation, read_document_truth

    try:
        documents = read_document_truth(corpus)
        rows = ds.dataset(f"{export_dir.rstrip('/')}/curation", format="parquet", partitioning="hive").to_table()
    except FileNotFoundError as e:
        print(f"  curation export not checked: {e}")
        return False
    r = compare_curation(rows.to_pylist(), documents)
    print(f"  curation export: keep equals the planted truth (vintage-human-unique) for {r['n_agree']:,} of "
          f"{r['n_planted']:,} planted documents ({r['n_kept']:,} kept"
          + (f"; {r['n_vintage_ai']:,} model-written documents planted before the vintage year count as human by "
             f"their date" if r["n_vintage_ai"] else "") + ")")
    for example in r["examples"]:
        print(f"    differs: {example}")
    return r["n_agree"] == r["n_planted"] > 0


def _cmd_simulate_collapse(args) -> int:
    from crawlaudit.devtools import collapse
    from crawlaudit.devtools.corpus import generated_texts, read_texts

    if args.texts:
        texts = read_texts(args.texts, args.label)
        if args.max_docs:
            texts = texts[: args.max_docs]
    else:
        texts = generated_texts(args.max_docs or 400, args.seed)
    if not texts:
        print("crawlaudit: no seed texts", file=sys.stderr)
        return 2
    print(f"seed corpus: {len(texts)} documents; {args.generations} generations "
          f"(Kneser-Ney bigram, discount {args.discount}, temperature {args.temperature})")
    gens = collapse.simulate(texts, args.generations, args.seed, args.discount, args.temperature)
    ids = collapse.write_generations(args.out, gens, seed=args.seed)
    for g, (snapshot, docs) in enumerate(zip(ids, gens)):
        toks = [t for d in docs for t in d]
        print(f"  generation {g}: {snapshot}, {len(docs)} documents, {len(toks)} tokens, {len(set(toks))} types")
    print(f"audit them with: python jobs/audit_snapshot.py --snapshot all --manifest '{args.out}/crawl-data/"
          f"{{snapshot}}/wet.paths.gz' --input-base-url {args.out} --warehouse {args.out}/warehouse")
    return 0


def _cmd_validate(args) -> int:
    """Re-validate published results: print every failed expectation; exit 1 when a critical one failed."""
    from crawlaudit import session
    from crawlaudit.quality import gate as quality
    from crawlaudit.warehouse import publish

    cfg = config_from_args(args)
    snapshots = list(args.snapshot)
    for s in snapshots:
        parse_snapshot(s)
    wh = preflight(cfg)
    failed_critical = 0
    with session.spark_session(cfg.spark, wh.location) as spark:
        wh = wh.with_spark(spark)
        gate = quality.Gate(cfg.quality, wh.data_docs_dir())
        for snapshot in snapshots:
            run_id, outcomes = publish.revalidate(wh, gate, args.table, snapshot)
            bad = [o for o in outcomes if not o.success]
            failed_critical += len(quality.blocking(outcomes))
            print(f"{snapshot}: {len(outcomes)} expectations, {len(quality.blocking(outcomes))} critical and "
                  f"{len(quality.warnings(outcomes))} warning failures (validation_results run_id {run_id})")
            for o in bad:
                print(f"  {o.severity.upper():8s} {quality.describe(o)}")
        docs = gate.build_docs()
        if docs:
            print(f"data docs: {docs}")
    return 1 if failed_critical else 0


def _cmd_plan(args) -> int:
    """Print the snapshots a scheduled run would audit now, newest first."""
    from crawlaudit.ops import schedule

    from crawlaudit.warehouse import Warehouse

    cfg = config_from_args(args)
    wh = Warehouse.from_config(cfg.output)
    due = schedule.plan(cfg.schedule, wh)
    if args.json:
        print(json.dumps([dataclasses.asdict(e) for e in due], indent=2))
        return 0
    if not due:
        print(f"nothing to audit: every snapshot of {cfg.schedule.catalog} in range has a succeeded run in "
              f"{wh.display}")
        return 0
    print(f"{len(due)} snapshot(s) to audit, newest first:")
    for e in due:
        print(f"  {e.id}  {e.name}")
    return 0


def _cmd_report(args) -> int:
    """Write the trend report; with --check-browser, render it in headless Chromium and fail unless every plot
    loaded."""
    from crawlaudit.ops import report

    cfg = config_from_args(args)
    index, manifest = report.refresh(cfg, out_dir=args.out)
    years = manifest["years"]
    print(f"report: {index} ({len(manifest['plots'])} plots, years {years[0]}–{years[-1]}, "
          f"{len(manifest['risers'])} risers, {len(manifest['vintage'])} vintage domains)")
    if args.check_browser or args.screenshot:
        loaded, total = report.check_in_browser(index, args.screenshot)
        print(f"browser: {loaded}/{total} plots loaded" + (f"; screenshot {args.screenshot}" if args.screenshot else ""))
        if loaded != total or total != len(manifest["plots"]):
            return 1
    return 0


def export_policy(cfg):
    """The curation policy of ``cfg.export``: its preset with the fields it sets."""
    import dataclasses as dc

    from crawlaudit.curation import view

    policy = dc.replace(view.PRESETS[cfg.export.preset], vintage_before_year=cfg.synthetic.vintage_before_year)
    for name in ("max_ai_prob", "min_domain_vintage_index", "languages", "drop_reposts", "reposts_count_as_vintage",
                 "judge_vintage"):
        value = getattr(cfg.export, name)
        if value is not None:
            policy = dc.replace(policy, **{name: value})
    return policy


def _cmd_export(args) -> int:
    """Write the curation view of the chosen snapshots and print kept and dropped documents by reason, per year."""
    from crawlaudit import session
    from crawlaudit.curation import export
    from crawlaudit.metrics.neardup import NearDupParams

    cfg = config_from_args(args)
    wh = preflight(cfg)
    policy = export_policy(cfg)
    detector = None
    if cfg.synthetic.model and policy.max_ai_prob is not None:
        from crawlaudit.synthetic.estimates import Scorer

        detector = Scorer.load(cfg.synthetic.model).name
    out = args.out or cfg.export.out or wh.location.spark_uri("_export")
    with session.spark_session(cfg.spark, wh.location) as spark:
        wh = wh.with_spark(spark)
        snapshots = list(args.snapshot or [])
        for y in args.year or []:
            snapshots += wh.year_snapshots(int(y))
        if args.all:
            snapshots += wh.published_snapshots()
        for s in snapshots:
            parse_snapshot(s)
        if not snapshots:
            raise CrawlauditError("nothing to export: give --snapshot, --year or --all (of audited snapshots)")
        result = export.curate(wh, sorted(set(snapshots)), policy, NearDupParams.from_config(cfg.dedup), detector,
                               cfg.report.min_docs, cfg.report.vintage_min_years)
        export.write(result, out)
    print(f"export ({cfg.export.preset}): {out}/curation (Parquet by snapshot), {out}/keep_offsets (warc_file offset)")
    for line in export.summary_lines(result.summary):
        print(f"  {line}")
    return 0


def _cmd_extract(args) -> int:
    """Read the kept documents of an export back from the WET files into JSONL or Parquet shards."""
    from crawlaudit import session
    from crawlaudit.curation import extract
    from crawlaudit.warehouse import Warehouse

    cfg = config_from_args(args)
    rebase = {}
    for item in args.rebase:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise InputError(f"--rebase {item!r}: expected OLD_PREFIX=NEW_PREFIX")
        rebase[old] = new
    if args.format not in extract.FORMATS:
        raise InputError(f"--format {args.format!r}: expected one of {', '.join(extract.FORMATS)}")
    out = args.out or f"{args.source.rstrip('/')}/text"
    if "://" not in args.source and not (Path(args.source) / "curation").is_dir():   # before Spark starts
        raise InputError(f"{args.source}/curation: no export there; run crawlaudit export --out {args.source} first")
    location = Warehouse.from_config(cfg.output).location
    with session.spark_session(cfg.spark, location) as spark:
        totals = extract.extract_export(spark, args.source, cfg.input, out, args.format, args.shard_docs, rebase)
    print(f"extract: read the kept records of {totals['n_files']:,} files of {args.source}")
    errors = ", ".join(f"{k} {v:,}" for k, v in totals["errors"].items()) or "none"
    print(f"extract: {totals['n_docs']:,} documents ({totals['n_bytes'] / 1e6:,.1f} MB of text) in "
          f"{out}/documents ({args.format}); errors: {errors}" + (f" (rows in {out}/errors)" if totals["errors"]
                                                                    else ""))
    return 1 if totals["errors"] else 0


def _cmd_submit_command(args) -> int:
    """Print the spark-submit (or EMR step) command for a job, from the profile's ``submit`` section."""
    import shlex

    from crawlaudit.ops import submit

    flags = {"submit.target": args.target, "submit.master": args.submit_master,
             "submit.deploy_mode": args.deploy_mode, "submit.artifacts": args.artifacts}
    args.overrides = [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None] + list(args.overrides)
    cfg = config_from_args(args)
    job_args = list(args.job_args)
    if job_args[:1] == ["--"]:
        job_args = job_args[1:]
    if args.config and "--config" not in job_args:  # the job reads the same profile
        profile = Path(args.config)
        if cfg.submit.deploy_mode == "cluster" and (profile.is_absolute() or profile.parts[:1] != ("conf",)):
            raise ConfigError(f"--config {args.config}: in cluster deploy mode the driver finds the profile in the "
                              f"shipped conf/ archive: put it under conf/ and pass it as conf/...")
        job_args = ["--config", args.config, *job_args]
    from crawlaudit.warehouse import Location

    packages = tuple(Location.from_config(cfg.output).spark_packages())   # hadoop-aws for a warehouse on S3
    if args.json:
        print(json.dumps(submit.spark_submit_spec(cfg.submit, args.job, job_args, packages), indent=2))
        return 0
    cmd = submit.command(cfg.submit, args.job, job_args, packages)
    if args.print0:
        sys.stdout.write("\0".join(cmd) + "\0")
    else:
        print(shlex.join(cmd))
    return 0


def _cmd_check_config(args) -> int:
    cfg = config_from_args(args)
    print(json.dumps(config_to_dict(cfg), indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crawlaudit",
        description="Audit Common Crawl snapshots for the signs of model collapse: AI-generated share, "
                    "vocabulary entropy and duplication per registered domain, snapshot and year. The audit "
                    "itself runs as a Spark job: python jobs/audit_snapshot.py --help (or spark-submit it).",
    )
    p.add_argument("--version", action="version", version=f"crawlaudit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sample-corpus", help="write the planted sample corpus (WET files + ground_truth.json)",
                       description="Write Common Crawl-format WET files, one wet.paths.gz per snapshot and "
                                   "ground_truth.json with the planted duplicate shares and vocabulary sizes.")
    s.add_argument("--out", default="sample_corpus", help="output directory (default: sample_corpus)")
    s.add_argument("--small", action="store_true", help="3 snapshots x 8 domains, for tests")
    s.add_argument("--seed", type=int, default=1729, help="generator seed (default 1729)")
    s.add_argument("--texts", help="JSON lines (text, label human|ai) to use as document texts instead of the "
                                   "generators: human documents from the human rows, planted AI ones from the ai rows")
    s.add_argument("--label", help="with --texts: take every document from rows with this label (no AI planting)")
    s.add_argument("--ai-share", default=None, metavar="YEAR=SHARE,...",
                   help="planted share of model-written new content by year, e.g. 2023=0.05,2024=0.15,2025=0.3 "
                        "(years before the first: 0; a domain's share is the year's times its factor 0-2, capped at "
                        "0.9; default 2024=0.15,2025=0.3; '' for none)")
    s.add_argument("--force", action="store_true", help="regenerate even when the corpus exists")
    s.set_defaults(func=_cmd_sample_corpus)

    s = sub.add_parser("sample-labeled", help="write labeled human/AI texts from the sample corpus's generators",
                       description="Write JSON lines (text, label, generator, domain, group) from the sample "
                                   "corpus's human writers and its two sample language models, over the corpus's "
                                   "domains, for scripts/train_detector.py (the demo's detector, conf/models/sample).")
    s.add_argument("--out", required=True, help="output .jsonl file")
    s.add_argument("--per-domain", type=int, default=120, help="texts per domain (default 120)")
    s.add_argument("--seed", type=int, default=1729, help="the corpus seed whose domains to use (default 1729)")
    s.add_argument("--text-seed", type=int, default=7, help="seed of the texts themselves (default 7)")
    s.set_defaults(func=_cmd_sample_labeled)

    s = sub.add_parser("summary", help="print the per-year summary of audited snapshots",
                       description="Read snapshot_stats from the warehouse (with delta-rs, no Spark) and print "
                                   "one row per crawl year.")
    add_config_arguments(s)
    s.add_argument("--warehouse", help="warehouse root (default from config: output.warehouse)")
    s.add_argument("--by", choices=("year", "snapshot"), default="year",
                   help="one row per crawl year (default) or per snapshot (pooled snapshot_stats)")
    s.set_defaults(func=_cmd_summary)

    s = sub.add_parser("check-truth", help="compare audited domain_stats with a sample corpus's ground truth",
                       description="Compare the duplication shares per (snapshot, domain) with ground_truth.json, "
                                   "check that entropy rises with the planted vocabulary, and compare the synthetic "
                                   "share per year and its per-domain intervals with the planted share. "
                                   "Exits 1 when they disagree.")
    s.add_argument("--corpus", default="sample_corpus", help="corpus directory (default: sample_corpus)")
    add_config_arguments(s)
    s.add_argument("--warehouse", help="warehouse root (default from config: output.warehouse)")
    s.add_argument("--export", metavar="DIR", help="also compare a vintage-human-unique curation export (crawlaudit "
                                                   "export --out DIR) with the planted per-document truth")
    s.add_argument("--min-docs", type=int, default=50, help="check domains with at least this many documents")
    s.add_argument("--tolerance", type=float, default=0.02,
                   help="largest allowed absolute error of any duplication share (default 0.02)")
    s.add_argument("--synthetic-tolerance", type=float, default=0.05,
                   help="largest allowed error of a year's pooled synthetic share (default 0.05)")
    s.add_argument("--synthetic-min-docs", type=int, default=200,
                   help="check interval coverage on domains with at least this many documents (default 200)")
    s.set_defaults(func=_cmd_check_truth)

    s = sub.add_parser("simulate-collapse", help="write recursively generated corpora as snapshots (model collapse)",
                       description="Train a Kneser-Ney bigram model on a seed corpus, sample a corpus of the same "
                                   "shape, retrain on the sample, and repeat; each generation is written as a "
                                   "Common Crawl-format snapshot CC-MAIN-2090-<generation+1> for the audit job.")
    s.add_argument("--out", default="collapse_corpus", help="output directory (default: collapse_corpus)")
    s.add_argument("--texts", help="seed texts: JSON lines with text and label (e.g. ../shared/data/labeled/l2r/); "
                                   "default: generated text")
    s.add_argument("--label", default=None, help="with --texts: keep only this label (e.g. human)")
    s.add_argument("--max-docs", type=int, default=None, help="use at most this many seed documents")
    s.add_argument("--generations", type=int, default=8, help="generations after the seed (default 8)")
    s.add_argument("--discount", type=float, default=0.75, help="Kneser-Ney absolute discount (default 0.75)")
    s.add_argument("--temperature", type=float, default=0.9,
                   help="sampling temperature (default 0.9; language models are usually decoded below 1)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.set_defaults(func=_cmd_simulate_collapse)

    s = sub.add_parser("validate", help="re-validate published results against the expectation suites",
                       description="Read the published rows of a snapshot (with Spark), run the expectation suites "
                                   "of conf/expectations on them (quality.expectations), record the outcomes in "
                                   "validation_results and render the data docs. Prints every failed expectation; "
                                   "exits 1 when a critical one failed, 2 when nothing is published for the snapshot.")
    add_config_arguments(s)
    s.add_argument("--table", default="all", choices=("all", "domain_stats", "snapshot_stats", "year_stats"),
                   help="table to validate (default all: the three, and their consistency)")
    s.add_argument("--snapshot", action="append", required=True, metavar="CC-MAIN-YYYY-WW",
                   help="snapshot to validate (repeatable); year_stats: the snapshot's year")
    s.add_argument("--warehouse", help="warehouse root (default from config)")
    s.add_argument("--master", help="Spark master (default from config)")
    s.set_defaults(func=_cmd_validate)

    s = sub.add_parser("plan", help="list the snapshots a scheduled audit would audit now (newest first)",
                       description="Read the snapshot catalog (schedule.catalog: Common Crawl's collinfo.json, a "
                                   "file or URL) and list the snapshots in [schedule.since, schedule.until] that have "
                                   "no succeeded run in audit_runs, newest first. No Spark: audit_runs is read with "
                                   "delta-rs. jobs/scheduled_audit.py audits exactly these.")
    add_config_arguments(s)
    s.add_argument("--catalog", help="collinfo.json path or URL (default: schedule.catalog)")
    s.add_argument("--warehouse", help="warehouse root (default from config)")
    s.add_argument("--json", action="store_true", help="print JSON (id, name) instead of a list")
    s.set_defaults(func=_cmd_plan)

    s = sub.add_parser("report", help="write the trend report (index.html with PNG plots) from the Delta tables",
                       description="Read year_stats, snapshot_stats and domain_stats (delta-rs, no Spark) and write "
                                   "index.html with PNG plots beside it: per year, the AI-generated share (pooled and "
                                   "the median domain, with bands), corrected entropy, exact and near-duplicate "
                                   "shares, content reused from earlier snapshots; the domains whose AI share rose "
                                   "most; the vintage index (see the README). The page is self-contained: open it "
                                   "from disk. report.json beside it lists what was drawn.")
    add_config_arguments(s)
    s.add_argument("--warehouse", help="warehouse root (default from config)")
    s.add_argument("--out", help="output directory (default: report.out_dir, else <warehouse>/_report)")
    s.add_argument("--check-browser", action="store_true",
                   help="render the page in headless Chromium and exit 1 unless every plot loaded")
    s.add_argument("--screenshot", metavar="PNG", help="also save a full-page screenshot (implies --check-browser)")
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("export", help="write the per-document curation view: what to keep, and why",
                       description="One row per document of the chosen audited snapshots, from the warehouse's "
                                   "tables (no crawl re-read): where to re-read it (warc_file, warc_offset, "
                                   "warc_record_id), its AI probability, exact-duplicate group and first copy, "
                                   "near-duplicate cluster and representative, the snapshot its text was first seen "
                                   "in, vintage, the domain's vintage index, keep and the first drop reason (no main "
                                   "content, duplicate, near-duplicate, reposted, likely AI, low-trust domain, "
                                   "language, not vintage) under the export section's policy. Writes Parquet "
                                   "partitioned by snapshot and the kept records' 'warc_file offset' lines; prints "
                                   "the documents kept and dropped by reason per year.")
    add_config_arguments(s)
    s.add_argument("--warehouse", help="warehouse root (default from config)")
    s.add_argument("--snapshot", action="append", help="an audited snapshot to export (repeatable)")
    s.add_argument("--year", action="append", help="export every audited snapshot of this year (repeatable)")
    s.add_argument("--all", action="store_true", help="export every audited snapshot")
    s.add_argument("--out", help="output directory, local or remote (default: export.out, else <warehouse>/_export)")
    s.set_defaults(func=_cmd_export)

    s = sub.add_parser("extract", help="read the kept documents of an export back from the WET files",
                       description="For every kept row of a curation export (crawlaudit export), read its record "
                                   "from the WET file at the exported offset (a ranged read over S3 or HTTP with the "
                                   "input section's retries, a seek in a local file), check it is the record the "
                                   "audit saw (WARC-Record-ID), and write its text with url, doc_id, snapshot, "
                                   "registered_domain and language as JSONL or Parquet shards under OUT/documents; "
                                   "records that cannot be read go to OUT/errors. Exit 1 when any record failed.")
    add_config_arguments(s)
    s.add_argument("--from", dest="source", required=True, metavar="EXPORT",
                   help="the export directory (the --out of crawlaudit export), local or remote")
    s.add_argument("--out", help="output directory (default: EXPORT/text)")
    s.add_argument("--format", default="jsonl", help="jsonl (default) or parquet")
    s.add_argument("--shard-docs", type=int, default=None, metavar="N",
                   help="at most N documents per shard (default: one shard per task)")
    s.add_argument("--rebase", action="append", default=[], metavar="OLD=NEW",
                   help="read files whose path starts with OLD from NEW instead, e.g. a local mirror audited, "
                        "re-read from https://data.commoncrawl.org/ (repeatable)")
    s.set_defaults(func=_cmd_extract)

    s = sub.add_parser("submit-command", help="print the spark-submit command for a job on YARN, Kubernetes, EMR "
                                              "or a standalone cluster (scripts/submit.sh runs it)",
                       description="Turn the profile's submit section into a spark-submit command (EMR: an "
                                   "`aws emr add-steps` call): --packages with the Delta jar matching the installed "
                                   "pyspark, Delta's SQL extension and catalog, dist/crawlaudit.zip as --py-files, "
                                   "the packed Python environment as --archives ...#environment (scripts/package.sh "
                                   "builds both). Arguments after -- go to the job; the job gets the same --config.")
    add_config_arguments(s)
    s.add_argument("--job", default="audit_snapshot", choices=JOBS, help="the job to submit (default audit_snapshot)")
    s.add_argument("--target", choices=SUBMIT_TARGETS, help="default: submit.target")
    # its own dest: config_from_args reads args.master as spark.master, the job's master inside the cluster
    s.add_argument("--master", dest="submit_master", help="default: submit.master (yarn for YARN and EMR)")
    s.add_argument("--deploy-mode", choices=("client", "cluster"), help="default: submit.deploy_mode")
    s.add_argument("--artifacts", help="where scripts/package.sh's output is (default: submit.artifacts)")
    s.add_argument("--print0", action="store_true", help="NUL-separated arguments (for scripts)")
    s.add_argument("--json", action="store_true", help="the parts of the submission as JSON (for the Airflow DAG)")
    s.add_argument("job_args", nargs=argparse.REMAINDER, help="-- then the job's arguments")
    s.set_defaults(func=_cmd_submit_command)

    s = sub.add_parser("check-config", help="validate a config profile and print the effective values")
    add_config_arguments(s)
    s.set_defaults(func=_cmd_check_config)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CrawlauditError as e:
        print(f"crawlaudit: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
