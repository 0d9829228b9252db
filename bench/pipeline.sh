#!/usr/bin/env bash
# Pipeline benchmark (issue 3): a generated pipeline of STAGES stages shaped as a chain of fans
# (stage i depends on stage (i-1)/2, so every stage fans out to two and every path from the
# root is a chain), each with DEPS_PER_STAGE dependency files of its own and trivial commands.
# Times, side by side in one run (medians of --runs):
#   - `mlo repro` when nothing changed, next to `make -q` on an equivalent Makefile;
#   - the overhead per executed stage: `mlo repro --force --no-run-cache -j 1` of every stage,
#     minus the same commands run one after the other by `sh -c`, divided by the stage count;
#   - `mlo repro -j 2` of two independent `sleep 1` stages (and -j 1 for contrast).
# Prints a markdown section for docs/benchmarks.md.
#
#   bench/pipeline.sh [--stages N] [--deps-per-stage N] [--runs N] [--smoke] [--mlo PATH]
#                     [--out FILE] [--keep]
#
# Exit status: 0 when every timed command behaved (a missed target is reported, not an error);
# 2 when a command failed or gave a wrong answer; 130 when interrupted.
set -Eeuo pipefail

STAGES=200
DEPS_PER_STAGE=5
RUNS=5
SMOKE=0
MLO=
OUT=
KEEP=0
# shellcheck source=bench/lib.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.bash"
while [[ $# -gt 0 ]]; do
    case $1 in
        --stages) need_arg "$@"; STAGES=$2; shift 2 ;;
        --deps-per-stage) need_arg "$@"; DEPS_PER_STAGE=$2; shift 2 ;;
        --runs) need_arg "$@"; RUNS=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --mlo) need_arg "$@"; MLO=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
if [[ $SMOKE == 1 ]]; then
    STAGES=12
    RUNS=1
fi
for v in STAGES DEPS_PER_STAGE RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer, not '${!v}'"
done

here=$(cd "$(dirname "$0")" && pwd)
if [[ -z $MLO ]]; then
    if [[ -x $here/../build/mlo ]]; then MLO=$here/../build/mlo; else MLO=$(command -v mlo || true); fi
fi
[[ -n $MLO && -x $MLO ]] || die "no mlo binary (build it, or pass --mlo PATH)"
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")
command -v make >/dev/null || die "make is not installed (apt-get install make)"

W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-pipeline.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then log "kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- generate
P=$W/project
mkdir -p "$P/deps" "$P/out"
cd "$P"
"$MLO" init -q
{
    echo "stages:"
    for ((i = 0; i < STAGES; i++)); do
        echo "  s$i:"
        echo "    cmd: cat deps/f${i}_*.txt > out/s$i.txt"
        deps=()
        for ((d = 0; d < DEPS_PER_STAGE; d++)); do deps+=("deps/f${i}_$d.txt"); done
        if ((i > 0)); then deps+=("out/s$(((i - 1) / 2)).txt"); fi
        (IFS=,; echo "    deps: [${deps[*]}]")
        echo "    outs: [out/s$i.txt]"
    done
} >mlo.yaml
# make -q of a phony target always says "out of date", so the goals are the output files.
GOALS=()
for ((i = 0; i < STAGES; i++)); do GOALS+=("out/s$i.txt"); done
{
    for ((i = 0; i < STAGES; i++)); do
        printf 'out/s%d.txt:' "$i"
        for ((d = 0; d < DEPS_PER_STAGE; d++)); do printf ' deps/f%d_%d.txt' "$i" "$d"; done
        if ((i > 0)); then printf ' out/s%d.txt' $(((i - 1) / 2)); fi
        printf '\n\tcat deps/f%d_*.txt > out/s%d.txt\n' "$i" "$i"
    done
} >Makefile
for ((i = 0; i < STAGES; i++)); do
    for ((d = 0; d < DEPS_PER_STAGE; d++)); do echo "$i $d" >"deps/f${i}_$d.txt"; done
done
log "generated $STAGES stages, $((STAGES * DEPS_PER_STAGE)) dependency files"


# ---------------------------------------------------------------- measure
log "first full run"
"$MLO" repro -q -j 2 >/dev/null || die "the first mlo repro failed"
make -s "${GOALS[@]}" >/dev/null || die "make failed"
[[ $(ls out | wc -l) == "$STAGES" ]] || die "not every stage wrote its output"

noop=() makeq=()
for ((r = 0; r < RUNS; r++)); do
    noop+=("$(time_of "$MLO" repro -q)")
    makeq+=("$(time_of make -q "${GOALS[@]}")")
done
grep -q . "$W/last.out" && die "make -q printed something: the Makefile is not up to date"

log "overhead per executed stage"
forced=() plain=()
for ((r = 0; r < RUNS; r++)); do
    forced+=("$(time_of "$MLO" repro -q --force --no-run-cache -j 1)")
    t0=$(now)
    for ((i = 0; i < STAGES; i++)); do sh -c "cat deps/f${i}_*.txt > out/s$i.txt"; done
    t1=$(now)
    plain+=("$(secs "$t0" "$t1")")
done

log "-j 2 with two independent sleep 1 stages"
S=$W/sleep
mkdir -p "$S" && cd "$S"
"$MLO" init -q
printf 'stages:\n  a:\n    cmd: sleep 1 && touch a.txt\n    outs: [a.txt]\n  b:\n    cmd: sleep 1 && touch b.txt\n    outs: [b.txt]\n' >mlo.yaml
j2=() j1=()
for ((r = 0; r < RUNS; r++)); do
    j2+=("$(time_of "$MLO" repro -q --force --no-run-cache -j 2)")
    j1+=("$(time_of "$MLO" repro -q --force --no-run-cache -j 1)")
done

# ---------------------------------------------------------------- report
m_noop=$(median "${noop[@]}")
m_make=$(median "${makeq[@]}")
m_forced=$(median "${forced[@]}")
m_plain=$(median "${plain[@]}")
m_j2=$(median "${j2[@]}")
m_j1=$(median "${j1[@]}")
per_stage_ms=$(awk -v f="$m_forced" -v p="$m_plain" -v n="$STAGES" 'BEGIN { printf "%.2f", (f - p) / n * 1000 }')
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t) ? "yes" : "no" }'; }
report() {
    echo "## Pipeline, $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM,"
    echo "$(. /etc/os-release && echo "$PRETTY_NAME"); mlo $("$MLO" --version | head -n 1);"
    echo "\`bench/pipeline.sh --stages $STAGES --deps-per-stage $DEPS_PER_STAGE --runs $RUNS\`;"
    echo "medians of $RUNS runs, seconds."
    echo
    echo "| measurement | mlo | peer | target | met? |"
    echo "|---|---:|---:|---|---|"
    echo "| \`repro\` with nothing changed, $STAGES stages, $((STAGES * DEPS_PER_STAGE)) deps | $m_noop | \`make -q\`: $m_make | < 0.2 s | $(verdict "$m_noop" 0.2) |"
    echo "| overhead per executed stage (\`repro --force -j 1\` $m_forced s, commands alone $m_plain s) | $per_stage_ms ms | | < 10 ms | $(verdict "$per_stage_ms" 10) |"
    echo "| \`repro -j 2\`, two independent \`sleep 1\` stages | $m_j2 | \`-j 1\`: $m_j1 | < 1.3 s | $(verdict "$m_j2" 1.3) |"
    echo
    echo "All runs: no-op mlo ${noop[*]}; make -q ${makeq[*]}; forced ${forced[*]}; commands alone ${plain[*]}; -j 2 ${j2[*]}; -j 1 ${j1[*]}."
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
