"""The sample-corpus generator: deterministic bytes, CC layout, and a ground truth consistent with its plan."""
import gzip
import hashlib

import pytest

from crawlaudit.ingest import wet as ingest
from crawlaudit.config import InputConfig
from crawlaudit.devtools.corpus import CorpusSpec, write_corpus

SPEC = CorpusSpec(snapshots=("CC-MAIN-2019-35", "CC-MAIN-2020-34"), n_domains=5, docs_per_domain=(20, 30),
                  files_per_snapshot=2, seed=3)


def digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    write_corpus(tmp_path / "a", SPEC)
    write_corpus(tmp_path / "b", SPEC)
    write_corpus(tmp_path / "c", CorpusSpec(**{**SPEC.__dict__, "seed": 4}))
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def test_layout_manifest_and_records_parse_cleanly(tmp_path):
    truth = write_corpus(tmp_path, SPEC)
    for snapshot, info in truth["snapshots"].items():
        rels = gzip.decompress((tmp_path / "crawl-data" / snapshot / "wet.paths.gz").read_bytes()).decode().split()
        assert len(rels) == 2 and all(r.startswith(f"crawl-data/{snapshot}/segments/") for r in rels)
        docs = errors = 0
        for rel in rels:
            for row in ingest.parse_file(str(tmp_path / rel), snapshot, InputConfig()):
                docs += row["row_kind"] == "doc"
                errors += row["row_kind"] == "error"
        assert errors == 0 and docs == info["n_docs"] == sum(d["n_docs"] for d in info["domains"].values())


def test_ground_truth_reflects_the_plan(tmp_path):
    truth = write_corpus(tmp_path, SPEC)
    first, second = (truth["snapshots"][s]["domains"] for s in SPEC.snapshots)
    assert all(d["cross_snapshot_dup_frac"] == 0 for d in first.values())  # nothing earlier to reuse
    assert any(d["cross_snapshot_dup_frac"] > 0 for d in second.values())
    for d in list(first.values()) + list(second.values()):
        assert 0 <= d["exact_dup_frac"] <= 1 and d["vocab_size"] in (150, 600, 2500, 10000)
        if d["planted_dup_rate"] == 0 and d["planted_reuse_rate"] == 0:
            assert d["exact_dup_frac"] <= 2 / d["n_docs"]  # only a syndicated copy can make a duplicate


def test_planted_ai_share_follows_the_schedule(tmp_path):
    from crawlaudit.devtools.corpus import AI_SHARE_MAX, parse_ai_share, year_ai_share

    schedule = parse_ai_share("2020=0.2")
    assert year_ai_share(schedule, 2019) == 0.0 and year_ai_share(schedule, 2021) == 0.2
    with pytest.raises(ValueError, match="2020=x"):
        parse_ai_share("2020=x")
    spec = CorpusSpec(snapshots=("CC-MAIN-2019-35", "CC-MAIN-2020-34"), n_domains=5, docs_per_domain=(60, 80),
                      seed=3, ai_share=schedule)
    truth = write_corpus(tmp_path, spec)
    assert truth["years"]["2019"]["synthetic_ratio"] == 0.0
    rows = truth["snapshots"]["CC-MAIN-2020-34"]["domains"]
    planted = {rd: r["planted_ai_share"] for rd, r in rows.items()}
    assert sorted(planted.values()) == sorted(min(AI_SHARE_MAX, 0.2 * f) for f in (0.0, 0.5, 1.0, 1.5, 2.0))
    n_ai = sum(round(r["synthetic_ratio"] * r["n_docs"]) for r in rows.values())
    assert truth["snapshots"]["CC-MAIN-2020-34"]["synthetic_ratio"] == pytest.approx(
        n_ai / truth["snapshots"]["CC-MAIN-2020-34"]["n_docs"])
    for r in rows.values():   # the realized share scatters around the planted probability
        assert abs(r["synthetic_ratio"] - r["planted_ai_share"]) < 0.2
        if r["planted_ai_share"] == 0:
            assert r["synthetic_ratio"] == 0


