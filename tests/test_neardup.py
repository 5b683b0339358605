"""Near-duplicate steps on hand-made DataFrames, and LSH + verification against brute-force Jaccard."""
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from crawlaudit.metrics import neardup, repetition
from crawlaudit import schemas as S
from crawlaudit.config import DedupConfig
from crawlaudit.devtools.corpus import CorpusSpec, generate_documents, jaccard_pairs, shingle_sets
from crawlaudit.metrics.graph import connected_components
from crawlaudit.metrics.minhash import MinHasher
from crawlaudit.metrics.neardup import NearDupParams
from crawlaudit.metrics.signals import document_signals

SIG = "doc_id string, signature array<int>"


def test_candidate_pairs_pair_bucket_mates_within_the_window(spark):
    same = list(range(8))
    sigs = spark.createDataFrame(
        [("d1", same), ("d2", same), ("d3", same), ("d4", same), ("d5", list(range(100, 108))), ("d6", None)], SIG)
    all_pairs = sigs.transform(neardup.candidate_pairs(bands=2, rows=4, window=10))
    assert sorted(map(tuple, all_pairs.collect())) == [
        ("d1", "d2"), ("d1", "d3"), ("d1", "d4"), ("d2", "d3"), ("d2", "d4"), ("d3", "d4")]
    chain = sigs.transform(neardup.candidate_pairs(bands=2, rows=4, window=1))
    assert sorted(map(tuple, chain.collect())) == [("d1", "d2"), ("d2", "d3"), ("d3", "d4")]


def test_candidates_need_one_whole_band_in_common(spark):
    a = list(range(8))
    b = a[:4] + [99, 98, 97, 96]      # first band equal, second not
    c = [0, 1, 2, 99, 4, 5, 6, 98]    # 6 of 8 positions equal, but no whole band
    sigs = spark.createDataFrame([("a", a), ("b", b), ("c", c)], SIG)
    assert sorted(map(tuple, sigs.transform(neardup.candidate_pairs(2, 4, 10)).collect())) == [("a", "b")]


def test_exact_verification_keeps_pairs_at_or_above_the_threshold(spark):
    shingles = spark.createDataFrame(
        [("a", [1, 2, 3, 4, 5]), ("b", [1, 2, 3, 4, 6]), ("c", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])],
        "doc_id string, shingles array<bigint>")
    pairs = spark.createDataFrame([("a", "b"), ("a", "c"), ("b", "c")], "doc_a string, doc_b string")
    # a-b: 4 shared of 6 → 0.667; a-c: 5/10; b-c: 5/10
    edges = {(r.doc_a, r.doc_b): r.jaccard for r in neardup.verify_exact(pairs, shingles, 0.6).collect()}
    assert edges == {("a", "b"): pytest.approx(4 / 6)}
    at_threshold = neardup.verify_exact(pairs, shingles, 0.5).collect()
    assert sorted((r.doc_a, r.doc_b, r.jaccard) for r in at_threshold) == [
        ("a", "b", pytest.approx(4 / 6)), ("a", "c", 0.5), ("b", "c", 0.5)]


