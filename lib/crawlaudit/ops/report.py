"""The trend report: per-year charts of the audited metrics and two domain rankings, as ``index.html`` + PNGs.

Reading (``load_tables``), aggregating (pure pandas functions: ``domain_years``, ``median_domain_by_year``,
``top_risers``, ``vintage_index``), drawing (``plot_*``) and writing (``write_report``) are separate steps, so the
numbers are tested without drawing anything. The page is self-contained: the images sit beside it, no script or
style is fetched, and it opens from the file system. ``check_in_browser`` renders it in headless Chromium and counts
the images that loaded.
"""
from __future__ import annotations

import dataclasses
import html
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from crawlaudit import schemas as S
from crawlaudit.config import ReportConfig
from crawlaudit.errors import CrawlauditError

log = logging.getLogger(__name__)

PLOTS = {  # file → (title, what it shows)
    "synthetic_share.png": ("AI-generated share", "pooled estimate with its 95% interval; the median domain with the "
                                                  "domains' interquartile range; dotted: each language the detector "
                                                  "judges (documents in other languages are not scored)"),
    "entropy.png": ("Vocabulary entropy", "Chao–Shen corrected unigram entropy with its 95% interval; plug-in "
                                          "entropy at the fixed token budget; dotted: each language's own (the "
                                          "pooled figure weighs them by documents, so a shift of the language mix "
                                          "moves it without any language changing)"),
    "language_mix.png": ("Language mix", "each language's share of the year's documents (the largest languages; "
                                         "the rest as other)"),
    "duplication.png": ("Duplication within a snapshot", "exact and near-duplicate document shares, removable "
                                                          "near-duplicates, repeated lines"),
    "reuse.png": ("Content reused from earlier snapshots", "documents whose exact text or a near-duplicate was "
                                                           "already in an earlier audited snapshot"),
    "risers.png": ("Domains whose AI-generated share rose most", "first audited year → last audited year"),
    "vintage.png": ("Vintage index", "domains that stayed human, diverse and original in every audited year"),
}
PER_YEAR_PLOTS = ["synthetic_share.png", "entropy.png", "language_mix.png", "duplication.png", "reuse.png"]
LANGUAGE_LINES = 6   # per-language lines drawn: the languages with the most documents


# --- aggregation (pure) ----------------------------------------------------------------------------------------

DOMAIN_YEAR_COLUMNS = [S.REGISTERED_DOMAIN, S.YEAR, "n_snapshots", S.N_DOCS, S.SYNTHETIC_RATIO, S.SYNTHETIC_RATIO_LO,
                       S.SYNTHETIC_RATIO_HI, S.EXACT_DUP_FRAC, S.NEAR_DUP_FRAC, S.NEAR_DUP_REMOVABLE_FRAC,
                       S.CROSS_SNAPSHOT_NEAR_DUP_FRAC, S.ENTROPY_BITS, "entropy_norm"]


