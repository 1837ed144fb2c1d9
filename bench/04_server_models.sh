#!/usr/bin/env bash
# bench/04_server_models.sh: the lecture's "Comparing Multi Process/Multi Thread Designs" table, measured on
# this machine, for every server model of labs 04 (processes, and the hybrid of processes and threads) and
# 05 (threads); plus the thundering-herd variant (a pool of 15 children against one of 120).
#
# Slides: the lecture "Network Programming" (Stevens UNP ch. 30), the table after "Prethreaded Server
# Main-Thread accept()". Load as in the lecture (UNP ch. 30): the one load client, 5 client processes x 500
# connections x 4000 bytes, against pools of 15. Each server's CPU time (user + system, its children
# included: what it prints on SIGTERM) minus the iterative server's is the model's "process control" CPU.
#
#   bash bench/04_server_models.sh          full run: median of 5 runs per model (about two minutes)
#   QUICK=1 bash bench/04_server_models.sh  5 x 100 connections, one run per model (a few seconds)
#   CHECK=1 ...                             5 x 10 connections: only checks that the script works
#   UNP=DIR bash bench/04_server_models.sh  also the book's own servers (serv00 to serv08) from an unpv13e
#                                           tree (github.com/unpbook/unpv13e), run beside the kit's, each
#                                           model's kit and book runs alternating; built there if needed
#                                           (./configure; make -C lib; make -C server serv00 ... serv08).
#                                           Never copied into this repository.
# Prints one markdown section on stdout (bench/run.sh puts it in docs/benchmarks.md) and draws its plots,
# docs/04_server_models_cpu.svg and docs/04_server_models_herd.svg; progress on stderr.
# Traffic goes to 127.0.0.1 only; every server started is stopped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source bench/lib.sh
# Built in place (not `make 04_prefork` at the root, which would repoint the ./server and ./client links).
make --no-print-directory -C 04_prefork >/dev/null && make --no-print-directory -C 05_prethread >/dev/null

if [ -n "${CHECK:-}" ]; then nloops=10; runs=1; elif [ -n "${QUICK:-}" ]; then nloops=100; runs=1; else nloops=500; runs=5; fi
# The book's servers, when UNP names an unpv13e tree: built there (not here) if they are not yet.
unp=
if [ -n "${UNP:-}" ]; then
    unp=$(cd "$UNP" && pwd)
    if [ ! -f "$unp/server/serv01.c" ]; then echo "bench: UNP=$UNP is not an unpv13e tree (no server/serv01.c)" >&2; exit 1; fi
    book_programs=(serv00 serv01 serv02 serv03 serv04 serv05 serv06 serv07 serv08)
    missing=0
    for program in "${book_programs[@]}"; do [ -x "$unp/server/$program" ] || missing=1; done
    if [ $missing = 1 ]; then
        echo "bench: building the book's servers in $unp" >&2
        ( cd "$unp" && { [ -f config.h ] || ./configure >/dev/null; } && make -C lib >/dev/null 2>&1 &&
            make -C server "${book_programs[@]}" >/dev/null 2>&1 ) ||
            { echo "bench: could not build the book's servers in $unp" >&2; exit 1; }
    fi
fi

