"""The trend report: its aggregations on hand-made rows with known answers, then the page written from the
end-to-end warehouse and rendered in headless Chromium."""
import json

import numpy as np
import pandas as pd
import pytest

from crawlaudit import cli
from crawlaudit.ops import report
from crawlaudit.warehouse import Warehouse


def _row(domain, snapshot, n_docs, ratio=None, hi=None, near=0, cross_near=0, removable=0.0, entropy=None,
         budget=1024, scored=None):
    year = int(snapshot.split("-")[2])
    return {"registered_domain": domain, "snapshot": snapshot, "year": year, "n_docs": n_docs,
            "n_docs_scored": n_docs if scored is None else scored, "synthetic_ratio": ratio,
            "synthetic_ratio_lo": None if ratio is None else max(0.0, ratio - 0.05),
            "synthetic_ratio_hi": hi if hi is not None else (None if ratio is None else ratio + 0.05),
            "n_exact_dup_docs": 0, "n_near_dup_docs": near, "near_dup_removable_frac": removable,
            "n_cross_snapshot_near_dup_docs": cross_near, "entropy_bits": entropy,
            "entropy_budget_met": entropy is not None, "entropy_budget_tokens": budget}


def _frame(rows):
    return pd.DataFrame(rows).astype({"synthetic_ratio": float, "synthetic_ratio_lo": float,
                                      "synthetic_ratio_hi": float, "entropy_bits": float})


def test_domain_years_pools_a_years_snapshots():
    rows = [_row("a.com", "CC-MAIN-2020-10", 10, ratio=0.1, near=2, cross_near=1, removable=0.1, entropy=5.0),
            _row("a.com", "CC-MAIN-2020-40", 30, ratio=0.3, near=9, cross_near=0, removable=0.2, entropy=None),
            _row("b.com", "CC-MAIN-2020-10", 5, ratio=0.5)]                       # under min_docs: left out
    dy = report.domain_years(_frame(rows), min_docs=10)
    assert len(dy) == 1
    r = dy.iloc[0]
    assert (r["registered_domain"], r["year"], r["n_snapshots"], r["n_docs"]) == ("a.com", 2020, 2, 40)
    assert r["synthetic_ratio"] == pytest.approx((0.1 * 10 + 0.3 * 30) / 40)   # weighted by scored documents
    assert r["synthetic_ratio_hi"] == pytest.approx((0.15 * 10 + 0.35 * 30) / 40)
    assert r["near_dup_frac"] == pytest.approx(11 / 40)
    assert r["cross_snapshot_near_dup_frac"] == pytest.approx(1 / 40)
    assert r["near_dup_removable_frac"] == pytest.approx((0.1 * 10 + 0.2 * 30) / 40)
    assert r["entropy_bits"] == 5.0 and r["entropy_norm"] == pytest.approx(5.0 / 10)  # only the budget-met snapshot


def test_median_domain_risers_and_vintage_index():
    rows = []
    shares = {"a.com": (0.0, 0.5), "b.com": (0.1, 0.2), "c.com": (0.2, 0.2), "d.com": (0.3, 0.9)}
    for d, (s19, s24) in shares.items():
        rows += [_row(d, "CC-MAIN-2019-35", 50, ratio=s19, hi=s19, entropy=8.0),
                 _row(d, "CC-MAIN-2024-22", 50, ratio=s24, hi=s24, entropy=8.0)]
    rows.append(_row("e.com", "CC-MAIN-2024-22", 50, ratio=0.0, hi=0.0, entropy=9.0))  # one year only
    # h.com: human in 2019, but in 2024 half its documents repeat earlier snapshots: its worst year counts
    rows += [_row("h.com", "CC-MAIN-2019-35", 40, ratio=0.0, hi=0.0, entropy=7.0),
             _row("h.com", "CC-MAIN-2024-22", 40, ratio=0.0, hi=0.0, cross_near=20, entropy=7.0)]
    dy = report.domain_years(_frame(rows), min_docs=30)

    med = report.median_domain_by_year(dy).set_index("year")
    assert med.loc[2019, "median"] == pytest.approx(np.median([0.0, 0.1, 0.2, 0.3, 0.0]))
    assert med.loc[2024, "median"] == pytest.approx(np.median([0.5, 0.2, 0.2, 0.9, 0.0, 0.0]))
    assert med.loc[2024, "n_domains"] == 6

    risers = report.top_risers(dy, n=3)
    assert list(risers["registered_domain"]) == ["d.com", "a.com", "b.com"]   # 0.6, 0.5, 0.1 (e.com: one year)
    assert risers["rise"].tolist() == pytest.approx([0.6, 0.5, 0.1])
    assert (risers["first_year"].tolist(), risers["last_year"].tolist()) == ([2019] * 3, [2024] * 3)

    vintage = report.vintage_index(dy, min_years=2, n=10).set_index("registered_domain")
    assert "e.com" not in vintage.index                                      # audited in one year only
    assert vintage.loc["c.com", "vintage_index"] == pytest.approx((1 - 0.2) * 8 / 10)   # worst year: 2024
    assert vintage.loc["a.com", "vintage_index"] == pytest.approx((1 - 0.5) * 0.8)
    assert vintage.loc["h.com", "vintage_index"] == pytest.approx((1 - 20 / 40) * 0.7)
    assert vintage.loc["h.com", "original"] == pytest.approx(0.5)
    assert list(vintage.index) == ["b.com", "c.com", "a.com", "h.com", "d.com"]  # 0.64, 0.64 by name, 0.4, 0.35, 0.08
    assert report.vintage_index(dy, min_years=3, n=10).empty


