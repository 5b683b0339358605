"""End to end: jobs/audit_snapshot.py's main() on a planted corpus with a damaged file, read back with delta-rs."""
from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from crawlaudit import schemas as S
from crawlaudit.devtools.corpus import planted_share
from crawlaudit.warehouse import Warehouse
from tests.e2e import DAMAGED, DAMAGED_DOMAIN, E2E_SNAPSHOT_BUDGET


ENGLISH = ("eng",)   # the e2e detector's language
# how far a language's Chao–Shen entropy at the e2e budget moves between years of the same planted text
# distribution (other documents drawn, budget samples from other domains): sampling noise, not a diversity change
ENTROPY_NOISE_BITS = 0.2


def table(wh, name):
    return Warehouse.at(wh).read_arrow(name).to_pylist()


def test_job_succeeds_and_writes_every_table(audited):
    assert audited["rc"] == 0
    for name in ("domain_stats", "snapshot_stats", "audit_runs", "ingest_errors", "content_hashes", "doc_signatures",
                 "doc_hashes", "doc_scores", "year_stats", "language_stats"):
        assert Warehouse.at(audited["wh"]).read_arrow(name).num_rows > 0, name
    runs = table(audited["wh"], "audit_runs")
    assert sorted(r["status"] for r in runs) == ["succeeded"] * 3
    assert all(r["finished_at"] >= r["started_at"] and json.loads(r["config"])["output"]["warehouse"] for r in runs)


def test_every_suite_passes_on_clean_results_and_is_recorded(audited):
    """Each run validated every table of its snapshot; no critical failure; drift warnings recorded, not blocking;
    data docs rendered; no staging left behind."""
    results = table(audited["wh"], "validation_results")
    runs = {r["run_id"]: r for r in table(audited["wh"], "audit_runs")}
    first = {r["run_id"] for r in results if r["run_id"] in runs and runs[r["run_id"]]["status"] == "succeeded"}
    assert len(first) == 3
    mine = [r for r in results if r["run_id"] in first]
    for run_id in first:
        tables_checked = {r["table_name"] for r in mine if r["run_id"] == run_id}
        assert {"domain_stats", "snapshot_stats", "year_stats", "consistency"} <= tables_checked
        counts = runs[run_id]["counts"]
        counts = dict(counts) if not isinstance(counts, dict) else counts
        assert counts["n_expectations"] == sum(r["run_id"] == run_id for r in mine) >= 180
    assert not [r for r in mine if r["severity"] == "critical" and not r["success"]]
    drift = [r for r in mine if r["table_name"] == "drift"]
    assert {r["snapshot"] for r in drift} == {"CC-MAIN-2021-31", "CC-MAIN-2024-22"}   # the first has no previous
    warned = [r for r in drift if not r["success"]]
    assert warned and all(r["severity"] == "warning" and r["observed"] for r in warned)
    docs = Path(audited["wh"]) / "_data_docs"
    assert (docs / "index.html").is_file() and len(list(docs.glob("validations/**/*.html"))) >= 12
    assert not list((Path(audited["wh"]) / "_staging").glob("*"))


def test_duplication_matches_planted_truth(audited):
    rows = [r for r in table(audited["wh"], "domain_stats") if r["registered_domain"] != DAMAGED_DOMAIN]
    truth = audited["truth"]["snapshots"]
    assert len(rows) == sum(len(s["domains"]) for s in truth.values())
    checked = 0
    for r in rows:
        t = truth[r["snapshot"]]["domains"][r["registered_domain"]]
        assert r["n_docs"] == t["n_docs"]
        assert r["year"] == int(r["snapshot"][8:12])
        # every page wears its site's template: 6 of its lines; no page is template only
        assert 0.2 < r["template_line_frac"] < 0.8 and r["n_docs_template_only"] == 0
        if r["n_docs"] >= 50:
            assert r["exact_dup_frac"] == pytest.approx(t["exact_dup_frac"], abs=0.01)
            assert r["cross_snapshot_dup_frac"] == pytest.approx(t["cross_snapshot_dup_frac"], abs=0.01)
            checked += 1
    assert checked >= 8
    assert any(r["exact_dup_frac"] > 0.2 for r in rows) and any(r["cross_snapshot_dup_frac"] > 0.1 for r in rows)


