#!/usr/bin/env bash
# bench/08_webclient.sh: the two tables of lab 08, printed as one markdown section (bench/run.sh collects it
# into docs/benchmarks.md).
#  1. The benchmark of the lab handout "Concurrent HTTP server": wrk against every concurrency
#     mode of 08_webclient/server serving a 4 KB page, with -c10 (the handout's -t10 -c10), -c100 and
#     -c1000, best of 3, and nginx (one and two workers, minimal config) measured in the same run as the
#     reference; `-c uring` (the Proactor, io_uring) beside `-c async` (the Reactor, epoll), with their
#     same-run ratios and their system calls per request (strace -c -f), where the kernel allows io_uring. wrk and nginx are Debian packages; mk/deps.sh bench installs them when missing.
#  2. The web-client table of the lecture "Network Programming" (slides "Web client: Using threads",
#     "Performance"): clock time to fetch a home page and 9 files with 1..9 connections at
#     once, threads vs non-blocking, against the kit's server with a delay per request standing in for the
#     150 ms round trip of the lecture.
# QUICK=1: 1 s runs, one of each (about half a minute). DURATION=30 REPEAT=3: the handout's exact settings.
# CHECK=1: only -c100, 1 s, and a 5 ms delay: only checks that the script works.
# Draws one plot per table: docs/08_webclient_wrk.svg, 08_webclient_cpu.svg, 08_webclient_syscalls.svg and
# 08_webclient_client.svg.
# All traffic goes to 127.0.0.1; every process started here is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source bench/lib.sh

if [ -n "${CHECK:-}" ]; then
    duration=1 repeat=1 rtt_ms=5
elif [ -n "${QUICK:-}" ]; then
    duration=${DURATION:-1}; repeat=${REPEAT:-1}; rtt_ms=${RTT_MS:-30}
else
    duration=${DURATION:-5}; repeat=${REPEAT:-3}; rtt_ms=${RTT_MS:-150}
fi
log() { echo "bench 08: $*" >&2; }

# --- tools ---------------------------------------------------------------------------------------------------
"$root/mk/deps.sh" bench || true  # wrk and nginx (and gnuplot), installed when missing
command -v wrk >/dev/null || { log "wrk is not installed (mk/deps.sh bench installs it)"; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { log "nginx is not installed (mk/deps.sh bench installs it)"; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
make --no-print-directory -C 08_webclient >/dev/null
server_bin=$root/08_webclient/server
client_bin=$root/08_webclient/client
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- the site ------------------------------------------------------------------------------------------------
work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www"
head -c 4096 /dev/zero | tr '\0' 'x' >"$work/www/page.html"       # the 4 KB page of the targets
head -c 4017 /dev/zero | tr '\0' 'h' >"$work/www/index.html"      # the lecture's home page: 4,017 bytes
for i in 1 2 3 4 5 6 7 8 9; do head -c 1621 /dev/zero | tr '\0' 'g' >"$work/www/image$i.gif"; done  # 1,621 bytes each

# Starts our server with the given options on a free port; sets PORT and SERVER_PID.
start_server() {
    local out=$work/server.$RANDOM.out
    : >"$out"
    "$server_bin" -p 0 -f "$work/www" "$@" >"$out" 2>&1 &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    local tries=0
    until grep -q '^listening on ' "$out"; do
        tries=$((tries + 1)); [ $tries -gt 100 ] && { log "server did not start: $(cat "$out")"; exit 1; }
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then START_ERROR=$(cat "$out"); return 1; fi  # it exited
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -n 1)
}

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-), where outgoing connections live
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    echo 28085
}

# nginx with WORKERS worker processes, minimal config: static files, sendfile, no access log.
start_nginx() {
    local attempt
    for attempt in 1 2 3 4 5; do
        try_nginx "$1" && return
        log "nginx could not bind port $PORT, trying another"
    done
    log "nginx did not start: $(tail -n 3 "$work/nginx$1/error.log")"
    exit 1
}
try_nginx() {
    local workers=$1 dir=$work/nginx$1
    PORT=$(free_port)
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    types { text/html html; }
    server { listen 127.0.0.1:$PORT; root $work/www; }
}
EOF
    "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/error.log" &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    local tries=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
            kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
            return 1
        fi
        sleep 0.05
    done
}

