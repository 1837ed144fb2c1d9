#!/usr/bin/env bash
# bench/10_pi_montecarlo.sh: speed-up of the pi manager/worker over --local with 1, 2 and 4 workers, and the
# socket manager/worker beside the Open MPI version (./mpi, mpirun -np N+1) at 1 and 2 workers (skipped without mpirun).
# Prints one markdown section (bench/run.sh collects it into docs/benchmarks.md) and draws its plots,
# docs/10_pi_montecarlo_speedup.svg and docs/10_pi_montecarlo_mpi.svg. QUICK=1: fewer samples.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
manager_worker_setup 10_pi_montecarlo  # lab, tmp, pids, mpirun_cmd, have_mpi: see bench/lib.sh
# The jobs, and how many times each run is repeated, the fastest kept (the machine may be busy with other work):
# CHECK=1 (only checks that the script works), QUICK=1, the full run.
read -r jobs samples reps <<<"$(by_mode "4 200000 1" "16 12000000 2" "32 25000000 3")"
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
rate() { sed -n 's/^wall time .* s, \(.*\) samples\/s/\1/p' "$tmp/$1.out"; }
estimate() { sed -n 's/^estimate of pi \([0-9.]*\) .*/\1/p' "$tmp/$1.out"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: 10_pi_montecarlo --local, $jobs jobs of $samples samples" >&2
fastest_of local run_local
for n in 1 2 4; do
    echo "bench: 10_pi_montecarlo $n workers" >&2
    fastest_of "w$n" run_workers "w$n" "$n"
done
if [ -n "$have_mpi" ]; then
    for n in 1 2; do
        echo "bench: 10_pi_montecarlo MPI $n workers" >&2
        fastest_of "mpi$n" run_mpi "mpi$n" "$n"
    done
fi
prefetches=(1 2 4)
for k in "${prefetches[@]}"; do
    for n in 1 2; do
        echo "bench: 10_pi_montecarlo $n workers, --prefetch $k" >&2
        fastest_of "k$k-$n" run_prefetch "k$k-$n" "$n" "$k"
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## 10_pi_montecarlo: manager/worker speed-up"
echo
echo "$jobs jobs of $samples samples (seeds 1 to $jobs). Every run gives the same estimate, $(estimate local)"
echo "($(sed -n 's/^error \([^ ]*\) .*/\1/p' "$tmp/local.out") from pi). Wall time is the manager's, from the moment all"
echo "workers are connected to the last result, the fastest of $reps runs; \`--local\` runs the same jobs in one"
echo "thread without sockets. $(nproc) cores."
echo
echo "| run | wall time (s) | samples/s | speed-up over --local | speed-up over 1 worker | busy per worker (s) |"
echo "|---|---|---|---|---|---|"
echo "| \`--local\` | $(wall_time local) | $(rate local) | 1.00 | | |"
for n in 1 2 4; do
    echo "| $n worker$([ "$n" -gt 1 ] && echo s) | $(wall_time "w$n") | $(rate "w$n") | $(quotient "$(wall_time local)" "$(wall_time "w$n")") | $(quotient "$(wall_time w1)" "$(wall_time "w$n")") | $(busy_times "w$n") |"
done
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
    echo "| $k$([ "$k" = 2 ] && echo " (default)") | $w1 | $(quotient "$w1" "$(wall_time local)") | $w2 | $(quotient "$w1" "$w2") |"
done
echo
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
    echo "rank is up to the last result), the fastest of $reps runs, the estimate equal to \`--local\`'s. Target:"
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
