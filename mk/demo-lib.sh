# mk/demo-lib.sh: helpers for a lab's demo.sh, which `make demo` plays (sourced, not run).
#
#   source "$(dirname "$0")/../mk/demo-lib.sh"
#   demo_heading "Lecture 32, section 2: Waiting for Data from 3 Clients"
#   demo_server server 3                  # ./server 0 3, output labelled [server]; sets DEMO_PORT
#   demo_client "client A" "this is A" 3 -- localhost "$DEMO_PORT"   # types "this is A" after 3 s
#   demo_wait_server 20                   # waits (at most 20 s) for the server to finish
#
# Every program's output is shown as it happens, each line labelled with who printed it. Programs run
# in their own process groups; whatever is still running when the demo ends is stopped.
#
# A demo fails loudly: every program it runs must exit 0 (a server stopped by Ctrl-C included), unless the
# call says otherwise (DEMO_EXPECT_FAIL=1 demo_run ...). The first step with a failure ends the demo with
# status 1 and a line naming the lab, the step and the program: `demo: 01_mtserver: step "...": client A
# exited with status 1`.
set -m  # job control: each background job gets its own process group, so it can be stopped whole

DEMO_DIR=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
DEMO_LAB=$(basename "$DEMO_DIR")
DEMO_BIN=${DEMO_BIN:-$DEMO_DIR}
DEMO_TMP=$(mktemp -d)
DEMO_JOBS=()
DEMO_STEP="(before the first step)"
if [ -t 1 ]; then DEMO_BOLD=$'\e[1m'; DEMO_DIM=$'\e[2m'; DEMO_OFF=$'\e[0m'; else DEMO_BOLD=; DEMO_DIM=; DEMO_OFF=; fi

# demo_check LABEL STATUS: records a failure of the current step unless STATUS is 0 (or DEMO_EXPECT_FAIL is
# set and STATUS is not 0), and returns 1 for a failure. Written to a file, so that background jobs and
# subshells report too.
demo_check() {
    local label=$1 status=$2
    if [ -n "${DEMO_EXPECT_FAIL:-}" ]; then
        [ "$status" -ne 0 ] && return 0
        printf 'step "%s": %s exited with status 0, where it should have failed\n' "$DEMO_STEP" "$label" >>"$DEMO_TMP/failures"
        return 1
    fi
    [ "$status" -eq 0 ] && return 0
    printf 'step "%s": %s exited with status %s\n' "$DEMO_STEP" "$label" "$status" >>"$DEMO_TMP/failures"
    return 1
}

# demo_stop_if_failed: ends the demo (status 1) if any program of it failed so far; demo_cleanup, on the
# way out, names each failure.
demo_stop_if_failed() {
    [ -s "$DEMO_TMP/failures" ] || return 0
    exit 1
}

demo_cleanup() {
    local status=$? pid
    for pid in "${DEMO_JOBS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
    for pid in "${DEMO_JOBS[@]}"; do wait "$pid" 2>/dev/null; done
    if [ -s "$DEMO_TMP/failures" ]; then
        sed "s/^/demo: $DEMO_LAB: /" "$DEMO_TMP/failures" >&2
        status=1
    fi
    rm -rf "$DEMO_TMP"
    exit "$status"
}
trap demo_cleanup EXIT

demo_heading() {
    demo_stop_if_failed
    DEMO_STEP=$*
    printf '\n%s== %s ==%s\n' "$DEMO_BOLD" "$*" "$DEMO_OFF"
}
# demo_quote ARGS...: the arguments as a shell would need them typed, so that a command line the demo
# prints pastes back as it ran (`./client localhost 4242 --message 'this is A'`).
demo_quote() {
    local arg quoted=()
    for arg in "$@"; do
        if [[ -n $arg && $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then quoted+=("$arg")
        else quoted+=("'${arg//\'/\'\\\'\'}'"); fi
    done
    printf '%s' "${quoted[*]}"
}
demo_say() { printf '%s%s%s\n' "$DEMO_DIM" "$*" "$DEMO_OFF"; }
demo_label() { printf '%-11s' "[$1]"; }

# demo_server PROGRAM [ARGS...]: starts ./PROGRAM 0 ARGS... (port 0: any free port), its output labelled
# [server]; waits for its listening line and sets DEMO_PORT. Stdin comes from $DEMO_SERVER_INPUT if set.
demo_server() {
    local program=$1; shift
    local log=$DEMO_TMP/server.out
    : >"$log"
    demo_say "\$ ./$program 0 $(demo_quote "$@")${DEMO_SERVER_INPUT:+   (answers its prompt with: $(printf '%s' "$DEMO_SERVER_INPUT" | tr '\n' ' '))}"
    # The server records its own pid (then becomes the program), so Ctrl-C can go to it alone: signalling
    # the whole pipeline would also stop the tee and sed that show its last lines.
    (printf '%s' "${DEMO_SERVER_INPUT:-}" |
        bash -c 'echo $$ >"$0"; exec "$@"' "$DEMO_TMP/server.pid" "$DEMO_BIN/$program" 0 "$@" 2>&1 |
        tee "$log" | sed -u "s/^/$(demo_label server)/"
     demo_check "./$program 0 $*" "${PIPESTATUS[1]}") &
    DEMO_SERVER_JOB=$!
    DEMO_JOBS+=("$DEMO_SERVER_JOB")
    local tries=0
    until grep -q '^listening on ' "$log"; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ]; then
            demo_check "./$program 0 $* (no listening line within 10 s)" 1
            exit 1
        fi
        sleep 0.1
    done
    DEMO_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -n 1)
}

