"""The curation view (#19) on hand-made rows: each drop reason in its order, the first-copy and representative rules,
the presets, and the same rows whatever the partitioning."""
import dataclasses

import pytest

from crawlaudit.curation import view as V
from tests.e2e import DAMAGED_DOMAIN

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
    reposted = spark.createDataFrame([("b4", A)], "doc_id string, repost_of_snapshot string")
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
    # a4 (2019, ai_prob 0.2) under a threshold of 0.15: vintage text is human by its date, unless judged too
    assert curate(spark, dataclasses.replace(V.PRESETS["dedup-only"], max_ai_prob=0.15))["a4"].keep
    assert curate(spark, dataclasses.replace(V.PRESETS["dedup-only"], max_ai_prob=0.15, judge_vintage=True)
                  )["a4"].drop_reason == V.LIKELY_AI
    # b4 reposts a 2019 page with light edits: not vintage by its own text; vintage when reposts count as such
    keep_reposts = dataclasses.replace(V.PRESETS["vintage-human-unique"], drop_reposts=False)
    b4 = curate(spark, keep_reposts)["b4"]
    assert (b4.drop_reason, b4.vintage, b4.first_seen_snapshot, b4.repost_of_snapshot) == (V.NOT_VINTAGE, False, B, A)
    b4 = curate(spark, dataclasses.replace(keep_reposts, reposts_count_as_vintage=True))["b4"]
    assert (b4.keep, b4.vintage, b4.first_seen_snapshot) == (True, True, B)


@pytest.mark.parametrize("partitions", [3, 7])
def test_same_rows_whatever_the_partitioning(spark, partitions):
    policy = V.PRESETS["vintage-human-unique"]
    assert curate(spark, policy, partitions) == curate(spark, policy)


def test_export_of_the_audited_warehouse(audited, spark, tmp_path, capsys):
    """`crawlaudit export` on the e2e warehouse (vintage-human-unique): a row per document; kept rows are vintage
    first copies and cluster representatives, one per text and per cluster; the
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
                        and r["vintage"] and not r["is_reposted"] for r in kept)
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
    assert_keep_is_the_planted_truth(rows, audited["truth"]["documents"])
    assert_extract_returns_the_kept_texts(tmp_path / "a", audited["corpus"], kept, capsys)


TRUTH_FIELDS = ("is_first_copy", "is_cluster_representative", "is_reposted", "first_seen_snapshot", "vintage")


def assert_keep_is_the_planted_truth(rows: dict, documents: list[dict]) -> None:
    """Every planted document's row says what the corpus planted (first copy, cluster representative, repost, first
    seen, vintage) and keeps it exactly when the truth does: human, first copy, representative, not reposted,
    vintage. This corpus also plants model-written text in 2021, which the policy takes as human by its date (as
    the vintage baseline does): those documents, and only those, are kept against the truth; the detector would
    have dropped most of them, and 4% of the vintage human text with them."""
    assert len(documents) == len([r for r in rows.values() if r["registered_domain"] != DAMAGED_DOMAIN])
    wrong, kept_as_vintage, flagged = [], 0, {True: [], False: []}
    for t in documents:
        r = rows[t["doc_id"]]
        assert (r["snapshot"], r["url"], r["warc_record_id"]) == (t["snapshot"], t["url"], t["warc_record_id"])
        assert (r["ai_prob"] is None) == (t["language"] != "eng"), t      # scored: the detector's language only
        if [r[k] for k in TRUTH_FIELDS] != [t[k] for k in TRUTH_FIELDS]:
            wrong.append((t, r["drop_reason"]))
        expected = t["keep_vintage_human_unique"]
        if t["is_ai"] and t["vintage"]:
            expected = t["is_first_copy"] and t["is_cluster_representative"] and not t["is_reposted"]
            kept_as_vintage += expected
        if r["keep"] != expected:
            wrong.append((t, r["drop_reason"]))
        if r["ai_prob"] is not None and t["vintage"]:
            flagged[t["is_ai"]].append(r["ai_prob"] >= 0.5)
    assert not wrong, (len(wrong), wrong[:3])
    kept = [t for t in documents if t["keep_vintage_human_unique"]]
    assert len(kept) > 500 and {t["snapshot"][8:12] for t in kept} == {"2019", "2021"}
    assert len(kept) < sum(t["vintage"] for t in documents)     # duplicates, reposts and AI text were planted
    assert kept_as_vintage > 50
    fpr, recall = sum(flagged[False]) / len(flagged[False]), sum(flagged[True]) / len(flagged[True])
    print(f"vintage documents the detector flags: human {fpr:.3f}, model-written {recall:.3f}")
    assert 0.01 < fpr < 0.1 and recall > 0.9


def assert_extract_returns_the_kept_texts(export_dir, corpus, kept: list[dict], capsys) -> None:
    """`crawlaudit extract` gives exactly the kept documents, each with its record's content byte for byte (read
    here independently, whole files through FastWARC), in shards of at most 100 documents."""
    import json

    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from crawlaudit import cli

    out = export_dir / "text"
    assert cli.main(["extract", "--from", str(export_dir), "--out", str(out), "--shard-docs", "100"]) == 0
    printed = capsys.readouterr().out
    shards = sorted((out / "documents").glob("part-*.json"))
    docs = [json.loads(line) for f in shards for line in f.read_text(encoding="utf-8").splitlines()]
    assert max(len(f.read_text(encoding="utf-8").splitlines()) for f in shards) <= 100
    assert sorted(d["doc_id"] for d in docs) == sorted(r["doc_id"] for r in kept)
    wanted = {r["warc_record_id"] for r in kept}
    content = {}
    for path in sorted(corpus.glob("crawl-data/*/segments/*/wet/*.warc.wet.gz")):
        if path.parent.parent.name == "damaged":   # tests/e2e.add_damaged_file: a 2024 file, nothing of it kept
            continue
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.conversion, parse_http=False):
                if rec.headers.get("WARC-Record-ID") in wanted:
                    content[rec.headers.get("WARC-Record-ID")] = rec.reader.read()
    assert all(d["text"].encode("utf-8") == content[d["warc_record_id"]] for d in docs)
    n_bytes = sum(len(content[d["warc_record_id"]]) for d in docs)
    assert f"extract: {len(kept):,} documents ({n_bytes / 1e6:,.1f} MB of text)" in printed and "errors: none" in printed


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