def domain_years(domain_stats: pd.DataFrame, min_docs: int) -> pd.DataFrame:
    """One row per (registered_domain, year) with at least ``min_docs`` documents that year.

    Counts are summed over the year's snapshots and fractions recomputed from them; the synthetic share and its
    interval are averaged weighted by scored documents (snapshots with too few documents have none); entropy is
    the mean over the snapshots that met the token budget, and ``entropy_norm`` = entropy / log2(budget), in [0, 1].
    Vectorized (one groupby): a sampled crawl has 10^5–10^6 domains per snapshot.
    """
    keys = [S.REGISTERED_DOMAIN, S.YEAR]
    sums = [S.N_DOCS, S.N_EXACT_DUP_DOCS, S.N_NEAR_DUP_DOCS, S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS]
    d = domain_stats[keys + sums].copy()
    weighted = {c: S.N_DOCS_SCORED for c in (S.SYNTHETIC_RATIO, S.SYNTHETIC_RATIO_LO, S.SYNTHETIC_RATIO_HI)}
    weighted[S.NEAR_DUP_REMOVABLE_FRAC] = S.N_DOCS
    for value, weight in weighted.items():  # weighted mean over the rows where the value is defined
        ok = domain_stats[value].notna() & (domain_stats[weight] > 0)
        d[f"_wv_{value}"] = (domain_stats[value] * domain_stats[weight]).where(ok, 0.0)
        d[f"_w_{value}"] = domain_stats[weight].where(ok, 0)
    met = domain_stats[S.ENTROPY_BUDGET_MET].astype(bool)
    d["_entropy"] = domain_stats[S.ENTROPY_BITS].where(met)
    d["_budget"] = domain_stats[S.ENTROPY_BUDGET_TOKENS].where(met)
    g = d.groupby(keys, sort=True)
    agg = g[[*sums, *[c for c in d.columns if c.startswith("_w")]]].sum()
    agg["n_snapshots"] = g.size()
    agg["_entropy"] = g["_entropy"].mean()
    agg["_budget"] = g["_budget"].first()
    agg = agg[agg[S.N_DOCS] >= min_docs]
    out = agg.reset_index()
    n = out[S.N_DOCS]
    for value in weighted:
        w = out[f"_w_{value}"]
        out[value] = (out[f"_wv_{value}"] / w).where(w > 0)
    out[S.EXACT_DUP_FRAC] = out[S.N_EXACT_DUP_DOCS] / n
    out[S.NEAR_DUP_FRAC] = out[S.N_NEAR_DUP_DOCS] / n
    out[S.CROSS_SNAPSHOT_NEAR_DUP_FRAC] = out[S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS] / n
    out[S.ENTROPY_BITS] = out["_entropy"]
    out["entropy_norm"] = out["_entropy"] / np.log2(out["_budget"])
    return out[DOMAIN_YEAR_COLUMNS].astype({S.YEAR: int, S.N_DOCS: int, "n_snapshots": int})


def median_domain_by_year(dy: pd.DataFrame) -> pd.DataFrame:
    """Per year: the median domain's synthetic share, the domains' quartiles and how many domains had a share."""
    s = dy.dropna(subset=[S.SYNTHETIC_RATIO])
    out = s.groupby(S.YEAR)[S.SYNTHETIC_RATIO].agg(
        median="median", q25=lambda v: v.quantile(0.25), q75=lambda v: v.quantile(0.75), n_domains="count")
    return out.reset_index()


def top_risers(dy: pd.DataFrame, n: int) -> pd.DataFrame:
    """Domains with a synthetic share in two or more years, by rise from their first to their last such year
    (largest first; ties by name, so the ranking is stable)."""
    s = dy.dropna(subset=[S.SYNTHETIC_RATIO]).sort_values([S.REGISTERED_DOMAIN, S.YEAR])
    g = s.groupby(S.REGISTERED_DOMAIN)
    out = pd.DataFrame({"first_year": g[S.YEAR].first(), "last_year": g[S.YEAR].last(),
                        "first_share": g[S.SYNTHETIC_RATIO].first(), "last_share": g[S.SYNTHETIC_RATIO].last()})
    out = out[out["last_year"] > out["first_year"]]
    out["rise"] = out["last_share"] - out["first_share"]
    out = out.reset_index().sort_values(["rise", S.REGISTERED_DOMAIN], ascending=[False, True])
    return out.head(n).reset_index(drop=True)