def _components_by_hand(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {v: find(v) for v in parent}


@pytest.mark.parametrize("partitions", [1, 7])
def test_connected_components_label_each_vertex_with_its_component_minimum(spark, partitions):
    chain = [(f"v{i:03d}", f"v{i + 1:03d}") for i in range(60, 0, -1)]          # a long path, listed backwards
    star = [("s50", f"s{i:02d}") for i in range(10, 20)]
    other = [("b", "a"), ("c", "b"), ("x", "y"), ("y", "x"), ("z", "z")]
    edges = chain + star + other
    df = spark.createDataFrame(edges, "src string, dst string").repartition(partitions)
    got = {r.vertex: r.component for r in connected_components(df, max_rounds=40).collect()}
    expected = _components_by_hand([e for e in edges if e[0] != e[1]])
    assert got == expected
    assert got["v061"] == "v001" and got["s50"] == "s10" and "z" not in got


def test_line_dup_counts_use_the_snapshot_wide_count(spark):
    signals = spark.createDataFrame(
        [("S", "d1", [1, 2, 2]), ("S", "d2", [1, 3]), ("S", "d3", [1, 4]), ("T", "d4", [2])],
        "snapshot string, doc_id string, line_hashes array<bigint>")
    out = signals.transform(repetition.with_line_dup_counts(3)).select(S.DOC_ID, S.N_LINES, S.N_DUP_LINES)
    # in S, line 1 occurs 3 times (duplicated), line 2 twice (not); T is counted apart
    expected = spark.createDataFrame([("d1", 3, 1), ("d2", 2, 1), ("d3", 2, 1), ("d4", 1, 0)],
                                     "doc_id string, n_lines int, n_dup_lines bigint")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_near_dup_stats_on_paper(spark):
    rep = {c: 0.0 for c in S.REP_SIGNALS}
    rows = [  # domain, doc, is_near_dup, component, cross, n_lines, n_dup_lines, rep_dup_line_char_frac
        ("a.com", "d1", True, "d1", False, 4, 2, 0.5),
        ("a.com", "d2", True, "d1", True, 4, 0, 0.0),
        ("a.com", "d3", True, "d1", False, 2, 2, 0.25),
        ("a.com", "d4", False, "d4", False, 0, 0, 0.0),
        ("b.com", "d5", True, "d1", False, 5, 1, 0.0),
    ]
    cols = "registered_domain string, doc_id string, is_near_dup boolean, component string, " \
           "is_cross_snapshot_near_dup boolean, n_lines int, n_dup_lines bigint, rep_dup_line_char_frac double"
    df = spark.createDataFrame(rows, cols)
    for c in S.REP_SIGNALS[1:]:
        df = df.withColumn(c, F.lit(rep[c]))
    got = {r.registered_domain: r.asDict() for r in df.transform(neardup.near_dup_stats([S.REGISTERED_DOMAIN])).collect()}
    a = got["a.com"]
    assert (a[S.N_NEAR_DUP_DOCS], a[S.NEAR_DUP_FRAC], a[S.N_NEAR_DUP_CLUSTERS]) == (3, 0.75, 2)
    assert a[S.NEAR_DUP_REMOVABLE_FRAC] == pytest.approx((4 - 2) / 4)
    assert a[S.CROSS_SNAPSHOT_NEAR_DUP_FRAC] == 0.25
    assert (a[S.N_LINES], a[S.N_DUP_LINES], a[S.DUP_LINE_FRAC]) == (10, 4, 0.4)
    assert a["rep_dup_line_char_frac"] == pytest.approx(0.1875)
    assert got["b.com"][S.NEAR_DUP_REMOVABLE_FRAC] == 0.0   # its one document is one cluster


def test_cross_snapshot_matches_use_signature_agreement(spark):
    base = list(range(16))
    close = base[:14] + [90, 91]            # 14/16 = 0.875 agree, shares bands 0-2 of 4
    far = base[:4] + list(range(50, 62))    # shares band 0 only, 4/16 agree
    params = NearDupParams(hasher=MinHasher(num_perm=16),
                           threshold=0.8, bands=4, rows=4, bucket_window=10, max_component_rounds=10)
    prior = spark.createDataFrame([("old1", base)], SIG)
    current = spark.createDataFrame([("n1", close), ("n2", far), ("n3", list(range(200, 216)))], SIG)
    got = [r.doc_id for r in current.transform(neardup.cross_snapshot_matches(prior, params)).collect()]
    assert got == ["n1"]


def test_reuse_refresh_on_paper(spark):
    """A published snapshot's reuse re-measured from its kept hashes and signatures: exact reuse from the hashes'
    first snapshots (a hash first seen in the snapshot itself or later is not reuse), near reuse by signature
    agreement, shares per domain and pooled; the stats rows get the new columns, the rest unchanged."""
    from crawlaudit import audit

    snap = "CC-MAIN-2024-22"
    hashes = spark.createDataFrame(
        [(snap, "n1", "a.com", "h1"), (snap, "n2", "a.com", "h2"), (snap, "n3", "a.com", None),
         (snap, "n4", "b.com", "h4")], "snapshot string, doc_id string, registered_domain string, content_hash string")
    prior_hashes = spark.createDataFrame([("h1", "CC-MAIN-2019-35"), ("h4", "CC-MAIN-2021-04")],
                                         "content_hash string, first_snapshot string")
    base = list(range(16))
    signatures = spark.createDataFrame([("n1", base), ("n2", base[:14] + [90, 91]), ("n4", list(range(200, 216)))],
                                       SIG)
    prior_signatures = spark.createDataFrame([("old1", base)], SIG)
    params = NearDupParams(hasher=MinHasher(num_perm=16), threshold=0.8, bands=4, rows=4, bucket_window=10,
                           max_component_rounds=10)
    flags = audit.reuse_flags(hashes, prior_hashes, signatures, prior_signatures, params)
    got = {r.doc_id: (r[S.IS_CROSS_SNAPSHOT_DUP], r[S.IS_CROSS_SNAPSHOT_NEAR_DUP]) for r in flags.collect()}
    assert got == {"n1": (True, True), "n2": (False, True), "n3": (False, False), "n4": (True, False)}
    by_domain = {r[S.REGISTERED_DOMAIN]: r.asDict() for r in
                 flags.transform(audit.reuse_stats([S.SNAPSHOT, S.REGISTERED_DOMAIN])).collect()}
    assert [by_domain["a.com"][c] for c in S.REUSE_COLUMNS] == [1, pytest.approx(1 / 3), 2, pytest.approx(2 / 3)]
    assert [by_domain["b.com"][c] for c in S.REUSE_COLUMNS] == [1, 1.0, 0, 0.0]
    pooled = flags.transform(audit.reuse_stats([S.SNAPSHOT])).first()
    assert [pooled[c] for c in S.REUSE_COLUMNS] == [2, 0.5, 2, 0.5]
    stale = spark.createDataFrame([(snap, "a.com", 3, 0, 0.0, 0, 0.0, "r1"), (snap, "b.com", 1, 0, 0.0, 0, 0.0, "r1")],
                                  f"snapshot string, registered_domain string, n_docs long, {S.N_CROSS_SNAPSHOT_DUP_DOCS} "
                                  f"long, {S.CROSS_SNAPSHOT_DUP_FRAC} double, {S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS} long, "
                                  f"{S.CROSS_SNAPSHOT_NEAR_DUP_FRAC} double, run_id string")
    fresh = stale.transform(audit.with_replaced_columns(
        flags.transform(audit.reuse_stats([S.SNAPSHOT, S.REGISTERED_DOMAIN])), [S.SNAPSHOT, S.REGISTERED_DOMAIN],
        S.REUSE_COLUMNS))
    assert fresh.columns == stale.columns
    rows = {r[S.REGISTERED_DOMAIN]: r for r in fresh.collect()}
    assert rows["a.com"][S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS] == 2 and rows["a.com"]["n_docs"] == 3
    assert rows["b.com"][S.N_CROSS_SNAPSHOT_DUP_DOCS] == 1 and rows["b.com"]["run_id"] == "r1"


def test_cross_snapshot_buckets_are_capped_but_still_match(spark):
    """A template seen 6 times before: only bucket_window earlier copies per bucket are compared, and one
    verified match is enough."""
    template = list(range(16))
    params = NearDupParams(hasher=MinHasher(num_perm=16), threshold=0.8, bands=4, rows=4, bucket_window=2,
                           max_component_rounds=10)
    prior = spark.createDataFrame([(f"old{i}", template) for i in range(6)], SIG)
    current = spark.createDataFrame([("n1", template), ("n2", list(range(100, 116)))], SIG)
    got = [r.doc_id for r in current.transform(neardup.cross_snapshot_matches(prior, params)).collect()]
    assert got == ["n1"]


@pytest.fixture(scope="module")
def planted_docs():
    """One snapshot of the planted corpus: ≥ 3,000 documents with near-duplicate families (Jaccard 0.4-1.0)."""
    spec = CorpusSpec(snapshots=("CC-MAIN-2024-22",), n_domains=40, docs_per_domain=(70, 90), seed=5,
                      ai_share=(), large_domain_docs=None)
    docs = generate_documents(spec)["CC-MAIN-2024-22"]
    assert len(docs) >= 3000
    return [(f"{i:06d}", text) for i, (_, _, text) in enumerate(docs)]


def _edges_and_clusters(spark, docs, partitions):
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    try:
        params = NearDupParams.from_config(DedupConfig())
        df = spark.createDataFrame(docs, "doc_id string, text string").repartition(3)
        sigs = df.transform(document_signals(params.hasher)).select(S.DOC_ID, S.SIGNATURE).cache()
        edges_df = neardup.near_dup_edges(df, sigs, params).localCheckpoint()
        edges = {(r.doc_a, r.doc_b): r.jaccard for r in edges_df.collect()}
        flagged = df.select(S.DOC_ID).transform(neardup.with_near_dup_flags(edges_df, params.max_component_rounds))
        clusters = {r.doc_id: r.component for r in flagged.collect()}
        sigs.unpersist()
        return edges, clusters
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)


