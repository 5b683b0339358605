#!/usr/bin/env bash
# Rebuild conf/models/l2r from the shared L2R data (path as the first argument, default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
.venv/bin/python scripts/train_detector.py --labeled "$data/labeled/l2r/" --out conf/models/l2r \
  --lexicon "$data/lexicons/kobak/excess_words.csv" \
  --source "L2R (Hao et al., \"Learning to Rewrite: Generalized LLM-Generated Text Detection\", ACL 2025; github.com/ranhli/l2r_data, commit 2e0f258), licensed CC BY 3.0: 19,413 texts, 20 domains, human and GPT-3.5-turbo / GPT-4o / Gemini-1.5-Pro / Llama-3-70B rewrites; marker candidates seeded by Kobak et al.'s excess style words (MIT)"
