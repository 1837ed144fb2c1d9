#!/usr/bin/env bash
# 06_sigio/demo.sh: the slide "Server with Signal Driven I/O", played by `make demo`.
# Each event arrives as a realtime signal carrying the descriptor (si_fd), the event (si_code) and the
# poll bits (si_band); then the realtime queue is made to overflow and SIGIO takes over.
source "$(dirname "$0")/../mk/demo-lib.sh"
# Ctrl-C to the server alone (a terminal's Ctrl-C would also stop the demo's own output filters before
# the server's summary gets through them).
stop_server() {
    demo_say "(Ctrl-C to the server)"
    kill -INT "$(pgrep -g "$DEMO_SERVER_JOB" -x server)" 2>/dev/null
    demo_wait_server 10
}

demo_heading "Signal-driven I/O: SIGRTMIN+1 for the listening socket, SIGRTMIN+2 for connections"
demo_server server
demo_client "client A" "hello from A" 1.5 -- localhost "$DEMO_PORT"
sleep 0.3
demo_client "client B" "hello from B" 0.5 -- localhost "$DEMO_PORT"
sleep 2.5
stop_server

demo_heading "The realtime signal queue overflows (ulimit -i 4): the kernel sends SIGIO, the server checks everything"
saved_limit=$(ulimit -S -i)
ulimit -S -i 4
demo_say "\$ ulimit -S -i 4   (RLIMIT_SIGPENDING: at most 4 queued signals)"
demo_server server --quiet
demo_run client "$DEMO_BIN/client" localhost "$DEMO_PORT" --connections 50 --messages 20 --size 50000
stop_server
ulimit -S -i "$saved_limit"
demo_say "Every byte came back although most signals were lost: on SIGIO the server looked at every descriptor."
