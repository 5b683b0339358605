"""scripts/eval_quantifier.py on labeled texts from the sample generators: folds, mixtures of exact composition,
every estimator summarized, JSON written."""
import importlib.util
import json
from pathlib import Path

import pytest

from crawlaudit import cli

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("eval_quantifier", ROOT / "scripts" / "eval_quantifier.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_leave_one_generator_out_on_sample_texts(tmp_path, capsys):
    labeled = tmp_path / "l.jsonl"
    assert cli.main(["sample-labeled", "--out", str(labeled), "--per-domain", "30"]) == 0
    out = tmp_path / "r.json"
    rc = _script().main(["--labeled", str(labeled), "--leave-one-generator-out", "--sizes", "60",
                         "--alphas", "0,0.25", "--repeats", "3", "--replicates", "50", "--no-transfer",
                         "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["mode"] == "leave-one-generator-out"
    assert set(report["summary"]) == {"cc", "acc", "pacc", "mle", "marker_lb"}
    folds = set(report["summary"]["pacc"]["by_fold"])
    assert folds == {"gen:sample-lm-a", "gen:sample-lm-b"}
    mixes = [m for m in report["mixtures"] if m["estimator"] == "pacc"]
    assert len(mixes) == 2 * 2 * 3
    assert {round(m["truth"], 4) for m in mixes} == {0.0, 0.25}        # exact composition: round(α n) of n
    assert all(0 <= m["lo"] <= m["value"] <= m["hi"] <= 1 for m in mixes)
    # adjusting for the detector's rates beats counting its flags, even for a generator it never saw
    summary = report["summary"]
    assert summary["pacc"]["overall"]["mae"] < min(0.1, summary["cc"]["overall"]["mae"])
    assert summary["cc"]["by_alpha"]["0.0"]["bias"] > 0.05          # counting flags reads human text as AI
    assert "MAE" in capsys.readouterr().out


def test_leave_one_family_and_genre_out_modes(tmp_path):
    labeled = tmp_path / "l.jsonl"
    assert cli.main(["sample-labeled", "--out", str(labeled), "--per-domain", "30"]) == 0
    out = tmp_path / "f.json"
    common = ["--labeled", str(labeled), "--sizes", "40", "--alphas", "0,0.25", "--repeats", "2",
              "--replicates", "30", "--no-transfer"]
    assert _script().main(common + ["--leave-one-family-out", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    # the sample generators have no known maker: each is its own family
    assert report["mode"] == "leave-one-family-out"
    assert set(report["summary"]["pacc"]["by_fold"]) == {"family:sample-lm-a", "family:sample-lm-b"}
    assert _script().main(common + ["--leave-one-genre-out", "--domain-folds", "2", "--vintage", "0.3",
                                    "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mode"].startswith("leave-one-genre-out, human baseline measured on 30%")
    folds = set(report["summary"]["pacc"]["by_fold"])
    assert len(folds) == 2 and all(f.startswith("dom:") for f in folds)


def test_vintage_per_genre_as_the_audit_measures_per_domain():
    """A mixture of human texts from a genre flagged at 30% and one flagged at 0%, in other proportions than the
    vintage texts: against one pooled baseline it reads as 10% AI, against each genre's own baseline as human."""
    import numpy as np
    from scipy import sparse
    from types import SimpleNamespace

    from crawlaudit.synthetic.detector import Calibration
    from crawlaudit.synthetic.estimates import domain_baseline_arrays

    mod = _script()
    v_domain = np.array(["a"] * 200 + ["b"] * 200)
    v_flag = np.r_[np.arange(200) < 60, np.zeros(200, bool)]
    v_prob = np.where(v_flag, 0.8, 0.1)
    domain = np.array(["a"] * 300 + ["b"] * 100)
    flag = np.r_[np.arange(300) < 90, np.zeros(100, bool)]
    cal = Calibration(threshold=0.0, tpr=0.9, fpr=v_flag.mean(), mean_p_ai=0.9, mean_p_human=v_prob.mean())
    scores = {"det": SimpleNamespace(calibration=cal), "margins": np.where(flag, 1.0, -1.0),
              "probs": np.where(flag, 0.8, 0.1), "occ": sparse.csr_matrix((400, 2)), "marker": np.zeros(400, bool),
              "marker_human": 0.0, "p_human": np.array([0.1, 0.2]), "ref": SimpleNamespace(q_ai=np.array([0.3, 0.4])),
              "domain": domain}
    idx = np.arange(400)
    pooled = mod.estimate_all(scores, idx, 200, 0)
    assert pooled["acc"].value == pytest.approx((0.225 - 0.15) / (0.9 - 0.15))
    base = domain_baseline_arrays(v_domain, v_prob, v_flag)
    per_genre = mod.estimate_all({**scores, "baseline": np.array([base[d] for d in domain])}, idx, 200, 0)
    for est in ("acc", "pacc"):
        assert per_genre[est].value == pytest.approx(0.0, abs=0.01), est
        assert per_genre[est].lo <= 0.0 <= per_genre[est].hi
