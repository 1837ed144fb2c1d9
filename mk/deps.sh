#!/usr/bin/env bash
# mk/deps.sh: installs the Debian/Ubuntu packages the kit needs, only those that are missing.
# Silent when everything is present. Uses apt-get directly as root, through sudo otherwise.
# Usage: mk/deps.sh [fuzz|bench|browser|format] [--list]
#                                           (fuzz: also clang and libFuzzer, for `make fuzz`;
#                                            bench: also gnuplot, nginx, wrk and mpirun, for `make bench`;
#                                            browser: also chromium, for tests/test_08_browser, which CI runs
#                                            and which skips itself on a machine without it;
#                                            format: also clang-format, for `make format`;
#                                            --list: print what is missing and exit 1 if anything is)
set -euo pipefail

# package  test that tells it is present
missing=()
need() { local package=$1; shift; "$@" >/dev/null 2>&1 || missing+=("$package"); }
have() { command -v "$1"; }

need g++            have g++
need make           have make
need python3        have python3         # the grader (grading/grade.py, make grade) and tools/handout.py
need libcli11-dev   test -e /usr/include/CLI/CLI.hpp
need libgtest-dev   test -e /usr/include/gtest/gtest.h
need tmux           have tmux
need procps         have pgrep
need netcat-openbsd have nc              # a raw connection by hand (09 and 10 READMEs; 08 exercise 9)
need libpng-dev     test -e /usr/include/png.h
need libopenmpi-dev have mpicxx          # brings openmpi-bin (mpirun): 09/10 mpi.cpp
need liburing-dev   test -e /usr/include/liburing.h   # io_uring (netutil/uring.*): 07's and 08's uring modes
need python3        have python3         # tools/handout.py (every build checks the solution markers), make grade
if [ "${1:-}" = fuzz ]; then
    shift
    need clang              have clang++
    need libclang-rt-14-dev compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a'
elif [ "${1:-}" = bench ]; then
    shift
    need gnuplot-nox        have gnuplot         # the plots of docs/benchmarks.md
    need nginx              test -x /usr/sbin/nginx   # 08's reference server (bench starts its own)
    need wrk                have wrk             # 08's load generator
    need openmpi-bin        have mpirun          # 09/10: sockets beside MPI
elif [ "${1:-}" = browser ]; then
    shift
    need chromium           have chromium        # 08's site loaded in a headless browser
elif [ "${1:-}" = format ]; then
    shift
    need clang-format       have clang-format    # make format, and the layout test's check
fi

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "${1:-}" = "--list" ]; then printf '%s\n' "${missing[@]}"; exit 1; fi

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif have sudo >/dev/null; then sudo=(sudo); else
    echo "deps: missing ${missing[*]}, and neither root nor sudo is available to install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The nginx package may start a system-wide nginx on port 80; the benchmark runs its own, on a free port.
case " ${missing[*]} " in *" nginx "*) "${sudo[@]}" service nginx stop >/dev/null 2>&1 || true ;; esac
echo "deps: installed ${missing[*]}" >&2
