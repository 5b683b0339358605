"""Site templates: the lines a domain repeats around its articles, and the main content left without them.

Per (snapshot, registered_domain), a normalized line (``repetition.normalized_line``, scanned by ``lines``) is a template line when it
occurs in at least max(``min_docs``, ⌈``min_frac`` · P⌉) of the domain's P distinct pages (pages with the same
whole-page content hash count once, so exact copies of an article never make it a template). That is cc_net's
repeated-line idea (Wenzek et al. 2020, which drops paragraphs repeated across a shard) restricted to one site: the
menus, cookie notices, share buttons and footers a site wraps around every page. A page's main content is its
lines that are not template lines, in their order. A domain with fewer than ``min_docs`` distinct pages in the
snapshot has no template lines (nothing tells its template from its articles): its pages are their own main
content.

Exact hashes, MinHash signatures and cross-snapshot matching use the main content, so an article recrawled under a
newer template (the footer's year, a redesign) still matches its earlier copy. A page whose every line is a
template line has no main content: its hash and signature are null, so it is never matched, and it is counted apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BooleanType, IntegerType, LongType, StringType, StructField, StructType

from crawlaudit import schemas as S
from crawlaudit.metrics import lines
from crawlaudit.metrics.minhash import MinHasher
from crawlaudit.quality.validation import require_columns

KEYS = [S.SNAPSHOT, S.REGISTERED_DOMAIN]
BROADCAST_MAX_BYTES = 128 << 20   # larger template tables are joined by a shuffle (the pages' texts move)


@dataclass(frozen=True)
class TemplateParams:
    """``enabled``: False hashes and signs whole pages (the behaviour before templates were recognised)."""

    enabled: bool = True
    min_docs: int = 5
    min_frac: float = 0.3

    @property
    def hashed_text(self) -> str:
        """What the hashes and signatures are of: ``main`` (content without template lines) or ``page``. Stored
        with them (``content_hashes``, ``doc_hashes``, ``doc_signatures``' minhash_params): only alike values
        compare."""
        return "main" if self.enabled else "page"

    def threshold(self, n_pages: int) -> int:
        """Distinct pages a line must occur in to be a template line of a domain with ``n_pages`` of them."""
        return max(self.min_docs, math.ceil(self.min_frac * n_pages - 1e-9))


def template_lines(params: TemplateParams) -> Callable[[DataFrame], DataFrame]:
    """Per (snapshot, registered_domain) with template lines: snapshot, registered_domain, template_hashes (the
    line hashes, sorted). Empty when templates are off.

    Columns in: snapshot, registered_domain, doc_id, content_hash (whole page), line_hashes (``signals``).
    """

    def transform(pages: DataFrame) -> DataFrame:
        require_columns(pages, [*KEYS, S.DOC_ID, S.CONTENT_HASH, S.LINE_HASHES], "template_lines")
        if not params.enabled:
            return pages.sparkSession.createDataFrame(
                [], f"{S.SNAPSHOT} string, {S.REGISTERED_DOMAIN} string, {S.TEMPLATE_HASHES} array<bigint>")
        keyed = pages.where(F.col(S.CONTENT_HASH).isNotNull()).select(
            *KEYS, F.col(S.CONTENT_HASH).alias("_page"), S.LINE_HASHES)
        n_pages = (keyed.groupBy(*KEYS).agg(F.countDistinct("_page").alias("_n_pages"))
                   .where(F.col("_n_pages") >= params.min_docs))
        # only the lines of domains with enough pages to have a template are exploded and counted
        lines = keyed.join(n_pages, KEYS).select(
            *KEYS, "_n_pages", "_page", F.explode(F.array_distinct(S.LINE_HASHES)).alias("_line")).distinct()
        need = F.greatest(F.lit(params.min_docs),
                          F.ceil(F.lit(params.min_frac) * F.col("_n_pages") - F.lit(1e-9)).cast("long"))
        return (lines.groupBy(*KEYS, "_n_pages", "_line").agg(F.count(F.lit(1)).alias("_n"))
                .where(F.col("_n") >= need)
                .groupBy(*KEYS).agg(F.array_sort(F.collect_list("_line")).alias(S.TEMPLATE_HASHES)))

    return transform


def main_contents(texts: list[str | None], templates: list[list[int] | None]) -> lines.MainContent:
    """``lines.main_content`` of a batch of pages, each with its domain's template line hashes (None or empty:
    the page is its own main content)."""
    values = np.fromiter((h for t in templates for h in (t or ())), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(t or ()) for t in templates])]).astype(np.int64)
    return lines.main_content(texts, values, offsets)


MAIN_DOCS_SCHEMA = StructType([
    StructField(S.DOC_ID, StringType(), False),
    StructField(S.TEXT, StringType(), True),
    StructField(S.N_TOKENS, LongType(), False),
    StructField(S.CONTENT_HASH, StringType(), True),
    StructField(S.SIGNATURE, ArrayType(IntegerType(), False), True),
    StructField(S.N_TEMPLATE_LINES, IntegerType(), False),
    StructField(S.HAS_MAIN_CONTENT, BooleanType(), False),
    StructField(S.LANGUAGE, StringType(), True),
])


def _arrow(schema: StructType) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)


_MAIN_DOCS_ARROW = _arrow(MAIN_DOCS_SCHEMA)


def main_documents(templates: DataFrame, hasher: MinHasher) -> Callable[[DataFrame], DataFrame]:
    """Each page's main content, in one compiled pass (``lines.main_content``): doc_id, text (null when it has
    none), n_tokens (the words kept; 0 without main content), content_hash and signature of the main content,
    n_template_lines, has_main_content (the page has text beyond its template), and the page's language (null
    when the input has none: the detector's language filter needs it). What exact hashing, signatures,
    near-duplicate verification and the detector use (a site's menu is nobody's writing). Pages of domains
    without template lines are their own main content (the same text, token count and content_hash).

    ``templates``: ``template_lines`` rows (one per templated domain), broadcast to the pages up to
    ``BROADCAST_MAX_BYTES`` so the texts stay put. Columns in: snapshot, registered_domain, doc_id, text.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            site = batch.column(S.TEMPLATE_HASHES)
            counts = pc.fill_null(pc.list_value_length(site), 0).to_numpy(zero_copy_only=False)
            main = lines.main_content(batch.column(S.TEXT).to_pylist(),
                                      pc.list_flatten(site).to_numpy(zero_copy_only=False),
                                      np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
            has_main = pa.array([h is not None for h in main.content_hash], pa.bool_())
            sigs, has_sig = hasher.hash_signatures(main.word_hash, main.word_counts)
            n = batch.num_rows
            offsets = pa.array(np.arange(n + 1, dtype=np.int32) * hasher.num_perm)
            yield pa.RecordBatch.from_arrays([
                batch.column(S.DOC_ID), pc.if_else(has_main, main.text, pa.scalar(None, main.text.type)),
                pa.array(np.where(has_main.to_numpy(zero_copy_only=False), main.n_tokens, 0)),
                pa.array(main.content_hash, pa.string()),
                pa.ListArray.from_arrays(offsets, pa.array(sigs.view(np.int32).reshape(-1)), mask=pa.array(~has_sig)),
                pa.array(main.n_template_lines), has_main, batch.column(S.LANGUAGE)], schema=_MAIN_DOCS_ARROW)

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [*KEYS, S.DOC_ID, S.TEXT], "main_documents")
        language = F.col(S.LANGUAGE) if S.LANGUAGE in docs.columns else F.lit(None).cast("string")
        pages = docs.select(*KEYS, S.DOC_ID, S.TEXT, language.alias(S.LANGUAGE))
        site = templates.select(*KEYS, S.TEMPLATE_HASHES)
        # the templates go to the pages (broadcast), never the pages' texts to the templates (a shuffle), unless
        # so many sites have templates that the table would not fit a broadcast
        size = site.agg(F.sum(F.size(S.TEMPLATE_HASHES) * 8 + 100)).first()[0] or 0
        if size <= BROADCAST_MAX_BYTES:
            site = F.broadcast(site)
        return pages.join(site, KEYS, "left").mapInArrow(run, MAIN_DOCS_SCHEMA)

    return transform


