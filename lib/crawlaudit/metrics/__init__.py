"""Per-document signals and the metrics over them: tokens and hashes (``text``), entropy and diversity, repeated
lines, exact and near duplicates (MinHash/LSH, verified), site templates."""
