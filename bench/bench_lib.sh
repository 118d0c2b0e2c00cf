# Shared by the benchmark scripts (source it): reading `jobgroup bench
# --json` output, medians, and a server's CPU time.

# field NAME JSON: the first number named NAME in JSON.
field() { grep -oP "\"$1\":\K[0-9.]+" <<<"$2" | head -1; }

# outcomes_total JSON: every job outcome the client received.
outcomes_total() {
  { grep -oP '"outcomes":\{\K[^}]*' <<<"$1" || true; } |
    { grep -oP ':\K[0-9]+' || true; } | awk '{ n += $1 } END { print n + 0 }'
}

# goodput JSON [FORMAT]: the job results per second of the measured window
# (calls that ended in it), times the share of outcomes that SUCCEEDED;
# printed with FORMAT (default %.1f).
goodput() {
  awk -v ok="$(field SUCCEEDED "$1")" -v all="$(outcomes_total "$1")" \
    -v r="$(field jobs_per_s "$1")" -v fmt="${2:-%.1f}" \
    'BEGIN { printf fmt, (all > 0 ? r * ok / all : 0) }'
}

# median VALUES...: the median, "-" values left out ("-" when none is left).
median() {
  printf '%s\n' "$@" | { grep -v '^-$' || true; } | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'
}

# cpu_seconds PID: the process's utime + stime (every thread), in seconds.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
    "/proc/$1/stat"
}
