"""Command line: the shared audit arguments used by ``jobs/``, and the ``crawlaudit`` console command.

``crawlaudit`` subcommands never start Spark unless they must: ``sample-corpus``, ``summary`` and
``check-config`` run in plain Python (tables are read with delta-rs).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from crawlaudit import __version__
from crawlaudit.config import Config, check_warehouse_writable, config_to_dict, load_config, parse_snapshot
from crawlaudit.errors import ConfigError, CrawlauditError

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
    }
    overrides = [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]
    if getattr(args, "input_paths", None):
        overrides.append("input.manifest=null")
    elif getattr(args, "manifest", None):
        overrides.append("input.paths=null")
    return load_config(path, overrides + list(args.overrides))


def job_config_from_args(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """Everything a job checks before starting Spark: the config, the snapshot ids, a writable warehouse."""
    cfg = config_from_args(args)
    snapshots = snapshots_from_args(args, cfg)
    check_warehouse_writable(cfg.output.warehouse)
    return cfg, snapshots


def snapshots_from_args(args: argparse.Namespace, cfg: Config) -> list[str]:
    """Validated snapshot ids in chronological order (so cross-snapshot reuse sees earlier snapshots first)."""
    from crawlaudit import ingest

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


def _cmd_sample_corpus(args) -> int:
    from crawlaudit.corpus import CorpusSpec, read_texts, write_corpus

    out = Path(args.out)
    if (out / "ground_truth.json").exists() and not args.force:
        print(f"{out}/ground_truth.json exists; keeping it (use --force to regenerate)")
        return 0
    spec = CorpusSpec(seed=args.seed)
    if args.small:
        spec = CorpusSpec(snapshots=("CC-MAIN-2019-35", "CC-MAIN-2021-31", "CC-MAIN-2024-22"), n_domains=8,
                          docs_per_domain=(20, 70), files_per_snapshot=2, seed=args.seed)
    texts = read_texts(args.texts, args.label) if args.texts else None
    truth = write_corpus(out, spec, texts)
    n_docs = sum(s["n_docs"] for s in truth["snapshots"].values())
    print(f"wrote {len(truth['snapshots'])} snapshots, {spec.n_domains} domains, {n_docs} documents to {out}/ "
          f"(ground truth: {out}/ground_truth.json)")
    return 0


def year_summary_rows(snapshot_stats) -> list[dict]:
    """Per-year pooled view of ``snapshot_stats`` rows (a pandas DataFrame): fractions weighted by documents,
    entropy averaged over the year's snapshots that met the budget."""
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
        "distinct_2": r["distinct_2"], "error_frac": r["error_frac"],
    } for r in sorted(stats.to_dict("records"), key=lambda r: r["snapshot"])]


def _cmd_summary(args) -> int:
    from crawlaudit.tables import SNAPSHOT_STATS, read_table_arrow

    try:
        stats = read_table_arrow(args.warehouse, SNAPSHOT_STATS).to_pandas()
    except Exception as e:
        print(f"crawlaudit: cannot read {args.warehouse}/{SNAPSHOT_STATS}: {e}. Run an audit first.", file=sys.stderr)
        return 1
    if args.by == "snapshot":
        rows = _snapshot_summary_rows(stats)
        cols = [("snapshot", 17), ("n_docs", 9), ("domains", 8), ("exact_dup_frac", 15),
                ("cross_snapshot_dup_frac", 24), ("near_dup_frac", 14), ("cross_snapshot_near_dup_frac", 29),
                ("dup_line_frac", 14), ("entropy_chao_shen_bits", 23), ("ttr", 8), ("tail_mass", 10),
                ("distinct_2", 11), ("error_frac", 11)]
    else:
        rows = year_summary_rows(stats)
        cols = [("year", 6), ("snapshots", 10), ("n_docs", 9), ("domains", 8), ("exact_dup_frac", 15),
                ("cross_snapshot_dup_frac", 24), ("near_dup_frac", 14), ("cross_snapshot_near_dup_frac", 29),
                ("dup_line_frac", 14), ("entropy_bits", 13), ("error_frac", 11)]
    print("".join(name.rjust(w) for name, w in cols))
    for r in rows:
        print("".join(_fmt(r[name], w) for name, w in cols))
    return 0


def _cmd_check_truth(args) -> int:
    from crawlaudit.corpus import compare_with_truth
    from crawlaudit.tables import DOMAIN_STATS, read_table_arrow

    truth_path = Path(args.corpus) / "ground_truth.json"
    if not truth_path.is_file():
        print(f"crawlaudit: {truth_path} not found (generate it with crawlaudit sample-corpus)", file=sys.stderr)
        return 2
    rows = read_table_arrow(args.warehouse, DOMAIN_STATS).to_pylist()
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
    print("ground truth: " + ("MATCHES" if ok else "DOES NOT MATCH") + f" (tolerance {args.tolerance})")
    return 0 if ok else 1


def _cmd_simulate_collapse(args) -> int:
    from crawlaudit import collapse
    from crawlaudit.corpus import generated_texts, read_texts

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
    s.add_argument("--texts", help="JSON lines (text, label) to use as document texts instead of the generator")
    s.add_argument("--label", help="with --texts: keep only rows with this label (e.g. human)")
    s.add_argument("--force", action="store_true", help="regenerate even when the corpus exists")
    s.set_defaults(func=_cmd_sample_corpus)

    s = sub.add_parser("summary", help="print the per-year summary of audited snapshots",
                       description="Read snapshot_stats from the warehouse (with delta-rs, no Spark) and print "
                                   "one row per crawl year.")
    s.add_argument("--warehouse", default="warehouse", help="warehouse root (default: warehouse)")
    s.add_argument("--by", choices=("year", "snapshot"), default="year",
                   help="one row per crawl year (default) or per snapshot (pooled snapshot_stats)")
    s.set_defaults(func=_cmd_summary)

    s = sub.add_parser("check-truth", help="compare audited domain_stats with a sample corpus's ground truth",
                       description="Compare exact_dup_frac and cross_snapshot_dup_frac per (snapshot, domain) with "
                                   "ground_truth.json, and check that entropy rises with the planted vocabulary. "
                                   "Exits 1 when they disagree.")
    s.add_argument("--corpus", default="sample_corpus", help="corpus directory (default: sample_corpus)")
    s.add_argument("--warehouse", default="warehouse", help="warehouse root (default: warehouse)")
    s.add_argument("--min-docs", type=int, default=50, help="check domains with at least this many documents")
    s.add_argument("--tolerance", type=float, default=0.02,
                   help="largest allowed absolute error of any duplication share (default 0.02)")
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
