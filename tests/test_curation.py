"""The curation view (#19) on hand-made rows: each drop reason in its order, the first-copy and representative rules,
the presets, and the same rows whatever the partitioning."""
import dataclasses

import pytest

from crawlaudit.curation import view as V

A, B = "CC-MAIN-2019-35", "CC-MAIN-2024-22"
DOCS = [  # snapshot, doc_id, domain, content_hash, language, component
    (A, "a0", "old.org", "h1", "eng", "a0"),     # the first copy of h1: the earliest snapshot's smallest doc_id
    (A, "a1", "old.org", "h1", "eng", "a0"),     # the same text again
    (A, "a2", "old.org", None, "eng", "a2"),     # template only: no main content
    (A, "a3", "greek.gr", "h6", "ell", "a3"),    # not scored (the detector's languages): never judged AI
    (A, "a4", "spam.net", "h7", "eng", "a4"),
    (B, "b1", "new.com", "h1", "eng", "b1"),     # h1 reposted exactly, five years later
    (B, "b2", "new.com", "h2", "eng", "b2"),     # written by a model
    (B, "b3", "new.com", "h3", "eng", "b2"),     # a near-duplicate of b2
    (B, "b4", "new.com", "h4", "eng", "b4"),     # a near-duplicate of an earlier snapshot's page
    (B, "b5", "new.com", "h5", "eng", "b5"),     # human, new, but not vintage
]
SCORES = {"a0": 0.1, "a1": 0.1, "a4": 0.2, "b1": 0.1, "b2": 0.9, "b3": 0.8, "b4": 0.1, "b5": 0.1}
VINTAGE_INDEX = {"old.org": 0.9, "greek.gr": 0.7, "spam.net": 0.1}   # new.com has none


def curate(spark, policy, partitions=1):
    docs = spark.createDataFrame(
        [(s, d, dom, h, lang, f"s3://crawl/{s}/f.wet.gz", 1000 * i, f"<urn:uuid:{d}>", f"https://{dom}/{d}", c)
         for i, (s, d, dom, h, lang, c) in enumerate(DOCS)],
        "snapshot string, doc_id string, registered_domain string, content_hash string, language string, "
        "file string, offset long, record_id string, url string, component string").repartition(partitions)
    scores = spark.createDataFrame([(d, p, p >= 0.5) for d, p in SCORES.items()],
                                   "doc_id string, ai_prob double, is_ai_flagged boolean")
    reposted = spark.createDataFrame([("b4",)], "doc_id string")
    vintage = spark.createDataFrame(list(VINTAGE_INDEX.items()), "registered_domain string, domain_vintage_index double")
    rows = docs.transform(V.curation_rows(V.first_copies(docs), scores, reposted, vintage, policy))
    assert rows.columns == V.CURATION_COLUMNS
    return {r.doc_id: r for r in rows.collect()}


def test_each_document_gets_the_first_reason_that_applies(spark):
    got = curate(spark, V.PRESETS["vintage-human-unique"])
    assert {d: r.drop_reason for d, r in got.items()} == {
        "a0": None, "a1": V.DUPLICATE, "a2": V.NO_CONTENT, "a3": None, "a4": None, "b1": V.DUPLICATE,
        "b2": V.LIKELY_AI, "b3": V.NEAR_DUPLICATE, "b4": V.REPOSTED, "b5": V.NOT_VINTAGE}
    assert all(r.keep == (r.drop_reason is None) for r in got.values())
    a0, b1, b3 = got["a0"], got["b1"], got["b3"]
    assert (a0.is_first_copy, a0.first_seen_snapshot, a0.vintage, a0.exact_dup_group) == (True, A, True, "h1")
    assert (b1.is_first_copy, b1.first_seen_snapshot, b1.vintage) == (False, A, True)   # a repost of vintage text
    assert (b3.near_dup_cluster, b3.is_cluster_representative, got["b2"].is_cluster_representative) == (
        f"{B}/b2", False, True)
    assert (a0.warc_file, a0.warc_offset, a0.warc_record_id, a0.year) == (f"s3://crawl/{A}/f.wet.gz", 0, "<urn:uuid:a0>",
                                                                          2019)
    assert got["a3"].ai_prob is None and got["b4"].is_reposted and not got["b5"].vintage


