"""Scheduled audits: the catalog, the plan, the lease, and two schedulers started at once on the end-to-end
warehouse with one new snapshot: it is audited exactly once, nothing else is re-audited, the plan is then empty."""
from __future__ import annotations

import gzip
import json
import shutil
import threading
from pathlib import Path

import pytest

from crawlaudit import cli
from crawlaudit.ops import schedule
from crawlaudit.config import ScheduleConfig
from crawlaudit.errors import InputError
from crawlaudit.warehouse import Warehouse
from tests.e2e import SPEC, load_job

NEW = "CC-MAIN-2025-05"


def write_catalog(path: Path, ids) -> str:
    """collinfo.json as Common Crawl serves it (id, name, timegate, cdx-api)."""
    path.write_text(json.dumps([{"id": i, "name": f"{i} index", "timegate": f"https://index.commoncrawl.org/{i}/",
                                 "cdx-api": f"https://index.commoncrawl.org/{i}-index"} for i in ids]))
    return str(path)


def test_catalog_and_pending_order(tmp_path):
    src = write_catalog(tmp_path / "collinfo.json",
                        ["CC-MAIN-2024-51", "CC-MAIN-2023-06", "CC-MAIN-2024-10", "CC-MAIN-2013-20", "CC-MAIN-2024-10"])
    catalog = schedule.read_catalog(src)
    assert [e.id for e in catalog][:2] == ["CC-MAIN-2024-51", "CC-MAIN-2023-06"]
    due = schedule.pending(catalog, {"CC-MAIN-2024-10"}, ScheduleConfig(since="CC-MAIN-2020-01"))
    assert [e.id for e in due] == ["CC-MAIN-2024-51", "CC-MAIN-2023-06"]            # newest first, range kept
    due = schedule.pending(catalog, set(), ScheduleConfig(until="CC-MAIN-2024-10", max_snapshots=2))
    assert [e.id for e in due] == ["CC-MAIN-2024-10", "CC-MAIN-2023-06"]            # duplicates once
    (tmp_path / "bad.json").write_text('{"id": "CC-MAIN-2024-51"}')
    with pytest.raises(InputError, match="expected a JSON list"):
        schedule.read_catalog(str(tmp_path / "bad.json"))


def test_lease_is_exclusive_and_taken_over_when_expired(spark, tmp_path):
    wh = str(tmp_path / "wh")
    results = []

    def take():
        results.append(schedule.Lease(Warehouse.at(wh, spark), NEW, 60).acquire())

    threads = [threading.Thread(target=take) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]                 # two schedulers at once: one gets the snapshot
    with schedule.Lease(Warehouse.at(wh, spark), "CC-MAIN-2025-08", 60) as held:   # another snapshot is free
        assert held
    assert schedule.Lease(Warehouse.at(wh, spark), "CC-MAIN-2025-08", 60).acquire()  # released on exit
    stale = schedule.Lease(Warehouse.at(wh, spark), "CC-MAIN-2025-13", 0)
    assert stale.acquire()                                  # expires at once (a crashed scheduler's lease)
    assert schedule.Lease(Warehouse.at(wh, spark), "CC-MAIN-2025-13", 60).acquire()


def test_two_schedulers_audit_the_new_snapshot_once(audited, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(audited["corpus"], corpus)
    first = SPEC.snapshots[0]                               # the new snapshot re-serves the first one's files
    (corpus / "crawl-data" / NEW).mkdir()
    shutil.copy(corpus / "crawl-data" / first / "wet.paths.gz", corpus / "crawl-data" / NEW / "wet.paths.gz")
    assert gzip.decompress((corpus / "crawl-data" / NEW / "wet.paths.gz").read_bytes())
    wh = tmp_path / "wh"
    shutil.copytree(audited["wh"], wh, ignore=shutil.ignore_patterns("_data_docs", "_quarantine"))
    catalog = write_catalog(tmp_path / "collinfo.json", list(SPEC.snapshots))
    common = ["--warehouse", str(wh), "--catalog", catalog]

    assert cli.main(["plan", *common]) == 0
    assert "nothing to audit" in capsys.readouterr().out   # after a full audit
    catalog = write_catalog(tmp_path / "collinfo.json", [NEW, *SPEC.snapshots])
    assert cli.main(["plan", *common, "--json"]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [NEW]

    runs_before = Warehouse.at(str(wh)).read_arrow("audit_runs").num_rows
    job = load_job("scheduled_audit")
    args = [*common, "--manifest", str(corpus / "crawl-data/{snapshot}/wet.paths.gz"), "--input-base-url",
            str(corpus), "--set", "spark.shuffle_partitions=2", "--set", "quality.data_docs=false",
            *audited["model_args"]]
    codes = []
    threads = [threading.Thread(target=lambda: codes.append(job.main(args))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [0, 0]
    runs = Warehouse.at(str(wh)).read_arrow("audit_runs").to_pylist()
    new_runs = [r for r in runs if r["snapshot"] == NEW]
    assert [r["status"] for r in new_runs] == ["succeeded"] and len(runs) == runs_before + 1
    assert cli.main(["plan", *common]) == 0
    assert "nothing to audit" in capsys.readouterr().out
    assert ({r["snapshot"] for r in Warehouse.at(str(wh)).read_arrow("snapshot_stats").to_pylist()}
            == {*SPEC.snapshots, NEW})
    report = json.loads((wh / "_report" / "report.json").read_text())   # the report followed the new snapshot
    assert report["years"] == sorted({int(s.split("-")[2]) for s in (*SPEC.snapshots, NEW)})


def test_schedule_config_and_missing_catalog_are_clear_errors(tmp_path, capsys):
    from crawlaudit.config import load_config
    from crawlaudit.errors import ConfigError

    with pytest.raises(ConfigError, match="schedule.since = '2024'"):
        load_config(None, {"schedule.since": "2024"})
    assert cli.main(["plan", "--warehouse", str(tmp_path / "wh")]) == 2
    assert "schedule.catalog is not set" in capsys.readouterr().err
    assert cli.main(["plan", "--warehouse", str(tmp_path / "wh"), "--catalog", str(tmp_path / "none.json")]) == 2
    assert "cannot read it as collinfo.json" in capsys.readouterr().err
