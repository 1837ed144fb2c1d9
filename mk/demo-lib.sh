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
set -m  # job control: each background job gets its own process group, so it can be stopped whole

DEMO_DIR=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
DEMO_BIN=${DEMO_BIN:-$DEMO_DIR}
DEMO_TMP=$(mktemp -d)
DEMO_JOBS=()
if [ -t 1 ]; then DEMO_BOLD=$'\e[1m'; DEMO_DIM=$'\e[2m'; DEMO_OFF=$'\e[0m'; else DEMO_BOLD=; DEMO_DIM=; DEMO_OFF=; fi

demo_cleanup() {
    local pid
    for pid in "${DEMO_JOBS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
    for pid in "${DEMO_JOBS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$DEMO_TMP"
}
trap demo_cleanup EXIT

demo_heading() { printf '\n%s== %s ==%s\n' "$DEMO_BOLD" "$*" "$DEMO_OFF"; }
demo_say() { printf '%s%s%s\n' "$DEMO_DIM" "$*" "$DEMO_OFF"; }
demo_label() { printf '%-11s' "[$1]"; }

# demo_server PROGRAM [ARGS...]: starts ./PROGRAM 0 ARGS... (port 0: any free port), its output labelled
# [server]; waits for its listening line and sets DEMO_PORT. Stdin comes from $DEMO_SERVER_INPUT if set.
demo_server() {
    local program=$1; shift
    local log=$DEMO_TMP/server.out
    : >"$log"
    demo_say "\$ ./$program 0 $*${DEMO_SERVER_INPUT:+   (answers its prompt with: $(printf '%s' "$DEMO_SERVER_INPUT" | tr '\n' ' '))}"
    # The server records its own pid (then becomes the program), so Ctrl-C can go to it alone: signalling
    # the whole pipeline would also stop the tee and sed that show its last lines.
    (printf '%s' "${DEMO_SERVER_INPUT:-}" |
        bash -c 'echo $$ >"$0"; exec "$@"' "$DEMO_TMP/server.pid" "$DEMO_BIN/$program" 0 "$@" 2>&1 |
        tee "$log" | sed -u "s/^/$(demo_label server)/") &
    DEMO_SERVER_JOB=$!
    DEMO_JOBS+=("$DEMO_SERVER_JOB")
    local tries=0
    until grep -q '^listening on ' "$log"; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ]; then echo "demo: the server did not start" >&2; exit 1; fi
        sleep 0.1
    done
    DEMO_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -n 1)
}

# demo_client LABEL INPUT DELAY [--] ARGS...: runs ./client ARGS in the background, labelled [LABEL],
# typing INPUT (a line; empty: none) on its stdin after DELAY seconds.
demo_client() {
    local label=$1 input=$2 delay=$3; shift 3
    [ "${1:-}" = "--" ] && shift
    demo_say "\$ ./client $*   ($label${input:+, types \"$input\" after ${delay} s})"
    ( (sleep "$delay"; [ -n "$input" ] && printf '%s\n' "$input") | "$DEMO_BIN/client" "$@" 2>&1 |
        sed -u "s/^/$(demo_label "$label")/") &
    DEMO_JOBS+=("$!")
}

# demo_run LABEL COMMAND...: runs a command in the foreground, its output labelled.
demo_run() {
    local label=$1; shift
    demo_say "\$ $*"
    "$@" 2>&1 | sed -u "s/^/$(demo_label "$label")/"
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
    wait "$DEMO_SERVER_JOB" 2>/dev/null
}

# demo_interrupt_server: Ctrl-C to the server, then wait for it.
demo_interrupt_server() {
    demo_ctrl_c
    demo_wait_server 10
}