# One wrk run: prints "REQUESTS_PER_SECOND ERRORS" (errors: socket errors + non-2xx responses).
wrk_once() {
    local threads=$1 conns=$2 port=$3 out rate errors
    out=$(wrk -t"$threads" -c"$conns" -d"${duration}s" "http://127.0.0.1:$port/page.html" 2>&1 || true)
    rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
    errors=$(awk '/Socket errors/ {gsub(",", ""); n = $4 + $6 + $8 + $10} /Non-2xx/ {m = $5} END {print n + m + 0}' <<<"$out")
    echo "${rate:-0} $errors"
}

# --- table 1: the handout's benchmark ---------------------------------------------------------------------
# Every server runs at once (idle when not measured), and the rounds go over all of them in turn, so the
# machine's background load falls on every row alike; each cell is the best of $repeat rounds.
labels=("nginx, 1 worker" "nginx, 2 workers" "iterative" "thread" "thread-pool (8 threads)" "process"
        "process-pool (4 processes)" "async (1 event loop)" "async --workers 2")
ports=()
start_nginx 1; ports+=("$PORT")
start_nginx 2; ports+=("$PORT")
start_server -c iterative; ports+=("$PORT")
start_server -c thread; ports+=("$PORT")
start_server -c thread-pool --threads 8; ports+=("$PORT")
start_server -c process; ports+=("$PORT")
start_server -c process-pool --processes 4; ports+=("$PORT")
start_server -c async; ports+=("$PORT")
start_server -c async --workers 2; ports+=("$PORT")
# The Proactor: where the kernel refuses io_uring, the server says why and exits 1, and its rows are left out.
uring_note=
if start_server -c uring; then
    ports+=("$PORT"); labels+=("uring (1 event loop)")
    start_server -c uring --workers 2; ports+=("$PORT"); labels+=("uring --workers 2")
else
    uring_note=$START_ERROR
    log "no uring rows: $uring_note"
fi
loads=("10 10" "2 100" "2 1000")
declare -A best best_errors
for round in $(seq 1 "$repeat"); do
    for i in "${!labels[@]}"; do
        log "round $round/$repeat: ${labels[$i]}"
        for j in "${!loads[@]}"; do
            if [ -n "${CHECK:-}" ] && [ "$j" -ne 1 ]; then continue; fi
            read -r rate errors < <(wrk_once ${loads[$j]} "${ports[$i]}")
            if [ -z "${best[$i,$j]:-}" ] || awk -v a="$rate" -v b="${best[$i,$j]}" 'BEGIN {exit !(a > b)}'; then
                best[$i,$j]=$rate; best_errors[$i,$j]=$errors
            fi
        done
    done
done
for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done  # nginx stops on SIGINT too
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()
nginx1_c100=${best[0,1]:-0}
declare -a rows
cell() { if [ -n "${best[$1,$2]:-}" ]; then printf '%.0f|%s' "${best[$1,$2]}" "${best_errors[$1,$2]}"; else echo "-|-"; fi; }
for i in "${!labels[@]}"; do
    rows+=("${labels[$i]}|$(cell "$i" 0)|$(cell "$i" 1)|$(cell "$i" 2)")
done

