#!/usr/bin/env bash
# bench/03_udp_mp.sh: what a process per datagram costs (the lecture "Network Programming", slide
# "Concurrent, Connectionless Server": "the added cost of process creation dominates the added efficiency
# gained from concurrency"), measured with the kit's 03_udp_mp server in each mode: K client processes each
# send N requests one after another; wall time, requests per second, and the server's CPU time (user +
# system, its reaped children included, read from /proc just before Ctrl-C) per request.
# The lecture has no table for it; this is ours.
#   bash bench/03_udp_mp.sh            full run (about half a minute)
#   QUICK=1 bash bench/03_udp_mp.sh    short run
#   CHECK=1 ...                        a few requests per mode: only checks that the script works
# Prints one markdown section on stdout (and draws its plot, docs/03_udp_mp_cpu.svg); progress on stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source bench/lib.sh
single_server_setup 03_udp_mp

processes=10
if [ -n "${CHECK:-}" ]; then count=20; elif [ -n "${QUICK:-}" ]; then count=300; else count=1000; fi
requests=$((processes * count))
ticks=$(getconf CLK_TCK)

# cpu_seconds PID: its utime + stime + cutime + cstime (/proc/PID/stat fields 14 to 17: itself and its reaped
# children) plus the utime + stime of its children still running (the pool's workers), in seconds.
cpu_seconds() {
    local files=("/proc/$1/stat") child
    for child in $(pgrep -P "$1" || true); do files+=("/proc/$child/stat"); done
    awk -v hz="$ticks" -v main="/proc/$1/stat" '{ sub(/^.*\) /, ""); total += $12 + $13; if (FILENAME == main) total += $14 + $15 }
        END { print total / hz }' "${files[@]}" 2>/dev/null
}

rows=()
tsv mode "server CPU per request" >"$tmp/cpu.tsv"
for mode in iterative fork pool conversation; do
    echo "bench 03: --mode $mode, $processes processes x $count requests" >&2
    rm -f "$tmp/server.out"  # never read the last server's listening line
    "$bin/server" 0 --mode "$mode" >"$tmp/server.out" 2>&1 &
    server_pid=$!
    until grep -qs '^listening on ' "$tmp/server.out"; do sleep 0.05; done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/server.out" | head -n 1)
    [ -n "$port" ] || { echo "bench 03: no port in: $(cat "$tmp/server.out")" >&2; exit 1; }
    start=$(date +%s.%N)
    "$bin/client" localhost "$port" bench --processes "$processes" --count "$count" --timeout 1 --retries 5 >"$tmp/client.out"
    end=$(date +%s.%N)
    sleep 0.3  # the last children end and are reaped
    cpu=$(cpu_seconds "$server_pid")
    kill -INT "$server_pid"
    wait "$server_pid" || true
    server_pid=
    retries=$(grep -c 'sent again' "$tmp/client.out" || true)
    rows+=("$(awk -v m="$mode" -v r="$requests" -v s="$start" -v e="$end" -v c="$cpu" -v t="$retries" 'BEGIN {
        w = e - s; printf "| `%s` | %d | %.2f | %.0f | %.2f | %.0f | %d |", m, r, w, r / w, c, c / r * 1e6, t }')")
    tsv "$mode" "$(awk -v c="$cpu" -v r="$requests" 'BEGIN { printf "%.1f", c / r * 1e6 }')" >>"$tmp/cpu.tsv"
done

cat <<EOF2
## 03_udp_mp: a process per datagram against a pool and an iterative server

$processes client processes (\`--processes $processes\`) each send $count requests one after another
(\`--count $count\`), $requests in all, to \`./server 0 --mode MODE\` on 127.0.0.1. CPU is the server's user +
system time with its children's (\`/proc/PID/stat\`: the children reaped, and the pool's workers still running). In \`conversation\`
mode each client process has one conversation: one fork per client, not per request.

| mode | requests | wall s | requests/s | server CPU s | server CPU µs per request | retries |
|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

$(plot 03_udp_mp_cpu "Server CPU per request, by mode" --bars --key "top right" \
    --title "03_udp_mp: server CPU time per UDP request ($requests requests, $processes client processes)" \
    --xlabel "server mode (--mode)" --ylabel "server CPU per request (µs, user + system)" "$tmp/cpu.tsv")

Commands (\`bash bench/03_udp_mp.sh\`, \`QUICK=1\` for a short run), one fresh server per mode, stopped with Ctrl-C (SIGINT):

\`\`\`
03_udp_mp/server 0 --mode MODE          # MODE: iterative fork pool conversation; PORT from its first line
03_udp_mp/client localhost PORT bench --processes $processes --count $count --timeout 1 --retries 5
\`\`\`

The lecture's own figures: none. Its claim (the lecture "Network Programming", slide
"Concurrent, Connectionless Server": "the added cost of process creation dominates the added efficiency gained
from concurrency") is the ratio: \`fork\` pays a process creation per datagram, many times the cost of the
reply itself, while \`pool\` and \`conversation\` pay it once per worker or per client.
EOF2
