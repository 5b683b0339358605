"""The AI-generated share per group: documents scored once on the executors, population estimates per group.

``document_scores`` runs the detector and the reference-word lookup in one Arrow pass over each document's text
(the scorer broadcast once); only compact columns come back. ``synthetic_estimates`` fits every estimator of
``quantify`` per group with ``groups.per_group``, documents in doc_id order and the bootstrap seeded by the group key,
so the numbers do not depend on partitioning. ``with_marker_excess`` adds Kobak's bound against the marker share
projected from the pre-LLM years of earlier audits.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (ArrayType, BooleanType, DoubleType, IntegerType, LongType, StringType, StructField,
                               StructType)

from crawlaudit.synthetic import quantify as Q
from crawlaudit import schemas as S
from crawlaudit.config import SyntheticConfig
from crawlaudit.synthetic.detector import Calibration, Detector
from crawlaudit.errors import ConfigError
from crawlaudit.metrics.groups import per_group
from crawlaudit.metrics.sums import exact_sum
from crawlaudit.quality.validation import require_columns
from crawlaudit.synthetic.vocabulary import Reference

SCORES_SCHEMA = StructType([
    StructField(S.DOC_ID, StringType(), False),
    StructField(S.AI_MARGIN, DoubleType(), False),
    StructField(S.AI_PROB, DoubleType(), False),
    StructField(S.IS_AI_FLAGGED, BooleanType(), False),
    StructField(S.HAS_MARKER, BooleanType(), False),
    StructField(S.REF_WORDS, ArrayType(IntegerType(), False), False),
])
SCORE_INPUT_COLUMNS = [S.DOC_ID, S.AI_PROB, S.IS_AI_FLAGGED, S.HAS_MARKER, S.REF_WORDS]


@dataclass
class Scorer:
    """The detector and reference tables of one model directory; ``name``: directory name + content digest."""

    detector: Detector
    reference: Reference
    name: str

    @classmethod
    def load(cls, directory: str | Path) -> "Scorer":
        d = Path(directory)
        try:
            det, ref = Detector.load(d), Reference.load(d / "reference.json")
        except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError) as e:
            raise ConfigError(f"synthetic.model {directory}: {e}") from None
        digest = hashlib.sha1((d / "model.json").read_bytes() + (d / "reference.json").read_bytes()).hexdigest()[:12]
        return cls(det, ref, f"{d.name}@{digest}")

    def score_batch(self, doc_ids: list[str], texts: list[str | None]) -> pa.RecordBatch:
        margins = self.detector.margins(texts)
        offsets, flat, markers = self.reference.scan_batch(texts)
        return pa.RecordBatch.from_arrays([
            pa.array(doc_ids, pa.string()), pa.array(margins), pa.array(self.detector.probabilities(margins)),
            pa.array(margins >= self.detector.calibration.threshold), pa.array(markers, pa.bool_()),
            pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.int32())),
        ], schema=_SCORES_ARROW)


def _arrow(schema: StructType) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)


_SCORES_ARROW = _arrow(SCORES_SCHEMA)


def document_scores(scorer) -> Callable[[DataFrame], DataFrame]:
    """Columns in: doc_id, text. Columns out: ``SCORES_SCHEMA``. ``scorer``: a Scorer or a Spark broadcast of one
    (broadcast it: the model is a few MB, shipped once per executor instead of once per task)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        s = scorer.value if hasattr(scorer, "value") else scorer
        for batch in batches:
            yield s.score_batch(batch.column(S.DOC_ID).to_pylist(), batch.column(S.TEXT).to_pylist())

    def transform(docs: DataFrame) -> DataFrame:
        require_columns(docs, [S.DOC_ID, S.TEXT], "document_scores")
        return docs.select(S.DOC_ID, S.TEXT).mapInArrow(run, SCORES_SCHEMA)

    return transform


