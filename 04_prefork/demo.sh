#!/usr/bin/env bash
# 04_prefork/demo.sh: the server design alternatives with processes, played by `make demo`.
# The same load (the lecture's: 5 client processes x 500 connections x 4000 bytes) against a preforked
# pool, then against a fork per client; then a pool losing a child; then bad requests.
source "$(dirname "$0")/../mk/demo-lib.sh"
cd "$DEMO_BIN"

# server_pid: the server process itself (the demo job is the pipeline around it).
server_pid() { pgrep -P "$DEMO_SERVER_JOB" -f "^$DEMO_BIN/server 0 " ; }  # the parent, not its children
# ctrl_c: what a terminal does: SIGINT to the server and all its children; then wait for its summary.
ctrl_c() {
    demo_say "(pressing Ctrl-C)"
    local pid; pid=$(server_pid)
    kill -INT "$pid" $(pgrep -P "$pid") 2>/dev/null
    demo_wait_server 10
}

demo_heading "Preforking, children call accept() with no lock (UNP serv02): ./server 0 5"
demo_server server 5
sleep 0.5
demo_run client ./client localhost "$DEMO_PORT" 5 500 4000
ctrl_c
demo_say "The kernel spread 2,500 connections over the 5 children; the CPU time is the server's and its children's."

demo_heading "One fork per client (UNP serv01): ./server 0 --mode fork"
demo_server server 5 --mode fork
sleep 0.3
demo_run client ./client localhost "$DEMO_PORT" 5 500 4000
ctrl_c
demo_say "Same load, many times the CPU time: a fork() and an exit() per connection, as the lecture's table shows."

demo_heading "A pool survives losing a child, even the one holding the accept mutex: ./server 0 3 --mode mutex"
demo_server server 3 --mode mutex
sleep 0.5
victim=$(pgrep -P "$(server_pid)" | head -n 1)
demo_say "\$ kill -9 $victim      (one of the children)"
kill -9 "$victim"
sleep 0.5
demo_run client ./client localhost "$DEMO_PORT" 3 100 4000
ctrl_c

demo_heading "The parent accepts and passes the descriptor (UNP serv05): ./server 0 5 --mode pass"
demo_server server 5 --mode pass
sleep 0.5
demo_run client ./client localhost "$DEMO_PORT" 5 500 4000
demo_say "Bad requests get one error line and a closed connection; the server carries on:"
for request in 0 -5 2097152 abc; do
    demo_run "bad req" bash -c "exec 3<>/dev/tcp/127.0.0.1/$DEMO_PORT; printf '%s\n' '$request' >&3; cat <&3"
done
demo_run client ./client localhost "$DEMO_PORT" 1 3 1048576
ctrl_c
demo_say "The parent's table decides: the first idle children get most clients."
