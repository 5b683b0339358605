#!/usr/bin/env bash
# Set up .venv with the test extra and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# Two set-up steps run side by side (each takes a minute or two on a clean machine):
# - the report test renders the page in a real browser: Debian's chromium (pip cannot provide it);
# - the DAG test loads scripts/airflow/crawlaudit_dag.py with Airflow's DagBag in an environment of its own, built
#   from setup.py's airflow extra (Airflow's dependencies are not the Spark job's), with the same pyspark pin.
install_chromium() {
  if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "test: installing chromium (headless report check)"
    $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; } \
      || echo "test: could not install chromium; the browser check of the report will fail" >&2
  fi
}
build_airflow_env() {
  local reqs
  reqs=$(.venv/bin/python - <<'PYEOF'
import importlib.metadata as m
reqs = [r.split(";")[0].strip() for r in m.requires("crawlaudit") if 'extra == "airflow"' in r]
reqs += [r.split(";")[0].strip() for r in m.requires("crawlaudit") if r.startswith("pyspark")]
print(" ".join(reqs))
PYEOF
)
  if ! .venv-airflow/bin/python -c "import airflow.providers.apache.spark" >/dev/null 2>&1; then
    echo "test: building .venv-airflow ($reqs; first time: a minute or two)"
    [ -x .venv-airflow/bin/python ] || "${PYTHON:-python3}" -m venv .venv-airflow
    # shellcheck disable=SC2086
    .venv-airflow/bin/python -m pip install --quiet --disable-pip-version-check $reqs
  fi
}
install_chromium &
CHROMIUM=$!
build_airflow_env
wait "$CHROMIUM"
# two workers (TEST_WORKERS=0: one process); how modules are grouped and ordered: tests/conftest.py
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 -n "${TEST_WORKERS:-2}" --dist loadfile \
  --no-loadscope-reorder "$@"