def test_languages_match_the_planted_truth_and_only_the_detectors_are_scored(audited):
    """Documents per (snapshot, language) exact (the records without a header detected), each domain's primary
    language and language count as planted; the Greek and Korean domains are not scored by the English detector:
    null estimates, every document counted as unsupported, although AI text is planted in one of them."""
    truth = audited["truth"]["snapshots"]
    hashes = table(audited["wh"], "doc_hashes")
    counts = Counter((r["snapshot"], r["language"]) for r in hashes)
    sources = Counter((r["snapshot"], r["language_source"]) for r in hashes)
    damaged = {r["snapshot"]: r["n_docs"] for r in table(audited["wh"], "domain_stats")
               if r["registered_domain"] == DAMAGED_DOMAIN}
    for snapshot, t in truth.items():
        planted = {(snapshot, lang): n + (damaged.get(snapshot, 0) if lang == "eng" else 0)
                   for lang, n in t["language_counts"].items()}
        assert {k: counts[k] for k in planted} == planted and set(t["language_counts"]) == {"eng", "ell", "kor"}
        assert sources[(snapshot, "detected")] == t["n_without_language_header"] > 0
        assert sources[(snapshot, "unknown")] == 0
    rows = [r for r in table(audited["wh"], "domain_stats") if r["registered_domain"] != DAMAGED_DOMAIN]
    foreign = 0
    for r in rows:
        planted = truth[r["snapshot"]]["domains"][r["registered_domain"]]["language_counts"]
        top = min(planted.items(), key=lambda kv: (-kv[1], kv[0]))
        assert (r["primary_language"], r["n_languages"]) == (top[0], len(planted))
        assert r["primary_language_share"] == pytest.approx(top[1] / r["n_docs"])
        if "eng" in planted:
            assert (r["n_docs_unsupported"], r["synthetic_unsupported_frac"]) == (0, 0.0)
            continue
        foreign += 1
        assert (r["n_docs_scored"], r["n_docs_unsupported"], r["n_docs_unscored"]) == (0, r["n_docs"], r["n_docs"])
        assert r["synthetic_unsupported_frac"] == 1.0 and r["synthetic_ratio"] is None and r["synthetic_pacc"] is None
    assert foreign == 6 and max(r["n_languages"] for r in rows) == 2
    # language_stats: one row per (snapshot, language), the planted counts, shares adding up to 1
    langs = table(audited["wh"], "language_stats")
    assert {(r["snapshot"], r["language"]): r["n_docs"] for r in langs} == dict(counts)
    for snapshot, t in truth.items():
        mine = [r for r in langs if r["snapshot"] == snapshot]
        assert sum(r["language_share"] for r in mine) == pytest.approx(1.0)
        assert sum(r["n_docs_detected"] for r in mine) == t["n_without_language_header"]
        assert {r["language"]: r["n_domains"] for r in mine}["ell"] == 2
    eng = [r for r in langs if r["language"] == "eng"]
    assert all(r["n_docs_detected"] == 0 for r in eng)
    # the pooled rows take the languages' own entropy, never a sample mixing them (the e2e budget,
    # E2E_SNAPSHOT_BUDGET, is one every language has in every snapshot): the snapshot's figure is its languages'
    # figures weighted by documents
    assert all(r["entropy_budget_met"] and r["entropy_budget_tokens"] == E2E_SNAPSHOT_BUDGET for r in langs)
    snaps = {r["snapshot"]: r for r in table(audited["wh"], "snapshot_stats")}
    for s in snaps.values():
        mine = [r for r in langs if r["snapshot"] == s["snapshot"]]
        assert_weighted(s, mine)
    # per language: the synthetic share only for the detector's language (the same documents, the same estimate
    # as the snapshot's pooled row), reuse of earlier snapshots adding up to the snapshot's
    for r in langs:
        s = snaps[r["snapshot"]]
        if r["language"] == "eng":
            assert r["n_docs_scored"] == s["n_docs_scored"] and r["synthetic_ratio"] == pytest.approx(
                s["synthetic_ratio"], abs=1e-12)
        else:
            assert (r["n_docs_scored"], r["n_docs_unscored"], r["synthetic_ratio"]) == (0, r["n_docs"], None)
    for s in snaps.values():
        mine = [r for r in langs if r["snapshot"] == s["snapshot"]]
        for k in ("n_cross_snapshot_dup_docs", "n_cross_snapshot_near_dup_docs"):
            assert sum(r[k] for r in mine) == s[k], k
    assert any(t["ai_counts_by_language"].get("ell") for t in truth.values())   # AI text there, not scored


