"""Helpers that build tiny WET files byte by byte for ingest tests."""
from __future__ import annotations

import gzip
from datetime import datetime, timezone

from crawlaudit.devtools.corpus import wet_record

DATE = datetime(2024, 5, 18, 1, 58, 10, tzinfo=timezone.utc)


def record(i: int, text: str | bytes | None = None, url: str | None = None, **kw) -> bytes:
    """One gzip member with a conversion record; distinct text per ``i`` unless given."""
    body = text if text is not None else f"Document number {i} speaks of apples, pears and plums {'x' * i}."
    return wet_record(url or f"https://www.example{i % 3}.com/page/{i}", DATE, f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>",
                      body, **kw)


def raw_member(head: str, body: bytes) -> bytes:
    """A gzip member from literal header text (for malformed headers)."""
    return gzip.compress(head.encode() + b"\r\n" + body + b"\r\n\r\n", mtime=0)


def good_file(path, n: int = 5, start: int = 0) -> list[str]:
    """Write ``n`` good records; return their texts."""
    texts = [f"Document number {i} speaks of apples, pears and plums {'x' * i}." for i in range(start, start + n)]
    path.write_bytes(b"".join(record(i) for i in range(start, start + n)))
    return texts
