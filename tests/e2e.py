"""The end-to-end audit shared by the job, publication and CLI tests: a planted 3-snapshot corpus with a damaged
file, a detector trained for it, and the job's main() run on it once per session."""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

from crawlaudit.devtools.corpus import CorpusSpec, write_corpus
from tests.wet import record

ROOT = Path(__file__).resolve().parents[1]
DAMAGED = "CC-MAIN-2024-22"
DAMAGED_DOMAIN = "damaged-input.org"


def load_job(name: str = "audit_snapshot"):
    """A job script of jobs/ as a module (its main() runs in the test's Spark session)."""
    spec = importlib.util.spec_from_file_location(f"{name}_job", ROOT / "jobs" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def add_damaged_file(corpus: Path) -> None:
    """Six good records of damaged-input.org, then invalid UTF-8, garbage bytes and a truncated member."""
    good = [record(100 + i, url=f"https://www.{DAMAGED_DOMAIN}/p{i}") for i in range(6)]
    bad_utf8 = record(200, text=b"caf\xe9 \xff broken", url=f"https://www.{DAMAGED_DOMAIN}/bad")
    tail = record(201, url=f"https://www.{DAMAGED_DOMAIN}/cut")
    data = good[0] + good[1] + bad_utf8 + good[2] + b"\x00\x01 not gzip \xfe" * 20 + good[3] + good[4] + good[5]
    rel = f"crawl-data/{DAMAGED}/segments/damaged/wet/damaged.warc.wet.gz"
    (corpus / rel).parent.mkdir(parents=True)
    (corpus / rel).write_bytes(data + tail[: len(tail) // 2])
    manifest = corpus / "crawl-data" / DAMAGED / "wet.paths.gz"
    lines = gzip.decompress(manifest.read_bytes()).decode().split()
    manifest.write_bytes(gzip.compress(("\n".join(lines + [rel]) + "\n").encode()))


# eight pseudo-English domains (the detector's language), two Greek ones and a Korean one (one of the Greek sites
# writes in Korean too), growing from half to twice their size across the snapshots; 30% of their records have
# no language header
SPEC = CorpusSpec(snapshots=("CC-MAIN-2019-35", "CC-MAIN-2021-31", DAMAGED), n_domains=8,
                  docs_per_domain=(45, 90), files_per_snapshot=2, seed=11, ai_share=((2021, 0.3),),
                  languages=(("ell", 2), ("kor", 1)), language_growth=(0.5, 2.0), headerless_share=0.3,
                  bilingual=True)


# the pooled entropy budget of the e2e audits: one every language of every snapshot has (the smallest, Korean in
# 2019, has about 9,800 tokens), so the snapshot and year figures weigh three languages' own figures
E2E_SNAPSHOT_BUDGET = 8_000


def train_model(out: Path, spec: CorpusSpec = SPEC) -> None:
    """A detector and reference tables for ``spec``'s domains, trained on fresh labeled texts of its generators."""
    from crawlaudit.devtools.corpus import labeled_texts
    from crawlaudit.synthetic.detector import FeatureSpec
    from crawlaudit.synthetic.labeled import LabeledSet
    from crawlaudit.synthetic.training import train_detector
    from crawlaudit.synthetic.vocabulary import build_reference

    rows = labeled_texts(60, spec)
    data = LabeledSet.from_rows(rows)
    det, _ = train_detector(data, FeatureSpec(word_bits=16, byte_bits=16))
    det.save(out)
    build_reference(data.texts, data.is_ai, min_docs=5, domains=data.domain).save(out / "reference.json")



def run_audit(tmp_path_factory) -> dict:
    """Write the corpus and the model, audit every snapshot; what the tests need to look at the result."""
    corpus = tmp_path_factory.mktemp("e2e-corpus")
    truth = write_corpus(corpus, SPEC)
    add_damaged_file(corpus)
    wh = str(tmp_path_factory.mktemp("e2e-warehouse"))
    model = tmp_path_factory.mktemp("e2e-model")
    train_model(model)
    shared = ["--set", f"synthetic.model={model}",
              "--set", f"metrics.snapshot_entropy_budget_tokens={E2E_SNAPSHOT_BUDGET}"]
    args = ["--snapshot", "all", "--manifest", str(corpus / "crawl-data/{snapshot}/wet.paths.gz"),
            "--input-base-url", str(corpus), "--warehouse", wh, "--set", "spark.shuffle_partitions=2", *shared]
    job = load_job()
    rc = job.main(args)
    # model_args: the settings every audit compared with this one passes (the model first)
    return {"rc": rc, "wh": wh, "truth": truth, "args": args, "job": job, "corpus": corpus, "model_args": shared}
