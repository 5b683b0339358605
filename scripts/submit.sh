#!/usr/bin/env bash
# Submit a crawlaudit job to a cluster: the profile's submit section (conf/cluster.yaml) becomes a spark-submit
# command for YARN, Kubernetes or a standalone master, or an `aws emr add-steps` call for EMR. Build the
# artifacts first with scripts/package.sh (for EMR, copy dist/ to S3 and set submit.artifacts to it).
# Usage: scripts/submit.sh [--dry-run] [--config conf/cluster.yaml] [--target yarn|k8s|emr|standalone]
#                          [--job audit_snapshot|scheduled_audit] [--set submit.KEY=VALUE] -- JOB ARGUMENTS
# e.g.   scripts/submit.sh --config conf/cluster.yaml -- --snapshot CC-MAIN-2024-22 --sample-files 100
# --dry-run prints the command instead of running it. spark-submit must be on PATH (or SPARK_HOME set).
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
CRAWLAUDIT=.venv/bin/crawlaudit; [ -x "$CRAWLAUDIT" ] || CRAWLAUDIT=crawlaudit
HAS_CONFIG=0; for a in "$@"; do [ "$a" = "--config" ] && HAS_CONFIG=1; [ "$a" = "--" ] && break; done
[ "$HAS_CONFIG" = 1 ] || set -- --config conf/cluster.yaml "$@"
CMD=()
while IFS= read -r -d '' arg; do CMD+=("$arg"); done < <("$CRAWLAUDIT" submit-command --print0 "$@")
[ "${#CMD[@]}" -gt 0 ] || exit 2   # submit-command printed why
if [ "$DRY" = 1 ]; then printf '%q ' "${CMD[@]}"; echo; exit 0; fi
if [ "${CMD[0]}" = "spark-submit" ] && [ -n "${SPARK_HOME:-}" ]; then CMD[0]="$SPARK_HOME/bin/spark-submit"; fi
for f in dist/crawlaudit.zip dist/jobs; do
  [ -e "$f" ] || { echo "submit: $f missing: run scripts/package.sh first" >&2; exit 2; }
done
exec "${CMD[@]}"
