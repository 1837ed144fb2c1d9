#!/usr/bin/env bash
# bench/handout.sh: the lab handout's own benchmark ("Concurrent HTTP server", Benchmarking), as the handout
# asks for it: wrk with its configuration (-t10 -c10 -d30s against page.html), the single-threaded server
# against the thread and the process servers, each run 3 times and the best reported, verbose output off.
# Writes the handout's benchmark.md as docs/08_handout_benchmark.md. `make bench-handout` runs it.
#
#   bash bench/handout.sh            the handout's configuration: 3 servers x 3 runs x 30 s (about 5 minutes)
#   QUICK=1 bash bench/handout.sh    a smoke test: 3 s runs, one each (about 15 s)
#   OUT=FILE bash bench/handout.sh   write FILE instead of docs/08_handout_benchmark.md
#
# Debian's wrk is wrk 4, not the handout's wrk2: it has no -R (see the section written below). wrk comes from
# Debian (mk/deps.sh bench installs it when missing). All traffic goes to 127.0.0.1; every server started here
# is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ -n "${QUICK:-}" ]; then duration=3 runs=1; else duration=30 runs=3; fi
out=${OUT:-$root/docs/08_handout_benchmark.md}
log() { echo "bench-handout: $*" >&2; }

command -v wrk >/dev/null || "$root/mk/deps.sh" bench || true
command -v wrk >/dev/null || { log "wrk is not installed (mk/deps.sh bench installs it)"; exit 1; }
make --no-print-directory -C 08_webclient >/dev/null  # in place: `make 08_webclient` would repoint ./server
server_bin=$root/08_webclient/server

work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done  # a background job ignores SIGINT
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www"
head -c 4096 /dev/zero | tr '\0' 'x' >"$work/www/page.html"  # the handout's page.html: 4 KiB here

# Starts the server with the given options (never -v) on a free port; sets PORT.
start_server() {
    local log_file=$work/server.${#pids[@]}.out tries=0
    "$server_bin" -p 0 -f "$work/www" "$@" >"$log_file" 2>&1 &
    pids+=($!)
    until grep -q '^listening on ' "$log_file"; do
        tries=$((tries + 1))
        if [ $tries -gt 200 ] || ! kill -0 "${pids[-1]}" 2>/dev/null; then
            log "the server did not start: $(cat "$log_file")"
            exit 1
        fi
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log_file" | head -n 1)
}

# The handout's three servers: its single-threaded server of lab 5 (here -c iterative), threads, processes.
labels=("single thread (-c iterative)" "threads (-c thread)" "processes (-c process)")
modes=(iterative thread process)
ports=()
for mode in "${modes[@]}"; do start_server -c "$mode"; ports+=("$PORT"); done

# Every server runs at once (idle when not measured) and each round measures all three in turn, so the machine's
# other load falls on every row alike. Each run's wrk output is kept; the best run is the one with the most
# requests/s.
declare -A rate latency transfer errors all_rates
for run in $(seq 1 "$runs"); do
    for i in "${!modes[@]}"; do
        log "run $run/$runs: ${labels[$i]}, wrk -t10 -c10 -d${duration}s"
        result=$(wrk -t10 -c10 -d"${duration}s" "http://127.0.0.1:${ports[$i]}/page.html" 2>&1 || true)
        r=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$result")
        r=${r:-0}
        all_rates[$i]="${all_rates[$i]:+${all_rates[$i]}, }$(printf '%.0f' "$r")"
        if [ -z "${rate[$i]:-}" ] || awk -v a="$r" -v b="${rate[$i]}" 'BEGIN { exit !(a > b) }'; then
            rate[$i]=$r
            latency[$i]=$(awk '$1 == "Latency" { print $2; exit }' <<<"$result")
            transfer[$i]=$(sed -n 's/^Transfer\/sec: *//p' <<<"$result")
            errors[$i]=$(awk '/Socket errors/ { gsub(",", ""); n = $4 + $6 + $8 + $10 } /Non-2xx/ { m = $5 }
                             END { print n + m + 0 }' <<<"$result")
        fi
    done
done

mkdir -p "$(dirname "$out")"
{
    echo "# benchmark.md: the lab handout's benchmark of lab 08's server"
    echo
    if [ -n "${QUICK:-}" ]; then
        how="\`make bench-handout QUICK=1\` (a smoke test, ${duration} s runs, one each: not the"
        how+=" handout's configuration)"
    else
        how="\`make bench-handout\` (the handout's configuration)"
    fi
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by $how"
    echo "on $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1),"
    echo "$(nproc) cores, Linux $(uname -r); wrk and the servers share the cores. Load average (1, 5, 15 min)"
    echo "after the runs: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo -n "| server | requests/s (best of $runs) | every run (requests/s) | latency avg (best run) "
    echo "| transfer/s (best run) | errors (best run) |"
    echo "|---|---:|---|---:|---:|---:|"
    for i in "${!modes[@]}"; do
        printf '| %s | %.0f | %s | %s | %s | %s |\n' "${labels[$i]}" "${rate[$i]}" "${all_rates[$i]}" \
            "${latency[$i]:--}" "${transfer[$i]:--}" "${errors[$i]:-0}"
    done
    echo
    echo "Commands (PORT from the server's first line, \`listening on [::]:PORT\`; no -v, as the handout asks):"
    echo
    echo '```'
    echo "08_webclient/server -p 0 -f WWW -c iterative    # the handout's single-threaded server"
    echo "08_webclient/server -p 0 -f WWW -c thread"
    echo "08_webclient/server -p 0 -f WWW -c process"
    echo "wrk -t10 -c10 -d${duration}s http://127.0.0.1:PORT/page.html   # WWW/page.html: 4,096 bytes"
    echo '```'
    echo
    echo "The handout's command is \`./wrk -t10 -c10 -d30s -R10000 http://127.0.0.1:8084/page.html\` with wrk2,"
    echo "run 3 or more times, the best reported. Here wrk is Debian's package, wrk 4, which has no \`-R\`: wrk2's"
    echo "\`-R10000\` sends a constant 10,000 requests/s and reports latencies corrected for the requests a slow"
    echo "server holds back (coordinated omission); wrk 4 sends the next request as soon as the last is answered, so"
    echo "requests/s is the most the server answers, not capped at 10,000, and its latencies are those of the"
    echo "requests it sent. wrk2 is not packaged by Debian and the kit builds nothing fetched from elsewhere; the"
    echo "three servers are measured alike, so their comparison holds. The servers run at once and each run"
    echo "measures the three in turn, so the machine's other load falls on all three alike."
    echo
    echo "Reading it: wrk keeps its 10 connections alive for the whole run. The single-threaded server serves one"
    echo "connection at a time, to its end, and the first one never goes quiet: the other 9 wait in the backlog"
    echo "for the whole run and get no answer (wrk reports them as no error: it counts the answers), so its rate"
    echo "is that of one connection, one request at a time. Threads and processes serve all 10 at once; with"
    echo "keep-alive a process is forked once per connection, not per request, so processes come close to threads."
    echo "More modes, more loads and nginx as the reference: \`make bench\` (docs/benchmarks.md)."
} >"$out"
log "wrote $out"
