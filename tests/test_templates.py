"""Site templates and main content on hand-made pages (expected values worked out by hand)."""
import random

import numpy as np
import pytest
from pyspark.sql import functions as F

from crawlaudit import schemas as S
from crawlaudit.metrics import templates
from crawlaudit.metrics.minhash import MinHasher, token_hashes
from crawlaudit.metrics.repetition import split_lines
from crawlaudit.metrics.text import content_hash, tokenize

SNAP = "CC-MAIN-2024-22"
HEADER = "Acme News\nSkip to content\nHome | World | Sports | About"
FOOTER = "© 2024 Acme News. All rights reserved.\nWe use cookies. Accept"
PARAMS = templates.TemplateParams(min_docs=5, min_frac=0.3)


def line_hash(line: str) -> int:
    (norm,) = split_lines(line)[1]
    return int(token_hashes([norm]).view(np.int64)[0])


def page(body: str) -> str:
    return f"{HEADER}\n{body}\n{FOOTER}"


TEMPLATE = sorted(line_hash(x) for x in (HEADER + "\n" + FOOTER).split("\n"))


def test_main_content_drops_exactly_the_template_lines_and_hashes_like_content_hash():
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma", "delta", "Ωmega", "don't", "x2", "42"]
    bodies = ["\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(1, 4)))
              for _ in range(60)]
    texts = [page(b) for b in bodies] + ["no template here\nat all", None, ""]
    tmpl = [TEMPLATE] * 60 + [TEMPLATE, TEMPLATE, TEMPLATE]
    main = templates.main_contents(texts, tmpl)
    mains, hashes, dropped = main.text.to_pylist(), main.content_hash, main.n_template_lines
    for i, body in enumerate(bodies):
        assert mains[i] == body and dropped[i] == 5 and main.n_tokens[i] == len(tokenize(body))
        assert hashes[i] == content_hash(body)
        assert main.word_counts[i] == len(" ".join(split_lines(body)[1]).split())
    assert mains[60] == "no template here\nat all" and dropped[60] == 0 and hashes[60] == content_hash(mains[60])
    assert mains[61:] == ["", ""] and hashes[61:] == [None, None] and not dropped[61:].any()
    # a domain without template lines: the page is its own main content
    whole = templates.main_contents([page("body")], [None])
    assert whole.text.to_pylist() == [page("body")] and whole.content_hash == [content_hash(page("body"))]
    assert whole.n_template_lines[0] == 0 and whole.n_tokens[0] == len(tokenize(page("body")))


def test_a_page_of_template_lines_only_has_no_main_content():
    main = templates.main_contents([page(""), page("Skip to content")], [TEMPLATE] * 2)
    assert main.content_hash == [None, None] and list(main.n_template_lines) == [5, 6]
    assert list(main.word_counts) == [0, 0] and main.text.to_pylist() == ["", ""]


def _pages(spark, rows):
    from crawlaudit.metrics.signals import document_signals

    df = spark.createDataFrame([(SNAP, d, f"{d}/{i}", t, content_hash(t), len(tokenize(t)))
                                for i, (d, t) in enumerate(rows)],
                               "snapshot string, registered_domain string, doc_id string, text string, "
                               "content_hash string, n_tokens int")
    sig = df.transform(document_signals(None))
    return df, sig.join(df.select("doc_id", *templates.KEYS, S.CONTENT_HASH), "doc_id")


