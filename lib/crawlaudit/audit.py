"""Join the metric families into the published tables (pure: DataFrames in, DataFrames out)."""
from __future__ import annotations

from typing import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from crawlaudit.metrics import dedup, entropy, languages, neardup, repetition, templates
from crawlaudit.synthetic import estimates as synthetic
from crawlaudit.synthetic.pooled import pooled_estimates
from crawlaudit import schemas as S
from crawlaudit.config import MetricsConfig
from crawlaudit.metrics.neardup import NearDupParams
from crawlaudit.ingest.domains import snapshot_year
from crawlaudit.ingest.language import SOURCE_DETECTED, UNDETERMINED


FLAG_INPUT_COLUMNS = [S.SNAPSHOT, S.REGISTERED_DOMAIN, S.DOC_ID, S.URL, S.N_TOKENS, S.N_CHARS, S.LANGUAGE,
                      S.LANGUAGE_SOURCE, S.FILE, S.OFFSET, S.RECORD_ID]
MAIN_COLUMNS = [S.DOC_ID, S.CONTENT_HASH, S.N_TEMPLATE_LINES, S.HAS_MAIN_CONTENT]


def flag_documents(docs: DataFrame, main: DataFrame, prior_hashes: DataFrame) -> DataFrame:
    """Narrow document rows (no text: the joins never shuffle it) with their main content's content_hash,
    n_template_lines, has_main_content, is_exact_dup and is_cross_snapshot_dup.

    Columns in: docs: ``FLAG_INPUT_COLUMNS``; main: ``MAIN_COLUMNS`` (``templates.main_documents``).
    """
    narrow = docs.select(*FLAG_INPUT_COLUMNS).join(main.select(*MAIN_COLUMNS), S.DOC_ID)
    return narrow.transform(dedup.with_exact_dup_flag).transform(dedup.with_cross_snapshot_flag(prior_hashes))


def with_main_signatures(page_signals: DataFrame, main: DataFrame) -> DataFrame:
    """``signals.document_signals`` rows (line hashes and repetition signals of whole pages) with the signature of
    each page's main content (``templates.main_documents``)."""
    return page_signals.drop(S.SIGNATURE).join(main.select(S.DOC_ID, S.SIGNATURE), S.DOC_ID)


def content_hash_rows(flagged: DataFrame, hashed_text: str) -> DataFrame:
    """The snapshot's ``content_hashes`` rows: each main-content hash with its first snapshot and URL."""
    return dedup.first_seen_hashes(flagged).withColumn(S.HASHED_TEXT, F.lit(hashed_text))


def flag_near_duplicates(flagged: DataFrame, docs: DataFrame, signals: DataFrame, prior_signatures: DataFrame,
                         params: NearDupParams, line_min_repeats: int) -> DataFrame:
    """``flagged`` + is_near_dup, component, is_cross_snapshot_near_dup, n_lines, n_dup_lines and the repetition
    signals. ``docs``: doc_id, text that verification compares (the main contents, ``templates.main_documents``);
    ``signals``: ``signals.document_signals`` with their signatures; ``prior_signatures``: doc_id, signature of the
    earlier snapshots (same minhash_params)."""
    edges = neardup.near_dup_edges(docs, signals, params)
    lines = (
        signals.join(flagged.select(S.SNAPSHOT, S.DOC_ID), S.DOC_ID)
        .transform(repetition.with_line_dup_counts(line_min_repeats))
        .select(S.DOC_ID, S.N_LINES, S.N_DUP_LINES, *S.REP_SIGNALS)
    )
    return (
        flagged.transform(neardup.with_near_dup_flags(edges, params.max_component_rounds))
        .transform(_with_cross_snapshot_near_dup_flag(signals, prior_signatures, params))
        .join(lines, S.DOC_ID, "left")
    )


