# bench/lib.sh: sourced by every bench/NN_*.sh (after it sets root, the kit's folder).
# BENCH_DOCS (default docs/) is where the plots go, BENCH_BUILD (default build/bench/) where their numbers are
# kept: bench/run.sh points both elsewhere for CHECK=1, so that a check never touches docs/.
#
#   tsv CELL...                     prints one tab-separated line (a row of a plot's data file)
#   plot NAME ALT [OPTIONS] DATA    draws $BENCH_DOCS/NAME.svg from DATA with bench/plot.sh (OPTIONS: see there) and
#                                   prints the markdown image link to put under the table, or a line saying
#                                   why there is no plot; never fails the benchmark. It keeps the numbers in
#                                   $BENCH_BUILD/plots/NAME.tsv, and $BENCH_BUILD/plots/NAME.redraw [OUT] draws
#                                   the plot again (OUT.png: as a PNG) without measuring anything.
tsv() { local IFS=$'\t'; echo "$*"; }

plot() {
    local name=$1 alt=$2 keep=${BENCH_BUILD:-$root/build/bench}/plots docs=${BENCH_DOCS:-$root/docs}
    shift 2
    local options=("${@:1:$#-1}") data=${*: -1}
    mkdir -p "$keep"
    cp "$data" "$keep/$name.tsv"
    {
        echo "#!/usr/bin/env bash"
        echo "# Draws docs/$name.svg again from the numbers of the last run (or OUT, given as the argument)."
        printf 'QUICK=%q exec %q' "${QUICK:-}" "$root/bench/plot.sh"
        printf ' %q' "${options[@]}" "$keep/$name.tsv"
        printf ' "${1:-%s}"\n' "$docs/$name.svg"
    } >"$keep/$name.redraw"
    chmod +x "$keep/$name.redraw"
    if "$root/bench/plot.sh" "${options[@]}" "$data" "$docs/$name.svg" >&2; then
        echo "![$alt]($name.svg)"
    else
        echo "(No plot: bench/plot.sh could not draw $name.svg, see the messages of \`make bench\`.)"
    fi
    echo
}

# The benchmarks of one server at a time (03_udp_mp, 07_epoll):
#   single_server_setup LAB         builds LAB in place and sets: bin (its folder), tmp (a directory removed at
#                                   exit), server_pid (set it to the server running now: it is stopped at exit)
single_server_setup() {
    make -s --no-print-directory -C "$root/$1" >&2
    bin=$root/$1
    tmp=$(mktemp -d)
    server_pid=
    trap single_server_cleanup EXIT
}
single_server_cleanup() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}

# The manager/worker benchmarks (09_mandelbrot, 10_pi_montecarlo) share what follows. Each run's output is kept
# in $tmp/NAME.out; $reps is how many times a run is repeated.
#   manager_worker_setup LAB        builds LAB in place (not `make LAB` at the root, which would repoint the ./server
#                                   and ./client links) and sets: lab (its folder), tmp (a directory removed at exit),
#                                   pids (what is still running at exit is killed), mpirun_cmd (README.md "MPI"'s
#                                   command line) and have_mpi (not empty when ./mpi is built and mpirun is there)
#   run_manager_workers OUT N MANAGER...
#                                   starts MANAGER... (the lab's server on port 0), output in OUT, then N workers
#                                   ($lab/client on its port) at once; returns when all have ended, with the
#                                   workers' output appended to OUT after the manager's. Bounded: the manager must
#                                   listen within 5 s and finish within 300 s, the workers give up after 60 s of
#                                   silence
#   run_mpirun NAME N ARGS...       mpirun -np N+1 $lab/mpi ARGS..., output in $tmp/NAME.out. Bounded: 300 s
#   fastest_of NAME COMMAND...      runs COMMAND (which writes $tmp/NAME.out) $reps times, keeps the fastest output
#                                   (of these and of earlier calls for NAME: calling it with reps=1 in rounds works)
#   wall_time NAME [best]           the `wall time S s` of $tmp/NAME.out (or of the fastest so far)
#   time_spread NAME                "SLOWEST to FASTEST": the wall times of every run of NAME by fastest_of
#   slower_of NAME A B              writes $tmp/NAME.out with the `wall time` of the slower of $tmp/A.out and
#                                   $tmp/B.out (two runs at once: the pair is done when both are)
#   busy_times NAME                 each worker's busy seconds in $tmp/NAME.out, space-separated, as the manager
#                                   counts them (from handing out work to having it back)
#   computing_times NAME            each worker's own busy seconds (computing only, from its BYE line)
#   count_of N WORD                 "1 WORD" or "N WORDs"
#   quotient A B                    A / B, two decimals (0 when B is 0)
#   by_mode CHECK QUICK FULL        prints the one of the three for this run: CHECK=1 (only checks that the script
#                                   works), QUICK=1 or the full run
# and the parts of their sections that read alike:
#   plot_speedup NAME ALT IDEAL TITLE DATA
#                                   plot of the speed-up against 1, 2 and 4 workers (column IDEAL of DATA, the
#                                   ideal, dashed)
#   code_block LINE...              the lines as a markdown code block
#   mpi_heading LAB                 the heading "Sockets beside MPI"; when $have_mpi is empty, says why it is not
#                                   measured and returns 1
#   target_met RATIO                "met" when RATIO (sockets / MPI) is at most 1.10, else "missed"
#   plot_mpi NAME TITLE XLABEL DATA bar plot of the wall times of sockets and MPI
#   mpi_footer ARGS...              the MPI command line (ARGS: ./mpi's), Open MPI's version and the load average
#                                   ($load_before, $load_after) under the table
manager_worker_setup() {
    lab=$root/$1
    make --no-print-directory -C "$lab" >/dev/null
    [ -x "$lab/server" ] && [ -x "$lab/client" ] || { echo "bench: build $1 first (make $1)" >&2; exit 1; }
    tmp=$(mktemp -d)
    pids=()
    trap manager_worker_cleanup EXIT
    mpirun_cmd=(mpirun --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1)
    have_mpi=
    if [ -x "$lab/mpi" ] && command -v mpirun >/dev/null; then have_mpi=1; fi
}
manager_worker_cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$tmp"; }