def test_policies_and_presets(spark):
    dedup = curate(spark, V.PRESETS["dedup-only"])
    assert sorted(d for d, r in dedup.items() if r.keep) == ["a0", "a3", "a4", "b2", "b4", "b5"]
    strict = dataclasses.replace(V.PRESETS["vintage-human-unique"], min_domain_vintage_index=0.5, languages=("eng",))
    got = curate(spark, strict)
    assert (got["a3"].drop_reason, got["a4"].drop_reason, got["a0"].keep) == (V.LANGUAGE, V.LOW_TRUST, True)
    # a domain without a vintage index is not trusted either; a stricter AI threshold drops more
    assert curate(spark, dataclasses.replace(strict, require_vintage=False))["b5"].drop_reason == V.LOW_TRUST
    assert curate(spark, dataclasses.replace(V.PRESETS["dedup-only"], max_ai_prob=0.15))["a4"].drop_reason == \
        V.LIKELY_AI


@pytest.mark.parametrize("partitions", [3, 7])
def test_same_rows_whatever_the_partitioning(spark, partitions):
    policy = V.PRESETS["vintage-human-unique"]
    assert curate(spark, policy, partitions) == curate(spark, policy)


def test_export_of_the_audited_warehouse(audited, spark, tmp_path, capsys):
    """`crawlaudit export` on the e2e warehouse (vintage-human-unique): a row per document; kept rows are vintage
    first copies and cluster representatives the detector does not call AI, one per text and per cluster; the
    documents whose text an earlier snapshot had are the audit's cross-snapshot duplicates; the offsets list is the
    kept rows'; 16 shuffle partitions give the same rows."""
    from crawlaudit import cli
    from crawlaudit.warehouse import Warehouse

    def export(out, *extra):
        args = ["export", "--warehouse", audited["wh"], "--year", "2019", "--year", "2021", "--snapshot",
                "CC-MAIN-2024-22", "--out", str(out), *audited["model_args"], *extra]
        assert cli.main(args) == 0
        return {r["doc_id"]: r for r in (x.asDict() for x in spark.read.parquet(str(out / "curation")).collect())}

    rows = export(tmp_path / "a")
    printed = capsys.readouterr().out
    snaps = {r["snapshot"]: r for r in Warehouse.at(audited["wh"]).read_arrow("snapshot_stats").to_pylist()}
    assert {s: sum(r["snapshot"] == s for r in rows.values()) for s in snaps} == {s: r["n_docs"] for s, r in snaps.items()}
    for s, r in snaps.items():
        assert f"{r['year']}: {r['n_docs']:,} documents, kept " in printed
    kept = [r for r in rows.values() if r["keep"]]
    assert kept and all(r["drop_reason"] is None and r["is_first_copy"] and r["is_cluster_representative"]
                        and r["vintage"] and not r["is_reposted"] and (r["ai_prob"] is None or r["ai_prob"] < 0.5)
                        for r in kept)
    assert not [r for r in kept if r["year"] >= 2023] and {r["year"] for r in kept} == {2019, 2021}
    for key in ("exact_dup_group", "near_dup_cluster"):                    # one document per text, per cluster
        assert len({r[key] for r in kept}) == len(kept), key
    for s, r in snaps.items():    # seen in an earlier snapshot: what the audit counted against content_hashes
        mine = [x for x in rows.values() if x["snapshot"] == s]
        assert sum(x["first_seen_snapshot"] < s for x in mine) == r["n_cross_snapshot_dup_docs"], s
        assert sum(x["drop_reason"] == V.REPOSTED for x in mine) <= r["n_cross_snapshot_near_dup_docs"], s
    likely_ai = [r for r in rows.values() if r["drop_reason"] == V.LIKELY_AI]
    assert likely_ai and {r["language"] for r in likely_ai} == {"eng"} and min(r["ai_prob"] for r in likely_ai) >= 0.5
    lines = set()
    for f in (tmp_path / "a" / "keep_offsets").glob("part-*"):
        lines |= set(f.read_text().split("\n")) - {""}
    assert lines == {f"{r['warc_file']} {r['warc_offset']}" for r in kept}
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        assert export(tmp_path / "b", "--set", "spark.shuffle_partitions=16") == rows
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", partitions)


def test_export_refuses_snapshots_audited_before_the_evidence_was_kept(spark, tmp_path):
    from crawlaudit.config import DedupConfig
    from crawlaudit.curation import export
    from crawlaudit.errors import InputError
    from crawlaudit.metrics.neardup import NearDupParams
    from crawlaudit.warehouse import Warehouse

    wh = Warehouse.at(str(tmp_path / "wh"), spark)
    old = spark.createDataFrame([(A, "a0", "old.org", "h1", "main", "eng", "header")],
                                "snapshot string, doc_id string, registered_domain string, content_hash string, "
                                "hashed_text string, language string, language_source string")
    wh.replace_snapshot(old, "doc_hashes", A)
    with pytest.raises(InputError, match="re-audit"):
        export.curate(wh, [A], V.PRESETS["dedup-only"], NearDupParams.from_config(DedupConfig()), None, 30, 2)
