#!/usr/bin/env bash
# bench/plot.sh: draws one benchmark table as an SVG with gnuplot, the same way for every lab, so each
# bench/NN_*.sh only writes its numbers to a data file and says what the axes mean.
#
#   bench/plot.sh [options] DATA OUT.svg     (or OUT.png: the same plot as a PNG image)
#     --bars            clustered bars, one cluster per row (default: lines with points, x numeric)
#     --title TEXT      the plot's title (with QUICK set, a note in the corner says the run was short)
#     --xlabel TEXT  --ylabel TEXT  --y2label TEXT     axis labels, with units
#     --y2 COLS         the series (comma-separated column numbers, 2 = the first series) drawn against the
#                       right-hand axis, for figures on another scale (the lecture's, from another machine)
#     --dashed COLS     more series drawn dashed, in grey (a reference such as the ideal speed-up)
#     --logx  --logy    logarithmic axes
#     --key SPEC        where the legend goes (gnuplot `set key SPEC`; default: top left)
#     --set COMMAND     any gnuplot command, run before plotting (repeatable: xtics, yrange...)
#
# DATA is tab-separated: a header line naming the columns (the first names the rows or the x axis, the others
# are the series, as the legend shows them), then one line per row; "-" or an empty cell is a missing value.
# Series whose name starts with "lecture" are the lecture's figures: dashed lines or hatched bars, in the
# colour of the series of the same name without the "lecture" prefix when there is one.
# Exit status: 0 when the SVG was written; 1 (and a line on stderr) when gnuplot is missing or failed.
set -euo pipefail

bars= title= xlabel= ylabel= y2label= y2cols= dashed= logx= logy= key="top left"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --bars) bars=1 ;;
        --title) title=$2; shift ;;
        --xlabel) xlabel=$2; shift ;;
        --ylabel) ylabel=$2; shift ;;
        --y2label) y2label=$2; shift ;;
        --y2) y2cols=",$2,"; shift ;;
        --dashed) dashed=",$2,"; shift ;;
        --logx) logx=1 ;;
        --logy) logy=1 ;;
        --key) key=$2; shift ;;
        --set) extra+=("$2"); shift ;;
        -*) echo "plot.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done
[ $# -eq 2 ] || { echo "usage: bench/plot.sh [options] DATA OUT.svg" >&2; exit 2; }
data=$1 out=$2
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is not installed (make bench installs it): $out not drawn" >&2; exit 1; }

# gnuplot strings are single-quoted: a quote inside doubles.
quote() { printf "'%s'" "${1//\'/\'\'}"; }

IFS=$'\t' read -r -a names <"$data"
colors=("#1f77b4" "#d62728" "#2ca02c" "#ff7f0e" "#9467bd" "#8c564b" "#e377c2" "#17becf" "#7f7f7f")
declare -A color_of
next_color=0
longest=0
while IFS=$'\t' read -r label _; do [ ${#label} -gt "$longest" ] && longest=${#label}; done < <(tail -n +2 "$data")

clauses=()
for ((i = 1; i < ${#names[@]}; i++)); do
    name=${names[$i]} col=$((i + 1))
    base=$name
    lecture=
    if [[ "$name" == lecture* ]]; then
        lecture=1
        base=${name#lecture}; base=${base#:}; base=${base# }; base=${base#,}; base=${base# }; [ -n "$base" ] || base=$name
    fi
    if [ -n "${color_of[$base]:-}" ]; then color=${color_of[$base]}; else
        color=${colors[$((next_color % ${#colors[@]}))]}
        next_color=$((next_color + 1))
        color_of[$base]=$color
    fi
    if [[ "$dashed" == *",$col,"* ]]; then lecture=1 color="#666666"; fi  # a reference, in grey
    axes=x1y1
    if [[ "$y2cols" == *",$col,"* ]]; then axes=x1y2; name="$name (right axis)"; fi
    if [ -n "$bars" ]; then
        style="fill solid 0.85 border lc rgb '#333333'"
        [ -n "$lecture" ] && style="fill pattern 5 border lc rgb '$color'"
        clauses+=("$(quote "$data") using $col:xtic(1) axes $axes title $(quote "$name") lc rgb '$color' $style")
    else
        dash=1 point=7; [ -n "$lecture" ] && dash=2 point=6
        clauses+=("$(quote "$data") using 1:$col axes $axes title $(quote "$name") with linespoints lw 3 pt $point ps 0.8 dt $dash lc rgb '$color'")
    fi
done
plot=$(IFS=,; echo "${clauses[*]}")
script=$(mktemp "${TMPDIR:-/tmp}/plot.XXXXXX.gp")

{
    case "$out" in
        *.png) echo "set terminal pngcairo size 960,560 noenhanced font 'sans,12' linewidth 1 background rgb 'white'" ;;
        *) echo "set terminal svg size 960,560 noenhanced font 'sans,16' linewidth 1 background rgb 'white'" ;;
    esac
    echo "set output $(quote "$out")"
    echo "set datafile separator '\t'"
    echo "set datafile missing '-'"
    echo "set datafile columnheaders"
    if [ -n "${QUICK:-}" ]; then  # a second line says these numbers come from a short run
        printf 'set title %s."\\n(QUICK=1 run: short runs, indicative numbers)" font "sans,18"\n' "$(quote "$title")"
    else
        echo "set title $(quote "$title") font 'sans,18'"
    fi
    echo "set xlabel $(quote "$xlabel")"
    echo "set ylabel $(quote "$ylabel")"
    if [ ${#clauses[@]} -gt 1 ]; then echo "set key $key box opaque samplen 5"; else echo "unset key"; fi
    echo "set grid ytics lc rgb '#dddddd' lt 1"
    echo "set border 3; set xtics nomirror; set ytics nomirror"
    echo "set yrange [0:*]"
    echo "set offsets 0, 0, graph 0.12, 0  # room for the legend above the highest point"
    if [ -n "$y2cols" ]; then
        echo "set y2label $(quote "$y2label")"
        echo "set y2tics; set border 11; set y2range [0:*]"
    fi
    # A log axis from the first x to the last would hide the first tic: leave room on both sides.
    [ -n "$logx" ] && echo "set logscale x; set xrange [$(awk -F'\t' 'NR > 1 && $1 > 0 { if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
        END { print min / 1.4 ":" max * 1.4 }' "$data")]"
    [ -n "$logy" ] && echo "set logscale y; set yrange [*:*]; set y2range [*:*]"
    if [ -n "$bars" ]; then
        echo "set style data histograms"
        echo "set style histogram clustered gap 1"
        echo "set boxwidth 0.9"
        [ "$longest" -gt 12 ] && echo "set xtics rotate by -25 left"
        echo "set xtics scale 0"
        echo "set xrange [-0.6:$(($(wc -l <"$data") - 2)).6]"
    fi
    printf '%s\n' "${extra[@]+"${extra[@]}"}"
    echo "plot $plot"
} >"$script"

# gnuplot's warnings (a series with no valid point...) go to stderr; a failure keeps the script to look at.
if gnuplot "$script" && [ -s "$out" ]; then
    rm -f "$script"
else
    echo "plot.sh: gnuplot failed to draw $out (its script: $script)" >&2
    exit 1
fi