def assert_weighted(pooled: dict, rows: list[dict]) -> None:
    """The pooled row's entropy and diversity are ``rows``' (its languages') weighted by documents."""
    n = sum(r["n_docs"] for r in rows)
    assert n == pooled["n_docs"] and pooled["entropy_pooling"] == "language-weighted"
    for k in ("entropy_bits", "entropy_chao_shen_bits", "entropy_chao_shen_lo", "mattr", "distinct_1"):
        assert pooled[k] == pytest.approx(sum(r["n_docs"] * r[k] for r in rows) / n, abs=1e-12), k


def test_year_language_rows_keep_each_language_flat_while_the_mix_shifts(audited):
    """year_language_stats: the planted documents of each (year, language); the Greek and Korean sites grow from
    half to twice their size, so the mix shifts, while each of their languages' own entropy stays where its
    generator puts it (the same every year) within sampling noise; the year's figure is the languages' weighted by
    documents (so it falls with the mix, more than either language moves); the synthetic share only for the
    detector's language."""
    truth = audited["truth"]["snapshots"]
    rows = table(audited["wh"], "year_language_stats")
    damaged = {r["year"]: r["n_docs"] for r in table(audited["wh"], "domain_stats")
               if r["registered_domain"] == DAMAGED_DOMAIN}
    planted = {(int(snapshot[8:12]), lang): n + (damaged.get(int(snapshot[8:12]), 0) if lang == "eng" else 0)
               for snapshot, t in truth.items() for lang, n in t["language_counts"].items()}
    assert {(r["year"], r["language"]): r["n_docs"] for r in rows} == planted
    assert all(r["n_snapshots"] == 1 and r["entropy_budget_met"] for r in rows)
    years = {r["year"]: r for r in table(audited["wh"], "year_stats")}
    by = {(r["year"], r["language"]): r for r in rows}
    foreign = {y: sum(by[(y, lang)]["language_share"] for lang in ("ell", "kor")) for y in years}
    assert foreign[2019] < foreign[2021] < foreign[2024]                        # the mix shifts
    for lang in ("ell", "kor"):
        own = [by[(y, lang)]["entropy_chao_shen_bits"] for y in sorted(years)]
        assert max(own) - min(own) < ENTROPY_NOISE_BITS, (lang, own)
    pooled = [years[y]["entropy_chao_shen_bits"] for y in sorted(years)]
    assert pooled[0] - pooled[-1] > 2 * ENTROPY_NOISE_BITS                     # what the pooled figure alone shows
    for y, year in years.items():
        assert_weighted(year, [r for r in rows if r["year"] == y])
        eng = by[(y, "eng")]
        assert eng["n_docs_scored"] == year["n_docs_scored"] and eng["synthetic_ratio"] == pytest.approx(
            year["synthetic_ratio"], abs=1e-12)
        for lang in ("ell", "kor"):
            r = by[(y, lang)]
            assert (r["n_docs_scored"], r["n_docs_unscored"], r["synthetic_ratio"]) == (0, r["n_docs"], None)


NEAR_DUP_METRICS = ("near_dup_frac", "near_dup_removable_frac", "cross_snapshot_near_dup_frac", "dup_line_frac")


def test_near_and_line_duplication_match_planted_truth(audited):
    """Within 0.02 of the brute-force truth for every domain with >= 50 documents, and the planted spread is real."""
    rows = [r for r in table(audited["wh"], "domain_stats") if r["registered_domain"] != DAMAGED_DOMAIN]
    truth = audited["truth"]["snapshots"]
    worst = {k: 0.0 for k in NEAR_DUP_METRICS}
    for r in rows:
        t = truth[r["snapshot"]]["domains"][r["registered_domain"]]
        if r["n_docs"] >= 50:
            for k in NEAR_DUP_METRICS:
                worst[k] = max(worst[k], abs(r[k] - t[k]))
        assert r["n_near_dup_docs"] >= r["n_exact_dup_docs"]          # an exact copy is a near-duplicate too
        assert 0.0 <= r["near_dup_removable_frac"] <= r["near_dup_frac"] <= 1.0
        assert all(0.0 <= r[c] <= 1.0 for c in S.REP_SIGNALS)
    print("max |audit - truth|:", worst)
    assert max(worst.values()) <= 0.02, worst
    planted = [t for s in truth.values() for t in s["domains"].values()]
    assert max(t["near_dup_frac"] - t["exact_dup_frac"] for t in planted) > 0.2
    assert max(t["cross_snapshot_near_dup_frac"] - t["cross_snapshot_dup_frac"] for t in planted) > 0.05
    assert max(t["dup_line_frac"] for t in planted) > 0.2
    families = [j for s in truth.values() for f in s["near_dup_families"] for j in f["jaccard_to_root"]]
    assert min(families) < 0.6 and max(families) > 0.95


