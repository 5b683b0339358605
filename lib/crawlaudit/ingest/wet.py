"""Read one Common Crawl snapshot: manifest → file tasks → fetch (with retries) → WET records → rows.

The only module that reads input. Files are spread over executors (one Spark task per file) and streamed:
the compressed bytes are inflated member by member with zlib (Common Crawl writes one gzip member per
record), each member's WARC record is parsed with FastWARC. Inflating the members ourselves is what lets
a corrupt member be counted and skipped while every later member is still read, and a truncated file be
reported: FastWARC alone ends iteration silently on both.

Nothing is dropped silently: each damaged record, unreadable file or failed fetch becomes an error row
(``ingest_errors``), and each file reports how many conversion records it held. Per-document features
(content hash, token count, line hashes, repetition signals) are computed here, in the parsing pass, so the
text crosses to the JVM once and nothing reads it back for them (see cc-pyspark's sparkcc.py for the record loop this generalizes).
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import io
import logging
import os
import random
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa

from crawlaudit import schemas as S
from crawlaudit.metrics import lines
from crawlaudit.metrics.repetition import repetition_signals
from crawlaudit.config import SNAPSHOT_RE, HttpConfig, InputConfig, LanguagesConfig, redact_url
from crawlaudit.ingest.domains import host_of, registered_domain_of, snapshot_year, tld_of
from crawlaudit.ingest.language import SOURCE_HEADER, LanguageIdentifier, header_language
from crawlaudit.errors import FetchError, InputError, ManifestError

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b\x08"
_OUT_CHUNK = 1 << 20            # inflate at most this much per zlib call: peak memory is a few times this
_BOMB_FACTOR = 64               # inflate an oversized member at most this many record caps before giving up on it
_BATCH_ROWS = 1000
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

# --- locating files ----------------------------------------------------------------------------------------------


def _is_remote(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https", "s3")


def _local_path(uri: str) -> str:
    return uri[len("file://"):] if uri.startswith("file://") else uri


def discover_snapshots(input_cfg: InputConfig) -> list[str]:
    """Snapshot ids present locally, found by expanding ``{snapshot}`` in the manifest or paths template."""
    template = input_cfg.manifest or input_cfg.paths
    if not template or "{snapshot}" not in template or _is_remote(template):
        raise InputError("listing all snapshots needs a local input.manifest or input.paths containing {snapshot}")
    prefix, _, _ = _local_path(template).partition("{snapshot}")
    found = set()
    for hit in glob.glob(_local_path(template).replace("{snapshot}", "CC-MAIN-*")):
        candidate = hit[len(prefix):].split(os.sep)[0].split("/")[0]
        if SNAPSHOT_RE.match(candidate):
            found.add(candidate)
    if not found:
        raise InputError(f"no snapshot found matching {template}")
    return sorted(found)


def validate_manifest_line(line: str, lineno: int, source: str) -> str:
    """A manifest holds relative paths only: no scheme, host, absolute path, '..' or control characters."""
    rel = line.strip()
    bad = None
    if "://" in rel or rel.startswith(("/", "\\")) or ":" in rel.split("/")[0]:
        bad = "an absolute path or URL (only paths relative to the base URL are allowed)"
    elif any(part == ".." for part in rel.replace("\\", "/").split("/")):
        bad = "a '..' segment"
    elif any(ord(c) < 32 or c in "\\?#" for c in rel) or " " in rel:
        bad = "white space, control characters or URL syntax (?, #, \\)"
    if bad:
        raise ManifestError(f"{source}:{lineno}: manifest line {rel[:120]!r} is {bad}; refusing to fetch it")
    return rel


def sample_paths(paths: list[str], snapshot: str, n: int | None) -> list[str]:
    """Deterministic sample of ``n`` paths: the smallest sha256(snapshot, path). Same manifest, same sample,
    whatever its order; one more file in the manifest changes the sample by at most one file."""
    if n is None or n >= len(paths):
        return list(paths)
    keyed = sorted(paths, key=lambda p: hashlib.sha256(f"{snapshot}\n{p}".encode()).hexdigest())
    chosen = set(keyed[:n])
    return [p for p in paths if p in chosen]


def join_base(base_url: str, rel: str) -> str:
    return base_url.rstrip("/") + "/" + rel.lstrip("/")


def resolve_files(input_cfg: InputConfig, snapshot: str) -> list[str]:
    """The file URIs to audit for ``snapshot``, after sampling. Runs on the driver."""
    if input_cfg.paths:
        pattern = _local_path(input_cfg.paths.format(snapshot=snapshot))
        if os.path.isdir(pattern):
            files = sorted(str(p) for p in Path(pattern).rglob("*.warc.wet.gz"))
        else:
            files = sorted(glob.glob(pattern, recursive=True))
        if not files:
            raise InputError(f"input.paths {pattern!r} matches no file")
        return sample_paths(files, snapshot, input_cfg.sample_files)
    if not input_cfg.manifest:
        raise InputError("no input: set input.manifest (with input.base_url) or input.paths")
    if not input_cfg.base_url:
        raise InputError("input.manifest needs input.base_url, the prefix its relative paths are joined to")
    manifest = input_cfg.manifest.format(snapshot=snapshot)
    raw = read_small(manifest, input_cfg)
    if manifest.endswith(".gz") or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ManifestError(f"manifest {manifest} is not a readable gzip file: {e}") from None
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ManifestError(f"manifest {manifest} is not UTF-8 text") from None
    rels = [validate_manifest_line(l, i + 1, manifest) for i, l in enumerate(lines) if l.strip()]
    if not rels:
        raise InputError(f"manifest {manifest} lists no file")
    return [join_base(input_cfg.base_url, r) for r in sample_paths(rels, snapshot, input_cfg.sample_files)]


# --- fetching ----------------------------------------------------------------------------------------------------


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def backoff_seconds(attempt: int, http: HttpConfig, retry_after: float | None = None, rng=random) -> float:
    """Exponential backoff with full jitter (AWS architecture blog), capped; a server's Retry-After wins."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), http.backoff_max_s)
    return rng.uniform(0, min(http.backoff_max_s, http.backoff_initial_s * (2 ** (attempt - 1))))


