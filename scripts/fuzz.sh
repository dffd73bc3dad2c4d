#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang 14 (address and undefined-behaviour
# sanitizers) and runs each for FUZZ_SECONDS, seeded with a scratch copy of its committed corpus
# and regressions (the repository is not modified). Fails on any crash, failed check, leak,
# timeout, out-of-memory or sanitizer report, keeping the reproducer under
# $BUILD_DIR/fuzz-artifacts/<target>/; prints each target's executions and coverage at the end.
#   BUILD_DIR    (default build-fuzz)   the clang build directory
#   FUZZ_SECONDS (default 60)           how long each target runs
#   FUZZ_TARGETS (default: all)         which targets, space-separated (frame_reader ...)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
read -r -a targets <<<"${FUZZ_TARGETS:-frame_reader client_port http_request token resp_parser}"

cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DDIALKV_SANITIZE=address,undefined \
  -DDIALKV_BUILD_FUZZ=ON -DDIALKV_BUILD_TESTS=OFF -DDIALKV_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/%/_fuzz}"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/dialkv-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
summary=()
failed=()
for t in "${targets[@]}"; do
  corpus="$scratch/$t/corpus"
  artifacts="$build_dir/fuzz-artifacts/$t"
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/corpus/"$t"/* "$corpus"/
  if compgen -G "fuzz/regressions/$t/[!.]*" >/dev/null; then
    cp fuzz/regressions/"$t"/[!.]* "$corpus"/
  fi
  log="$scratch/$t.log"
  echo "=== fuzzing $t for $seconds s"
  status=0
  # -timeout: one input running this long is a hang; -rss_limit_mb: more memory is a leak or
  # an unbounded allocation. Both count as failures, like crashes and sanitizer reports.
  "$build_dir/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
  execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)
  if [ "$status" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|check failed' "$log"; then
    echo "--- $t FAILED (exit $status); end of its log:"
    tail -n 60 "$log"
    echo "--- reproducer(s) in $artifacts/; replay: $build_dir/fuzz/${t}_fuzz FILE"
    failed+=("$t")
    summary+=("$(printf '%-14s FAILED  executions %s  %s' "$t" "${execs:-?}" "$cov")")
  else
    summary+=("$(printf '%-14s ok      executions %s  %s' "$t" "${execs:-?}" "$cov")")
  fi
done

echo "=== fuzzing summary ($seconds s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