# --- Reactor against Proactor: system calls per request ---------------------------------------------------------
# strace -c -f counts every system call of the server (every thread) while wrk -t1 -c10 runs; divided by the
# requests wrk completed. strace slows the server down, so its rate here means nothing: only the counts do.
syscalls_per_request() {  # server options... -> "TOTAL|top calls, per request"
    start_server "$@"
    local trace=$work/strace.$RANDOM out requests
    strace -c -f -o "$trace" -p "$SERVER_PID" 2>/dev/null &
    local tracer=$!
    sleep 0.5
    out=$(wrk -t1 -c10 -d"${duration}s" "http://127.0.0.1:$PORT/page.html" 2>&1 || true)
    kill -INT "$tracer" 2>/dev/null || true; wait "$tracer" 2>/dev/null || true
    kill -INT "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true
    requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
    awk -v n="${requests:-0}" '
        $1 ~ /^[0-9.]+$/ && NF >= 5 { calls = $4; name = $NF; if (name == "total") next; total += calls; c[name] = calls }
        END {
            if (n == 0) { print "-|-"; exit }
            line = ""
            PROCINFO["sorted_in"] = "@val_num_desc"
            k = 0
            for (name in c) { if (c[name] / n < 0.01) continue; if (k++) line = line ", "; line = line sprintf("%s %.2f", name, c[name] / n) }
            printf "%.2f|%s\n", total / n, line
        }' "$trace"
}
# --- Reactor against Proactor: server CPU per request -------------------------------------------------------------
# wrk shares the 2 cores with the server, so requests/s is also wrk's speed; the server's own CPU time per
# request (user + system of every thread or worker process, from /proc, over one wrk -t2 -c100 run) is its
# efficiency alone. Best of $repeat runs. nginx: its worker process (one worker), the master does nothing.
cpu_ticks() {  # PID... -> utime + stime, in clock ticks, of every thread of those processes
    local pid total=0 t
    for pid in "$@"; do
        for t in /proc/"$pid"/task/*/stat; do
            total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t" 2>/dev/null || echo 0)))
        done
    done
    echo "$total"
}
machine_ticks() {  # the CPU time of the whole machine so far (every core: user, nice, system, irq, softirq), in ticks
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}
# PORT PID... -> "REQUESTS_PER_SECOND SERVER_CPU_PER_REQUEST REST_OF_THE_MACHINE_PER_REQUEST" (microseconds; the
# rest is wrk, the loopback's other half and whatever else ran, in the same run)
cpu_per_request() {
    local port=$1 out requests before after all_before all_after best_us= best_rate=0 best_rest=- us rest rate
    shift
    for _ in $(seq 1 "$repeat"); do
        before=$(cpu_ticks "$@") all_before=$(machine_ticks)
        out=$(wrk -t2 -c100 -d"${duration}s" "http://127.0.0.1:$port/page.html" 2>&1 || true)
        after=$(cpu_ticks "$@") all_after=$(machine_ticks)
        requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
        rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
        [ -n "$requests" ] && [ "$requests" -gt 0 ] || continue
        us=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.2f", 1e6 * t / hz / n }')
        rest=$(awk -v t=$((all_after - all_before - (after - before))) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
            'BEGIN { printf "%.2f", 1e6 * t / hz / n }')
        if [ -z "$best_us" ] || awk -v a="$us" -v b="$best_us" 'BEGIN {exit !(a < b)}'; then
            best_us=$us best_rate=$rate best_rest=$rest
        fi
    done
    echo "${best_rate:-0} ${best_us:--} $best_rest"
}
declare -a cpu_rows
if [ -z "$uring_note" ]; then
    log "server CPU per request (nginx, async, uring)"
    start_nginx 1
    read -r rate us rest < <(cpu_per_request "$PORT" $(pgrep -P "$SERVER_PID"))
    kill -INT "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true
    cpu_rows+=("nginx, 1 worker|$rate|$us|$rest")
    for mode in async uring; do
        start_server -c "$mode"
        read -r rate us rest < <(cpu_per_request "$PORT" "$SERVER_PID")
        kill -INT "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true
        cpu_rows+=("$mode (1 event loop)|$rate|$us|$rest")
    done
fi

declare -a syscall_rows
if command -v strace >/dev/null && [ -z "$uring_note" ]; then
    log "system calls per request (strace -c -f)"
    syscall_rows+=("async (epoll: the Reactor)|$(syscalls_per_request -c async)")
    syscall_rows+=("uring (io_uring: the Proactor)|$(syscalls_per_request -c uring)")
fi

# --- table 2: the lecture's web client ------------------------------------------------------------------------
log "web client, $rtt_ms ms per request"
start_server -c thread -d --delay-ms "$rtt_ms"
files=(image1.gif image2.gif image3.gif image4.gif image5.gif image6.gif image7.gif image8.gif image9.gif)
client_time() {  # NCONNS MODE -> seconds (best of $repeat)
    local best=
    for _ in $(seq 1 "$repeat"); do
        local t
        t=$("$client_bin" "$1" 127.0.0.1 index.html "${files[@]}" -p "$PORT" --mode "$2" |
            sed -n 's/^fetched .* in \([0-9.]*\) s .*/\1/p')
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=$t; fi
    done
    echo "$best"
}
stop_server() {
    kill -INT "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
declare -a client_rows
lecture_nonblock=(6.0 4.1 3.0 2.8 2.5 2.4 2.3 2.2 2.0)
lecture_threads=(6.3 4.2 3.1 3.0 2.7 2.5 2.3 2.3 2.2)
for n in 1 2 3 4 5 6 7 8 9; do
    client_rows+=("$n|$(client_time "$n" nonblock)|$(client_time "$n" threads)|${lecture_nonblock[$((n - 1))]}|${lecture_threads[$((n - 1))]}")
done
stop_server

# --- the section ------------------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
echo "## 08_webclient: the concurrent HTTP server (lab handout) and the threaded web client (lecture)"
echo
echo "### Requests per second, wrk against every concurrency mode, nginx as the reference"
echo
echo "A 4,096-byte page.html; keep-alive connections; best of $repeat rounds of ${duration} s runs (every server once per"
echo "round, in turn, so background load falls on all alike); wrk and the server"
echo "share the machine's $(nproc) cores. The ratio is to nginx with one worker at -c100, measured in this run."
echo
echo "| server | -t10 -c10 req/s | -t2 -c100 req/s | ratio to nginx 1 worker (c100) | -t2 -c1000 req/s | errors c10 / c100 / c1000 |"
echo "|---|---:|---:|---:|---:|---|"
tsv server "wrk -t10 -c10" "wrk -t2 -c100" "wrk -t2 -c1000" >"$work/wrk.tsv"
for row in "${rows[@]}"; do
    IFS='|' read -r label c10 e10 c100 e100 c1000 e1000 <<<"$row"
    echo "| $label | $c10 | $c100 | $(ratio "$c100" "$nginx1_c100") | $c1000 | $e10 / $e100 / $e1000 |"
    tsv "$label" "$c10" "$c100" "$c1000" >>"$work/wrk.tsv"
done
echo
# The targets for the Proactor, in this run: uring at least 1.15x async and 1.8x nginx, one worker each.
label_index() { local i; for i in "${!labels[@]}"; do [ "${labels[$i]}" = "$1" ] && echo "$i"; done; return 0; }
if [ -z "$uring_note" ]; then
    ua=$(label_index "uring (1 event loop)") aa=$(label_index "async (1 event loop)")
    u2=$(label_index "uring --workers 2") a2=$(label_index "async --workers 2")
    echo "Reactor against Proactor in this run, at -t2 -c100: uring (1 event loop) is $(ratio "${best[$ua,1]:-0}" "${best[$aa,1]:-0}")x"
    echo "async (1 event loop) and $(ratio "${best[$ua,1]:-0}" "$nginx1_c100")x nginx with one worker; uring --workers 2 is"
    echo "$(ratio "${best[$u2,1]:-0}" "${best[$a2,1]:-0}")x async --workers 2 and $(ratio "${best[$u2,1]:-0}" "${best[1,1]:-0}")x nginx with two workers"
    echo "(the targets, one worker: 1.15x async and 1.8x nginx)."
    echo
    echo "Server CPU per request (user + system of the server's threads, or of nginx's worker, from /proc, over one"
    echo "\`wrk -t2 -c100 -d${duration}s\`; best of $repeat): what the server itself spends, whoever is the bottleneck. wrk"
    echo "needs about a core of its own here, so on 2 cores requests/s measures wrk as much as the server."
    echo
    echo "| server | req/s in that run | server CPU per request (µs) | requests per server CPU second | against nginx | against async | rest of the machine per request (µs) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    nginx_us=$(IFS='|' read -r _ _ us _ <<<"${cpu_rows[0]}"; echo "$us")
    async_us=$(IFS='|' read -r _ _ us _ <<<"${cpu_rows[1]}"; echo "$us")
    for row in "${cpu_rows[@]}"; do
        IFS='|' read -r label rate us rest <<<"$row"
        per_s=$(awk -v u="$us" 'BEGIN { if (u > 0) printf "%.0f", 1e6 / u; else print "-" }')
        echo "| $label | $(printf '%.0f' "$rate") | $us | $per_s | $(ratio "$nginx_us" "$us")x | $(ratio "$async_us" "$us")x | $rest |"
    done
    echo
    # The ceiling: requests/s can be no more than the cores over the CPU a request costs the whole machine, the
    # server's share plus the rest (wrk above all), taken as measured beside uring (it moves a little with the
    # server: a client that waits more often for a slower server spends more per request).
    IFS='|' read -r _ nginx_rate _ _ <<<"${cpu_rows[0]}"
    IFS='|' read -r _ async_rate _ _ <<<"${cpu_rows[1]}"
    IFS='|' read -r _ _ uring_us uring_rest <<<"${cpu_rows[2]}"
    awk -v cores="$(nproc)" -v nr="$nginx_rate" -v ar="$async_rate" -v ur="$uring_rest" -v uu="$uring_us" 'BEGIN {
        if (nr <= 0 || ar <= 0 || ur <= 0) exit
        n = 1.8 * nr; nb = 1e6 * cores / n - ur; a = 1.15 * ar; ab = 1e6 * cores / a - ur
        printf "The ceiling on %d cores: requests/s <= %d x 1,000,000 / (server + rest) µs. Beside uring the rest of the\n", cores, cores
        printf "machine (wrk, the client half of loopback TCP) took %.2f µs a request, so even a server that cost nothing would\n", ur
        printf "reach %.0f req/s. 1.15x async (%.0f req/s) leaves the server %.2f µs a request, 1.8x nginx (%.0f req/s)\n", 1e6 * cores / ur, a, ab, n
        printf "%.2f µs; uring takes %.2f.\n", nb, uu
    }'
    echo "The rest is measured from /proc/stat over the same runs: every core's CPU time minus the server's."
    echo
    tsv server "the server" "the rest of the machine (wrk, loopback TCP)" >"$work/cpu.tsv"
    for row in "${cpu_rows[@]}"; do
        IFS='|' read -r label _ us rest <<<"$row"
        tsv "$label" "$us" "$rest" >>"$work/cpu.tsv"
    done
    plot 08_webclient_cpu "CPU per request of the server and of the rest of the machine, nginx, async and uring" --bars \
        --key "top right" --title "08_webclient: CPU per request at wrk -t2 -c100 (µs), best of $repeat" \
        --ylabel "CPU per request (µs)" "$work/cpu.tsv"
