#!/usr/bin/env bash
# Create (or reuse) .venv and install crawlaudit into it. Usage: scripts/setup.sh [extra], e.g. "test".
# Needs python3 (>= 3.10) and Java 17+ (Spark). Delta's jars are resolved from Maven Central into ~/.ivy2*
# by the first Spark session.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA="${1:-}"
PYTHON="${PYTHON:-python3}"

command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found; install Python 3.10+" >&2; exit 1; }
if ! command -v java >/dev/null; then
  echo "setup: java not found; Spark needs a JDK 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
SPEC="."
[ -n "$EXTRA" ] && SPEC=".[$EXTRA]"
echo "setup: installing crawlaudit${EXTRA:+ with [$EXTRA]} into .venv (first time: a few minutes)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$SPEC"
