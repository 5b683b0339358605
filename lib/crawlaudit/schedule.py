"""Scheduled, incremental audits: which snapshots are due, and a lease so two schedulers never audit one at once.

- ``read_catalog``: Common Crawl's snapshot list (``collinfo.json``: ``[{"id": "CC-MAIN-2024-51", "name": ...}]``)
  from a file or URL, validated.
- ``pending``: the catalog's snapshots in the configured range without a succeeded run in ``audit_runs``, newest
  first (read with delta-rs: planning never starts Spark).
- ``Lease``: a row per snapshot in the Delta table ``leases`` (holder, expiry), taken with a MERGE that inserts
  the row, or takes over an expired one. Delta's optimistic concurrency makes the MERGE a mutex: of two schedulers
  racing for one snapshot, the second commit conflicts, retries, finds the lease held and gives up.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from crawlaudit import tables
from crawlaudit.config import SNAPSHOT_RE, ScheduleConfig, parse_snapshot
from crawlaudit.errors import ConfigError, InputError

log = logging.getLogger(__name__)

LEASES = "leases"


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


def succeeded_snapshots(warehouse: str) -> set[str]:
    """Snapshots with at least one succeeded run in audit_runs (empty when the table does not exist yet)."""
    from deltalake.exceptions import TableNotFoundError

    try:
        runs = tables.read_table_arrow(warehouse, tables.AUDIT_RUNS)
    except TableNotFoundError:
        return set()
    return {s for s, status in zip(runs.column("snapshot").to_pylist(), runs.column("status").to_pylist())
            if status == "succeeded"}


def pending(catalog: list[CatalogEntry], done: set[str], cfg: ScheduleConfig) -> list[CatalogEntry]:
    """Catalog snapshots in [since, until] not in ``done``, newest first (ids sort chronologically)."""
    keep = [e for e in catalog if e.id not in done and (cfg.since is None or e.id >= cfg.since)
            and (cfg.until is None or e.id <= cfg.until)]
    out = sorted({e.id: e for e in keep}.values(), key=lambda e: e.id, reverse=True)
    return out[: cfg.max_snapshots] if cfg.max_snapshots else out


def plan(cfg: ScheduleConfig, warehouse: str) -> list[CatalogEntry]:
    """The snapshots a scheduled run would audit now."""
    if not cfg.catalog:
        raise ConfigError("schedule.catalog is not set: the path or URL of a collinfo.json snapshot list "
                          "(e.g. https://index.commoncrawl.org/collinfo.json)")
    return pending(read_catalog(cfg.catalog), succeeded_snapshots(warehouse), cfg)


class Lease:
    """``with Lease(spark, wh, snapshot, minutes) as held:`` — ``held`` says whether this scheduler got the
    snapshot; the lease is released (expired now) on exit when held."""

    def __init__(self, spark, warehouse: str, snapshot: str, minutes: float):
        parse_snapshot(snapshot)  # a validated id: nothing else reaches the SQL conditions below
        self.spark, self.wh, self.snapshot, self.minutes = spark, warehouse, snapshot, minutes
        self.holder = f"scheduler-{uuid.uuid4()}"
        self.held = False

    def __enter__(self) -> bool:
        self.held = self.acquire()
        return self.held

    def __exit__(self, *exc) -> bool:
        if self.held:
            self.release()
        return False

    def _path(self) -> str:
        return tables.table_path(self.wh, LEASES)

    def acquire(self) -> bool:
        from delta.tables import DeltaTable

        now = datetime.now(timezone.utc)
        row = self.spark.createDataFrame([(self.snapshot, self.holder, now, now + timedelta(minutes=self.minutes))],
                                         LEASE_SCHEMA)
        path = self._path()
        tables.retry_on_conflict(lambda: None if tables._exists(self.spark, path) else
                                 row.limit(0).write.format("delta").mode("append").save(path), LEASES)
        tables.retry_on_conflict(lambda: (
            DeltaTable.forPath(self.spark, path).alias("t")
            .merge(row.alias("s"), "t.snapshot = s.snapshot")
            .whenMatchedUpdateAll(condition="t.expires_at < s.acquired_at OR t.holder = s.holder")
            .whenNotMatchedInsertAll()
            .execute()), f"{LEASES} {self.snapshot}")
        current = (self.spark.read.format("delta").load(path).where(f"snapshot = '{self.snapshot}'")
                   .select("holder", "expires_at").first())
        held = current is not None and current["holder"] == self.holder
        if not held:
            log.info("%s: leased by %s until %s; skipped", self.snapshot, current["holder"], current["expires_at"])
        return held

    def release(self) -> None:
        from delta.tables import DeltaTable

        tables.retry_on_conflict(lambda: DeltaTable.forPath(self.spark, self._path()).update(
            condition=f"snapshot = '{self.snapshot}' AND holder = '{self.holder}'",
            set={"expires_at": "current_timestamp()"}), f"{LEASES} {self.snapshot}")


LEASE_SCHEMA = "snapshot string, holder string, acquired_at timestamp, expires_at timestamp"