else
    echo "No uring rows: $uring_note"
fi
echo
if [ ${#syscall_rows[@]} -gt 0 ]; then
    echo "System calls per request (every thread of the server, \`strace -c -f -p PID\` while \`wrk -t1 -c10\`"
    echo "runs, divided by the requests wrk completed; the calls made at least once per hundred requests):"
    echo
    echo "| server | system calls per request | of which (per request) |"
    echo "|---|---:|---|"
    for row in "${syscall_rows[@]}"; do
        IFS='|' read -r label total detail <<<"$row"
        echo "| $label | $total | $detail |"
    done
    echo
    # The plot: one cluster per system call, a bar per server (0 where a server does not make that call).
    for row in "${syscall_rows[@]}"; do
        IFS='|' read -r label _ detail <<<"$row"
        printf '%s\n' "${label%% (*}" "$detail"
    done | awk '
        NR % 2 == 1 { server[++n] = $0; next }
        {
            count = split($0, calls, ", ")
            for (i = 1; i <= count; i++) {
                split(calls[i], part, " ")
                if (!(part[1] in seen)) { seen[part[1]] = 1; order[++m] = part[1] }
                per[n, part[1]] = part[2]
            }
        }
        END {
            line = "system call"; for (s = 1; s <= n; s++) line = line "\t" server[s]; print line
            for (c = 1; c <= m; c++) {
                line = order[c]; for (s = 1; s <= n; s++) line = line "\t" ((s, order[c]) in per ? per[s, order[c]] : 0); print line
            }
        }' >"$work/syscalls.tsv"
    plot 08_webclient_syscalls "System calls per request by call, the Reactor (async) and the Proactor (uring)" --bars \
        --key "top right" --title "08_webclient: system calls per request, by call" \
        --ylabel "calls per request" "$work/syscalls.tsv"
fi
plot 08_webclient_wrk "Requests per second of every concurrency mode and nginx, three wrk loads" --bars --key "below horizontal" \
    --title "08_webclient: requests/s serving a 4 KB page, $([ "$repeat" -gt 1 ] && echo "best of $repeat runs" || echo "one run") of ${duration} s" \
    --ylabel "requests per second" "$work/wrk.tsv"
echo "Commands (PORT from the server's first line):"
echo
echo '```'
echo "08_webclient/server -p 0 -f WWW -c MODE          # MODE: iterative thread thread-pool process process-pool async uring"
echo "08_webclient/server -p 0 -f WWW -c async --workers 2"
echo "08_webclient/server -p 0 -f WWW -c uring [--workers 2]     # the Proactor (io_uring)"
echo "nginx -p DIR -c nginx.conf                       # worker_processes 1|2; sendfile on; access_log off"
echo "wrk -t10 -c10 -d${duration}s http://127.0.0.1:PORT/page.html    # the handout's -t10 -c10 (Debian's wrk has no -R)"
echo "wrk -t2 -c100 -d${duration}s http://127.0.0.1:PORT/page.html"
echo "wrk -t2 -c1000 -d${duration}s http://127.0.0.1:PORT/page.html"
echo '```'
echo
echo "Reading it: every connection of wrk is kept alive for the whole run, and requests/s counts only the answers."
echo "The iterative server serves one connection at a time and the pools --threads / --processes at a time: the"
echo "other connections wait in the queue or the backlog (starved, which the rate does not show; wrk's errors"
echo "column counts only the timeouts it notices). thread and process serve every connection (process up to"
echo "--max-clients 256); the event loops serve them all from one thread each, as nginx does. Rows measured in"
echo "one run are comparable with each other; between runs the machine's other load moves every number."
echo "The targets on this class of machine (2 cores, wrk on the same machine): nginx one worker about"
echo "37,000 req/s at -t2 -c100, two workers 40,000-45,000, Python's http.server about 1,300, a minimal asyncio"
echo "server about 17,000; async must reach nginx one worker's rate (ratio >= 1.0), async --workers 2 nginx two"
echo "workers' rate, thread-pool 0.7 of nginx one worker."
echo
echo "The lecture's own figures: none. The handout asks for \`./wrk -t10 -c10 -d30s -R10000 http://127.0.0.1:8084/page.html\`,"
echo "best of 3 or more runs, and gives no numbers (its example benchmark.md is not in the text). Debian's wrk is"
echo "wrk, not wrk2, so it has no -R (constant rate): it sends as fast as the server answers, which measures the"
echo "maximum rate. \`DURATION=30 REPEAT=3 bash bench/08_webclient.sh\` gives the handout's duration and count."
echo
echo "### The lecture's web client: home page and 9 files, 1 to 9 connections at once"
echo
echo "Clock time in seconds (best of $repeat) to fetch index.html (4,017 bytes), then 9 images of 1,621 bytes, from"
echo "\`server -c thread -d --delay-ms $rtt_ms\`: each request waits $rtt_ms ms, standing in for the lecture's 150 ms round trip."
echo
echo "| simultaneous connections | ours, non-blocking (s) | ours, threads (s) | lecture, non-blocking (s) | lecture, threads (s) |"
echo "|---:|---:|---:|---:|---:|"
tsv "simultaneous connections" "non-blocking" "threads" "lecture: non-blocking" "lecture: threads" >"$work/client.tsv"
for row in "${client_rows[@]}"; do
    IFS='|' read -r n nb th lnb lth <<<"$row"
    echo "| $n | $nb | $th | $lnb | $lth |"
    tsv "$n" "$nb" "$th" "$lnb" "$lth" >>"$work/client.tsv"
done
echo
plot 08_webclient_client "Clock time to fetch the home page and 9 files against simultaneous connections, ours and the lecture's" \
    --key "top right" --y2 4,5 --set "set xtics 1" \
    --title "Web client: home page + 9 files, $rtt_ms ms per request (lecture: 150 ms RTT)" \
    --xlabel "simultaneous connections" --ylabel "ours: clock time (s)" --y2label "lecture: clock time (s)" "$work/client.tsv"
echo '```'
echo "08_webclient/server -p 0 -f WWW -c thread -d --delay-ms $rtt_ms"
echo "08_webclient/client N 127.0.0.1 index.html image1.gif ... image9.gif -p PORT --mode nonblock|threads"
echo '```'
echo
echo "The lecture's own figures (its table under \"Web client: Using threads\", Performance: a real 150 ms path) are"
echo "the *lecture* columns, drawn against the plot's right-hand axis, since their scale is not ours: compare the shapes."
echo
echo "As in the lecture, most of the gain comes by three connections: the remaining time is the home page (always"
echo "alone) plus ceil(9 / N) rounds of one request each. The lecture's figures include TCP slow start over a real"
echo "150 ms path with 512-byte segments, so they flatten earlier; on the loopback the delay is the only cost."
