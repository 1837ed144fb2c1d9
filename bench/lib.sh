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
