"""Detector features, training, calibration and artifact round trip, on the sample generators' labeled texts."""
import json

import numpy as np
import pytest

from crawlaudit.synthetic import detector as D
from crawlaudit.devtools.corpus import CorpusSpec, labeled_texts
from crawlaudit.synthetic.labeled import LabeledSet, generator_family, read_labeled, split_by_group
from crawlaudit.synthetic.training import train_detector
from crawlaudit.synthetic.vocabulary import Reference, build_reference, occurrence_matrix

SPEC = D.FeatureSpec(word_bits=14, byte_bits=14)


def test_byte_and_word_ngrams_are_counted_exactly():
    counts = D.term_counts(["ab ab"], SPEC).toarray()[0]
    words, grams = counts[: 1 << 14], counts[1 << 14:]
    # words: "ab", "ab" (unigrams, one bucket twice) + "ab ab" (bigram) = 3 occurrences, 2 distinct
    assert words.sum() == 3 and sorted(words[words > 0]) == [1, 2]
    # bytes of "ab ab" (5 bytes): 5 + 4 + 3 + 2 + 1 n-grams of length 1..5
    assert grams.sum() == 15
    # "a" twice, "b" twice, "ab" twice, " " once...: repeated n-grams share a bucket
    assert grams.max() == 2


def test_features_ignore_case_and_layout_and_are_stable():
    a = D.term_counts(["Hello   World.\n\nAgain"], SPEC)
    b = D.term_counts(["hello world. again"], SPEC)
    assert (a != b).nnz == 0
    assert D.term_counts([None, ""], SPEC).nnz == 0


@pytest.fixture(scope="module")
def sample_set():
    rows = labeled_texts(30, CorpusSpec(n_domains=10, seed=3), seed=5)
    return LabeledSet.from_rows(rows)


@pytest.fixture(scope="module")
def trained(sample_set):
    return train_detector(sample_set, SPEC, seed=1)


def test_detector_separates_the_sample_models_and_reports_its_calibration(trained):
    det, report = trained
    assert report["auroc"] > 0.97
    assert set(report["auroc_by_generator"]) == {"sample-lm-a", "sample-lm-b"}
    cal = det.calibration
    assert cal.tpr - cal.fpr > 0.8
    assert 0 <= cal.mean_p_human < cal.mean_p_ai <= 1
    # two generator families: the shift is measured and carried in the sds, on top of sampling error (the
    # predictive spread needs three)
    assert set(report["unseen_family"]) == {"sample-lm-a", "sample-lm-b"}
    assert report["transfer_shift_rms"]["family"]["tpr"] >= 0
    assert cal.tpr_sd >= report["transfer_shift_rms"]["family"]["tpr"] and cal.unseen_tpr_shift == ()
    assert report["ece"] < 0.1


def test_artifact_round_trip_gives_identical_scores(trained, sample_set, tmp_path):
    det, _ = trained
    det.save(tmp_path / "m")
    again = D.Detector.load(tmp_path / "m")
    texts = sample_set.texts[:50]
    np.testing.assert_allclose(again.margins(texts), det.margins(texts), rtol=1e-6)
    assert again.calibration == det.calibration and again.languages == det.languages == ("eng",)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["languages"] = ["deu", "spa"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    assert D.Detector.load(tmp_path / "m").languages == ("deu", "spa")
    del meta["languages"]                      # a model from before languages were declared: English only
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    assert D.Detector.load(tmp_path / "m").languages == ("eng",)
    meta["languages"] = "english"
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="ISO 639-3"):
        D.Detector.load(tmp_path / "m")
    meta["format_version"] = 99
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format_version"):
        D.Detector.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="train_detector"):
        D.Detector.load(tmp_path / "nothing")


def test_reference_tables_prefer_words_shared_across_domains(sample_set, tmp_path):
    ref = build_reference(sample_set.texts, sample_set.is_ai, min_docs=5, domains=sample_set.domain)
    assert 0 < len(ref.words) <= 2000
    # the sample models' pet words are the markers: far more common in AI text
    assert ref.info["marker_share_ai"] > 0.8 > ref.info["marker_share_human"]
    ref.save(tmp_path / "r.json")
    back = Reference.load(tmp_path / "r.json")
    assert back.words == ref.words and back.markers == ref.markers
    occ = occurrence_matrix([ref.occurrence_indices(t) for t in sample_set.texts[:20]], len(ref.words))
    assert occ.shape == (20, len(ref.words)) and occ.max() == 1


def test_labeled_reader_and_group_split(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"text": "a", "label": "human", "group": "g1"}, {"text": "b", "label": "ai", "group": "g1", "generator": "x"},
        {"text": "c", "label": "human", "group": "g2"}, {"text": "d", "label": "ai"}]) + "\n")
    data = read_labeled(path)
    assert data.is_ai.tolist() == [False, True, False, True]
    assert data.generator.tolist() == ["human", "x", "human", "unknown"]
    masks = split_by_group(data, (0.5, 0.5), seed=0)
    assert (masks[0] ^ masks[1]).all()
    assert masks[0][0] == masks[0][1]          # one group never straddles the split
    path.write_text(json.dumps({"text": "a", "label": "robot"}) + "\n")
    with pytest.raises(ValueError, match="l.jsonl:1"):
        read_labeled(path)


