#!/usr/bin/env bash
# CI smoke run of the Jepsen-like harness: 3 local nodes, about 30 s of the mixed workload (CP
# register and AP last-writer-wins side by side, on separate keys) under partitions, message
# drops and kill -9, then every check. Exits with dialkv-jepsen's code (0 every check passed,
# 1 a violation, 2 a harness error) and prints where the report is.
#   BUILD_DIR (default build)  where to build dialkv-server and dialkv-jepsen
#   SEED      (default 1)      the run's seed: the same seed repeats the schedule and workload
#   TIME      (default 30)     seconds under the nemesis (plus 2 s warm-up, heal and checks)
#   OUT       (default: a new temp dir)  where the run's files go; kept after the run
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS="dialkv-server dialkv-jepsen" bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/dialkv-jepsen-smoke.XXXXXX")}

status=0
"$build_dir/jepsen-like/dialkv-jepsen" \
  --server "$build_dir/server/dialkv-server" --nodes 3 \
  --workload mixed --nemesis partitions,drop,kill --nemesis-interval 4s \
  --time "${TIME:-30}" --seed "${SEED:-1}" --out "$out/run" || status=$?

echo "jepsen smoke: exit $status; report: $out/run/report.html (results.json, history.jsonl," \
  "final.json and the nodes' logs in $out/run)"
exit "$status"