def _with_cross_snapshot_near_dup_flag(signatures: DataFrame, prior_signatures: DataFrame, params: NearDupParams
                                       ) -> Callable[[DataFrame], DataFrame]:
    """+ is_cross_snapshot_near_dup: the document (doc_id) has a near-duplicate among ``prior_signatures``.
    ``signatures``: doc_id, signature of the documents being flagged."""
    cross = signatures.transform(neardup.cross_snapshot_matches(prior_signatures, params)).withColumn(
        S.IS_CROSS_SNAPSHOT_NEAR_DUP, F.lit(True))
    return lambda rows: rows.join(cross, S.DOC_ID, "left").withColumn(
        S.IS_CROSS_SNAPSHOT_NEAR_DUP, F.coalesce(F.col(S.IS_CROSS_SNAPSHOT_NEAR_DUP), F.lit(False)))


def doc_hash_rows(flagged: DataFrame, hashed_text: str) -> DataFrame:
    """The ``doc_hashes`` rows of a snapshot (every document: its main content's hash, null when it has none; its
    WET file, offset and record id; its near-duplicate cluster)."""
    return flagged.withColumn(S.HASHED_TEXT, F.lit(hashed_text)).select(*S.DOC_HASHES_COLUMNS)


def reuse_flags(doc_hashes: DataFrame, prior_hashes: DataFrame, signatures: DataFrame, prior_signatures: DataFrame,
                params: NearDupParams) -> DataFrame:
    """A published snapshot's documents (``doc_hashes`` rows) with is_cross_snapshot_dup and
    is_cross_snapshot_near_dup against the earlier snapshots as the warehouse holds them now: what an audit
    flags, recomputed from the kept hashes and ``signatures`` (its doc_signatures: doc_id, signature) without
    re-reading the crawl."""
    return (doc_hashes.transform(dedup.with_cross_snapshot_flag(prior_hashes))
            .transform(_with_cross_snapshot_near_dup_flag(signatures, prior_signatures, params)))


def reuse_stats(keys: list[str]) -> Callable[[DataFrame], DataFrame]:
    """keys + ``schemas.REUSE_COLUMNS`` (shares of the group's documents). Columns in: keys, the two flags."""

    def transform(flags: DataFrame) -> DataFrame:
        n = F.count(F.lit(1))
        return (flags.groupBy(*keys).agg(
            n.alias("_n"),
            F.sum(F.col(S.IS_CROSS_SNAPSHOT_DUP).cast("long")).alias(S.N_CROSS_SNAPSHOT_DUP_DOCS),
            F.sum(F.col(S.IS_CROSS_SNAPSHOT_NEAR_DUP).cast("long")).alias(S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS))
            .withColumn(S.CROSS_SNAPSHOT_DUP_FRAC, F.col(S.N_CROSS_SNAPSHOT_DUP_DOCS) / F.col("_n"))
            .withColumn(S.CROSS_SNAPSHOT_NEAR_DUP_FRAC, F.col(S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS) / F.col("_n"))
            .select(*keys, *S.REUSE_COLUMNS))

    return transform


def doc_signature_rows(flagged: DataFrame, signals: DataFrame, params: NearDupParams) -> DataFrame:
    """The ``doc_signatures`` rows of a snapshot (documents with a signature), kept so later snapshots are
    checked against this one without rereading it."""
    return (
        flagged.select(S.SNAPSHOT, S.DOC_ID, S.REGISTERED_DOMAIN).join(signals.select(S.DOC_ID, S.SIGNATURE), S.DOC_ID)
        .where(F.col(S.SIGNATURE).isNotNull())
        .withColumn(S.MINHASH_PARAMS, F.lit(params.signature_params))
        .select(*S.DOC_SIGNATURES_COLUMNS)
    )


