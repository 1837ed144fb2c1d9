#!/usr/bin/env bash
# 07_epoll/demo.sh: single process servers (lecture: select/poll/epoll), played by `make demo`.
# One thread serves every client; poll's cost grows with the idle connections, epoll's does not;
# select refuses descriptors >= FD_SETSIZE.
source "$(dirname "$0")/../mk/demo-lib.sh"
# Ctrl-C to the server alone (a terminal's Ctrl-C would also stop the demo's own output filters before
# the server's summary gets through them).
stop_server() {
    demo_say "(Ctrl-C to the server)"
    kill -INT "$(pgrep -g "$DEMO_SERVER_JOB" -x server)" 2>/dev/null
    demo_wait_server 10
}
server_pid() { sed -n 's/^mode .*; pid \([0-9]*\)$/\1/p' "$DEMO_TMP/server.out" | head -n 1; }

demo_heading "The epoll server of the slide: one thread, every client served at once"
demo_server server --mode epoll
demo_client "client A" "hello from A" 1.5 -- localhost "$DEMO_PORT"
demo_client "client B" "hello from B" 0.5 -- localhost "$DEMO_PORT"
sleep 2.5
stop_server

demo_heading "poll: one active connection among 5,000 open ones costs the server CPU on every call"
demo_server server --mode poll --quiet
demo_run client "$DEMO_BIN/client" localhost "$DEMO_PORT" --idle 4999 --connections 1 --messages 300 --size 16 --server-pid "$(server_pid)"
stop_server

demo_heading "epoll: the same load; the kernel returns only the ready socket"
demo_server server --mode epoll --quiet
demo_run client "$DEMO_BIN/client" localhost "$DEMO_PORT" --idle 4999 --connections 1 --messages 300 --size 16 --server-pid "$(server_pid)"
stop_server
demo_say "Compare the two 's per 100000 messages' figures: bench/07_epoll.sh measures the lecture's whole table."

demo_heading "select cannot watch descriptor 1024 or above: those clients are refused, not overrun"
demo_server server --mode select --quiet
DEMO_EXPECT_FAIL=1 demo_run client "$DEMO_BIN/client" localhost "$DEMO_PORT" --idle 1030 --connections 1 --messages 1
stop_server
demo_say "The client failed on the first refused connection; the server logged each refusal and served on."