# demo_client LABEL INPUT DELAY [--] ARGS...: runs ./client ARGS in the background, labelled [LABEL],
# typing INPUT (a line; empty: none) on its stdin after DELAY seconds.
demo_client() {
    local label=$1 input=$2 delay=$3; shift 3
    [ "${1:-}" = "--" ] && shift
    demo_say "\$ ./client $(demo_quote "$@")   ($label${input:+, types \"$input\" after ${delay} s})"
    ( (sleep "$delay"; [ -n "$input" ] && printf '%s\n' "$input") | "$DEMO_BIN/client" "$@" 2>&1 |
        sed -u "s/^/$(demo_label "$label")/"
      demo_check "$label (./client $*)" "${PIPESTATUS[1]}") &
    DEMO_JOBS+=("$!")
}

# demo_run LABEL COMMAND...: runs a command in the foreground, its output labelled; returns 1 if it failed
# (demo_check).
demo_run() {
    local label=$1; shift
    demo_say "\$ $(demo_quote "$@")"
    "$@" 2>&1 | sed -u "s/^/$(demo_label "$label")/"
    demo_check "$label ($*)" "${PIPESTATUS[0]}"
}

# demo_start COMMAND ARGS...: starts a server (e.g. `./server -p 0 -c thread`) in the background, its output
# labelled [server], stdin from $DEMO_SERVER_INPUT if set; waits for its listening line; sets DEMO_PORT and
# SERVER_PID. Unlike demo_server, SERVER_PID is the server itself, so Ctrl-C (demo_stop) reaches it alone
# and its last lines still reach the labeller.
demo_start() {
    local log=$DEMO_TMP/server.out tries=0
    : >"$log"
    DEMO_SERVER_CMD="$*"
    demo_say "\$ $(demo_quote "$@")${DEMO_SERVER_INPUT:+   (answers its prompts with: $(printf '%s' "$DEMO_SERVER_INPUT" | tr '\n' ' '))}"
    "$DEMO_BIN/${1#./}" "${@:2}" < <(printf '%s' "${DEMO_SERVER_INPUT:-}") \
        > >(tee "$log" | sed -u "s/^/$(demo_label server)/") 2>&1 &
    SERVER_PID=$!
    DEMO_JOBS+=("$SERVER_PID")
    until grep -q '^listening on ' "$log"; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
            demo_check "$* (no listening line)" 1
            exit 1
        fi
        sleep 0.1
    done
    DEMO_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -n 1)
}

# demo_finish SECONDS: waits for the server of demo_start to exit by itself, pressing Ctrl-C past SECONDS;
# records a failure unless it exits 0.
demo_finish() {
    local waited=0 status=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ $waited -lt $(($1 * 10)) ]; do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$SERVER_PID" 2>/dev/null; then demo_say "(pressing Ctrl-C)"; kill -INT "$SERVER_PID"; fi
    wait "$SERVER_PID" 2>/dev/null || status=$?
    demo_check "$DEMO_SERVER_CMD" "$status"
    sleep 0.2  # let the labeller print the last lines
}

# demo_stop [--children]: Ctrl-C to the server of demo_start (and to its children, as a terminal sends it
# to the whole foreground group), then demo_finish.
demo_stop() {
    demo_say "(pressing Ctrl-C)"
    if [ "${1:-}" = --children ]; then
        kill -INT "$SERVER_PID" $(pgrep -P "$SERVER_PID") 2>/dev/null
    else
        kill -INT "$SERVER_PID" 2>/dev/null
    fi
    demo_finish 10
}

# demo_ctrl_c: SIGINT to the server (and so, through it, to its threads and children), as Ctrl-C would.
demo_ctrl_c() {
    demo_say "(pressing Ctrl-C)"
    kill -INT "$(cat "$DEMO_TMP/server.pid" 2>/dev/null)" 2>/dev/null || true
}

# demo_wait_server SECONDS: waits for the server to finish by itself, stopping it (Ctrl-C) past SECONDS.
demo_wait_server() {
    local limit=$1 waited=0
    while kill -0 "$DEMO_SERVER_JOB" 2>/dev/null; do
        if [ "$waited" -ge $((limit * 10)) ]; then
            demo_ctrl_c
            waited=-1000000
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    wait "$DEMO_SERVER_JOB" 2>/dev/null  # the job reports the server's status itself (demo_check)
}

# demo_interrupt_server: Ctrl-C to the server, then wait for it.
demo_interrupt_server() {
    demo_ctrl_c
    demo_wait_server 10
}
