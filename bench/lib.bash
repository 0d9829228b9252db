# Shared by the bench/*.sh scripts: messages, option checks, timing and medians.
# Source it after `set -Eeuo pipefail`; the timing helpers write into "$W" (the script's
# scratch directory), which the caller sets before using them.

# A progress line on stderr with the seconds since the script started.
log() { printf 'bench: [%4d s] %s\n' "$SECONDS" "$*" >&2; }
# A command failed or an answer was wrong: exit 2.
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 2
}
# A tool the benchmark needs is missing: exit 125 (skipped), saying which.
skip() {
    printf 'bench: skipped: %s\n' "$*" >&2
    exit 125
}
# need_arg "$@": the option in $1 has a non-empty value in $2.
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "option '$1' needs a value"; }

now() { date +%s%N; }
# Seconds between two now() readings, four decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'; }
# median V...: the median of the arguments, four decimals.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) printf "%.4f", a[(NR + 1) / 2]; else printf "%.4f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# time_of CMD...: wall seconds of one run of CMD (output to $W/last.out, last.err); a failing
# CMD fails the benchmark with the end of its stderr.
time_of() {
    local t0 t1
    t0=$(now)
    "$@" >"$W/last.out" 2>"$W/last.err" || { tail -n 20 "$W/last.err" >&2; die "'$*' failed"; }
    t1=$(now)
    secs "$t0" "$t1"
}