def test_synthetic_share_recovers_the_planted_share(audited):
    """Pooled per snapshot and per year within 0.05 of the planted share; per-domain intervals cover it."""
    wh, truth = audited["wh"], audited["truth"]
    for r in table(wh, "snapshot_stats"):
        t = planted_share(truth["snapshots"][r["snapshot"]], ENGLISH)
        print(r["snapshot"], "planted", round(t, 3), "audited", r["synthetic_ratio"], r["synthetic_ratio_lo"],
              r["synthetic_ratio_hi"], "cc", r["synthetic_cc"], "mle", r["synthetic_mle"])
        assert r["synthetic_ratio"] == pytest.approx(t, abs=0.05)
        assert r["synthetic_ratio_lo"] <= r["synthetic_ratio"] <= r["synthetic_ratio_hi"]
        foreign = sum(n for lang, n in truth["snapshots"][r["snapshot"]]["language_counts"].items() if lang != "eng")
        assert r["synthetic_method"] == "pacc" and r["n_docs_scored"] == r["n_docs"] - foreign
        assert r["synthetic_baseline"] == "labeled" and r["synthetic_baseline_n_docs"] is None
        assert r["n_docs_unscored"] == r["n_docs_unsupported"] == foreign > 0
        assert r["synthetic_uninformative"] == (r["synthetic_ratio_hi"] - r["synthetic_ratio_lo"] > 0.5)
    for r in table(wh, "year_stats"):
        assert r["synthetic_ratio"] == pytest.approx(planted_share(truth["years"][str(r["year"])], ENGLISH), abs=0.05)
        assert r["n_docs_unsupported"] == sum(n for lang, n in truth["years"][str(r["year"])]["language_counts"].items()
                                              if lang != "eng")
    rows = [r for r in table(wh, "domain_stats") if r["registered_domain"] != DAMAGED_DOMAIN and r["n_docs"] >= 50
            and r["synthetic_ratio"] is not None]
    covered = [r["synthetic_ratio_lo"] <= truth["snapshots"][r["snapshot"]]["domains"][r["registered_domain"]][
        "synthetic_ratio"] <= r["synthetic_ratio_hi"] for r in rows]
    print("per-domain coverage", sum(covered), "/", len(covered))
    assert len(covered) >= 12 and sum(covered) / len(covered) >= 0.8
    planted = [t["synthetic_ratio"] for s in truth["snapshots"].values() for t in s["domains"].values()]
    assert max(planted) > 0.4                              # the planted spread is real
    scores = Warehouse.at(wh).read_arrow("doc_scores")
    assert scores.num_rows == sum(r["n_docs_scored"] for r in table(wh, "snapshot_stats"))
    pooled = {r["snapshot"]: r for r in table(wh, "snapshot_stats")}
    assert pooled["CC-MAIN-2019-35"]["marker_excess_lb"] is None     # no earlier, pre-LLM snapshot to project from
    assert 0.0 <= pooled["CC-MAIN-2021-31"]["marker_excess_lb"] <= 1.0


def test_doc_signatures_kept_for_later_snapshots(audited):
    sigs = Warehouse.at(audited["wh"]).read_arrow("doc_signatures")
    snap = {r["snapshot"]: r["n_docs"] for r in table(audited["wh"], "snapshot_stats")}
    counts = {}
    for s in sigs.column("snapshot").to_pylist():
        counts[s] = counts.get(s, 0) + 1
    assert counts == {s: n for s, n in snap.items() if n}
    assert {len(x) for x in sigs.column("signature").to_pylist()} == {128}