def test_every_page_wears_its_sites_template_and_redesigns_break_whole_page_reuse():
    """Pages are articles wrapped in the domain's template of the year: the footer's year changes every year, the
    design every TEMPLATE_REDESIGN_YEARS years. An article reused across a redesign has another whole-page hash (and
    across a plain year change the same one: the footer's digits normalize away), the same article hash."""
    from crawlaudit.devtools.corpus import _Generator, site_template
    from crawlaudit.metrics.text import content_hash

    spec = CorpusSpec(snapshots=("CC-MAIN-2019-35", "CC-MAIN-2020-34", "CC-MAIN-2021-31"), n_domains=6,
                      docs_per_domain=(30, 40), seed=5)
    gen = _Generator(spec)
    pages = {s: gen.snapshot_docs(s, i) for i, s in enumerate(spec.snapshots)}
    redesigned = same_design = 0
    for d in gen.domains:
        first = site_template(d, 2019)
        for year, snapshot in ((2020, "CC-MAIN-2020-34"), (2021, "CC-MAIN-2021-31")):
            now = site_template(d, year)
            assert f"© {year} {d.name}." in now[1] and "Skip to content" in now[0]
            mine = [p for p in pages[snapshot] if p.domain == d.registered_domain]
            assert all(p.text.startswith(now[0] + "\n") and p.text.endswith("\n" + now[1]) for p in mine)
            earlier = {p.content_id: p for p in pages["CC-MAIN-2019-35"] if p.domain == d.registered_domain}
            for p in (p for p in mine if p.content_id in earlier):
                assert content_hash(p.article) == content_hash(earlier[p.content_id].article)
                moved = content_hash(p.text) != content_hash(earlier[p.content_id].text)
                assert moved == (now[0] != first[0])
                redesigned += moved
                same_design += not moved
    assert redesigned > 0 and same_design > 0
    plain = _Generator(CorpusSpec(**{**spec.__dict__, "templates": False}))
    assert all(p.text == p.article for p in plain.snapshot_docs("CC-MAIN-2019-35", 0))


def test_a_long_tail_of_one_document_domains(tmp_path):
    # share 0.6 of 10 domains: i = 1, 3, 4, 6, 8, 9 hold one document (a syndicated page may add a second)
    spec = CorpusSpec(snapshots=("CC-MAIN-2024-22",), n_domains=10, docs_per_domain=(20, 30), files_per_snapshot=1,
                      seed=3, single_doc_share=0.6, large_domain_docs=None)
    truth = write_corpus(tmp_path, spec)
    snap = truth["snapshots"]["CC-MAIN-2024-22"]
    sizes = sorted(d["n_docs"] for d in snap["domains"].values())
    assert len(sizes) == 10 and max(sizes[:6]) <= 2 and min(sizes[6:]) >= 16
    assert sum(s == 1 for s in sizes) >= 5
    records = sum(1 for p in (tmp_path / "crawl-data").rglob("*.warc.wet.gz")
                  for r in ingest.parse_file(str(p), "CC-MAIN-2024-22", InputConfig()) if r["row_kind"] == "doc")
    assert records == snap["n_docs"] == sum(sizes)


def test_other_languages_leave_the_pseudo_english_records_as_they_were(tmp_path):
    """Greek and Thai domains (one site in both), growing 0.5 → 2x, 40% without a language header: the pseudo-English
    records are the ones a corpus without languages has, byte for byte; every other record's language, with or
    without its header, is the planted one (the headerless ones detected by the audit's detector)."""
    import collections
    import dataclasses

    multi = dataclasses.replace(SPEC, languages=(("ell", 2), ("tha", 1)), language_growth=(0.5, 2.0),
                                headerless_share=0.4, bilingual=True)
    plain, truth = write_corpus(tmp_path / "plain", SPEC), write_corpus(tmp_path / "multi", multi)

    def records(root, snapshot):
        out = []
        for rel in gzip.decompress((root / "crawl-data" / snapshot / "wet.paths.gz").read_bytes()).decode().split():
            out += [r for r in ingest.parse_file(str(root / rel), snapshot, InputConfig()) if r["row_kind"] == "doc"]
        return out

    sizes = []
    for snapshot, t in truth["snapshots"].items():
        eng = {(r["record_id"], r["url"], r["text"]) for r in records(tmp_path / "plain", snapshot)}
        rows = records(tmp_path / "multi", snapshot)
        assert {(r["record_id"], r["url"], r["text"]) for r in rows if r["language"] == "eng"} == eng
        assert collections.Counter(r["language"] for r in rows) == t["language_counts"]
        assert sum(r["language_source"] == "detected" for r in rows) == t["n_without_language_header"] > 0
        assert t["language_counts"]["eng"] == plain["snapshots"][snapshot]["n_docs"]
        bilingual = [d for d in t["domains"].values() if len(d["language_counts"]) == 2]
        assert len(bilingual) == 1 and set(bilingual[0]["language_counts"]) == {"ell", "tha"}
        sizes.append(t["n_docs"] - t["language_counts"]["eng"])
    assert sizes[1] > 2 * sizes[0]          # the language mix shifts: 0.5x then 2x the base size
