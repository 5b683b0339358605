"""Generators for tests, the demo and benchmarks (planted sample corpus, ingest fuzzer, model-collapse simulator);
not shipped to executors (scripts/package.sh leaves them out of crawlaudit.zip)."""