def vintage_index(dy: pd.DataFrame, min_years: int, n: int) -> pd.DataFrame:
    """The vintage index of each domain audited in at least ``min_years`` years (highest first; see the README).

    Per (domain, year): human = 1 − upper end of the synthetic share's 95% interval (a domain is credited only
    with the human share its evidence guarantees); original = (1 − cross-snapshot near-duplicate share) ×
    (1 − removable near-duplicate share); diverse = entropy / log2(token budget). The year's score is their
    product, and the domain's index is its **worst** year's score: a domain is vintage only if it stayed so.
    """
    d = dy.dropna(subset=[S.SYNTHETIC_RATIO_HI, "entropy_norm"]).copy()
    d["human"] = 1.0 - d[S.SYNTHETIC_RATIO_HI]
    d["original"] = (1.0 - d[S.CROSS_SNAPSHOT_NEAR_DUP_FRAC]) * (1.0 - d[S.NEAR_DUP_REMOVABLE_FRAC])
    d["diverse"] = d["entropy_norm"]
    d["score"] = (d["human"] * d["original"] * d["diverse"]).clip(0.0, 1.0)
    g = d.groupby(S.REGISTERED_DOMAIN)
    out = pd.DataFrame({"n_years": g[S.YEAR].nunique(), "first_year": g[S.YEAR].min(), "last_year": g[S.YEAR].max(),
                        "vintage_index": g["score"].min(), "human": g["human"].min(),
                        "original": g["original"].min(), "diverse": g["diverse"].min()})
    out = out[out["n_years"] >= min_years].reset_index()
    out = out.sort_values(["vintage_index", S.REGISTERED_DOMAIN], ascending=[False, True])
    return out.head(n).reset_index(drop=True)


# --- reading --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class ReportData:
    year_stats: pd.DataFrame
    snapshot_stats: pd.DataFrame
    domain_stats: pd.DataFrame
    versions: dict[str, int]
    language_stats: pd.DataFrame | None = None   # None: a warehouse audited before languages were recorded
    year_language_stats: pd.DataFrame | None = None


def load_tables(wh) -> ReportData:
    """The three published tables of the ``Warehouse`` as pandas frames (delta-rs, no Spark), with the Delta
    versions read."""
    from crawlaudit.warehouse import TableMissing, tables

    frames, versions = {}, {}
    for name in (tables.YEAR_STATS, tables.SNAPSHOT_STATS, tables.DOMAIN_STATS):
        try:
            frames[name] = wh.read_arrow(name).to_pandas()
            versions[name] = wh.version(name)
        except TableMissing as e:
            raise CrawlauditError(str(e)) from None
        except Exception as e:  # noqa: BLE001 - unreachable store, refused credentials: say so, not "no audit"
            raise CrawlauditError(f"cannot read {wh.display}/{name}: {type(e).__name__}: {e}") from None
    if frames[tables.YEAR_STATS].empty:
        raise CrawlauditError(f"{wh.display}/{tables.YEAR_STATS} is empty: run an audit first")
    optional = {}
    for name in (tables.LANGUAGE_STATS, tables.YEAR_LANGUAGE_STATS):
        try:
            optional[name] = wh.read_arrow(name).to_pandas()
        except TableMissing:
            optional[name] = None
    return ReportData(frames[tables.YEAR_STATS].sort_values(S.YEAR).reset_index(drop=True),
                      frames[tables.SNAPSHOT_STATS].sort_values(S.SNAPSHOT).reset_index(drop=True),
                      frames[tables.DOMAIN_STATS], versions, optional[tables.LANGUAGE_STATS],
                      optional[tables.YEAR_LANGUAGE_STATS])


def language_mix(language_stats: pd.DataFrame | None) -> pd.DataFrame:
    """Per year: the share of the year's documents in each language (one column per language, most frequent
    first); empty without language_stats. Takes language_stats or year_language_stats rows."""
    if language_stats is None or language_stats.empty:
        return pd.DataFrame()
    docs = language_stats.groupby([S.YEAR, S.LANGUAGE])[S.N_DOCS].sum().unstack(fill_value=0)
    docs = docs[docs.sum().sort_values(ascending=False).index]
    mix = docs.div(docs.sum(axis=1), axis=0)
    mix.columns = [str(c) for c in mix.columns]
    return mix.reset_index()


# --- drawing --------------------------------------------------------------------------------------------------

def _figure(title: str, wide: bool = False):
    import matplotlib

    matplotlib.use("Agg")  # no display: the report is written by jobs and on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9 if wide else 7.5, 4.2), dpi=100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def _year_axis(ax, years: list[int]) -> None:
    ax.set_xticks(years, [str(y) for y in years])
    ax.set_xlim(min(years) - 0.5, max(years) + 0.5)
    ax.set_xlabel("year")