def synthetic_rows(flagged: DataFrame, scores: DataFrame | None, keys: list[str], params, prior_markers: DataFrame,
                   before_year: int, domains=None, pooled: bool = False) -> DataFrame:
    """keys + ``SYNTHETIC_COLUMNS`` per group: the estimates from the document ``scores`` (null without a model),
    each document measured against its domain's vintage baseline when ``domains`` (``synthetic.DomainBaselines``)
    is given; the marker-excess bound against ``prior_markers`` (keys without snapshot, year, marker_doc_frac).
    ``pooled``: few large groups, estimated by Spark aggregations (``pooled.pooled_estimates``) instead of one
    Python worker per group."""
    if scores is None or params is None:
        return flagged.transform(synthetic.null_estimates(keys))
    doc_keys = list(dict.fromkeys([*keys, S.REGISTERED_DOMAIN])) if domains is not None else keys
    scored = (flagged.select(S.DOC_ID, *doc_keys).join(scores, S.DOC_ID)
              .transform(synthetic.with_document_baselines(domains)))
    # the scores are checkpointed: counting them is cheap, counting their join with the documents is a shuffle
    estimator = (pooled_estimates(keys, params, scores.count) if pooled
                 else synthetic.synthetic_estimates(keys, params))
    rows = scored.transform(estimator).withColumn(S.YEAR, snapshot_year(S.SNAPSHOT))
    marker_keys = [k for k in keys if k != S.SNAPSHOT]
    return rows.transform(synthetic.with_marker_excess(prior_markers, marker_keys, before_year)).drop(S.YEAR)


def _n_docs_scored_or_0():
    return F.coalesce(F.col(S.N_DOCS_SCORED), F.lit(0).cast("long"))


def with_unscored_count(rows: DataFrame) -> DataFrame:
    """n_docs_scored 0 where no document was scored, n_docs_unscored = n_docs − n_docs_scored: the documents the
    detector could not judge, counted apart. Columns in: n_docs, n_docs_scored."""
    scored = _n_docs_scored_or_0()
    return rows.withColumn(S.N_DOCS_SCORED, scored).withColumn(S.N_DOCS_UNSCORED, F.col(S.N_DOCS) - scored)


