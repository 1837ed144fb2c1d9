#!/usr/bin/env bash
# 09_mandelbrot/demo.sh: the slides "The Mandelbrot Set" and "Manager/Worker Paradigm", played by `make demo`.
# A manager and two workers draw the slide's canvas; the picture equals --local's; the dynamic schedule feeds
# a slow worker less; a worker killed mid-run loses nothing.
source "$(dirname "$0")/../mk/demo-lib.sh"

demo_heading "Lecture 32, section 4: the manager hands out the 500 columns, k mod 2 (the slide's static assignment)"
demo_server server 2 -o "$DEMO_TMP/mandelbrot.png"
demo_client "worker A" "" 0 -- localhost "$DEMO_PORT"
sleep 0.3
demo_client "worker B" "" 0 -- localhost "$DEMO_PORT"
demo_wait_server 30
sleep 0.3
demo_run local "$DEMO_BIN/server" --local -o "$DEMO_TMP/local.pgm"
demo_run cmp cmp "$DEMO_TMP/local.pgm" "$DEMO_TMP/mandelbrot.pgm"
demo_say "No output from cmp: the two workers drew the very same bytes as one thread without sockets."

demo_heading "Dynamic load balancing: one shared queue; worker B is slow (--delay-ms 1) and gets fewer columns"
demo_server server 2 --schedule dynamic -o "$DEMO_TMP/dynamic.pgm"
demo_client "worker A" "" 0 -- localhost "$DEMO_PORT"
demo_client "worker B" "" 0 -- localhost "$DEMO_PORT" --delay-ms 1
demo_wait_server 30
sleep 0.3
demo_run cmp cmp "$DEMO_TMP/local.pgm" "$DEMO_TMP/dynamic.pgm"

demo_heading "What if a client crashes? Worker B is killed mid-run; its columns go to worker A"
demo_server server 2 -o "$DEMO_TMP/killed.pgm"
demo_client "worker A" "" 0 -- localhost "$DEMO_PORT" --delay-ms 2
demo_client "worker B" "" 0 -- localhost "$DEMO_PORT" --delay-ms 2
victim=$!
sleep 0.5
demo_say "(kill -9 worker B)"
{ kill -KILL -- "-$victim"; wait "$victim"; } 2>/dev/null
demo_wait_server 30
sleep 0.3
demo_run cmp cmp "$DEMO_TMP/local.pgm" "$DEMO_TMP/killed.pgm"
demo_say "Still the same picture: the lost worker's unfinished columns were redone by the other."
