#!/usr/bin/env bash
# 05_prethread/demo.sh: the server design alternatives with threads, played by `make demo`.
# The lecture's load (5 client processes x 500 connections x 4000 bytes) against each thread model; then
# the main-thread model with a tiny shared array, full, making the main thread wait.
source "$(dirname "$0")/../mk/demo-lib.sh"
cd "$DEMO_BIN"

# ctrl_c: SIGINT to the server itself (ctrl_c signals the whole pipeline, whose tee and sed
# would die before the summary is printed), then wait for it.
ctrl_c() {
    demo_say "(pressing Ctrl-C)"
    kill -INT "$(pgrep -P "$DEMO_SERVER_JOB" -f "^$DEMO_BIN/server 0 ")" 2>/dev/null
    demo_wait_server 10
}

for model in thread accept main; do
    case $model in
        thread) demo_heading "One thread per client (UNP serv06): ./server 0 --mode thread" ;;
        accept) demo_heading "Prethreaded, each thread calls accept() under a mutex (UNP serv07): ./server 0 5" ;;
        main) demo_heading "Prethreaded, the main thread accepts into a shared array (UNP serv08): ./server 0 5 --mode main" ;;
    esac
    demo_server server 5 --mode "$model"
    sleep 0.3
    demo_run client ./client localhost "$DEMO_PORT" 5 500 4000
    ctrl_c
done
demo_say "Compare the CPU times with 04_prefork's: a thread per client costs far less than a process per client."

demo_heading "A full array makes the main thread wait: ./server 0 1 --mode main --array-size 2 --idle-timeout 3"
demo_server server 1 --mode main --array-size 2 --idle-timeout 3
sleep 0.3
demo_say "\$ exec 3<>/dev/tcp/127.0.0.1/$DEMO_PORT      (a client that connects and says nothing: the only thread waits on it)"
exec 3<>/dev/tcp/127.0.0.1/"$DEMO_PORT"
sleep 0.3
demo_run client ./client localhost "$DEMO_PORT" 4 1 4000
exec 3<&-
demo_say "The silent client held the only thread until its idle timeout (3 s); the array never overflowed."
ctrl_c