nchildren=5 nbytes=4000 pool=15 herd=120 hybrid_threads=5  # hybrid: 3 children x 5 threads, a pool of 15
tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# run_once LAB MODEL WORKERS: starts the server, runs the load client, stops the server with SIGTERM.
# Sets cpu (server CPU, s), wall (client wall time, s), spread ("min/max" connections per worker or "-"),
# wakes (the server's wake-ups per connection, or "-").
run_count=0
run_once() {
    run_count=$((run_count + 1))
    local lab=$1 model=$2 workers=$3 out=$tmp/server.$run_count.out port= tries=0
    local extra=()
    [ "$model" = hybrid ] && extra=(--threads "$hybrid_threads")
    [ "$model" = nolock-poll ] && model=nolock extra=(--wait poll)  # nolock, the children waiting in poll()
    "$lab/server" 0 "$workers" --mode "$model" "${extra[@]}" >"$out" 2>&1 &
    server_pid=$!
    until port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" 2>/dev/null | head -n 1) && [ -n "$port" ]; do
        tries=$((tries + 1))
        if [ $tries -gt 200 ]; then echo "bench: $lab --mode $model did not start" >&2; cat "$out" >&2; exit 1; fi
        sleep 0.05
    done
    sleep 0.2  # let a pool finish forking or creating its workers: their start-up is not the model's cost
    local client_out="0 errors, 0 s wall"
    if [ -z "${NO_LOAD:-}" ] && ! client_out=$("$lab/client" 127.0.0.1 "$port" "$nchildren" "$nloops" "$nbytes" 2>"$tmp/client.err"); then
        echo "bench: the client failed against $lab --mode $model:" >&2; cat "$tmp/client.err" >&2; exit 1
    fi
    kill -TERM "$server_pid"
    wait "$server_pid" || { echo "bench: $lab --mode $model did not exit 0" >&2; cat "$out" >&2; exit 1; }
    server_pid=
    cpu=$(sed -n 's/^CPU time: user .* s, system .* s, total \([0-9.]*\) s.*/\1/p' "$out")
    wall=$(echo "$client_out" | sed -n 's/.* errors, \([0-9.]*\) s wall.*/\1/p')
    wakes=$(sed -n 's/^wake-ups: .* (\([0-9.]*\) per connection)$/\1/p' "$out")
    [ -n "$wakes" ] || wakes=-
    spread=$(awk '/^(child|thread) [0-9]+: [0-9]+ connections$/ { n = $3 + 0; if (min == "" || n < min) min = n; if (n > max) max = n }
                  END { if (min == "") print "-"; else print min "/" max }' "$out")
}

# book_once PROGRAM [COUNT]: the book's server (UNP's serv0N, "serv0N 127.0.0.1 PORT [COUNT]") under the same
# load; it prints nothing until SIGINT, then "user time = U, sys time = S" (its children included). Its port
# is a free one the kernel picked; it is ready when it listens there. Sets book_cpu (s).
book_once() {
    run_count=$((run_count + 1))
    local program=$1 count=${2:-} out=$tmp/book.$run_count.out port tries=0
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # shellcheck disable=SC2086 # COUNT: no argument for the servers without a pool
    "$unp/server/$program" 127.0.0.1 "$port" $count >"$out" 2>&1 &
    server_pid=$!
    until ss -Hltn "sport = :$port" | grep -q .; do
        tries=$((tries + 1))
        if [ $tries -gt 200 ]; then echo "bench: $program did not start" >&2; cat "$out" >&2; exit 1; fi
        sleep 0.05
    done
    sleep 0.2
    if [ -z "${NO_LOAD:-}" ] && ! "04_prefork/client" 127.0.0.1 "$port" "$nchildren" "$nloops" "$nbytes" >/dev/null 2>"$tmp/client.err"; then
        echo "bench: the client failed against $program:" >&2; cat "$tmp/client.err" >&2; exit 1
    fi
    kill -INT "$server_pid"
    wait "$server_pid" || true  # the book's servers exit 0 on SIGINT, or end by the signal (serv06 to serv08)
    server_pid=
    book_cpu=$(sed -n 's/^user time = \([0-9.e+-]*\), sys time = \([0-9.e+-]*\)$/\1 \2/p' "$out" |
        awk '{ printf "%.3f", $1 + $2 }')
    [ -n "$book_cpu" ] || { echo "bench: $program printed no CPU time:" >&2; cat "$out" >&2; exit 1; }
}

# measure LAB MODEL WORKERS [BOOK_PROGRAM [BOOK_COUNT]]: median (by CPU) of $runs runs. Sets cpu, wall,
# spread, wakes; with the book's sources and a BOOK_PROGRAM, also book_cpu (median of as many runs, each
# right after the kit's, so that both see the same load on the machine), else book_cpu=-.
measure() {
    local results=() books=() i book=${4:-} book_count=${5:-}
    [ -n "$unp" ] || book=
    for ((i = 0; i < runs; i++)); do
        run_once "$1" "$2" "$3"
        results+=("$cpu $wall $spread $wakes")
        if [ -n "$book" ]; then book_once "$book" "$book_count"; books+=("$book_cpu"); fi
    done
    read -r cpu wall spread wakes < <(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    book_cpu=-
    [ -n "$book" ] && book_cpu=$(printf '%s\n' "${books[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    echo "bench:   $1 --mode $2 ($3 workers): cpu $cpu s, wall $wall s, per worker $spread, wake-ups $wakes${book:+, $book $book_cpu s}" >&2
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "-" || b + 0 <= 0) print "-"; else printf "%.2fx", a / b }'; }

minus() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = 0; printf "%.3f", d }'; }

# lab model workers lecture-figure book-program plot-label description. The book's program is UNP's server
# of the same design (each serv0N.c says which): serv00 iterative, serv01 a fork per client, serv02 children
# calling accept with no lock, serv03 an fcntl lock around accept, serv04 a pthread mutex in shared memory,
# serv05 the parent passing the descriptor, serv06 a thread per client, serv07 threads calling accept under
# a mutex, serv08 the main thread accepting; the hybrid has no counterpart in the book ("-").
models=(
    "04_prefork iterative 1 0.0 serv00 iterative Iterative (base case)"
    "04_prefork fork 1 20.90 serv01 fork One fork per client request"
    "04_prefork nolock $pool 1.80 serv02 prefork_no_lock Prefork, children call accept (no lock)"
    "04_prefork nolock-poll $pool - - prefork_no_lock_poll Prefork, no lock, children wait in poll() (the herd)"
    "04_prefork flock $pool - serv03 prefork_fcntl_lock Prefork, fcntl lock around accept"
    "04_prefork mutex $pool 1.75 serv04 prefork_mutex Prefork, mutex around accept"
    "04_prefork pass $pool 2.58 serv05 prefork_pass_fd Prefork, parent passes the socket to a child"
    "04_prefork hybrid $((pool / hybrid_threads)) - - prefork_hybrid Prefork of threads (Apache's worker)"
    "05_prethread thread 1 0.99 serv06 thread Thread per client request"
    "05_prethread accept $pool 1.93 serv07 prethreaded_accept Prethreaded, threads call accept (mutex)"
    "05_prethread main $pool 2.05 serv08 prethreaded_main Prethreaded, main thread calls accept"
)

rows=()
base=
tsv model "this machine" "lecture" >"$tmp/cpu.tsv"
for entry in "${models[@]}"; do
    read -r lab model workers lecture book label description <<<"$entry"
    book_count=
    [ "$workers" != 1 ] && book_count=$workers
    [ "$book" = - ] && book=
    measure "$lab" "$model" "$workers" "$book" "$book_count"
    [ -z "$base" ] && base=$cpu
    command="$lab/server 0 $workers --mode $model"
    [ "$model" = hybrid ] && command+=" --threads $hybrid_threads"
    [ "$model" = nolock-poll ] && command="$lab/server 0 $workers --mode nolock --wait poll"
    if [ -n "$unp" ]; then
        rows+=("| $description | \`$command\` | $cpu | ${book:--} | $book_cpu | $(ratio "$cpu" "$book_cpu") | $(minus "$cpu" "$base") | $lecture | $wall | $spread | $wakes |")
    else
        rows+=("| $description | \`$command\` | $cpu | $(minus "$cpu" "$base") | $lecture | $wall | $spread | $wakes |")
    fi
    tsv "${label//_/ }" "$(minus "$cpu" "$base")" "$lecture" >>"$tmp/cpu.tsv"
done

herd_rows=()
tsv model "load, $pool children" "load, $herd children" "idle pool, $pool children" "idle pool, $herd children" >"$tmp/herd.tsv"
for model in nolock-poll nolock mutex; do
    NO_LOAD=1 measure 04_prefork "$model" "$pool"
    small_idle=$cpu
    measure 04_prefork "$model" "$pool"
    small_cpu=$cpu small_wall=$wall small_spread=$spread small_wakes=$wakes
    NO_LOAD=1 measure 04_prefork "$model" "$herd"
    big_idle=$cpu
    measure 04_prefork "$model" "$herd"
    herd_rows+=("| $model | $small_cpu | $small_idle | $(minus "$small_cpu" "$small_idle") | $cpu | $big_idle | $(minus "$cpu" "$big_idle") | $small_wall / $wall | $small_spread / $spread | $small_wakes / $wakes |")
    tsv "$model" "$(minus "$small_cpu" "$small_idle")" "$(minus "$cpu" "$big_idle")" "$small_idle" "$big_idle" >>"$tmp/herd.tsv"
done

connections=$((nchildren * nloops))
if [ -n "$unp" ]; then
    table_head="| model | command | server CPU (s) | book's server | its CPU (s) | kit / book | process control (s) | lecture (s) | wall (s) | connections per worker (min/max) | wake-ups per connection |
|---|---|---|---|---|---|---|---|---|---|---|"
    table_intro="*Book's server*: Stevens' own C server of the same design, built from the UNP 3e sources (unpv13e) and
run in the same run under the same load, right after the kit's each time (\`serv0N 127.0.0.1 PORT [N]\`, its CPU
from what it prints on SIGINT, children included); *kit / book* is the ratio of the two CPU times."
else
    table_head="| model | command | server CPU (s) | process control (s) | lecture (s) | wall (s) | connections per worker (min/max) | wake-ups per connection |
