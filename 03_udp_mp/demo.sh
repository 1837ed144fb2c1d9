#!/usr/bin/env bash
# 03_udp_mp/demo.sh: the client-server multiprocessing lecture's UDP servers, played by
# `make demo LAB=03_udp_mp`. Watch for: the pid in each reply (fork: a new child every time; pool: one of
# the pool's; conversation: one child per client, answering from a new port); a killed pool worker replaced;
# the square exercise; a client that gives up after its retries; Ctrl-C ending every process.
source "$(dirname "$0")/../mk/demo-lib.sh"

# start ARGS...: ./server 0 ARGS, output labelled [server]; sets DEMO_PORT and SERVER_PID.
# (Not demo_server: Ctrl-C goes to the server and its children only, not to the labeller.)
start() {
    local log=$DEMO_TMP/server.out
    : >"$log"
    demo_say "\$ ./server 0 $*"
    "$DEMO_BIN/server" 0 "$@" > >(tee "$log" | sed -u "s/^/$(demo_label server)/") 2>&1 &
    SERVER_PID=$!
    DEMO_JOBS+=("$SERVER_PID")
    until grep -q '^listening on ' "$log"; do sleep 0.1; done
    DEMO_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -n 1)
    sleep 0.2
}
# stop: Ctrl-C as a terminal sends it, to the server and its children alike (here the labeller shares
# their process group, so they are named one by one).
stop() {
    demo_say "(pressing Ctrl-C)"
    kill -INT "$SERVER_PID" $(pgrep -P "$SERVER_PID") 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    sleep 0.3  # let the labeller print the last lines
}
client() { (cd "$DEMO_BIN" && demo_run client ./client localhost "$DEMO_PORT" "$@"); sleep 0.2; }

demo_heading "One server, one client: the iterative UDP server (port 10001 in the lecture; any free port here)"
start
client "Hi server!"
stop

demo_heading "Exercise: a process per datagram, and multiple client processes (--mode fork, --processes 3)"
start --mode fork
client --processes 3
demo_say "Three clients, three server children, each reply naming its own pid; every child reaped."
stop

demo_heading "The lecture's Pool: 4 pre-forked workers share the socket (--mode pool)"
start --mode pool
client --processes 6
victim=$(sed -n 's/^worker 0 is process \([0-9]*\)$/\1/p' "$DEMO_TMP/server.out" | head -n 1)
demo_say "\$ kill -9 $victim   (worker 0)"
kill -9 "$victim"
sleep 0.5
client "after the loss"
stop

demo_heading "UNP 22.7: an extended conversation moves to a new port (--mode conversation)"
start --mode conversation
client hello --count 3
stop

demo_heading "Exercise: send a number, get its square (--square, with any mode: here the pool)"
start --mode pool --workers 2 --square
client 12
client 12345678901234567890
client "twelve"
stop

demo_heading "UDP loses datagrams silently: with no server, the client gives up after its retries"
client "anyone there?" --timeout 0.5 --retries 2 || true
