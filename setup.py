"""crawlaudit: audit Common Crawl snapshots for the signs of model collapse."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

# Pins: delta-spark 4.4.x requires pyspark <= 4.2.0, and the 4.4.0 jar
# (io.delta:delta-spark_4.2_2.13:4.4.0) is the newest one Maven Central serves
# for Spark 4.2; the pip package and the jar must carry the same version.
INSTALL_REQUIRES = [
    "pyspark==4.2.0",
    "delta-spark==4.4.0",
    "deltalake>=1.1,<2",
    "pyarrow>=17",
    "pandas>=2.2",
    "numpy>=1.26",
    "numba>=0.60",
    "scipy>=1.11",
    "great-expectations==1.24.*",
    "scikit-learn>=1.5",
    "fastwarc>=2.0,<3",
    "tldextract>=5.1,<6",
    "regex>=2024.4",
    "pyyaml>=6",
    "requests>=2.31",
    "boto3>=1.34",
    "matplotlib>=3.8",
    # offline language identification, models inside the wheel (ingest.language)
    "lingua-language-detector>=2.1,<3",
]

AIRFLOW_REQUIRES = ["apache-airflow>=3.0,<4", "apache-airflow-providers-apache-spark>=5.5,<6"]

setup(
    name="crawlaudit",
    version="0.1.0",
    description="Audit Common Crawl snapshots for AI-generated text, vocabulary collapse and duplication.",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    package_dir={"": "lib"},
    packages=find_packages("lib"),
    include_package_data=True,
    package_data={"crawlaudit": ["py.typed"]},
    # the expectation suites, for installations outside a checkout (expectations.default_suites_dir)
    data_files=[("share/crawlaudit/expectations",
                 sorted(str(p.relative_to(ROOT)) for p in (ROOT / "conf" / "expectations").glob("*.yaml")))],
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # venv-pack: the cluster test packs an env; moto: the S3-compatible server of the S3 warehouse test;
        # pytest-xdist and filelock: two test workers sharing the end-to-end audit (tests/conftest.py)
        "test": ["pytest>=8", "chispa>=0.10", "venv-pack>=0.2", "moto[server]>=5.1", "pytest-xdist>=3.6",
                 "filelock>=3.12"],
        "bench": ["datasketch>=1.6"],
        "package": ["venv-pack>=0.2"],
        # Where Airflow runs (scripts/airflow/crawlaudit_dag.py): its own environment, which submits the job.
        # The Spark provider stays below 6: from 6.0 it requires pyspark-client, which replaces the pyspark
        # installation (and its jars) that crawlaudit pins.
        "airflow": AIRFLOW_REQUIRES,
    },
    entry_points={"console_scripts": ["crawlaudit=crawlaudit.cli:main"]},
)
