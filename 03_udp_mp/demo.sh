#!/usr/bin/env bash
# 03_udp_mp/demo.sh: the client-server multiprocessing lecture's UDP servers, played by
# `make demo LAB=03_udp_mp`. Watch for: the pid in each reply (fork: a new child every time; pool: one of
# the pool's; conversation: one child per client, answering from a new port); a killed pool worker replaced;
# the square exercise; a client that gives up after its retries; Ctrl-C ending every process.
source "$(dirname "$0")/../mk/demo-lib.sh"

client() { (cd "$DEMO_BIN" && demo_run client ./client localhost "$DEMO_PORT" "$@"); sleep 0.2; }

demo_heading "One server, one client: the iterative UDP server (port 10001 in the lecture; any free port here)"
demo_start ./server 0
sleep 0.2
client "Hi server!"
demo_stop --children

demo_heading "Exercise: a process per datagram, and multiple client processes (--mode fork, --processes 3)"
demo_start ./server 0 --mode fork
sleep 0.2
client --processes 3
demo_say "Three clients, three server children, each reply naming its own pid; every child reaped."
demo_stop --children

demo_heading "The lecture's Pool: 4 pre-forked workers share the socket (--mode pool)"
demo_start ./server 0 --mode pool
sleep 0.2
client --processes 6
victim=$(sed -n 's/^worker 0 is process \([0-9]*\)$/\1/p' "$DEMO_TMP/server.out" | head -n 1)
demo_say "\$ kill -9 $victim   (worker 0)"
kill -9 "$victim"
sleep 0.5
client "after the loss"
demo_stop --children

demo_heading "UNP 22.7: an extended conversation moves to a new port (--mode conversation)"
demo_start ./server 0 --mode conversation
sleep 0.2
client hello --count 3
demo_stop --children

demo_heading "Exercise: send a number, get its square (--square, with any mode: here the pool)"
demo_start ./server 0 --mode pool --workers 2 --square
sleep 0.2
client 12
client 12345678901234567890
client "twelve"
demo_stop --children

demo_heading "UDP loses datagrams silently: with no server, the client gives up after its retries"
DEMO_EXPECT_FAIL=1 client "anyone there?" --timeout 0.5 --retries 2