def with_replaced_columns(new_rows: DataFrame, keys: list[str], columns: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Published stats rows with ``columns`` replaced by those of ``new_rows`` (keys + columns; a row without a
    match gets nulls), the other columns and the column order unchanged. Columns in: keys + any."""

    def transform(rows: DataFrame) -> DataFrame:
        order = list(dict.fromkeys([*rows.columns, *columns]))
        kept = rows.drop(*[c for c in columns if c in rows.columns])
        return kept.join(new_rows.select(*keys, *columns), keys, "left").select(*order)

    return transform


def with_synthetic_columns(synthetic_rows: DataFrame, keys: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Published stats rows with their ``SYNTHETIC_COLUMNS`` replaced by ``synthetic_rows`` (keys +
    SYNTHETIC_COLUMNS), the other columns and the column order unchanged. Columns in: keys + any."""
    return lambda rows: (rows.transform(with_replaced_columns(synthetic_rows, keys, S.SYNTHETIC_COLUMNS))
                         .withColumn(S.N_DOCS_SCORED, _n_docs_scored_or_0()))


def doc_score_rows(flagged: DataFrame, scores: DataFrame, detector_name: str) -> DataFrame:
    """The ``doc_scores`` rows of a snapshot, kept so years can be pooled later without re-scoring."""
    return (flagged.select(S.SNAPSHOT, S.DOC_ID, S.REGISTERED_DOMAIN, S.LANGUAGE).join(scores, S.DOC_ID)
            .withColumn(S.DETECTOR, F.lit(detector_name)).select(*S.DOC_SCORES_COLUMNS))


def diversity_params(metrics: MetricsConfig) -> entropy.DiversityParams:
    return entropy.DiversityParams(
        bootstrap_replicates=metrics.bootstrap_replicates, seed=metrics.seed, mattr_window=metrics.mattr_window,
        zipf_rank_min=metrics.zipf_rank_min, zipf_rank_max=metrics.zipf_rank_max, tail_rank=metrics.tail_rank,
    )


def domain_stats(flagged: DataFrame, docs: DataFrame, metrics: MetricsConfig, run_id: str,
                 synthetic_by_domain: DataFrame, model_languages: tuple[str, ...] | None = None) -> DataFrame:
    """One row per (snapshot, registered_domain), columns ``schemas.DOMAIN_STATS_COLUMNS``.
    ``synthetic_by_domain``: ``synthetic_rows`` for the same keys; ``model_languages``: the detector's (None
    without one). The entropy is measured on the documents of the domain's primary language
    (``languages.primary_languages``)."""
    keys = [S.SNAPSHOT, S.REGISTERED_DOMAIN]
    primary = flagged.transform(languages.primary_languages(keys, model_languages))
    dup = (flagged.transform(dedup.duplication_stats(keys)).join(flagged.transform(neardup.near_dup_stats(keys)), keys)
           .join(flagged.transform(templates.template_stats(keys)), keys))
    ent = docs.transform(entropy.entropy_at_budget(keys, metrics.entropy_budget_tokens, diversity_params(metrics),
                                                   within=languages.primary_language_keys(primary, keys)))
    return (
        dup.join(ent, keys, "left").join(synthetic_by_domain, keys, "left").join(primary, keys, "left")
        .transform(with_unscored_count)
        .withColumn(S.YEAR, snapshot_year(S.SNAPSHOT))
        .withColumn(S.RUN_ID, F.lit(run_id))
        .select(*S.DOMAIN_STATS_COLUMNS)
    )


def snapshot_stats(flagged: DataFrame, language_rows: DataFrame, files: DataFrame, errors: DataFrame,
                   metrics: MetricsConfig, run_id: str, synthetic_pooled: DataFrame,
                   model_languages: tuple[str, ...] | None = None) -> DataFrame:
    """One row per snapshot, columns ``schemas.SNAPSHOT_STATS_COLUMNS``: the document metrics pooled over the
    snapshot, plus input counts. error_frac = max(failed files / files, damaged records / records). Entropy and
    diversity: the languages' own (``language_rows``: ``language_stats``), weighted by documents
    (``languages.language_weighted``).

    Built from the per-file rows, so a snapshot whose every file failed still has its row (with n_docs 0).
    """
    keys = [S.SNAPSHOT]
    inputs = files.groupBy(S.SNAPSHOT).agg(
        F.count(F.lit(1)).alias(S.N_FILES), F.sum(S.N_RECORDS).cast("long").alias(S.N_RECORDS)
    )
    errs = errors.groupBy(S.SNAPSHOT).agg(
        F.countDistinct(F.when(F.col(S.ERROR_KIND).isin(*S.FILE_ERROR_KINDS), F.col(S.FILE))).alias(S.N_FAILED_FILES),
        F.sum(F.col(S.ERROR_KIND).isin(*S.RECORD_ERROR_KINDS).cast("long")).alias(S.N_ERROR_RECORDS),
    )
    dup = flagged.transform(dedup.duplication_stats(keys)).join(
        flagged.groupBy(S.SNAPSHOT).agg(F.countDistinct(S.REGISTERED_DOMAIN).alias(S.N_DOMAINS)), keys
    ).join(flagged.transform(neardup.near_dup_stats(keys)), keys).join(flagged.transform(templates.template_stats(keys)),
                                                                       keys)
    budget = metrics.snapshot_entropy_budget_tokens
    ent = language_rows.transform(languages.language_weighted(keys))
    zero = F.lit(0).cast("long")
    out = (
        inputs.join(errs, keys, "left").join(dup, keys, "left").join(ent, keys, "left")
        .join(synthetic_pooled, keys, "left")
        .join(flagged.transform(languages.primary_languages(keys, model_languages)), keys, "left")
        .fillna(0, subset=[S.N_DOCS_SCORED, S.N_FAILED_FILES, S.N_ERROR_RECORDS, S.N_DOCS, S.N_DOMAINS, S.N_TOKENS, S.N_CHARS_TOTAL,
                           S.N_EXACT_DUP_DOCS, S.N_CROSS_SNAPSHOT_DUP_DOCS, S.N_NEAR_DUP_DOCS, S.N_NEAR_DUP_CLUSTERS,
                           S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS, S.N_LINES, S.N_DUP_LINES, S.N_TEMPLATE_LINES,
                           S.N_DOCS_TEMPLATE_ONLY])
        .withColumn(S.ENTROPY_BUDGET_TOKENS, F.lit(budget).cast("int"))
        .withColumn(S.ENTROPY_BUDGET_MET, F.coalesce(F.col(S.ENTROPY_BUDGET_MET), F.lit(False)))
        .withColumn(S.ERROR_FRAC, F.greatest(
            F.col(S.N_FAILED_FILES) / F.col(S.N_FILES),
            F.when(F.col(S.N_RECORDS) > zero, F.col(S.N_ERROR_RECORDS) / F.col(S.N_RECORDS)).otherwise(F.lit(0.0)),
        ))
        .withColumn(S.YEAR, snapshot_year(S.SNAPSHOT))
        .withColumn(S.RUN_ID, F.lit(run_id))
        .transform(with_unscored_count)
    )
    return out.select(*S.SNAPSHOT_STATS_COLUMNS)


def language_stats(flagged: DataFrame, token_samples: DataFrame, metrics: MetricsConfig, run_id: str,
                   synthetic_by_language: DataFrame) -> DataFrame:
    """One row per (snapshot, language), columns ``schemas.LANGUAGE_STATS_COLUMNS``: the language's share of the
    snapshot's documents, how many were detected, its domains, its duplication (within the snapshot and with
    earlier ones), its vocabulary entropy and diversity on ``metrics.snapshot_entropy_budget_tokens`` tokens of its
    own documents (never a sample mixing languages; ``token_samples``: the snapshot's ``token_sample_rows``, drawn
    once), and ``synthetic_by_language`` (``synthetic_rows`` for the same keys: estimates only for the detector's
    languages)."""
    keys = [S.SNAPSHOT, S.LANGUAGE]
    budget = metrics.snapshot_entropy_budget_tokens
    counts = flagged.groupBy(*keys).agg(
        F.countDistinct(S.REGISTERED_DOMAIN).alias(S.N_DOMAINS),
        F.sum((F.col(S.LANGUAGE_SOURCE) == SOURCE_DETECTED).cast("long")).alias(S.N_DOCS_DETECTED))
    ent = token_samples.transform(entropy.sample_entropy(keys, budget, flagged.select(*keys).distinct(),
                                                         diversity_params(metrics)))
    return (
        flagged.transform(dedup.duplication_stats(keys)).join(counts, keys)
        .join(flagged.transform(neardup.near_dup_stats(keys)), keys).join(ent, keys, "left")
        .join(synthetic_by_language, keys, "left").transform(with_unscored_count)
        .withColumn(S.LANGUAGE_SHARE, F.col(S.N_DOCS) / F.sum(S.N_DOCS).over(Window.partitionBy(S.SNAPSHOT)))
        .withColumn(S.YEAR, snapshot_year(S.SNAPSHOT))
        .withColumn(S.RUN_ID, F.lit(run_id))
        .select(*S.LANGUAGE_STATS_COLUMNS)
    )


def ingest_error_rows(errors: DataFrame, run_id: str) -> DataFrame:
    """The ``ingest_errors`` table's rows: the error rows with their run, columns ``INGEST_ERRORS_COLUMNS``."""
    return errors.withColumn(S.RUN_ID, F.lit(run_id)).select(*S.INGEST_ERRORS_COLUMNS)


def token_sample_rows(docs: DataFrame, metrics: MetricsConfig) -> DataFrame:
    """The snapshot's pooled budget sample (snapshot, doc_id, tokens), kept so years can be pooled later
    without re-reading the crawl."""
    sample = entropy.budget_token_samples([S.SNAPSHOT, S.LANGUAGE], metrics.snapshot_entropy_budget_tokens)
    return docs.transform(sample).select(*S.TOKEN_SAMPLES_COLUMNS)


def year_synthetic_rows(doc_scores: DataFrame, params, prior_markers: DataFrame, before_year: int,
                        domains=None, keys: list[str] | None = None) -> DataFrame:
    """year (+ ``keys``, e.g. language) + ``SYNTHETIC_COLUMNS``: the estimates over all scored documents of the
    year's snapshots (``doc_scores`` rows; a score kept before languages were recorded counts as ``und``), the
    marker bound against ``prior_markers`` (keys, year, marker_doc_frac of other years' snapshots)."""
    keys = list(keys or [])
    with_year = doc_scores.withColumn(S.YEAR, snapshot_year(S.SNAPSHOT))
    if S.LANGUAGE in keys:
        with_year = with_year.withColumn(S.LANGUAGE, F.coalesce(F.col(S.LANGUAGE), F.lit(UNDETERMINED)))
    if params is None:
        return with_year.transform(synthetic.null_estimates([S.YEAR, *keys]))
    rows = (with_year.transform(synthetic.with_document_baselines(domains))
            .transform(pooled_estimates([S.YEAR, *keys], params, doc_scores.count)))
    return rows.transform(synthetic.with_marker_excess(prior_markers, keys, before_year))


# the language_stats counts a year sums (a snapshot audited before languages were recorded: its snapshot_stats
# counts, as ``und``)
_YEAR_SUMMED = [S.N_DOCS, S.N_DOCS_DETECTED, S.N_TOKENS, S.N_CHARS_TOTAL, S.N_EXACT_DUP_DOCS,
                S.N_CROSS_SNAPSHOT_DUP_DOCS, S.N_NEAR_DUP_DOCS, S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS, S.N_LINES,
                S.N_DUP_LINES]


def _year_language_counts(snapshot_rows: DataFrame, language_rows: DataFrame | None) -> DataFrame:
    """(year, language) + n_snapshots + ``_YEAR_SUMMED``: the year's language_stats rows summed; a snapshot
    without language_stats rows (audited before languages were recorded) counts as ``und``."""
    old = snapshot_rows
    parts = []
    if language_rows is not None:
        old = old.join(language_rows.select(S.SNAPSHOT).distinct(), S.SNAPSHOT, "left_anti")
        parts.append(language_rows.select(S.SNAPSHOT, S.LANGUAGE, *_YEAR_SUMMED))
    parts.append(old.select(S.SNAPSHOT, F.lit(UNDETERMINED).alias(S.LANGUAGE),
                            *[F.lit(0).cast("long").alias(c) if c == S.N_DOCS_DETECTED else F.col(c)
                              for c in _YEAR_SUMMED]))
    rows = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    return rows.groupBy(snapshot_year(S.SNAPSHOT).alias(S.YEAR), S.LANGUAGE).agg(
        F.countDistinct(S.SNAPSHOT).alias(S.N_SNAPSHOTS), *[F.sum(c).cast("long").alias(c) for c in _YEAR_SUMMED])


def _with_shares(rows: DataFrame) -> DataFrame:
    """The duplicate shares of summed counts (null for a group of 0 documents or lines)."""
    return (rows.withColumn(S.EXACT_DUP_FRAC, F.try_divide(S.N_EXACT_DUP_DOCS, S.N_DOCS))
            .withColumn(S.CROSS_SNAPSHOT_DUP_FRAC, F.try_divide(S.N_CROSS_SNAPSHOT_DUP_DOCS, S.N_DOCS))
            .withColumn(S.NEAR_DUP_FRAC, F.try_divide(S.N_NEAR_DUP_DOCS, S.N_DOCS))
            .withColumn(S.CROSS_SNAPSHOT_NEAR_DUP_FRAC, F.try_divide(S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS, S.N_DOCS))
            .withColumn(S.DUP_LINE_FRAC, F.try_divide(S.N_DUP_LINES, S.N_LINES)))


def year_language_stats(snapshot_rows: DataFrame, language_rows: DataFrame | None, token_samples: DataFrame,
                        metrics: MetricsConfig, synthetic_by_year_language: DataFrame) -> DataFrame:
    """One row per (year, language), columns ``schemas.YEAR_LANGUAGE_STATS_COLUMNS``: the language's documents and
    duplicates summed over the year's snapshots (language_stats rows), its share of the year's documents, the
    diversity metrics of a budget sample drawn (in doc_id order) from the union of the snapshots' samples of the
    language (token_samples), and ``synthetic_by_year_language`` (``year_synthetic_rows`` keyed by language:
    estimates only for the detector's languages). Columns in: the year's snapshot_stats, language_stats (None:
    none recorded) and token_samples rows (a sample without a language counts as ``und``)."""
    keys = [S.YEAR, S.LANGUAGE]
    und = F.lit(UNDETERMINED)
    language = F.coalesce(F.col(S.LANGUAGE), und) if S.LANGUAGE in token_samples.columns else und
    as_docs = token_samples.select(
        snapshot_year(S.SNAPSHOT).cast("string").alias(S.YEAR), language.alias(S.LANGUAGE), S.DOC_ID,
        F.array_join(S.TOKENS, " ").alias(S.TEXT), F.size(S.TOKENS).alias(S.N_TOKENS))
    budget = metrics.snapshot_entropy_budget_tokens
    ent = as_docs.transform(entropy.entropy_at_budget(keys, budget, diversity_params(metrics))) \
        .withColumn(S.YEAR, F.col(S.YEAR).cast("int"))   # the per-group work takes string keys
    return (
        _year_language_counts(snapshot_rows, language_rows).transform(_with_shares)
        .withColumn(S.LANGUAGE_SHARE, F.col(S.N_DOCS) / F.sum(S.N_DOCS).over(Window.partitionBy(S.YEAR)))
        .join(ent, keys, "left").join(synthetic_by_year_language, keys, "left").transform(with_unscored_count)
        .withColumn(S.ENTROPY_BUDGET_TOKENS, F.lit(budget).cast("int"))
        .withColumn(S.ENTROPY_BUDGET_MET, F.coalesce(F.col(S.ENTROPY_BUDGET_MET), F.lit(False)))
        .select(*S.YEAR_LANGUAGE_STATS_COLUMNS)
    )


def year_stats(snapshot_rows: DataFrame, year_language_rows: DataFrame, metrics: MetricsConfig,
               synthetic_by_year: DataFrame) -> DataFrame:
    """One row per year, columns ``schemas.YEAR_STATS_COLUMNS``: document counts and duplicate shares summed
    over the year's snapshots, the diversity metrics of the year's languages (``year_language_rows``:
    ``year_language_stats``) weighted by their documents (``languages.language_weighted``), and the synthetic
    estimates over the year's documents. Columns in: snapshot_stats rows; year_language_stats rows;
    ``year_synthetic_rows``."""
    counts = snapshot_rows.groupBy(S.YEAR).agg(
        F.count(F.lit(1)).alias(S.N_SNAPSHOTS),
        *[F.sum(c).alias(c) for c in (S.N_DOCS, S.N_TOKENS, S.N_EXACT_DUP_DOCS, S.N_CROSS_SNAPSHOT_DUP_DOCS,
                                      S.N_NEAR_DUP_DOCS, S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS, S.N_LINES, S.N_DUP_LINES,
                                      S.N_DOCS_UNSUPPORTED)],
    ).transform(_with_shares).withColumn(S.SYNTHETIC_UNSUPPORTED_FRAC,
                                         F.try_divide(S.N_DOCS_UNSUPPORTED, S.N_DOCS))
    div = year_language_rows.transform(languages.language_weighted([S.YEAR]))
    out = (counts.join(div, S.YEAR, "left").join(synthetic_by_year, S.YEAR, "left").transform(with_unscored_count)
           .withColumn(S.ENTROPY_BUDGET_TOKENS, F.lit(metrics.snapshot_entropy_budget_tokens).cast("int"))
           .withColumn(S.ENTROPY_BUDGET_MET, F.coalesce(F.col(S.ENTROPY_BUDGET_MET), F.lit(False))))
    return out.select(*S.YEAR_STATS_COLUMNS)
