"""The audit job's synthetic-share step: score a snapshot's documents once, estimate per domain, snapshot and
year, reading the history the estimates need (earlier marker shares, vintage documents) from the warehouse.

Job glue in the manner of cc-pyspark's base class: the transforms stay pure (``synthetic``, ``audit``), this
class owns which tables they are fed from. Without a configured model every estimate is null.
"""
from __future__ import annotations

import dataclasses
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from crawlaudit import audit
from crawlaudit.session import checkpoint
from crawlaudit.synthetic import estimates as synthetic
from crawlaudit import schemas as S
from crawlaudit.config import SyntheticConfig
from crawlaudit.warehouse import Warehouse, tables

log = logging.getLogger(__name__)


class SyntheticStep:
    def __init__(self, spark: SparkSession, cfg: SyntheticConfig, wh: Warehouse | None):
        self.spark, self.cfg, self.wh = spark, cfg, wh
        self.scorer = self.params = self.name = None
        self.languages: tuple[str, ...] | None = None   # the languages the model can judge (its declaration)
        if cfg.model:
            scorer = synthetic.Scorer.load(cfg.model)
            self.languages = scorer.detector.languages
            self.scorer = spark.sparkContext.broadcast(scorer)  # shipped once per executor, not once per task
            self.params = synthetic.EstimatorParams.from_config(cfg, scorer)
            self.name = scorer.name
        self._baselines: dict[tuple[str, ...], tuple] = {}   # vintage snapshots left out → (params, domains)

    def forget(self) -> None:
        """Drop the cached vintage baselines; called whenever a snapshot may have been published (the vintage
        documents changed)."""
        self._baselines.clear()

    def score(self, docs: DataFrame) -> DataFrame | None:
        """Per-document scores of the documents the model can judge: in one of its languages, with usable text (at
        least ``min_doc_tokens`` tokens); the others are counted apart, never scored as human or AI. Checkpointed:
        later plans start from them. None without a model. Columns in: doc_id, text, n_tokens, language."""
        if not self.scorer:
            return None
        usable = docs.where((F.col(S.N_TOKENS) >= self.cfg.min_doc_tokens)
                            & F.col(S.LANGUAGE).isin(*self.languages))
        return usable.transform(synthetic.document_scores(self.scorer)).transform(checkpoint)

    def params_for(self, exclude: str | list[str]):
        """The estimator parameters; with ``human_reference: vintage``, their human side (the mixture's P, the
        detector's fpr and mean human probability) measured on the crawl's own pre-LLM documents of every audited
        snapshot except ``exclude`` (a snapshot: its own rows are measured against the others, so a pre-LLM
        snapshot's estimate checks the baseline instead of being zero by construction). Whatever the order of the
        audits, the same published snapshots give the same baseline."""
        return self.baseline_for(exclude)[0]

    def baseline_for(self, exclude: str | list[str]) -> tuple:
        """(params, per-domain baselines or None): see ``params_for``."""
        if self.params is None or self.cfg.human_reference != "vintage":
            return self.params, None
        exclude = [exclude] if isinstance(exclude, str) else list(exclude)
        # only the vintage snapshots left out change the baseline: a post-LLM snapshot's rows and its year's row,
        # and every post-LLM snapshot a refresh recomputes, share one aggregation of the vintage documents
        key = tuple(sorted(s for s in exclude if int(s[8:12]) < self.cfg.vintage_before_year))
        if key not in self._baselines:
            self._baselines[key] = self._measure_baseline(exclude)
        return self._baselines[key]

    def _measure_baseline(self, exclude: list[str]) -> tuple:
        label = ", ".join(exclude)
        scores = self.wh.read_vintage_scores(exclude, self.name, self.cfg.vintage_before_year).transform(checkpoint)
        base = synthetic.vintage_baseline(scores, len(self.params.p_human))
        if base.n_docs < self.cfg.vintage_min_docs:
            log.warning("%s: %d vintage documents in the other audited snapshots (synthetic.vintage_min_docs = %d): "
                        "the human baseline comes from the model's labeled data", label, base.n_docs,
                        self.cfg.vintage_min_docs)
            return self.params, None
        cal = dataclasses.replace(self.params.calibration, fpr=base.flagged_share, fpr_sd=base.flagged_share_se,
                                  mean_p_human=base.mean_prob, mean_p_human_sd=base.mean_prob_se)
        params = dataclasses.replace(self.params, calibration=cal, p_human=tuple(float(x) for x in base.word_rates),
                                     baseline="vintage", baseline_n_docs=base.n_docs)
        domains = synthetic.domain_baselines(scores, base, self.cfg.vintage_domain_prior_docs) \
            if self.cfg.vintage_per_domain else None
        log.info("%s: human baseline from %d vintage documents (fpr %.4f, mean probability %.4f)%s", label,
                 base.n_docs, base.flagged_share, base.mean_prob,
                 f"; per domain, the pooled one weighs {domains.prior_fpr:.0f} documents (fpr) and "
                 f"{domains.prior_neg:.0f} (probability)" if domains else "")
        return params, domains

    def group_rows(self, flagged: DataFrame, scores: DataFrame | None, snapshot: str
                   ) -> tuple[DataFrame, DataFrame, DataFrame]:
        """(per-domain rows, pooled snapshot row, per-language rows) of ``SYNTHETIC_COLUMNS``. Columns in:
        flagged: doc_id, snapshot, registered_domain, language."""
        (params, domains), before = self.baseline_for(snapshot), self.cfg.vintage_before_year
        domain_markers = self.wh.read_marker_history(tables.DOMAIN_STATS, snapshot, [S.REGISTERED_DOMAIN])
        by_domain = audit.synthetic_rows(flagged, scores, [S.SNAPSHOT, S.REGISTERED_DOMAIN], params, domain_markers,
                                         before, domains)
        pooled = audit.synthetic_rows(flagged, scores, [S.SNAPSHOT], params,
                                      self.wh.read_marker_history(tables.SNAPSHOT_STATS, snapshot, []), before, domains,
                                      pooled=True)
        by_language = audit.synthetic_rows(
            flagged, scores, [S.SNAPSHOT, S.LANGUAGE], params,
            self.wh.read_marker_history(tables.LANGUAGE_STATS, snapshot, [S.LANGUAGE]), before, domains, pooled=True)
        return by_domain, pooled, by_language

    def affected_by(self, snapshot: str, published: list[str]) -> list[str]:
        """The other published snapshots whose synthetic columns change when ``snapshot`` is published: a
        pre-LLM snapshot is part of the marker baseline of every later one and, with ``human_reference:
        vintage``, of the human baseline of every other one (``published``: the published snapshots). Without a
        model, or for a later snapshot, none."""
        if self.params is None or int(snapshot[8:12]) >= self.cfg.vintage_before_year:
            return []
        every = self.cfg.human_reference == "vintage"
        return [s for s in published if s != snapshot and (every or s > snapshot)]

    def refreshed_rows(self, snapshot: str) -> tuple[DataFrame, DataFrame, DataFrame] | None:
        """(per-domain, pooled, per-language) ``SYNTHETIC_COLUMNS`` of a published snapshot recomputed from its
        doc_scores against the warehouse as it is now (no crawl re-read); None when this detector scored none of
        it. Scores kept before languages were recorded have a null language."""
        scores = self.wh.read_snapshot(tables.DOC_SCORES, snapshot)
        if scores is None:
            return None
        if S.LANGUAGE not in scores.columns:
            scores = scores.withColumn(S.LANGUAGE, F.lit(None).cast("string"))
        scores = scores.where(F.col(S.DETECTOR) == self.name).transform(checkpoint)
        if scores.isEmpty():
            return None
        return self.group_rows(scores.select(S.DOC_ID, S.SNAPSHOT, S.REGISTERED_DOMAIN, S.LANGUAGE),
                               scores.select(*synthetic.SCORE_INPUT_COLUMNS), snapshot)

    def score_rows(self, flagged: DataFrame, scores: DataFrame | None) -> DataFrame | None:
        """The snapshot's doc_scores rows (None without a model)."""
        return None if scores is None else audit.doc_score_rows(flagged, scores, self.name)

    def year_rows(self, snapshot: str, year: int, view) -> tuple[DataFrame, DataFrame]:
        """(year + ``SYNTHETIC_COLUMNS``, year + language + ``SYNTHETIC_COLUMNS``) over the year's document scores
        of this detector; ``view(table)`` gives a table's rows of the year (published snapshots plus the one being
        audited)."""
        if self.params is None:
            rows = view(tables.SNAPSHOT_STATS)
            languages = view(tables.LANGUAGE_STATS)
            return (audit.year_synthetic_rows(rows, None, None, self.cfg.vintage_before_year),
                    audit.year_synthetic_rows(languages if languages is not None else
                                              rows.withColumn(S.LANGUAGE, F.lit(None).cast("string")),
                                              None, None, self.cfg.vintage_before_year, keys=[S.LANGUAGE]))
        docs = view(tables.DOC_SCORES).where(F.col(S.DETECTOR) == self.name)
        if S.LANGUAGE not in docs.columns:   # scores kept before languages were recorded
            docs = docs.withColumn(S.LANGUAGE, F.lit(None).cast("string"))
        params, domains = self.params, None
        if self.cfg.human_reference == "vintage":  # the year is measured against the other years' vintage documents
            same_year = set(self.wh.year_snapshots(year)) | {snapshot}
            params, domains = self.baseline_for(sorted(same_year))
        before = self.cfg.vintage_before_year
        other_years = F.col(S.YEAR) != year
        pooled = self.wh.read_marker_history(tables.SNAPSHOT_STATS, snapshot, []).where(other_years)
        by_language = self.wh.read_marker_history(tables.LANGUAGE_STATS, snapshot, [S.LANGUAGE]).where(other_years)
        return (audit.year_synthetic_rows(docs, params, pooled, before, domains),
                audit.year_synthetic_rows(docs, params, by_language, before, domains, keys=[S.LANGUAGE]))
