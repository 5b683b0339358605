"""A warehouse on S3 (#18): moto's S3 server on 127.0.0.1, the scheduled job writing Delta through ``s3a://``
(hadoop-aws resolved through Ivy like the Delta jar), then ``plan``, ``summary``, ``report`` and ``validate``
against it, the same rows as the local end-to-end audit, and credentials nowhere but where they are used.

One scheduled audit of two snapshots is shared by the module (it runs in its own process: the test session's
Spark has no hadoop-aws)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from crawlaudit import cli
from crawlaudit.warehouse import Warehouse
from crawlaudit.warehouse import tables as T
from tests.e2e import SPEC, ROOT

SNAPSHOTS = SPEC.snapshots[:2]
BUCKET = "crawlaudit-test"
ACCESS_KEY = "AKIACRAWLAUDITTEST"
SECRET = f"s3cr3t-{uuid.uuid4().hex}"          # must never show up in a log line, a row or an error
COMPARED = ("domain_stats", "snapshot_stats", "language_stats", "year_stats", "year_language_stats", "doc_signatures",
            "doc_hashes", "doc_scores", "token_samples", "ingest_errors", "content_hashes")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """moto's S3-compatible server on a free loopback port; (process, endpoint)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.2)


def aws_env() -> dict:
    """The AWS chain's credentials for the in-process readers (delta-rs, boto3); no instance metadata lookups."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true"}


def run(args: list[str], env_extra: dict, log: Path | None = None, timeout: int = 1200) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if log is not None:
        log.write_text(out.stdout + out.stderr)
    return out


@pytest.fixture(scope="module")
def s3(audited, tmp_path_factory):
    """A scheduled audit of the end-to-end corpus's first two snapshots into s3a://<bucket>/warehouse."""
    import boto3

    tmp = tmp_path_factory.mktemp("s3")
    proc, endpoint = start_moto()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k, v in aws_env().items():
                mp.setenv(k, v)
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
            # the local profile (as the end-to-end audit used it) with the warehouse on S3; the keys in the config
            profile = yaml.safe_load((ROOT / "conf" / "local.yaml").read_text())
            profile["output"] = {"warehouse": f"s3a://{BUCKET}/warehouse",
                                 "s3": {"endpoint": endpoint, "path_style": True, "access_key_id": ACCESS_KEY,
                                        "secret_access_key": SECRET}}
            profile.setdefault("report", {})["out_dir"] = str(tmp / "report")
            profile.setdefault("quality", {})["data_docs"] = False
            config = tmp / "s3.yaml"
            config.write_text(yaml.safe_dump(profile))
            catalog = tmp / "collinfo.json"
            catalog.write_text(json.dumps([{"id": s, "name": s} for s in SNAPSHOTS]))
            corpus = audited["corpus"]
            common = ["--config", str(config), "--set", "spark.shuffle_partitions=2", *audited["model_args"]]
            audit = [*common, "--catalog", str(catalog), "--input-base-url", str(corpus),
                     "--manifest", str(corpus / "crawl-data/{snapshot}/wet.paths.gz")]
            validate = ["validate", *common, "--snapshot", SNAPSHOTS[1]]
            # a curation export to the bucket, and the kept texts extracted (from the local files) next to it
            curation = [["export", *common, "--all", "--out", f"s3a://{BUCKET}/export"],
                        ["extract", *common, "--from", f"s3a://{BUCKET}/export", "--format", "parquet"]]
            # the scheduled job, then `crawlaudit validate`, export and extract, in one process: the later sessions
            # reuse the JVM
            driver = tmp / "driver.py"   # a file, not -c: pyspark takes a main module without a file for doctests
            driver.write_text(DRIVER)
            job = run([str(driver), json.dumps(audit), json.dumps(validate), json.dumps(curation)],
                      {"AWS_EC2_METADATA_DISABLED": "true"}, tmp / "job.log")
            yield {"job": job, "endpoint": endpoint, "config": str(config), "catalog": str(catalog), "tmp": tmp,
                   "wh": Warehouse.from_config(cli.load_config(config).output)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


DRIVER = """
import json, sys
from crawlaudit import cli
from tests.e2e import load_job
audit_rc = load_job("scheduled_audit").main(json.loads(sys.argv[1]))
print("audit exit", audit_rc, flush=True)
validate_rc = cli.main(json.loads(sys.argv[2])) if audit_rc == 0 else None
print("validate exit", validate_rc, flush=True)
curation_rc = [cli.main(args) for args in json.loads(sys.argv[3])] if validate_rc == 0 else None
print("curation exit", curation_rc, flush=True)
sys.exit(audit_rc or validate_rc or max(curation_rc))
"""


def rows(wh: Warehouse, table: str, keep=lambda r: True) -> list[str]:
    return sorted(json.dumps({k: v for k, v in r.items() if k != "run_id"}, sort_keys=True, default=str)
                  for r in wh.read_arrow(table).to_pylist() if keep(r))


def test_scheduled_audit_into_s3_gives_the_local_audit_rows(s3, audited):
    assert s3["job"].returncode == 0 and "audit exit 0" in s3["job"].stdout, s3["job"].stderr[-3000:]
    wh, local = s3["wh"], Warehouse.at(audited["wh"])
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws_env().items():
            mp.setenv(k, v)
        for table in COMPARED:
            column = "first_snapshot" if table == T.CONTENT_HASHES else "year" if table in T.YEAR_TABLES else "snapshot"
            wanted = {int(s[8:12]) for s in SNAPSHOTS} if table in T.YEAR_TABLES else set(SNAPSHOTS)
            remote = rows(wh, table)
            assert remote == rows(local, table, lambda r: r[column] in wanted), table
            assert remote or table == T.INGEST_ERRORS, table   # no damaged file in these two snapshots
        runs = wh.read_arrow(T.AUDIT_RUNS).to_pylist()
        assert sorted(r["snapshot"] for r in runs if r["status"] == "succeeded") == sorted(SNAPSHOTS)
        leases = wh.read_arrow(T.LEASES).to_pylist()     # the scheduler took each snapshot's lease, then released it
        assert sorted(r["snapshot"] for r in leases) == sorted(SNAPSHOTS)
        assert all(r["expires_at"] <= r["acquired_at"].__class__.now(r["expires_at"].tzinfo) for r in leases)
    assert (s3["tmp"] / "report" / "index.html").is_file()    # the scheduled run rewrote the report


def test_plan_summary_report_and_validate_read_the_s3_warehouse(s3, capsys):
    assert s3["job"].returncode == 0
    base = ["--config", s3["config"]]
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws_env().items():
            mp.setenv(k, v)
        assert cli.main(["plan", *base, "--catalog", s3["catalog"]]) == 0
        assert "nothing to audit" in capsys.readouterr().out
        catalog = Path(s3["tmp"] / "later.json")
        catalog.write_text(json.dumps([{"id": s, "name": s} for s in SPEC.snapshots]))
        assert cli.main(["plan", *base, "--catalog", str(catalog), "--json"]) == 0
        assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [SPEC.snapshots[2]]
        assert cli.main(["summary", *base, "--by", "snapshot"]) == 0
        out = capsys.readouterr().out
        assert all(s in out for s in SNAPSHOTS)
        assert cli.main(["report", *base, "--out", str(s3["tmp"] / "report2")]) == 0
        assert "report:" in capsys.readouterr().out and (s3["tmp"] / "report2" / "report.json").is_file()
    out = s3["job"].stdout   # the driver ran `crawlaudit validate` after the audit (see the fixture)
    assert "validate exit 0" in out and f"{SNAPSHOTS[1]}: " in out and " 0 critical" in out
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws_env().items():
            mp.setenv(k, v)
        recorded = s3["wh"].read_arrow(T.VALIDATION_RESULTS).to_pylist()
    assert any(r["run_id"].startswith("validate-") and r["snapshot"] == SNAPSHOTS[1] for r in recorded)


def test_credentials_appear_in_no_log_row_or_error(s3):
    assert s3["job"].returncode == 0
    logs = [p.read_text() for p in s3["tmp"].glob("*.log")]
    assert logs and all(SECRET not in text for text in logs)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws_env().items():
            mp.setenv(k, v)
        for table in (*COMPARED, T.AUDIT_RUNS, T.VALIDATION_RESULTS, T.LEASES):
            assert SECRET not in json.dumps(s3["wh"].read_arrow(table).to_pylist(), default=str), table
        config = json.loads(s3["wh"].read_arrow(T.AUDIT_RUNS).to_pylist()[0]["config"])
    assert config["output"]["s3"]["secret_access_key"] == "***"


@pytest.mark.parametrize("case", ["bad scheme", "missing bucket", "wrong credentials"])
def test_a_bad_warehouse_is_one_line_naming_the_setting_and_nothing_is_written(s3, case, tmp_path):
    """Exit 2 before Spark starts, one line on stderr naming the setting, no object written anywhere."""
    import boto3

    endpoint, auth = s3["endpoint"], None
    warehouse = {"bad scheme": "gs://bucket/warehouse", "missing bucket": "s3a://no-such-bucket/warehouse",
                 "wrong credentials": f"s3a://{BUCKET}/other"}[case]
    if case == "wrong credentials":   # a second server that checks credentials: these keys are unknown to it
        auth, endpoint = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        client = boto3.client("s3", endpoint_url=s3["endpoint"], region_name="us-east-1",
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET)
        before = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))
        out = run([str(ROOT / "jobs" / "audit_snapshot.py"), "--config", s3["config"], "--snapshot", SNAPSHOTS[0],
                   "--warehouse", warehouse, "--set", f"output.s3.endpoint={endpoint}",
                   "--input-paths", str(tmp_path)], {"AWS_EC2_METADATA_DISABLED": "true"}, timeout=300)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1, out.stderr
        expected = {"bad scheme": "output.warehouse = 'gs://bucket/warehouse': unsupported scheme gs://",
                    "missing bucket": "output.warehouse s3a://no-such-bucket/warehouse: bucket 'no-such-bucket' "
                                      "does not exist",
                    "wrong credentials": "the store refused the credentials (HTTP 403) from "
                                         "output.s3.access_key_id / secret_access_key"}[case]
        assert expected in lines[0] and SECRET not in out.stderr + out.stdout
        after = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))
        assert after == before and [b["Name"] for b in client.list_buckets()["Buckets"]] == [BUCKET]
    finally:
        if auth is not None:
            auth.terminate()
            auth.wait(timeout=30)