run_manager_workers() {
    local out=$1 n=$2
    shift 2
    : >"$out"
    "$@" >"$out" 2>&1 &
    local server=$!
    pids+=("$server")
    local tries=0
    until grep -q '^listening on ' "$out"; do
        tries=$((tries + 1)); [ $tries -le 100 ] || { echo "bench: the manager did not start" >&2; exit 1; }
        sleep 0.05
    done
    local port
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
    local workers=() i
    for ((i = 0; i < n; i++)); do
        "$lab/client" 127.0.0.1 "$port" --timeout 60 >"$out.worker$i" 2>&1 &
        workers+=($!)
        pids+=($!)
    done
    timeout 300 tail --pid="$server" -f /dev/null || { echo "bench: the manager did not finish" >&2; exit 1; }
    wait "$server"
    for i in "${!workers[@]}"; do
        wait "${workers[$i]}"
        cat "$out.worker$i" >>"$out"
        rm -f "$out.worker$i"
    done
}

run_mpirun() {
    local name=$1 n=$2
    shift 2
    timeout 300 "${mpirun_cmd[@]}" -np $((n + 1)) "$lab/mpi" "$@" >"$tmp/$name.out" 2>&1 </dev/null ||
        { echo "bench: $name: mpirun failed" >&2; cat "$tmp/$name.out" >&2; exit 1; }
}

fastest_of() {
    local name=$1 r
    shift
    for ((r = 0; r < reps; r++)); do
        "$@"
        wall_time "$name" >>"$tmp/$name.times"
        if [ ! -f "$tmp/$name.best" ] || awk -v a="$(wall_time "$name")" -v b="$(wall_time "$name" best)" 'BEGIN { exit !(a < b) }'; then
            cp "$tmp/$name.out" "$tmp/$name.best"
        fi
    done
    cp "$tmp/$name.best" "$tmp/$name.out"
}
wall_time() { sed -n 's/^wall time \([0-9.]*\) s.*/\1/p' "$tmp/$1.${2:-out}"; }
slower_of() { echo "wall time $(cat "$tmp/$2.out" "$tmp/$3.out" | sed -n 's/^wall time \([0-9.]*\) s.*/\1/p' | sort -n | tail -1) s" >"$tmp/$1.out"; }
time_spread() { sort -n "$tmp/$1.times" | sed -n '$p;1p' | paste -sd' ' | awk '{ printf "%s to %s", $2, $1 }'; }
busy_times() { sed -n 's/^worker [0-9]*: .* busy \([0-9.]*\) s.*/\1/p' "$tmp/$1.out" | paste -sd' '; }
computing_times() { sed -n 's/^manager says BYE: .* busy \([0-9.]*\) s.*/\1/p' "$tmp/$1.out" | paste -sd' '; }
by_mode() { if [ -n "${CHECK:-}" ]; then echo "$1"; elif [ -n "${QUICK:-}" ]; then echo "$2"; else echo "$3"; fi; }
count_of() { if [ "$1" = 1 ]; then echo "1 $2"; else echo "$1 $2s"; fi; }
quotient() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

plot_speedup() {
    plot "$1" "$2" --dashed "$3" --set "set xtics (1, 2, 4)" --set "set xrange [0.8:4.2]" --title "$4" \
        --xlabel "workers (client processes)" --ylabel "speed-up over --local (wall time ratio)" "$5"
}
code_block() { echo '```'; printf '%s\n' "$@"; echo '```'; }
mpi_heading() {
    echo "### Sockets beside MPI"
    echo
    [ -n "$have_mpi" ] && return 0
    echo "Not measured: Open MPI is not installed here (\`make deps\` installs it, then \`make $1\` builds ./mpi)."
    return 1
}
target_met() { awk -v r="$1" 'BEGIN { print (r <= 1.10 ? "met" : "missed") }'; }
plot_mpi() {
    plot "$1" "Wall time of the socket manager/worker and of the Open MPI version" --bars --key "top right" \
        --title "$2" --xlabel "$3" --ylabel "wall time (s), fastest of $reps" "$4"
}
mpi_footer() {
    echo "MPI command: \`${mpirun_cmd[*]} -np N+1 ./mpi $*\`"
    echo "($(mpirun --version 2>/dev/null | head -n 1)). Load average of the machine (1, 5, 15 min) before the runs:"
    echo "$load_before, after: $load_after, on $(nproc) cores: other work shares the cores, so single runs vary; the"
    echo "fastest of $reps is kept on both sides."
}