class RetryingReader(io.RawIOBase):
    """A read-only stream over a remote object that survives throttling and resets.

    ``open_at(offset)`` opens the object from ``offset`` and returns ``(stream, total_size or None)``. On a
    retryable failure (429/5xx, connection reset, timeout, short read) the reader sleeps (backoff with jitter)
    and reopens at the current offset, so a reset mid-body resumes where it stopped instead of restarting.
    """

    def __init__(self, uri: str, open_at: Callable[[int], tuple], http: HttpConfig, sleep=time.sleep):
        super().__init__()
        self.uri, self._open_at, self._http, self._sleep = uri, open_at, http, sleep
        self._stream = None
        self.total: int | None = None
        self.pos = 0
        self.retries = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        attempt = 0
        while True:
            try:
                if self._stream is None:
                    self._stream, total = self._open_at(self.pos)
                    if total is not None:
                        self.total = total
                data = self._stream.read(n if n is not None and n >= 0 else self._http.chunk_bytes)
                if not data and self.total is not None and self.pos < self.total:
                    raise _Retryable(f"connection closed at byte {self.pos} of {self.total}")
                self.pos += len(data)
                return data
            except FetchError:
                raise
            except Exception as e:  # network libraries raise many types; non-retryable ones are FetchError
                self._close_stream()
                attempt += 1
                self.retries += 1
                if attempt > self._http.max_retries:
                    raise FetchError(f"{redact_url(self.uri)}: giving up after {self._http.max_retries} retries: "
                                     f"{e}") from None
                delay = backoff_seconds(attempt, self._http, getattr(e, "retry_after", None))
                log.warning("%s: %s; retry %d/%d in %.1fs", redact_url(self.uri), e, attempt, self._http.max_retries,
                            delay)
                self._sleep(delay)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:
                pass
        self._stream = None

    def close(self) -> None:
        self._close_stream()
        super().close()


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _http_opener(url: str, http: HttpConfig):
    import requests

    session = requests.Session()

    def open_at(offset: int):
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        r = session.get(url, stream=True, timeout=http.timeout_s, headers=headers)
        if r.status_code in RETRY_STATUS:
            r.close()
            raise _Retryable(f"HTTP {r.status_code}", _retry_after(r.headers.get("Retry-After")))
        if r.status_code not in (200, 206):
            r.close()
            raise FetchError(f"{redact_url(url)}: HTTP {r.status_code}")
        r.raw.decode_content = False  # the gzip bytes themselves, whatever Content-Encoding says
        length = r.headers.get("Content-Length")
        total = int(length) + offset if (length and r.status_code == 206) else (int(length) if length else None)
        if offset and r.status_code == 200:  # server ignored Range: skip what we already have
            to_skip = offset
            while to_skip:
                chunk = r.raw.read(min(to_skip, 1 << 20))
                if not chunk:
                    raise _Retryable("short read while skipping to the resume offset")
                to_skip -= len(chunk)
        return r.raw, total

    return open_at


