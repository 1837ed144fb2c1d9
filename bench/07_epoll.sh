#!/usr/bin/env bash
# bench/07_epoll.sh: the poll/select/epoll table of the lecture "Network Programming" (slide "Level-Triggered
# and Edge-Triggered Notification": CPU time against the number N of monitored descriptors), measured with the
# kit's own 07_epoll server and client: N connections open, one of them active, the server's CPU time (user +
# system, read from /proc by the client) per 100,000 echoed messages, the Proactor (--mode uring) beside the
# others. Also: echo throughput with 100 active
# connections, and the server's peak memory at the largest N.
#   bash bench/07_epoll.sh            full run (a couple of minutes)
#   QUICK=1 bash bench/07_epoll.sh    short run (fewer messages per point)
#   CHECK=1 ...                       N = 10 and 100, a few messages: only checks that the script works
# Prints one markdown section on stdout and draws its plots (docs/07_epoll_cpu.svg, docs/07_epoll_throughput.svg,
# docs/07_epoll_memory.svg); progress on stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source bench/lib.sh
single_server_setup 07_epoll

quick=${QUICK:-}
modes=(select poll epoll epoll-et uring)
sizes=(10 100 1000 10000)
hard_limit=$(ulimit -Hn)
if [ "$hard_limit" != unlimited ] && [ "$hard_limit" -lt 10100 ]; then
    sizes=(10 100 1000)  # the client and the server each need N descriptors
    echo "bench: the hard descriptor limit ($hard_limit) is below 10,100: N = 10,000 left out" >&2
fi
# Messages per point: enough CPU time to measure, fewer where each message costs more (poll, select at large N).
messages_for() {  # N
    local n=$1 k
    k=$((4000000 / n))
    [ "$k" -gt 20000 ] && k=20000
    [ "$k" -lt 1000 ] && k=1000
    [ -n "$quick" ] && k=$((k / 4))
    [ -n "${CHECK:-}" ] && k=200
    echo "$k"
}
throughput_messages=$([ -n "$quick" ] && echo 100 || echo 500)
if [ -n "${CHECK:-}" ]; then sizes=(10 100); throughput_messages=20; fi

start_server() {  # MODE
    "$bin/server" 0 --mode "$1" --quiet --grace 1 >"$tmp/server.out" 2>&1 &
    server_pid=$!
    local tries=0
    until grep -q '^listening on ' "$tmp/server.out"; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ]; then echo "bench: the $1 server did not start" >&2; exit 1; fi
        sleep 0.1
    done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/server.out" | head -n 1)
}
stop_server() {
    kill -INT "$server_pid"
    wait "$server_pid" || true
    server_pid=
}

declare -A cpu rate rss
for mode in "${modes[@]}"; do
    for n in "${sizes[@]}"; do
        if [ "$mode" = select ] && [ "$n" -gt 1000 ]; then continue; fi  # FD_SETSIZE
        k=$(messages_for "$n")
        echo "bench: 07 $mode N=$n ($k messages)" >&2
        start_server "$mode"
        "$bin/client" 127.0.0.1 "$port" --idle $((n - 1)) --connections 1 --messages "$k" --size 16 \
            --server-pid "$server_pid" --timeout 60 >"$tmp/client.out"
        stop_server
        cpu[$mode,$n]=$(sed -n 's/.*= \([0-9.]*\) s per 100000 messages$/\1/p' "$tmp/client.out")
        rss[$mode,$n]=$(sed -n 's/.*peak resident memory \([0-9]*\) MiB$/\1/p' "$tmp/server.out")
    done
    echo "bench: 07 $mode, 100 active connections" >&2
    start_server "$mode"
    "$bin/client" 127.0.0.1 "$port" --connections 100 --messages "$throughput_messages" --size 64 --timeout 60 >"$tmp/client.out"
    stop_server
    rate[$mode]=$(sed -n 's/.*: \([0-9]*\) messages\/s$/\1/p' "$tmp/client.out")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) printf "n/a"; else if (a / b < 10) printf "%.1fx", a / b; else printf "%.0fx", a / b }'; }
ratio2() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) printf "n/a"; else printf "%.2fx", a / b }'; }
cell() { local v=${cpu[$1,$2]:-}; echo "${v:--}"; }

echo "## 07_epoll: select, poll and epoll as the number of descriptors grows"
echo
echo "The lecture's table (TLPI 63-9): N descriptors monitored, one of them active, CPU time for 100,000"
echo "monitoring operations. Here: the 07_epoll server with N connections open (N-1 idle, each first proven"
echo "served by a one-byte echo), one client connection sending 16-byte messages one at a time; the server's"
echo "CPU time (user + system, from /proc/PID/stat) during those messages, scaled to 100,000 messages."
echo "select stops at N = 1,000: it cannot watch descriptors >= FD_SETSIZE (1024). uring is the Proactor"
echo "(io_uring: the kernel reports operations completed); epoll / uring above 1 means uring takes less CPU."
echo
echo "| N | select (s) | poll (s) | epoll (s) | epoll-et (s) | uring (s) | poll / epoll | epoll / uring | lecture: select | lecture: poll | lecture: epoll |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A lecture_select=([10]=0.73 [100]=3.0 [1000]=35 [10000]=930)
declare -A lecture_poll=([10]=0.61 [100]=2.9 [1000]=35 [10000]=990)
declare -A lecture_epoll=([10]=0.41 [100]=0.42 [1000]=0.53 [10000]=0.66)
for n in "${sizes[@]}"; do
    echo "| $n | $(cell select "$n") | $(cell poll "$n") | $(cell epoll "$n") | $(cell epoll-et "$n") | $(cell uring "$n") | $(ratio "${cpu[poll,$n]:-0}" "${cpu[epoll,$n]:-0}") | $(ratio2 "${cpu[epoll,$n]:-0}" "${cpu[uring,$n]:-0}") | ${lecture_select[$n]} | ${lecture_poll[$n]} | ${lecture_epoll[$n]} |"
