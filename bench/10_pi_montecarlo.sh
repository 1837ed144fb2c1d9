#!/usr/bin/env bash
# bench/10_pi_montecarlo.sh: speed-up of the pi manager/worker over --local with 1, 2 and 4 workers, and the
# socket manager/worker beside the Open MPI version (./mpi, mpirun -np N+1) at 1 and 2 workers (skipped without mpirun).
# Prints one markdown section (bench/run.sh collects it into docs/benchmarks.md) and draws its plots,
# docs/10_pi_montecarlo_speedup.svg and docs/10_pi_montecarlo_mpi.svg. QUICK=1: fewer samples.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
manager_worker_setup 10_pi_montecarlo  # lab, tmp, pids, mpirun_cmd, have_mpi: see bench/lib.sh
# The jobs, and how many rounds of runs, the fastest of each configuration kept (the machine may be busy with other work):
# CHECK=1 (only checks that the script works), QUICK=1, the full run.
read -r jobs samples reps <<<"$(by_mode "4 200000 1" "16 12000000 2" "32 25000000 7")"
work=(--jobs "$jobs" --samples "$samples" --seed 1)

# run_workers NAME NWORKERS: the manager on a free port with NWORKERS local workers; output in $tmp/NAME.out,
# its estimate checked against --local's.
run_workers() {
    local name=$1 n=$2
    run_manager_workers "$tmp/$name.out" "$n" "$lab/server" 0 "$n" "${work[@]}"
    [ "$(estimate "$name")" = "$(estimate local)" ] || { echo "bench: $name: the estimate differs from --local" >&2; exit 1; }
}
# run_prefetch NAME NWORKERS K: with --prefetch K (jobs out at each worker at once).
run_prefetch() {
    local name=$1 n=$2 k=$3
    run_manager_workers "$tmp/$name.out" "$n" "$lab/server" 0 "$n" --prefetch "$k" "${work[@]}"
    [ "$(estimate "$name")" = "$(estimate local)" ] || { echo "bench: $name: the estimate differs from --local" >&2; exit 1; }
}
# run_mpi NAME NWORKERS: the MPI version (mpirun -np NWORKERS+1 ./mpi); output in $tmp/NAME.out.
run_mpi() {
    local name=$1 n=$2
    run_mpirun "$name" "$n" "${work[@]}"
    [ "$(estimate "$name")" = "$(estimate local)" ] || { echo "bench: $name: the MPI estimate differs from --local" >&2; exit 1; }
}
run_local() { "$lab/server" --local "${work[@]}" >"$tmp/local.out"; }
# run_pair: the machine's own ceiling for 2 over 1: two --local processes at once, half the jobs each (no
# sockets, no manager); the wall time written to $tmp/pair.out is the slower one's.
run_pair() {
    local half=$((jobs / 2)) a
    "$lab/server" --local --jobs "$half" --samples "$samples" --seed 1 >"$tmp/pair-a.out" &
    a=$!
    pids+=("$a")
    "$lab/server" --local --jobs "$half" --samples "$samples" --seed $((1 + half)) >"$tmp/pair-b.out"
    wait "$a"
    slower_of pair pair-a pair-b
}
rate() { sed -n 's/^wall time .* s, \(.*\) samples\/s/\1/p' "$tmp/$1.out"; }
estimate() { sed -n 's/^estimate of pi \([0-9.]*\) .*/\1/p' "$tmp/$1.out"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rounds=$(count_of "$reps" round)
echo "bench: 10_pi_montecarlo, $jobs jobs of $samples samples, $rounds" >&2
# One round runs every configuration once; the fastest of the rounds is kept for each. Rounds, not each
# configuration $reps times in a row: the runs compared (1 worker against 2, K against K) share the moments
# when other work slows the machine down. --prefetch 2 is the default: its row is the runs w1 and w2.
prefetches=(1 2 4)
one_round() {
    fastest_of local run_local
    fastest_of pair run_pair
    for n in 1 2 4; do
        fastest_of "w$n" run_workers "w$n" "$n"
    done
    if [ -n "$have_mpi" ]; then
        for n in 1 2; do
            fastest_of "mpi$n" run_mpi "mpi$n" "$n"
        done
    fi
    for k in 1 4; do
        for n in 1 2; do
            fastest_of "k$k-$n" run_prefetch "k$k-$n" "$n" "$k"
        done
    done
}
for ((round = 1; round <= reps; round++)); do
    echo "bench: 10_pi_montecarlo round $round of $reps" >&2
    reps=1 one_round
done
for n in 1 2; do cp "$tmp/w$n.out" "$tmp/k2-$n.out"; done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## 10_pi_montecarlo: manager/worker speed-up"
echo
echo "$jobs jobs of $samples samples (seeds 1 to $jobs). Every run gives the same estimate, $(estimate local)"
echo "($(sed -n 's/^error \([^ ]*\) .*/\1/p' "$tmp/local.out") from pi). Wall time is the manager's, from the moment all"
echo "workers are connected to the last result, the fastest of $rounds (a round runs every configuration of this"
echo "section once, so that those compared share the machine's busy moments); \`--local\` runs the same jobs in one"
echo "thread without sockets. $(nproc) cores."
echo
echo "| run | wall time (s) | samples/s | speed-up over --local | speed-up over 1 worker | busy per worker (s) |"
echo "|---|---|---|---|---|---|"
echo "| \`--local\` | $(wall_time local) | $(rate local) | 1.00 | | |"
for n in 1 2 4; do
    echo "| $n worker$([ "$n" -gt 1 ] && echo s) | $(wall_time "w$n") | $(rate "w$n") | $(quotient "$(wall_time local)" "$(wall_time "w$n")") | $(quotient "$(wall_time w1)" "$(wall_time "w$n")") | $(busy_times "w$n") |"
done
echo
echo "Slowest and fastest of the $rounds (s): \`--local\` $(time_spread local), 1 worker $(time_spread w1), 2 workers"
echo "$(time_spread w2), 4 workers $(time_spread w4): single runs vary by that much here; the ratios use the fastest."
echo
echo "What two cores give this computation here, in the same rounds: two \`--local\` processes at once, $((jobs / 2)) jobs"
echo "each (no sockets, no manager), take $(wall_time pair) s (the slower of the two), $(quotient "$(wall_time local)" "$(wall_time pair)")x faster than one \`--local\`"
echo "with all $jobs. That is the machine's own speed-up from one busy core to two, with no protocol at all: read the"
echo "workers' 2 over 1 beside it (the cores are virtual; once both are busy, whatever else runs takes from a worker)."
echo
echo "### Jobs out per worker (\`--prefetch K\`)"
echo
echo "With one job out at a time (K = 1) the worker idles for a round trip per job (its result to the manager, the"
echo "next job back); with K >= 2 the next job already waits in its socket. Same jobs, same run; targets:"
echo "1 worker within 1.03x of \`--local\`, 2 workers at least 1.95x faster than 1."
echo
echo "| K | 1 worker (s) | 1 worker / --local | 2 workers (s) | speed-up of 2 over 1 |"
echo "|---|---|---|---|---|"
for k in "${prefetches[@]}"; do
    w1=$(wall_time "k$k-1") w2=$(wall_time "k$k-2")
    echo "| $k$([ "$k" = 2 ] && echo " (default: the runs above)") | $w1 | $(quotient "$w1" "$(wall_time local)") | $w2 | $(quotient "$w1" "$w2") |"
done
echo
tsv K "1 worker" "2 workers" "--local" "--local / 2" >"$tmp/prefetch.tsv"
for k in "${prefetches[@]}"; do
    tsv "$k" "$(wall_time "k$k-1")" "$(wall_time "k$k-2")" "$(wall_time local)" "$(awk -v l="$(wall_time local)" 'BEGIN { print l / 2 }')" >>"$tmp/prefetch.tsv"
done
plot 10_pi_montecarlo_prefetch "Wall time against the jobs out per worker (--prefetch K), 1 and 2 workers" --logx --dashed 4,5 \
    --set "set xtics (1, 2, 4)" --key "bottom right" --title "10_pi_montecarlo: wall time against --prefetch K, $jobs jobs" \
    --xlabel "--prefetch K (jobs out per worker, log scale)" --ylabel "wall time (s)" "$tmp/prefetch.tsv"
tsv workers "sockets" "ideal on $(nproc) cores" >"$tmp/speedup.tsv"
for n in 1 2 4; do
    tsv "$n" "$(quotient "$(wall_time local)" "$(wall_time "w$n")")" "$((n < $(nproc) ? n : $(nproc)))" >>"$tmp/speedup.tsv"
done
plot_speedup 10_pi_montecarlo_speedup "Speed-up over --local against the number of workers" 3 \
    "10_pi_montecarlo: speed-up over --local, $jobs jobs of $samples samples" "$tmp/speedup.tsv"
echo "Commands (bench/10_pi_montecarlo.sh${QUICK:+, QUICK=1}; the manager exits when every job is done):"
echo
code_block "10_pi_montecarlo/server --local ${work[*]}" "10_pi_montecarlo/server 0 N ${work[*]}     # PORT from its first line" \
    "10_pi_montecarlo/client 127.0.0.1 PORT --timeout 60          # N times, at once"
echo
echo "The lecture gives no timings for assignment 3. What to expect: one message of a few dozen bytes each way"
echo "per job of millions of samples, so the protocol's cost is invisible at 1 worker, and the jobs being equal,"
echo "2 workers on 2 idle cores come close to 2x; 4 workers on 2 cores cannot do better than 2 workers."
echo
if mpi_heading 10_pi_montecarlo; then
    echo "The same jobs with the Open MPI version (10_pi_montecarlo/mpi.cpp: rank 0 keeps the job queue, ranks 1 to N"
    echo "run the jobs, one out per worker as with sockets), its wall time measured the same way (from the moment every"
    echo "rank is up to the last result), the fastest of the same $rounds, the estimate equal to \`--local\`'s. Target:"
    echo "ours within 10% of MPI's time, socket / MPI <= 1.10."
    echo
    echo "| workers | sockets: wall time (s) | MPI: wall time (s) | sockets / MPI | target <= 1.10 |"
    echo "|---|---|---|---|---|"
    tsv workers sockets "Open MPI" >"$tmp/mpi.tsv"
    for n in 1 2; do
        r=$(quotient "$(wall_time "w$n")" "$(wall_time "mpi$n")")
        echo "| $n | $(wall_time "w$n") | $(wall_time "mpi$n") | $r | $(target_met "$r") |"
        tsv "$n worker$([ "$n" -gt 1 ] && echo s)" "$(wall_time "w$n")" "$(wall_time "mpi$n")" >>"$tmp/mpi.tsv"
    done
    echo
    plot_mpi 10_pi_montecarlo_mpi "10_pi_montecarlo: sockets beside Open MPI, $jobs jobs of $samples samples" workers \
        "$tmp/mpi.tsv"
    mpi_footer "${work[@]}"
fi
