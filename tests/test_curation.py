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