def test_template_lines_need_min_docs_distinct_pages_and_min_frac(spark):
    rows = [("a.com", page(f"article number {w}")) for w in ("one", "two", "three", "four", "five")]
    rows += [("a.com", page("article number one").upper())] * 3          # exact copies: one distinct page
    rows += [("a.com", f"Sidebar teaser\nbody {w}") for w in ("six", "seven", "eight")]   # teaser: 3 + 1 pages
    rows += [("a.com", page("Sidebar teaser"))]
    rows += [("b.com", page(f"small site {w}")) for w in ("one", "two", "three", "four")]  # 4 pages: too few
    names = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay", "kite", "lark", "mole", "newt",
             "owl", "pig", "quail", "rat", "seal", "toad", "urchin"]
    rows += [("c.com", f"Big site page {w}\nShared promo line" if i < 6 else f"Big site page {w}")
             for i, w in enumerate(names)]
    _, pages = _pages(spark, rows)
    got = {r[S.REGISTERED_DOMAIN]: r[S.TEMPLATE_HASHES] for r in
           pages.transform(templates.template_lines(PARAMS)).collect()}
    # a.com: 9 distinct pages, threshold max(5, ceil(2.7)) = 5: the 5 template lines (in 6 distinct pages, the
    # three upper-case copies counted once); "Sidebar teaser" is in 4 distinct pages
    assert got["a.com"] == TEMPLATE
    assert "b.com" not in got
    # c.com: 21 distinct pages, threshold ceil(0.3 * 21) = 7 > 6 pages with the promo line
    assert "c.com" not in got
    off = templates.TemplateParams(enabled=False)
    assert pages.transform(templates.template_lines(off)).count() == 0
    assert templates.TemplateParams(min_docs=5, min_frac=0.3).threshold(20) == 6


def test_main_documents_sign_and_count_apart(spark):
    """Every page of d.com is the same template around a one-line body: the bodies are what is hashed and signed
    (two pages with the same body are exact duplicates); a page that is only template has no hash, no signature
    and counts as template-only; e.com has too few pages for a template and keeps whole pages."""
    bodies = ["the quick brown fox jumps over it"] * 2 + [f"a single line of body number {w}"
                                                           for w in ("one", "two", "three", "four")]
    rows = [("d.com", page(b)) for b in bodies] + [("d.com", page(""))] + [("e.com", page("lonely page"))]
    docs, pages = _pages(spark, rows)
    site = pages.transform(templates.template_lines(PARAMS))
    hasher = MinHasher(num_perm=16, shingle_size=3)
    main = {r[S.DOC_ID]: r for r in docs.transform(templates.main_documents(site, hasher)).collect()}
    assert main["d.com/0"][S.CONTENT_HASH] == main["d.com/1"][S.CONTENT_HASH] == content_hash(bodies[0])
    assert main["d.com/0"][S.SIGNATURE] == main["d.com/1"][S.SIGNATURE] != main["d.com/2"][S.SIGNATURE]
    sigs, _ = hasher.text_signatures([bodies[2]])
    assert main["d.com/2"][S.SIGNATURE] == list(sigs.view(np.int32)[0])
    empty = main["d.com/6"]
    assert (empty[S.CONTENT_HASH], empty[S.SIGNATURE], empty[S.HAS_MAIN_CONTENT], empty[S.N_TEMPLATE_LINES]) == (
        None, None, False, 5)
    lonely = main["e.com/7"]
    assert lonely[S.CONTENT_HASH] == content_hash(page("lonely page")) and lonely[S.N_TEMPLATE_LINES] == 0
    texts = {d: (r[S.TEXT], r[S.N_TOKENS]) for d, r in main.items()}
    assert texts["d.com/3"] == (bodies[3], 7) and texts["d.com/6"] == (None, 0)
    assert texts["e.com/7"] == (page("lonely page"), len(tokenize(page("lonely page"))))
    flagged = (pages.join(docs.transform(templates.main_documents(site, hasher)).drop(S.CONTENT_HASH, S.TEXT,
                                                                                      S.N_TOKENS), "doc_id")
               .withColumn(S.N_LINES, F.size(S.LINE_HASHES)))
    stats = {r[S.REGISTERED_DOMAIN]: r for r in flagged.transform(
        templates.template_stats([S.SNAPSHOT, S.REGISTERED_DOMAIN])).collect()}
    assert (stats["d.com"][S.N_TEMPLATE_LINES], stats["d.com"][S.N_DOCS_TEMPLATE_ONLY]) == (35, 1)
    assert stats["d.com"][S.TEMPLATE_LINE_FRAC] == pytest.approx(35 / 41)
    assert (stats["e.com"][S.N_TEMPLATE_LINES], stats["e.com"][S.TEMPLATE_LINE_FRAC]) == (0, 0.0)
