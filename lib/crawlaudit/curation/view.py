"""The curation view: one row per document with whether to keep it and the first reason not to (pure transforms).

Built from what the audit kept per document (``doc_hashes``: content hash, near-duplicate cluster, where to re-read
the record; ``doc_scores``; the reuse flags recomputed from ``doc_signatures``) and the domains' vintage index, so
no crawl is re-read. Every rule is a function of the published rows only: the same warehouse and policy give the same
rows whatever the partition count or the order the snapshots were audited in.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.ingest.domains import snapshot_year
from crawlaudit.quality.validation import require_columns

# output columns
WARC_FILE, WARC_OFFSET, WARC_RECORD_ID = "warc_file", "warc_offset", "warc_record_id"
EXACT_DUP_GROUP, IS_FIRST_COPY = "exact_dup_group", "is_first_copy"
NEAR_DUP_CLUSTER, IS_CLUSTER_REPRESENTATIVE = "near_dup_cluster", "is_cluster_representative"
FIRST_SEEN_SNAPSHOT, VINTAGE, IS_REPOSTED = "first_seen_snapshot", "vintage", "is_reposted"
REPOST_OF_SNAPSHOT = S.REPOST_OF_SNAPSHOT
DOMAIN_VINTAGE_INDEX, KEEP, DROP_REASON = "domain_vintage_index", "keep", "drop_reason"
FIRST_DOC_ID = "first_doc_id"

# drop reasons, in the order they are tried (a document gets the first that applies)
NO_CONTENT, DUPLICATE, NEAR_DUPLICATE, REPOSTED = "no main content", "duplicate", "near-duplicate", "reposted"
LIKELY_AI, LOW_TRUST, LANGUAGE, NOT_VINTAGE = "likely AI", "low-trust domain", "language", "not vintage"
DROP_REASONS = (NO_CONTENT, DUPLICATE, NEAR_DUPLICATE, REPOSTED, LIKELY_AI, LOW_TRUST, LANGUAGE, NOT_VINTAGE)

CURATION_COLUMNS = [
    S.SNAPSHOT, S.YEAR, S.DOC_ID, S.URL, S.REGISTERED_DOMAIN, S.LANGUAGE, WARC_FILE, WARC_OFFSET, WARC_RECORD_ID,
    S.AI_PROB, S.IS_AI_FLAGGED, EXACT_DUP_GROUP, IS_FIRST_COPY, NEAR_DUP_CLUSTER, IS_CLUSTER_REPRESENTATIVE,
    IS_REPOSTED, FIRST_SEEN_SNAPSHOT, VINTAGE, DOMAIN_VINTAGE_INDEX, KEEP, DROP_REASON, REPOST_OF_SNAPSHOT,
]
DOC_COLUMNS = [S.SNAPSHOT, S.DOC_ID, S.REGISTERED_DOMAIN, S.CONTENT_HASH, S.LANGUAGE, S.URL, S.FILE, S.OFFSET,
               S.RECORD_ID, S.COMPONENT]


@dataclasses.dataclass(frozen=True)
class Policy:
    """What a curator keeps. ``max_ai_prob``: documents the detector gives at least this probability are dropped as
    likely AI (None: not judged; unscored documents, e.g. in languages the detector does not declare, never are).
    ``min_domain_vintage_index``: documents of domains below it (or without one) are dropped as low-trust (None:
    every domain). ``languages``: only these (None: any). ``drop_reposts``: drop near-duplicates of an earlier
    snapshot's document. ``require_vintage``: keep only content first seen before ``vintage_before_year``.
    ``reposts_count_as_vintage``: a repost (``drop_reposts`` off) of a document first seen before
    ``vintage_before_year`` is vintage too: its text was, give or take light edits. ``judge_vintage``: the AI
    threshold applies to vintage content too; off, vintage content is taken as human by its date, as the synthetic
    estimates' vintage baseline takes it, and the detector's false positives do not cost the scarcest text."""

    max_ai_prob: float | None = 0.5
    min_domain_vintage_index: float | None = None
    languages: tuple[str, ...] | None = None
    drop_reposts: bool = True
    require_vintage: bool = False
    vintage_before_year: int = 2023
    reposts_count_as_vintage: bool = False
    judge_vintage: bool = False


PRESETS = {
    # the pre-LLM web, each text once: human, first copy, first seen before vintage_before_year
    "vintage-human-unique": Policy(max_ai_prob=0.5, require_vintage=True),
    # duplicates only: every first copy and cluster representative, whatever wrote it
    "dedup-only": Policy(max_ai_prob=None, drop_reposts=False),
}


def first_copies(doc_hashes: DataFrame) -> DataFrame:
    """content_hash, first_seen_snapshot, first_doc_id: the earliest (snapshot, then smallest doc_id) document holding
    each main-content hash in ``doc_hashes`` (every audited snapshot's rows, one kind of hashed text). Columns in:
    snapshot, doc_id, content_hash."""
    require_columns(doc_hashes, [S.SNAPSHOT, S.DOC_ID, S.CONTENT_HASH], "first_copies")
    first = F.min(F.struct(S.SNAPSHOT, S.DOC_ID)).alias("_first")
    return (doc_hashes.where(F.col(S.CONTENT_HASH).isNotNull()).groupBy(S.CONTENT_HASH).agg(first)
            .select(S.CONTENT_HASH, F.col(f"_first.{S.SNAPSHOT}").alias(FIRST_SEEN_SNAPSHOT),
                    F.col(f"_first.{S.DOC_ID}").alias(FIRST_DOC_ID)))


def curation_rows(first: DataFrame, scores: DataFrame, reposted: DataFrame, domain_vintage: DataFrame,
                  policy: Policy) -> Callable[[DataFrame], DataFrame]:
    """The documents (``DOC_COLUMNS``: doc_hashes rows of the exported snapshots) as ``CURATION_COLUMNS``.

    ``first``: ``first_copies`` over every audited snapshot; ``scores``: doc_id, ai_prob, is_ai_flagged (doc_scores
    of one detector); ``reposted``: doc_id, repost_of_snapshot of the documents with a near-duplicate in an earlier
    snapshot (the earliest such snapshot);
    ``domain_vintage``: registered_domain, domain_vintage_index. A document's cluster representative is its cluster's
    smallest doc_id (``component``); the first copy of a text is the earliest snapshot's smallest doc_id holding it."""

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, DOC_COLUMNS, "curation_rows")
        rows = (docs.join(first, S.CONTENT_HASH, "left")
                .join(scores.select(S.DOC_ID, S.AI_PROB, S.IS_AI_FLAGGED), S.DOC_ID, "left")
                .join(reposted.groupBy(S.DOC_ID).agg(F.min(REPOST_OF_SNAPSHOT).alias(REPOST_OF_SNAPSHOT))
                      .withColumn(IS_REPOSTED, F.lit(True)), S.DOC_ID, "left")
                .join(domain_vintage.select(S.REGISTERED_DOMAIN, DOMAIN_VINTAGE_INDEX), S.REGISTERED_DOMAIN, "left"))
        has_content = F.col(S.CONTENT_HASH).isNotNull()
        first_copy = has_content & (F.col(FIRST_SEEN_SNAPSHOT) == F.col(S.SNAPSHOT)) & (
            F.col(FIRST_DOC_ID) == F.col(S.DOC_ID))
        representative = F.coalesce(F.col(S.COMPONENT), F.col(S.DOC_ID)) == F.col(S.DOC_ID)
        seen = F.coalesce(F.col(FIRST_SEEN_SNAPSHOT), F.col(S.SNAPSHOT))
        vintage_from = (F.least(FIRST_SEEN_SNAPSHOT, F.coalesce(REPOST_OF_SNAPSHOT, FIRST_SEEN_SNAPSHOT))
                        if policy.reposts_count_as_vintage else F.col(FIRST_SEEN_SNAPSHOT))
        rows = (rows.withColumn(IS_FIRST_COPY, first_copy)
                .withColumn(IS_CLUSTER_REPRESENTATIVE, representative)
                .withColumn(IS_REPOSTED, F.coalesce(F.col(IS_REPOSTED), F.lit(False)))
                .withColumn(FIRST_SEEN_SNAPSHOT, seen)
                .withColumn(VINTAGE, snapshot_year(vintage_from) < F.lit(policy.vintage_before_year)))
        rules = [(~has_content, NO_CONTENT), (~F.col(IS_FIRST_COPY), DUPLICATE),
                 (~F.col(IS_CLUSTER_REPRESENTATIVE), NEAR_DUPLICATE)]
        if policy.drop_reposts:
            rules.append((F.col(IS_REPOSTED), REPOSTED))
        if policy.max_ai_prob is not None:
            judged = F.lit(True) if policy.judge_vintage else ~F.col(VINTAGE)
            rules.append((judged & F.coalesce(F.col(S.AI_PROB) >= F.lit(policy.max_ai_prob), F.lit(False)), LIKELY_AI))
        if policy.min_domain_vintage_index is not None:
            rules.append((F.coalesce(F.col(DOMAIN_VINTAGE_INDEX) < F.lit(policy.min_domain_vintage_index),
                                     F.lit(True)), LOW_TRUST))
        if policy.languages is not None:
            rules.append((~F.coalesce(F.col(S.LANGUAGE).isin(*policy.languages), F.lit(False)), LANGUAGE))
        if policy.require_vintage:
            rules.append((~F.col(VINTAGE), NOT_VINTAGE))
        reason = F.lit(None).cast("string")
        for condition, name in reversed(rules):   # the first rule that applies wins
            reason = F.when(condition, F.lit(name)).otherwise(reason)
        return (rows.withColumn(DROP_REASON, reason).withColumn(KEEP, F.col(DROP_REASON).isNull())
                .withColumn(S.YEAR, snapshot_year(S.SNAPSHOT))
                .withColumn(EXACT_DUP_GROUP, F.col(S.CONTENT_HASH))
                .withColumn(NEAR_DUP_CLUSTER, F.concat_ws("/", S.SNAPSHOT, F.coalesce(S.COMPONENT, S.DOC_ID)))
                .select(*[F.col(S.FILE).alias(WARC_FILE) if c == WARC_FILE else
                          F.col(S.OFFSET).alias(WARC_OFFSET) if c == WARC_OFFSET else
                          F.col(S.RECORD_ID).alias(WARC_RECORD_ID) if c == WARC_RECORD_ID else F.col(c)
                          for c in CURATION_COLUMNS]))

    return transform