def test_lsh_with_verification_against_brute_force_jaccard(spark, planted_docs):
    reported, _ = _edges_and_clusters(spark, planted_docs, 2)
    sets = shingle_sets([t for _, t in planted_docs])
    i, j, jac = jaccard_pairs(sets, min_jaccard=0.5)
    truth = {(planted_docs[a][0], planted_docs[b][0]): x for a, b, x in zip(i, j, jac)}
    positives = {p for p, x in truth.items() if x >= 0.85}
    assert len(positives) >= 300 and len(truth) - len(positives) >= 100   # the planted families span the range
    true_reported = [p for p in reported if truth.get(p, 0.0) >= 0.8]
    precision = len(true_reported) / len(reported)
    recall = len(positives & set(reported)) / len(positives)
    print(f"\n{len(planted_docs)} docs: {len(reported)} pairs reported, precision {precision:.4f}, "
          f"recall(J>=0.85) {recall:.4f}, min reported J {min(truth.get(p, 0) for p in reported):.3f}")
    assert precision >= 0.98
    assert recall >= 0.95
    assert min(truth.get(p, 0.0) for p in reported) >= 0.6
    for p, x in reported.items():   # the exact Jaccard of the pair's shingle sets
        assert x == pytest.approx(truth[p], abs=1e-6)


