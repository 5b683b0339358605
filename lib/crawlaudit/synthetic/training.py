"""Training the detector and measuring what the quantifiers need from it.

Splits are by group (``labeled.split_by_group``): train / validation / test. The model is a logistic regression
fitted by SGD (class-balanced, seeded, a fixed number of epochs: deterministic). Validation gives the Platt
constants, the threshold and the calibration constants; test gives the model card's figures.

Transfer: a detector meets generators and genres it never saw. For each generator family (OpenAI, Google,
Anthropic, Meta, ...: ``labeled.generator_family``) the model is refitted without it and the held-out family's tpr
and mean probability are compared with the seen families'. The per-family differences are stored in the
calibration (``unseen_*_shift``): ``quantify`` centres the AI side on their median and draws from their predictive
spread, so an interval covers a generator family the detector never saw as far as the held-out families are
typical of new ones. The shift to unseen domain folds (topics, genres) is measured and reported on the model card
but not added: on l2r it is ≈ 0.1 in fpr, a bias of the human baseline, to be measured on the audited crawl's own
pre-LLM snapshots rather than absorbed into the interval.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import roc_auc_score

from crawlaudit.synthetic.detector import Calibration, Detector, FeatureSpec, fit_idf, term_counts, weighted
from crawlaudit.synthetic.labeled import LabeledSet, split_by_group
from crawlaudit.synthetic.quantify import MIN_FAMILIES

log = logging.getLogger(__name__)

SPLIT = (0.7, 0.15, 0.15)
DOMAIN_FOLDS = 5


def _fit(x, y, alpha: float, epochs: int, seed: int):
    model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, class_weight="balanced",
                          random_state=seed)
    model.fit(x, y)
    return model.coef_.ravel().astype(np.float32), float(model.intercept_[0])


def _platt(margins: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e6).fit(margins[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _best_threshold(margins: np.ndarray, y: np.ndarray) -> float:
    """Margin maximizing tpr − fpr (Youden): the largest denominator for the adjusted count."""
    order = np.argsort(-margins, kind="stable")
    m, yy = margins[order], y[order]
    tpr = np.cumsum(yy) / max(yy.sum(), 1)
    fpr = np.cumsum(~yy) / max((~yy).sum(), 1)
    return float(m[int(np.argmax(tpr - fpr))])


def rates(margins: np.ndarray, probs: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """tpr, fpr, mean probability per class, and their standard errors."""
    out = {}
    for name, cls in (("ai", y), ("human", ~y)):
        flag = margins[cls] >= threshold
        p = probs[cls]
        n = max(int(cls.sum()), 1)
        out[f"rate_{name}"] = float(flag.mean()) if cls.any() else np.nan
        out[f"rate_{name}_se"] = float(np.sqrt(max(flag.mean() * (1 - flag.mean()), 1e-12) / n)) if cls.any() else np.nan
        out[f"mean_p_{name}"] = float(p.mean()) if cls.any() else np.nan
        out[f"mean_p_{name}_se"] = float(p.std() / np.sqrt(n)) if cls.any() else np.nan
    return out


class _Fitter:
    """Features computed once; fits on any subset of the rows."""

    def __init__(self, data: LabeledSet, spec: FeatureSpec, alpha: float, epochs: int, seed: int):
        self.data, self.spec, self.alpha, self.epochs, self.seed = data, spec, alpha, epochs, seed
        log.info("features for %d texts", len(data))
        self.counts = term_counts(data.texts, spec)
        self.y = data.is_ai

    def fit(self, train: np.ndarray, valid: np.ndarray) -> Detector:
        idf = fit_idf(self.counts[train])
        x = weighted(self.counts, idf, self.spec)
        coef, intercept = _fit(x[train], self.y[train], self.alpha, self.epochs, self.seed)
        det = Detector(self.spec, idf, coef, intercept, (1.0, 0.0), Calibration(0.0, 0.0, 0.0, 0.0, 0.0))
        margins = np.asarray(x[valid] @ coef).ravel() + intercept
        det.platt = _platt(margins, self.y[valid])
        threshold = _best_threshold(margins, self.y[valid])
        r = rates(margins, det.probabilities(margins), self.y[valid], threshold)
        det.calibration = Calibration(threshold, r["rate_ai"], r["rate_human"], r["mean_p_ai"], r["mean_p_human"],
                                      r["rate_ai_se"], r["rate_human_se"], r["mean_p_ai_se"], r["mean_p_human_se"])
        det._x = x  # features of all rows under this fit's idf, for evaluation without recomputing
        return det

    def rates_on(self, det: Detector, rows: np.ndarray) -> dict:
        margins = np.asarray(det._x[rows] @ det.coef).ravel() + det.intercept
        return rates(margins, det.probabilities(margins), self.y[rows], det.calibration.threshold)


def _shifts(fitter: _Fitter, train, valid, held_masks: list[np.ndarray], keys: list[tuple[str, str]]) -> dict:
    """Per held-out mask, the difference of each calibration constant between its validation rows and the seen
    ones, under a model refitted without it (nan where a side has no rows)."""
    out = {k: [] for k, _ in keys}
    for held in held_masks:
        det = fitter.fit(train & ~held, valid & ~held)
        seen = fitter.rates_on(det, valid & ~held)
        new = fitter.rates_on(det, valid & held)
        for key, rate in keys:
            out[key].append(float(new[rate] - seen[rate]))
    return out


def _family_shifts(fitter: _Fitter, train, valid, family: np.ndarray, families: list[str]) -> dict:
    """Per held-out generator family, its tpr and mean AI probability minus the seen families', under a model
    refitted without it, compared genre by genre (``domain``) and weighted by the held-out family's rows: a family
    present only in easy genres (BiScope's Claude texts) must not read as an easy family. Without a shared genre,
    the plain difference."""
    y, genre = fitter.y, fitter.data.domain
    out = {"tpr": [], "mean_p_ai": []}
    for f in families:
        held = y & (family == f)
        det = fitter.fit(train & ~held, valid & ~held)
        margins = np.asarray(det._x @ det.coef).ravel() + det.intercept
        values = {"tpr": (margins >= det.calibration.threshold).astype(float),
                  "mean_p_ai": det.probabilities(margins)}
        new_rows, seen_rows = valid & held, valid & y & ~held
        shared = [g for g in np.unique(genre[new_rows]) if (seen_rows & (genre == g)).any()]
        for key, v in values.items():
            if not new_rows.any() or not seen_rows.any():
                out[key].append(float("nan"))
            elif not shared:
                out[key].append(float(v[new_rows].mean() - v[seen_rows].mean()))
            else:
                w = np.array([(new_rows & (genre == g)).sum() for g in shared], dtype=float)
                d = [v[new_rows & (genre == g)].mean() - v[seen_rows & (genre == g)].mean() for g in shared]
                out[key].append(float(np.dot(w, d) / w.sum()))
    return out


def _rms(shifts: dict) -> dict:
    return {k: float(np.sqrt(np.nanmean(np.square(v)))) if np.isfinite(v).any() else 0.0
            for k, v in ((k, np.asarray(v, dtype=float)) for k, v in shifts.items())}


def train_detector(data: LabeledSet, spec: FeatureSpec = FeatureSpec(), alpha: float = 1e-5, epochs: int = 30,
                   seed: int = 0, transfer: bool = True) -> tuple[Detector, dict]:
    """Fit on the train split, calibrate on validation, measure on test; with ``transfer``, also the shift to
    held-out generators and domain folds. Returns the detector and a report for the model card."""
    train, valid, test = split_by_group(data, SPLIT, seed)
    fitter = _Fitter(data, spec, alpha, epochs, seed)
    det = fitter.fit(train, valid)
    cal = det.calibration
    report = {"n_train": int(train.sum()), "n_valid": int(valid.sum()), "n_test": int(test.sum())}
    report.update(evaluate(fitter, det, test))
    shifts, family_shifts = {"family": {}, "domain": {}}, {}
    if transfer:
        family = data.family
        families = sorted(set(family[data.is_ai]) - {"unknown"})
        if len(families) >= 2:
            log.info("transfer: refitting without each of %d generator families", len(families))
            per = _family_shifts(fitter, train, valid, family, families)
            family_shifts = {k: [(f, v) for f, v in zip(families, vals) if np.isfinite(v)] for k, vals in per.items()}
            shifts["family"] = _rms(per)
            report["unseen_family"] = {f: {k: dict(family_shifts[k]).get(f) for k in per} for f in families}
        domains = np.array(sorted(set(data.domain) - {"unknown"}))
        if len(domains) >= 2:
            folds = min(DOMAIN_FOLDS, len(domains))
            log.info("transfer: refitting without each of %d domain folds", folds)
            masks = [np.isin(data.domain, domains[k::folds]) for k in range(folds)]
            shifts["domain"] = _rms(_shifts(fitter, train, valid, masks,
                                            [("tpr", "rate_ai"), ("fpr", "rate_human"), ("mean_p_ai", "mean_p_ai"),
                                             ("mean_p_human", "mean_p_human")]))
    tpr_shift = tuple(v for _, v in family_shifts.get("tpr", []))
    p_shift = tuple(v for _, v in family_shifts.get("mean_p_ai", []))
    # with MIN_FAMILIES or more family shifts the quantifiers draw from their spread; otherwise the rms shift widens
    # the sd (the domain shift is reported, not added: see the module docstring)
    fold_in = len(tpr_shift) < MIN_FAMILIES
    det.calibration = replace(
        cal, unseen_tpr_shift=tpr_shift if not fold_in else (), unseen_mean_p_ai_shift=p_shift if not fold_in else (),
        tpr_sd=float(np.hypot(cal.tpr_sd, shifts["family"].get("tpr", 0.0) if fold_in else 0.0)),
        mean_p_ai_sd=float(np.hypot(cal.mean_p_ai_sd, shifts["family"].get("mean_p_ai", 0.0) if fold_in else 0.0)))
    report["transfer_shift_rms"] = shifts
    del det._x
    return det, report


def _ece(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(probs, edges) - 1, 0, bins - 1)
    err = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            err += sel.mean() * abs(probs[sel].mean() - y[sel].mean())
    return float(err)


def evaluate(fitter: _Fitter, det: Detector, rows: np.ndarray) -> dict:
    """AUROC, TPR at 1% and 5% FPR, expected calibration error, per-generator and per-family AUROC on ``rows``."""
    y = fitter.y[rows]
    margins = np.asarray(det._x[rows] @ det.coef).ravel() + det.intercept
    probs = det.probabilities(margins)
    human = np.sort(margins[~y])
    out = {"auroc": float(roc_auc_score(y, margins)), "ece": _ece(probs, y.astype(float))}
    for fpr in (0.01, 0.05):
        thr = human[min(int(np.ceil((1 - fpr) * human.size)), human.size - 1)]
        out[f"tpr_at_{int(fpr * 100)}pct_fpr"] = float((margins[y] > thr).mean())
    for key, names in (("generator", fitter.data.generator[rows]),
                       ("family", fitter.data.family[rows])):
        out[f"auroc_by_{key}"] = {
            g: float(roc_auc_score(np.r_[np.zeros((~y).sum()), np.ones((names == g).sum())],
                                   np.r_[margins[~y], margins[names == g]]))
            for g in sorted(set(names[y]))}
    return out
