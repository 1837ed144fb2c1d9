#!/usr/bin/env bash
# mk/live.sh LAB: the slides' "clients run simultaneously in separate terminals", in one tmux window:
# the lab's server in the top pane, each client in a pane of its own, ready to type into.
# `make live LAB=01_mtserver` runs it. Quit with Ctrl-b d (detach) or `tmux kill-session -t labkit-LAB`.
#
# LAB/live.conf (optional, bash) says what to start; the defaults suit most labs:
#   LIVE_SERVER="./server PORT 3"              # run in the lab folder; PORT is replaced by the session's port
#   LIVE_CLIENTS=3                             # how many client panes
#   LIVE_CLIENT="./client localhost PORT"     # PORT: the same port
#   LIVE_HINT="type a message in each client pane"
#   LIVE_RESTART="./server PORT 3 --stop"      # optional: the hint then says how to restart the server
#   LIVE_EXPECT="Give message :"              # what a client pane shows once it is ready (for the tests)
# The session picks a free port once (LIVE_PORT=N chooses it) and gives it to the server on its command line,
# so a server restarted in its pane (Up, Enter, or LIVE_RESTART's command) listens where the clients connect.
# Environment: LIVE_SESSION (default labkit-LAB), LIVE_ATTACH=0 to leave the session detached,
# LIVE_TMUX_SOCKET to use a tmux server of its own (tmux -L NAME), as the tests do.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lab=${1:-}
lab=${lab%/}
if [ -z "$lab" ] || [ ! -d "$root/$lab" ]; then
    echo "live: usage: make live LAB=NN_name (one of: $(cd "$root" && ls -d [0-9][0-9]_*/ | tr -d / | tr '\n' ' '))" >&2
    exit 2
fi
command -v tmux >/dev/null || "$root/mk/deps.sh"

LIVE_SERVER="./server PORT 3"
LIVE_CLIENTS=3
LIVE_CLIENT="./client localhost PORT"
LIVE_HINT="type into the client panes; Ctrl-b then an arrow key moves between panes, Ctrl-b d leaves"
LIVE_RESTART=
[ -f "$root/$lab/live.conf" ] && source "$root/$lab/live.conf"

# A port no TCP or UDP socket of this machine uses, picked below the ephemeral range (32768 and up, where
# the kernel takes the clients' own ports), so it stays free for the server's restarts.
free_port() {
    local port hex
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % 12000))
        printf -v hex '%04X' "$port"
        # A line whose local address (the second field) ends in that port: the port is taken.
        grep -Eqs "^ *[0-9]+: [0-9A-F]+:$hex " /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 ||
            { echo "$port"; return 0; }
    done
    return 1
}
port=
if [[ $LIVE_SERVER == *PORT* ]]; then  # (a server started on port 0 instead would get a new port on each restart)
    port=${LIVE_PORT:-$(free_port)} || { echo "live: found no free port; choose one with LIVE_PORT=N" >&2; exit 1; }
fi
server=${LIVE_SERVER//PORT/$port}
session=${LIVE_SESSION:-labkit-$lab}
tmux=(tmux)
[ -n "${LIVE_TMUX_SOCKET:-}" ] && tmux=(tmux -L "$LIVE_TMUX_SOCKET")

"${tmux[@]}" kill-session -t "$session" 2>/dev/null || true
"${tmux[@]}" new-session -d -s "$session" -x 200 -y 50 -c "$root/$lab"
"${tmux[@]}" set-option -t "$session" remain-on-exit on >/dev/null
"${tmux[@]}" set-option -t "$session" pane-border-status top >/dev/null
"${tmux[@]}" select-pane -t "$session:0.0" -T "server: $server"
"${tmux[@]}" send-keys -t "$session:0.0" "$server" Enter

# The clients start once the server listens: wait for its first line.
listening=
for _ in $(seq 100); do
    listening=$("${tmux[@]}" capture-pane -p -t "$session:0.0" |
        sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' | head -n 1)
    [ -n "$listening" ] && break
    sleep 0.1
done
if [ -z "$listening" ] || [ "$listening" != "${port:-$listening}" ]; then
    echo "live: the server did not print its listening line${port:+ for port $port};" \
        "see: ${tmux[*]} attach -t $session" >&2
    exit 1
fi
port=$listening
hint=$LIVE_HINT
[ -n "$LIVE_RESTART" ] && hint+="; to restart the server on the same port: Ctrl-C, then \`${LIVE_RESTART//PORT/$port}\`"

for i in $(seq "$LIVE_CLIENTS"); do
    client=${LIVE_CLIENT//PORT/$port}
    "${tmux[@]}" split-window -t "$session:0" -c "$root/$lab"
    "${tmux[@]}" select-pane -t "$session:0.$i" -T "client $i: $client"
    "${tmux[@]}" send-keys -t "$session:0.$i" "$client" Enter
    "${tmux[@]}" select-layout -t "$session:0" tiled >/dev/null
done
"${tmux[@]}" select-layout -t "$session:0" main-horizontal >/dev/null
"${tmux[@]}" select-pane -t "$session:0.1"
"${tmux[@]}" display-message -t "$session" "$hint" 2>/dev/null || true

echo "live: $lab in tmux session '$session' (server on port $port, $LIVE_CLIENTS clients): $hint"
if [ "${LIVE_ATTACH:-1}" = 1 ] && [ -t 0 ] && [ -t 1 ]; then
    if [ -n "${TMUX:-}" ]; then exec "${tmux[@]}" switch-client -t "$session"; fi
    exec "${tmux[@]}" attach -t "$session"
fi
echo "live: attach with: ${tmux[*]} attach -t $session"
