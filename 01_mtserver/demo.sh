#!/usr/bin/env bash
# 01_mtserver/demo.sh: the slide "Waiting for Data from 3 Clients", played by `make demo`.
# Client A connects first but types last: B's and C's messages arrive before A's.
source "$(dirname "$0")/../mk/demo-lib.sh"

demo_heading "Lecture 32, section 2: a multithreaded server waits for data from 3 clients"
DEMO_SERVER_INPUT=$'3\n' demo_server server
sleep 0.5
demo_client "client A" "this is A" 4 -- localhost "$DEMO_PORT"
sleep 0.5
demo_client "client B" "this is B" 1.5 -- localhost "$DEMO_PORT"
sleep 0.5
demo_client "client C" "this is C" 2 -- localhost "$DEMO_PORT"
demo_wait_server 15
demo_say "A connected first, yet B and C were served first: each client has its own handler thread."

demo_heading "Assignment 2: a client sending \"stop\" stops every handler (./server --stop)"
demo_server server 3 --stop
sleep 0.5
demo_client "client A" "" 0 -- localhost "$DEMO_PORT" --message "this is A"
sleep 0.5
demo_client "client B" "stop" 1 -- localhost "$DEMO_PORT"
demo_wait_server 10
demo_say "The third handler was blocked in accept: the stop pipe woke it, and main joined all three."

demo_heading "Assignment 1: three threads stop on a shared flag (./stopflag)"
demo_run stopflag bash -c "(sleep 1; echo y; sleep 1; echo n) | '$DEMO_BIN/stopflag'"
