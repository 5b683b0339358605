#!/usr/bin/env bash
# Build what spark-submit ships to a cluster, into dist/ (scripts/submit.sh uses it):
#   dist/crawlaudit.zip          the crawlaudit package without its generators (devtools/), for --py-files
#   dist/crawlaudit-conf.zip     conf/ (profiles, expectation suites, models), for --archives ...#conf in cluster mode
#   dist/jobs/*.py               the spark-submit entry points
#   dist/submit.json             the scheduled audit's submission (CONFIG=profile, default conf/cluster.yaml) for Airflow
#   dist/crawlaudit-env.tar.gz   the executors' Python environment packed with venv-pack, for
#                                --archives crawlaudit-env.tar.gz#environment and PYSPARK_PYTHON=./environment/bin/python
# Usage: scripts/package.sh [--no-env]   (--no-env: the nodes have the dependencies installed already)
# DIST=dir scripts/package.sh writes into dir instead of dist/.
# The environment is a fresh, non-editable install of this checkout in build/pack-env (venv-pack refuses
# editable installs); it must be built on the same OS and Python minor version as the cluster nodes run.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_ENV=1
for arg in "$@"; do
  case "$arg" in
    --no-env) WITH_ENV=0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done
PY=.venv/bin/python; [ -x "$PY" ] || PY=python3
DIST="${DIST:-dist}"
mkdir -p "$DIST/jobs"
rm -f "$DIST/crawlaudit.zip" "$DIST/crawlaudit-conf.zip"
DIST="$DIST" "$PY" - <<'PYEOF'
import os, pathlib, zipfile
dist = os.environ["DIST"]

def pack(out, root, top, leave_out=()):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(root.joinpath(top).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and not set(leave_out) & set(p.parts):
                z.write(p, p.relative_to(root / top if top == "conf" else root).as_posix())
        print(f"{out}: {len(z.namelist())} files")

# crawlaudit/... at the zip's root; the generators (devtools: sample corpus, fuzzer, collapse simulator) stay home
pack(f"{dist}/crawlaudit.zip", pathlib.Path("lib"), "crawlaudit", leave_out=("devtools",))
pack(f"{dist}/crawlaudit-conf.zip", pathlib.Path("."), "conf")           # unpacked as ./conf by --archives ...#conf
PYEOF
cp jobs/*.py "$DIST/jobs/"
echo "$DIST/jobs: $(ls "$DIST/jobs" | tr '\n' ' ')"
# what the Airflow DAG submits (scripts/airflow/crawlaudit_dag.py): the scheduled job with the cluster profile
PROFILE="${CONFIG:-conf/cluster.yaml}"
if "$PY" -m crawlaudit.cli submit-command --config "$PROFILE" --job scheduled_audit --json > "$DIST/submit.json.tmp"; then
  mv "$DIST/submit.json.tmp" "$DIST/submit.json"; echo "$DIST/submit.json: scheduled_audit with $PROFILE"
else
  rm -f "$DIST/submit.json.tmp"; echo "package: no $DIST/submit.json (see above); the Airflow DAG needs it" >&2
fi
if [ "$WITH_ENV" = 1 ]; then
  start=$(date +%s)
  [ -x build/pack-env/bin/python ] || python3 -m venv build/pack-env
  echo "package: installing crawlaudit (not editable) into build/pack-env"
  build/pack-env/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip venv-pack
  build/pack-env/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps .
  build/pack-env/bin/python -m pip install --quiet --disable-pip-version-check .
  rm -f "$DIST/crawlaudit-env.tar.gz"
  build/pack-env/bin/venv-pack -p build/pack-env -o "$DIST/crawlaudit-env.tar.gz" --quiet
  echo "$DIST/crawlaudit-env.tar.gz: $(du -h "$DIST/crawlaudit-env.tar.gz" | cut -f1) in $(( $(date +%s) - start )) s"
fi
