"""Delta writes: partition replacement, the earliest-first content hash merge, the run log, reading back."""
from datetime import datetime, timezone

import pytest

from crawlaudit import tables
from crawlaudit.errors import ConfigError


def rows(wh, name):
    return sorted(tables.read_table_arrow(wh, name).to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def test_replace_snapshot_replaces_only_its_partition(spark, tmp_path):
    wh = str(tmp_path)
    schema = "snapshot string, registered_domain string, n_docs long"
    a = spark.createDataFrame([("CC-MAIN-2019-35", "a.com", 3), ("CC-MAIN-2019-35", "b.com", 1)], schema)
    b = spark.createDataFrame([("CC-MAIN-2020-34", "a.com", 5)], schema)
    tables.replace_snapshot(a, wh, "t", "CC-MAIN-2019-35")
    tables.replace_snapshot(b, wh, "t", "CC-MAIN-2020-34")
    tables.replace_snapshot(a.where("registered_domain = 'a.com'"), wh, "t", "CC-MAIN-2019-35")
    tables.replace_snapshot(a.where("registered_domain = 'a.com'"), wh, "t", "CC-MAIN-2019-35")
    assert rows(wh, "t") == [
        {"snapshot": "CC-MAIN-2019-35", "registered_domain": "a.com", "n_docs": 3},
        {"snapshot": "CC-MAIN-2020-34", "registered_domain": "a.com", "n_docs": 5},
    ]


def test_replace_snapshot_refuses_anything_but_a_snapshot_id(spark, tmp_path):
    df = spark.createDataFrame([("x",)], "snapshot string")
    with pytest.raises(ConfigError):
        tables.replace_snapshot(df, str(tmp_path), "t", "x' OR '1'='1")


def test_content_hashes_keep_the_earliest_snapshot_whatever_the_audit_order(spark, tmp_path, caplog):
    """Earliest snapshot per (hash, hashed text); a table from before hashed_text existed (whole-page hashes) gains
    the column, its rows read as page hashes and are never compared with main-content ones."""
    wh = str(tmp_path)
    spark.createDataFrame([("h1", "CC-MAIN-2021-31", "https://old/1"), ("h2", "CC-MAIN-2021-31", "https://old/2")],
                          "content_hash string, first_snapshot string, first_url string").write.format("delta").save(
        f"{wh}/content_hashes")
    schema = "content_hash string, first_snapshot string, first_url string, hashed_text string"
    tables.merge_content_hashes(spark, spark.createDataFrame(
        [("h1", "CC-MAIN-2024-22", "https://late/1", "main"), ("h2", "CC-MAIN-2024-22", "https://late/2", "main")],
        schema), wh)
    tables.merge_content_hashes(spark, spark.createDataFrame(
        [("h1", "CC-MAIN-2019-35", "https://early/1", "main"), ("h3", "CC-MAIN-2019-35", "https://early/3", "main")],
        schema), wh)
    tables.merge_content_hashes(spark, spark.createDataFrame(  # rerun of the later snapshot changes nothing
        [("h1", "CC-MAIN-2024-22", "https://late/1", "main"), ("h2", "CC-MAIN-2024-22", "https://late/2", "main")],
        schema), wh)
    assert rows(wh, "content_hashes") == [
        {"content_hash": "h1", "first_snapshot": "CC-MAIN-2019-35", "first_url": "https://early/1", "hashed_text": "main"},
        {"content_hash": "h1", "first_snapshot": "CC-MAIN-2021-31", "first_url": "https://old/1", "hashed_text": None},
        {"content_hash": "h2", "first_snapshot": "CC-MAIN-2021-31", "first_url": "https://old/2", "hashed_text": None},
        {"content_hash": "h2", "first_snapshot": "CC-MAIN-2024-22", "first_url": "https://late/2", "hashed_text": "main"},
        {"content_hash": "h3", "first_snapshot": "CC-MAIN-2019-35", "first_url": "https://early/3", "hashed_text": "main"},
    ]
    caplog.set_level("WARNING", logger="crawlaudit.tables")
    prior = tables.read_prior_hashes(spark, wh, "CC-MAIN-2024-22", "main")
    assert sorted((r.content_hash, r.first_snapshot) for r in prior.collect()) == [
        ("h1", "CC-MAIN-2019-35"), ("h3", "CC-MAIN-2019-35")]
    assert "content_hashes of CC-MAIN-2021-31 hash other text (page)" in caplog.text
    page = tables.read_prior_hashes(spark, wh, "CC-MAIN-2024-22", "page")
    assert sorted(r.content_hash for r in page.collect()) == ["h1", "h2"]
    assert tables.read_prior_hashes(spark, str(tmp_path / "none"), "CC-MAIN-2024-22", "main").count() == 0


def test_run_log_goes_from_running_to_final_status(spark, tmp_path):
    wh = str(tmp_path)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    tables.record_run(spark, wh, "r1", "CC-MAIN-2024-22", "running", t0, config={"a": 1}, code_version="v")
    tables.record_run(spark, wh, "r2", "CC-MAIN-2019-35", "running", t0)
    tables.record_run(spark, wh, "r1", "CC-MAIN-2024-22", "succeeded", t0, counts={"n_docs": 7}, finished=True)
    got = {r["run_id"]: r for r in tables.read_table_arrow(wh, "audit_runs").to_pylist()}
    assert got["r1"]["status"] == "succeeded" and dict(got["r1"]["counts"]) == {"n_docs": 7}
    assert got["r1"]["finished_at"] is not None and got["r1"]["config"] == '{"a": 1}'
    assert got["r2"]["status"] == "running" and got["r2"]["finished_at"] is None


def test_columns_only_grow_and_old_rows_stay_readable(spark, tmp_path):
    """A warehouse written before a column existed (synthetic_baseline, n_docs_unscored, …) takes rows that have
    it; the old rows read back with the new columns null, through Spark and through the delta-rs reader."""
    wh = str(tmp_path)
    old = spark.createDataFrame([("CC-MAIN-2019-35", "a.com", 3, 0.1)],
                                "snapshot string, registered_domain string, n_docs long, synthetic_ratio double")
    tables.replace_snapshot(old, wh, "domain_stats", "CC-MAIN-2019-35")
    new = spark.createDataFrame(
        [("CC-MAIN-2024-22", "a.com", 4, 0.3, "vintage-domain", 3, 1)],
        "snapshot string, registered_domain string, n_docs long, synthetic_ratio double, synthetic_baseline string, "
        "synthetic_baseline_n_docs long, n_docs_unscored long")
    tables.replace_snapshot(new, wh, "domain_stats", "CC-MAIN-2024-22")
    got = {r["snapshot"]: r for r in rows(wh, "domain_stats")}
    assert got["CC-MAIN-2019-35"] == {"snapshot": "CC-MAIN-2019-35", "registered_domain": "a.com", "n_docs": 3,
                                      "synthetic_ratio": 0.1, "synthetic_baseline": None,
                                      "synthetic_baseline_n_docs": None, "n_docs_unscored": None}
    assert got["CC-MAIN-2024-22"]["synthetic_baseline"] == "vintage-domain"
    spark_rows = tables.read_snapshot(spark, wh, "domain_stats", "CC-MAIN-2019-35").collect()
    assert spark_rows[0]["n_docs_unscored"] is None and spark_rows[0]["n_docs"] == 3
