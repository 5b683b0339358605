"""Scheduled, incremental audits: which snapshots are due, and a lease so two schedulers never audit one at once.

- ``read_catalog``: Common Crawl's snapshot list (``collinfo.json``: ``[{"id": "CC-MAIN-2024-51", "name": ...}]``)
  from a file or URL, validated.
- ``pending``: the catalog's snapshots in the configured range without a succeeded run in ``audit_runs``, newest
  first (read with delta-rs: planning never starts Spark).
- ``Lease``: a row per snapshot in the warehouse's ``leases`` table (holder, expiry), taken with a MERGE that inserts
  the row, or takes over an expired one. Delta's optimistic concurrency makes the MERGE a mutex: of two schedulers
  racing for one snapshot, the second commit conflicts, retries, finds the lease held and gives up.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from pathlib import Path

from crawlaudit.config import SNAPSHOT_RE, ScheduleConfig, parse_snapshot
from crawlaudit.errors import ConfigError, InputError
from crawlaudit.warehouse import Warehouse

log = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str


def read_catalog(source: str, timeout_s: float = 30.0) -> list[CatalogEntry]:
    """The snapshots listed in a collinfo.json file or URL (entries whose id is not CC-MAIN-YYYY-WW are skipped
    with a warning; a file that is not such a list is an InputError)."""
    try:
        if source.startswith(("http://", "https://")):
            import requests

            response = requests.get(source, timeout=timeout_s)
            response.raise_for_status()
            raw = response.json()
        else:
            raw = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"schedule.catalog {source}: cannot read it as collinfo.json: {e}") from e
    except Exception as e:  # requests' own errors
        raise InputError(f"schedule.catalog {source}: {e}") from e
    if not isinstance(raw, list) or not all(isinstance(x, dict) and "id" in x for x in raw):
        raise InputError(f"schedule.catalog {source}: expected a JSON list of objects with an id (collinfo.json)")
    entries, skipped = [], []
    for x in raw:
        (entries if SNAPSHOT_RE.match(str(x["id"])) else skipped).append(CatalogEntry(str(x["id"]),
                                                                                         str(x.get("name", ""))))
    if skipped:
        log.warning("schedule.catalog %s: skipped %d entries that are not CC-MAIN-YYYY-WW: %s", source, len(skipped),
                    ", ".join(e.id for e in skipped[:5]))
    return entries


def pending(catalog: list[CatalogEntry], done: set[str], cfg: ScheduleConfig) -> list[CatalogEntry]:
    """Catalog snapshots in [since, until] not in ``done``, newest first (ids sort chronologically)."""
    keep = [e for e in catalog if e.id not in done and (cfg.since is None or e.id >= cfg.since)
            and (cfg.until is None or e.id <= cfg.until)]
    out = sorted({e.id: e for e in keep}.values(), key=lambda e: e.id, reverse=True)
    return out[: cfg.max_snapshots] if cfg.max_snapshots else out


def plan(cfg: ScheduleConfig, wh: Warehouse) -> list[CatalogEntry]:
    """The snapshots a scheduled run would audit now."""
    if not cfg.catalog:
        raise ConfigError("schedule.catalog is not set: the path or URL of a collinfo.json snapshot list "
                          "(e.g. https://index.commoncrawl.org/collinfo.json)")
    return pending(read_catalog(cfg.catalog), wh.succeeded_snapshots(), cfg)


class Lease:
    """``with Lease(wh, snapshot, minutes) as held:`` — ``held`` says whether this scheduler got the snapshot
    (``Warehouse.take_lease``); the lease is released (expired now) on exit when held."""

    def __init__(self, wh: Warehouse, snapshot: str, minutes: float):
        parse_snapshot(snapshot)
        self.wh, self.snapshot, self.minutes = wh, snapshot, minutes
        self.holder = f"scheduler-{uuid.uuid4()}"
        self.held = False

    def __enter__(self) -> bool:
        self.held = self.acquire()
        return self.held

    def __exit__(self, *exc) -> bool:
        if self.held:
            self.release()
        return False

    def acquire(self) -> bool:
        current = self.wh.take_lease(self.snapshot, self.holder, self.minutes)
        held = current is not None and current["holder"] == self.holder
        if not held:
            log.info("%s: leased by %s until %s; skipped", self.snapshot, current["holder"], current["expires_at"])
        return held

    def release(self) -> None:
        self.wh.release_lease(self.snapshot, self.holder)
