#!/usr/bin/env bash
# Fresh machine → audited sample corpus: set up .venv, generate the planted sample corpus (if absent),
# audit every sample snapshot in local mode into ./warehouse, print the per-year summary, export the curation view
# (what to keep, per document), check both against the planted truth, extract the kept texts and write the trend
# report (warehouse/_report/index.html: open it in a browser).
# Running it again replaces each snapshot's partitions: same tables, no duplicated rows.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/crawlaudit sample-corpus --out sample_corpus
.venv/bin/python jobs/audit_snapshot.py --config conf/local.yaml --snapshot all
echo
echo "Per-year summary (warehouse: ./warehouse; per-domain rows: warehouse/domain_stats):"
.venv/bin/crawlaudit summary --warehouse warehouse
echo
echo "Curation: what to keep, per document (preset vintage-human-unique; warehouse/_export):"
.venv/bin/crawlaudit export --config conf/local.yaml --all --out warehouse/_export
echo
echo "Audit and curation against the planted ground truth (sample_corpus/ground_truth.json, documents.jsonl.gz):"
.venv/bin/crawlaudit check-truth --corpus sample_corpus --warehouse warehouse --export warehouse/_export
echo
echo "The kept documents' text, re-read from the WET files (warehouse/_export/text/documents):"
.venv/bin/crawlaudit extract --config conf/local.yaml --from warehouse/_export
echo
.venv/bin/crawlaudit report --warehouse warehouse
