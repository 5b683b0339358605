#!/usr/bin/env bash
# Rebuild conf/models/sample: the demo's detector and reference tables, trained on labeled texts from the
# sample corpus's own generators (no third-party data). Deterministic: same code, same artifact.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/crawlaudit sample-labeled --out "$tmp/sample_labeled.jsonl" --per-domain 120 --seed 1729 --text-seed 7
.venv/bin/python scripts/train_detector.py --labeled "$tmp/sample_labeled.jsonl" --out conf/models/sample \
  --source "crawlaudit's own sample generators (crawlaudit sample-labeled --per-domain 120 --seed 1729 --text-seed 7): human writers and the two sample language models over the demo corpus's 40 domains; generated, no third-party text"
