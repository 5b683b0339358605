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

from crawlaudit import audit, synthetic, tables
from crawlaudit import schemas as S
from crawlaudit.config import SyntheticConfig

log = logging.getLogger(__name__)


class SyntheticStep:
    def __init__(self, spark: SparkSession, cfg: SyntheticConfig, warehouse: str):
        self.spark, self.cfg, self.wh = spark, cfg, warehouse
        self.scorer = self.params = self.name = None
        if cfg.model:
            scorer = synthetic.Scorer.load(cfg.model)
            self.scorer = spark.sparkContext.broadcast(scorer)  # shipped once per executor, not once per task
            self.params = synthetic.EstimatorParams.from_config(cfg, scorer)
            self.name = scorer.name

    def score(self, docs: DataFrame) -> DataFrame | None:
        """Per-document scores (checkpointed: later plans start from them), or None without a model."""
        return docs.transform(synthetic.document_scores(self.scorer)).localCheckpoint() if self.scorer else None

    def params_for(self, snapshot: str):
        """The estimator parameters; with ``human_reference: vintage``, their human side (the mixture's P, the
        detector's fpr and mean human probability) measured on the crawl's own earlier pre-LLM documents: the
        topic shift of fpr that leave-one-domain-out shows is then measured instead of assumed away."""
        if self.params is None or self.cfg.human_reference != "vintage":
            return self.params
        scores = tables.read_vintage_scores(self.spark, self.wh, snapshot, self.name, self.cfg.vintage_before_year)
        base = synthetic.vintage_baseline(scores, len(self.params.p_human))
        if base.n_docs < self.cfg.vintage_min_docs:
            log.warning("%s: %d vintage documents before it (synthetic.vintage_min_docs = %d): the human baseline "
                        "comes from the model's labeled data", snapshot, base.n_docs, self.cfg.vintage_min_docs)
            return self.params
        log.info("%s: human baseline from %d vintage documents (fpr %.4f, mean probability %.4f)", snapshot,
                 base.n_docs, base.flagged_share, base.mean_prob)
        cal = dataclasses.replace(self.params.calibration, fpr=base.flagged_share, fpr_sd=base.flagged_share_se,
                                  mean_p_human=base.mean_prob, mean_p_human_sd=base.mean_prob_se)
        return dataclasses.replace(self.params, calibration=cal, p_human=tuple(float(x) for x in base.word_rates))

    def group_rows(self, flagged: DataFrame, scores: DataFrame | None, snapshot: str) -> tuple[DataFrame, DataFrame]:
        """(per-domain rows, pooled snapshot row) of ``SYNTHETIC_COLUMNS``."""
        params, before = self.params_for(snapshot), self.cfg.vintage_before_year
        by_domain = audit.synthetic_rows(flagged, scores, [S.SNAPSHOT, S.REGISTERED_DOMAIN], params,
                                         tables.read_marker_history(self.spark, self.wh, tables.DOMAIN_STATS, snapshot,
                                                                    [S.REGISTERED_DOMAIN]), before)
        pooled = audit.synthetic_rows(flagged, scores, [S.SNAPSHOT], params, tables.read_marker_history(
            self.spark, self.wh, tables.SNAPSHOT_STATS, snapshot, []), before)
        return by_domain, pooled

    def score_rows(self, flagged: DataFrame, scores: DataFrame | None) -> DataFrame | None:
        """The snapshot's doc_scores rows (None without a model)."""
        return None if scores is None else audit.doc_score_rows(flagged, scores, self.name)

    def year_rows(self, snapshot: str, year: int, view) -> DataFrame:
        """year + ``SYNTHETIC_COLUMNS`` over the year's document scores of this detector; ``view(table)`` gives a
        table's rows of the year (published snapshots plus the one being audited)."""
        if self.params is None:
            return audit.year_synthetic_rows(view(tables.SNAPSHOT_STATS), None, None, self.cfg.vintage_before_year)
        docs = view(tables.DOC_SCORES).where(F.col(S.DETECTOR) == self.name)
        prior = tables.read_marker_history(self.spark, self.wh, tables.SNAPSHOT_STATS, snapshot, [])
        return audit.year_synthetic_rows(docs, self.params_for(snapshot), prior.where(F.col(S.YEAR) != year),
                                         self.cfg.vintage_before_year)