def s3_client(anonymous: bool):
    """An S3 client: unsigned for the public commoncrawl bucket, else the standard credential chain."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config as BotoConfig

    return boto3.client("s3", config=BotoConfig(signature_version=UNSIGNED) if anonymous else BotoConfig())


def _s3_opener(uri: str, input_cfg: InputConfig, client=None):
    from botocore.exceptions import ClientError

    parts = urlsplit(uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    client = client or s3_client(input_cfg.s3_anonymous)

    def open_at(offset: int):
        try:
            kwargs = {"Range": f"bytes={offset}-"} if offset else {}
            obj = client.get_object(Bucket=bucket, Key=key, **kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status in RETRY_STATUS or code in ("SlowDown", "RequestTimeout", "InternalError"):
                raise _Retryable(f"S3 {code or status}") from None
            raise FetchError(f"{uri}: S3 {code or status}") from None  # message carries no credentials
        return obj["Body"], offset + int(obj["ContentLength"])

    return open_at


def open_input(uri: str, input_cfg: InputConfig, sleep=time.sleep, s3=None, offset: int = 0, buffer: int = 0):
    """A binary stream for a local path, ``file://``, ``http(s)://`` or ``s3://`` URI (``s3``: a boto3 client),
    from byte ``offset`` on (a ranged read for remote objects, a seek for local files). ``buffer``: the buffered
    reader's size (default: io's)."""
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https", "s3"):
        opener = _http_opener(uri, input_cfg.http) if scheme != "s3" else _s3_opener(uri, input_cfg, s3)
        raw = RetryingReader(uri, opener, input_cfg.http, sleep)
        raw.pos = offset
        return io.BufferedReader(raw, buffer or io.DEFAULT_BUFFER_SIZE)
    f = open(_local_path(uri), "rb", buffering=buffer or -1)
    if offset:
        f.seek(offset)
    return f


def read_small(uri: str, input_cfg: InputConfig) -> bytes:
    """Whole content of a small object (a manifest)."""
    try:
        with open_input(uri, input_cfg) as f:
            return f.read()
    except FetchError as e:
        raise InputError(f"cannot fetch {redact_url(uri)}: {e}") from None
    except OSError as e:
        raise InputError(f"cannot read {redact_url(uri)}: {e.strerror or e}") from None


# --- gzip members and records ------------------------------------------------------------------------------------


@dataclass
class Member:
    """One gzip member: its compressed offset and inflated bytes, or the error that stopped it."""

    offset: int
    payload: bytes | None
    error_kind: str | None = None
    message: str | None = None


class _Window:
    """A sliding buffer over a binary stream, addressed by absolute offsets."""

    def __init__(self, raw, chunk: int):
        self.raw, self.chunk = raw, chunk
        self.buf = bytearray()
        self.base = 0
        self.eof = False

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def fill(self) -> bool:
        if self.eof:
            return False
        data = self.raw.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def ensure(self, abs_end: int) -> bool:
        while self.end < abs_end:
            if not self.fill():
                return False
        return True

    def slice(self, a: int, b: int) -> bytes:
        return bytes(self.buf[a - self.base: b - self.base])

    def discard_before(self, pos: int) -> None:
        n = pos - self.base
        if n > 0:
            del self.buf[:n]
            self.base = pos

    def find_magic(self, start: int) -> int | None:
        """Absolute offset of the next gzip header at or after ``start``; None at end of stream."""
        pos = max(start, self.base)
        while True:
            i = self.buf.find(GZIP_MAGIC, pos - self.base)
            if i >= 0:
                return self.base + i
            self.discard_before(max(self.base, self.end - len(GZIP_MAGIC) + 1))
            pos = self.base
            if not self.fill():
                return None


def _inflate_member(win: _Window, start: int, max_bytes: int):
    """Inflate the member at ``start``. Returns (payload, next_offset, error_kind, message, resync)."""
    d = zlib.decompressobj(31)
    parts: list[bytes] = []
    size, pos, oversized = 0, start, False
    while True:
        if pos >= win.end and not win.fill():
            return None, start + 1, "truncated_gzip", f"file ends inside the gzip member at offset {start}", True
        chunk = win.slice(pos, min(win.end, pos + win.chunk))
        data = chunk
        try:
            while data:
                out = d.decompress(data, _OUT_CHUNK)
                size += len(out)
                if size > max_bytes:
                    oversized, parts = True, []
                    if size > max_bytes * _BOMB_FACTOR:  # a gzip bomb: stop inflating, look for the next member
                        return (None, start + 1, "oversized_record",
                                f"member at offset {start} inflates past {size} bytes; skipped", True)
                elif out:
                    parts.append(out)
                if d.eof:
                    end = pos + len(chunk) - len(d.unused_data)
                    if oversized:
                        return None, end, "oversized_record", f"record of {size} bytes > cap {max_bytes}", False
                    return b"".join(parts), end, None, None, False
                data = d.unconsumed_tail
        except zlib.error as e:
            return None, start + 1, "corrupt_gzip", f"gzip member at offset {start}: {e}", True
        pos += len(chunk)
        if oversized:
            win.discard_before(pos)


def iter_gzip_members(raw, max_member_bytes: int, chunk: int = 1 << 20) -> Iterator[Member]:
    """Inflate a multi-member gzip stream member by member, recovering after damage.

    A corrupt member yields ``corrupt_gzip`` and the stream is scanned for the next gzip header; bytes that
    are not a gzip member yield one ``corrupt_gzip`` per gap. A file that ends inside a member yields
    ``truncated_gzip``; a member inflating past ``max_member_bytes`` yields ``oversized_record``.
    """
    win = _Window(raw, chunk)
    pos = 0
    while win.ensure(pos + 1):
        win.discard_before(pos)
        win.ensure(pos + len(GZIP_MAGIC))
        if win.slice(pos, pos + len(GZIP_MAGIC)) != GZIP_MAGIC:
            nxt = win.find_magic(pos)
            gap = (nxt if nxt is not None else win.end) - pos
            yield Member(pos, None, "corrupt_gzip", f"{gap} bytes without a gzip header at offset {pos}")
            if nxt is None:
                return
            pos = nxt
            continue
        payload, nxt, kind, message, resync = _inflate_member(win, pos, max_member_bytes)
        if kind is None:
            yield Member(pos, payload)
            pos = nxt
            continue
        if kind == "truncated_gzip":
            # Either the file is cut, or damage made this member swallow the ones after it: look for a later
            # member header before believing the file ends here.
            later = win.find_magic(nxt)
            if later is None:
                yield Member(pos, None, kind, message)
                return
            yield Member(pos, None, "corrupt_gzip", f"gzip member at offset {pos} does not end before the "
                                                    f"next member at {later}")
            pos = later
            continue
        yield Member(pos, None, kind, message)
        if resync:
            nxt = win.find_magic(nxt)
            if nxt is None:
                return
        pos = nxt


def _parse_warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def make_doc_id(snapshot: str, record_id: str) -> str:
    """Stable document id: the first 32 hex digits of sha256(snapshot "/" WARC-Record-ID)."""
    return hashlib.sha256(f"{snapshot}/{record_id}".encode("utf-8")).hexdigest()[:32]


def _error(snapshot, file, offset, record_id, kind, message) -> dict:
    return {S.ROW_KIND: S.KIND_ERROR, S.SNAPSHOT: snapshot, S.FILE: file, S.OFFSET: offset,
            S.RECORD_ID: record_id, S.ERROR_KIND: kind, S.MESSAGE: (message or "")[:1000]}


def record_row(headers, content: bytes, declared_length: int | None, snapshot: str, file: str,
               offset: int, max_record_bytes: int, include_private: bool = True) -> dict:
    """One conversion record → a document row, or an error row saying what is wrong with it."""
    record_id = headers.get("WARC-Record-ID")
    url = headers.get("WARC-Target-URI")
    date_raw = headers.get("WARC-Date")
    missing = [n for n, v in (("WARC-Target-URI", url), ("WARC-Record-ID", record_id), ("WARC-Date", date_raw)) if not v]
    if missing:
        return _error(snapshot, file, offset, record_id, "missing_header", "missing " + ", ".join(missing))
    if len(content) > max_record_bytes or (declared_length or 0) > max_record_bytes:
        return _error(snapshot, file, offset, record_id, "oversized_record",
                      f"record of {max(len(content), declared_length or 0)} bytes > cap {max_record_bytes}")
    if declared_length is not None and len(content) < declared_length:
        return _error(snapshot, file, offset, record_id, "truncated_record",
                      f"{len(content)} content bytes, Content-Length says {declared_length}")
    warc_date = _parse_warc_date(date_raw)
    host = host_of(url)
    if warc_date is None or host is None:
        what = f"WARC-Date {date_raw!r}" if warc_date is None else f"WARC-Target-URI {url[:200]!r} has no host"
        return _error(snapshot, file, offset, record_id, "bad_header", f"unparseable {what}")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        return _error(snapshot, file, offset, record_id, "invalid_utf8", f"invalid UTF-8 at content byte {e.start}")
    if not text.strip():
        return _error(snapshot, file, offset, record_id, "empty_record", "no text")
    lang = header_language(headers.get("WARC-Identified-Content-Language"))
    return {
        S.ROW_KIND: S.KIND_DOC, S.SNAPSHOT: snapshot, S.FILE: file, S.OFFSET: offset,
        S.RECORD_ID: record_id, S.DOC_ID: make_doc_id(snapshot, record_id), S.URL: url, S.HOST: host,
        S.REGISTERED_DOMAIN: registered_domain_of(host, include_private), S.TLD: tld_of(host),
        S.WARC_DATE: warc_date, S.LANGUAGE: lang, S.LANGUAGE_SOURCE: SOURCE_HEADER if lang else None,
        S.TEXT: text, S.N_CHARS: len(text),
        S.CONTENT_HASH: None, S.N_TOKENS: None,   # these and the page signals: ``with_doc_features``
    }


def with_doc_features(rows: Iterable[dict], languages: LanguageIdentifier, batch_rows: int = 256) -> Iterator[dict]:
    """The rows, in order, with each document's features filled in by one compiled scan of its text per batch
    of ``batch_rows`` documents (``lines.scan_lines``): content_hash and n_tokens (``text.content_hash``, ``text.tokenize``), the
    hashes of its non-empty normalized lines and its repetition signals (``repetition``); and the language of
    those without a header language (``languages``)."""
    pending: list[dict] = []
    docs: list[dict] = []

    def flush():
        if docs:
            languages.annotate(docs)
            scan = lines.scan_lines([d[S.TEXT] for d in docs])
            rep, line_hashes, n_lines = repetition_signals(scan)
            bounds = np.concatenate([[0], np.cumsum(n_lines)]).tolist()
            for i, (d, h, n) in enumerate(zip(docs, scan.content_hashes(), scan.n_tokens.tolist())):
                d[S.CONTENT_HASH], d[S.N_TOKENS] = h, n
                d[S.LINE_HASHES] = line_hashes[bounds[i]:bounds[i + 1]].tolist()
                d.update(zip(S.REP_SIGNALS, rep[i].tolist()))
        yield from pending
        pending.clear()
        docs.clear()

    for row in rows:
        pending.append(row)
        if row[S.ROW_KIND] == S.KIND_DOC:
            docs.append(row)
            if len(docs) >= batch_rows:
                yield from flush()
    yield from flush()


def _rows_from_warc(stream, snapshot: str, file: str, base_offset: int | None, max_record_bytes: int,
                    include_private: bool, payload: bytes | None = None):
    """Rows for the records of an uncompressed WARC stream; yields (row or None, counts_as_record).

    Known non-conversion types (warcinfo, response, ...) are not WET documents and are passed over; a record
    whose WARC-Type cannot be read is an error, never silently skipped. With ``payload`` (one gzip member
    holding one record, as Common Crawl writes), bytes left after the declared Content-Length mean the header
    lied and the text would be cut: the record is a ``bad_content_length`` error.
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    not_wet = {int(t) for t in (WarcRecordType.warcinfo, WarcRecordType.response, WarcRecordType.request,
                                WarcRecordType.metadata, WarcRecordType.resource, WarcRecordType.revisit,
                                WarcRecordType.continuation)}
    for i, rec in enumerate(ArchiveIterator(stream, parse_http=False)):
        offset = base_offset if base_offset is not None else rec.stream_pos
        if rec.record_type != WarcRecordType.conversion and int(rec.record_type) not in not_wet:
            yield _error(snapshot, file, offset, rec.headers.get("WARC-Record-ID"), "bad_header",
                         f"unreadable WARC-Type {rec.headers.get('WARC-Type')!r}"), True
            continue
        if rec.record_type != WarcRecordType.conversion:
            yield None, False
            continue
        content = rec.reader.read(max_record_bytes + 1)
        row = record_row(rec.headers, content, rec.content_length, snapshot, file, offset, max_record_bytes,
                         include_private)
        if payload is not None and i == 0 and row[S.ROW_KIND] == S.KIND_DOC:
            head_end = payload.find(b"\r\n\r\n")
            trailing = payload[head_end + 4 + rec.content_length:] if head_end >= 0 else b""
            if trailing.strip(b"\r\n"):
                row = _error(snapshot, file, offset, row[S.RECORD_ID], "bad_content_length",
                             f"{len(trailing)} bytes after the declared Content-Length {rec.content_length}")
        yield row, True