def test_labeled_directory_families_and_shared_passages(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"text": "An abstract  about   stars.", "label": "human", "domain": "Arxiv", "index_in_file": 0},
        {"text": "A rewrite.", "label": "ai", "generator": "GPT-4o", "domain": "Arxiv", "index_in_file": 0},
        {"text": "Other text.", "label": "human", "domain": "Arxiv", "index_in_file": 1}]) + "\n")
    (tmp_path / "b" / "y.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"text": "an abstract about stars.", "label": "human", "domain": "Academic", "index_in_file": 7},
        {"text": "Claude's take.", "label": "ai", "generator": "claude-3-opus", "domain": "Academic",
         "index_in_file": 7},
        {"text": "Llama's take.", "label": "ai", "generator": "Llama-3-70B", "domain": "Academic", "index_in_file": 9},
    ]) + "\n")
    data = read_labeled(tmp_path)                  # both folders, recursively
    assert data.source.tolist() == ["a", "a", "a", "b", "b", "b"]
    assert data.family.tolist() == ["human", "OpenAI", "human", "human", "Anthropic", "Meta"]
    # the same abstract in both sets: one group, so a split never puts it on both sides
    assert len({data.group[0], data.group[1], data.group[3], data.group[4]}) == 1
    assert len(set(data.group)) == 3
    assert generator_family("gemini-1.0-pro") == "Google" and generator_family("sample-lm-a") == "sample-lm-a"


def test_compiled_margins_equal_the_sparse_matrix_product_bit_for_bit():
    """``Detector.margins`` counts, weights and dots each block per document in compiled passes; the numbers are
    those of the sparse path (``_weighted_block(counts) @ coef`` per block), bit for bit: Unicode, empty and
    missing texts, counts above 255, and a batch of none."""
    from pathlib import Path

    from crawlaudit.devtools.corpus import generated_texts

    det = D.Detector.load(Path(__file__).resolve().parents[1] / "conf" / "models" / "sample")
    texts = [" ".join(generated_texts(30, 5)[i:i + 3]) for i in range(0, 30, 3)]
    texts += ["a" * 3000 + " b" * 400] + ODD_TEXTS
    clean, split = D._clean(texts, det.spec), 1 << det.spec.word_bits
    expected = np.full(len(texts), det.intercept)
    for counts, block in ((D._word_counts(clean, det.spec), slice(0, split)),
                          (D._byte_counts(clean, det.spec), slice(split, None))):
        expected += np.asarray(D._weighted_block(counts, det.idf[block]) @ det.coef[block], dtype=np.float64).ravel()
    got = det.margins(texts)
    assert got.dtype == np.float64 and np.array_equal(got, expected)
    assert len(set(np.round(got, 6))) > 10                       # not a constant
    assert det.margins([]).shape == (0,)


ODD_TEXTS = ["", None, "Ünïcödé 漢字テキスト — ça va? Ещё раз! don't ’tis rock’n’roll it''s 'quoted' x'", "a" * 300,
             "tab\tnew\nline\u00a0nbsp\u2003em\u200bzw\u200djoin_under score 3.14 ١٢٣ e\u0301 ﬁ Σσς İstanbul", "'''",
             "a'b'c d'", "x"]


def test_compiled_tokenizers_reproduce_the_regexes_and_the_reference_scan():
    """The detector's WORD_RE tokens and the reference words' TOKEN_RE tokens, hashed by compiled scans over UTF-8
    code-point classes, equal ``token_hashes`` of the regexes' matches; ``scan_batch`` equals ``scan`` per text."""
    from pathlib import Path

    from crawlaudit.devtools.corpus import generated_texts
    from crawlaudit.metrics import text as T
    from crawlaudit.metrics.minhash import scan_word_punct, scan_words, token_hashes, utf8_buffers

    texts = [" ".join(generated_texts(60, 9)[i:i + 3]) for i in range(0, 60, 3)] + ODD_TEXTS
    clean = D._clean(texts, D.FeatureSpec())
    hashes, counts = scan_word_punct(*utf8_buffers(clean), D.word_classes(), D.WORD_CP, D.SPACE_CP)
    expected = [token_hashes(D.WORD_RE.findall(t)) for t in clean]
    assert counts.tolist() == [len(e) for e in expected] and np.array_equal(hashes, np.concatenate(expected))
    lowered = [t.lower() if t else "" for t in texts]
    hashes, counts = scan_words(*utf8_buffers(lowered), T.code_point_classes(), *T.APOSTROPHES)
    expected = [token_hashes(T.TOKEN_RE.findall(t)) for t in lowered]
    assert counts.tolist() == [len(e) for e in expected] and np.array_equal(hashes, np.concatenate(expected))
    ref = Reference.load(Path(__file__).resolve().parents[1] / "conf" / "models" / "sample" / "reference.json")
    offsets, indices, markers = ref.scan_batch(texts)
    scans = [ref.scan(t) for t in texts]
    assert [indices[offsets[i]:offsets[i + 1]].tolist() for i in range(len(texts))] == [s[0] for s in scans]
    assert markers.tolist() == [s[1] for s in scans] and sum(markers) > 0 and offsets[-1] > 20


def test_reference_scan_batch_without_markers_or_words():
    """The compiled reference lookup with an empty word list or an empty marker list, on missing and empty texts,
    gives what ``scan`` gives text by text."""
    texts = ["Alpha beta BETA gamma", None, "", "don't stop", "we delve, alpha"]
    for ref in (Reference(["alpha", "beta", "don't"], np.array([.1, .2, .3]), np.array([.2, .3, .4]), [], {}),
                Reference([], np.zeros(0), np.zeros(0), ["delve"], {})):
        offsets, indices, markers = ref.scan_batch(texts)
        scans = [ref.scan(t) for t in texts]
        assert [indices[offsets[i]:offsets[i + 1]].tolist() for i in range(len(texts))] == [s[0] for s in scans]
        assert markers.tolist() == [s[1] for s in scans]
    assert scans[-1][1] and offsets[-1] == 0   # the second reference: a marker, no words