@dataclass(frozen=True)
class EstimatorParams:
    """What each group's estimation needs (small: serialized into the per-group closure)."""

    calibration: Calibration
    p_human: tuple[float, ...]
    q_ai: tuple[float, ...]
    primary: str
    min_docs: int
    replicates: int
    seed: int
    uninformative_width: float = 0.5
    baseline: str = "labeled"             # where the human side comes from (synthetic_baseline)
    baseline_n_docs: int | None = None    # vintage documents behind it
    distributed_min_docs: int = 0         # pooled groups this large are estimated by Spark aggregations

    @classmethod
    def from_config(cls, cfg: SyntheticConfig, scorer: Scorer) -> "EstimatorParams":
        return cls(scorer.detector.calibration, tuple(scorer.reference.p_human), tuple(scorer.reference.q_ai),
                   cfg.primary_method, cfg.min_docs, cfg.bootstrap_replicates, cfg.seed, cfg.uninformative_width,
                   distributed_min_docs=cfg.distributed_min_docs)


ESTIMATE_FIELDS = [
    StructField(S.N_DOCS_SCORED, LongType(), False),
    StructField(S.SYNTHETIC_RATIO, DoubleType(), True),
    StructField(S.SYNTHETIC_RATIO_LO, DoubleType(), True),
    StructField(S.SYNTHETIC_RATIO_HI, DoubleType(), True),
    StructField(S.SYNTHETIC_METHOD, StringType(), True),
    StructField(S.SYNTHETIC_LOW_N, BooleanType(), True),
    *[StructField(c, DoubleType(), True) for c in S.SYNTHETIC_ESTIMATES],
    StructField(S.MARKER_DOC_FRAC, DoubleType(), True),
    StructField(S.MARKER_EXCESS_LB, DoubleType(), True),
    StructField(S.SYNTHETIC_UNINFORMATIVE, BooleanType(), True),
    StructField(S.SYNTHETIC_BASELINE, StringType(), True),
    StructField(S.SYNTHETIC_BASELINE_N_DOCS, LongType(), True),
]
# each document's own human side (its domain's vintage baseline): columns of ``with_document_baselines``
BASE_N, BASE_FPR, BASE_FPR_VAR, BASE_NEG, BASE_NEG_VAR = ("_base_n", "_base_fpr", "_base_fpr_var", "_base_neg",
                                                          "_base_neg_var")
BASELINE_COLUMNS = [BASE_N, BASE_FPR, BASE_FPR_VAR, BASE_NEG, BASE_NEG_VAR]


@dataclass(frozen=True)
class HumanSide:
    """What a group's documents are measured against: the calibration (its human-side sd from the documents'
    domains), whether each document carries its own baseline (fpr / neg columns), and the row's
    synthetic_baseline label and document count."""

    calibration: Calibration
    per_document: bool
    label: str
    n_docs: int | None


def human_side(params: EstimatorParams, n: int, n_domains: int, own_n_docs: int, fpr_var_sum: float,
               neg_var_sum: float) -> HumanSide:
    """The group's human side from its per-document baselines, summarized by domain: ``n_domains`` domains,
    ``own_n_docs`` the largest vintage count among them, ``*_var_sum`` = Σ_d n_d² var_d (the pooled baseline's sd
    is √Σ_d w_d² var_d over the domains d of document share w_d = n_d / n, domain errors independent). n_domains 0:
    no per-document baselines, the params'."""
    if n_domains == 0 or n == 0:
        return HumanSide(params.calibration, False, params.baseline, params.baseline_n_docs)
    cal = dataclasses.replace(params.calibration, fpr_sd=float(np.sqrt(fpr_var_sum)) / n,
                              mean_p_human_sd=float(np.sqrt(neg_var_sum)) / n)
    if n_domains == 1 and own_n_docs > 0:
        return HumanSide(cal, True, "vintage-domain", int(own_n_docs))
    if n_domains == 1 or own_n_docs <= 0:
        return HumanSide(cal, True, "vintage", params.baseline_n_docs)
    return HumanSide(cal, True, "vintage-domain", params.baseline_n_docs)


