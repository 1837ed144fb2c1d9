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

# The release run sees /etc/hosts as a stock Debian or Ubuntu writes it (localhost is ::1 first, then
# 127.0.0.1), in a private mount namespace, so a client that tries only the first address fails here as it
# would for a student; the sanitizer runs keep this machine's file, which may map localhost to 127.0.0.1
# only. LABKIT_HOSTS=machine keeps the machine's file for the release run too. Needs root (CI runs as root).
if [ "$variant" = release ] && [ "${LABKIT_HOSTS:-debian}" = debian ] && [ -z "${LABKIT_HOSTS_APPLIED:-}" ]; then
  hosts=$root/build/release/debian-hosts
  mkdir -p "${hosts%/*}"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' >"$hosts"
  if [ "$(id -u)" -eq 0 ] && unshare --mount --propagation private true 2>/dev/null; then
    echo "release: running with a Debian-style /etc/hosts (localhost is ::1, then 127.0.0.1) in a private mount namespace"
    export LABKIT_HOSTS_APPLIED=1
    exec unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$0" "$@"
  fi
  echo "release: this machine's /etc/hosts (a Debian-style one needs root for a private mount namespace)"
fi

filter=${1:-*}
# Test programs run two at a time (LABKIT_TEST_JOBS): most of a test's time is spent waiting on the
# programs it runs, and every deadline is generous enough for a shared machine. The longest programs of
# the last run start first; each program's output is printed whole when it ends.
jobs_max=${LABKIT_TEST_JOBS:-2}
passed=0; failed=0; failed_programs=()
log_dir=$root/build/$variant/test-logs
mkdir -p "$log_dir"

# The test programs are the release build's; a sanitizer run points them at its own lab programs
# (LABKIT_BIN_ROOT), and runs its own sanitized test_netutil, which tests netutil in-process.
test_dir() {
  if [ "$variant" != release ] && [ "$1" = test_netutil ]; then echo "$root/build/$variant/tests"
  else echo "$root/build/release/tests"; fi
}
programs=()
for test in "$root"/build/release/tests/test_*; do
  [ -x "$test" ] && [ -f "$test" ] && programs+=("$(basename "$test")")
done
# Longest first, by the seconds each took last time (unknown: first).
mapfile -t programs < <(for name in "${programs[@]}"; do
  echo "$(cat "$log_dir/$name.seconds" 2>/dev/null || echo 9999) $name"; done | sort -rn | cut -d' ' -f2)

report() {  # prints one finished program's log and adds up its counts
  local name=$1 log=$log_dir/$1.log rc p f
  rc=$(cat "$log_dir/$name.rc" 2>/dev/null || echo 1)
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  p=${p:-0}; f=${f:-0}
  # A filtered run (make test LAB=... or FILTER=...) leaves out the programs with no test that matches.
  if [ "$filter" != "*" ] && [ "$rc" -eq 0 ] && grep -q '^\[==========\] 0 tests from 0 test suites ran' "$log"; then
    return
  fi
  echo "== $name ($variant)"
  cat "$log"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed before reporting
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" -eq 0 ] || failed_programs+=("$name")
}

declare -A running=()  # pid -> program
for name in "${programs[@]}"; do
  while [ ${#running[@]} -ge "$jobs_max" ]; do
    wait -n 2>/dev/null
    for pid in "${!running[@]}"; do
      kill -0 "$pid" 2>/dev/null && continue
      wait "$pid" 2>/dev/null; report "${running[$pid]}"; unset "running[$pid]"
    done
  done
  (
    start=$SECONDS
    "$(test_dir "$name")/$name" --gtest_filter="$filter" --gtest_brief=1 >"$log_dir/$name.log" 2>&1
    echo $? >"$log_dir/$name.rc"
    [ "$filter" != "*" ] || echo $((SECONDS - start)) >"$log_dir/$name.seconds"
  ) &
  running[$!]=$name
done
for pid in "${!running[@]}"; do
  wait "$pid" 2>/dev/null; report "${running[$pid]}"
done

echo "$passed $failed" > "$root/build/$variant/test-summary"
[ ${#failed_programs[@]} -eq 0 ] || echo "failed: ${failed_programs[*]} (logs in $log_dir)"
[ "$passed" -gt 0 ] || [ "$failed" -gt 0 ] || echo "no test matches '$filter' (the suites are named LabNN...: see a lab README's Tests)"
echo "$variant: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