def test_doc_hashes_say_where_to_reread_each_record_and_its_cluster(audited):
    """Each document's file, offset and record id in doc_hashes lead back to its record (the gzip member at the
    offset holds that WARC-Record-ID and URL); its component is its cluster's smallest doc_id."""
    import zlib

    rows = table(audited["wh"], "doc_hashes")
    assert rows and all(r["file"] and r["record_id"] and r["url"] and r["offset"] >= 0 for r in rows)
    for r in sorted(rows, key=lambda r: r["doc_id"])[::25]:
        with open(r["file"].removeprefix("file://"), "rb") as f:
            f.seek(r["offset"])
            member = zlib.decompressobj(wbits=31).decompress(f.read(1 << 20))
        head = member.split(b"\r\n\r\n", 1)[0].decode()
        assert f"WARC-Record-ID: {r['record_id']}" in head and f"WARC-Target-URI: {r['url']}" in head, head
    by_snapshot = defaultdict(set)
    for r in rows:
        by_snapshot[r["snapshot"]].add(r["doc_id"])
    clustered = [r for r in rows if r["component"] != r["doc_id"]]
    assert clustered and all(r["component"] < r["doc_id"] and r["component"] in by_snapshot[r["snapshot"]]
                             for r in clustered)


def test_larger_planted_vocabulary_means_higher_entropy(audited):
    truth = audited["truth"]["snapshots"]
    by_vocab = defaultdict(list)
    for r in table(audited["wh"], "domain_stats"):
        if r["entropy_budget_met"] and r["registered_domain"] != DAMAGED_DOMAIN:
            by_vocab[truth[r["snapshot"]]["domains"][r["registered_domain"]]["vocab_size"]].append(r["entropy_bits"])
    means = [sum(v) / len(v) for _, v in sorted(by_vocab.items())]
    assert len(means) >= 3 and means == sorted(means) and means[-1] - means[0] > 1.0
    met = [r for r in table(audited["wh"], "domain_stats") if r["entropy_budget_met"]]
    for r in met:
        assert r["entropy_chao_shen_lo"] <= r["entropy_chao_shen_bits"] <= r["entropy_chao_shen_hi"]
        assert r["entropy_bits"] <= r["entropy_miller_madow_bits"] and 0 < r["mattr"] <= 1
        assert r["distinct_1"] == r["ttr"] and 0 < r["distinct_2"] <= 1 and 0 < r["gzip_ratio"] < 1
        assert 0.9 < r["zipf_exponent"] < 1.4 and 0 < r["heaps_exponent"] < 1  # planted Zipf exponent 1.1
    below = [r for r in table(audited["wh"], "domain_stats") if not r["entropy_budget_met"]]
    assert below and all(r["entropy_bits"] is None and r["entropy_chao_shen_bits"] is None and r["mattr"] is None
                         for r in below)
    # under the budget in its primary language: the bilingual site's two languages are never pooled into one sample
    assert all(r["n_tokens"] < 10_000 or r["n_languages"] == 2 for r in below)


def test_damaged_input_is_counted_and_good_documents_kept(audited):
    errors = [e for e in table(audited["wh"], "ingest_errors") if e["file"].endswith("damaged.warc.wet.gz")]
    assert sorted(e["error_kind"] for e in errors) == ["corrupt_gzip", "invalid_utf8", "truncated_gzip"]
    damaged = [r for r in table(audited["wh"], "domain_stats") if r["registered_domain"] == DAMAGED_DOMAIN]
    assert [(r["snapshot"], r["n_docs"]) for r in damaged] == [(DAMAGED, 6)]
    snap = {r["snapshot"]: r for r in table(audited["wh"], "snapshot_stats")}[DAMAGED]
    assert snap["n_files"] == 3 and snap["n_error_records"] == 3 and snap["n_failed_files"] == 0
    assert snap["n_records"] == snap["n_docs"] + 3
    assert snap["error_frac"] == pytest.approx(3 / snap["n_records"])


def test_snapshot_stats_pool_the_domains(audited):
    domains = table(audited["wh"], "domain_stats")
    for s in table(audited["wh"], "snapshot_stats"):
        mine = [d for d in domains if d["snapshot"] == s["snapshot"]]
        assert s["n_docs"] == sum(d["n_docs"] for d in mine) and s["n_domains"] == len(mine)
        assert s["n_exact_dup_docs"] == sum(d["n_exact_dup_docs"] for d in mine)
        assert s["exact_dup_frac"] == pytest.approx(s["n_exact_dup_docs"] / s["n_docs"])


