"""Input resolution (manifests, sampling, paths) and fetching over HTTP with throttling and resets."""
from __future__ import annotations

import gzip

import pytest

from crawlaudit.ingest import wet as ingest
from crawlaudit.config import HttpConfig, InputConfig
from crawlaudit.errors import InputError, ManifestError
from tests.flaky_server import FlakyServer
from tests.wet import good_file, record

SNAP = "CC-MAIN-2024-22"


def test_sample_is_deterministic_and_independent_of_manifest_order():
    paths = [f"crawl-data/{SNAP}/segments/s/wet/f{i:05d}.warc.wet.gz" for i in range(200)]
    a = ingest.sample_paths(paths, SNAP, 10)
    assert a == ingest.sample_paths(paths, SNAP, 10) and len(a) == 10
    assert sorted(ingest.sample_paths(list(reversed(paths)), SNAP, 10)) == sorted(a)
    assert sorted(a) != sorted(ingest.sample_paths(paths, "CC-MAIN-2024-18", 10))  # seeded by the snapshot
    assert set(ingest.sample_paths(paths + ["extra.warc.wet.gz"], SNAP, 10)) - set(a) <= {"extra.warc.wet.gz"}
    assert ingest.sample_paths(paths, SNAP, None) == paths


@pytest.mark.parametrize("line", [
    "../etc/passwd", "crawl-data/../../x.gz", "/etc/passwd", "https://evil.example.com/x.warc.wet.gz",
    "s3://other-bucket/x.gz", "C:/windows/x.gz", "a/b?c=d", "a b.gz",
])
def test_unsafe_manifest_lines_are_refused(line):
    with pytest.raises(ManifestError, match="refusing to fetch"):
        ingest.validate_manifest_line(line, 3, "m.paths")


def _write_manifest(tmp_path, rels, gz=True):
    m = tmp_path / ("wet.paths.gz" if gz else "wet.paths")
    data = ("\n".join(rels) + "\n").encode()
    m.write_bytes(gzip.compress(data) if gz else data)
    return m


def test_manifest_with_local_base(tmp_path):
    (tmp_path / "d").mkdir()
    good_file(tmp_path / "d" / "a.warc.wet.gz", 2)
    m = _write_manifest(tmp_path, ["d/a.warc.wet.gz", "", "d/b.warc.wet.gz"])
    files = ingest.resolve_files(InputConfig(manifest=str(m), base_url=str(tmp_path)), SNAP)
    assert files == [f"{tmp_path}/d/a.warc.wet.gz", f"{tmp_path}/d/b.warc.wet.gz"]


