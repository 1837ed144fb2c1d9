#!/usr/bin/env bash
# mk/demo.sh [LAB]: plays the demo of every lab (in order), or of LAB only. `make demo` runs it after
# building everything. Each demo is the lab's demo.sh: it needs no keypress and leaves nothing running.
# A demo whose programs fail ends with status 1 and names the step (mk/demo-lib.sh); `make demo` then
# stops there, naming the lab, and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ] && [ -n "$1" ]; then
    labs=("${1%/}")
    [ -f "${labs[0]}/demo.sh" ] || { echo "demo: no lab '${labs[0]}' with a demo.sh" >&2; exit 2; }
else
    labs=()
    for demo in [0-9][0-9]_*/demo.sh; do [ -f "$demo" ] && labs+=("${demo%/demo.sh}"); done
fi
for lab in "${labs[@]}"; do
    printf '\n########## %s ##########\n' "$lab"
    if ! bash "$lab/demo.sh"; then
        echo "make demo: stopped: the demo of $lab failed (the lines starting 'demo: $lab:' above say where)" >&2
        exit 1
    fi
done
