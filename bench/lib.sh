# bench/lib.sh: sourced by every bench/NN_*.sh (after it sets root, the kit's folder).
#
#   tsv CELL...                     prints one tab-separated line (a row of a plot's data file)
#   plot NAME ALT [OPTIONS] DATA    draws docs/NAME.svg from DATA with bench/plot.sh (OPTIONS: see there) and
#                                   prints the markdown image link to put under the table, or a line saying
#                                   why there is no plot; never fails the benchmark. It keeps the numbers in
#                                   build/bench/plots/NAME.tsv, and build/bench/plots/NAME.redraw [OUT] draws
#                                   the plot again (OUT.png: as a PNG) without measuring anything.
tsv() { local IFS=$'\t'; echo "$*"; }

plot() {
    local name=$1 alt=$2 keep=$root/build/bench/plots
    shift 2
    local options=("${@:1:$#-1}") data=${*: -1}
    mkdir -p "$keep"
    cp "$data" "$keep/$name.tsv"
    {
        echo "#!/usr/bin/env bash"
        echo "# Draws docs/$name.svg again from the numbers of the last run (or OUT, given as the argument)."
        printf 'QUICK=%q exec %q' "${QUICK:-}" "$root/bench/plot.sh"
        printf ' %q' "${options[@]}" "$keep/$name.tsv"
        printf ' "${1:-%s}"\n' "$root/docs/$name.svg"
    } >"$keep/$name.redraw"
    chmod +x "$keep/$name.redraw"
    if "$root/bench/plot.sh" "${options[@]}" "$data" "$root/docs/$name.svg" >&2; then
        echo "![$alt]($name.svg)"
    else
        echo "(No plot: bench/plot.sh could not draw docs/$name.svg, see the messages of \`make bench\`.)"
    fi
    echo
}