def test_paths_directory_and_glob(tmp_path):
    for name in ("x.warc.wet.gz", "y.warc.wet.gz", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert len(ingest.resolve_files(InputConfig(paths=str(tmp_path)), SNAP)) == 2
    assert len(ingest.resolve_files(InputConfig(paths=str(tmp_path / "x*.gz")), SNAP)) == 1
    with pytest.raises(InputError, match="matches no file"):
        ingest.resolve_files(InputConfig(paths=str(tmp_path / "none*")), SNAP)


def test_missing_manifest_and_missing_base_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        ingest.resolve_files(InputConfig(manifest=str(tmp_path / "no.gz"), base_url=str(tmp_path)), SNAP)
    with pytest.raises(InputError, match="needs input.base_url"):
        ingest.resolve_files(InputConfig(manifest=str(tmp_path / "no.gz")), SNAP)
    with pytest.raises(InputError, match="no input"):
        ingest.resolve_files(InputConfig(), SNAP)


def test_discover_snapshots(tmp_path):
    for s in ("CC-MAIN-2020-05", "CC-MAIN-2019-35", "not-a-snapshot"):
        (tmp_path / "crawl-data" / s).mkdir(parents=True)
        (tmp_path / "crawl-data" / s / "wet.paths.gz").write_bytes(b"")
    cfg = InputConfig(manifest=str(tmp_path / "crawl-data/{snapshot}/wet.paths.gz"), base_url=str(tmp_path))
    assert ingest.discover_snapshots(cfg) == ["CC-MAIN-2019-35", "CC-MAIN-2020-05"]


def test_backoff_grows_is_capped_and_honours_retry_after():
    http = HttpConfig(backoff_initial_s=1, backoff_max_s=8)

    class Top:  # the largest draw of the jitter
        @staticmethod
        def uniform(a, b):
            return b

    assert [ingest.backoff_seconds(k, http, rng=Top) for k in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 8]
    assert ingest.backoff_seconds(1, http, retry_after=3) == 3
    assert ingest.backoff_seconds(1, http, retry_after=100) == 8


def _parse(uri, retries=5):
    cfg = InputConfig(http=HttpConfig(max_retries=retries, backoff_initial_s=0.01, backoff_max_s=0.02, timeout_s=5))
    rows = list(ingest.parse_file(uri, SNAP, cfg, sleep=lambda s: None))
    return [r for r in rows if r["row_kind"] == "doc"], [r for r in rows if r["row_kind"] == "error"]


def test_http_fetch_survives_throttling_and_a_reset_mid_body(tmp_path):
    texts = good_file(tmp_path / "a.warc.wet.gz", 40)
    local_docs, _ = _parse(str(tmp_path / "a.warc.wet.gz"))
    with FlakyServer(tmp_path, ["503", "429", "reset", "503"]) as srv:
        docs, errors = _parse(srv.url + "a.warc.wet.gz")
    assert errors == []
    assert [d["text"] for d in docs] == texts == [d["text"] for d in local_docs]
    ranges = [r for _, r, _ in srv.requests]
    assert ranges[:3] == [None, None, None] and ranges[3] is not None and ranges[3].startswith("bytes=")


def test_exhausted_retries_are_a_failed_file_not_a_silent_skip(tmp_path):
    good_file(tmp_path / "a.warc.wet.gz", 3)
    with FlakyServer(tmp_path, ["503"] * 10) as srv:
        docs, errors = _parse(srv.url + "a.warc.wet.gz", retries=3)
    assert docs == [] and [e["error_kind"] for e in errors] == ["fetch_failed"]
    assert "giving up after 3 retries" in errors[0]["message"] and len(srv.requests) == 4


def test_http_404_is_not_retried(tmp_path):
    with FlakyServer(tmp_path, []) as srv:
        docs, errors = _parse(srv.url + "missing.warc.wet.gz")
    assert [e["error_kind"] for e in errors] == ["fetch_failed"] and len(srv.requests) == 1


def test_http_manifest(tmp_path):
    _write_manifest(tmp_path, ["a.warc.wet.gz", "b.warc.wet.gz"])
    with FlakyServer(tmp_path, ["503"]) as srv:
        cfg = InputConfig(manifest=srv.url + "wet.paths.gz", base_url=srv.url,
                          http=HttpConfig(backoff_initial_s=0.01, backoff_max_s=0.01))
        files = ingest.resolve_files(cfg, SNAP)
    assert files == [srv.url + "a.warc.wet.gz", srv.url + "b.warc.wet.gz"]


def test_s3_reads_anonymously_retry_slowdown_and_resume(tmp_path):
    """botocore's Stubber stands in for S3: SlowDown, then a body cut short, then the rest by Range."""
    import io as _io

    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    data = b"".join(record(i) for i in range(3))
    client = ingest.s3_client(anonymous=True)
    from botocore import UNSIGNED

    assert client.meta.config.signature_version is UNSIGNED  # no credentials are looked up or sent

    class Cut(_io.BytesIO):  # a body that breaks after half the bytes, as a reset connection does
        def read(self, n=-1):
            if self.tell() >= len(data) // 2:
                raise ConnectionResetError("reset by peer")
            return super().read(min(n if n and n > 0 else len(data), len(data) // 2 - self.tell()))

    params = {"Bucket": "commoncrawl", "Key": "crawl-data/x.warc.wet.gz"}
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503, expected_params=params)
        stub.add_response("get_object", {"Body": StreamingBody(Cut(data), len(data)), "ContentLength": len(data)},
                          expected_params=params)
        half = len(data) // 2
        stub.add_response("get_object", {"Body": StreamingBody(_io.BytesIO(data[half:]), len(data) - half),
                                         "ContentLength": len(data) - half},
                          expected_params={**params, "Range": f"bytes={half}-"})
        cfg = InputConfig(http=HttpConfig(backoff_initial_s=0.01, backoff_max_s=0.01))
        with ingest.open_input("s3://commoncrawl/crawl-data/x.warc.wet.gz", cfg, sleep=lambda s: None, s3=client) as f:
            got = f.read()
        stub.assert_no_pending_responses()
    assert got == data


def test_s3_missing_key_is_not_retried():
    from botocore.stub import Stubber

    client = ingest.s3_client(anonymous=True)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
        with pytest.raises(ingest.FetchError, match="NoSuchKey"):
            ingest.open_input("s3://commoncrawl/nope", InputConfig(), sleep=lambda s: None, s3=client).read()


def test_credentials_never_appear_in_rows_or_errors(tmp_path):
    good_file(tmp_path / "a.warc.wet.gz", 2)
    with FlakyServer(tmp_path, ["503"] * 10) as srv:
        url = srv.url.replace("http://", "http://alice:hunter2@") + "a.warc.wet.gz"
        cfg = InputConfig(http=HttpConfig(max_retries=1, backoff_initial_s=0.01, backoff_max_s=0.01))
        rows = list(ingest.parse_file(url, SNAP, cfg, sleep=lambda s: None))
    assert [r["error_kind"] for r in rows if r["row_kind"] == "error"] == ["fetch_failed"]
    assert "hunter2" not in repr(rows) and "***@127.0.0.1" in rows[0]["file"]


@pytest.mark.parametrize("faults", [["short"], ["trickle"], ["short", "reset", "429"]])
def test_short_reads_and_trickles_give_the_same_records(tmp_path, faults):
    texts = good_file(tmp_path / "a.warc.wet.gz", 30)
    with FlakyServer(tmp_path, per_path={"/a.warc.wet.gz": faults}) as srv:
        docs, errors = _parse(srv.url + "a.warc.wet.gz")
    assert errors == [] and [d["text"] for d in docs] == texts
