#!/usr/bin/env python
"""Train the AI-text detector and build the reference tables the synthetic-share estimators use.

    python scripts/train_detector.py --labeled ../shared/data/labeled/ --out conf/models/l2r-biscope \\
        --lexicon ../shared/data/lexicons/kobak/excess_words.csv --source "L2R (Hao et al., ACL 2025), CC BY 3.0"

Writes to --out: model.npz + model.json (the detector and its calibration), reference.json (word-occurrence
tables P and Q, marker words) and MODEL_CARD.md (data, licence credit, AUROC, TPR at 1%/5% FPR, calibration
error, transfer shifts, size). Labeled input: JSON lines with text, label human|ai, optional group, generator,
domain (a file, a .gz, or a directory of them).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path

from crawlaudit.synthetic.detector import FeatureSpec
from crawlaudit.synthetic.labeled import read_labeled, split_by_group
from crawlaudit.synthetic.training import SPLIT, train_detector
from crawlaudit.synthetic.vocabulary import build_reference


def read_lexicon(path: str | None) -> list[str] | None:
    """Words of a Kobak-style CSV (column ``word``; rows of type ``style`` when a ``type`` column exists)."""
    if not path:
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        return [r["word"].lower() for r in csv.DictReader(fh) if r.get("type", "style") == "style"]


def model_card(out: Path, args, report: dict, reference_info: dict, seconds: float) -> str:
    size = sum(f.stat().st_size for f in out.iterdir() if f.name != "MODEL_CARD.md")
    t = report["transfer_shift_rms"]
    lines = [
        f"# Detector `{out.name}`", "",
        f"- Training data: {args.source or args.labeled}.",
        *([f"- Licence: {args.licence}"] if args.licence else []),
        f"- Languages: {', '.join(args.languages)} (ISO 639-3; `languages` in model.json). The audit scores only "
        "documents in these languages; the others are counted apart (`n_docs_unsupported`), never as human or AI.",
        "- Model: logistic regression (SGD, class-balanced) on hashed word 1–3-grams and UTF-8 byte 1–5-grams of the lower-cased, space-collapsed text "
        f"(2^{args.word_bits} + 2^{args.byte_bits} buckets, sublinear tf-idf), Platt-calibrated; "
        f"alpha {args.alpha}, {args.epochs} epochs, seed {args.seed}. Built by `scripts/train_detector.py`.",
        f"- Split by source passage (group): train {report['n_train']}, validation {report['n_valid']}, "
        f"test {report['n_test']} texts (fractions {SPLIT}).",
        f"- Size on disk: {size / 1e6:.1f} MB; trained in {seconds:.0f} s.", "",
        "## Test split", "",
        "| metric | value |", "|---|---|",
        f"| AUROC | {report['auroc']:.3f} |",
        f"| TPR at 1% FPR | {report['tpr_at_1pct_fpr']:.3f} |",
        f"| TPR at 5% FPR | {report['tpr_at_5pct_fpr']:.3f} |",
        f"| expected calibration error (10 bins) | {report['ece']:.3f} |",
    ]
    lines += [f"| AUROC, {g} | {v:.3f} |" for g, v in report["auroc_by_generator"].items()]
    lines += [f"| AUROC, family {g} | {v:.3f} |" for g, v in report.get("auroc_by_family", {}).items()]
    cal = report["calibration"]
    lines += ["", "## Calibration used by the quantifiers (validation split)", "",
              f"threshold {cal['threshold']:.3f}: tpr {cal['tpr']:.3f} (sd {cal['tpr_sd']:.3f}), "
              f"fpr {cal['fpr']:.3f} (sd {cal['fpr_sd']:.3f}); mean probability AI {cal['mean_p_ai']:.3f} "
              f"(sd {cal['mean_p_ai_sd']:.3f}), human {cal['mean_p_human']:.3f} (sd {cal['mean_p_human_sd']:.3f}).",
              *_transfer_lines(report, cal), "",
              "## Reference tables (`reference.json`)", "",
              f"{reference_info['n_words']} words for the mixture estimator, {len(reference_info['markers'])} marker "
              f"words; marker share: AI {reference_info['marker_share_ai']:.3f}, human "
              f"{reference_info['marker_share_human']:.3f} (training split).", "",
              "## Limits", "",
              f"Trained on the texts above ({', '.join(args.languages)}): text from other generators or genres shifts "
              "tpr and fpr, and text in other languages is outside what it can judge (the audit does not score it). The "
              "quantifiers correct for the rates and carry the measured shift in their intervals; counting flagged "
              "documents would not."]
    return "\n".join(lines) + "\n"


def _transfer_lines(report: dict, cal: dict) -> list[str]:
    """The model card's account of unseen generator families and genres."""
    t = report["transfer_shift_rms"]
    fams = report.get("unseen_family", {})
    lines = []
    if fams:
        lines += ["", "## Generator families held out of training (validation split)", "",
                  "Refitted without each family; its tpr and mean AI probability minus the seen families', compared genre by genre (a family present only in easy genres must not read as an easy family):", "",
                  "| held-out family | tpr shift | mean AI probability shift |", "|---|---|---|"]
        lines += [f"| {f} | {v['tpr']:+.3f} | {v['mean_p_ai']:+.3f} |" for f, v in fams.items()]
    if cal.get("unseen_mean_p_ai_shift"):
        lines += ["", "The quantifiers assume the crawl's generators are a family the detector never saw: the AI "
                      "side is centred on the median shift and each bootstrap replicate draws one more family's shift "
                      "(median + sd·√(1 + 1/K)·t(K − 1), K families), so intervals widen by the families' disagreement."]
    else:
        lines += ["", f"The AI side's sds include the rms shift to a held-out family "
                      f"({json.dumps({k: round(v, 3) for k, v in t['family'].items()})})."]
    lines += ["", f"The shift to unseen genre folds ({json.dumps({k: round(v, 3) for k, v in t['domain'].items()})}) "
                  "is not included: it is a bias of the human baseline on new topics, measured on the crawl's own "
                  "pre-2023 documents with `synthetic.human_reference: vintage`."]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labeled", default="../shared/data/labeled/", help="labeled JSON lines (file or directory, read recursively)")
    ap.add_argument("--out", required=True, help="output directory, e.g. conf/models/l2r-biscope")
    ap.add_argument("--source", default=None, help="training data and licence credit for the model card")
    ap.add_argument("--licence", default=None, help="licence statement for the model card (what the model derives from)")
    ap.add_argument("--lexicon", default=None, help="CSV with a 'word' column seeding the marker candidates")
    ap.add_argument("--alpha", type=float, default=1e-5, help="L2 regularization (default 1e-5)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--word-bits", type=int, default=18)
    ap.add_argument("--byte-bits", type=int, default=18)
    ap.add_argument("--reference-words", type=int, default=2000)
    ap.add_argument("--markers", type=int, default=100)
    ap.add_argument("--no-transfer", action="store_true", help="skip the held-out generator/domain refits")
    ap.add_argument("--languages", default="eng", type=lambda v: [c.strip() for c in v.split(",") if c.strip()],
                    help="comma-separated ISO 639-3 codes of the training texts' languages (default eng): the audit "
                         "scores only documents in them")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.time()
    data = read_labeled(args.labeled)
    print(f"{len(data)} labeled texts ({int(data.is_ai.sum())} AI)", file=sys.stderr)
    spec = FeatureSpec(word_bits=args.word_bits, byte_bits=args.byte_bits)
    det, report = train_detector(data, spec, args.alpha, args.epochs, args.seed, transfer=not args.no_transfer)
    train = split_by_group(data, SPLIT, args.seed)[0]
    sub = data.subset(train)
    reference = build_reference(sub.texts, sub.is_ai, n_words=args.reference_words, n_markers=args.markers,
                                lexicon=read_lexicon(args.lexicon), info={"source": args.source or args.labeled},
                                domains=sub.domain if len(set(sub.domain)) > 1 else None)
    out = Path(args.out)
    det.info = {"source": args.source or str(args.labeled), **{k: v for k, v in report.items()}}
    det.languages = tuple(args.languages)
    det.save(out)
    reference.save(out / "reference.json")
    report["calibration"] = det.calibration.__dict__
    card = model_card(out, args, report, dict(reference.info, markers=reference.markers), time.time() - started)
    (out / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    print(card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
