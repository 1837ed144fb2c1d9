#!/usr/bin/env bash
# tests/run.sh: runs every test program of the variant (SAN=address|thread|empty), prints each one's
# result, and ends with `N passed, N failed`. Exit status 0 only when everything passed.
#   tests/run.sh [GTEST_FILTER]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${SAN:-}" in
  "")      variant=release; bin_root=$root ;;
  address) variant=asan; bin_root=$root/build/asan ;;
  thread)  variant=tsan; bin_root=$root/build/tsan ;;
  *) echo "run.sh: SAN must be empty, address or thread" >&2; exit 2 ;;
esac
export LABKIT_BIN_ROOT=$bin_root LABKIT_VARIANT=$variant
# Sanitized programs run several times slower: deadlines stretch, the tests stay the same.
if [ "$variant" != release ]; then export LABKIT_TIME_SCALE=${LABKIT_TIME_SCALE:-3}; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1}

filter=${1:-*}
passed=0; failed=0; failed_programs=()
log_dir=$root/build/$variant/test-logs
mkdir -p "$log_dir"
for test in "$root"/build/$variant/tests/test_*; do
  [ -x "$test" ] || continue
  name=$(basename "$test")
  log=$log_dir/$name.log
  echo "== $name ($variant)"
  "$test" --gtest_filter="$filter" --gtest_brief=1 >"$log" 2>&1
  rc=$?
  cat "$log"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed before reporting
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" -eq 0 ] || failed_programs+=("$name")
done
echo "$passed $failed" > "$root/build/$variant/test-summary"
[ ${#failed_programs[@]} -eq 0 ] || echo "failed: ${failed_programs[*]} (logs in $log_dir)"
echo "$variant: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
