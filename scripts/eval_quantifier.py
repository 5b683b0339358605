#!/usr/bin/env python
"""Validate the synthetic-share estimators on mixtures of known composition.

    python scripts/eval_quantifier.py --labeled ../shared/data/labeled/l2r/normalized.jsonl.gz \\
        --leave-one-generator-out --json logo.json

Groups (source passages) are split into a development part, on which a detector and reference tables are trained
exactly as scripts/train_detector.py does, and a test pool. Mixtures of n documents with a share α of AI texts
are drawn from the pool with at most one text per group, for every α in --alphas and n in --sizes, --repeats times
each; every estimator runs on each mixture with its bootstrap interval. Printed per estimator: MAE, bias and
95%-interval coverage per α, per n and overall (and as JSON with --json).

    python scripts/eval_quantifier.py --labeled ../shared/data/labeled --leave-one-family-out --sizes 500 \
        --json lofo.json
    python scripts/eval_quantifier.py --labeled ../shared/data/labeled --leave-one-genre-out --vintage 0.3 \
        --sizes 500 --json logo.json

Folds: by default one (test pool: the held-out groups). --leave-one-generator-out: for each generator, the detector
is trained without it and the mixtures' AI texts come only from it. --leave-one-family-out: the same per generator
family (OpenAI, Google, Anthropic, Meta: every generator of the maker held out together). --leave-one-domain-out /
--leave-one-genre-out: for each fold of genres (``domain`` field; --domain-folds of them, 0 = one genre per fold),
trained without them, mixtures only from them; with --vintage the human side is measured on held-out human texts
of those genres, as an audit with ``human_reference: vintage`` measures it on the crawl's pre-2023 text: per genre
(a crawl's domains), shrunk toward the pooled baseline (--pooled-vintage: one pooled baseline). A
directory is read recursively (both shared sets: ``../shared/data/labeled``). Sizes larger than the pool allows
are skipped and listed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time

import numpy as np

from crawlaudit.synthetic import quantify as Q
from crawlaudit.synthetic.estimates import domain_baseline_arrays
from crawlaudit.synthetic.labeled import LabeledSet, read_labeled, split_by_group
from crawlaudit.synthetic.training import train_detector
from crawlaudit.synthetic.vocabulary import build_reference, occurrence_matrix

ESTIMATORS = ("cc", "acc", "pacc", "mle", "marker_lb")


def fold_scores(dev: LabeledSet, pool: LabeledSet, args, vintage: LabeledSet | None = None) -> dict:
    """Detector and reference trained on ``dev``, scores of ``pool``; with ``vintage`` (human texts of the pool's
    population, never in a mixture) the human side is measured on them, as ``synthetic.human_reference: vintage``
    does on an audited crawl's pre-LLM snapshots: per genre (the audit's per-domain baselines, shrunk toward the
    pooled one by the same empirical-Bayes rule, ``estimates.domain_baseline_arrays``), or pooled with
    ``--pooled-vintage`` (the audit's ``vintage_per_domain: false``)."""
    det, _ = train_detector(dev, alpha=args.alpha, epochs=args.epochs, seed=args.seed, transfer=not args.no_transfer)
    ref = build_reference(dev.texts, dev.is_ai, n_words=args.reference_words,
                          domains=dev.domain if len(set(dev.domain)) > 1 else None)
    margins = det.margins(pool.texts)
    human_texts = vintage.texts if vintage is not None else [t for t, ai in zip(dev.texts, dev.is_ai) if not ai]
    marker_human = float(np.mean([ref.has_marker(t) for t in human_texts]))
    p_human = ref.p_human
    out = {}
    if vintage is not None:
        m = det.margins(vintage.texts)
        probs, flags = det.probabilities(m), m >= det.calibration.threshold
        n = len(vintage)
        det.calibration = dataclasses.replace(
            det.calibration, fpr=float(flags.mean()), fpr_sd=float(np.sqrt(flags.mean() * (1 - flags.mean()) / n)),
            mean_p_human=float(probs.mean()), mean_p_human_sd=float(probs.std() / np.sqrt(n)))
        occ = occurrence_matrix([ref.occurrence_indices(t) for t in vintage.texts], len(ref.words))
        p_human = (np.asarray(occ.sum(axis=0)).ravel() + 0.5) / (n + 1.0)
        if not args.pooled_vintage:
            base = domain_baseline_arrays(vintage.domain, probs, flags)
            out["baseline"] = np.array([base.get(d, base[None]) for d in pool.domain])   # fpr, its var, neg, its var
    return {**out, "det": det, "ref": ref, "p_human": p_human, "margins": margins,
            "probs": det.probabilities(margins), "domain": pool.domain,
            "occ": occurrence_matrix([ref.occurrence_indices(t) for t in pool.texts], len(ref.words)),
            "marker": np.array([ref.has_marker(t) for t in pool.texts]), "marker_human": marker_human}


def estimate_all(s: dict, idx: np.ndarray, replicates: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    cal = s["det"].calibration
    columns = {"flag": s["margins"][idx] >= cal.threshold, "prob": s["probs"][idx], "occ": s["occ"][idx]}
    if "baseline" in s:   # each document against its genre's baseline; sd √Σ_d n_d² var_d / n (estimates.human_side)
        base = s["baseline"][idx]
        columns.update(fpr=base[:, 0], neg=base[:, 2])
        _, first, counts = np.unique(s["domain"][idx], return_index=True, return_counts=True)
        cal = dataclasses.replace(cal, fpr_sd=float(np.sqrt(np.sum(counts ** 2 * base[first, 1]))) / idx.size,
                                  mean_p_human_sd=float(np.sqrt(np.sum(counts ** 2 * base[first, 3]))) / idx.size)
    res = Q.resample_means(columns, replicates, rng)
    out = {"cc": Q.classify_and_count(res), "acc": Q.acc(res, cal, rng), "pacc": Q.pacc(res, cal, rng),
           "mle": Q.mixture_mle(res, s["p_human"], s["ref"].q_ai)}
    lb = Q.marker_excess_lower_bound(float(s["marker"][idx].mean()), s["marker_human"])
    out["marker_lb"] = Q.Estimate(lb, lb, 1.0)   # a lower bound: "covers" when it does not exceed the truth
    return out


def mixtures(pool: LabeledSet, ai_mask: np.ndarray, alpha: float, n: int, repeats: int, rng) -> list[np.ndarray]:
    """Index sets: round(α n) AI texts (ai_mask) and the rest human, at most one text per group."""
    k = int(round(alpha * n))
    groups = np.unique(pool.group)
    human_by_group = {g: i for i, g in enumerate(pool.group) if not pool.is_ai[i]}
    ai_by_group: dict[str, list[int]] = {}
    for i in np.flatnonzero(ai_mask):
        ai_by_group.setdefault(pool.group[i], []).append(i)
    out = []
    for _ in range(repeats):
        order = rng.permutation(groups)
        ai_groups = [g for g in order if g in ai_by_group][:k]
        taken = set(ai_groups)
        human_groups = [g for g in order if g not in taken and g in human_by_group][: n - k]
        if len(ai_groups) < k or len(human_groups) < n - k:
            return []
        idx = [ai_by_group[g][rng.integers(len(ai_by_group[g]))] for g in ai_groups] + [human_by_group[g] for g in human_groups]
        out.append(np.array(sorted(idx)))
    return out


def summarize(records: list[dict]) -> dict:
    def stats(rows):
        err = np.array([r["value"] - r["truth"] for r in rows])
        cover = np.array([r["lo"] <= r["truth"] <= r["hi"] for r in rows])
        return {"mae": float(np.abs(err).mean()), "bias": float(err.mean()), "coverage": float(cover.mean()),
                "n_mixtures": len(rows)}
    out = {}
    for est in ESTIMATORS:
        rows = [r for r in records if r["estimator"] == est]
        if not rows:
            continue
        out[est] = {"overall": stats(rows),
                    "by_alpha": {str(a): stats([r for r in rows if r["alpha"] == a]) for a in sorted({r["alpha"] for r in rows})},
                    "by_n": {str(n): stats([r for r in rows if r["n"] == n]) for n in sorted({r["n"] for r in rows})},
                    "by_fold": {f: stats([r for r in rows if r["fold"] == f]) for f in sorted({r["fold"] for r in rows})}}
    return out


def print_table(summary: dict, title: str) -> None:
    print(f"\n{title}\n{'estimator':<10} {'slice':<14} {'MAE':>7} {'bias':>8} {'cover95':>8} {'mixtures':>8}")
    for est, s in summary.items():
        rows = [("overall", s["overall"])] + [(f"alpha={a}", v) for a, v in s["by_alpha"].items()] + \
               [(f"n={n}", v) for n, v in s["by_n"].items()] + [(f"fold {f}"[:14], v) for f, v in s["by_fold"].items()]
        for name, v in rows:
            print(f"{est:<10} {name:<14} {v['mae']:7.4f} {v['bias']:+8.4f} {v['coverage']:8.3f} {v['n_mixtures']:8d}")


def folds(data: LabeledSet, args):
    dev_mask, test_mask = split_by_group(data, (1 - args.test_fraction, args.test_fraction), args.seed + 1)
    if args.leave_one_generator_out or args.leave_one_family_out:
        names, prefix = (data.generator, "gen") if args.leave_one_generator_out else (data.family, "family")
        for g in sorted(set(names[data.is_ai])):
            yield f"{prefix}:{g}", dev_mask & (names != g), test_mask & ((names == g) | ~data.is_ai)
    elif args.leave_one_domain_out or args.leave_one_genre_out:
        domains = np.array(sorted(set(data.domain)))
        k = min(args.domain_folds or len(domains), len(domains))
        for f in range(k):
            held = np.isin(data.domain, domains[f::k])
            yield "dom:" + "+".join(domains[f::k]), ~held, held
    else:
        yield "held-out groups", dev_mask, test_mask


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labeled", required=True, help="JSON lines with text, label (human|ai), optional group/generator/domain")
    ap.add_argument("--alphas", default="0,0.05,0.1,0.25,0.5")
    ap.add_argument("--sizes", default="100,500,2000")
    ap.add_argument("--repeats", type=int, default=20, help="mixtures per (alpha, n) and fold")
    ap.add_argument("--replicates", type=int, default=200, help="bootstrap replicates per estimate")
    ap.add_argument("--test-fraction", type=float, default=0.55, help="share of groups held out as the test pool")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--leave-one-generator-out", action="store_true")
    mode.add_argument("--leave-one-family-out", action="store_true",
                      help="hold out every generator of one maker (OpenAI, Google, Anthropic, Meta) at a time")
    mode.add_argument("--leave-one-domain-out", action="store_true")
    mode.add_argument("--leave-one-genre-out", action="store_true", help="the same as --leave-one-domain-out")
    ap.add_argument("--domain-folds", type=int, default=5, help="genre folds (0: one genre per fold)")
    ap.add_argument("--alpha", type=float, default=1e-5, help="detector L2 regularization")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--reference-words", type=int, default=2000)
    ap.add_argument("--no-transfer", action="store_true", help="no held-out refits inside each fold (faster)")
    ap.add_argument("--vintage", type=float, default=None, metavar="FRACTION",
                    help="measure the human side (fpr, mean human probability, P, marker share) on the human texts "
                         "of this share of the test pool's groups, kept out of the mixtures: what "
                         "synthetic.human_reference: vintage does with an audited crawl's pre-LLM snapshots")
    ap.add_argument("--pooled-vintage", action="store_true",
                    help="with --vintage, one pooled human baseline instead of one per genre (the audit's "
                         "synthetic.vintage_per_domain: false)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the summary and every mixture's estimates here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    alphas = [float(a) for a in args.alphas.split(",")]
    sizes = [int(n) for n in args.sizes.split(",")]
    data = read_labeled(args.labeled)
    rng = np.random.default_rng(args.seed)
    records, skipped = [], []
    for fold, dev_mask, test_mask in folds(data, args):
        started = time.time()
        vintage = None
        if args.vintage:  # a share of the pool's groups lends its human texts to the baseline, never to a mixture
            lend = split_by_group(data, (args.vintage, 1 - args.vintage), args.seed + 2)[0]
            vintage = data.subset(test_mask & lend & ~data.is_ai)
            test_mask = test_mask & ~lend
        dev, pool = data.subset(dev_mask), data.subset(test_mask)
        print(f"[{fold}] training on {len(dev)} texts, scoring a pool of {len(pool)}"
              + (f", human baseline from {len(vintage)} held-out texts" if vintage is not None else ""),
              file=sys.stderr, flush=True)
        scores = fold_scores(dev, pool, args, vintage)
        for n in sizes:
            for a in alphas:
                sets = mixtures(pool, pool.is_ai, a, n, args.repeats, rng)
                if not sets:
                    skipped.append({"fold": fold, "alpha": a, "n": n})
                    continue
                for idx in sets:
                    truth = float(pool.is_ai[idx].mean())
                    for est, e in estimate_all(scores, idx, args.replicates, int(rng.integers(2**62))).items():
                        records.append({"fold": fold, "alpha": a, "n": n, "truth": truth, "estimator": est,
                                        "value": e.value, "lo": e.lo, "hi": e.hi})
        print(f"[{fold}] done in {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    summary = summarize(records)
    mode_name = ("leave-one-generator-out" if args.leave_one_generator_out else
                 "leave-one-family-out" if args.leave_one_family_out else
                 "leave-one-genre-out" if args.leave_one_domain_out or args.leave_one_genre_out else "held-out groups")
    if args.vintage:
        mode_name += (f", human baseline measured on {args.vintage:.0%} of the pool's groups"
                      + (", pooled" if args.pooled_vintage else ", per genre"))
    print_table(summary, f"{mode_name}: {len(records) // len(ESTIMATORS)} mixtures")
    if skipped:
        print(f"skipped (pool too small for n distinct groups): {skipped}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"mode": mode_name, "args": vars(args), "summary": summary, "skipped": skipped,
                       "mixtures": records}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
