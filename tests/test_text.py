import math

from crawlaudit.metrics.text import content_hash, normalize_for_hash, tokenize


def test_tokenize_words_lowercase_and_unicode():
    assert tokenize("Hello, World! Don't stop; 42 times.") == ["hello", "world", "don't", "stop", "42", "times"]
    assert tokenize("Straße café naïve") == ["straße", "café", "naïve"]
    assert tokenize("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # combining vowel signs stay inside words
    assert tokenize("") == [] and tokenize(None) == []
    assert tokenize("--- ... !!!") == []


def test_normalization_removes_case_digits_punctuation_and_space():
    assert normalize_for_hash("  Hello,   World!\n\n2024-05-18 ") == "hello world"
    a = "The quick brown fox. It ran 3 miles!"
    for variant in (a.upper(), "  " + a.replace(" ", "   "), a.replace(".", "!!") + " (17)", "1.2.2020 - " + a):
        assert content_hash(variant) == content_hash(a)
    assert content_hash(a) != content_hash(a + " again")


def test_text_with_nothing_left_has_no_hash():
    assert content_hash("123 --- 456 !!!") is None and content_hash("") is None
    assert len(content_hash("x")) == 40 and not math.isnan(int(content_hash("x"), 16))
