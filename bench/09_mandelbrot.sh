#!/usr/bin/env bash
# bench/09_mandelbrot.sh: speed-up of the Mandelbrot manager/worker over --local with 1, 2 and 4 workers, and
# the time per worker of the static (k mod n, the slide) and dynamic (shared queue) schedules, and the socket
# manager/worker beside the Open MPI version (./mpi, mpirun -np N+1) at 1 and 2 workers (skipped without mpirun).
# Prints one markdown section (bench/run.sh collects it into docs/benchmarks.md) and draws its plots,
# docs/09_mandelbrot_speedup.svg and docs/09_mandelbrot_mpi.svg. QUICK=1: a smaller canvas.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
manager_worker_setup 09_mandelbrot  # lab, tmp, pids, mpirun_cmd, have_mpi: see bench/lib.sh
# The canvas, and how many rounds of runs, the fastest of each configuration kept (the machine may be busy with other
# work):
# CHECK=1 (only checks that the script works), QUICK=1, the full run.
read -r width height reps <<<"$(by_mode "250 200 1" "1500 1200 2" "3000 2400 5")"
canvas=(--width "$width" --height "$height")

# run_workers NAME NWORKERS SCHEDULE: the manager on a free port with NWORKERS local workers; its output in
# $tmp/NAME.out, its picture checked against --local's.
run_workers() {
    local name=$1 n=$2 schedule=$3
    run_manager_workers "$tmp/$name.out" "$n" "$lab/server" 0 "$n" --schedule "$schedule" "${canvas[@]}" -o "$tmp/$name.pgm"
    cmp -s "$tmp/local.pgm" "$tmp/$name.pgm" || { echo "bench: $name: the picture differs from --local" >&2; exit 1; }
}
# run_prefetch NAME NWORKERS K: the static schedule with --prefetch K (columns out at each worker at once).
run_prefetch() {
    local name=$1 n=$2 k=$3
    run_manager_workers "$tmp/$name.out" "$n" "$lab/server" 0 "$n" --prefetch "$k" "${canvas[@]}" -o "$tmp/$name.pgm"
    cmp -s "$tmp/local.pgm" "$tmp/$name.pgm" || { echo "bench: $name: the picture differs from --local" >&2; exit 1; }
}
# run_mpi NAME NWORKERS SCHEDULE: the MPI version (mpirun -np NWORKERS+1 ./mpi); output in $tmp/NAME.out.
run_mpi() {
    local name=$1 n=$2 schedule=$3
    run_mpirun "$name" "$n" --schedule "$schedule" "${canvas[@]}" -o "$tmp/$name.pgm"
    cmp -s "$tmp/local.pgm" "$tmp/$name.pgm" || { echo "bench: $name: the MPI picture differs from --local" >&2; exit 1; }
}
spread() {  # slowest over fastest worker
    awk '{ min = $1; max = $1; for (i = 2; i <= NF; i++) { if ($i < min) min = $i; if ($i > max) max = $i } printf "%.2f", (min > 0 ? max / min : 0) }' <<<"$1"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rounds=$(count_of "$reps" round)
echo "bench: 09_mandelbrot ${width}x${height}, $rounds" >&2
run_local() { "$lab/server" --local "${canvas[@]}" -o "$tmp/local.pgm" >"$tmp/local.out"; }
# run_pair: what two cores give here: two --local processes at once, the whole canvas each (no sockets, no
# manager); the wall time written to $tmp/pair.out is the slower one's.
run_pair() {
    local a
    "$lab/server" --local "${canvas[@]}" -o "$tmp/pair-a.pgm" >"$tmp/pair-a.out" &
    a=$!
    pids+=("$a")
    "$lab/server" --local "${canvas[@]}" -o "$tmp/pair-b.pgm" >"$tmp/pair-b.out"
    wait "$a"
    slower_of pair pair-a pair-b
}
prefetches=(1 2 4 8 16 64)
default_k=$("$lab/server" --help | sed -n 's/.*--prefetch INT:INT in \[1 - [0-9]*\]=\([0-9]*\).*/\1/p')
# One round runs every configuration once; the fastest of the rounds is kept for each. Rounds, not each
# configuration $reps times in a row: the runs compared (1 worker against 2, K against K) share the moments when
# other work slows the machine down. The default K with the default (static) schedule: its row is static1, static2.
one_round() {
    fastest_of local run_local
    fastest_of pair run_pair
    for schedule in static dynamic; do
        for n in 1 2 4; do
            fastest_of "$schedule$n" run_workers "$schedule$n" "$n" "$schedule"
        done
        if [ -n "$have_mpi" ]; then
            for n in 1 2; do
                fastest_of "mpi$schedule$n" run_mpi "mpi$schedule$n" "$n" "$schedule"
            done
        fi
    done
    for k in "${prefetches[@]}"; do
        [ "$k" = "$default_k" ] && continue
        for n in 1 2; do
            fastest_of "k$k-$n" run_prefetch "k$k-$n" "$n" "$k"
        done
    done
}
for ((round = 1; round <= reps; round++)); do
    echo "bench: 09_mandelbrot round $round of $reps" >&2
    reps=1 one_round
done
for n in 1 2; do cp "$tmp/static$n.out" "$tmp/k$default_k-$n.out"; done
local_wall=$(wall_time local)
total=$(sed -n 's/^total iterations \([0-9]*\).*/\1/p' "$tmp/local.out")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## 09_mandelbrot: manager/worker speed-up"
echo
echo "Canvas ${width}x${height} over [-2, 0.5] x [-1, 1], $total iterations (the picture of every run below is"
echo "byte-identical to \`--local\`'s). Wall time is the manager's, from the moment all workers are connected to the"
echo "last column, the fastest of $rounds (a round runs every configuration of this section once, so that those"
echo "compared share the machine's busy moments); \`--local\` computes the same columns in one thread without sockets."
echo "$(nproc) cores."
echo
echo "| run | wall time (s) | speed-up over --local | speed-up over 1 worker | busy per worker (s) | slowest / fastest worker |"
echo "|---|---|---|---|---|---|"
echo "| \`--local\` | $local_wall | 1.00 | | | |"
for schedule in static dynamic; do
    one=$(wall_time "${schedule}1")
    for n in 1 2 4; do
        w=$(wall_time "$schedule$n")
        b=$(busy_times "$schedule$n")
        echo "| $n worker$([ "$n" -gt 1 ] && echo s), $schedule | $w | $(quotient "$local_wall" "$w") | $(quotient "$one" "$w") | $b | $(spread "$b") |"
    done
done
echo
echo "Slowest and fastest of the $rounds (s): \`--local\` $(time_spread local), 1 worker $(time_spread static1), 2 workers"
echo "$(time_spread static2) (static): single runs vary by that much here; the ratios use the fastest."
echo
echo "What two cores give this computation here, in the same rounds: two \`--local\` processes at once, the whole"
echo "canvas each (no sockets, no manager), take $(wall_time pair) s (the slower of the two): two busy cores do"
echo "$(quotient "$(awk -v l="$local_wall" 'BEGIN { print 2 * l }')" "$(wall_time pair)")x the work of one in the same time. That is the machine's own speed-up from one busy core"
echo "to two, with no protocol at all: read the workers' 2 over 1 beside it (the cores are virtual; once both are"
echo "busy, whatever else runs takes from a worker)."
echo
cost_line() {
    local w b
    w=$(wall_time "${1}1") b=$(computing_times "${1}1")
    awk -v s="$1" -v w="$w" -v b="$b" 'BEGIN { c = (w > 0 ? 1 - b / w : 1)
        printf "- %s: %.1f%% (wall time %s s, the worker computing %s s): target %s\n", s, 100 * c, w, b, (c < 0.05 ? "met" : "missed") }'
}
echo "### Columns out per worker (\`--prefetch K\`)"
echo
echo "With one column out at a time (K = 1) the worker idles for a round trip per column: its pixels travel to the"
echo "manager, the manager's handler wakes, reads them, and only then sends the next column. With K >= 2 the next"
echo "column already waits in the worker's socket; with K >= 3 the worker also answers about K/2 columns in one write,"
echo "and the manager sends their replacements in one write: one wake-up of each side per K/2 columns instead of per"
echo "column. Static schedule, the same run as above; targets: 1 worker within 1.03x of \`--local\`, 2 workers at"
echo "least 1.95x faster than 1."
echo
echo "| K | 1 worker (s) | 1 worker / --local | 2 workers (s) | speed-up of 2 over 1 |"
echo "|---|---|---|---|---|"
for k in "${prefetches[@]}"; do
    w1=$(wall_time "k$k-1") w2=$(wall_time "k$k-2")
    echo "| $k$([ "$k" = "$default_k" ] && echo " (default: the static runs above)") | $w1 | $(quotient "$w1" "$local_wall") | $w2 | $(quotient "$w1" "$w2") |"
