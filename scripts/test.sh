#!/usr/bin/env bash
# Set up .venv with the test extra and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
