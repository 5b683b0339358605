"""The order of audits never changes a number: the same two snapshots audited oldest first and newest first, with
the human baseline measured on the crawl's own pre-LLM documents, give identical stats tables (the synthetic
estimates and the content reused from earlier snapshots are refreshed when an earlier snapshot lands later)."""
import threading

import pytest

from crawlaudit import schemas as S
from crawlaudit.config import load_config
from crawlaudit.devtools.corpus import CorpusSpec, write_corpus
from crawlaudit.pipeline import Auditor
from crawlaudit.warehouse import Warehouse
from tests.e2e import train_model

VINTAGE, RECENT = "CC-MAIN-2021-31", "CC-MAIN-2024-22"
SPEC = CorpusSpec(snapshots=(VINTAGE, RECENT), n_domains=4, docs_per_domain=(40, 60), files_per_snapshot=1,
                  seed=23, ai_share=((2024, 0.3),), large_domain_docs=None)
STATS_TABLES = {"domain_stats": [S.SNAPSHOT, S.REGISTERED_DOMAIN], "snapshot_stats": [S.SNAPSHOT],
                "year_language_stats": [S.YEAR, S.LANGUAGE],
                "language_stats": [S.SNAPSHOT, S.LANGUAGE], "year_stats": [S.YEAR]}


def _rows(wh, table, keys, columns=None):
    """keys + ``columns`` (default: every column but run_id) of every row, sorted by keys."""
    rows = Warehouse.at(wh).read_arrow(table).to_pylist()
    return sorted(({c: v for c, v in r.items() if c != S.RUN_ID and (columns is None or c in keys + columns)}
                   for r in rows), key=lambda r: [r[k] for k in keys])


@pytest.fixture(scope="module")
def two_orders(spark, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("order-corpus")
    truth = write_corpus(corpus, SPEC)
    model = tmp_path_factory.mktemp("order-model")
    train_model(model, SPEC)
    out, failed = {"truth": truth}, {}

    def audit_all(name, order):
        wh = str(tmp_path_factory.mktemp(f"order-{name}"))
        cfg = load_config(None, {
            "input.manifest": str(corpus / "crawl-data/{snapshot}/wet.paths.gz"), "input.base_url": str(corpus),
            "output.warehouse": wh, "spark.shuffle_partitions": 2, "synthetic.model": str(model),
            "synthetic.human_reference": "vintage", "synthetic.vintage_min_docs": 50,
            "synthetic.distributed_min_docs": 0,   # the pooled rows by Spark aggregations, as on a real crawl
            "quality.data_docs": False})
        try:
            failed[name] = Auditor(Warehouse.from_config(cfg.output, spark), cfg).audit_all(order)
        except Exception as e:  # noqa: BLE001 - reported below
            failed[name] = e
        out[name] = wh

    # the two orders run at once in one Spark session, as two schedulers' runs could: each audit waits on the
    # driver (planning, validation) much of its time, and the other uses the cores meanwhile
    threads = [threading.Thread(target=audit_all, args=(name, order))
               for name, order in (("oldest_first", [VINTAGE, RECENT]), ("newest_first", [RECENT, VINTAGE]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == {"oldest_first": [], "newest_first": []}, failed
    return out


def test_numbers_do_not_depend_on_the_order_of_audits(two_orders):
    a, b = two_orders["oldest_first"], two_orders["newest_first"]
    for table, keys in STATS_TABLES.items():
        rows_a, rows_b = _rows(a, table, keys), _rows(b, table, keys)
        assert len(rows_a) == len(rows_b) and rows_a, table
        for ra, rb in zip(rows_a, rows_b):
            assert ra == rb, (table, {c: (ra[c], rb.get(c)) for c in ra if ra[c] != rb.get(c)})


def test_reuse_of_an_earlier_snapshot_audited_later_is_measured(two_orders):
    """Newest first: the 2024 snapshot was audited with no earlier snapshot in the warehouse; once 2021 landed,
    its reuse columns were refreshed to the planted reuse (exact copies and lightly edited reposts)."""
    truth = two_orders["truth"]["snapshots"][RECENT]["domains"]
    rows = [r for r in _rows(two_orders["newest_first"], "domain_stats", [S.SNAPSHOT, S.REGISTERED_DOMAIN])
            if r[S.SNAPSHOT] == RECENT]
    assert {r[S.REGISTERED_DOMAIN] for r in rows} == set(truth)
    for r in rows:
        t = truth[r[S.REGISTERED_DOMAIN]]
        assert r[S.CROSS_SNAPSHOT_DUP_FRAC] == pytest.approx(t["cross_snapshot_dup_frac"], abs=1e-9)
        assert r[S.CROSS_SNAPSHOT_NEAR_DUP_FRAC] == pytest.approx(t["cross_snapshot_near_dup_frac"], abs=0.05)
    assert sum(r[S.N_CROSS_SNAPSHOT_DUP_DOCS] for r in rows) > 0
    assert sum(r[S.N_CROSS_SNAPSHOT_NEAR_DUP_DOCS] for r in rows) > 0
    year = {r[S.YEAR]: r for r in _rows(two_orders["newest_first"], "year_stats", [S.YEAR])}[2024]
    assert year[S.N_CROSS_SNAPSHOT_DUP_DOCS] == sum(r[S.N_CROSS_SNAPSHOT_DUP_DOCS] for r in rows)
    hashes = Warehouse.at(two_orders["newest_first"]).read_arrow("doc_hashes").to_pylist()
    assert len([h for h in hashes if h[S.SNAPSHOT] == RECENT]) == sum(r[S.N_DOCS] for r in rows)


def test_synthetic_baselines_after_either_order(two_orders):
    a, b = two_orders["oldest_first"], two_orders["newest_first"]
    recent = {r[S.SNAPSHOT]: r for r in _rows(a, "snapshot_stats", [S.SNAPSHOT], S.SYNTHETIC_COLUMNS)}
    # the post-LLM snapshot is measured against the vintage one (in the newest-first order: once it was audited,
    # by the refresh); the vintage snapshot has no other vintage documents: the labeled baseline
    assert recent[RECENT][S.SYNTHETIC_BASELINE] in ("vintage", "vintage-domain")
    assert recent[RECENT][S.SYNTHETIC_BASELINE_N_DOCS] == recent[VINTAGE][S.N_DOCS_SCORED]
    assert recent[VINTAGE][S.SYNTHETIC_BASELINE] == "labeled"
    assert recent[RECENT][S.MARKER_EXCESS_LB] is not None
    planted = two_orders["truth"]["snapshots"][RECENT]["synthetic_ratio"]
    assert recent[RECENT][S.SYNTHETIC_RATIO] == pytest.approx(planted, abs=0.08)
    domains = [r for r in _rows(a, "domain_stats", [S.SNAPSHOT, S.REGISTERED_DOMAIN], S.SYNTHETIC_COLUMNS)
               if r[S.SNAPSHOT] == RECENT]
    assert {r[S.SYNTHETIC_BASELINE] for r in domains} == {"vintage-domain"}
    assert all(r[S.SYNTHETIC_BASELINE_N_DOCS] > 0 for r in domains)
    # the refresh was validated like an audit
    results = Warehouse.at(b).read_arrow("validation_results").to_pylist()
    refresh = [r for r in results if r["run_id"].startswith("refresh-")]
    assert refresh and all(r["success"] or r["severity"] != "critical" for r in refresh)
    assert {r["table_name"] for r in refresh} >= {"domain_stats", "snapshot_stats", "year_stats"}
