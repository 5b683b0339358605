"""Every document's language: the crawl's own identification where the record carries it, else an offline detector.

Common Crawl writes CLD2's identification into ``WARC-Identified-Content-Language`` (ISO 639-3 codes, most likely
first, e.g. ``eng,fra``) since late 2018; older crawls and other WET producers have no such header. A document's
``language`` is the header's first code when it is a well-formed code (``language_source = header``), else what
the detector finds in the first ``languages.detect_chars`` characters (``detected``), else ``und``, ISO 639's
"undetermined" (``unknown``). The detector is lingua (``lingua-language-detector``, offline, its models inside
the wheel), restricted to ``languages.set``: memory grows with the set, and a language outside it can only be
mistaken for one inside it, so the set should hold the languages the crawl is expected to contain.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from crawlaudit import schemas as S

if TYPE_CHECKING:
    from crawlaudit.config import LanguagesConfig

UNDETERMINED = "und"
SOURCE_HEADER, SOURCE_DETECTED, SOURCE_UNKNOWN = "header", "detected", "unknown"
SOURCES = (SOURCE_HEADER, SOURCE_DETECTED, SOURCE_UNKNOWN)

_CODE_RE = re.compile(r"^[a-z]{2,3}$")
# ISO 639 special codes that say nothing about the text's language: taken as no header at all
_NOT_A_LANGUAGE = {"und", "mul", "zxx", "mis"}


@lru_cache(maxsize=None)
def _iso3_of_iso1(code: str) -> str | None:
    from lingua import IsoCode639_1, Language

    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code)).iso_code_639_3.name.lower()
    except ValueError:
        return None


def header_language(value: str | None) -> str | None:
    """The first code of a ``WARC-Identified-Content-Language`` value as a lower-case ISO 639-3 code; None when
    the header is missing, empty, malformed or a special code (``und``, ``mul``, ``zxx``, ``mis``). A two-letter
    ISO 639-1 code is mapped to its three-letter code where lingua knows the language."""
    if not value:
        return None
    first = value.split(",", 1)[0].strip().lower()
    if not _CODE_RE.match(first) or first in _NOT_A_LANGUAGE:
        return None
    return _iso3_of_iso1(first) if len(first) == 2 else first


def supported_codes() -> frozenset[str]:
    """The ISO 639-3 codes the detector knows."""
    from lingua import Language

    return frozenset(lang.iso_code_639_3.name.lower() for lang in Language.all())


@lru_cache(maxsize=8)
def _detector(codes: tuple[str, ...], high_accuracy: bool):
    """One lingua detector per (set, mode) and process: its models load once per Python worker."""
    from lingua import IsoCode639_3, LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_iso_codes_639_3(*(IsoCode639_3.from_str(c) for c in codes))
    if not high_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


class LanguageIdentifier:
    """Fills ``language`` and ``language_source`` of the document rows that have no header language."""

    def __init__(self, cfg: LanguagesConfig):
        self.cfg = cfg

    def detect(self, texts: list[str]) -> list[str | None]:
        """The detector's language for each text (its first ``detect_chars`` characters), None where it cannot
        tell (no letters, or nothing in the set fits)."""
        if not texts:
            return []
        det = _detector(tuple(self.cfg.set), self.cfg.high_accuracy)
        n = self.cfg.detect_chars
        out = []
        for text in texts:
            lang = det.detect_language_of(text[:n])
            out.append(lang.iso_code_639_3.name.lower() if lang is not None else None)
        return out

    def annotate(self, docs: list[dict]) -> None:
        """Give the rows without a header language (``language`` null) the detector's or ``und``, in place."""
        missing = [d for d in docs if d[S.LANGUAGE] is None]
        if not missing:
            return
        found = self.detect([d[S.TEXT] for d in missing]) if self.cfg.detect_missing else [None] * len(missing)
        for d, code in zip(missing, found):
            d[S.LANGUAGE], d[S.LANGUAGE_SOURCE] = (code, SOURCE_DETECTED) if code else (UNDETERMINED, SOURCE_UNKNOWN)
