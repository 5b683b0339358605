"""The crawlaudit console command: help, sample-corpus, check-config, summary."""
import json

import pytest

from crawlaudit import cli


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("sample-corpus", "summary", "check-config"):
        assert cmd in out


def test_sample_corpus_small_then_kept(tmp_path, capsys):
    assert cli.main(["sample-corpus", "--small", "--out", str(tmp_path)]) == 0
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert len(truth["snapshots"]) == 3
    assert cli.main(["sample-corpus", "--small", "--out", str(tmp_path)]) == 0
    assert "keeping it" in capsys.readouterr().out


def test_sample_corpus_from_texts(tmp_path):
    src = tmp_path / "t.jsonl"
    src.write_text("\n".join(json.dumps({"text": f"human text number {i} " * 20, "label": l})
                             for i, l in enumerate(["human", "ai"] * 50)))
    out = tmp_path / "c"
    assert cli.main(["sample-corpus", "--small", "--out", str(out), "--texts", str(src), "--label", "human"]) == 0
    assert json.loads((out / "ground_truth.json").read_text())["source"] == "texts"


def test_sample_corpus_plants_ai_texts_from_labeled_rows(tmp_path, capsys):
    src = tmp_path / "t.jsonl"
    src.write_text("\n".join(json.dumps({"text": f"{l} text number {i} " * 20, "label": l})
                             for i, l in enumerate(["human", "ai"] * 200)))
    out = tmp_path / "c"
    assert cli.main(["sample-corpus", "--small", "--out", str(out), "--texts", str(src), "--ai-share",
                     "2021=0.4"]) == 0
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["years"]["2019"]["synthetic_ratio"] == 0 and truth["years"]["2021"]["synthetic_ratio"] > 0.1
    assert cli.main(["sample-corpus", "--small", "--out", str(tmp_path / "d"), "--ai-share", "2021=two"]) == 2
    assert "2021=two" in capsys.readouterr().err
    human_only = tmp_path / "h.jsonl"
    human_only.write_text(json.dumps({"text": "only human", "label": "human"}) + "\n")
    assert cli.main(["sample-corpus", "--small", "--out", str(tmp_path / "e"), "--texts", str(human_only)]) == 2
    assert "no texts labeled ai" in capsys.readouterr().err


def test_sample_labeled_writes_balanced_rows(tmp_path):
    out = tmp_path / "l.jsonl"
    assert cli.main(["sample-labeled", "--out", str(out), "--per-domain", "6"]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 40 * 6
    assert {r["generator"] for r in rows} == {None, "sample-lm-a", "sample-lm-b"}
    assert sum(r["label"] == "ai" for r in rows) == 2 * sum(r["label"] == "human" for r in rows)


def test_check_config_reports_bad_key(capsys):
    assert cli.main(["check-config", "--set", "metrics.nope=1"]) == 2
    assert "unknown key 'metrics.nope'" in capsys.readouterr().err


def test_summary_without_tables_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["summary", "--warehouse", str(tmp_path)]) == 1
    assert "run an audit first" in capsys.readouterr().err.lower()


def test_year_summary_weights_fractions_by_documents():
    import pandas as pd

    stats = pd.DataFrame([
        {"year": 2024, "n_docs": 100, "n_domains": 3, "n_exact_dup_docs": 10, "n_cross_snapshot_dup_docs": 0,
         "entropy_bits": 8.0, "entropy_budget_met": True, "error_frac": 0.01},
        {"year": 2024, "n_docs": 300, "n_domains": 4, "n_exact_dup_docs": 90, "n_cross_snapshot_dup_docs": 30,
         "entropy_bits": None, "entropy_budget_met": False, "error_frac": 0.02},
    ])
    (row,) = cli.year_summary_rows(stats)
    assert row["exact_dup_frac"] == pytest.approx(0.25) and row["cross_snapshot_dup_frac"] == pytest.approx(0.075)
    assert row["entropy_bits"] == 8.0 and row["domains"] == 4 and row["error_frac"] == 0.02


def test_year_summary_pools_near_and_line_duplication_and_tolerates_old_tables():
    import pandas as pd

    base = {"year": 2024, "n_domains": 3, "n_exact_dup_docs": 0, "n_cross_snapshot_dup_docs": 0,
            "entropy_bits": 8.0, "entropy_budget_met": True, "error_frac": 0.0}
    stats = pd.DataFrame([
        {**base, "n_docs": 100, "n_near_dup_docs": 20, "n_cross_snapshot_near_dup_docs": 5, "n_lines": 1000,
         "n_dup_lines": 100},
        {**base, "n_docs": 300, "n_near_dup_docs": 30, "n_cross_snapshot_near_dup_docs": 15, "n_lines": 3000,
         "n_dup_lines": 900},
    ])
    (row,) = cli.year_summary_rows(stats)
    assert row["near_dup_frac"] == pytest.approx(50 / 400)
    assert row["cross_snapshot_near_dup_frac"] == pytest.approx(20 / 400)
    assert row["dup_line_frac"] == pytest.approx(1000 / 4000)
    (old,) = cli.year_summary_rows(stats.drop(columns=["n_near_dup_docs", "n_lines", "n_dup_lines"]))
    assert old["near_dup_frac"] is None and old["dup_line_frac"] is None
    years = pd.DataFrame([{"year": 2024, "synthetic_ratio": 0.25, "synthetic_ratio_lo": 0.2, "synthetic_ratio_hi": 0.31}])
    (row,) = cli.year_summary_rows(stats, years)
    assert row["synthetic_ratio [95% CI]"] == "0.250 [0.200,0.310]"
    assert old["synthetic_ratio [95% CI]"] is None
