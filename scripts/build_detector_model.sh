#!/usr/bin/env bash
# Rebuild conf/models/l2r-biscope, the detector for real crawls, from both shared labeled sets (L2R and BiScope;
# data path as the first argument, default ../shared/data). Takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
.venv/bin/python scripts/train_detector.py --labeled "$data/labeled/" --out conf/models/l2r-biscope \
  --lexicon "$data/lexicons/kobak/excess_words.csv" \
  --source "L2R (Hao et al., \"Learning to Rewrite: Generalized LLM-Generated Text Detection\", ACL 2025; github.com/ranhli/l2r_data, commit 2e0f258): 19,413 texts, 20 genres, human and GPT-3.5-turbo / GPT-4o / Gemini-1.5-Pro / Llama-3-70B rewrites; BiScope (Guo et al., NeurIPS 2024; github.com/MarkGHX/BiScope, commit 9e4057d): 19,360 texts, arXiv abstracts, WritingPrompts stories, Yelp reviews, human and Claude-3-Opus / Claude-3-Sonnet / Gemini-1.0-Pro / GPT-3.5-turbo / GPT-4-turbo; marker candidates seeded by Kobak et al.'s excess style words" \
  --licence "L2R is CC BY 3.0, BiScope CC BY-SA 4.0, Kobak et al.'s lexicon MIT. The weights and reference tables are derived from BiScope's texts and are therefore shared under CC BY-SA 4.0 (attribution to both data sets above; derivatives under the same licence). Nothing of the texts themselves is stored: hashed n-gram weights, idf and word-occurrence rates of 2,000 common words."
