#!/usr/bin/env bash
# 10_pi_montecarlo/demo.sh: assignment 3 (pi from a job queue of (samples, seed) tuples), played by `make demo`.
# Two workers share the jobs; the estimate equals --local's; a worker killed while it holds a job loses nothing.
source "$(dirname "$0")/../mk/demo-lib.sh"

demo_heading "Assignment 3: the manager's job queue holds 8 tuples (5,000,000 samples, seed 1 + j)"
demo_server server 2 --jobs 8 --samples 5000000
demo_client "worker A" "" 0 -- localhost "$DEMO_PORT"
sleep 0.3
demo_client "worker B" "" 0 -- localhost "$DEMO_PORT"
demo_wait_server 30
sleep 0.3
demo_run local bash -c "'$DEMO_BIN/server' --local --jobs 8 --samples 5000000 | tail -n 3"
demo_say "The same estimate from one thread without sockets: it depends only on the jobs."

demo_heading "What if a client crashes? Worker B is killed while it holds a job"
demo_server server 2 --jobs 8 --samples 5000000
demo_client "worker A" "" 0 -- localhost "$DEMO_PORT" --delay-ms 100
demo_client "worker B" "" 0 -- localhost "$DEMO_PORT" --delay-ms 5000 --verbose
victim=$!
sleep 1
demo_say "(kill -9 worker B)"
{ kill -KILL -- "-$victim"; wait "$victim"; } 2>/dev/null
demo_wait_server 30
demo_say "The job went back to the queue and was counted once: the estimate is unchanged."
