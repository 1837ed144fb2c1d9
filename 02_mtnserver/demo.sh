#!/usr/bin/env bash
# 02_mtnserver/demo.sh: "n Handler Threads for m Client Requests" (lecture 32, section 3), played by
# `make demo LAB=02_mtnserver`. Watch for: 7 requests served by 3 threads, each finished handler joined
# and restarted (`restarting 0`) while requests remain; the slide's polling manager (`0 is alive, cnt = 0`)
# against the condition-variable one; a slow client holding only its own handler; Ctrl-C keeping the
# request already accepted.
source "$(dirname "$0")/../mk/demo-lib.sh"

demo_heading "Lecture 32, section 3: 3 handler threads for 7 requests, the slide's polling manager (--poll 1)"
DEMO_SERVER_INPUT=$'3\n7\n' demo_start ./server 0 --poll 1
for i in 1 2 3 4 5 6 7; do
    demo_client "client $i" "$i" "$(awk "BEGIN { print 0.6 + $i * 0.4 }")" -- localhost "$DEMO_PORT"
    sleep 0.1
done
demo_finish 20
demo_say "Every look at the threads prints 'i is alive, cnt = c'; a finished handler waits for the next look."

demo_heading "The same 7 requests with the condition-variable manager (the default): no polling"
demo_start ./server 0 3 7
(cd "$DEMO_BIN" && demo_run client ./client localhost "$DEMO_PORT" --count 7)
demo_finish 10
demo_say "Each 'handled request' follows its 'received' at once: the handler signalled the manager."

demo_heading "A slow client holds one handler; the other one serves everybody else (./server 0 2 5)"
demo_start ./server 0 2 5
demo_client "slow" "at last" 3 -- localhost "$DEMO_PORT"
sleep 0.5
(cd "$DEMO_BIN" && demo_run client ./client localhost "$DEMO_PORT" --count 4)
demo_finish 10

demo_heading "Ctrl-C mid-way: handlers waiting for clients stop; the accepted client is still heard"
demo_start ./server 0 3 10
demo_client "typing" "after ctrl-c" 2 -- localhost "$DEMO_PORT"
sleep 1
demo_stop
