#!/usr/bin/env bash
# Build dist/crawlaudit.zip (the crawlaudit package) for spark-submit --py-files.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python; [ -x "$PY" ] || PY=python3
mkdir -p dist
rm -f dist/crawlaudit.zip
"$PY" - <<'PYEOF'
import pathlib, zipfile
root = pathlib.Path("lib")
with zipfile.ZipFile("dist/crawlaudit.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(root.joinpath("crawlaudit").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            z.write(p, p.relative_to(root).as_posix())
print("dist/crawlaudit.zip:", len(z.namelist()), "files")
PYEOF