def parse_file(uri: str, snapshot: str, input_cfg: InputConfig, include_private: bool = True,
               sleep=time.sleep, languages: LanguagesConfig | None = None) -> Iterator[dict]:
    """Every row one WET file yields: its documents, its errors, and last one ``file`` row with counts.
    ``languages``: how documents without a header language get one (default: ``LanguagesConfig()``)."""
    return with_doc_features(_file_rows(uri, snapshot, input_cfg, include_private, sleep),
                             LanguageIdentifier(languages or LanguagesConfig()))


def _file_rows(uri: str, snapshot: str, input_cfg: InputConfig, include_private: bool, sleep) -> Iterator[dict]:
    """``parse_file``'s rows before the per-batch document features."""
    n_records, stream = 0, None
    label = redact_url(uri)  # what rows and messages show: never credentials
    file_row = {S.ROW_KIND: S.KIND_FILE, S.SNAPSHOT: snapshot, S.FILE: label, S.N_RECORDS: 0, S.N_BYTES: 0}
    cap = input_cfg.max_record_bytes
    try:
        stream = open_input(uri, input_cfg, sleep)
        head = stream.peek(8)[:8] if hasattr(stream, "peek") else b""
        if not head:
            yield _error(snapshot, label, 0, None, "not_warc", "empty file")
        elif head.startswith(GZIP_MAGIC):
            # Headers are capped by the member cap too: a record's member holds headers + content.
            for member in iter_gzip_members(stream, cap + 64 * 1024, input_cfg.http.chunk_bytes):
                if member.error_kind:
                    n_records += 1
                    yield _error(snapshot, label, member.offset, None, member.error_kind, member.message)
                    continue
                seen = False
                rows = _rows_from_warc(io.BytesIO(member.payload), snapshot, label, member.offset, cap,
                                       include_private, member.payload)
                try:
                    for row, is_conversion in rows:
                        seen = True
                        if is_conversion:
                            n_records += 1
                            yield row
                except (OSError, ValueError) as e:  # FastWARC refuses a malformed header block
                    seen = True
                    n_records += 1
                    yield _error(snapshot, label, member.offset, None, "bad_record",
                                 f"gzip member at offset {member.offset}: {type(e).__name__}: {e}")
                if not seen and member.payload.strip():
                    n_records += 1
                    yield _error(snapshot, label, member.offset, None, "bad_record",
                                 f"gzip member at offset {member.offset} holds no WARC record")
        elif head.startswith(b"WARC/"):
            try:
                for row, is_conversion in _rows_from_warc(stream, snapshot, label, None, cap, include_private):
                    if is_conversion:
                        n_records += 1
                        yield row
            except ValueError as e:  # (OSError from FastWARC is caught below as unreadable_file)
                n_records += 1
                yield _error(snapshot, label, None, None, "bad_record", f"{type(e).__name__}: {e}")
        else:
            yield _error(snapshot, label, 0, None, "not_warc", f"neither gzip nor WARC (starts with {head[:4]!r})")
    except FetchError as e:
        yield _error(snapshot, label, None, None, "fetch_failed", str(e))
    except OSError as e:
        yield _error(snapshot, label, None, None, "unreadable_file", f"{type(e).__name__}: {e}")
    finally:
        if stream is not None:
            file_row[S.N_BYTES] = getattr(getattr(stream, "raw", None), "pos", None) or (
                stream.tell() if not stream.closed and stream.seekable() else 0)
            stream.close()
    file_row[S.N_RECORDS] = n_records
    yield file_row