done
echo
tsv N select poll epoll epoll-et uring "lecture: select" "lecture: poll" "lecture: epoll" >"$tmp/cpu.tsv"
for n in "${sizes[@]}"; do
    tsv "$n" "$(cell select "$n")" "$(cell poll "$n")" "$(cell epoll "$n")" "$(cell epoll-et "$n")" "$(cell uring "$n")" \
        "${lecture_select[$n]}" "${lecture_poll[$n]}" "${lecture_epoll[$n]}" >>"$tmp/cpu.tsv"
done
plot 07_epoll_cpu "Server CPU time against N, log-log: this run solid, the lecture dashed" --logx --logy \
    --set "set xtics ($(IFS=,; echo "${sizes[*]}"))" \
    --title "07_epoll: server CPU per 100,000 messages, one active connection among N" \
    --xlabel "N, descriptors monitored (log scale)" --ylabel "CPU time (s, log scale)" "$tmp/cpu.tsv"
echo "Shape: epoll at N = 10,000 costs $(awk -v a="${cpu[epoll,10000]:-0}" -v b="${cpu[epoll,10]:-0}" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }') times its cost at N = 10 (target: within 2x);"
echo "poll grows $(awk -v a="${cpu[poll,10000]:-0}" -v b="${cpu[poll,10]:-0}" 'BEGIN { if (b > 0) printf "%.0f", a / b; else printf "n/a" }')-fold from N = 10 to N = 10,000 (a 1,000-fold increase in N; linear would be up to 1,000-fold"
echo "once the per-descriptor scan dominates the fixed cost of a message). A direct measurement on this"
echo "class of machine (one active descriptor among N idle, per 100,000 calls) gives poll 0.16 s at N = 10"
echo "rising to 50-94 s at N = 10,000 and epoll flat near 0.15 s. Our figures include the whole echo (read,"
echo "write, TCP on loopback), not only the wait call, so the small-N costs are higher and the ratios smaller."
echo
echo "Commands (one point; the script starts a fresh server per point, port 0; K messages as listed below):"
echo
echo '```'
echo "07_epoll/server 0 --mode MODE --quiet --grace 1 &      # MODE: select poll epoll epoll-et uring"
echo "07_epoll/client 127.0.0.1 PORT --idle N-1 --connections 1 --messages K --size 16 --server-pid \$! --timeout 60"
echo "kill -INT \$!                                           # (prints the peak resident memory used below)"
echo '```'
echo
echo "Messages per point: $(for n in "${sizes[@]}"; do printf 'N=%s: %s; ' "$n" "$(messages_for "$n")"; done)${quick:+(QUICK=1)}"
echo
echo "Echo throughput, 100 active connections each sending $throughput_messages messages of 64 bytes (one at a time):"
echo
echo "| mode | messages/s |"
echo "|---|---:|"
tsv mode "messages/s" >"$tmp/rate.tsv"
for mode in "${modes[@]}"; do
    echo "| $mode | ${rate[$mode]:--} |"
    tsv "$mode" "${rate[$mode]:--}" >>"$tmp/rate.tsv"
done
echo
plot 07_epoll_throughput "Echo throughput with 100 active connections, by mode" --bars \
    --title "07_epoll: echo throughput, 100 active connections x $throughput_messages messages of 64 bytes" \
    --xlabel "server mode (--mode)" --ylabel "messages echoed per second" "$tmp/rate.tsv"
echo "Command: \`07_epoll/client 127.0.0.1 PORT --connections 100 --messages $throughput_messages --size 64 --timeout 60\` against"
echo "\`07_epoll/server 0 --mode MODE --quiet --grace 1\`. The lecture's own figures: none for throughput; its point"
echo "is the CPU table above (with every connection active, all modes do the same work per message)."
echo
echo "Peak resident memory of the server (getrusage ru_maxrss) holding N connections (target: under 64 MiB"
echo "at N = 10,000 for the epoll modes; an idle connection keeps no buffer):"
echo
echo "| mode | N | peak resident memory (MiB) |"
echo "|---|---:|---:|"
tsv "mode (N)" "peak resident memory" >"$tmp/rss.tsv"
for mode in "${modes[@]}"; do
    n=${sizes[-1]}; [ "$mode" = select ] && [ "$n" -gt 1000 ] && n=1000
    echo "| $mode | $n | ${rss[$mode,$n]:--} |"
    tsv "$mode (N=$n)" "${rss[$mode,$n]:--}" >>"$tmp/rss.tsv"
done
echo
plot 07_epoll_memory "Peak resident memory of the server holding N connections, by mode" --bars \
    --title "07_epoll: server peak resident memory holding N connections" \
    --xlabel "server mode (--mode), connections held" --ylabel "peak resident memory (MiB)" "$tmp/rss.tsv"
echo "Measured in the CPU runs above: the server prints its ru_maxrss when stopped. The lecture's own figures:"
echo "none for memory."
echo
