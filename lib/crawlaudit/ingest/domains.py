"""URL → host → registered domain (offline Public Suffix List) and snapshot id → crawl year."""
from __future__ import annotations

import functools
import ipaddress
from urllib.parse import urlsplit

from pyspark.sql import Column
from pyspark.sql import functions as F

from crawlaudit.config import SNAPSHOT_RE


def host_of(url: str | None) -> str | None:
    """Lower-cased host of ``url`` without port or trailing dot; None when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.rstrip(".").lower() or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


@functools.lru_cache(maxsize=2)
def _extractor(include_private: bool):
    import tldextract

    # No suffix-list download and no cache dir: the snapshot bundled with tldextract is used, offline.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=include_private)


@functools.lru_cache(maxsize=200_000)
def registered_domain_of(host: str | None, include_private: bool = True) -> str | None:
    """``news.bbc.co.uk`` → ``bbc.co.uk``. IP addresses and hosts without a public suffix stay as they are."""
    if not host:
        return None
    if _is_ip(host):
        return host
    r = _extractor(include_private)(host)
    if r.suffix and r.domain:
        return f"{r.domain}.{r.suffix}"
    return host


def tld_of(host: str | None) -> str | None:
    """Last DNS label of ``host`` (``uk`` for ``news.bbc.co.uk``); None for IP addresses."""
    if not host or _is_ip(host):
        return None
    return host.rsplit(".", 1)[-1]


def snapshot_year(snapshot: Column | str) -> Column:
    """Crawl year from a ``CC-MAIN-YYYY-WW`` column (null when it does not parse)."""
    col = F.col(snapshot) if isinstance(snapshot, str) else snapshot
    return F.regexp_extract(col, SNAPSHOT_RE.pattern, 1).try_cast("int")