# --- Spark side --------------------------------------------------------------------------------------------------

def _arrow_schema() -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(S.INGEST_SCHEMA, timezone="UTC")  # one definition: schemas.INGEST_SCHEMA


ARROW_SCHEMA = _arrow_schema()


def _batches(rows: Iterable[dict]) -> Iterator[pa.RecordBatch]:
    buf: list[dict] = []
    for row in rows:
        buf.append(row)
        if len(buf) >= _BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(buf, schema=ARROW_SCHEMA)
            buf = []
    if buf:
        yield pa.RecordBatch.from_pylist(buf, schema=ARROW_SCHEMA)


def _counted(rows: Iterable[dict], file_index: int, counters) -> Iterator[dict]:
    """Pass a file's rows through; when its closing ``file`` row goes by, add the file to the progress counters."""
    n_docs = 0
    for row in rows:
        if row[S.ROW_KIND] == S.KIND_DOC:
            n_docs += 1
        elif row[S.ROW_KIND] == S.KIND_FILE:
            counters.add(file_index, n_docs, row[S.N_BYTES] or 0)
        yield row


def parse_files_udf(snapshot: str, input_cfg: InputConfig, include_private: bool, counters=None,
                    languages: LanguagesConfig | None = None):
    """The mapInArrow function: batches of (file_index, uri) → batches of INGEST_SCHEMA rows."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for index, uri in zip(batch.column("file_index").to_pylist(), batch.column("uri").to_pylist()):
                rows = parse_file(uri, snapshot, input_cfg, include_private, languages=languages)
                yield from _batches(_counted(rows, index, counters) if counters is not None else rows)

    return run


def read_wet(spark, input_cfg: InputConfig, snapshot: str, include_private: bool = True, counters=None,
             languages: LanguagesConfig | None = None):
    """The parsed rows of one snapshot (documents, errors and per-file counts in one DataFrame, told apart by
    ``row_kind``), one Spark task per file. The caller persists it once and splits it with ``split_ingested``.
    ``counters`` (progress.FileCounters) are added to as each file is read; ``languages``: see ``parse_file``."""
    files = resolve_files(input_cfg, snapshot)
    log.info("%s: %d files to read", snapshot, len(files))
    rdd = spark.sparkContext.parallelize(list(enumerate(files)), numSlices=max(1, len(files)))
    tasks = spark.createDataFrame(rdd, "file_index long, uri string")
    udf = parse_files_udf(snapshot, input_cfg, include_private, counters, languages)
    return tasks.mapInArrow(udf, S.INGEST_SCHEMA), len(files)


def drop_duplicate_records(docs):
    """(kept documents, error rows) for records that repeat a WARC-Record-ID already met in the snapshot.

    The same record id twice would give two rows one doc_id. The first occurrence by (file, offset) is kept;
    each later one becomes a ``duplicate_record_id`` error. Only narrow (doc_id, file, offset) rows are
    shuffled; the (normally empty) set of repeats is broadcast to filter the documents in place.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(S.DOC_ID).orderBy(S.FILE, S.OFFSET)
    repeats = (
        docs.select(S.SNAPSHOT, S.DOC_ID, S.RECORD_ID, S.FILE, S.OFFSET)
        .withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") > 1)
        .drop("_rank")
    )
    kept = docs.join(F.broadcast(repeats.select(S.FILE, S.OFFSET)), [S.FILE, S.OFFSET], "left_anti")
    errors = repeats.select(
        S.SNAPSHOT, S.FILE, S.OFFSET, S.RECORD_ID, F.lit("duplicate_record_id").alias(S.ERROR_KIND),
        F.lit("WARC-Record-ID already met in this snapshot; the first occurrence is kept").alias(S.MESSAGE),
    )
    return kept, errors