def _line(ax, years, values, label, band=None, style="-o", alpha=0.2) -> None:
    values = np.asarray(values, dtype=float)
    if np.isnan(values).all():
        return
    line, = ax.plot(years, values, style, label=label)
    if band is not None:
        ax.fill_between(years, np.asarray(band[0], float), np.asarray(band[1], float), color=line.get_color(),
                        alpha=alpha, linewidth=0)


def _note_if_empty(ax, message: str) -> None:
    if not ax.lines:
        ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


def language_lines(year_language_stats: pd.DataFrame | None, column: str, years: list[int],
                   n: int = LANGUAGE_LINES) -> dict[str, pd.Series]:
    """language → ``column`` per year (NaN where the language has no value that year), for the ``n`` languages
    with the most documents that have a value in some year; empty without year_language_stats."""
    if year_language_stats is None or year_language_stats.empty or column not in year_language_stats:
        return {}
    rows = year_language_stats
    if column in (S.ENTROPY_BITS, S.ENTROPY_CS_BITS):   # below the budget an entropy is not comparable
        rows = rows[rows[S.ENTROPY_BUDGET_MET].fillna(False).astype(bool)]
    rows = rows[rows[column].notna()]
    top = rows.groupby(S.LANGUAGE)[S.N_DOCS].sum().sort_values(ascending=False, kind="stable").head(n).index
    return {str(lang): rows[rows[S.LANGUAGE] == lang].set_index(S.YEAR)[column].reindex(years) for lang in top}


def _language_lines(ax, lines: dict[str, pd.Series], years: list[int]) -> None:
    if len(lines) < 2:   # one language: the pooled line is its line
        return
    for lang, values in lines.items():
        _line(ax, years, values, lang, style=":.")


def plot_synthetic(ys: pd.DataFrame, med: pd.DataFrame, years: list[int], by_language: pd.DataFrame | None = None):
    fig, ax = _figure(PLOTS["synthetic_share.png"][0])
    _line(ax, ys[S.YEAR], ys[S.SYNTHETIC_RATIO], "pooled (95% interval)",
          (ys[S.SYNTHETIC_RATIO_LO], ys[S.SYNTHETIC_RATIO_HI]))
    if len(med):
        _line(ax, med[S.YEAR], med["median"], "median domain (domains' IQR)", (med["q25"], med["q75"]), "--s", 0.12)
    _language_lines(ax, language_lines(by_language, S.SYNTHETIC_RATIO, years), years)
    if S.SYNTHETIC_UNINFORMATIVE in ys:   # warehouses audited before the column existed have none
        wide = ys[ys[S.SYNTHETIC_UNINFORMATIVE].fillna(False).astype(bool) & ys[S.SYNTHETIC_RATIO].notna()]
        if len(wide):
            ax.plot(wide[S.YEAR], wide[S.SYNTHETIC_RATIO], "x", color="0.2", markersize=10,
                    label="interval uninformative (too wide to rely on)")
    _note_if_empty(ax, "no synthetic-share estimates (audited without a detector model)")
    ax.set_ylabel("share of documents")
    ax.set_ylim(bottom=0)
    _year_axis(ax, years)
    ax.legend(loc="upper left")
    return fig, ax


def plot_entropy(ys: pd.DataFrame, years: list[int], by_language: pd.DataFrame | None = None):
    fig, ax = _figure(PLOTS["entropy.png"][0])
    _line(ax, ys[S.YEAR], ys[S.ENTROPY_CS_BITS], "Chao–Shen corrected (95% interval)",
          (ys[S.ENTROPY_CS_LO], ys[S.ENTROPY_CS_HI]))
    budget = int(ys[S.ENTROPY_BUDGET_TOKENS].max())
    _line(ax, ys[S.YEAR], ys[S.ENTROPY_BITS].where(ys[S.ENTROPY_BUDGET_MET].astype(bool)),
          f"plug-in at {budget:,} tokens", style="--s")
    _language_lines(ax, language_lines(by_language, S.ENTROPY_CS_BITS, years), years)
    _note_if_empty(ax, "no entropy estimates")
    ax.set_ylabel("bits per token")
    _year_axis(ax, years)
    ax.legend(loc="lower left")
    return fig, ax