done
echo
tsv K "1 worker" "2 workers" "--local" "--local / 2" >"$tmp/prefetch.tsv"
for k in "${prefetches[@]}"; do
    tsv "$k" "$(wall_time "k$k-1")" "$(wall_time "k$k-2")" "$local_wall" "$(awk -v l="$local_wall" 'BEGIN { print l / 2 }')" >>"$tmp/prefetch.tsv"
done
plot 09_mandelbrot_prefetch "Wall time against the columns out per worker (--prefetch K), 1 and 2 workers" --logx --dashed 4,5 \
    --set "set xtics (1, 2, 4, 8, 16, 64)" --key "bottom right" --title "09_mandelbrot: wall time against --prefetch K, ${width}x${height}" \
    --xlabel "--prefetch K (columns out per worker, log scale)" --ylabel "wall time (s)" "$tmp/prefetch.tsv"
echo "The protocol's cost at 1 worker (target: under 5%) is the share of the manager's wall time in which its"
echo "only worker was not computing: 1 - busy / wall time, where busy is the worker's own (the time in its columns, from"
echo "its BYE line; the table's busy column is the manager's count, from handing a column out to having it back), both"
echo "from the same run. The speed-up over \`--local\` above compares two separate runs, and moves by several per cent"
echo "from run to run on a shared virtual machine:"
echo
cost_line static
cost_line dynamic
echo
echo "What is not computing is the kernel's: the columns' $height bytes each through loopback TCP, a wake-up of the"
echo "manager's handler per write, and the end of the run, where the worker turns Nagle's algorithm off"
echo "(TCP_NODELAY): with it on, its last, smaller write waited for the manager's delayed ACK, 40 ms, since the"
echo "manager had no column left to send that would carry the ACK (09_mandelbrot/README.md, \"Costs of the design\")."
echo "Open MPI's shared memory is compared in the next table."
echo
tsv workers "static (k mod n)" "dynamic (queue)" "ideal on $(nproc) cores" >"$tmp/speedup.tsv"
for n in 1 2 4; do
    tsv "$n" "$(quotient "$local_wall" "$(wall_time "static$n")")" "$(quotient "$local_wall" "$(wall_time "dynamic$n")")" \
        "$((n < $(nproc) ? n : $(nproc)))" >>"$tmp/speedup.tsv"