def split_ingested(parsed):
    """(documents, errors, files) from the combined ingest DataFrame; repeated record ids become errors."""
    from pyspark.sql import functions as F

    kind = F.col(S.ROW_KIND)
    docs = parsed.filter(kind == S.KIND_DOC).select(
        S.SNAPSHOT, snapshot_year(S.SNAPSHOT).alias(S.YEAR), S.DOC_ID, S.RECORD_ID, S.URL, S.HOST,
        S.REGISTERED_DOMAIN, S.TLD, S.WARC_DATE, S.LANGUAGE, S.LANGUAGE_SOURCE, S.TEXT, S.N_CHARS,
        S.CONTENT_HASH, S.N_TOKENS, S.FILE, S.OFFSET, S.LINE_HASHES, *S.REP_SIGNALS,
    )
    errors = parsed.filter(kind == S.KIND_ERROR).select(S.SNAPSHOT, S.FILE, S.OFFSET, S.RECORD_ID, S.ERROR_KIND, S.MESSAGE)
    files = parsed.filter(kind == S.KIND_FILE).select(S.SNAPSHOT, S.FILE, S.N_RECORDS, S.N_BYTES)
    docs, repeat_errors = drop_duplicate_records(docs)
    return docs, errors.unionByName(repeat_errors), files

