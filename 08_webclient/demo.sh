#!/usr/bin/env bash
# 08_webclient/demo.sh: the lab handout's concurrent HTTP server and the lecture's web client, played by
# `make demo LAB=08_webclient`. Watch for: with -d (a delay per request), the thread server answers three
# requests at once, the iterative one after another; traversal attempts are refused; Ctrl-C prints the summary.
source "$(dirname "$0")/../mk/demo-lib.sh"

www=$DEMO_TMP/www
mkdir -p "$www/img"
printf '<html><body><h1>Lab 08</h1><img src="img/1.gif"></body></html>\n' >"$www/index.html"
for i in 1 2 3 4 5 6; do head -c $((1000 + i)) /dev/zero | tr '\0' 'g' >"$www/img/$i.gif"; done
echo "TOP SECRET" >"$DEMO_TMP/secret.txt"

# raw REQUEST-LINE: sends one request over bash's /dev/tcp and prints the status line of the answer.
raw() {
    exec 3<>"/dev/tcp/127.0.0.1/$DEMO_PORT"
    printf '%s\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" >&3
    local status
    IFS= read -r status <&3
    exec 3<&-
    printf '%-34s -> %s\n' "$1" "${status%$'\r'}"
}

demo_heading "Lab handout: -c thread with -d (1 s per request); the client fetches 6 files over 3 connections"
demo_start ./server -p 0 -f "$www" -c thread -v -d
demo_run client "$DEMO_BIN/client" 3 localhost index.html img/1.gif img/2.gif img/3.gif img/4.gif img/5.gif img/6.gif -p "$DEMO_PORT"
demo_say "Three requests at a time, each answered after 1 s: about 1 s for the home page, then 2 rounds."
demo_stop

demo_heading "The same with -c iterative: one client at a time, so the 3 connections take turns"
demo_start ./server -p 0 -f "$www" -c iterative -d --delay-ms 500
demo_run client "$DEMO_BIN/client" 3 localhost index.html img/1.gif img/2.gif img/3.gif -p "$DEMO_PORT"
demo_say "Four requests of 0.5 s one after another: 2 s, whatever NCONNS is."
demo_stop

demo_heading "Nothing outside the folder is served, however the path is spelled (-c async)"
demo_start ./server -p 0 -f "$www" -c async
for request in "GET /index.html HTTP/1.1" "GET /../secret.txt HTTP/1.1" "GET /%2e%2e/secret.txt HTTP/1.1" \
               "GET /img/..%2f..%2fsecret.txt HTTP/1.1" "GET /nothing.html HTTP/1.1" "POST /index.html HTTP/1.1" \
               "GET / HTTP/2.0"; do
    demo_run raw raw "$request"
done
demo_stop