def test_report_of_the_audited_warehouse_renders_every_plot(audited, tmp_path, capsys):
    out, shot = tmp_path / "report", tmp_path / "shot.png"
    assert cli.main(["report", "--warehouse", audited["wh"], "--out", str(out), "--screenshot", str(shot)]) == 0
    printed = capsys.readouterr().out
    assert f"browser: {len(report.PLOTS)}/{len(report.PLOTS)} plots loaded" in printed

    manifest = json.loads((out / "report.json").read_text())
    years = sorted({int(s.split("-")[2]) for s in
                    Warehouse.at(audited["wh"]).read_arrow("snapshot_stats").column("snapshot").to_pylist()})
    assert manifest["years"] == years == [2019, 2021, 2024]
    assert [p["file"] for p in manifest["plots"]] == list(report.PLOTS)
    for p in manifest["plots"]:
        data = (out / p["file"]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, p["file"]
        if p["file"] in report.PER_YEAR_PLOTS:
            assert p["x_ticks"] == [str(y) for y in years], p["file"]      # every audited year on the axis
    page = (out / "index.html").read_text()
    assert all(f'src="{name}"' in page for name in report.PLOTS)
    assert "http://" not in page and "https://" not in page                  # nothing fetched: self-contained
    ys = Warehouse.at(audited["wh"]).read_arrow("year_stats").to_pandas().set_index("year")
    assert f"{ys.loc[2021, 'synthetic_ratio']:.4f}" in page                 # the year table shows the table's numbers
    assert manifest["risers"] and manifest["vintage"]
    # the language mix per year: Greek and Korean grow from the first audited year to the last
    langs = Warehouse.at(audited["wh"]).read_arrow("language_stats").to_pandas()
    mix = report.language_mix(langs).set_index("year")
    assert list(mix.columns[:1]) == ["eng"] and np.allclose(mix.sum(axis=1), 1.0)
    assert mix.loc[2024, "ell"] + mix.loc[2024, "kor"] > mix.loc[2019, "ell"] + mix.loc[2019, "kor"]
    assert "<h2>Languages</h2>" in page and "<th>kor</th>" in page and f"{mix.loc[2021, 'ell']:.4f}" in page
    # per-language lines: each language's own entropy (all three over the e2e budget); the synthetic share only
    # for the detector's language (one line: the pooled one)
    by_language = Warehouse.at(audited["wh"]).read_arrow("year_language_stats").to_pandas()
    lines = report.language_lines(by_language, "entropy_chao_shen_bits", years)
    assert sorted(lines) == ["ell", "eng", "kor"] and all(v.notna().all() for v in lines.values())
    assert list(report.language_lines(by_language, "synthetic_ratio", years)) == ["eng"]
    assert report.language_mix(by_language).set_index("year").round(12).equals(mix.round(12))
    assert "year_language_stats" in page

    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[0] > 1000 and float(np.std(pixels)) > 0.05          # a rendered page, not a blank one

    (out / "entropy.png").unlink()                                           # the check does see a missing plot
    assert report.check_in_browser(str(out / "index.html")) == (len(report.PLOTS) - 1, len(report.PLOTS))


def test_report_refuses_an_empty_warehouse(tmp_path, capsys):
    assert cli.main(["report", "--warehouse", str(tmp_path / "none")]) == 2
    assert "run an audit first" in capsys.readouterr().err
