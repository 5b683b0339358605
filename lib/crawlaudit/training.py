"""Training the detector and measuring what the quantifiers need from it.

Splits are by group (``labeled.split_by_group``): train / validation / test. The model is a logistic regression
fitted by SGD (class-balanced, seeded, a fixed number of epochs: deterministic). Validation gives the Platt
constants, the threshold and the calibration constants; test gives the model card's figures.

Transfer: a detector meets generators and domains it never saw. For each AI generator (and each fold of domains)
the model is refitted without it and the held-out part's tpr / fpr / mean probabilities are compared with the
seen part's. The root-mean-square shift to an unseen generator becomes part of each constant's standard deviation,
which the quantifiers' intervals carry: new generators keep arriving. The shift to unseen domains (topics, genres)
is measured and reported on the model card but not added: on l2r it is ≈ 0.1 in fpr, which would widen every
interval to uselessness; it is a bias of the human baseline, to be measured on the audited crawl's own pre-LLM
snapshots rather than absorbed into the interval.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import roc_auc_score

from crawlaudit.detector import Calibration, Detector, FeatureSpec, fit_idf, term_counts, weighted
from crawlaudit.labeled import LabeledSet, split_by_group

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


def _shift(fitter: _Fitter, train, valid, held_masks: list[np.ndarray], keys: list[tuple[str, str]]) -> dict:
    """Root-mean-square difference of each calibration constant between held-out and seen validation rows."""
    sq = {k: [] for k, _ in keys}
    for held in held_masks:
        det = fitter.fit(train & ~held, valid & ~held)
        seen = fitter.rates_on(det, valid & ~held)
        new = fitter.rates_on(det, valid & held)
        for key, rate in keys:
            if not (np.isnan(new[rate]) or np.isnan(seen[rate])):
                sq[key].append((new[rate] - seen[rate]) ** 2)
    return {k: float(np.sqrt(np.mean(v))) if v else 0.0 for k, v in sq.items()}


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
    shifts = {"generator": {}, "domain": {}}
    if transfer:
        gens = sorted(set(data.generator[data.is_ai]) - {"unknown"})
        if len(gens) >= 2:
            log.info("transfer: refitting without each of %d generators", len(gens))
            shifts["generator"] = _shift(fitter, train, valid, [data.generator == g for g in gens],
                                         [("tpr", "rate_ai"), ("mean_p_ai", "mean_p_ai")])
        domains = np.array(sorted(set(data.domain) - {"unknown"}))
        if len(domains) >= 2:
            folds = min(DOMAIN_FOLDS, len(domains))
            log.info("transfer: refitting without each of %d domain folds", folds)
            masks = [np.isin(data.domain, domains[k::folds]) for k in range(folds)]
            shifts["domain"] = _shift(fitter, train, valid, masks,
                                      [("tpr", "rate_ai"), ("fpr", "rate_human"), ("mean_p_ai", "mean_p_ai"),
                                       ("mean_p_human", "mean_p_human")])

    def total(se: float, key: str) -> float:  # the domain shift is reported, not added: see the module docstring
        return float(np.sqrt(se ** 2 + shifts["generator"].get(key, 0.0) ** 2))

    det.calibration = replace(cal, tpr_sd=total(cal.tpr_sd, "tpr"), fpr_sd=total(cal.fpr_sd, "fpr"),
                              mean_p_ai_sd=total(cal.mean_p_ai_sd, "mean_p_ai"),
                              mean_p_human_sd=total(cal.mean_p_human_sd, "mean_p_human"))
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
    """AUROC, TPR at 1% and 5% FPR, expected calibration error, per-generator AUROC on ``rows``."""
    y = fitter.y[rows]
    margins = np.asarray(det._x[rows] @ det.coef).ravel() + det.intercept
    probs = det.probabilities(margins)
    human = np.sort(margins[~y])
    out = {"auroc": float(roc_auc_score(y, margins)), "ece": _ece(probs, y.astype(float))}
    for fpr in (0.01, 0.05):
        thr = human[min(int(np.ceil((1 - fpr) * human.size)), human.size - 1)]
        out[f"tpr_at_{int(fpr * 100)}pct_fpr"] = float((margins[y] > thr).mean())
    gens = fitter.data.generator[rows]
    out["auroc_by_generator"] = {
        g: float(roc_auc_score(np.r_[np.zeros((~y).sum()), np.ones((gens == g).sum())],
                               np.r_[margins[~y], margins[gens == g]]))
        for g in sorted(set(gens[y]))}
    return out
