"""Configuration: frozen dataclasses, loaded from a YAML profile and validated with clear messages.

Precedence: dataclass defaults < YAML file < ``--set section.key=value`` overrides (repeatable).
Unknown keys, wrong types and out-of-range values raise ConfigError naming the file and the key,
before any Spark session starts. Relative paths are taken relative to the working directory.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from crawlaudit.errors import ConfigError

SNAPSHOT_RE = re.compile(r"^CC-MAIN-(\d{4})-(\d{2})$")


def _rng(lo: float | None = None, hi: float | None = None) -> dict:
    return {"min": lo, "max": hi}


@dataclass(frozen=True)
class SparkConfig:
    """Session settings. ``master`` null leaves the master to spark-submit (cluster runs).

    ``delta_packages``: add the delta-spark jar matching the pinned pyspark through ``spark.jars.packages``
    (resolved from Maven Central into the Ivy cache); turn off where the cluster provides Delta itself.
    ``conf``: any further Spark properties, passed through unchanged. ``progress_interval_s``: how often the
    driver logs files read / total, docs/s and MB/s while a snapshot's files are read.
    """

    master: str | None = "local[2]"
    app_name: str = "crawlaudit"
    shuffle_partitions: int = field(default=4, metadata=_rng(1))
    driver_memory: str | None = None
    delta_packages: bool = True
    conf: dict = field(default_factory=dict)
    progress_interval_s: float = field(default=10.0, metadata=_rng(0.01))
    delta_snapshot_partitions: int = field(default=4, metadata=_rng(1))


@dataclass(frozen=True)
class HttpConfig:
    """Retries for HTTP(S) and S3 reads: exponential backoff with full jitter on 429/5xx/resets."""

    max_retries: int = field(default=8, metadata=_rng(0, 100))
    backoff_initial_s: float = field(default=1.0, metadata=_rng(0))
    backoff_max_s: float = field(default=60.0, metadata=_rng(0))
    timeout_s: float = field(default=60.0, metadata=_rng(0.1))
    chunk_bytes: int = field(default=1 << 20, metadata=_rng(1024))


@dataclass(frozen=True)
class InputConfig:
    """Where a snapshot's WET files are.

    Either ``manifest`` (a ``wet.paths.gz``-style list of relative paths; a path or URL, ``{snapshot}`` is
    replaced by the snapshot id) joined to ``base_url`` (local directory, ``s3://commoncrawl/`` or
    ``https://data.commoncrawl.org/``), or ``paths`` (a local directory or glob of ``*.warc.wet.gz``, also with
    ``{snapshot}``). ``sample_files`` picks that many files, deterministically seeded by the snapshot id.
    ``max_record_bytes``: larger records are skipped and counted as ``oversized_record``.
    ``s3_anonymous``: read S3 unsigned (the public commoncrawl bucket); false uses the standard credential chain.
    """

    manifest: str | None = None
    base_url: str | None = None
    paths: str | None = None
    sample_files: int | None = field(default=None, metadata=_rng(1))
    max_record_bytes: int = field(default=5_000_000, metadata=_rng(1))
    s3_anonymous: bool = True
    http: HttpConfig = field(default_factory=HttpConfig)


@dataclass(frozen=True)
class DomainsConfig:
    """Registered domains come from the bundled Public Suffix List snapshot (offline).

    ``include_private_suffixes``: treat private suffixes (blogspot.com, github.io) as public, so
    ``alice.github.io`` is its own registered domain.
    """

    include_private_suffixes: bool = True


# Common Crawl's most frequent languages (its per-crawl statistics), one detector model each
DEFAULT_LANGUAGES = ("eng", "rus", "deu", "jpn", "zho", "spa", "fra", "ita", "por", "nld", "pol", "ces", "vie",
                     "ind", "tur", "swe", "fas", "kor", "ukr", "hun", "ell", "dan", "ron", "fin", "nob", "tha",
                     "slk", "bul", "ara", "heb", "hin", "cat", "lit")


@dataclass(frozen=True)
class LanguagesConfig:
    """Each document's language (``ingest.language``): the first code of ``WARC-Identified-Content-Language``
    where the record has a well-formed one; else, with ``detect_missing``, an offline detector (lingua) over the
    first ``detect_chars`` characters, choosing among ``set`` (ISO 639-3 codes lingua knows; each one's model
    is loaded in every Python worker, ten times larger with ``high_accuracy``, which only helps texts of a few
    words: README, Languages); else ``und``.
    """

    detect_missing: bool = True
    set: tuple[str, ...] = DEFAULT_LANGUAGES
    detect_chars: int = field(default=1000, metadata=_rng(20))
    high_accuracy: bool = False

    def __post_init__(self):
        from crawlaudit.ingest.language import supported_codes

        if not self.set:
            raise ConfigError("languages.set is empty: list the ISO 639-3 codes the detector may choose from")
        known = supported_codes()
        bad = [c for c in self.set if c not in known]
        if bad:
            raise ConfigError(f"languages.set: {', '.join(map(repr, bad))} not known to the detector (ISO 639-3 "
                              f"codes it knows: {', '.join(sorted(known))})")


@dataclass(frozen=True)
class MetricsConfig:
    """Metric parameters. Entropy and diversity are computed on a fixed token budget per group, from
    documents in a deterministic order, so groups of different sizes are comparable. ``bootstrap_replicates``
    and ``seed``: the Chao–Shen interval; ``mattr_window``; Zipf fit over frequency ranks
    [``zipf_rank_min``, ``zipf_rank_max``]; ``tail_rank``: tokens beyond the top-``tail_rank`` types form the tail."""

    entropy_budget_tokens: int = field(default=10_000, metadata=_rng(10))
    snapshot_entropy_budget_tokens: int = field(default=100_000, metadata=_rng(10))
    bootstrap_replicates: int = field(default=100, metadata=_rng(10, 10_000))
    seed: int = field(default=0, metadata=_rng(0))
    mattr_window: int = field(default=500, metadata=_rng(2))
    zipf_rank_min: int = field(default=1, metadata=_rng(1))
    zipf_rank_max: int = field(default=1000, metadata=_rng(10))
    tail_rank: int = field(default=100, metadata=_rng(1))


@dataclass(frozen=True)
class DedupConfig:
    """Near-duplicate and line-level duplication.

    MinHash over word ``shingle_size``-grams of the normalized tokens, ``num_perm`` hash functions seeded by
    ``seed``. LSH bands × rows are chosen for ``jaccard_threshold`` by minimizing
    ``fp_weight`` · (false-positive area) + ``fn_weight`` · (false-negative area); every candidate pair is then
    verified, so false positives cost only verification time and the default weighs misses more.
    ``bucket_window``: in an LSH bucket sorted by doc_id, each document is paired with the next
    ``bucket_window`` members (all pairs for buckets up to window + 1 documents; a bounded, connected chain for
    the huge buckets of templated pages). ``max_component_rounds``: bound on the large-star/small-star rounds.
    ``line_min_repeats``: a normalized line is a duplicate line when it occurs at least this often in the
    snapshot (cc_net). ``templates``: hash, sign and match each page's main content, without the lines its domain
    repeats across at least max(``template_min_docs``, ``template_min_frac`` × its distinct pages) of its pages in
    the snapshot (see ``templates``); false: whole pages.
    """

    shingle_size: int = field(default=5, metadata=_rng(1, 32))
    num_perm: int = field(default=128, metadata=_rng(16, 1024))
    seed: int = field(default=42, metadata=_rng(0))
    jaccard_threshold: float = field(default=0.8, metadata=_rng(0.05, 1.0))
    fp_weight: float = field(default=0.002, metadata=_rng(0, 1))
    fn_weight: float = field(default=0.998, metadata=_rng(0, 1))
    bucket_window: int = field(default=100, metadata=_rng(1))
    max_component_rounds: int = field(default=60, metadata=_rng(2))
    line_min_repeats: int = field(default=3, metadata=_rng(2))
    templates: bool = True
    template_min_docs: int = field(default=5, metadata=_rng(2))
    template_min_frac: float = field(default=0.3, metadata=_rng(0.0, 1.0))


SYNTHETIC_METHODS = ("pacc", "acc", "mle")


@dataclass(frozen=True)
class SyntheticConfig:
    """The AI-generated share (see ``synthetic``, ``quantify``).

    ``model``: directory with the detector (model.npz, model.json) and its reference tables (reference.json),
    built by scripts/train_detector.py; null turns the estimates off (columns null). ``primary_method``: the
    estimator reported as synthetic_ratio (pacc, acc or mle; all are stored). ``min_docs``: smaller groups get
    null estimates and synthetic_low_n. ``bootstrap_replicates`` and ``seed``: the intervals.
    ``vintage_before_year``: years before it are taken as pre-LLM ("vintage"): their marker shares project the
    marker baseline, and with ``human_reference: vintage`` the human side (the detector's fpr and mean human
    probability, the mixture's word rates P) is measured on the audited crawl's own vintage documents instead of
    the labeled texts: every audited pre-LLM snapshot's documents except the row's own snapshot (for a year row,
    except the year's snapshots), whenever they were audited, at least ``vintage_min_docs`` of them (otherwise the
    labeled baseline, with a warning). With ``vintage_per_domain`` the detector's side is measured per domain on
    its own vintage documents, shrunk toward the pooled baseline with the weight of ``vintage_domain_prior_docs``
    documents (null: estimated from the domains' spread, empirical Bayes); ``synthetic_baseline`` records which
    baseline each row used.
    ``uninformative_width``: a row whose 95% interval is wider than this says so (synthetic_uninformative): the
    evidence, or what the detector knows of unseen generators, cannot pin the share down. ``min_doc_tokens``:
    documents with fewer tokens have no usable text for the detector: not scored, counted in n_docs_unscored,
    never taken as human or AI. ``distributed_min_docs``: pooled groups (a snapshot, a year) of at least this many
    scored documents are estimated by Spark aggregations (``synthetic.pooled``: no group in one Python worker);
    smaller ones in one worker, which costs one Spark job less and gives the same numbers.
    """

    model: str | None = "conf/models/l2r-biscope"
    primary_method: str = "pacc"
    min_docs: int = field(default=30, metadata=_rng(1))
    bootstrap_replicates: int = field(default=200, metadata=_rng(20, 10_000))
    seed: int = field(default=0, metadata=_rng(0))
    vintage_before_year: int = field(default=2023, metadata=_rng(2008, 2100))
    human_reference: str = "labeled"
    vintage_min_docs: int = field(default=1000, metadata=_rng(1))
    vintage_per_domain: bool = True
    vintage_domain_prior_docs: int | None = field(default=None, metadata=_rng(1))
    uninformative_width: float = field(default=0.5, metadata=_rng(0.0, 1.0))
    min_doc_tokens: int = field(default=1, metadata=_rng(0))
    distributed_min_docs: int = field(default=100_000, metadata=_rng(0))

    def __post_init__(self):
        if self.primary_method not in SYNTHETIC_METHODS:
            raise ConfigError(f"synthetic.primary_method = {self.primary_method!r}: expected one of "
                              f"{', '.join(SYNTHETIC_METHODS)}")
        if self.human_reference not in ("labeled", "vintage"):
            raise ConfigError(f"synthetic.human_reference = {self.human_reference!r}: expected labeled or vintage")


VALIDATION_ENGINES = ("auto", "pandas", "spark")


@dataclass(frozen=True)
class QualityConfig:
    """The gate before publication (see ``gate``, ``conf/expectations/``).

    ``max_error_fraction``: a snapshot whose share of failed files, or of damaged records among all conversion
    records, passes this is not published (a critical expectation of snapshot_stats).
    ``expectations``: directory of the suites (null: ``conf/expectations`` of this checkout or installation).
    ``validation_engine``: Great Expectations runs the suites with its pandas engine on the collected results
    (``auto`` while a table has at most ``pandas_max_rows`` rows; 20-40x faster than its Spark engine on small
    frames) or on the Spark DataFrame itself. ``drift_*``: warning bounds against the previous audited snapshot
    (ratio of domain counts; absolute change of pooled shares and of entropy in bits). ``data_docs``: render
    Great Expectations' HTML data docs under ``<warehouse>/_data_docs``.
    """

    max_error_fraction: float = field(default=0.05, metadata=_rng(0, 1))
    expectations: str | None = None
    validation_engine: str = "auto"
    pandas_max_rows: int = field(default=2_000_000, metadata=_rng(1))
    drift_min_domain_ratio: float = field(default=0.5, metadata=_rng(0))
    drift_max_domain_ratio: float = field(default=2.0, metadata=_rng(1))
    drift_max_abs_change: float = field(default=0.15, metadata=_rng(0, 1))
    drift_max_entropy_change_bits: float = field(default=1.0, metadata=_rng(0))
    data_docs: bool = True

    def __post_init__(self):
        if self.validation_engine not in VALIDATION_ENGINES:
            raise ConfigError(f"quality.validation_engine = {self.validation_engine!r}: expected one of "
                              f"{', '.join(VALIDATION_ENGINES)}")


WAREHOUSE_SCHEMES = ("", "file", "s3", "s3a")


@dataclass(frozen=True)
class S3Config:
    """How a warehouse on S3 (or an S3-compatible store) is reached, by Spark (S3A) and by delta-rs alike.

    ``endpoint``: the store's URL (null: AWS's own; e.g. http://127.0.0.1:9000 for MinIO). ``region``: null takes
    the AWS chain's (AWS_REGION), else us-east-1. ``path_style``: bucket in the path, not the host name (most
    S3-compatible servers). Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, a profile, an instance role) unless ``access_key_id`` and
    ``secret_access_key`` are set here; either way they never reach logs, tables or error messages.
    """

    endpoint: str | None = None
    region: str | None = None
    path_style: bool = False
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def __post_init__(self):
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ConfigError("output.s3: set both access_key_id and secret_access_key, or neither (the AWS chain)")
        if self.endpoint is not None and not re.match(r"^https?://[^/\s]+/?$", self.endpoint):
            raise ConfigError(f"output.s3.endpoint = {self.endpoint!r}: expected http(s)://host[:port]")


@dataclass(frozen=True)
class OutputConfig:
    """``warehouse``: root of the Delta tables: a local directory, ``file://``, ``s3://`` or ``s3a://`` (both S3
    schemes name the same objects: Spark writes them through S3A, delta-rs reads them as s3://). ``s3``: how S3 is
    reached (S3Config)."""

    warehouse: str = "warehouse"
    s3: S3Config = field(default_factory=S3Config)

    def __post_init__(self):
        scheme = self.warehouse.partition("://")[0].lower() if "://" in self.warehouse else ""
        if scheme not in WAREHOUSE_SCHEMES:
            raise ConfigError(f"output.warehouse = {redact_url(self.warehouse)!r}: unsupported scheme {scheme}:// "
                              f"(use a local directory, file://, s3:// or s3a://)")
        if scheme in ("s3", "s3a") and not self.warehouse.partition("://")[2].split("/")[0]:
            raise ConfigError(f"output.warehouse = {self.warehouse!r}: no bucket (expected {scheme}://bucket/path)")


@dataclass(frozen=True)
class ScheduleConfig:
    """Scheduled, incremental audits (``crawlaudit plan``, ``jobs/scheduled_audit.py``).

    ``catalog``: Common Crawl's snapshot list in its ``collinfo.json`` format (a JSON list of objects with ``id``
    CC-MAIN-YYYY-WW and ``name``), a local path or an http(s) URL, e.g. https://index.commoncrawl.org/collinfo.json.
    ``since`` / ``until``: the range of snapshot ids to keep audited (inclusive; null: no bound).
    ``lease_minutes``: how long a scheduler holds a snapshot it audits before another may take it over (longer
    than an audit takes). ``max_snapshots``: audit at most this many pending snapshots per run (newest first).
    """

    catalog: str | None = None
    since: str | None = None
    until: str | None = None
    lease_minutes: int = field(default=360, metadata=_rng(1))
    max_snapshots: int | None = field(default=None, metadata=_rng(1))

    def __post_init__(self):
        for key in ("since", "until"):
            value = getattr(self, key)
            if value is not None and not SNAPSHOT_RE.match(value):
                raise ConfigError(f"schedule.{key} = {value!r}: expected a snapshot id CC-MAIN-YYYY-WW")


SUBMIT_TARGETS = ("yarn", "k8s", "emr", "standalone")


@dataclass(frozen=True)
class SubmitConfig:
    """How ``scripts/submit.sh`` (``crawlaudit submit-command``) submits a job to a cluster.

    ``target``: yarn | k8s | emr | standalone. ``master``: k8s://https://HOST:443 or spark://HOST:7077 (YARN and
    EMR: yarn). ``deploy_mode``: client (driver where you submit) or cluster. ``artifacts``: where
    ``scripts/package.sh``'s output (dist/) is, as spark-submit sees it: a local directory, hdfs:// or s3://
    (EMR). ``python_env``: ship the packed Python environment for the executors (false when the nodes have the
    dependencies installed). ``k8s_image``, ``k8s_upload_path``: Kubernetes container image and the upload
    location for local files. ``emr_cluster_id``: the EMR cluster to add the step to. ``driver_python``: in
    client mode, the local Python the driver runs (default: the one running crawlaudit). ``conf``: further Spark
    properties for this submission.
    """

    target: str = "yarn"
    master: str | None = None
    deploy_mode: str = "client"
    artifacts: str = "dist"
    python_env: bool = True
    k8s_image: str | None = None
    k8s_upload_path: str | None = None
    emr_cluster_id: str | None = None
    driver_python: str | None = None
    num_executors: int | None = field(default=None, metadata=_rng(1))
    executor_memory: str | None = None
    executor_cores: int | None = field(default=None, metadata=_rng(1))
    conf: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.target not in SUBMIT_TARGETS:
            raise ConfigError(f"submit.target = {self.target!r}: expected one of {', '.join(SUBMIT_TARGETS)}")
        if self.deploy_mode not in ("client", "cluster"):
            raise ConfigError(f"submit.deploy_mode = {self.deploy_mode!r}: expected client or cluster")


@dataclass(frozen=True)
class ReportConfig:
    """The trend report (``crawlaudit report``, refreshed by ``jobs/scheduled_audit.py``).

    ``out_dir``: where ``index.html`` and its PNGs go (null: ``<warehouse>/_report``, local warehouses only).
    ``min_docs``: a domain enters a year's median, the risers and the vintage index only with at least this many
    documents that year. ``top_n``: rows in the risers and vintage rankings. ``vintage_min_years``: audited years a
    domain needs before it gets a vintage index (one year says nothing about staying human).
    """

    out_dir: str | None = None
    min_docs: int = field(default=30, metadata=_rng(1))
    top_n: int = field(default=15, metadata=_rng(1, 1000))
    vintage_min_years: int = field(default=2, metadata=_rng(1))


EXPORT_PRESETS = ("vintage-human-unique", "dedup-only")


@dataclass(frozen=True)
class ExportConfig:
    """``crawlaudit export`` (see ``curation.view.Policy``): ``preset`` (vintage-human-unique: human, first copy, first
    seen before synthetic.vintage_before_year; dedup-only: first copies and cluster representatives), and the policy
    fields that override it (null: the preset's; ``reposts_count_as_vintage``: a kept repost of pre-LLM text is
    vintage; ``judge_vintage``: the AI threshold applies to vintage content too). ``out``: where the export goes
    (null: ``<warehouse>/_export``)."""

    preset: str = "vintage-human-unique"
    max_ai_prob: float | None = field(default=None, metadata=_rng(0, 1))
    min_domain_vintage_index: float | None = field(default=None, metadata=_rng(0, 1))
    languages: tuple[str, ...] | None = None
    drop_reposts: bool | None = None
    reposts_count_as_vintage: bool | None = None
    judge_vintage: bool | None = None
    out: str | None = None

    def __post_init__(self):
        if self.preset not in EXPORT_PRESETS:
            raise ConfigError(f"export.preset = {self.preset!r}: expected one of {', '.join(EXPORT_PRESETS)}")
        bad = [c for c in self.languages or () if not re.fullmatch(r"[a-z]{3}", c)]
        if bad or self.languages == ():
            raise ConfigError(f"export.languages = {list(self.languages)}: expected ISO 639-3 codes (e.g. [eng, deu]) "
                              f"or null for any")


@dataclass(frozen=True)
class Config:
    spark: SparkConfig = field(default_factory=SparkConfig)
    input: InputConfig = field(default_factory=InputConfig)
    domains: DomainsConfig = field(default_factory=DomainsConfig)
    languages: LanguagesConfig = field(default_factory=LanguagesConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    submit: SubmitConfig = field(default_factory=SubmitConfig)


def parse_snapshot(snapshot: str) -> tuple[int, int]:
    """``CC-MAIN-YYYY-WW`` → (year, week). Raises ConfigError for anything else."""
    m = SNAPSHOT_RE.match(snapshot or "")
    if not m:
        raise ConfigError(f"snapshot id {snapshot!r} does not parse: expected CC-MAIN-YYYY-WW, e.g. CC-MAIN-2024-22")
    year, week = int(m.group(1)), int(m.group(2))
    if not (2008 <= year <= 2100 and 1 <= week <= 53):
        raise ConfigError(f"snapshot id {snapshot!r}: year must be 2008-2100 and week 1-53")
    return year, week


def load_config(path: str | Path | None = None, overrides: list[str] | Mapping[str, Any] | None = None) -> Config:
    """Load ``path`` (YAML) over the defaults, then apply ``overrides`` (``key.sub=value`` strings, YAML values)."""
    source = str(path) if path else "<defaults>"
    raw: dict = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {source} not found")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{source}: not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of sections")
    for key, value in _parse_overrides(overrides):
        _set_dotted(raw, key, value)
    return _build(Config, raw, source, "")


def _parse_overrides(overrides) -> list[tuple[str, Any]]:
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    out = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        key, _, text = item.partition("=")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        out.append((key.strip(), value))
    return out


def _set_dotted(raw: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {part!r} is not a section")
    node[parts[-1]] = value


def _build(cls, raw: Any, source: str, prefix: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'top level'} must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key '{prefix}{unknown[0]}' (known keys in {prefix.rstrip('.') or 'top level'}: "
            f"{', '.join(sorted(fields))})"
        )
    kwargs = {}
    for name, value in raw.items():
        f, hint, key = fields[name], hints[name], f"{prefix}{name}"
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value if value is not None else {}, source, key + ".")
            continue
        kwargs[name] = _check_value(value, hint, source, key)
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        v = kwargs[name]
        if v is not None and ((lo is not None and v < lo) or (hi is not None and v > hi)):
            bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
            raise ConfigError(f"{source}: {key} = {v!r} is out of range {bounds}")
    try:
        return cls(**kwargs)
    except ConfigError as e:  # a section's own cross-field checks (__post_init__)
        raise ConfigError(f"{source}: {e}") from None


def _check_value(value: Any, hint: Any, source: str, key: str) -> Any:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigError(f"{source}: {key} must not be null")
    for t in allowed:
        t = typing.get_origin(t) or t
        if t is type(None):
            continue
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t in (str, bool, dict) and isinstance(value, t):
            return value
        if t is tuple and isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
            return tuple(value)
    names = " or ".join("a list of str" if (typing.get_origin(t) or t) is tuple else
                        getattr(typing.get_origin(t) or t, "__name__", str(t)) for t in allowed)
    raise ConfigError(f"{source}: {key} must be {names}, got {type(value).__name__} {value!r}")


def redact_url(value: str | None) -> str | None:
    """``scheme://user:secret@host/path`` → ``scheme://***@host/path``: credentials never reach logs or tables."""
    if not value or "@" not in value or "://" not in value:
        return value
    scheme, _, rest = value.partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return f"{scheme}://{netloc}{slash}{path}"


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


SECRET_KEYS = ("access_key_id", "secret_access_key")


def config_to_dict(cfg: Config) -> dict:
    """Plain-dict form for the run log (``audit_runs.config``), with credentials (in URLs, S3 keys) redacted."""
    out = _redacted(dataclasses.asdict(cfg))
    s3 = out.get("output", {}).get("s3", {})
    for k in SECRET_KEYS:
        if s3.get(k) is not None:
            s3[k] = "***"
    return out