done
plot_speedup 09_mandelbrot_speedup "Speed-up over --local against the number of workers, static and dynamic schedules" \
    4 "09_mandelbrot: speed-up over --local, ${width}x${height} canvas" "$tmp/speedup.tsv"
echo "Commands (bench/09_mandelbrot.sh${QUICK:+, QUICK=1}; the manager exits when the picture is done):"
echo
code_block "09_mandelbrot/server --local --width $width --height $height -o local.pgm" \
    "09_mandelbrot/server 0 N --schedule static|dynamic --width $width --height $height -o N.pgm   # PORT from its first line" \
    "09_mandelbrot/client 127.0.0.1 PORT --timeout 60                      # N times, at once"
echo
echo "The lecture gives no timings, only the figure of 16,652,580 iterations for the 500x400 canvas (ours: 16,668,098,"
echo "see 09_mandelbrot/README.md). What it predicts: the columns through the set cost up to 255 iterations a pixel,"
echo "those outside a few, so equal *numbers* of columns are not equal *work*. The slide's static assignment deals the"
echo "columns out cyclically (k mod n), which spreads the expensive middle over all workers, so its spread stays small;"
echo "the dynamic queue balances whatever the costs. With more workers than cores (4 on 2) the speed-up cannot pass the number of cores: 4 workers gain little or nothing over 2."
echo
if mpi_heading 09_mandelbrot; then
    echo "The same canvas with the Open MPI version (09_mandelbrot/mpi.cpp: rank 0 manages, ranks 1 to N work; the"
    echo "same schedules), its wall time measured the same way (from the moment every rank is up to the last column),"
    echo "the fastest of $reps runs, the picture byte-identical to \`--local\`'s. Target: ours within 10% of"
    echo "MPI's time, socket / MPI <= 1.10."
    echo
    echo "| workers | schedule | sockets: wall time (s) | MPI: wall time (s) | sockets / MPI | target <= 1.10 |"
    echo "|---|---|---|---|---|---|"
    tsv run sockets "Open MPI" >"$tmp/mpi.tsv"
    for schedule in static dynamic; do
        for n in 1 2; do
            r=$(quotient "$(wall_time "$schedule$n")" "$(wall_time "mpi$schedule$n")")
            echo "| $n | $schedule | $(wall_time "$schedule$n") | $(wall_time "mpi$schedule$n") | $r | $(target_met "$r") |"
            tsv "$n worker$([ "$n" -gt 1 ] && echo s), $schedule" "$(wall_time "$schedule$n")" "$(wall_time "mpi$schedule$n")" >>"$tmp/mpi.tsv"
        done
    done
    echo
    plot_mpi 09_mandelbrot_mpi "09_mandelbrot: sockets beside Open MPI, ${width}x${height} canvas" "workers, schedule" \
        "$tmp/mpi.tsv"
    mpi_footer --schedule S --width "$width" --height "$height"
fi