def _human_side_of_frame(pdf: pd.DataFrame, params: EstimatorParams) -> HumanSide:
    if BASE_FPR not in pdf or not len(pdf):
        return human_side(params, len(pdf), 0, 0, 0.0, 0.0)
    per = pdf.groupby(S.REGISTERED_DOMAIN, sort=True).agg(
        n=(S.DOC_ID, "size"), own=(BASE_N, "first"), vf=(BASE_FPR_VAR, "first"), vn=(BASE_NEG_VAR, "first"))
    n2 = per["n"].to_numpy(np.float64) ** 2
    return human_side(params, len(pdf), len(per), int(per["own"].max()), float(np.sum(n2 * per["vf"])),
                      float(np.sum(n2 * per["vn"])))


def _summed_values(n: int, flag, prob, marker, fpr=None, neg=None) -> np.ndarray:
    """Documents × ``quantify.SUMMED`` int64 values (probabilities in fixed point; fpr / neg 0 when absent)."""
    values = np.zeros((n, len(Q.SUMMED)), dtype=np.int64)
    values[:, 0] = 1
    values[:, 1] = np.asarray(flag, dtype=np.int64)
    values[:, 2] = Q.to_fixed_point(prob)
    values[:, 3] = np.asarray(marker, dtype=np.int64)
    if fpr is not None:
        values[:, 4], values[:, 5] = Q.to_fixed_point(fpr), Q.to_fixed_point(neg)
    return values


