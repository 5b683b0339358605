"""Every document's language: header codes, the offline detector for records without one, and the config."""
import gzip
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawlaudit.config import LanguagesConfig, load_config
from crawlaudit.devtools.corpus import wet_record
from crawlaudit.errors import ConfigError
from crawlaudit.ingest import language, wet as ingest
from crawlaudit.config import InputConfig

CC_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "cc_samples"
DATE = datetime(2017, 6, 1, tzinfo=timezone.utc)

# written for this test: a few sentences per language, no header on any of them
SENTENCES = {
    "deu": "Gestern Abend haben wir im Garten gesessen und über die neue Brücke gesprochen, die seit dem Frühjahr "
           "gebaut wird. Die Kinder wollten lieber Fußball spielen, aber es war schon zu dunkel dafür.",
    "spa": "Mañana por la mañana vamos a visitar a mis abuelos, que viven en un pueblo pequeño cerca de la "
           "montaña. Siempre nos preparan una comida enorme y nos cuentan historias de cuando eran jóvenes.",
    "ind": "Kemarin sore kami pergi ke pasar untuk membeli sayuran dan buah-buahan segar. Harga cabai sedang naik, "
           "jadi ibu hanya membeli sedikit dan memilih tomat yang masih hijau.",
    "rus": "Вчера вечером мы долго гуляли по набережной и разговаривали о планах на лето. Погода была тёплой, "
           "а на реке было много лодок с туристами.",
    "zho": "昨天晚上我们在公园里散步，聊了很多关于夏天旅行的计划。天气很暖和，河边有很多人在钓鱼。",
    "eng": "Last night we walked along the river for a long time and talked about our plans for the summer. The "
           "weather was warm, and there were many small boats full of tourists on the water.",
}


@pytest.mark.parametrize("value, code", [
    (None, None), ("", None), ("  ", None), (",eng", None), ("und", None), ("mul", None), ("zxx,eng", None),
    ("english", None), ("e", None), ("12a", None), ("\x00\xff", None), ("x" * 5000, None),
    ("eng", "eng"), ("eng,fra", "eng"), ("ZHO,eng,jpn", "zho"), (" spa , eng", "spa"),
    (",".join(["fra"] * 20), "fra"), ("en", "eng"), ("de,en", "deu"), ("qq", None), ("qqq", "qqq"),
])
def test_header_language_takes_a_well_formed_first_code(value, code):
    assert language.header_language(value) == code


def _parse(tmp_path, records, cfg=None):
    f = tmp_path / "lang.warc.wet.gz"
    f.write_bytes(b"".join(wet_record(f"https://site{i}.example.org/p", DATE, f"<urn:uuid:{i:08d}>", text,
                                      language=header) for i, (text, header) in enumerate(records)))
    rows = ingest.parse_file(str(f), "CC-MAIN-2017-22", InputConfig(), languages=cfg)
    return [(r["language"], r["language_source"]) for r in rows if r["row_kind"] == "doc"]


def test_records_without_a_header_get_the_detected_language_or_und(tmp_path):
    records = [(text, None) for text in SENTENCES.values()] + [
        ("1234 5678 90 -- 42", None),                 # nothing to detect
        (SENTENCES["deu"], "spa"),                    # the header wins, whatever the text
        (SENTENCES["rus"], "garbage header value"),   # a malformed header counts as none
    ]
    got = _parse(tmp_path, records)
    assert got == [(code, "detected") for code in SENTENCES] + [
        ("und", "unknown"), ("spa", "header"), ("rus", "detected")]
    # detection off: header languages only
    off = _parse(tmp_path, records, LanguagesConfig(detect_missing=False))
    assert off == [("und", "unknown")] * 7 + [("spa", "header"), ("und", "unknown")]


def test_the_detector_only_chooses_from_the_configured_set(tmp_path):
    cfg = LanguagesConfig(set=("eng", "rus"))
    got = _parse(tmp_path, [(SENTENCES["rus"], None), (SENTENCES["eng"], None), (SENTENCES["zho"], None)], cfg)
    assert got[:2] == [("rus", "detected"), ("eng", "detected")]
    assert got[2] in (("und", "unknown"), ("eng", "detected"), ("rus", "detected"))   # Han script: in neither


@pytest.mark.skipif(not (CC_SAMPLES / "whirlwind_CC-MAIN-2024-22").is_dir(), reason="shared CC samples absent")
def test_genuine_spanish_page_is_detected_without_its_header(tmp_path):
    raw = gzip.decompress((CC_SAMPLES / "whirlwind_CC-MAIN-2024-22" / "whirlwind.warc.wet.gz").read_bytes())
    assert b"WARC-Identified-Content-Language: spa" in raw
    f = tmp_path / "no-header.warc.wet.gz"
    f.write_bytes(gzip.compress(raw.replace(b"WARC-Identified-Content-Language: spa\r\n", b"")))
    docs = [r for r in ingest.parse_file(str(f), "CC-MAIN-2024-22", InputConfig()) if r["row_kind"] == "doc"]
    assert [(d["language"], d["language_source"]) for d in docs] == [("spa", "detected")]


def test_language_config_is_validated_on_load():
    assert load_config(None, ["languages.set=[eng, deu]"]).languages.set == ("eng", "deu")
    for override, message in (("languages.set=[eng, xxx]", "'xxx' not known to the detector"),
                              ("languages.set=[]", "languages.set is empty"),
                              ("languages.set=eng", "must be a list of str"),
                              ("languages.detect_chars=5", "out of range")):
        with pytest.raises(ConfigError, match=message):
            load_config(None, [override])
