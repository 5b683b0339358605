from pathlib import Path

import pytest

from crawlaudit.config import Config, load_config, parse_snapshot
from crawlaudit.errors import ConfigError
from crawlaudit.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_profiles_load():
    local = load_config(ROOT / "conf" / "local.yaml")
    assert local.spark.master == "local[2]" and local.input.base_url == "sample_corpus"
    cluster = load_config(ROOT / "conf" / "cluster.yaml")
    assert cluster.spark.master is None and cluster.input.sample_files == 100
    assert cluster.input.manifest.format(snapshot="CC-MAIN-2024-22") == "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/wet.paths.gz"


def test_defaults_then_yaml_then_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("metrics:\n  entropy_budget_tokens: 2000\ninput:\n  http:\n    max_retries: 3\n")
    cfg = load_config(p, ["metrics.entropy_budget_tokens=500", "input.sample_files=7"])
    assert cfg.metrics.entropy_budget_tokens == 500
    assert cfg.input.sample_files == 7 and cfg.input.http.max_retries == 3
    assert cfg.quality.max_error_fraction == Config().quality.max_error_fraction


@pytest.mark.parametrize("text, needle", [
    ("input:\n  smaple_files: 3\n", "unknown key 'input.smaple_files'"),
    ("bogus: {}\n", "unknown key 'bogus'"),
    ("metrics:\n  entropy_budget_tokens: lots\n", "metrics.entropy_budget_tokens must be int"),
    ("quality:\n  max_error_fraction: 1.5\n", "quality.max_error_fraction = 1.5 is out of range [0, 1]"),
    ("input:\n  sample_files: 0\n", "input.sample_files = 0 is out of range"),
    ("spark:\n  delta_packages: 3\n", "spark.delta_packages must be bool"),
    ("input: [1, 2]\n", "input must be a mapping"),
    ("metrics: {entropy_budget_tokens: 10\n", "not valid YAML"),
    ("synthetic:\n  primary_method: vote\n", "synthetic.primary_method = 'vote': expected one of pacc, acc, mle"),
    ("synthetic:\n  human_reference: web\n", "synthetic.human_reference = 'web'"),
])
def test_bad_config_names_file_and_key(tmp_path, text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert needle in str(e.value) and "bad.yaml" in str(e.value)


def test_missing_file_and_bad_override():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/x.yaml")
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(None, ["metrics.entropy_budget_tokens"])


@pytest.mark.parametrize("snapshot, expected", [("CC-MAIN-2024-22", (2024, 22)), ("CC-MAIN-2013-20", (2013, 20))])
def test_parse_snapshot(snapshot, expected):
    assert parse_snapshot(snapshot) == expected


@pytest.mark.parametrize("bad", ["CC-MAIN-24-22", "cc-main-2024-22", "CC-MAIN-2024-60", "CC-MAIN-2024-22'; drop", ""])
def test_bad_snapshot_ids_are_rejected(bad):
    with pytest.raises(ConfigError, match="CC-MAIN-YYYY-WW|week"):
        parse_snapshot(bad)


def test_credentials_in_urls_are_redacted_from_the_run_log():
    from crawlaudit.config import config_to_dict, redact_url

    assert redact_url("https://user:s3cret@data.example.org/crawl/x.gz") == "https://***@data.example.org/crawl/x.gz"
    assert redact_url("s3://commoncrawl/crawl-data/") == "s3://commoncrawl/crawl-data/"
    cfg = load_config(None, ["input.base_url=https://me:hunter2@mirror.example.org/",
                             "input.manifest=https://me:hunter2@mirror.example.org/{snapshot}/wet.paths.gz"])
    assert "hunter2" not in str(config_to_dict(cfg))


def test_unwritable_warehouse_fails_before_spark(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="output.warehouse .* cannot be written"):
        Warehouse.at(str(blocker / "warehouse")).check()
    Warehouse.at(str(tmp_path / "new" / "warehouse")).check()
    assert (tmp_path / "new" / "warehouse").is_dir()


def test_jobs_starting_at_once_probe_the_warehouse_without_tripping_each_other(tmp_path):
    """Two schedulers start together on one warehouse (#9): each probe file is its own."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: Warehouse.at(str(tmp_path / "wh")).check(), range(400)))
    assert list((tmp_path / "wh").iterdir()) == []          # no probe left behind


def test_the_checkout_s_expectation_suites_are_found_without_configuration():
    from crawlaudit.quality.expectations import default_suites_dir

    assert default_suites_dir() == Path(__file__).resolve().parents[1] / "conf" / "expectations"