def frame_sums(pdf: pd.DataFrame, params: EstimatorParams) -> np.ndarray:
    """``quantify.hashed_poisson_sums`` of a pandas frame of ``SCORE_INPUT_COLUMNS`` (+ ``BASELINE_COLUMNS``)."""
    lengths = np.fromiter((len(x) for x in pdf[S.REF_WORDS]), dtype=np.int64, count=len(pdf))
    bounds = np.zeros(len(pdf) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    words = np.concatenate([np.asarray(x, dtype=np.int64) for x in pdf[S.REF_WORDS]]) if len(pdf) else \
        np.zeros(0, dtype=np.int64)
    base = (pdf[BASE_FPR], pdf[BASE_NEG]) if BASE_FPR in pdf else ()
    values = _summed_values(len(pdf), pdf[S.IS_AI_FLAGGED], pdf[S.AI_PROB], pdf[S.HAS_MARKER], *base)
    return Q.hashed_poisson_sums(pdf[S.DOC_ID].tolist(), values, bounds, words, len(params.p_human),
                                 params.replicates, params.seed)


def estimates_from_sums(sums: np.ndarray, key: tuple, params: EstimatorParams, side: HumanSide) -> dict:
    """All estimates of one group from its ``hashed_poisson_sums`` (of all its documents, in any split and
    order): the same numbers wherever the sums were made. Calibration draws are seeded by the group key."""
    n = int(sums[0, -1])
    out = {S.N_DOCS_SCORED: n, S.SYNTHETIC_METHOD: params.primary, S.SYNTHETIC_LOW_N: n < params.min_docs,
           S.MARKER_DOC_FRAC: float(sums[Q.SUMMED.index("marker"), -1] / n) if n else None,
           S.MARKER_EXCESS_LB: None, S.SYNTHETIC_UNINFORMATIVE: None, S.SYNTHETIC_BASELINE: side.label,
           S.SYNTHETIC_BASELINE_N_DOCS: side.n_docs}
    if n < params.min_docs:
        return {**out, **{c: None for c in (S.SYNTHETIC_RATIO, S.SYNTHETIC_RATIO_LO, S.SYNTHETIC_RATIO_HI,
                                             *S.SYNTHETIC_ESTIMATES)}}
    res = Q.resampled_from_sums(sums, ("flag", "prob", "fpr", "neg") if side.per_document else ("flag", "prob"))
    rng = np.random.default_rng(Q.group_seed(params.seed, *map(str, key)))
    cal = side.calibration
    p_human, q_ai = np.asarray(params.p_human), np.asarray(params.q_ai)
    est = {"cc": Q.classify_and_count(res), "acc": Q.acc(res, cal, rng), "pacc": Q.pacc(res, cal, rng)}
    # only the primary estimator's interval is published: the word mixture's replicates, one fit over every
    # reference word each (most of a domain's estimation time), are fitted only when it is the primary
    if params.primary == "mle":
        est["mle"] = Q.mixture_mle(res, p_human, q_ai)
    primary = est[params.primary]
    mle = est["mle"].value if "mle" in est else Q.mixture_mle_value(res, p_human, q_ai)
    out[S.SYNTHETIC_UNINFORMATIVE] = bool(primary.hi - primary.lo > params.uninformative_width)
    return {**out, S.SYNTHETIC_RATIO: primary.value, S.SYNTHETIC_RATIO_LO: primary.lo,
            S.SYNTHETIC_RATIO_HI: primary.hi, S.SYNTHETIC_CC: est["cc"].value, S.SYNTHETIC_ACC: est["acc"].value,
            S.SYNTHETIC_PACC: est["pacc"].value, S.SYNTHETIC_MLE: mle}


def estimate_group(pdf: pd.DataFrame, key: tuple, params: EstimatorParams) -> dict:
    """All estimates for one group's documents in one process (columns ``SCORE_INPUT_COLUMNS``, optionally with
    ``BASELINE_COLUMNS`` and registered_domain: each document's own human side)."""
    return estimates_from_sums(frame_sums(pdf, params), key, params, _human_side_of_frame(pdf, params))


def synthetic_estimates(group_cols: list[str], params: EstimatorParams) -> Callable[[DataFrame], DataFrame]:
    """Columns in: ``group_cols`` + ``SCORE_INPUT_COLUMNS`` (+ registered_domain and ``BASELINE_COLUMNS`` from
    ``with_document_baselines``, used when present). Columns out: ``group_cols`` + ``SYNTHETIC_COLUMNS``, one row
    per group (marker_excess_lb null: ``with_marker_excess`` fills it). Each group's documents in one Python
    worker: for the many small groups (domains); ``pooled.pooled_estimates`` for the few large ones."""

    def transform(scored: DataFrame) -> DataFrame:
        require_columns(scored, group_cols + SCORE_INPUT_COLUMNS, "synthetic_estimates")
        schema = estimates_schema(scored, group_cols)
        extra = ([S.REGISTERED_DOMAIN] if S.REGISTERED_DOMAIN not in group_cols else []) + BASELINE_COLUMNS \
            if BASE_FPR in scored.columns else []

        def fit(key: tuple, pdf: pd.DataFrame) -> dict:
            return estimate_group(pdf, key, params)

        return scored.select(*group_cols, *SCORE_INPUT_COLUMNS, *extra).transform(
            per_group(group_cols, [S.DOC_ID], fit, schema))

    return transform


def estimates_schema(scored: DataFrame, group_cols: list[str]) -> StructType:
    return StructType([scored.schema[c] for c in group_cols] + ESTIMATE_FIELDS)


def null_estimates(group_cols: list[str]) -> Callable[[DataFrame], DataFrame]:
    """With no model configured: one row per group with n_docs_scored 0 and null estimates."""

    def transform(rows: DataFrame) -> DataFrame:
        out = rows.select(*group_cols).distinct()
        for f in ESTIMATE_FIELDS:
            out = out.withColumn(f.name, F.lit(0).cast("long") if f.name == S.N_DOCS_SCORED else F.lit(None).cast(f.dataType))
        return out

    return transform


def with_marker_excess(prior: DataFrame, key_cols: list[str], before_year: int) -> Callable[[DataFrame], DataFrame]:
    """Fill marker_excess_lb = max(0, (share − expected) / (1 − expected)), ``expected`` the group's marker share
    projected to the row's year by a least-squares line through the ``prior`` rows (key_cols, year,
    marker_doc_frac) of years before ``before_year`` (their mean when they cover one year); null without any.
    Columns in: key_cols, year, marker_doc_frac, marker_excess_lb. Columns out: the same."""

    def transform(stats: DataFrame) -> DataFrame:
        require_columns(stats, key_cols + [S.YEAR, S.MARKER_DOC_FRAC, S.MARKER_EXCESS_LB], "with_marker_excess")
        columns = stats.columns
        keys = key_cols or ["_all"]      # pooled rows: one baseline over every prior row
        if not key_cols:
            stats = stats.withColumn("_all", F.lit(1))
        base = (
            (prior if key_cols else prior.withColumn("_all", F.lit(1)))
            .where((F.col(S.YEAR) < before_year) & F.col(S.MARKER_DOC_FRAC).isNotNull())
            # exact sums (years centred on before_year): the same baseline in any order of the prior rows
            .withColumn("_x", (F.col(S.YEAR) - F.lit(before_year)).cast("double"))
            .groupBy(*keys)
            .agg(F.count(F.lit(1)).alias("_n"), exact_sum(F.col("_x")).alias("_sx"),
                 exact_sum(F.col(S.MARKER_DOC_FRAC)).alias("_sf"), exact_sum(F.col("_x") ** 2).alias("_sxx"),
                 exact_sum(F.col("_x") * F.col(S.MARKER_DOC_FRAC)).alias("_sxf"))
            .select(*keys, (F.lit(before_year) + F.col("_sx") / F.col("_n")).alias("_my"),
                    (F.col("_sf") / F.col("_n")).alias("_mf"),
                    (F.col("_sxx") / F.col("_n") - (F.col("_sx") / F.col("_n")) ** 2).alias("_vy"),
                    (F.col("_sxf") / F.col("_n") - F.col("_sx") * F.col("_sf") / F.col("_n") ** 2).alias("_cyf"))
        )
        slope = F.when(F.col("_vy") > 0, F.col("_cyf") / F.col("_vy")).otherwise(F.lit(0.0))
        expected = F.least(F.lit(1.0), F.greatest(F.lit(0.0), F.col("_mf") + slope * (F.col(S.YEAR) - F.col("_my"))))
        lb = F.when(expected >= 1.0, F.lit(0.0)).otherwise(
            F.greatest(F.lit(0.0), (F.col(S.MARKER_DOC_FRAC) - expected) / (F.lit(1.0) - expected)))
        return (stats.join(base, keys, "left")
                .withColumn(S.MARKER_EXCESS_LB, F.when(F.col("_mf").isNotNull() & F.col(S.MARKER_DOC_FRAC).isNotNull(), lb))
                .select(*columns))

    return transform


@dataclass(frozen=True)
class VintageBaseline:
    """The human side of the estimators measured on an audited crawl's own pre-LLM documents."""

    n_docs: int
    word_rates: np.ndarray      # add-½-smoothed share of documents containing each reference word (P)
    flagged_share: float        # the detector's false-positive rate on them
    flagged_share_se: float
    mean_prob: float            # their mean calibrated probability
    mean_prob_se: float

    @property
    def prob_sd(self) -> float:
        return self.mean_prob_se * np.sqrt(max(self.n_docs, 1))


def vintage_baseline(scores: DataFrame, n_words: int) -> VintageBaseline:
    """From ``doc_scores`` rows (ai_prob, is_ai_flagged, ref_words) taken as human. Collects n_words + 4 numbers."""
    prob = F.col(S.AI_PROB)
    agg = scores.agg(F.count(F.lit(1)).alias("n"), F.sum(F.col(S.IS_AI_FLAGGED).cast("long")).alias("flagged"),
                     exact_sum(prob).alias("sp"), exact_sum(prob * prob).alias("spp")).first()
    n = int(agg["n"])
    rates = np.full(n_words, 0.5 / (n + 1.0))
    for row in scores.select(F.explode(S.REF_WORDS).alias("w")).groupBy("w").count().collect():
        rates[row["w"]] = (row["count"] + 0.5) / (n + 1.0)
    f = (agg["flagged"] or 0) / n if n else 0.0
    p = (agg["sp"] or 0.0) / n if n else 0.0
    sd = float(np.sqrt(max((agg["spp"] or 0.0) / n - p * p, 0.0))) if n else 0.0
    return VintageBaseline(n, rates, f, float(np.sqrt(f * (1 - f) / max(n, 1))), p, sd / float(np.sqrt(max(n, 1))))


@dataclass
class DomainBaselines:
    """Each vintage domain's own human side, shrunk toward the pooled baseline (``domain_baselines``).

    ``rows``: registered_domain + ``BASELINE_COLUMNS`` (a Spark DataFrame: one row per vintage domain, which grows
    with the crawl). ``prior_fpr`` / ``prior_neg``: the pooled baseline's weight in documents, k. A domain without
    vintage documents takes the pooled values with variance value·(1 − value)/k and sd²/k: the spread between
    domains, not the pooled value's sampling error, is what it does not know about its own."""

    rows: DataFrame
    pooled: VintageBaseline
    prior_fpr: float
    prior_neg: float


def _prior_strength(spread: float, sampling: float, within: float, cap: float) -> float:
    """Empirical-Bayes k = within-document variance / τ², τ² = the domains' spread around the pooled value minus
    the part their sampling error explains (Morris 1983), at most ``cap`` (the pooled documents)."""
    tau2 = spread - sampling
    return cap if tau2 <= within / cap else within / tau2


def domain_baselines(vintage: DataFrame, pooled: VintageBaseline, prior_docs: int | None = None) -> DomainBaselines:
    """Per registered_domain of the vintage ``doc_scores`` rows, its false-positive rate and mean human probability
    shrunk toward the pooled ones: (n·own + k·pooled) / (n + k), with variance value·(1 − value)/(n + k) and
    sd²/(n + k). k = ``prior_docs``, or estimated from the domains' spread (None). Aggregated in Spark; two
    numbers come back to the driver."""
    f0, p0, sd0, n_pool = pooled.flagged_share, pooled.mean_prob, pooled.prob_sd, max(pooled.n_docs, 1)
    prob = F.col(S.AI_PROB)
    per = vintage.groupBy(S.REGISTERED_DOMAIN).agg(   # exact sums: the same baselines in any order of rows
        F.count(F.lit(1)).cast("double").alias("n"), F.sum(F.col(S.IS_AI_FLAGGED).cast("long")).alias("_flagged"),
        exact_sum(prob).alias("_sp"), exact_sum(prob * prob).alias("_spp"),
    ).select(S.REGISTERED_DOMAIN, "n", (F.col("_flagged") / F.col("n")).alias("fpr"),
             (F.col("_sp") / F.col("n")).alias("neg"),
             F.greatest(F.lit(0.0), F.col("_spp") / F.col("n") - (F.col("_sp") / F.col("n")) ** 2).alias("neg_var"))
    if prior_docs is not None:
        k_fpr = k_neg = float(prior_docs)
    else:
        n, fpr, neg = F.col("n"), F.col("fpr"), F.col("neg")
        a = per.agg((exact_sum(n * (fpr - f0) ** 2) / exact_sum(n)).alias("fs"),
                    (exact_sum(fpr * (1 - fpr)) / exact_sum(n)).alias("fw"),
                    (exact_sum(n * (neg - p0) ** 2) / exact_sum(n)).alias("ns"),
                    (exact_sum(F.col("neg_var")) / exact_sum(n)).alias("nw")).first()
        k_fpr = _prior_strength(a["fs"] or 0.0, a["fw"] or 0.0, f0 * (1 - f0), n_pool) if a["fs"] is not None else n_pool
        k_neg = _prior_strength(a["ns"] or 0.0, a["nw"] or 0.0, sd0 ** 2, n_pool) if a["ns"] is not None else n_pool
    n = F.col("n")
    fpr = (n * F.col("fpr") + F.lit(k_fpr * f0)) / (n + F.lit(k_fpr))
    neg = (n * F.col("neg") + F.lit(k_neg * p0)) / (n + F.lit(k_neg))
    rows = per.select(S.REGISTERED_DOMAIN, n.cast("long").alias(BASE_N), fpr.alias(BASE_FPR),
                      (fpr * (1 - fpr) / (n + F.lit(k_fpr))).alias(BASE_FPR_VAR), neg.alias(BASE_NEG),
                      (F.lit(sd0 ** 2) / (n + F.lit(k_neg))).alias(BASE_NEG_VAR))
    return DomainBaselines(rows, pooled, k_fpr, k_neg)


def domain_baseline_arrays(domain: np.ndarray, prob: np.ndarray, flagged: np.ndarray,
                           prior_docs: int | None = None) -> dict[str, tuple[float, float, float, float]]:
    """``domain_baselines`` on in-memory vintage documents (the evaluation harness's held-out human texts, one
    array entry each): per domain (fpr, fpr variance, mean human probability, its variance), shrunk toward the
    pooled values by the same rule; key None: a domain without vintage documents. The test suite checks it
    against the Spark version."""
    domain, prob, flagged = np.asarray(domain), np.asarray(prob, np.float64), np.asarray(flagged, np.float64)
    n_pool = max(prob.size, 1)
    f0, p0 = flagged.mean(), prob.mean()
    sd0 = float(np.sqrt(max((prob ** 2).mean() - p0 * p0, 0.0)))
    names, inverse = np.unique(domain, return_inverse=True)
    n = np.bincount(inverse).astype(np.float64)
    fpr = np.bincount(inverse, flagged) / n
    neg = np.bincount(inverse, prob) / n
    neg_var = np.maximum(np.bincount(inverse, prob ** 2) / n - neg ** 2, 0.0)
    if prior_docs is not None:
        k_fpr = k_neg = float(prior_docs)
    else:
        k_fpr = _prior_strength(np.sum(n * (fpr - f0) ** 2) / n.sum(), np.sum(fpr * (1 - fpr)) / n.sum(),
                                f0 * (1 - f0), n_pool)
        k_neg = _prior_strength(np.sum(n * (neg - p0) ** 2) / n.sum(), np.sum(neg_var) / n.sum(), sd0 ** 2, n_pool)
    fpr_s = (n * fpr + k_fpr * f0) / (n + k_fpr)
    neg_s = (n * neg + k_neg * p0) / (n + k_neg)
    out: dict = {d: (float(fpr_s[i]), float(fpr_s[i] * (1 - fpr_s[i]) / (n[i] + k_fpr)), float(neg_s[i]),
                     float(sd0 ** 2 / (n[i] + k_neg))) for i, d in enumerate(names)}
    out[None] = (float(f0), float(f0 * (1 - f0) / k_fpr), float(p0), float(sd0 ** 2 / k_neg))
    return out


def with_document_baselines(baselines: DomainBaselines | None) -> Callable[[DataFrame], DataFrame]:
    """Columns in: registered_domain, …. Columns out: the same + ``BASELINE_COLUMNS`` (each document's domain's
    shrunk baseline; the pooled one for a domain without vintage documents). Identity for None."""

    def transform(scored: DataFrame) -> DataFrame:
        if baselines is None:
            return scored
        require_columns(scored, [S.REGISTERED_DOMAIN], "with_document_baselines")
        b = baselines.pooled
        f0, p0, sd0 = b.flagged_share, b.mean_prob, b.prob_sd
        fill = {BASE_N: F.lit(0).cast("long"), BASE_FPR: F.lit(f0), BASE_FPR_VAR: F.lit(f0 * (1 - f0) / baselines.prior_fpr),
                BASE_NEG: F.lit(p0), BASE_NEG_VAR: F.lit(sd0 ** 2 / baselines.prior_neg)}
        joined = scored.join(baselines.rows, S.REGISTERED_DOMAIN, "left")
        for c, default in fill.items():
            joined = joined.withColumn(c, F.coalesce(F.col(c), default))
        return joined

    return transform