def plot_language_mix(mix: pd.DataFrame, years: list[int], n: int = LANGUAGE_LINES):
    """Stacked bars of each year's language shares (``language_mix``): the ``n`` largest languages, the rest as
    other."""
    fig, ax = _figure(PLOTS["language_mix.png"][0])
    if mix.empty:
        _note_if_empty(ax, "no language_stats (audited before languages were recorded)")
    else:
        shares = mix.set_index(S.YEAR).reindex(years).fillna(0.0)
        shown = list(shares.columns[:n])
        if len(shares.columns) > n:
            shares = shares[shown].assign(other=shares[shares.columns[n:]].sum(axis=1))
            shown.append("other")
        bottom = np.zeros(len(years))
        for lang in shown:
            ax.bar(years, shares[lang].to_numpy(float), bottom=bottom, label=lang, width=0.6)
            bottom += shares[lang].to_numpy(float)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    ax.set_ylabel("share of documents")
    ax.set_ylim(0, 1.0)
    _year_axis(ax, years)
    return fig, ax


def plot_fractions(ys: pd.DataFrame, years: list[int], title: str, columns: dict[str, str]):
    fig, ax = _figure(title)
    for column, label in columns.items():
        if column in ys:
            _line(ax, ys[S.YEAR], ys[column], label)
    _note_if_empty(ax, "not measured in these tables")
    ax.set_ylabel("share")
    ax.set_ylim(0, max(0.05, float(np.nanmax(ys[[c for c in columns if c in ys]].to_numpy(float),
                                             initial=0.0)) * 1.15))
    _year_axis(ax, years)
    ax.legend(loc="best")
    return fig, ax


def plot_ranking(frame: pd.DataFrame, value: str, title: str, xlabel: str, empty: str, labels=None):
    fig, ax = _figure(title, wide=True)
    if frame.empty:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", color="0.4")
        ax.set_yticks([])
    else:
        f = frame.iloc[::-1]
        ax.barh(f[S.REGISTERED_DOMAIN], f[value], color="tab:red" if value == "rise" else "tab:green")
        for i, text in enumerate((labels(f) if labels else [])):
            ax.text(0, i, f" {text}", va="center", fontsize=7, color="white" if f[value].iloc[i] > 0.2 else "0.2")
        ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig, ax


# --- writing --------------------------------------------------------------------------------------------------

def _save(fig, ax, path: Path) -> dict:
    import matplotlib.pyplot as plt

    fig.savefig(path, format="png", bbox_inches="tight")
    entry = {"file": path.name, "title": PLOTS[path.name][0], "bytes": path.stat().st_size,
             "x_ticks": [t.get_text() for t in ax.get_xticklabels()],
             "y_ticks": [t.get_text() for t in ax.get_yticklabels()]}
    plt.close(fig)
    return entry