def template_stats(keys: list[str]) -> Callable[[DataFrame], DataFrame]:
    """keys + ``schemas.TEMPLATE_COLUMNS``: template lines dropped (and their share of the group's lines) and the
    pages with text but no main content, counted apart (never matched as duplicates).

    Columns in: keys, n_lines, n_template_lines, has_main_content.
    """

    def transform(flagged: DataFrame) -> DataFrame:
        require_columns(flagged, [*keys, S.N_LINES, S.N_TEMPLATE_LINES, S.HAS_MAIN_CONTENT], "template_stats")
        template_only = (F.col(S.N_TEMPLATE_LINES) > 0) & ~F.col(S.HAS_MAIN_CONTENT)
        return (flagged.groupBy(*keys).agg(
            F.sum(S.N_TEMPLATE_LINES).cast("long").alias(S.N_TEMPLATE_LINES),
            F.sum(S.N_LINES).cast("long").alias("_n_lines"),
            F.sum(template_only.cast("long")).alias(S.N_DOCS_TEMPLATE_ONLY))
            .withColumn(S.TEMPLATE_LINE_FRAC, F.when(F.col("_n_lines") > 0, F.col(S.N_TEMPLATE_LINES) / F.col("_n_lines"))
                        .otherwise(F.lit(0.0)))
            .select(*keys, *S.TEMPLATE_COLUMNS))

    return transform