def test_same_edges_and_clusters_with_2_and_16_shuffle_partitions(spark, planted_docs):
    docs = planted_docs[:1200]
    edges2, clusters2 = _edges_and_clusters(spark, docs, 2)
    edges16, clusters16 = _edges_and_clusters(spark, docs, 16)
    assert edges2 == edges16 and clusters2 == clusters16
    assert len(set(clusters2.values())) < len(clusters2)  # some clusters have several members


def test_bucket_pairs_on_arrow_batches():
    """The executor side of candidate_pairs: rows of a bucket may arrive in any order and any batch; a partition
    may be empty."""
    import pyarrow as pa

    pair_up = neardup._bucket_pairs(window=2)
    assert list(pair_up(iter([]))) == []
    schema = pa.schema([("doc_id", pa.string()), ("band", pa.int32()), ("band_hash", pa.int64())])
    rows = [("d3", 0, 7), ("d1", 0, 7), ("x", 1, 7), ("d4", 0, 7), ("d2", 0, 7), ("y", 0, 8), ("z", 1, 7)]
    batches = [pa.RecordBatch.from_pylist([dict(zip(schema.names, r)) for r in rows[:3]], schema=schema),
               pa.RecordBatch.from_pylist([dict(zip(schema.names, r)) for r in rows[3:]], schema=schema)]
    got = sorted(p for b in pair_up(iter(batches)) for p in zip(*(c.to_pylist() for c in b.columns)))
    assert got == [("d1", "d2"), ("d1", "d3"), ("d2", "d3"), ("d2", "d4"), ("d3", "d4"), ("x", "z")]