def _table(frame: pd.DataFrame, formats: dict[str, str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = []
    for r in frame.to_dict("records"):
        cells = []
        for c in frame.columns:
            v = r[c]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                text = "–"
            elif isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
                text = format(v, formats.get(c, ""))
            else:
                text = str(v)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>crawlaudit trend report</title>
<style>
body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}} th{{background:#f3f3f3}}
figure{{margin:1.5em 0}} figcaption{{color:#555;font-size:13px}} img{{max-width:100%;border:1px solid #eee}}
.meta{{color:#666;font-size:13px}}
</style></head>
<body data-plots-total="{n_plots}">
<h1>crawlaudit trend report</h1>
<p class="meta">Warehouse <code>{warehouse}</code>; tables year_stats v{v_year}, snapshot_stats v{v_snap},
domain_stats v{v_dom}; {n_snapshots} snapshots ({snapshots}), {n_domains} domains. Written {written}.
<span id="load-status">plots loaded: not checked (open in a browser)</span></p>
<h2>Per year</h2>
{year_table}
{figures}
<h2>Domains whose AI-generated share rose most</h2>
<p>Among domains with at least {min_docs} documents in two or more audited years: synthetic share in the domain's
first audited year and in its last.</p>
{risers_table}
<h2>Vintage index</h2>
<p>Per domain and year: <i>human</i> = 1 − upper end of the synthetic share's 95% interval; <i>original</i> =
(1 − share of documents with a near-duplicate in an earlier snapshot) × (1 − removable near-duplicate share);
<i>diverse</i> = entropy at the token budget / log2(budget). The year's score is their product; a domain's vintage
index is its <b>worst</b> year's score, over at least {min_years} audited years with {min_docs}+ documents. 1 is
unreachable (entropy never reaches log2 of the budget); compare domains, not absolute values.</p>
{vintage_table}
<h2>Per snapshot</h2>
{snapshot_table}
<h2>Languages</h2>
<p>Share of each year's documents per language (ISO 639-3; <code>und</code>: undetermined). Entropy and diversity
are measured per language and weighted by documents (<code>entropy_pooling</code>), and the synthetic share covers
only the detector's languages (<code>synthetic_unsupported_frac</code>: the documents it cannot judge).</p>
{language_mix_table}
<p>Per year and language (<code>year_language_stats</code>): the year's snapshots pooled language by language.</p>
{year_language_table}
<p>Per snapshot and language (<code>language_stats</code>): entropy on the language's own documents (null below the
token budget).</p>
{language_table}
<script>
window.addEventListener("load", function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }}).length;
  document.body.setAttribute("data-plots-loaded", String(ok));
  document.getElementById("load-status").textContent = "plots loaded: " + ok + "/" + imgs.length;
}});
</script>
</body></html>
"""


def write_report(data: ReportData, out_dir: str, cfg: ReportConfig, warehouse: str) -> dict:
    """Draw the plots and write ``index.html`` and ``report.json`` (what was drawn, with each plot's axis labels)
    into ``out_dir``, replacing the previous report only once the new one is complete."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-new-", dir=out.parent))
    try:
        manifest = _write_into(tmp, data, cfg, warehouse)
        for _ in range(5):  # another writer may swap its report in between: move it aside and try again
            old = Path(tempfile.mkdtemp(prefix=".report-old-", dir=out.parent))
            try:
                os.replace(out, old)
            except FileNotFoundError:
                pass
            try:
                os.replace(tmp, out)
                break
            except OSError:
                continue
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            raise CrawlauditError(f"could not replace {out}: other processes keep writing it")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _write_into(out: Path, data: ReportData, cfg: ReportConfig, warehouse: str) -> dict:
    ys, ds = data.year_stats, data.domain_stats
    years = [int(y) for y in ys[S.YEAR]]
    dy = domain_years(ds, cfg.min_docs)
    med = median_domain_by_year(dy)
    risers = top_risers(dy, cfg.top_n)
    vintage = vintage_index(dy, cfg.vintage_min_years, cfg.top_n)
    by_language = data.year_language_stats
    mix = language_mix(by_language if by_language is not None and not by_language.empty else data.language_stats)
    figures = {
        "synthetic_share.png": plot_synthetic(ys, med, years, by_language),
        "entropy.png": plot_entropy(ys, years, by_language),
        "language_mix.png": plot_language_mix(mix, years),
        "duplication.png": plot_fractions(ys, years, PLOTS["duplication.png"][0], {
            S.EXACT_DUP_FRAC: "exact duplicates", S.NEAR_DUP_FRAC: "near-duplicates",
            S.DUP_LINE_FRAC: "repeated lines (share of lines)"}),
        "reuse.png": plot_fractions(ys, years, PLOTS["reuse.png"][0], {
            S.CROSS_SNAPSHOT_DUP_FRAC: "exact text seen before", S.CROSS_SNAPSHOT_NEAR_DUP_FRAC: "near-duplicate seen before"}),
        "risers.png": plot_ranking(risers, "rise", PLOTS["risers.png"][0], "rise in synthetic share",
                                   "no domain has a synthetic share in two audited years",
                                   lambda f: [f"{a:.2f} ({y0}) → {b:.2f} ({y1})" for a, b, y0, y1 in
                                              zip(f["first_share"], f["last_share"], f["first_year"], f["last_year"])]),
        "vintage.png": plot_ranking(vintage, "vintage_index", PLOTS["vintage.png"][0], "vintage index (worst year)",
                                    f"no domain audited in {cfg.vintage_min_years}+ years with a synthetic share"),
    }
    plots = [_save(fig, ax, out / name) for name, (fig, ax) in figures.items()]
    year_cols = [S.YEAR, S.N_SNAPSHOTS, S.N_DOCS, S.SYNTHETIC_RATIO, S.SYNTHETIC_RATIO_LO, S.SYNTHETIC_RATIO_HI,
                 S.SYNTHETIC_UNINFORMATIVE, S.SYNTHETIC_UNSUPPORTED_FRAC, S.ENTROPY_CS_BITS, S.ENTROPY_POOLING,
                 S.EXACT_DUP_FRAC, S.NEAR_DUP_FRAC, S.DUP_LINE_FRAC, S.CROSS_SNAPSHOT_DUP_FRAC,
                 S.CROSS_SNAPSHOT_NEAR_DUP_FRAC]
    lang_cols = [S.SNAPSHOT, S.LANGUAGE, S.N_DOCS, S.LANGUAGE_SHARE, S.N_DOCS_DETECTED, S.N_DOMAINS, S.ENTROPY_CS_BITS,
                 S.EXACT_DUP_FRAC, S.NEAR_DUP_FRAC]
    langs = (data.language_stats.sort_values([S.SNAPSHOT, S.N_DOCS], ascending=[True, False])
             if data.language_stats is not None else pd.DataFrame(columns=lang_cols))
    year_lang_cols = [S.YEAR, S.LANGUAGE, S.N_DOCS, S.LANGUAGE_SHARE, S.N_DOCS_DETECTED, S.ENTROPY_CS_BITS,
                      S.SYNTHETIC_RATIO, S.SYNTHETIC_RATIO_LO, S.SYNTHETIC_RATIO_HI, S.EXACT_DUP_FRAC, S.NEAR_DUP_FRAC]
    year_langs = (by_language.sort_values([S.YEAR, S.N_DOCS], ascending=[True, False])
                  if by_language is not None else None)
    snap_cols = [S.SNAPSHOT, S.N_DOMAINS, S.N_DOCS, S.SYNTHETIC_RATIO, S.SYNTHETIC_UNINFORMATIVE, S.ENTROPY_CS_BITS, S.EXACT_DUP_FRAC,
                 S.NEAR_DUP_FRAC, S.CROSS_SNAPSHOT_NEAR_DUP_FRAC, S.ERROR_FRAC]
    f4 = {c: ".4f" for c in year_cols + snap_cols + ["first_share", "last_share", "rise", "vintage_index", "human",
                                                       "original", "diverse"]}
    f4.update({S.YEAR: "d", S.N_SNAPSHOTS: "d", "first_year": "d", "last_year": "d", "n_years": "d",
               S.N_DOCS: ",", S.N_DOMAINS: ","})
    figures_html = "\n".join(
        f'<figure><img src="{p["file"]}" alt="{html.escape(p["title"])}" width="750">'
        f'<figcaption><b>{html.escape(p["title"])}</b>: {html.escape(PLOTS[p["file"]][1])}</figcaption></figure>'
        for p in plots if p["file"] in PER_YEAR_PLOTS)
    ranking_fig = {p["file"]: f'<figure><img src="{p["file"]}" alt="{html.escape(p["title"])}" width="900"></figure>'
                   for p in plots if p["file"] not in PER_YEAR_PLOTS}
    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = _PAGE.format(
        n_plots=len(plots), warehouse=html.escape(warehouse), v_year=data.versions.get("year_stats", "?"),
        v_snap=data.versions.get("snapshot_stats", "?"), v_dom=data.versions.get("domain_stats", "?"),
        n_snapshots=len(data.snapshot_stats), snapshots=html.escape(", ".join(data.snapshot_stats[S.SNAPSHOT])),
        n_domains=ds[S.REGISTERED_DOMAIN].nunique(), written=written,
        year_table=_table(ys[[c for c in year_cols if c in ys]], f4), figures=figures_html,
        min_docs=cfg.min_docs, min_years=cfg.vintage_min_years,
        risers_table=ranking_fig["risers.png"] + _table(risers, f4),
        vintage_table=ranking_fig["vintage.png"] + _table(vintage, f4),
        snapshot_table=_table(data.snapshot_stats[[c for c in snap_cols if c in data.snapshot_stats]], f4),
        language_mix_table=_table(mix, {**{c: ".4f" for c in mix.columns}, S.YEAR: "d"}) if not mix.empty
        else "<p>No language_stats in this warehouse (audited before languages were recorded).</p>",
        year_language_table=_table(year_langs[[c for c in year_lang_cols if c in year_langs]],
                                   {**f4, S.LANGUAGE_SHARE: ".4f", S.N_DOCS_DETECTED: ","})
        if by_language is not None else "<p>No year_language_stats in this warehouse.</p>",
        language_table=_table(langs[[c for c in lang_cols if c in langs]],
                              {**f4, S.LANGUAGE_SHARE: ".4f", S.N_DOCS_DETECTED: ","}))
    (out / "index.html").write_text(page, encoding="utf-8")
    manifest = {"warehouse": warehouse, "written": written, "years": years, "versions": data.versions,
                "plots": plots, "risers": risers.to_dict("records"), "vintage": vintage.to_dict("records")}
    (out / "report.json").write_text(json.dumps(manifest, indent=1, default=_json_default), encoding="utf-8")
    return manifest


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    return str(v)