def test_reads_from_s3_never_abort_the_interpreter_at_exit(s3):
    """The exit-abort of delta-rs's pyarrow scan (delta-io/delta-rs#2184) through the object store as well."""
    code = ("import sys; from crawlaudit.warehouse import Warehouse; from crawlaudit.config import load_config; "
            "w = Warehouse.from_config(load_config(sys.argv[1]).output); "
            "print(sum(w.read_arrow(t).num_rows for t in ('domain_stats', 'doc_signatures', 'audit_runs')))")
    counts = set()
    for _ in range(6):
        out = run(["-c", code, s3["config"]], aws_env(), timeout=120)
        assert out.returncode == 0, out.stderr[-500:]
        counts.add(out.stdout.strip())
    assert len(counts) == 1 and int(counts.pop()) > 0


def test_export_and_extract_write_to_the_bucket(s3):
    """`crawlaudit export --out s3a://…` and `extract --from s3a://…` (run by the fixture's driver): the curation rows
    and the kept texts land in the bucket, one row per audited document, one text per kept row."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    out = s3["job"].stdout
    assert "curation exit [0, 0]" in out, s3["job"].stderr[-3000:]
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws_env().items():
            mp.setenv(k, v)
        store = fs.S3FileSystem(endpoint_override=s3["endpoint"].split("://", 1)[1], scheme="http",
                                region="us-east-1")
        rows = ds.dataset(f"{BUCKET}/export/curation", filesystem=store, format="parquet",
                          partitioning="hive").to_table(columns=["doc_id", "keep"]).to_pylist()
        texts = ds.dataset(f"{BUCKET}/export/text/documents", filesystem=store, format="parquet").to_table(
            columns=["doc_id", "text"]).to_pylist()
        n_docs = sum(r["n_docs"] for r in s3["wh"].read_arrow(T.SNAPSHOT_STATS).to_pylist())
    assert len(rows) == n_docs and {r["doc_id"] for r in texts} == {r["doc_id"] for r in rows if r["keep"]}
    assert texts and all(r["text"] for r in texts)
    assert f"extract: {len(texts):,} documents" in out and "errors: none" in out


def test_extract_reads_kept_records_from_s3_with_ranged_gets(s3, audited):
    """`crawlaudit extract`'s reader on WET files in S3 (the audit ran on the local copy: --rebase points at the
    bucket): ranged GETs give the file's last three records byte for byte (a read from the object's start would meet
    another record: a record_mismatch), and a missing object is an error row."""
    import boto3
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from crawlaudit.config import HttpConfig, InputConfig
    from crawlaudit.curation import extract
    from crawlaudit.ingest.wet import make_doc_id

    corpus = audited["corpus"]
    local = sorted(corpus.glob(f"crawl-data/{SNAPSHOTS[0]}/segments/*/wet/*.warc.wet.gz"))[0]
    rel = str(local.relative_to(corpus))
    with open(local, "rb") as f:
        records = [(r.stream_pos, r.headers["WARC-Record-ID"], r.reader.read()) for r in
                   ArchiveIterator(f, record_types=WarcRecordType.conversion, parse_http=False)][-3:]
    kept = [{"snapshot": SNAPSHOTS[0], "doc_id": make_doc_id(SNAPSHOTS[0], rid), "url": "u", "registered_domain": "d",
             "language": "eng", "warc_file": f"{corpus}/{path}", "warc_offset": pos, "warc_record_id": rid}
            for path in (rel, rel + ".gone") for pos, rid, _ in records]
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {**aws_env(), "AWS_ENDPOINT_URL": s3["endpoint"]}.items():
            mp.setenv(k, v)
        client = boto3.client("s3")
        client.upload_file(str(local), BUCKET, f"corpus/{rel}")
        rows = list(extract.extract_rows(kept, InputConfig(s3_anonymous=False, http=HttpConfig(
            max_retries=1, backoff_initial_s=0.01)), {f"{corpus}/": f"s3://{BUCKET}/corpus/"}))
    assert [r["text"].encode() for r in rows[:3]] == [content for _, _, content in records]
    assert {(r["row_kind"], r["error_kind"]) for r in rows[3:]} == {("error", "fetch_failed")}