|---|---|---|---|---|---|---|---|"
    table_intro="The book's own servers are not in this run: get the UNP 3e sources (\`git clone
https://github.com/unpbook/unpv13e\`, never copied into this repository) and run \`UNP=DIR make bench\` (or
\`UNP=DIR bash bench/04_server_models.sh\`) to measure them beside the kit's, with a kit / book column."
fi
cat <<EOF
## Server design alternatives (labs 04 and 05)

The lecture's "Comparing Multi Process/Multi Thread Designs" table (UNP ch. 30), on this machine.
Load: \`client 127.0.0.1 PORT $nchildren $nloops $nbytes\` ($nchildren client processes x $nloops connections x
$nbytes bytes = $connections connections), pools of $pool; $( [ "$runs" -gt 1 ] && echo "median of $runs runs" || echo "one run" ).
*Server CPU* is what the server prints when stopped (user + system, its children included);
*process control* is that minus the iterative server's, as the lecture counts it. *Wall* is the client's.
The lecture's figures come from a slower machine and 5,000 connections: compare the ordering and the ratios.

$table_intro

$table_head
$(printf '%s\n' "${rows[@]}")

$(plot 04_server_models_cpu "Process control CPU time per server model, this machine and the lecture" --bars \
    --key "top right" --y2 3 \
    --title "Server models: process control CPU time ($connections connections, pools of $pool)" \
    --ylabel "this machine: server CPU minus iterative (s)" --y2label "lecture: process control CPU (s)" "$tmp/cpu.tsv")

Commands (\`bash bench/04_server_models.sh\`, \`QUICK=1\` for a short run), a fresh server per run:

\`\`\`
04_prefork/server 0 WORKERS --mode MODEL    # as in the table's command column; PORT from its first line
04_prefork/client 127.0.0.1 PORT $nchildren $nloops $nbytes     # (the same client for 05_prethread/server)
kill -TERM SERVER_PID                        # it prints "CPU time: user ... system ... total" and per-worker counts
\`\`\`

The lecture's own figures are its *process control CPU time* column (5,000 connections, at most 10 at once,
pools of 15, on the hardware of UNP's time); they are in the *lecture* column and on the plot's right axis.
Stevens' own C servers (UNP's serv00 to serv08) are measured beside the kit's when \`UNP=DIR\` names an
unpv13e tree (see above); the release build links the kit's servers statically, which is what keeps its
fork per client at or below serv01 (04_prefork/README.md, "What a fork costs").

What to see: one fork per client costs far more CPU than any pool, which all stay near the iterative baseline
(\`hybrid\`, Apache's worker design from the lecture's "Concurrency in Apache", is a pool of 15 too: 3 children
of 5 threads);
a thread per client costs much less than a process per client. With \`pass\` the parent schedules the
children (the first idle child in its table gets the next client); with the others the kernel does.

### Thundering herd: $pool children against $herd

The same load against the preforked pool with $pool and with $herd children (\`04_prefork/server 0 N --mode M\`;
*nolock-poll* is \`--mode nolock --wait poll\`).
*Idle pool* is the CPU of starting and stopping the same server with no client at all (forking and reaping
the children); *load* is the difference, what serving the connections cost with that many children asleep.

| model | CPU, $pool children (s) | idle pool, $pool (s) | load, $pool (s) | CPU, $herd children (s) | idle pool, $herd (s) | load, $herd (s) | wall (s), $pool / $herd | per child (min/max), $pool / $herd | wake-ups per connection, $pool / $herd |
|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${herd_rows[@]}")

$(plot 04_server_models_herd "Thundering herd: CPU of the load and of the idle pool, $pool and $herd children" --bars \
    --title "Thundering herd: prefork with $pool and $herd children ($connections connections)" \
    --xlabel "accept model (--mode)" --ylabel "server CPU (s)" "$tmp/herd.tsv")

Commands: as above with \`04_prefork/server 0 $pool --mode M\` and \`04_prefork/server 0 $herd --mode M\`; the
idle pool is the same server started, waited for, and stopped with SIGTERM, without the client.
The lecture's own figures: none for the herd; it describes it ("all N children are awakened ... the remaining
N - 1 will all go back to sleep") and answers it with a lock around accept (the slides "Preforking: Locking Around accept").

On the lecture's kernels every child asleep in accept() woke for each connection (the thundering herd).
Linux has long woken only one task blocked in accept() (an exclusive wait): \`nolock\`'s children block in
accept() as the slide's (and serv02's) do, and its wake-ups stay near 1 per connection with $herd children
too. With \`--wait poll\` they wait in poll() on the listening socket and then accept without blocking, the
way event-driven servers wait: poll() still wakes every waiting child, as the lecture describes.
*Wake-ups per connection* is what the server prints on stopping: each time a child went to sleep while
waiting for a connection (its voluntary context switches), whether it got one or not.
With $herd children \`nolock --wait poll\` pays dozens of wake-ups per connection, and its *load* CPU grows with them;
with the lock (\`mutex\`) one child sleeps on the socket and the count stays near 1, or below 1 when
connections are already queued as a child comes back. Most of what $herd children add under a lock is the
cost of forking and reaping them (the idle pool).
EOF