# --- checking in a browser ------------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise CrawlauditError("no headless browser found (looked for " + ", ".join(BROWSERS) + "); on Debian/Ubuntu: "
                          "apt-get install chromium")


def check_in_browser(index_html: str, screenshot: str | None = None, timeout_s: float = 120) -> tuple[int, int]:
    """Render the page in headless Chromium (``--headless --no-sandbox --disable-gpu``) and return (images loaded,
    images on the page), read from the DOM after the page's load event; with ``screenshot``, also save a PNG."""
    browser = find_browser()
    url = Path(index_html).resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--allow-file-access-from-files",
             "--virtual-time-budget=10000"]
    with tempfile.TemporaryDirectory(prefix="crawlaudit-chromium-") as profile:
        flags.append(f"--user-data-dir={profile}")
        dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=timeout_s)
        if screenshot:
            subprocess.run([browser, *flags, f"--screenshot={Path(screenshot).resolve()}", "--window-size=1200,5200",
                            "--hide-scrollbars", url], capture_output=True, text=True, timeout=timeout_s, check=False)
    loaded = re.search(r'data-plots-loaded="(\d+)"', dom.stdout)
    total = len(re.findall(r"<img\b", dom.stdout))
    if dom.returncode != 0 or loaded is None:
        raise CrawlauditError(f"{browser} did not render {url} (exit {dom.returncode}): {dom.stderr.strip()[-500:]}")
    return int(loaded.group(1)), total


def refresh(cfg, wh=None, out_dir: str | None = None) -> tuple[str, dict]:
    """Rewrite the report of the warehouse (``wh``, else ``cfg.output``'s) to ``out_dir``, else ``report.out_dir``,
    else ``<warehouse>/_report`` (local warehouses only); (path of index.html, manifest)."""
    from crawlaudit.warehouse import Warehouse

    wh = wh or Warehouse.from_config(cfg.output)
    out = out_dir or cfg.report.out_dir or wh.report_dir()
    if out is None:
        raise CrawlauditError(f"the warehouse {wh.display} is remote: set report.out_dir (or --out) to a local "
                              f"directory for the report")
    manifest = write_report(load_tables(wh), out, cfg.report, wh.display)
    return str(Path(out) / "index.html"), manifest
