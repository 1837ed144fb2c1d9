#!/usr/bin/env bash
# 02_mtnserver/demo.sh: "n Handler Threads for m Client Requests" (lecture 32, section 3), played by
# `make demo LAB=02_mtnserver`. Watch for: 7 requests served by 3 threads, each finished handler joined
# and restarted (`restarting 0`) while requests remain; the slide's polling manager (`0 is alive, cnt = 0`)
# against the condition-variable one; a slow client holding only its own handler; Ctrl-C keeping the
# request already accepted.
source "$(dirname "$0")/../mk/demo-lib.sh"

# start [INPUT] -- ARGS...: ./server 0 ARGS with INPUT on stdin, output labelled [server]; sets DEMO_PORT.
# (Not demo_server: Ctrl-C goes to the server alone, so its last lines still reach the labeller.)
start() {
    local input=$1; shift; [ "${1:-}" = "--" ] && shift
    local log=$DEMO_TMP/server.out
    : >"$log"
    demo_say "\$ ./server 0 $*${input:+   (answers the prompts with: $(printf '%s' "$input" | tr '\n' ' '))}"
    "$DEMO_BIN/server" 0 "$@" < <(printf '%s' "$input") > >(tee "$log" | sed -u "s/^/$(demo_label server)/") 2>&1 &
    SERVER_PID=$!
    DEMO_JOBS+=("$SERVER_PID")
    until grep -q '^listening on ' "$log"; do sleep 0.1; done
    DEMO_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -n 1)
}
finish() {  # waits for the server to exit by itself (it does after m requests), Ctrl-C after $1 seconds
    local waited=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ $waited -lt $(($1 * 10)) ]; do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$SERVER_PID" 2>/dev/null; then demo_say "(pressing Ctrl-C)"; kill -INT "$SERVER_PID"; fi
    wait "$SERVER_PID" 2>/dev/null
    sleep 0.2  # let the labeller print the last lines
}

demo_heading "Lecture 32, section 3: 3 handler threads for 7 requests, the slide's polling manager (--poll 1)"
start $'3\n7\n' -- --poll 1
for i in 1 2 3 4 5 6 7; do
    demo_client "client $i" "$i" "$(awk "BEGIN { print 0.6 + $i * 0.4 }")" -- localhost "$DEMO_PORT"
    sleep 0.1
done
finish 20
demo_say "Every look at the threads prints 'i is alive, cnt = c'; a finished handler waits for the next look."

demo_heading "The same 7 requests with the condition-variable manager (the default): no polling"
start "" -- 3 7
(cd "$DEMO_BIN" && demo_run client ./client localhost "$DEMO_PORT" --count 7)
finish 10
demo_say "Each 'handled request' follows its 'received' at once: the handler signalled the manager."

demo_heading "A slow client holds one handler; the other one serves everybody else (./server 0 2 5)"
start "" -- 2 5
demo_client "slow" "at last" 3 -- localhost "$DEMO_PORT"
sleep 0.5
(cd "$DEMO_BIN" && demo_run client ./client localhost "$DEMO_PORT" --count 4)
finish 10

demo_heading "Ctrl-C mid-way: handlers waiting for clients stop; the accepted client is still heard"
start "" -- 3 10
demo_client "typing" "after ctrl-c" 2 -- localhost "$DEMO_PORT"
sleep 1
demo_say "(pressing Ctrl-C)"
kill -INT "$SERVER_PID"
finish 10
