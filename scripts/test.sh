#!/usr/bin/env bash
# Set up .venv with the test extra and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# The report test renders the page in a real browser: Debian's chromium (pip cannot provide it).
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "test: installing chromium (headless report check)"
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; } \
    || echo "test: could not install chromium; the browser check of the report will fail" >&2
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
