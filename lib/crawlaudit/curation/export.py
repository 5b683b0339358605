"""``crawlaudit export``: the curation view (``view``) of audited snapshots, from the warehouse's tables only.

Reads doc_hashes (every snapshot: which document holds each text first), doc_scores (the configured detector's),
doc_signatures (near-duplicates of earlier snapshots and the earliest snapshot holding one, recomputed against the
warehouse as it is now, as a refresh does) and domain_stats (the domains' vintage index, as the report ranks it),
and writes Parquet partitioned by snapshot, a plain ``warc_file offset`` list of the kept records for
re-extraction, and a summary of kept and dropped documents by reason per year.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.session import checkpoint
from crawlaudit.curation import view as V
from crawlaudit.errors import InputError
from crawlaudit.metrics import neardup
from crawlaudit.metrics.neardup import NearDupParams
from crawlaudit.warehouse import Warehouse, tables

log = logging.getLogger(__name__)


def domain_vintage(wh: Warehouse, min_docs: int, min_years: int) -> DataFrame:
    """registered_domain, domain_vintage_index of every domain the report would rank (``report.vintage_index``:
    audited in ``min_years`` years with ``min_docs`` documents each; the others have none)."""
    from crawlaudit.ops import report

    dy = report.domain_years(wh.read_arrow(tables.DOMAIN_STATS).to_pandas(), min_docs)
    index = report.vintage_index(dy, min_years, n=max(len(dy), 1))
    rows = [(str(d), float(v)) for d, v in zip(index[S.REGISTERED_DOMAIN], index["vintage_index"])]
    return wh.spark.createDataFrame(rows, f"{S.REGISTERED_DOMAIN} string, {V.DOMAIN_VINTAGE_INDEX} double")


def reposted(wh: Warehouse, near: NearDupParams, snapshot: str) -> DataFrame:
    """doc_id, repost_of_snapshot of ``snapshot``'s documents with a near-duplicate in an earlier audited snapshot
    (the earliest such snapshot), measured against the warehouse as it is now (whatever order the snapshots were
    audited in)."""
    empty = wh.spark.createDataFrame([], f"{S.DOC_ID} string, {S.REPOST_OF_SNAPSHOT} string")
    signatures = wh.read(tables.DOC_SIGNATURES)
    if signatures is None:
        return empty
    signatures = signatures.where(F.col(S.MINHASH_PARAMS) == near.signature_params)
    mine = signatures.where(F.col(S.SNAPSHOT) == snapshot).select(S.DOC_ID, S.SIGNATURE)
    earlier = signatures.where(F.col(S.SNAPSHOT) < snapshot).select(S.DOC_ID, S.SIGNATURE, S.SNAPSHOT)
    return mine.transform(neardup.cross_snapshot_matches(earlier, near))


@dataclass
class Export:
    rows: DataFrame          # CURATION_COLUMNS, checkpointed
    summary: list[dict]      # year, drop_reason (None: kept), n_docs


def curate(wh: Warehouse, snapshots: list[str], policy: V.Policy, near: NearDupParams, detector: str | None,
           min_docs: int, min_years: int) -> Export:
    """The curation rows of ``snapshots`` under ``policy``; ``detector``: the doc_scores rows to judge AI by (None:
    no judgement, allowed only when the policy does not ask for one). Raises InputError for snapshots without
    doc_hashes or audited before the per-document evidence was kept (re-audit them)."""
    hashes = wh.read(tables.DOC_HASHES)
    if hashes is None:
        raise InputError(f"{wh.display}: no doc_hashes: audit the snapshots first")
    lacking = [c for c in V.DOC_COLUMNS if c not in hashes.columns]
    if lacking:
        raise InputError(f"{wh.display}/doc_hashes has no {', '.join(lacking)}: its snapshots were audited before "
                         f"each document's file, offset and cluster were kept; re-audit them to export them")
    kind = near.templates.hashed_text
    hashes = hashes.where(F.col(S.HASHED_TEXT) == kind)
    wanted = hashes.where(F.col(S.SNAPSHOT).isin(*snapshots)).transform(checkpoint)
    found = {r[0]: r[1] for r in wanted.groupBy(S.SNAPSHOT).agg(
        F.sum(F.col(S.FILE).isNull().cast("long"))).collect()}
    missing = sorted(set(snapshots) - set(found))
    if missing:
        raise InputError(f"{', '.join(missing)}: no doc_hashes of {kind} text in {wh.display} (audit them first)")
    old = sorted(s for s, n in found.items() if n)
    if old:
        raise InputError(f"{', '.join(old)}: audited before each document's file, offset and cluster were kept: "
                         f"re-audit to export them")
    if policy.max_ai_prob is not None and detector is None:
        raise InputError("the policy judges AI (max_ai_prob) but no detector is configured (synthetic.model)")
    scores = wh.read(tables.DOC_SCORES)
    if scores is None or detector is None:
        scores = wh.spark.createDataFrame([], f"{S.DOC_ID} string, {S.AI_PROB} double, {S.IS_AI_FLAGGED} boolean")
    else:
        scores = scores.where(F.col(S.DETECTOR) == detector)
    repost = None
    for s in snapshots:
        r = reposted(wh, near, s)
        repost = r if repost is None else repost.unionByName(r)
    rows = wanted.transform(V.curation_rows(V.first_copies(hashes), scores, repost,
                                            domain_vintage(wh, min_docs, min_years), policy)).transform(checkpoint)
    summary = [r.asDict() for r in rows.groupBy(S.YEAR, V.DROP_REASON).agg(F.count(F.lit(1)).alias(S.N_DOCS))
               .orderBy(S.YEAR, F.col(V.DROP_REASON).asc_nulls_first()).collect()]
    return Export(rows, summary)


def write(export: Export, out: str) -> None:
    """Parquet partitioned by snapshot under ``out/curation``, the kept records' ``warc_file offset`` lines under
    ``out/keep_offsets`` (text, sorted by file and offset), replacing what was there."""
    export.rows.write.mode("overwrite").partitionBy(S.SNAPSHOT).parquet(f"{out}/curation")
    (export.rows.where(F.col(V.KEEP)).orderBy(V.WARC_FILE, V.WARC_OFFSET)
     .select(F.concat_ws(" ", V.WARC_FILE, F.col(V.WARC_OFFSET).cast("string")).alias("value"))
     .write.mode("overwrite").text(f"{out}/keep_offsets"))


def summary_lines(summary: list[dict]) -> list[str]:
    """Per year: documents kept and dropped by reason."""
    lines = []
    for year in sorted({r[S.YEAR] for r in summary}):
        mine = {r[V.DROP_REASON]: r[S.N_DOCS] for r in summary if r[S.YEAR] == year}
        total = sum(mine.values())
        dropped = ", ".join(f"{reason} {mine[reason]:,}" for reason in V.DROP_REASONS if mine.get(reason))
        lines.append(f"{year}: {total:,} documents, kept {mine.get(None, 0):,}" + (f"; dropped: {dropped}" if dropped
                                                                                   else ""))
    return lines