def test_bad_arguments_fail_before_spark(audited, capsys):
    assert audited["job"].main(["--snapshot", "CC-MAIN-24-1"]) == 2
    assert "does not parse" in capsys.readouterr().err
    assert audited["job"].main(["--snapshot", "all", "--set", "input.nope=1"]) == 2
    assert "unknown key 'input.nope'" in capsys.readouterr().err
    blocker = Path(audited["wh"]) / "domain_stats" / "_delta_log"
    args = [a for a in audited["args"]] + ["--warehouse", str(next(blocker.iterdir()) / "wh")]
    assert audited["job"].main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output.warehouse" in err[0] and "cannot be written" in err[0]


def test_check_truth_command_agrees(audited, capsys):
    from crawlaudit import cli

    assert cli.main(["check-truth", "--corpus", str(audited["corpus"]), "--warehouse", audited["wh"]]) == 0
    assert "MATCHES" in capsys.readouterr().out
    # the per-domain interval coverage (the demo's large domains; none of the e2e corpus's reaches 200 documents)
    cli.main(["check-truth", "--corpus", str(audited["corpus"]), "--warehouse", audited["wh"],
              "--synthetic-min-docs", "50"])
    assert "per-domain 95% intervals cover the planted share for" in capsys.readouterr().out
    assert cli.main(["summary", "--warehouse", audited["wh"]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["year", "snapshots", "n_docs"] and [l.split()[0] for l in out[1:]] == ["2019", "2021", "2024"]


FIRST = "CC-MAIN-2019-35"
FAST_RETRIES = ["--set", "input.http.backoff_initial_s=0.01", "--set", "input.http.backoff_max_s=0.05",
                "--set", "input.http.max_retries=6", "--set", "spark.shuffle_partitions=2"]


def _numbers(rows):
    return sorted(json.dumps({k: v for k, v in r.items() if k != "run_id"}, sort_keys=True, default=str) for r in rows)


def test_audit_over_a_flaky_server_equals_the_local_audit(audited, tmp_path):
    from tests.flaky_server import FlakyServer

    corpus = audited["corpus"]
    wh = str(tmp_path / "wh")
    with FlakyServer(corpus, default_per_path=["503", "429", "reset", "short", "trickle"]) as srv:
        rc = audited["job"].main(["--snapshot", FIRST, "--manifest", srv.url + "crawl-data/{snapshot}/wet.paths.gz",
                                  "--input-base-url", srv.url, "--warehouse", wh, *FAST_RETRIES,
                                  *audited["model_args"]])
        faults = [a for _, _, a in srv.requests if a != "ok"]
    assert rc == 0
    assert len(faults) >= 5 * 3  # the manifest and both files went through every fault
    local = [r for r in table(audited["wh"], "domain_stats") if r["snapshot"] == FIRST]
    remote = table(wh, "domain_stats")
    assert _numbers(remote) == _numbers(local)
    assert table(wh, "ingest_errors") == []


def test_exhausted_retries_fail_the_file_and_the_threshold_fails_the_run(audited, tmp_path):
    from tests.flaky_server import FlakyServer

    corpus = audited["corpus"]
    rels = gzip.decompress((corpus / "crawl-data" / FIRST / "wet.paths.gz").read_bytes()).decode().split()
    wh = str(tmp_path / "wh")
    with FlakyServer(corpus, per_path={"/" + rels[0]: ["503"] * 50}) as srv:
        rc = audited["job"].main(["--snapshot", FIRST, "--manifest", srv.url + "crawl-data/{snapshot}/wet.paths.gz",
                                  "--input-base-url", srv.url, "--warehouse", wh, *FAST_RETRIES])
    assert rc == 1
    (run,) = table(wh, "audit_runs")
    assert run["status"] == "validation_failed" and "1 of 2 files failed" in run["message"]
    assert not (tmp_path / "wh" / "domain_stats").exists()  # nothing published for a failed snapshot
    failed = [r["expectation"] for r in table(wh, "validation_results") if not r["success"]
              and r["severity"] == "critical"]
    assert failed == ["error_frac_under_threshold"]         # named; nothing else is wrong with the half it read
    quarantine = tmp_path / "wh" / "_quarantine" / FIRST / run["run_id"]
    assert str(quarantine) in run["message"] and (quarantine / "domain_stats").is_dir()
    import pyarrow.parquet as pq

    errors = pq.read_table(quarantine / "ingest_errors").to_pylist()
    assert [(e["error_kind"], e["file"]) for e in errors] == [("fetch_failed", srv.url + rels[0])]
    assert "giving up after 6 retries" in errors[0]["message"]


def test_year_stats_pool_the_snapshots_of_each_year(audited):
    years = {r["year"]: r for r in table(audited["wh"], "year_stats")}
    snaps = table(audited["wh"], "snapshot_stats")
    assert sorted(years) == [2019, 2021, 2024]
    for s in snaps:
        y = years[s["year"]]
        assert y["n_snapshots"] == 1 and y["n_docs"] == s["n_docs"]
        assert y["exact_dup_frac"] == pytest.approx(s["exact_dup_frac"])
        for k in ("near_dup_frac", "cross_snapshot_near_dup_frac", "dup_line_frac"):
            assert y[k] == pytest.approx(s[k]), k
        assert y["entropy_budget_met"] == s["entropy_budget_met"]
        if s["entropy_budget_met"]:  # one snapshot in the year: the year's sample is the snapshot's sample
            assert y["entropy_chao_shen_bits"] == pytest.approx(s["entropy_chao_shen_bits"], abs=1e-9)
            assert y["ttr"] == pytest.approx(s["ttr"], abs=1e-12)
    samples = table(audited["wh"], "token_samples")
    met = [s for s in snaps if s["entropy_budget_met"]]
    per_language = Counter()
    for r in samples:   # one sample per (snapshot, language) with the budget's tokens (only languages that have it)
        per_language[(r["snapshot"], r["language"])] += len(r["tokens"])
    assert met and set(per_language.values()) == {met[0]["entropy_budget_tokens"]}
    assert {s for s, _ in per_language} == {s["snapshot"] for s in met}


def test_vintage_reference_measures_p_on_the_other_pre_llm_documents(audited, spark):
    """human_reference: vintage takes P, fpr and the mean human probability from the doc_scores of every other
    audited snapshot before vintage_before_year, whenever it was audited."""
    import numpy as np

    from crawlaudit.config import load_config
    from crawlaudit.synthetic.step import SyntheticStep

    model = audited["model_args"][1].split("=", 1)[1]
    cfg = load_config(None, {"synthetic.model": model, "synthetic.human_reference": "vintage",
                             "synthetic.vintage_min_docs": 100})
    step = SyntheticStep(spark, cfg.synthetic, Warehouse.at(audited["wh"], spark))
    rows = [r for r in table(audited["wh"], "doc_scores") if r["snapshot"] == "CC-MAIN-2019-35"]
    counts = np.zeros(len(step.params.p_human))
    for r in rows:
        counts[r["ref_words"]] += 1
    vintage = step.params_for("CC-MAIN-2021-31")
    np.testing.assert_allclose(vintage.p_human, (counts + 0.5) / (len(rows) + 1))
    assert vintage.q_ai == step.params.q_ai and vintage.calibration.tpr == step.params.calibration.tpr
    assert vintage.calibration.fpr == pytest.approx(np.mean([r["is_ai_flagged"] for r in rows]))
    assert vintage.calibration.mean_p_human == pytest.approx(np.mean([r["ai_prob"] for r in rows]))
    assert vintage.baseline == "vintage" and vintage.baseline_n_docs == len(rows)
    # the older snapshot is measured against the later-audited vintage one (not zero by construction)
    later = [r for r in table(audited["wh"], "doc_scores") if r["snapshot"] == "CC-MAIN-2021-31"]
    older = step.params_for("CC-MAIN-2019-35")
    assert older.baseline_n_docs == len(later)
    assert older.calibration.fpr == pytest.approx(np.mean([r["is_ai_flagged"] for r in later]))
    # the post-LLM year is measured against both; a year with nothing else falls back to the labeled baseline
    assert step.params_for(["CC-MAIN-2024-22"]).baseline_n_docs == len(rows) + len(later)
    assert step.params_for(["CC-MAIN-2019-35", "CC-MAIN-2021-31"]) == step.params
    # per domain: each vintage domain's own rates, shrunk toward the pool
    params, domains = step.baseline_for("CC-MAIN-2024-22")
    own = {r["registered_domain"]: r for r in domains.rows.collect()}
    assert set(own) <= {r["registered_domain"] for r in rows + later} and len(own) >= 8
    assert 1 <= domains.prior_fpr <= len(rows) + len(later)
