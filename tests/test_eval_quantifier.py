"""scripts/eval_quantifier.py on labeled texts from the sample generators: folds, mixtures of exact composition,
every estimator summarized, JSON written."""
import importlib.util
import json
from pathlib import Path

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
    assert summary["pacc"]["overall"]["mae"] < 0.15 < summary["cc"]["overall"]["mae"]
    assert "MAE" in capsys.readouterr().out
